"""Direct-debit mandates of a household, and the fund's direct-debit file of a period.

The IBAN of a mandate is personal data: the household's members, the fund's coordinator
and its treasurer see it; nobody else (not an outlet, not another household, not the
auditor, not the instance administrator).
"""

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlmodel import Session, col, select

from ssa.auth.deps import (
    Authorize,
    DbSession,
    Forbidden,
    Principal,
    Scope,
    fund_path,
    household_path,
)
from ssa.auth.roles import Role
from ssa.households import direct_debit, mandates
from ssa.households.models import (
    DirectDebitMandate,
    DirectDebitRun,
    DirectDebitRunLine,
    Household,
    Person,
)
from ssa.households.rules import age_on
from ssa.households.schemas import (
    DirectDebitReturnIn,
    DirectDebitRunLineOut,
    DirectDebitRunOut,
    DirectDebitRunPage,
    MandateIn,
    MandateOut,
    MandatePage,
)
from ssa.idempotency.http import idempotent
from ssa.pagination import Cursor, Limit, decode_position, encode_position
from ssa.types import PERIOD_PATTERN

router = APIRouter(prefix="/api/v1", tags=["direct debit"])

ADULT_AGE = 18

MandateWriter = Annotated[
    Principal, Depends(Authorize(Role.member, Role.coordinator, on=household_path))
]
MandateRevoker = Annotated[
    Principal,
    Depends(Authorize(Role.member, Role.coordinator, Role.treasurer, on=household_path)),
]
MandateReader = Annotated[
    Principal,
    Depends(Authorize(Role.member, Role.coordinator, Role.treasurer, on=household_path)),
]
Treasurer = Annotated[Principal, Depends(Authorize(Role.treasurer, on=fund_path))]

MANDATE_RESPONSES: dict[int | str, dict[str, object]] = {
    404: {"description": "not_found (no such household) or mandate_not_found"},
}


def _adult_member_or_staff(
    request: Request, db_session: Session, principal: Principal, *staff: Role
) -> None:
    """A member acts on the household's mandate only as an adult (18+): the account holder
    or their partner, not a child of the household."""
    scope: Scope = request.state.scope
    if any(principal.has(role, scope) for role in staff):
        return
    person = db_session.exec(
        select(Person).where(
            col(Person.user_id) == principal.user_id,
            col(Person.household_id) == scope.household_id,
            col(Person.left_on).is_(None),
        )
    ).first()
    if person is None or age_on(person.birth_date, direct_debit.today()) < ADULT_AGE:
        raise Forbidden("Only an adult of the household may give or revoke its mandate.")


def mandate_out(db_session: Session, mandate: DirectDebitMandate) -> MandateOut:
    sequence = (
        mandates.sequence_types(db_session=db_session, mandates=[mandate]).get(mandate.id)
        if mandate.status == "active"
        else None
    )
    return MandateOut(
        id=mandate.id,
        household_id=mandate.household_id,
        reference=mandate.reference,
        debtor_name=mandate.debtor_name,
        iban=mandate.iban,
        bic=mandate.bic,
        signed_on=mandate.signed_on,
        status=mandate.status,
        created_at=mandate.created_at.isoformat(),
        revoked_at=mandate.revoked_at.isoformat() if mandate.revoked_at else None,
        next_sequence_type=sequence,
    )


@router.put(
    "/households/{household_id}/mandate",
    response_model=MandateOut,
    responses={
        409: {"description": "household_left or mandate_reference_taken"},
        422: {"description": "validation_error, invalid_iban or invalid_bic"},
    },
)
def set_mandate(
    household_id: uuid.UUID,
    body: MandateIn,
    request: Request,
    db_session: DbSession,
    principal: MandateWriter,
) -> MandateOut:
    """Give or amend the household's SEPA direct-debit mandate (an adult of the household,
    or the coordinator). The same reference (or none) amends the active mandate; another
    reference replaces it, the old one being revoked and kept."""
    _adult_member_or_staff(request, db_session, principal, Role.coordinator)
    mandate = mandates.set_mandate(
        db_session=db_session,
        household_id=household_id,
        mandate_in=body,
        actor=principal.actor,
        request_id=request.state.request_id,
    )
    return mandate_out(db_session, mandate)


