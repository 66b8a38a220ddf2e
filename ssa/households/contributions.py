"""Contributions, hardship waivers and grants: euros into the fund's bank account."""

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from ssa.audit.service import record
from ssa.funds.service import FUND_TIMEZONE, current_period, fund_today, get_fund
from ssa.households.dues import dues
from ssa.households.models import (
    Contribution,
    ContributionMethod,
    ContributionWaiver,
    Household,
    HouseholdStatus,
)
from ssa.households.schemas import ContributionIn
from ssa.households.service import HouseholdNotFound
from ssa.issuance import periods as months
from ssa.ledger.errors import InsufficientBalance
from ssa.ledger.models import (
    AccountKind,
    LedgerAccount,
    LedgerPosting,
    LedgerTransaction,
    Side,
    TransactionKind,
)
from ssa.ledger.service import (
    credit,
    debit,
    open_account,
    post_transaction,
    reverse_transaction,
)
from ssa.problems import Conflict, NotFound, Problem
from ssa.timeutil import utcnow


class WaiverExists(Conflict):
    code = "waiver_exists"
    title = "This period is already waived for this household"


class ContributionNotFound(NotFound):
    code = "contribution_not_found"
    title = "The fund has no such contribution"


class ContributionAlreadyCorrected(Conflict):
    code = "contribution_already_corrected"
    title = "This contribution is already corrected, or is itself a correction"


class BankBalanceTooLow(Conflict):
    code = "insufficient_bank_balance"
    title = "The fund's bank account does not hold the contribution any more"


# How far ahead a contribution may be paid: a year.
MONTHS_AHEAD = 12


class ContributionImplausible(Problem):
    status = 422
    code = "validation_error"
    title = "Validation error"


# The first day a fund's books can hold: periods are of the years 2000 to 2999.
EARLIEST = date(2000, 1, 1)


def _check_received(received_on: date) -> None:
    """Euros are received today or before (and in a year a period can name)."""
    if received_on > fund_today():
        raise ContributionImplausible(
            f"The euros cannot have been received on {received_on}: that day is to come.",
            errors=[
                {"loc": ["body", "received_on"], "msg": "a day to come", "type": "date_future"}
            ],
        )
    if received_on < EARLIEST:
        raise ContributionImplausible(
            f"The euros cannot have been received on {received_on}: before {EARLIEST}.",
            errors=[{"loc": ["body", "received_on"], "msg": "too long ago", "type": "date_past"}],
        )


def _check_ahead(period: str, what: str) -> None:
    """A contribution or a waiver is for a month at most a year ahead."""
    latest = months.shift(current_period(), MONTHS_AHEAD)
    if period > latest:
        raise ContributionImplausible(
            f"A {what} is for a month up to {latest} (a year ahead), not {period}.",
            errors=[{"loc": ["body", "period"], "msg": "too far ahead", "type": "period_ahead"}],
        )


def _check_plausible(period: str, received_on: date) -> None:
    """Euros are received today or before, for a month at most a year ahead."""
    _check_received(received_on)
    _check_ahead(period, "contribution")


def household_in_fund(
    db_session: Session, fund_id: uuid.UUID, household_id: uuid.UUID
) -> Household:
    household = db_session.get(Household, household_id)
    if household is None or household.fund_id != fund_id:
        raise HouseholdNotFound()
    return household


def record_contribution(
    *,
    db_session: Session,
    fund_id: uuid.UUID,
    household_id: uuid.UUID,
    period: str,
    amount_cents: int,
    method: ContributionMethod,
    received_on: date,
    actor: str,
    request_id: str | None = None,
) -> Contribution:
    """Euros received from a household: bank debited, contribution income credited."""
    _check_plausible(period, received_on)
    household = household_in_fund(db_session, fund_id, household_id)
    bank = open_account(db_session=db_session, fund_id=fund_id, kind=AccountKind.bank)
    income = open_account(
        db_session=db_session, fund_id=fund_id, kind=AccountKind.contribution_income
    )
    posted = post_transaction(
        db_session=db_session,
        fund_id=fund_id,
        kind=TransactionKind.contribution,
        legs=[debit(bank.id, amount_cents), credit(income.id, amount_cents)],
        period=period,
        memo=f"Contribution {household.member_number} {period} ({method.value})",
    )
    contribution = Contribution(
        fund_id=fund_id,
        household_id=household.id,
        period=period,
        amount_cents=amount_cents,
        method=method,
        received_on=received_on,
        transaction_id=posted.transaction_id,
        recorded_by=actor,
    )
    db_session.add(contribution)
    db_session.flush()
    record(
        db_session=db_session,
        actor=actor,
        action="contribution.record",
        target_type="household",
        target_id=household.id,
        fund_id=fund_id,
        after={
            "contribution_id": contribution.id,
            "period": period,
            "amount_cents": amount_cents,
            "method": method.value,
        },
        request_id=request_id,
    )
    return contribution


