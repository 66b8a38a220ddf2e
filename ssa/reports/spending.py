"""Spending by outlet category for the fund report: payments less refunds, per category.

The report itself holds back categories with fewer than five households (MIN_GROUP),
and as many others as it takes for what they add up to to cover five too.
"""

import uuid
from collections.abc import Collection, Iterable

from sqlalchemy import func
from sqlmodel import Session, col, select

from ssa.ledger.models import LedgerTransaction
from ssa.outlets.models import Outlet
from ssa.payments.models import Payment, Refund


def spending_by_category(
    db_session: Session, fund_id: uuid.UUID, period: str
) -> Iterable[tuple[str, int, int]]:
    """(category, households that paid there in the period, cents spent net of refunds).

    Refunds count in the period of their own ledger transaction, as the report's
    `refunded_cents` does; a household with only a refund is not counted as spending.
    """
    paid = db_session.exec(
        select(
            Outlet.category,
            func.count(func.distinct(col(Payment.household_id))),
            func.sum(col(Payment.amount_cents)),
        )
        .join(Outlet, col(Outlet.id) == col(Payment.outlet_id))
        .where(col(Payment.fund_id) == fund_id, col(Payment.period) == period)
        .group_by(col(Outlet.category))
    ).all()
    refunded = db_session.exec(
        select(Outlet.category, func.sum(col(Refund.amount_cents)))
        .join(Outlet, col(Outlet.id) == col(Refund.outlet_id))
        .join(LedgerTransaction, col(LedgerTransaction.id) == col(Refund.transaction_id))
        .where(col(Refund.fund_id) == fund_id, col(LedgerTransaction.period) == period)
        .group_by(col(Outlet.category))
    ).all()
    refunds = {str(category): int(cents) for category, cents in refunded}
    return sorted(
        (str(category), int(households), int(cents) - refunds.get(str(category), 0))
        for category, households, cents in paid
    )


def households_spending_in(
    db_session: Session, fund_id: uuid.UUID, period: str, categories: Collection[str]
) -> int:
    """How many households paid at outlets of any of `categories` in the period."""
    count = db_session.exec(
        select(func.count(func.distinct(col(Payment.household_id))))
        .join(Outlet, col(Outlet.id) == col(Payment.outlet_id))
        .where(
            col(Payment.fund_id) == fund_id,
            col(Payment.period) == period,
            col(Outlet.category).in_(categories),
        )
    ).one()
    return int(count)
