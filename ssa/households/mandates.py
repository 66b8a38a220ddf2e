"""Households' SEPA direct-debit mandates: given, amended, revoked; kept for history.

Rules (docs/operations.md, "Direct debit"):
- one active mandate per household; setting it again with the same reference (or none)
  amends it in place (name, IBAN, BIC, signature date);
- another reference replaces it: the old one is revoked and kept, the new one starts;
- a generated reference is `SSA-<member number>-<n>`, n counting the household's mandates
  (the next free one); a reference given starting with `SSA-` must be the household's own
  pattern;
- a change of debtor account makes the next collection a first one (FRST) again.
"""

import re
import uuid
from typing import Any

from schwifty import IBAN
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from ssa.audit.service import record
from ssa.funds.service import InvalidIban, normalise_bic, normalise_iban
from ssa.households.models import (
    Contribution,
    ContributionMethod,
    DirectDebitMandate,
    DirectDebitRun,
    DirectDebitRunLine,
    DirectDebitRunStatus,
    Household,
    HouseholdStatus,
    MandateStatus,
)
from ssa.households.schemas import MandateIn
from ssa.households.service import HouseholdLeft, HouseholdNotFound
from ssa.problems import Conflict, NotFound, Problem
from ssa.timeutil import utcnow

GENERATED_PREFIX = "SSA-"
FIRST = "FRST"
RECURRENT = "RCUR"


class MandateNotFound(NotFound):
    code = "mandate_not_found"
    title = "This household has no active direct-debit mandate"


class ReferenceReserved(Problem):
    status = 422
    code = "validation_error"
    title = "This reference is reserved"


class MandateReferenceTaken(Conflict):
    code = "mandate_reference_taken"
    title = "Another mandate of this fund has this reference"


def masked_iban(iban: str) -> str:
    """What the audit log keeps of an IBAN: country, check digits and the last four."""
    return f"{iban[:4]}...{iban[-4:]}"


def _sepa_iban(value: str) -> str:
    compact = normalise_iban(value)
    if not IBAN(compact).in_sepa_zone:
        raise InvalidIban("This IBAN is not of a SEPA country: it cannot be debited.")
    return compact


def _trace(mandate: DirectDebitMandate) -> dict[str, Any]:
    # The debtor's name and full IBAN are personal data: the auditor reads this log.
    return {
        "reference": mandate.reference,
        "iban": masked_iban(mandate.iban),
        "bic": mandate.bic,
        "signed_on": mandate.signed_on.isoformat(),
        "status": str(mandate.status),
    }


def _locked_household(db_session: Session, household_id: uuid.UUID) -> Household:
    # Changes to one household's mandates are serialised (PostgreSQL row lock; SQLite
    # writes already are). Read anew (the request's authorisation may have loaded the
    # household before the lock: its status could be stale). FOR NO KEY UPDATE: rows
    # referencing the household (payments, contributions) are still inserted meanwhile.
    household = db_session.get(
        Household,
        household_id,
        with_for_update={"key_share": True},
        populate_existing=True,
    )
    if household is None:
        raise HouseholdNotFound()
    return household


def active_mandate(*, db_session: Session, household_id: uuid.UUID) -> DirectDebitMandate | None:
    return db_session.exec(
        select(DirectDebitMandate).where(
            col(DirectDebitMandate.household_id) == household_id,
            col(DirectDebitMandate.status) == MandateStatus.active.value,
        )
    ).first()


def mandates_of(*, db_session: Session, household_id: uuid.UUID) -> list[DirectDebitMandate]:
    """All the household's mandates, the newest first (the active one, then the past)."""
    return list(
        db_session.exec(
            select(DirectDebitMandate)
            .where(col(DirectDebitMandate.household_id) == household_id)
            .order_by(col(DirectDebitMandate.created_at).desc(), col(DirectDebitMandate.id))
        ).all()
    )


def _generated_reference(db_session: Session, household: Household) -> str:
    """`SSA-<member number>-<n>`: n after the household's mandates, the first one free in
    the fund (a reference given by hand may have taken one)."""
    count = db_session.exec(
        select(func.count()).where(col(DirectDebitMandate.household_id) == household.id)
    ).one()
    n = int(count) + 1
    while _reference_taken(db_session, household.fund_id, f"SSA-{household.member_number}-{n}"):
        n += 1
    return f"SSA-{household.member_number}-{n}"


def _check_given_reference(household: Household, reference: str) -> None:
    """References starting with `SSA-` are the generated ones: a household gives only its
    own (`SSA-<its member number>-<n>`), not another's to come."""
    if reference[:4].upper() != GENERATED_PREFIX:
        return
    if re.fullmatch(rf"SSA-{re.escape(household.member_number)}-[1-9][0-9]*", reference):
        return
    raise ReferenceReserved(
        f"A reference starting with {GENERATED_PREFIX} is made by the fund; give"
        f" SSA-{household.member_number}-<n>, another reference, or none.",
        errors=[
            {
                "loc": ["body", "reference"],
                "msg": "references starting with SSA- are reserved to the fund's own",
                "type": "value_error",
            }
        ],
    )


def _reference_taken(db_session: Session, fund_id: uuid.UUID, reference: str) -> bool:
    return (
        db_session.exec(
            select(DirectDebitMandate.id).where(
                col(DirectDebitMandate.fund_id) == fund_id,
                col(DirectDebitMandate.reference) == reference,
            )
        ).first()
        is not None
    )


