"""Payments, refunds and payment requests."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, String
from sqlmodel import Field, SQLModel

from ssa.db import metadata as _metadata  # noqa: F401 (naming convention first)
from ssa.timeutil import utcnow
from ssa.types import UTCDateTime


class Payment(SQLModel, table=True):
    """Credits a household spent at an outlet; what was refunded of it so far."""

    __tablename__ = "payment"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint(
            "refunded_cents >= 0 AND refunded_cents <= amount_cents", name="refunds_bounded"
        ),
        Index("ix_payment_outlet_created", "outlet_id", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    fund_id: uuid.UUID = Field(foreign_key="fund.id", index=True)
    outlet_id: uuid.UUID = Field(foreign_key="outlet.id")
    household_id: uuid.UUID = Field(foreign_key="household.id", index=True)
    amount_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    refunded_cents: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    reference: str | None = Field(default=None, max_length=100)
    period: str = Field(max_length=7)
    transaction_id: uuid.UUID = Field(foreign_key="ledger_transaction.id")
    taken_by: str = Field(max_length=200)  # "client:<till>" or "user:<cashier>"
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Refund(SQLModel, table=True):
    """Credits given back to the household that paid, never cash."""

    __tablename__ = "refund"
    __table_args__ = (CheckConstraint("amount_cents > 0", name="amount_positive"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    payment_id: uuid.UUID = Field(foreign_key="payment.id", index=True)
    fund_id: uuid.UUID = Field(foreign_key="fund.id")
    outlet_id: uuid.UUID = Field(foreign_key="outlet.id")
    amount_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    reason: str = Field(max_length=300)
    transaction_id: uuid.UUID = Field(foreign_key="ledger_transaction.id")
    refunded_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PaymentRequestStatus(StrEnum):
    pending = "pending"
    paid = "paid"
    expired = "expired"
    cancelled = "cancelled"


class PaymentRequest(SQLModel, table=True):
    """A till's request for a payment, confirmed by a member from the phone."""

    __tablename__ = "payment_request"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint("status IN ('pending', 'paid', 'expired', 'cancelled')", name="status"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    outlet_id: uuid.UUID = Field(foreign_key="outlet.id", index=True)
    amount_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    reference: str | None = Field(default=None, max_length=100)
    code: str = Field(max_length=12, index=True)
    status: PaymentRequestStatus = Field(default=PaymentRequestStatus.pending, sa_type=String(10))
    payment_id: uuid.UUID | None = Field(default=None, foreign_key="payment.id")
    created_by: str = Field(max_length=200)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
