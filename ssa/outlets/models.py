"""Outlets, their status in each fund (with its history)."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, Float, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from ssa.db import metadata as _metadata  # noqa: F401 (naming convention first)
from ssa.timeutil import utcnow
from ssa.types import UTCDateTime


class OutletCategory(StrEnum):
    farm_shop = "farm_shop"
    market_stall = "market_stall"
    cooperative = "cooperative"
    grocer = "grocer"
    bakery = "bakery"
    butcher = "butcher"
    fishmonger = "fishmonger"
    restaurant = "restaurant"
    other = "other"


class OutletStatus(StrEnum):
    applicant = "applicant"
    accredited = "accredited"
    suspended = "suspended"
    revoked = "revoked"


def _sql_list(values: type[StrEnum]) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


class Outlet(SQLModel, table=True):
    """A place that sells food: a business, identified by its SIRET."""

    __tablename__ = "outlet"
    __table_args__ = (
        CheckConstraint(f"category IN ({_sql_list(OutletCategory)})", name="category"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=200)
    siret: str = Field(max_length=14, unique=True)
    iban: str = Field(max_length=34)
    bic: str | None = Field(default=None, max_length=11)
    address_line1: str = Field(max_length=200)
    postcode: str = Field(max_length=12)
    city: str = Field(max_length=100)
    category: OutletCategory = Field(sa_type=String(20))
    latitude: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    longitude: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OutletFund(SQLModel, table=True):
    """An outlet's standing in one fund, its application file and its payable account."""

    __tablename__ = "outlet_fund"
    __table_args__ = (
        UniqueConstraint("outlet_id", "fund_id"),
        CheckConstraint(f"status IN ({_sql_list(OutletStatus)})", name="status"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    outlet_id: uuid.UUID = Field(foreign_key="outlet.id", index=True)
    fund_id: uuid.UUID = Field(foreign_key="fund.id", index=True)
    status: OutletStatus = Field(sa_type=String(12))
    payable_account_id: uuid.UUID = Field(foreign_key="ledger_account.id", unique=True)
    # The application file: {"<criterion>": {"score": 0..3, "note": "..."}}.
    criteria: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OutletStatusChange(SQLModel, table=True):
    """Every change of an outlet's status in a fund, and the decision behind it."""

    __tablename__ = "outlet_status_change"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    outlet_id: uuid.UUID = Field(foreign_key="outlet.id", index=True)
    fund_id: uuid.UUID = Field(foreign_key="fund.id")
    from_status: str | None = Field(default=None, max_length=12)
    to_status: str = Field(max_length=12)
    decision_reference: str | None = Field(default=None, max_length=200)
    proposal_id: uuid.UUID | None = Field(default=None, foreign_key="proposal.id")
    actor: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
