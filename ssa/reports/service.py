"""The figures of a fund for a period, read from the ledger and the households."""

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from ssa.funds.service import FUND_TIMEZONE, current_period
from ssa.households.dues import window_dues
from ssa.households.models import ContributionWaiver, Household, HouseholdStatus, Person
from ssa.issuance import periods as months
from ssa.issuance.service import coverage
from ssa.ledger.models import (
    AccountKind,
    LedgerAccount,
    LedgerPosting,
    LedgerTransaction,
    Side,
    TransactionKind,
)
from ssa.reports.history import period_series
from ssa.reports.ratios import coverage_ratio, runway_periods
from ssa.reports.spending import households_spending_in, spending_by_category

# Aggregates over fewer households than this are not shown.
MIN_GROUP = 5


@dataclass
class Report:
    period: str
    households_active: int
    persons: int
    contributions_cents: int
    contributions_due_cents: int
    grants_cents: int
    issued_cents: int
    spent_cents: int
    refunded_cents: int
    expired_cents: int
    paid_out_cents: int
    outstanding_credits_cents: int
    outlet_payables_cents: int
    bank_cents: int
    coverage_ratio: float | None
    runway_periods: float | None
    spending_by_category: list[dict[str, Any]] = field(default_factory=list)


def _movements(
    db_session: Session, fund_id: uuid.UUID, period: str
) -> dict[tuple[str, str, str], int]:
    """Sum of postings by (transaction kind, account kind, side) for the period."""
    rows = (
        db_session.connection()
        .execute(
            select(
                col(LedgerTransaction.kind),
                col(LedgerAccount.kind),
                col(LedgerPosting.side),
                func.sum(col(LedgerPosting.amount_cents)),
            )
            .join(LedgerTransaction, col(LedgerTransaction.id) == col(LedgerPosting.transaction_id))
            .join(LedgerAccount, col(LedgerAccount.id) == col(LedgerPosting.account_id))
            .where(
                col(LedgerTransaction.fund_id) == fund_id, col(LedgerTransaction.period) == period
            )
            .group_by(col(LedgerTransaction.kind), col(LedgerAccount.kind), col(LedgerPosting.side))
        )
        .all()
    )
    return {(tk, ak, side): int(total) for tk, ak, side, total in rows}


def _corrected_contributions(db_session: Session, fund_id: uuid.UUID, period: str) -> int:
    """What the period's corrections took back out of the bank: reversals of contributions
    (a contribution recorded by mistake)."""
    original = aliased(LedgerTransaction)
    total = (
        db_session.connection()
        .execute(
            select(func.coalesce(func.sum(col(LedgerPosting.amount_cents)), 0))
            .join(LedgerTransaction, col(LedgerTransaction.id) == col(LedgerPosting.transaction_id))
            .join(original, col(original.id) == col(LedgerTransaction.reverses_id))
            .join(LedgerAccount, col(LedgerAccount.id) == col(LedgerPosting.account_id))
            .where(
                col(LedgerTransaction.fund_id) == fund_id,
                col(LedgerTransaction.period) == period,
                col(LedgerTransaction.kind) == TransactionKind.reversal.value,
                col(original.kind) == TransactionKind.contribution.value,
                col(LedgerAccount.kind) == AccountKind.bank.value,
                col(LedgerPosting.side) == Side.credit.value,
            )
        )
        .scalar_one()
    )
    return int(total)


def _balances(db_session: Session, fund_id: uuid.UUID) -> dict[str, int]:
    rows = (
        db_session.connection()
        .execute(
            select(col(LedgerAccount.kind), func.sum(col(LedgerAccount.balance_cents)))
            .where(col(LedgerAccount.fund_id) == fund_id)
            .group_by(col(LedgerAccount.kind))
        )
        .all()
    )
    return {kind: int(total) for kind, total in rows}


def period_report(*, db_session: Session, fund_id: uuid.UUID, period: str) -> Report:
    moves = _movements(db_session, fund_id, period)
    balances = _balances(db_session, fund_id)
    active, persons = _households_and_persons(db_session, fund_id, period)
    held, owed = coverage(db_session, fund_id)
    issued = moves.get(("issuance", "household_credits", "credit"), 0)
    monthly_rate = issued or _monthly_rate(db_session, fund_id, period)
    ratio, runway = coverage_ratio(held, owed), runway_periods(held, owed, monthly_rate)
    if period < current_period():
        # A past month: its balances, coverage and runway as its books stood at its end
        # (today's, less what later months posted), as the dashboard's charts draw them.
        (end,) = period_series(db_session=db_session, fund_id=fund_id, last=period, count=1)
        balances, held = end.balances, end.bank_cents
        ratio, runway = end.coverage_ratio, end.runway_periods
    categories = _shown_categories(db_session, fund_id, period)
    return Report(
        period=period,
        households_active=int(active),
        persons=int(persons),
        contributions_cents=moves.get(("contribution", "bank", "debit"), 0)
        - _corrected_contributions(db_session, fund_id, period),
        contributions_due_cents=_contributions_due(db_session, fund_id, period),
        grants_cents=moves.get(("grant", "bank", "debit"), 0),
        issued_cents=issued,
        spent_cents=moves.get(("payment", "household_credits", "debit"), 0),
        refunded_cents=moves.get(("refund", "household_credits", "credit"), 0),
        expired_cents=moves.get(("expiry", "household_credits", "debit"), 0),
        paid_out_cents=moves.get(("payout_confirmed", "bank", "credit"), 0),
        outstanding_credits_cents=balances.get("household_credits", 0),
        outlet_payables_cents=balances.get("outlet_payable", 0),
        bank_cents=held,
        coverage_ratio=ratio,
        runway_periods=runway,
        spending_by_category=categories,
    )


