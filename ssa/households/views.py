"""What a household sees of its credits: the account summary and its history."""

import uuid

from sqlalchemy import ColumnElement, and_, case, func, or_
from sqlmodel import Session, col, select

from ssa.funds.service import current_period
from ssa.households.models import Household
from ssa.households.schemas import AccountOut, TransactionOut, TransactionPage
from ssa.issuance.models import HouseholdIssuance
from ssa.ledger.models import LedgerAccount, LedgerPosting, LedgerTransaction, TransactionKind
from ssa.outlets.models import Outlet
from ssa.pagination import decode_position, encode_cursor
from ssa.payments.models import Payment, Refund

# How the ledger's transaction kinds read from the household's side.
HOUSEHOLD_KINDS = {
    TransactionKind.issuance: "issuance",
    TransactionKind.payment: "payment",
    TransactionKind.refund: "refund",
    TransactionKind.expiry: "expiry",
}


def outlet_names(db_session: Session, transaction_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The outlet of each payment or refund transaction among `transaction_ids`: all a
    household sees of the other side."""
    if not transaction_ids:
        return {}
    names: dict[uuid.UUID, str] = {}
    for table in (Payment, Refund):
        rows = db_session.exec(
            select(table.transaction_id, Outlet.name)
            .join(Outlet, col(Outlet.id) == col(table.outlet_id))
            .where(col(table.transaction_id).in_(transaction_ids))
        ).all()
        names.update({tx_id: name for tx_id, name in rows})
    return names


def _signed() -> ColumnElement[int]:
    # Household credits grow with credits: a credit is + for the household.
    return case(
        (col(LedgerPosting.side) == "credit", col(LedgerPosting.amount_cents)),
        else_=-col(LedgerPosting.amount_cents),
    )


def issued_for(db_session: Session, household: Household, period: str) -> int | None:
    """The credits the household was issued for `period` (None: not issued)."""
    claimed = db_session.exec(
        select(HouseholdIssuance.amount_cents).where(
            col(HouseholdIssuance.household_id) == household.id,
            col(HouseholdIssuance.period) == period,
        )
    ).first()
    return None if claimed is None else int(claimed)


def account(*, db_session: Session, household: Household) -> AccountOut:
    from ssa.households.service import assess_household

    period = current_period()
    balance = db_session.exec(
        select(LedgerAccount.balance_cents).where(col(LedgerAccount.id) == household.account_id)
    ).one()
    signed = _signed()
    totals = db_session.exec(
        select(LedgerTransaction.kind, func.coalesce(func.sum(signed), 0))
        .join(LedgerTransaction, col(LedgerTransaction.id) == col(LedgerPosting.transaction_id))
        .where(
            col(LedgerPosting.account_id) == household.account_id,
            col(LedgerTransaction.period) == period,
        )
        .group_by(col(LedgerTransaction.kind))
    ).all()
    by_kind = {kind: int(total) for kind, total in totals}
    spent = -(by_kind.get("payment", 0) + by_kind.get("refund", 0))
    # A month issued keeps the allowance it was issued with (a later change of
    # composition applies from the next month not yet issued).
    claimed = issued_for(db_session, household, period)
    return AccountOut(
        balance_cents=int(balance),
        allowance_cents=claimed
        if claimed is not None
        else assess_household(db_session, household, period).allowance.total_cents,
        period=period,
        issued_cents=by_kind.get("issuance", 0),
        spent_cents=spent,
    )


def transactions(
    *,
    db_session: Session,
    household: Household,
    period: str | None,
    limit: int,
    cursor: str | None,
) -> TransactionPage:
    signed = _signed()
    query = (
        select(  # type: ignore[call-overload]
            LedgerTransaction.id,
            LedgerTransaction.kind,
            LedgerTransaction.period,
            LedgerTransaction.created_at,
            func.sum(signed),
        )
        .join(LedgerPosting, col(LedgerTransaction.id) == col(LedgerPosting.transaction_id))
        .where(col(LedgerPosting.account_id) == household.account_id)
        .group_by(
            col(LedgerTransaction.id),
            col(LedgerTransaction.kind),
            col(LedgerTransaction.period),
            col(LedgerTransaction.created_at),
        )
    )
    if period is not None:
        query = query.where(col(LedgerTransaction.period) == period)
    position = decode_position(cursor)
    if position is not None:
        at, last_id = position
        query = query.where(
            or_(
                col(LedgerTransaction.created_at) < at,
                and_(col(LedgerTransaction.created_at) == at, col(LedgerTransaction.id) < last_id),
            )
        )
    rows = db_session.exec(
        query.order_by(
            col(LedgerTransaction.created_at).desc(), col(LedgerTransaction.id).desc()
        ).limit(limit + 1)
    ).all()
    page = rows[:limit]
    names = outlet_names(db_session, [row[0] for row in page])
    items = [
        TransactionOut(
            id=tx_id,
            kind=HOUSEHOLD_KINDS.get(TransactionKind(kind), "adjustment"),
            amount_cents=int(amount),
            outlet_name=names.get(tx_id),
            period=tx_period,
            created_at=created_at.isoformat(),
        )
        for tx_id, kind, tx_period, created_at, amount in page
    ]
    next_cursor = (
        encode_cursor(page[-1][3].isoformat(), str(page[-1][0])) if len(rows) > limit else None
    )
    return TransactionPage(items=items, next_cursor=next_cursor)
