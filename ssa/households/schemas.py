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

from ssa.funds.service import fund_today
from ssa.households.models import (
    ContributionMethod,
    DirectDebitRunStatus,
    HouseholdStatus,
    MandateStatus,
    ReturnReason,
)
from ssa.households.sepa import sepa_text
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
        if value.year < 1900 or value > fund_today():
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
    amount_cents: int  # negative for a correction
    method: ContributionMethod
    received_on: date
    transaction_id: uuid.UUID
    corrects_id: uuid.UUID | None = None  # the contribution this one corrects
    correction_reason: str | None = None


class ContributionRecordOut(ContributionOut):
    corrected: bool  # a correction undid it


class ContributionRecordPage(BaseModel):
    items: list[ContributionRecordOut]


class ContributionCorrectionIn(Strict):
    """Why the contribution was recorded by mistake (kept in the books and the audit log)
    and, if the euros were received all the same, the contribution it should have been
    (another household, period or amount): recorded in the same transaction."""

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    replacement: ContributionIn | None = None


class ContributionCorrectionOut(ContributionOut):
    replacement: ContributionOut | None = None


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

    @classmethod
    def of(cls, grant: GrantIn, transaction_id: uuid.UUID) -> "GrantOut":
        """The answer for a grant recorded as `transaction_id`."""
        return cls(
            transaction_id=transaction_id,
            funder=grant.funder.strip(),
            amount_cents=grant.amount_cents,
            received_on=grant.received_on,
            reference=grant.reference,
        )


# A SEPA identifier (mandate reference): the EPC's Latin character set without the
# space, neither starting nor ending with '/', and no '//' (EPC Implementation Guidelines).
MANDATE_REFERENCE_PATTERN = r"^[A-Za-z0-9+?/:().,'-]{1,35}$"


class MandateIn(Strict):
    debtor_name: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=70),
        Field(description="the account holder, as the bank knows them"),
    ]
    iban: Annotated[
        str, Field(min_length=1, max_length=50, examples=["FR7630006000011234567890189"])
    ]
    bic: Annotated[str, Field(min_length=1, max_length=20)] | None = None
    reference: (
        Annotated[
            str,
            Field(
                pattern=MANDATE_REFERENCE_PATTERN,
                description="the unique mandate reference; made from the member number if absent",
            ),
        ]
        | None
    ) = None
    signed_on: date

    @field_validator("debtor_name")
    @classmethod
    def _sepa_name(cls, value: str) -> str:
        # Kept as the file will carry it: the EPC's basic Latin set (accents transliterated).
        name = sepa_text(value)
        if not name:
            raise ValueError(
                "a name with Latin letters or digits (the bank's file carries nothing else)"
            )
        return name

    @field_validator("signed_on")
    @classmethod
    def _plausible(cls, value: date) -> date:
        # SEPA direct debit started in November 2009; a signature is not in the future.
        if value < date(2009, 11, 1) or value > fund_today():
            raise ValueError("a signature date between November 2009 and today")
        return value

    @field_validator("reference")
    @classmethod
    def _slashes(cls, value: str | None) -> str | None:
        if value is not None and (value.startswith("/") or value.endswith("/") or "//" in value):
            raise ValueError("a reference neither starts nor ends with '/' nor has '//'")
        return value


class MandateOut(BaseModel):
    id: uuid.UUID
    household_id: uuid.UUID
    reference: str
    debtor_name: str
    iban: str
    bic: str | None
    signed_on: date
    status: MandateStatus
    created_at: str
    revoked_at: str | None = None
    next_sequence_type: str | None = Field(
        default=None,
        description="FRST or RCUR: how the next collection under an active mandate is sent",
    )


class MandatePage(BaseModel):
    items: list[MandateOut]
    next_cursor: str | None


class DirectDebitRunLineOut(BaseModel):
    household_id: uuid.UUID
    member_number: str
    mandate_reference: str
    amount_cents: int
    sequence_type: str
    end_to_end_id: str
    returned_at: str | None = None  # when the bank's return was recorded
    return_reason: ReturnReason | None = None


class DirectDebitReturnIn(Strict):
    """A debit of the run that the bank returned, with the reason code of its notice."""

    household_id: uuid.UUID
    reason: ReturnReason


class DirectDebitRunOut(BaseModel):
    """A direct-debit file produced (no IBAN: the mandates hold them)."""

    id: uuid.UUID
    fund_id: uuid.UUID
    period: str
    message_id: str
    collection_date: date
    status: DirectDebitRunStatus
    created_at: str
    created_by: str
    cancelled_at: str | None
    cancelled_by: str | None
    total_cents: int
    returned_cents: int = 0  # of total_cents, returned by the bank
    lines: list[DirectDebitRunLineOut]


class DirectDebitRunPage(BaseModel):
    items: list[DirectDebitRunOut]
    next_cursor: str | None
