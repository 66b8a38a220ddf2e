"""Contribution, waiver and grant endpoints (treasurer and coordinator)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from ssa.auth.deps import Authorize, DbSession, Principal, fund_path
from ssa.auth.roles import Role
from ssa.households import contributions
from ssa.households.schemas import (
    ContributionCorrectionIn,
    ContributionCorrectionOut,
    ContributionIn,
    ContributionOut,
    ContributionRecordOut,
    ContributionRecordPage,
    ContributionStatusOut,
    ContributionStatusPage,
    GrantIn,
    GrantOut,
    WaiverIn,
    WaiverOut,
)
from ssa.idempotency.http import MONEY_RESPONSES, idempotent
from ssa.pagination import Cursor, Limit, decode_cursor, encode_cursor
from ssa.types import PERIOD_PATTERN

router = APIRouter(prefix="/api/v1/funds/{fund_id}", tags=["contributions"])

Treasurer = Annotated[Principal, Depends(Authorize(Role.treasurer, on=fund_path))]
Coordinator = Annotated[Principal, Depends(Authorize(Role.coordinator, on=fund_path))]
StaffReader = Annotated[
    Principal, Depends(Authorize(Role.treasurer, Role.coordinator, Role.auditor, on=fund_path))
]
PeriodQuery = Annotated[str, Query(pattern=PERIOD_PATTERN)]


@router.post(
    "/contributions", status_code=201, response_model=ContributionOut, responses=MONEY_RESPONSES
)
def record_contribution(
    fund_id: uuid.UUID,
    body: ContributionIn,
    request: Request,
    db_session: DbSession,
    principal: Treasurer,
) -> JSONResponse:
    """Record euros received from a household for a period (treasurer; Idempotency-Key)."""

    def work() -> tuple[int, ContributionOut]:
        contribution = contributions.record_contribution(
            db_session=db_session,
            fund_id=fund_id,
            household_id=body.household_id,
            period=body.period,
            amount_cents=body.amount_cents,
            method=body.method,
            received_on=body.received_on,
            actor=principal.actor,
            request_id=request.state.request_id,
        )
        return 201, ContributionOut.model_validate(contribution, from_attributes=True)

    return idempotent(
        request=request,
        db_session=db_session,
        caller=principal.actor,
        body=body,
        work=work,
        required=True,
    )


@router.get(
    "/households/{household_id}/contributions",
    response_model=ContributionRecordPage,
    responses={404: {"description": "household_not_found"}},
)
def household_contributions(
    fund_id: uuid.UUID,
    household_id: uuid.UUID,
    period: PeriodQuery,
    db_session: DbSession,
    _principal: StaffReader,
) -> ContributionRecordPage:
    """What was recorded for a household's month, the oldest first, with the ids a
    correction names (treasurer, coordinator, auditor): contributions, and corrections
    with their negative amount and `corrects_id`."""
    contributions.household_in_fund(db_session, fund_id, household_id)
    rows = contributions.of_period(db_session=db_session, household_id=household_id, period=period)
    return ContributionRecordPage(
        items=[
            ContributionRecordOut.model_validate(
                {
                    **ContributionOut.model_validate(row, from_attributes=True).model_dump(),
                    "corrected": corrected,
                }
            )
            for row, corrected in rows
        ]
    )


@router.post(
    "/contributions/{contribution_id}/correction",
    status_code=201,
    response_model=ContributionCorrectionOut,
    responses={
        **MONEY_RESPONSES,
        404: {"description": "contribution_not_found, not_found (the replacement's household)"},
        409: {"description": "contribution_already_corrected, insufficient_bank_balance"},
    },
)
def correct_contribution(
    fund_id: uuid.UUID,
    contribution_id: uuid.UUID,
    body: ContributionCorrectionIn,
    request: Request,
    db_session: DbSession,
    principal: Treasurer,
) -> JSONResponse:
    """Correct a contribution recorded by mistake (treasurer; Idempotency-Key): its ledger
    transaction is reversed and a correction with the opposite amount is recorded, so the
    period is owed again. With `replacement`, the contribution it should have been is
    recorded in the same transaction (first, so the bank in the books never dips). Once
    per contribution."""

    def work() -> tuple[int, ContributionCorrectionOut]:
        correction, replaced = contributions.correct_contribution(
            db_session=db_session,
            fund_id=fund_id,
            contribution_id=contribution_id,
            reason=body.reason,
            replacement=body.replacement,
            actor=principal.actor,
            request_id=request.state.request_id,
        )
        answer = ContributionCorrectionOut.model_validate(correction, from_attributes=True)
        if replaced is not None:
            answer.replacement = ContributionOut.model_validate(replaced, from_attributes=True)
        return 201, answer

    return idempotent(
        request=request,
        db_session=db_session,
        caller=principal.actor,
        body=body,
        work=work,
        required=True,
    )


@router.get("/contributions", response_model=ContributionStatusPage)
def contribution_statuses(
    fund_id: uuid.UUID,
    db_session: DbSession,
    _principal: StaffReader,
    period: PeriodQuery,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ContributionStatusPage:
    """Each household's contribution for a period: paid, due, late or waived."""
    after = decode_cursor(cursor, 1)
    rows = contributions.statuses(
        db_session=db_session,
        fund_id=fund_id,
        period=period,
        limit=limit + 1,
        after_member_number=str(after[0]) if after else None,
    )
    items = [ContributionStatusOut.model_validate(r, from_attributes=True) for r in rows[:limit]]
    next_cursor = encode_cursor(rows[limit - 1].member_number) if len(rows) > limit else None
    return ContributionStatusPage(items=items, next_cursor=next_cursor)


@router.post("/contribution-waivers", status_code=201, response_model=WaiverOut)
def waive(
    fund_id: uuid.UUID,
    body: WaiverIn,
    request: Request,
    db_session: DbSession,
    principal: Coordinator,
) -> JSONResponse:
    """Waive a household's contribution for a period, for hardship (coordinator)."""

    def work() -> tuple[int, WaiverOut]:
        waiver = contributions.waive(
            db_session=db_session,
            fund_id=fund_id,
            household_id=body.household_id,
            period=body.period,
            reason=body.reason,
            actor=principal.actor,
            request_id=request.state.request_id,
        )
        return 201, WaiverOut.model_validate(waiver, from_attributes=True)

    return idempotent(
        request=request,
        db_session=db_session,
        caller=principal.actor,
        body=body,
        work=work,
        required=False,
    )


@router.post("/grants", status_code=201, response_model=GrantOut, responses=MONEY_RESPONSES)
def record_grant(
    fund_id: uuid.UUID,
    body: GrantIn,
    request: Request,
    db_session: DbSession,
    principal: Treasurer,
) -> JSONResponse:
    """Record a grant from a funder (treasurer; Idempotency-Key)."""

    def work() -> tuple[int, GrantOut]:
        transaction_id = contributions.record_grant(
            db_session=db_session,
            fund_id=fund_id,
            funder=body.funder,
            amount_cents=body.amount_cents,
            received_on=body.received_on,
            reference=body.reference,
            actor=principal.actor,
            request_id=request.state.request_id,
        )
        return 201, GrantOut.of(body, transaction_id)

    return idempotent(
        request=request,
        db_session=db_session,
        caller=principal.actor,
        body=body,
        work=work,
        required=True,
    )
