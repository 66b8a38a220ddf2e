"""What the issuance endpoints take and return."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from ssa.types import PERIOD_PATTERN

Period = Annotated[str, Field(pattern=PERIOD_PATTERN, examples=["2026-11"])]


class IssuanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: Period
    dry_run: bool = False


class SkippedOut(BaseModel):
    household_id: str
    reason: str


class IssuanceOut(BaseModel):
    period: str
    dry_run: bool
    households_issued: int
    total_cents: int
    skipped: list[SkippedOut]
    transaction_id: str | None = None
    bank_cents: int
    owed_cents: int
    coverage_ok: bool


class CloseOut(BaseModel):
    period: str
    expired_cents: int
    households: int
    already_closed: bool