def correct_contribution(
    *,
    db_session: Session,
    fund_id: uuid.UUID,
    contribution_id: uuid.UUID,
    reason: str,
    actor: str,
    replacement: ContributionIn | None = None,
    request_id: str | None = None,
) -> tuple[Contribution, Contribution | None]:
    """Correct a contribution recorded by mistake (wrong household, period or amount):
    the reversal of its ledger transaction (bank credited, contribution income debited)
    and a correction row with the opposite amount, so that the period is owed again.
    With `replacement` (the euros were received, for another household, period or
    amount), that contribution is recorded first, in the same transaction, so the bank
    in the books never holds less than it did. Once per contribution. Returns the
    correction and the replacement."""
    original = db_session.get(Contribution, contribution_id, with_for_update=True)
    if original is None or original.fund_id != fund_id:
        raise ContributionNotFound()
    corrected = db_session.exec(
        select(Contribution.id).where(col(Contribution.corrects_id) == original.id)
    ).first()
    if original.corrects_id is not None or corrected is not None:
        raise ContributionAlreadyCorrected(
            "A contribution is corrected once, and a correction is not corrected: record"
            " the right contribution instead."
        )
    household = household_in_fund(db_session, fund_id, original.household_id)
    replaced = (
        record_contribution(
            db_session=db_session,
            fund_id=fund_id,
            household_id=replacement.household_id,
            period=replacement.period,
            amount_cents=replacement.amount_cents,
            method=replacement.method,
            received_on=replacement.received_on,
            actor=actor,
            request_id=request_id,
        )
        if replacement is not None
        else None
    )
    try:
        posted = reverse_transaction(
            db_session=db_session,
            fund_id=fund_id,
            transaction_id=original.transaction_id,
            memo=f"Correction of contribution {household.member_number} {original.period}",
        )
    except InsufficientBalance as exc:
        raise BankBalanceTooLow(
            "The bank account in the books holds less than this contribution (its euros"
            " were spent): correct it once more euros have come in.",
            available_cents=exc.extra.get("available_cents", 0),
        ) from exc
    correction = Contribution(
        fund_id=fund_id,
        household_id=original.household_id,
        period=original.period,
        amount_cents=-original.amount_cents,
        method=original.method,
        received_on=utcnow().astimezone(FUND_TIMEZONE).date(),
        transaction_id=posted.transaction_id,
        recorded_by=actor,
        corrects_id=original.id,
        correction_reason=reason,
    )
    db_session.add(correction)
    db_session.flush()
    record(
        db_session=db_session,
        actor=actor,
        action="contribution.correct",
        target_type="household",
        target_id=household.id,
        fund_id=fund_id,
        before={"contribution_id": original.id, "amount_cents": original.amount_cents},
        after={
            "period": original.period,
            "amount_cents": correction.amount_cents,
            "reason": reason,
            "transaction_id": posted.transaction_id,
            "replacement_id": replaced.id if replaced is not None else None,
        },
        request_id=request_id,
    )
    return correction, replaced


def of_period(
    *, db_session: Session, household_id: uuid.UUID, period: str
) -> list[tuple[Contribution, bool]]:
    """A household's contributions recorded for a period, the oldest first, each with
    whether a correction undid it (corrections are among them, with their negative
    amount)."""
    rows = list(
        db_session.exec(
            select(Contribution)
            .where(
                col(Contribution.household_id) == household_id, col(Contribution.period) == period
            )
            .order_by(col(Contribution.created_at), col(Contribution.id))
        ).all()
    )
    corrected = {row.corrects_id for row in rows if row.corrects_id is not None}
    return [(row, row.id in corrected) for row in rows]


