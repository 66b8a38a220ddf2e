"""Issuing a period's credits and closing a period (treasurer)."""

import uuid
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse

from ssa.auth.deps import Authorize, DbSession, Principal, fund_path
from ssa.auth.roles import Role
from ssa.idempotency.http import idempotent
from ssa.issuance.close import close_period
from ssa.issuance.schemas import CloseOut, IssuanceIn, IssuanceOut
from ssa.issuance.service import issue_period
from ssa.types import PERIOD_PATTERN

router = APIRouter(prefix="/api/v1/funds/{fund_id}", tags=["issuance"])

Treasurer = Annotated[Principal, Depends(Authorize(Role.treasurer, on=fund_path))]
PeriodPath = Annotated[str, Path(pattern=PERIOD_PATTERN)]


@router.post(
    "/issuances",
    response_model=IssuanceOut,
    responses={201: {"model": IssuanceOut, "description": "Credits were issued"}},
)
def issue(
    fund_id: uuid.UUID,
    body: IssuanceIn,
    request: Request,
    db_session: DbSession,
    principal: Treasurer,
) -> JSONResponse:
    """Issue a period to every eligible household not yet issued (201), or show what
    would be issued (`dry_run`) or that nothing was left to issue (200)."""

    def work() -> tuple[int, IssuanceOut]:
        summary = issue_period(
            db_session=db_session,
            fund_id=fund_id,
            period=body.period,
            dry_run=body.dry_run,
            actor=principal.actor,
            request_id=request.state.request_id,
        )
        out = IssuanceOut.model_validate(
            {
                **asdict(summary),
                "transaction_id": str(summary.transaction_id) if summary.transaction_id else None,
            }
        )
        issued = not body.dry_run and summary.households_issued > 0
        return (201 if issued else 200), out

    return idempotent(
        request=request,
        db_session=db_session,
        caller=principal.actor,
        body=body,
        work=work,
        required=False,
    )


@router.post("/periods/{period}/close", response_model=CloseOut)
def close(
    fund_id: uuid.UUID,
    period: PeriodPath,
    request: Request,
    db_session: DbSession,
    principal: Treasurer,
) -> JSONResponse:
    """Apply the rollover policy to the period (idempotent: a second close changes nothing)."""

    def work() -> tuple[int, CloseOut]:
        summary = close_period(
            db_session=db_session,
            fund_id=fund_id,
            period=period,
            actor=principal.actor,
            request_id=request.state.request_id,
        )
        return 200, CloseOut.model_validate(asdict(summary))

    return idempotent(
        request=request,
        db_session=db_session,
        caller=principal.actor,
        body=None,
        work=work,
        required=False,
    )
