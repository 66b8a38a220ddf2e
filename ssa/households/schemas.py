"""What the household endpoints take and return."""

import uuid
from datetime import date
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
)

from ssa.households.models import ContributionMethod, HouseholdStatus
from ssa.types import PERIOD_PATTERN

Cents = Annotated[int, Field(ge=0, le=100_000_000_00)]
Period = Annotated[str, Field(pattern=PERIOD_PATTERN, examples=["2026-11"])]
Name = Annotated[str, Field(min_length=1, max_length=100)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PersonIn(Strict):
    id: uuid.UUID | None = None  # in a PATCH: an existing person to keep
    given_name: Name
    family_name: Name
    birth_date: date
    email: EmailStr | None = None

    @field_validator("birth_date")
    @classmethod
    def _plausible(cls, value: date) -> date:
        if value.year < 1900 or value > date.today():
            raise ValueError("a birth date between 1900 and today")
        return value


class AddressIn(Strict):
    line1: Annotated[str, Field(min_length=1, max_length=200)]
    postcode: Annotated[str, Field(min_length=1, max_length=12)]
    city: Annotated[str, Field(min_length=1, max_length=100)]


class DeclaredIn(Strict):
    monthly_income_cents: Cents
    housing_costs_cents: Cents
    other_fixed_costs_cents: Cents
    food_budget_cents: Cents


class HouseholdIn(Strict):
    persons: Annotated[list[PersonIn], Field(min_length=1, max_length=20)]
    address: AddressIn
    declared: DeclaredIn
    chosen_contribution_cents: Cents


class HouseholdPatch(Strict):
    persons: Annotated[list[PersonIn], Field(min_length=1, max_length=20)] | None = None
    address: AddressIn | None = None
    declared: DeclaredIn | None = None
    chosen_contribution_cents: Cents | None = None
    status: HouseholdStatus | None = None


class PersonOut(BaseModel):
    id: uuid.UUID
    given_name: str
    family_name: str
    birth_date: date
    email: str | None = None
    user_id: uuid.UUID | None = None
    invitation_token: str | None = None


class AllowanceLineOut(BaseModel):
    person_id: uuid.UUID
    share: str
    cents: int
    child_cents: int


class HouseholdOut(BaseModel):
    id: uuid.UUID
    fund_id: uuid.UUID
    member_number: str
    status: HouseholdStatus
    allowance_cents: int
    allowance_period: str
    allowance_explained: list[AllowanceLineOut]
    contribution_minimum_cents: int
    contribution_recommended_cents: int
    chosen_contribution_cents: int
    address: AddressIn
    declared: DeclaredIn
    persons: list[PersonOut]
    pin_set: bool
    pin_locked_until: str | None = None


class HouseholdSummaryOut(BaseModel):
    id: uuid.UUID
    member_number: str
    status: HouseholdStatus
    persons: int
    family_names: list[str]


class HouseholdPage(BaseModel):
    items: list[HouseholdSummaryOut]
    next_cursor: str | None


class PinIn(Strict):
    pin: Annotated[str, Field(pattern=r"^[0-9]{4}$", description="four digits")]


class AccountOut(BaseModel):
    balance_cents: int
    allowance_cents: int
    period: str
    issued_cents: int
    spent_cents: int


class TransactionOut(BaseModel):
    id: uuid.UUID
    kind: str
    amount_cents: int
    outlet_name: str | None = None
    period: str | None = None
    created_at: str


class TransactionPage(BaseModel):
    items: list[TransactionOut]
    next_cursor: str | None


class ContributionIn(Strict):
    household_id: uuid.UUID
    period: Period
    amount_cents: Annotated[int, Field(gt=0, le=100_000_00)]
    method: ContributionMethod
    received_on: date


class ContributionOut(BaseModel):
    id: uuid.UUID
    household_id: uuid.UUID
    period: str
    amount_cents: int
    method: ContributionMethod
    received_on: date
    transaction_id: uuid.UUID


class ContributionStatusOut(BaseModel):
    household_id: uuid.UUID
    member_number: str
    period: str
    due_cents: int
    paid_cents: int
    status: str  # paid | due | late | waived


class ContributionStatusPage(BaseModel):
    items: list[ContributionStatusOut]
    next_cursor: str | None


class WaiverIn(Strict):
    household_id: uuid.UUID
    period: Period
    reason: Annotated[str, Field(min_length=3, max_length=500)]


class WaiverOut(BaseModel):
    id: uuid.UUID
    household_id: uuid.UUID
    period: str
    reason: str


class GrantIn(Strict):
    funder: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)]
    amount_cents: Annotated[int, Field(gt=0, le=100_000_000_00)]
    received_on: date
    reference: Annotated[str, Field(max_length=200)] | None = None


class GrantOut(BaseModel):
    transaction_id: uuid.UUID
    funder: str
    amount_cents: int
    received_on: date
    reference: str | None