def waive(
    *,
    db_session: Session,
    fund_id: uuid.UUID,
    household_id: uuid.UUID,
    period: str,
    reason: str,
    actor: str,
    request_id: str | None = None,
) -> ContributionWaiver:
    _check_ahead(period, "waiver")
    household = household_in_fund(db_session, fund_id, household_id)
    existing = db_session.exec(
        select(ContributionWaiver).where(
            col(ContributionWaiver.household_id) == household.id,
            col(ContributionWaiver.period) == period,
        )
    ).first()
    if existing is not None:
        raise WaiverExists()
    waiver = ContributionWaiver(
        fund_id=fund_id, household_id=household.id, period=period, reason=reason, granted_by=actor
    )
    try:
        with db_session.begin_nested():
            db_session.add(waiver)
            db_session.flush()
    except IntegrityError as exc:  # the same waiver granted at the same moment
        raise WaiverExists() from exc
    # The reason may say why the household is in hardship: it stays out of the log.
    record(
        db_session=db_session,
        actor=actor,
        action="contribution.waive",
        target_type="household",
        target_id=household.id,
        fund_id=fund_id,
        after={"period": period},
        request_id=request_id,
    )
    return waiver


def record_grant(
    *,
    db_session: Session,
    fund_id: uuid.UUID,
    funder: str,
    amount_cents: int,
    received_on: date,
    reference: str | None,
    actor: str,
    request_id: str | None = None,
) -> uuid.UUID:
    """Euros from a funder: bank debited, that funder's grant income credited, in the
    month they were received (today or before)."""
    _check_received(received_on)
    get_fund(db_session=db_session, fund_id=fund_id)
    bank = open_account(db_session=db_session, fund_id=fund_id, kind=AccountKind.bank)
    income = open_account(
        db_session=db_session,
        fund_id=fund_id,
        kind=AccountKind.grant_income,
        reference=funder.strip(),
    )
    posted = post_transaction(
        db_session=db_session,
        fund_id=fund_id,
        kind=TransactionKind.grant,
        legs=[debit(bank.id, amount_cents), credit(income.id, amount_cents)],
        period=received_on.strftime("%Y-%m"),
        memo=f"Grant from {funder.strip()}" + (f" ({reference})" if reference else ""),
    )
    record(
        db_session=db_session,
        actor=actor,
        action="grant.record",
        target_type="fund",
        target_id=fund_id,
        fund_id=fund_id,
        after={"funder": funder.strip(), "amount_cents": amount_cents, "reference": reference},
        request_id=request_id,
    )
    return posted.transaction_id


@dataclass(frozen=True)
class GrantLine:
    """A grant as the books hold it: the funder's income credited, in the month received."""

    transaction_id: uuid.UUID
    funder: str
    amount_cents: int
    period: str | None
    memo: str | None
    created_at: datetime


def recent_grants(*, db_session: Session, fund_id: uuid.UUID, limit: int = 20) -> list[GrantLine]:
    """The fund's latest grants (reversals of them included as they were posted), newest
    first."""
    rows = (
        db_session.connection()
        .execute(
            sa_select(
                col(LedgerTransaction.id),
                col(LedgerAccount.reference),
                col(LedgerPosting.amount_cents),
                col(LedgerTransaction.period),
                col(LedgerTransaction.memo),
                col(LedgerTransaction.created_at),
            )
            .join(LedgerPosting, col(LedgerPosting.transaction_id) == col(LedgerTransaction.id))
            .join(LedgerAccount, col(LedgerAccount.id) == col(LedgerPosting.account_id))
            .where(
                col(LedgerTransaction.fund_id) == fund_id,
                col(LedgerTransaction.kind) == TransactionKind.grant.value,
                col(LedgerPosting.side) == Side.credit.value,
                col(LedgerAccount.kind) == AccountKind.grant_income.value,
            )
            .order_by(col(LedgerTransaction.created_at).desc(), col(LedgerTransaction.id).desc())
            .limit(limit)
        )
        .all()
    )
    return [GrantLine(*row) for row in rows]


