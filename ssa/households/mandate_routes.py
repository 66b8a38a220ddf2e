"""Direct-debit mandates of a household, and the fund's direct-debit file of a period.

The IBAN of a mandate is personal data: the household's members, the fund's coordinator
and its treasurer see it; nobody else (not an outlet, not another household, not the
auditor, not the instance administrator).
"""

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
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
from ssa.households.models import DirectDebitMandate, Person
from ssa.households.rules import age_on
from ssa.households.schemas import MandateIn, MandateOut
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


@router.get("/households/{household_id}/mandates", response_model=list[MandateOut])
def mandate_history(
    household_id: uuid.UUID, db_session: DbSession, _principal: MandateReader
) -> list[MandateOut]:
    """All the household's mandates, the newest first, revoked ones included."""
    return [
        mandate_out(db_session, m)
        for m in mandates.mandates_of(db_session=db_session, household_id=household_id)
    ]


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
            "description": "sepa_creditor_id_missing, fund_iban_missing or nothing_to_collect",
        },
        422: {"description": "validation_error or collection_date_past"},
    },
)
def direct_debit_file(
    fund_id: uuid.UUID,
    db_session: DbSession,
    _principal: Treasurer,
    period: Annotated[str, Query(pattern=PERIOD_PATTERN)],
    collection_date: date,
) -> Response:
    """The period's SEPA direct-debit file for the fund's bank (treasurer): one debit per
    household with an active mandate whose contribution is still due. Writes nothing:
    record each contribution (method `direct_debit`) when the euros arrive."""
    xml = direct_debit.sepa_direct_debit(
        db_session=db_session, fund_id=fund_id, period=period, collection_date=collection_date
    )
    return Response(
        content=xml,
        media_type="application/xml",
        headers={
            "Content-Disposition": (
                f'attachment; filename="direct-debit-{period}-{collection_date.isoformat()}.xml"'
            )
        },
    )
