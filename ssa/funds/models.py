"""The fund table and its policy, versioned by period."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Column, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from ssa.db import metadata as _metadata  # noqa: F401 (naming convention first)
from ssa.timeutil import utcnow
from ssa.types import UTCDateTime


class Fund(SQLModel, table=True):
    """One local fund; every fund-scoped row carries its id, so funds can be sharded."""

    __tablename__ = "fund"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    slug: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    # The account members pay their contributions to, in compact form. NULL only for
    # funds created before bank details were recorded (migration 0003); the API and
    # the CLI require one.
    iban: str | None = Field(default=None, max_length=34)
    bic: str | None = Field(default=None, max_length=11)
    # SEPA creditor identifier, for direct debits of contributions (later).
    sepa_creditor_id: str | None = Field(default=None, max_length=35)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ContributionMode(StrEnum):
    self_determined = "self_determined"  # any amount at or above the minimum
    scale = "scale"  # the amount the scale recommends


class FirstPeriod(StrEnum):
    full = "full"
    prorata = "prorata"  # by the days left in the month


class Rollover(StrEnum):
    full = "full"
    none = "none"  # unspent credits return to the fund when the period closes
    capped = "capped"  # credits above rollover_cap_cents return


def _sql_list(values: type[StrEnum]) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


_NON_NEGATIVE = (
    "allowance_base_cents",
    "allowance_per_extra_person_cents",
    "allowance_per_child_cents",
    "contribution_minimum_base_cents",
    "contribution_minimum_per_extra_person_cents",
    "contribution_grace_periods",
    "min_issuance_cents",
    "rollover_cap_cents",
    "dormancy_periods",
)


class FundPolicy(SQLModel, table=True):
    """A fund's rules from `effective_period` ('YYYY-MM') until the next version.

    The rules in force for a period are those of the greatest `effective_period` not
    after it (the earliest version when all are later). Amounts are integer cents.
    """

    __tablename__ = "fund_policy"
    __table_args__ = (
        UniqueConstraint("fund_id", "effective_period"),
        CheckConstraint(f"contribution_mode IN ({_sql_list(ContributionMode)})", name="mode"),
        CheckConstraint(f"first_period IN ({_sql_list(FirstPeriod)})", name="first_period"),
        CheckConstraint(f"rollover IN ({_sql_list(Rollover)})", name="rollover"),
        CheckConstraint(
            " AND ".join(f"{column} >= 0" for column in _NON_NEGATIVE), name="non_negative"
        ),
        CheckConstraint(
            "quorum_percent BETWEEN 0 AND 100 AND approval_percent BETWEEN 0 AND 100",
            name="percentages",
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    fund_id: uuid.UUID = Field(foreign_key="fund.id", index=True)
    effective_period: str = Field(max_length=7)
    allowance_base_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    allowance_per_extra_person_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    allowance_per_child_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    child_age_limit: int
    contribution_mode: ContributionMode = Field(sa_type=String(20))
    contribution_minimum_base_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    contribution_minimum_per_extra_person_cents: int = Field(
        sa_column=Column(BigInteger, nullable=False)
    )
    # [{"up_to_cents": int | null, "rate_percent": int}, ...]: see schemas.ScaleBracket.
    contribution_scale: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    contribution_grace_periods: int
    first_period: FirstPeriod = Field(sa_type=String(10))
    min_issuance_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    rollover: Rollover = Field(sa_type=String(10))
    rollover_cap_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    dormancy_periods: int
    require_coverage: bool
    quorum_percent: int
    approval_percent: int
    voting_days: int
    secret_ballot: bool
    accreditation_criteria: list[str] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: str = Field(max_length=200)  # "user:<id>", "system"...