def grants_by_funder(*, db_session: Session, fund_id: uuid.UUID) -> list[tuple[str, int]]:
    """Each funder's grants in all (its grant income account's balance), by name."""
    rows = db_session.exec(
        select(LedgerAccount.reference, LedgerAccount.balance_cents)
        .where(
            col(LedgerAccount.fund_id) == fund_id,
            col(LedgerAccount.kind) == AccountKind.grant_income.value,
        )
        .order_by(col(LedgerAccount.reference))
    ).all()
    return [(funder, int(total)) for funder, total in rows]


@dataclass(frozen=True)
class ContributionStatus:
    household_id: uuid.UUID
    member_number: str
    period: str
    due_cents: int
    paid_cents: int
    status: str


def status_of(
    *, due_cents: int, paid_cents: int, waived: bool, period: str, today_period: str
) -> str:
    if waived:
        return "waived"
    if paid_cents >= due_cents:
        return "paid"
    return "late" if period < today_period else "due"


def statuses(
    *,
    db_session: Session,
    fund_id: uuid.UUID,
    period: str,
    limit: int,
    after_member_number: str | None,
) -> list[ContributionStatus]:
    """Per household (not left) of the fund: what was due for the period and its status.

    A household owes nothing for the periods before it joined."""
    query = select(Household).where(
        col(Household.fund_id) == fund_id,
        col(Household.status) != HouseholdStatus.left.value,
        col(Household.joined_period) <= period,
    )
    if after_member_number is not None:
        query = query.where(col(Household.member_number) > after_member_number)
    households = db_session.exec(query.order_by(col(Household.member_number)).limit(limit)).all()
    ids = [h.id for h in households]
    paid = dict(
        db_session.exec(
            select(Contribution.household_id, func.sum(Contribution.amount_cents))
            .where(col(Contribution.household_id).in_(ids), col(Contribution.period) == period)
            .group_by(col(Contribution.household_id))
        ).all()
    )
    waived = set(
        db_session.exec(
            select(ContributionWaiver.household_id).where(
                col(ContributionWaiver.household_id).in_(ids),
                col(ContributionWaiver.period) == period,
            )
        ).all()
    )
    today = current_period()
    due = dues(db_session, households, [period])
    return [
        ContributionStatus(
            household_id=h.id,
            member_number=h.member_number,
            period=period,
            due_cents=due[h.id, period],
            paid_cents=int(paid.get(h.id, 0)),
            status=status_of(
                due_cents=due[h.id, period],
                paid_cents=int(paid.get(h.id, 0)),
                waived=h.id in waived,
                period=period,
                today_period=today,
            ),
        )
        for h in households
    ]


def household_statuses(
    *, db_session: Session, household: Household, periods: list[str]
) -> list[ContributionStatus]:
    """One household's contribution for each of `periods` (those from the month it joined
    on), with the same status as the fund's list: paid, due, late or waived."""
    wanted = sorted((p for p in set(periods) if p >= household.joined_period), reverse=True)
    paid = dict(
        db_session.exec(
            select(Contribution.period, func.sum(Contribution.amount_cents))
            .where(
                col(Contribution.household_id) == household.id, col(Contribution.period).in_(wanted)
            )
            .group_by(col(Contribution.period))
        ).all()
    )
    waived = set(
        db_session.exec(
            select(ContributionWaiver.period).where(
                col(ContributionWaiver.household_id) == household.id,
                col(ContributionWaiver.period).in_(wanted),
            )
        ).all()
    )
    today = current_period()
    due = dues(db_session, [household], wanted)
    return [
        ContributionStatus(
            household_id=household.id,
            member_number=household.member_number,
            period=period,
            due_cents=due[household.id, period],
            paid_cents=int(paid.get(period, 0)),
            status=status_of(
                due_cents=due[household.id, period],
                paid_cents=int(paid.get(period, 0)),
                waived=period in waived,
                period=period,
                today_period=today,
            ),
        )
        for period in wanted
    ]
