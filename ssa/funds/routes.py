"""The funds API: create and list funds, read and version their policy."""

import re
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from ssa.auth.deps import Authorize, CurrentPrincipal, DbSession, Principal, fund_path
from ssa.auth.roles import Role
from ssa.funds import service
from ssa.funds.models import Fund, FundPolicy
from ssa.funds.schemas import (
    FundCreate,
    FundList,
    FundOut,
    FundSummary,
    PolicyFields,
    PolicyHistory,
    PolicyOut,
    PolicyUpdate,
    PolicyVersion,
)
from ssa.idempotency.http import idempotent
from ssa.pagination import BadCursor, Cursor, Limit, decode_cursor, encode_cursor
from ssa.types import PERIOD_PATTERN

router = APIRouter(prefix="/api/v1/funds", tags=["funds"])

Admin = Annotated[Principal, Depends(Authorize(Role.admin))]
Coordinator = Annotated[Principal, Depends(Authorize(Role.coordinator, on=fund_path))]


def _policy_out(policy: FundPolicy) -> PolicyOut:
    return PolicyOut.model_validate(policy, from_attributes=True)


def _fund_out(db_session: DbSession, fund: Fund) -> FundOut:
    policy = service.policy_for(
        db_session=db_session, fund_id=fund.id, period=service.current_period()
    )
    return FundOut(
        id=fund.id,
        slug=fund.slug,
        name=fund.name,
        created_at=fund.created_at,
        iban=fund.iban,
        bic=fund.bic,
        sepa_creditor_id=fund.sepa_creditor_id,
        policy=_policy_out(policy),
    )


@router.post("", status_code=201, response_model=FundOut)
def create_fund(
    body: FundCreate,
    request: Request,
    db_session: DbSession,
    principal: Admin,
) -> JSONResponse:
    """Create a fund, its first policy (a preset, with `policy` laid over it) and its accounts."""

    def work() -> tuple[int, Any]:
        fund = service.create_fund(
            db_session=db_session,
            slug=body.slug,
            name=body.name,
            iban=body.iban,
            bic=body.bic,
            sepa_creditor_id=body.sepa_creditor_id,
            preset=body.preset,
            policy=body.policy,
            actor=principal.actor,
            request_id=request.state.request_id,
        )
        return 201, _fund_out(db_session, fund).model_dump(mode="json")

    return idempotent(
        request=request,
        db_session=db_session,
        caller=principal.actor,
        body=body,
        work=work,
        required=False,
    )


@router.get("", response_model=FundList)
def list_funds(
    db_session: DbSession,
    _principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> FundList:
    """Every fund's id, slug and name (no bank details), by slug."""
    funds, next_cursor = service.list_funds(db_session=db_session, limit=limit, cursor=cursor)
    return FundList(
        items=[FundSummary.model_validate(fund, from_attributes=True) for fund in funds],
        next_cursor=next_cursor,
    )


@router.get("/{fund_id}", response_model=FundOut)
def get_fund(fund_id: uuid.UUID, db_session: DbSession, _principal: CurrentPrincipal) -> FundOut:
    return _fund_out(db_session, service.get_fund(db_session=db_session, fund_id=fund_id))


@router.get("/{fund_id}/policy", response_model=PolicyOut)
def get_policy(
    fund_id: uuid.UUID, db_session: DbSession, _principal: CurrentPrincipal
) -> PolicyOut:
    """The policy in force this month."""
    return _policy_out(service.current_policy(db_session=db_session, fund_id=fund_id))


@router.put("/{fund_id}/policy", response_model=PolicyOut)
def put_policy(
    fund_id: uuid.UUID,
    body: PolicyUpdate,
    request: Request,
    db_session: DbSession,
    principal: Coordinator,
) -> PolicyOut:
    """Set the policy from `effective_period` (this month or later) on; 409
    `policy_period_past` for a past month, `policy_period_issued` for a month whose credits
    are issued (or one before it)."""
    version = service.set_policy(
        db_session=db_session,
        fund_id=fund_id,
        effective_period=body.effective_period,
        rules=PolicyFields.model_validate(body.model_dump(exclude={"effective_period"})),
        actor=principal.actor,
        request_id=request.state.request_id,
    )
    return _policy_out(version)


@router.get("/{fund_id}/policy/history", response_model=PolicyHistory)
def get_policy_history(
    fund_id: uuid.UUID,
    db_session: DbSession,
    _principal: CurrentPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PolicyHistory:
    """Every version, oldest first."""
    after = decode_cursor(cursor, 1)
    if after is not None and not re.fullmatch(PERIOD_PATTERN, str(after[0])):
        raise BadCursor("The cursor is not one this API gave.")
    versions = service.policy_history(
        db_session=db_session,
        fund_id=fund_id,
        limit=limit + 1,
        after_period=str(after[0]) if after is not None else None,
    )
    last = versions[limit - 1] if len(versions) > limit else None
    return PolicyHistory(
        items=[
            PolicyVersion.model_validate(version, from_attributes=True)
            for version in versions[:limit]
        ],
        next_cursor=encode_cursor(last.effective_period) if last else None,
    )
