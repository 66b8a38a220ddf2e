"""Payout batches and their lines: what the fund transfers to each outlet, in one SEPA file."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Column, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from ssa.db import metadata as _metadata  # noqa: F401 (naming convention first)
from ssa.timeutil import utcnow
from ssa.types import UTCDateTime


class PayoutStatus(StrEnum):
    created = "created"  # the payables are in transit, the file may be sent to the bank
    confirmed = "confirmed"  # the bank paid: the euros left the bank account
    cancelled = "cancelled"  # the amounts went back to the outlets' payables


class Payout(SQLModel, table=True):
    """One batch of transfers; each state names the ledger transaction that brought it."""

    __tablename__ = "payout"
    __table_args__ = (
        CheckConstraint("status IN ('created', 'confirmed', 'cancelled')", name="status"),
        CheckConstraint("total_cents > 0", name="total_positive"),
        CheckConstraint("minimum_cents >= 0", name="minimum_non_negative"),
        # The status and the transactions tell the same story: a batch is closed once,
        # either way, and never both.
        CheckConstraint(
            "(status = 'created' AND confirmed_transaction_id IS NULL"
            " AND cancelled_transaction_id IS NULL)"
            " OR (status = 'confirmed' AND confirmed_transaction_id IS NOT NULL"
            " AND cancelled_transaction_id IS NULL)"
            " OR (status = 'cancelled' AND cancelled_transaction_id IS NOT NULL"
            " AND confirmed_transaction_id IS NULL)",
            name="status_transactions",
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    fund_id: uuid.UUID = Field(foreign_key="fund.id", index=True)
    status: PayoutStatus = Field(default=PayoutStatus.created, sa_type=String(10))
    # Sum of the lines, in cents.
    total_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    # Outlets owed less than this (cents) were left out of the batch.
    minimum_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_transaction_id: uuid.UUID = Field(foreign_key="ledger_transaction.id")
    confirmed_transaction_id: uuid.UUID | None = Field(
        default=None, foreign_key="ledger_transaction.id"
    )
    cancelled_transaction_id: uuid.UUID | None = Field(
        default=None, foreign_key="ledger_transaction.id"
    )
    created_by: str = Field(max_length=200)
    closed_by: str | None = Field(default=None, max_length=200)  # who confirmed or cancelled
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PayoutLine(SQLModel, table=True):
    """One transfer of a batch; the outlet's bank details as they were when it was made."""

    __tablename__ = "payout_line"
    __table_args__ = (
        UniqueConstraint("payout_id", "outlet_id"),
        CheckConstraint("amount_cents > 0", name="amount_positive"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    payout_id: uuid.UUID = Field(foreign_key="payout.id")  # indexed by the unique key
    outlet_id: uuid.UUID = Field(foreign_key="outlet.id", index=True)
    amount_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    iban: str = Field(max_length=34)
    bic: str | None = Field(default=None, max_length=11)
    name: str = Field(max_length=200)
