"""What the payout endpoints take and return."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from ssa.payouts.models import PayoutStatus
from ssa.payouts.service import PayoutWithLines


class PayoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    minimum_cents: Annotated[
        int,
        Field(
            ge=0,
            le=100_000_000,
            description="cents; outlets owed less are left for a later batch",
        ),
    ] = 0


class PayoutLineOut(BaseModel):
    outlet_id: uuid.UUID
    amount_cents: int
    iban: str
    bic: str | None
    name: str


class PayoutOut(BaseModel):
    id: uuid.UUID
    fund_id: uuid.UUID
    status: PayoutStatus
    total_cents: int
    minimum_cents: int
    lines: list[PayoutLineOut]
    created_by: str
    created_at: datetime
    confirmed_at: datetime | None
    cancelled_at: datetime | None

    @classmethod
    def of(cls, found: PayoutWithLines) -> "PayoutOut":
        payout = found.payout
        return cls(
            id=payout.id,
            fund_id=payout.fund_id,
            status=payout.status,
            total_cents=payout.total_cents,
            minimum_cents=payout.minimum_cents,
            lines=[PayoutLineOut.model_validate(x, from_attributes=True) for x in found.lines],
            created_by=payout.created_by,
            created_at=payout.created_at,
            confirmed_at=payout.confirmed_at,
            cancelled_at=payout.cancelled_at,
        )


class PayoutPage(BaseModel):
    items: list[PayoutOut]
    next_cursor: str | None