def _revoke(
    db_session: Session,
    mandate: DirectDebitMandate,
    *,
    actor: str,
    request_id: str | None,
    replaced_by: str | None = None,
) -> None:
    before = _trace(mandate)
    now = utcnow()
    mandate.status = MandateStatus.revoked
    mandate.revoked_at = now
    mandate.revoked_by = actor
    mandate.updated_at = now
    db_session.add(mandate)
    db_session.flush()
    after = _trace(mandate) | ({"replaced_by": replaced_by} if replaced_by else {})
    record(
        db_session=db_session,
        actor=actor,
        action="mandate.revoke",
        target_type="household",
        target_id=mandate.household_id,
        fund_id=mandate.fund_id,
        before=before,
        after=after,
        request_id=request_id,
    )


def set_mandate(
    *,
    db_session: Session,
    household_id: uuid.UUID,
    mandate_in: MandateIn,
    actor: str,
    request_id: str | None = None,
) -> DirectDebitMandate:
    """Give, amend or replace the household's active mandate (see the module's rules)."""
    household = _locked_household(db_session, household_id)
    if household.status == HouseholdStatus.left:
        raise HouseholdLeft("A household that has left the fund gives no mandate.")
    iban = _sepa_iban(mandate_in.iban)
    bic = normalise_bic(mandate_in.bic) if mandate_in.bic else None
    current = active_mandate(db_session=db_session, household_id=household.id)
    if current is not None and mandate_in.reference in (None, current.reference):
        before = _trace(current)
        now = utcnow()
        if iban != current.iban:
            current.account_since = now
        current.debtor_name = mandate_in.debtor_name
        current.iban = iban
        current.bic = bic
        current.signed_on = mandate_in.signed_on
        current.updated_at = now
        db_session.add(current)
        db_session.flush()
        record(
            db_session=db_session,
            actor=actor,
            action="mandate.amend",
            target_type="household",
            target_id=household.id,
            fund_id=household.fund_id,
            before=before,
            after=_trace(current),
            request_id=request_id,
        )
        return current
    if mandate_in.reference is not None:
        _check_given_reference(household, mandate_in.reference)
    reference = mandate_in.reference or _generated_reference(db_session, household)
    if _reference_taken(db_session, household.fund_id, reference):
        raise MandateReferenceTaken(
            f"The reference {reference} is already used by a mandate of this fund."
        )
    if current is not None:
        _revoke(db_session, current, actor=actor, request_id=request_id, replaced_by=reference)
    mandate = DirectDebitMandate(
        fund_id=household.fund_id,
        household_id=household.id,
        reference=reference,
        debtor_name=mandate_in.debtor_name,
        iban=iban,
        bic=bic,
        signed_on=mandate_in.signed_on,
        created_by=actor,
    )
    try:
        with db_session.begin_nested():
            db_session.add(mandate)
            db_session.flush()
    except IntegrityError as exc:  # another household took the reference at this moment
        raise MandateReferenceTaken(
            f"The reference {reference} is already used by a mandate of this fund."
        ) from exc
    record(
        db_session=db_session,
        actor=actor,
        action="mandate.create",
        target_type="household",
        target_id=household.id,
        fund_id=household.fund_id,
        after=_trace(mandate),
        request_id=request_id,
    )
    return mandate


def revoke_mandate(
    *, db_session: Session, household_id: uuid.UUID, actor: str, request_id: str | None = None
) -> DirectDebitMandate:
    """Revoke the household's active mandate: nothing more is collected under it."""
    household = _locked_household(db_session, household_id)
    current = active_mandate(db_session=db_session, household_id=household.id)
    if current is None:
        raise MandateNotFound()
    _revoke(db_session, current, actor=actor, request_id=request_id)
    return current


def sequence_types(
    *, db_session: Session, mandates: list[DirectDebitMandate]
) -> dict[uuid.UUID, str]:
    """FRST or RCUR for the next collection under each mandate (by mandate id).

    RCUR once the mandate's current debtor account has been collected from: a
    contribution paid by direct debit recorded for the household, or a debit under the
    mandate in an open collection run (a file produced and not cancelled), since the
    account was recorded; FRST before. A run cancelled (the bank never received it)
    and a debit the bank returned do not count.
    """
    if not mandates:
        return {}
    by_household = {m.household_id: m for m in mandates}
    rows = db_session.exec(
        select(Contribution.household_id, func.max(Contribution.created_at))
        .where(
            col(Contribution.household_id).in_(list(by_household)),
            col(Contribution.method) == ContributionMethod.direct_debit.value,
            # Neither a correction nor a contribution corrected (recorded by mistake).
            col(Contribution.corrects_id).is_(None),
            col(Contribution.id).not_in(
                select(Contribution.corrects_id).where(col(Contribution.corrects_id).is_not(None))
            ),
        )
        .group_by(col(Contribution.household_id))
    ).all()
    last_collected = {household_id: at for household_id, at in rows}
    sent = db_session.exec(
        select(DirectDebitRunLine.mandate_id, func.max(DirectDebitRun.created_at))
        .join(DirectDebitRun, col(DirectDebitRun.id) == col(DirectDebitRunLine.run_id))
        .where(
            col(DirectDebitRunLine.mandate_id).in_([m.id for m in mandates]),
            col(DirectDebitRun.status) == DirectDebitRunStatus.open.value,
            col(DirectDebitRunLine.returned_at).is_(None),
        )
        .group_by(col(DirectDebitRunLine.mandate_id))
    ).all()
    last_sent = {mandate_id: at for mandate_id, at in sent}
    result = {}
    for household_id, mandate in by_household.items():
        collected = False
        for last in (last_collected.get(household_id), last_sent.get(mandate.id)):
            # SQLite keeps no zone in an aggregate's result: both sides compared in UTC.
            if last is not None and last.tzinfo is None:
                last = last.replace(tzinfo=mandate.account_since.tzinfo)
            collected = collected or (last is not None and last >= mandate.account_since)
        result[mandate.id] = RECURRENT if collected else FIRST
    return result
