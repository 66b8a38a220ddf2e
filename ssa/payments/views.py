"""What an outlet sees: its payments and what it is owed."""

import uuid
from datetime import datetime

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from ssa.auth.deps import Scope
from ssa.ledger.models import LedgerAccount
from ssa.outlets.models import OutletFund
from ssa.pagination import decode_position, encode_cursor
from ssa.payments.models import Payment
from ssa.payments.schemas import OutletPaymentOut, OutletPaymentPage
from ssa.payments.service import PaymentNotFound
from ssa.problems import NotFound


def scope(outlet_id: uuid.UUID) -> Scope:
    return Scope(outlet_id=outlet_id)


def outlet_of_payment(db_session: Session, payment_id: uuid.UUID) -> uuid.UUID:
    outlet_id = db_session.exec(
        select(Payment.outlet_id).where(col(Payment.id) == payment_id)
    ).first()
    if outlet_id is None:
        raise PaymentNotFound()
    return outlet_id


def payable(db_session: Session, outlet_id: uuid.UUID, fund_id: uuid.UUID) -> int:
    balance = db_session.exec(
        select(LedgerAccount.balance_cents)
        .join(OutletFund, col(OutletFund.payable_account_id) == col(LedgerAccount.id))
        .where(col(OutletFund.outlet_id) == outlet_id, col(OutletFund.fund_id) == fund_id)
    ).first()
    if balance is None:
        raise NotFound("This outlet is not known to this fund.")
    return int(balance)


def outlet_payments(
    *,
    db_session: Session,
    outlet_id: uuid.UUID,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    cursor: str | None,
) -> OutletPaymentPage:
    query = select(Payment).where(col(Payment.outlet_id) == outlet_id)
    if start is not None:
        query = query.where(col(Payment.created_at) >= start)
    if end is not None:
        query = query.where(col(Payment.created_at) < end)
    position = decode_position(cursor)
    if position is not None:
        at, last = position
        query = query.where(
            or_(
                col(Payment.created_at) < at,
                and_(col(Payment.created_at) == at, col(Payment.id) < last),
            )
        )
    rows = db_session.exec(
        query.order_by(col(Payment.created_at).desc(), col(Payment.id).desc()).limit(limit + 1)
    ).all()
    items = [
        OutletPaymentOut(
            id=p.id,
            fund_id=p.fund_id,
            amount_cents=p.amount_cents,
            refunded_cents=p.refunded_cents,
            reference=p.reference,
            created_at=p.created_at,
        )
        for p in rows[:limit]
    ]
    next_cursor = (
        encode_cursor(rows[limit - 1].created_at.isoformat(), str(rows[limit - 1].id))
        if len(rows) > limit
        else None
    )
    return OutletPaymentPage(items=items, next_cursor=next_cursor)
