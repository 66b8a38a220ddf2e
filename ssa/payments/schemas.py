"""What the payment endpoints take and return."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Amount = Annotated[
    int, Field(gt=0, le=1_000_000, strict=True, description="cents, at most 10 000 EUR")
]


REFUND_REASON_LENGTH = 300  # characters


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PaymentIn(Strict):
    member_number: Annotated[str, Field(min_length=1, max_length=40)]
    amount_cents: Amount
    pin: Annotated[str, Field(pattern=r"^[0-9]{4}$", description="the member's four digits")]
    reference: Annotated[str, Field(max_length=100)] | None = None
    outlet_id: uuid.UUID | None = None


class PaymentOut(BaseModel):
    id: uuid.UUID
    outlet_id: uuid.UUID
    fund_id: uuid.UUID
    amount_cents: int
    remaining_cents: int
    reference: str | None = None
    created_at: datetime


class RefundIn(Strict):
    amount_cents: Amount
    reason: Annotated[str, Field(min_length=1, max_length=REFUND_REASON_LENGTH)]


class RefundOut(BaseModel):
    id: uuid.UUID
    payment_id: uuid.UUID
    amount_cents: int
    reason: str
    created_at: datetime


class OutletPaymentOut(BaseModel):
    """What an outlet sees of a payment: never who paid, nor their balance."""

    id: uuid.UUID
    fund_id: uuid.UUID
    amount_cents: int
    refunded_cents: int
    reference: str | None
    created_at: datetime


class OutletPaymentPage(BaseModel):
    items: list[OutletPaymentOut]
    next_cursor: str | None


class BalanceOut(BaseModel):
    outlet_id: uuid.UUID
    fund_id: uuid.UUID
    payable_cents: int