@router.get(
    "/households/{household_id}/mandate", response_model=MandateOut, responses=MANDATE_RESPONSES
)
def get_mandate(
    household_id: uuid.UUID, db_session: DbSession, _principal: MandateReader
) -> MandateOut:
    """The household's active mandate, with how its next collection will be sent (its
    members, the coordinator, the treasurer)."""
    mandate = mandates.active_mandate(db_session=db_session, household_id=household_id)
    if mandate is None:
        raise mandates.MandateNotFound()
    return mandate_out(db_session, mandate)


@router.get("/households/{household_id}/mandates", response_model=MandatePage)
def mandate_history(
    household_id: uuid.UUID,
    db_session: DbSession,
    _principal: MandateReader,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> MandatePage:
    """All the household's mandates, the newest first, revoked ones included (a short
    history: read whole, then paged)."""
    after = decode_position(cursor)
    found = mandates.mandates_of(db_session=db_session, household_id=household_id)
    if after is not None:
        at, mandate_id = after
        found = [m for m in found if (m.created_at, mandate_id) < (at, m.id)]
    page = found[:limit]
    next_cursor = encode_position(page[-1].created_at, page[-1].id) if len(found) > limit else None
    return MandatePage(items=[mandate_out(db_session, m) for m in page], next_cursor=next_cursor)


@router.delete(
    "/households/{household_id}/mandate",
    status_code=204,
    response_class=Response,
    responses=MANDATE_RESPONSES,
)
def revoke_mandate(
    household_id: uuid.UUID,
    request: Request,
    db_session: DbSession,
    principal: MandateRevoker,
) -> Response:
    """Revoke the household's mandate (an adult of the household, the coordinator, or the
    treasurer when the bank reports it cancelled); it is kept for history."""
    _adult_member_or_staff(request, db_session, principal, Role.coordinator, Role.treasurer)
    mandates.revoke_mandate(
        db_session=db_session,
        household_id=household_id,
        actor=principal.actor,
        request_id=request.state.request_id,
    )
    return Response(status_code=204)


@router.get(
    "/funds/{fund_id}/contributions/direct-debit.xml",
    response_class=Response,
    responses={
        200: {
            "content": {"application/xml": {}},
            "description": "pain.008.001.02, valid against its ISO 20022 schema",
        },
        409: {
            "description": "sepa_creditor_id_missing, fund_iban_missing, nothing_to_collect"
            " or direct_debit_invalid (member_number: the household whose debit is refused)",
        },
        422: {
            "description": "validation_error (a period more than a month ahead) or"
            " collection_date_past (the collection date is from tomorrow on)"
        },
    },
)
def direct_debit_file(
    fund_id: uuid.UUID,
    request: Request,
    db_session: DbSession,
    principal: Treasurer,
    period: Annotated[str, Query(pattern=PERIOD_PATTERN)],
    collection_date: date,
) -> Response:
    """The period's SEPA direct-debit file for the fund's bank (treasurer): one debit per
    household with an active mandate whose contribution is still due and that is in no
    open run of the period. The file is recorded as a run (see `direct-debit-runs`); the
    same request again, nothing having changed, gives the same file (same message id).
    Record each contribution (method `direct_debit`) when the euros arrive."""
    xml = direct_debit.sepa_direct_debit(
        db_session=db_session,
        fund_id=fund_id,
        period=period,
        collection_date=collection_date,
        actor=principal.actor,
        request_id=request.state.request_id,
    )
    return Response(
        content=xml,
        media_type="application/xml",
        headers={
            "Content-Disposition": (
                f'attachment; filename="direct-debit-{period}-{collection_date.isoformat()}.xml"'
            ),
            # Full IBANs: kept by no cache.
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def run_out(
    db_session: Session, run: DirectDebitRun, lines: list[DirectDebitRunLine]
) -> DirectDebitRunOut:
    numbers = dict(
        db_session.exec(
            select(Household.id, Household.member_number).where(
                col(Household.id).in_([line.household_id for line in lines])
            )
        ).all()
    )
    references = dict(
        db_session.exec(
            select(DirectDebitMandate.id, DirectDebitMandate.reference).where(
                col(DirectDebitMandate.id).in_([line.mandate_id for line in lines])
            )
        ).all()
    )
    return DirectDebitRunOut(
        id=run.id,
        fund_id=run.fund_id,
        period=run.period,
        message_id=run.message_id,
        collection_date=run.collection_date,
        status=run.status,
        created_at=run.created_at.isoformat(),
        created_by=run.created_by,
        cancelled_at=run.cancelled_at.isoformat() if run.cancelled_at else None,
        cancelled_by=run.cancelled_by,
        total_cents=sum(line.amount_cents for line in lines),
        returned_cents=sum(line.amount_cents for line in lines if line.returned_at is not None),
        lines=sorted(
            (
                DirectDebitRunLineOut(
                    household_id=line.household_id,
                    member_number=numbers[line.household_id],
                    mandate_reference=references[line.mandate_id],
                    amount_cents=line.amount_cents,
                    sequence_type=line.sequence_type,
                    end_to_end_id=line.end_to_end_id,
                    returned_at=line.returned_at.isoformat() if line.returned_at else None,
                    return_reason=line.return_reason,
                )
                for line in lines
            ),
            key=lambda line: line.member_number,
        ),
    )


@router.get("/funds/{fund_id}/direct-debit-runs", response_model=DirectDebitRunPage)
def direct_debit_runs(
    fund_id: uuid.UUID,
    db_session: DbSession,
    _principal: Treasurer,
    period: Annotated[str | None, Query(pattern=PERIOD_PATTERN)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> DirectDebitRunPage:
    """The direct-debit files produced for the fund (treasurer), the newest first, with
    their debits (no IBAN); `period` keeps one month's."""
    runs = direct_debit.list_runs(
        db_session=db_session,
        fund_id=fund_id,
        period=period,
        limit=limit,
        after=decode_position(cursor),
    )
    page = runs[:limit]
    lines = direct_debit.run_lines(db_session, [r.id for r in page])
    items = [run_out(db_session, r, [li for li in lines if li.run_id == r.id]) for r in page]
    next_cursor = encode_position(page[-1].created_at, page[-1].id) if len(runs) > limit else None
    return DirectDebitRunPage(items=items, next_cursor=next_cursor)


@router.post(
    "/funds/{fund_id}/direct-debit-runs/{run_id}/cancel",
    response_model=DirectDebitRunOut,
    responses={
        404: {"description": "direct_debit_run_not_found"},
        409: {"description": "direct_debit_run_returned"},
    },
)
def cancel_direct_debit_run(
    fund_id: uuid.UUID,
    run_id: uuid.UUID,
    request: Request,
    db_session: DbSession,
    principal: Treasurer,
) -> JSONResponse:
    """Cancel a direct-debit file the bank never received (treasurer): its households are
    collected by the next file of the period. Only when the bank has not got it: a file
    it has is debited, cancelled here or not. Cancelling a cancelled run changes nothing."""

    def work() -> tuple[int, DirectDebitRunOut]:
        run = direct_debit.cancel_run(
            db_session=db_session,
            fund_id=fund_id,
            run_id=run_id,
            actor=principal.actor,
            request_id=request.state.request_id,
        )
        return 200, run_out(db_session, run, direct_debit.run_lines(db_session, [run.id]))

    return idempotent(
        request=request,
        db_session=db_session,
        caller=principal.actor,
        body=None,
        work=work,
        required=False,
    )


@router.post(
    "/funds/{fund_id}/direct-debit-runs/{run_id}/returns",
    response_model=DirectDebitRunOut,
    responses={
        404: {"description": "direct_debit_run_not_found, direct_debit_not_in_run"},
        409: {"description": "direct_debit_run_cancelled, direct_debit_contribution_recorded"},
    },
)
def return_direct_debit(
    fund_id: uuid.UUID,
    run_id: uuid.UUID,
    body: DirectDebitReturnIn,
    request: Request,
    db_session: DbSession,
    principal: Treasurer,
) -> JSONResponse:
    """Record that the bank returned a household's debit of this file (treasurer), with
    the reason code of the bank's notice (`AM04` insufficient funds, `AC04` account
    closed, `MD06` refund asked by the debtor...). The contribution stays owed and the
    household is collected again by the next file of the period (after a final reason
    such as an account closed: once its mandate is amended or replaced); the others of
    the file are not, and the file can no longer be cancelled. Recording a return twice
    changes nothing. Refused once a `direct_debit` contribution is recorded for the period
    (`direct_debit_contribution_recorded`)."""

    def work() -> tuple[int, DirectDebitRunOut]:
        run = direct_debit.return_debit(
            db_session=db_session,
            fund_id=fund_id,
            run_id=run_id,
            household_id=body.household_id,
            reason=body.reason,
            actor=principal.actor,
            request_id=request.state.request_id,
        )
        return 200, run_out(db_session, run, direct_debit.run_lines(db_session, [run.id]))

    return idempotent(
        request=request,
        db_session=db_session,
        caller=principal.actor,
        body=body,
        work=work,
        required=False,
    )
