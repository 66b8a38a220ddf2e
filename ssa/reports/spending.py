"""Spending by outlet category for the fund report: payments less refunds, per category.

The report itself holds back categories with fewer than five households (MIN_GROUP),
and as many others as it takes for what they add up to to cover five too.
"""

import uuid
from collections.abc import Collection, Iterable
from typing import Any

from sqlalchemy import func, union_all
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from ssa.ledger.models import LedgerTransaction
from ssa.outlets.models import Outlet
from ssa.payments.models import Payment, Refund


def _movements(fund_id: uuid.UUID, period: str) -> Any:
    """Per payment (+) and refund (-) of the period: its category, household and cents.
    Refunds count in the period of their own ledger transaction, as the report's
    `refunded_cents` does; their household is the payment's."""
    payments: Any = (
        sa_select(
            col(Outlet.category).label("category"),
            col(Payment.household_id).label("household_id"),
            col(Payment.amount_cents).label("cents"),
        )
        .join(Outlet, col(Outlet.id) == col(Payment.outlet_id))
        .where(col(Payment.fund_id) == fund_id, col(Payment.period) == period)
    )
    refunds: Any = (
        sa_select(col(Outlet.category), col(Payment.household_id), -col(Refund.amount_cents))
        .join(Outlet, col(Outlet.id) == col(Refund.outlet_id))
        .join(Payment, col(Payment.id) == col(Refund.payment_id))
        .join(LedgerTransaction, col(LedgerTransaction.id) == col(Refund.transaction_id))
        .where(col(Refund.fund_id) == fund_id, col(LedgerTransaction.period) == period)
    )
    return union_all(payments, refunds).subquery("movements")


def spending_by_category(
    db_session: Session, fund_id: uuid.UUID, period: str
) -> Iterable[tuple[str, int, int]]:
    """(category, households that paid or were refunded there in the period, cents spent
    net of refunds). A category with refunds only (of an earlier month's payments) is a
    row too: its households are a group the report must not show when small."""
    moves = _movements(fund_id, period)
    rows = db_session.connection().execute(
        sa_select(
            moves.c.category,
            func.count(func.distinct(moves.c.household_id)),
            func.sum(moves.c.cents),
        ).group_by(moves.c.category)
    )
    return sorted(
        (str(category), int(households), int(cents)) for category, households, cents in rows
    )


def households_spending_in(
    db_session: Session, fund_id: uuid.UUID, period: str, categories: Collection[str]
) -> int:
    """How many households paid, or were refunded, at outlets of `categories` in the
    period."""
    moves = _movements(fund_id, period)
    count = (
        db_session.connection()
        .execute(
            sa_select(func.count(func.distinct(moves.c.household_id))).where(
                moves.c.category.in_(list(categories))
            )
        )
        .scalar_one()
    )
    return int(count)