def _households_and_persons(
    db_session: Session, fund_id: uuid.UUID, period: str
) -> tuple[int, int]:
    """The active households that had joined by the period, and their persons there at its
    end: registered with the household, or added before the month ended, and not gone.
    (Statuses are today's: a household's suspension or departure has no date.)"""
    in_period = (
        col(Household.fund_id) == fund_id,
        col(Household.status) == HouseholdStatus.active.value,
        col(Household.joined_period) <= period,
    )
    first_after = date.fromisoformat(f"{months.shift(period, 1)}-01")
    month_after = datetime.combine(first_after, time(), FUND_TIMEZONE)
    connection = db_session.connection()
    households = connection.execute(
        select(func.count()).select_from(Household).where(*in_period)
    ).scalar_one()
    persons = connection.execute(
        select(func.count())
        .select_from(Person)
        .join(Household, col(Household.id) == col(Person.household_id))
        .where(
            *in_period,
            or_(col(Person.left_on).is_(None), col(Person.left_on) >= first_after),
            or_(
                col(Person.created_at) < month_after,
                # Registered with the household (whose joining may be earlier).
                func.date(col(Person.created_at)) == func.date(col(Household.created_at)),
            ),
        )
    ).scalar_one()
    return int(households), int(persons)


def _contributions_due(db_session: Session, fund_id: uuid.UUID, period: str) -> int:
    """What the fund's households owed for the period: each household that had joined by
    then and has not left, the amount agreed for that month, unless the month was waived
    (as the contribution lists count it)."""
    changed = window_dues(fund_id, [period])
    waived = select(col(ContributionWaiver.household_id)).where(
        col(ContributionWaiver.fund_id) == fund_id, col(ContributionWaiver.period) == period
    )
    total = (
        db_session.connection()
        .execute(
            select(
                func.coalesce(
                    func.sum(
                        func.coalesce(changed.c.due_0, col(Household.chosen_contribution_cents))
                    ),
                    0,
                )
            )
            .select_from(Household)
            .outerjoin(changed, changed.c.household_id == col(Household.id))
            .where(
                col(Household.fund_id) == fund_id,
                col(Household.status) != HouseholdStatus.left.value,
                col(Household.joined_period) <= period,
                col(Household.id).not_in(waived),
            )
        )
        .scalar_one()
    )
    return int(total)


def _shown_categories(db_session: Session, fund_id: uuid.UUID, period: str) -> list[dict[str, Any]]:
    """Spending by category, without any group of fewer than MIN_GROUP households.

    A category of fewer households is held back; and since the total spent is shown, what
    the held-back categories add up to is the total less the shown ones: the smallest
    shown categories are held back with them until those cover MIN_GROUP households.
    """
    rows = list(spending_by_category(db_session, fund_id, period))
    hidden = [category for category, households, _ in rows if households < MIN_GROUP]
    shown = sorted(
        (row for row in rows if row[1] >= MIN_GROUP), key=lambda row: (row[1], row[2], row[0])
    )
    while (
        hidden and shown and households_spending_in(db_session, fund_id, period, hidden) < MIN_GROUP
    ):
        hidden.append(shown.pop(0)[0])
    return [
        {"category": category, "households": households, "spent_cents": cents}
        for category, households, cents in sorted(shown)
    ]


def _monthly_rate(db_session: Session, fund_id: uuid.UUID, period: str) -> int:
    """The credits of the latest month issued up to `period`, all of its runs (late joiners
    and late payers included): the current monthly rate of credits, as the dashboard's
    series counts it."""
    total = (
        db_session.connection()
        .execute(
            select(func.sum(col(LedgerPosting.amount_cents)))
            .join(LedgerTransaction, col(LedgerTransaction.id) == col(LedgerPosting.transaction_id))
            .join(LedgerAccount, col(LedgerAccount.id) == col(LedgerPosting.account_id))
            .where(
                col(LedgerTransaction.fund_id) == fund_id,
                col(LedgerTransaction.kind) == TransactionKind.issuance.value,
                col(LedgerTransaction.period) <= period,
                col(LedgerAccount.kind) == AccountKind.household_credits.value,
                col(LedgerPosting.side) == Side.credit.value,
            )
            .group_by(col(LedgerTransaction.period))
            .order_by(col(LedgerTransaction.period).desc())
            .limit(1)
        )
        .scalar_one_or_none()
    )
    return int(total or 0)
