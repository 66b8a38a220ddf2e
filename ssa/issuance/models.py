"""What was issued to whom for which period, and which periods are closed."""

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKeyConstraint,
    Index,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from ssa.db import metadata as _metadata  # noqa: F401 (naming convention first)
from ssa.timeutil import utcnow
from ssa.types import UTCDateTime


class HouseholdIssuance(SQLModel, table=True):
    """A household's credits for a period: at most one row per household and period,
    which is what makes issuance at-most-once even when two runs race."""

    __tablename__ = "household_issuance"
    __table_args__ = (
        UniqueConstraint("household_id", "period"),
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        # The household, and that the claim's fund is the household's (one lookup per
        # claim; the household's own key names the fund).
        ForeignKeyConstraint(
            ["household_id", "fund_id"],
            ["household.id", "household.fund_id"],
            name="fk_household_issuance_household",
        ),
        Index("ix_household_issuance_fund_period", "fund_id", "period"),
        # Written before the ledger transaction row that seals the postings.
        ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transaction.id"],
            name="fk_household_issuance_transaction",
            deferrable=True,
            initially="DEFERRED",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    fund_id: uuid.UUID
    household_id: uuid.UUID
    period: str = Field(max_length=7)
    amount_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    transaction_id: uuid.UUID = Field(index=True)


class PeriodClose(SQLModel, table=True):
    """A closed period of a fund: its rollover was applied once."""

    __tablename__ = "period_close"
    __table_args__ = (UniqueConstraint("fund_id", "period"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    fund_id: uuid.UUID = Field(foreign_key="fund.id")
    period: str = Field(max_length=7)
    expired_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    households: int
    transaction_id: uuid.UUID | None = None
    closed_by: str = Field(max_length=200)
    closed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
