"""What the outlet endpoints take and return."""

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ssa.outlets.models import OutletCategory, OutletStatus


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AddressIn(Strict):
    line1: Annotated[str, Field(min_length=1, max_length=200)]
    postcode: Annotated[str, Field(min_length=1, max_length=12)]
    city: Annotated[str, Field(min_length=1, max_length=100)]


class OutletIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    siret: Annotated[str, Field(min_length=1, max_length=40)]
    iban: Annotated[str, Field(min_length=1, max_length=50)]
    bic: Annotated[str, Field(max_length=20)] | None = None
    address: AddressIn
    category: OutletCategory
    latitude: Annotated[float, Field(ge=-90, le=90)] | None = None
    longitude: Annotated[float, Field(ge=-180, le=180)] | None = None


class OutletOut(BaseModel):
    id: uuid.UUID
    name: str
    siret: str
    iban: str
    bic: str | None
    address: AddressIn
    category: OutletCategory
    latitude: float | None
    longitude: float | None
    funds: list[dict[str, Any]]


class CriterionScore(Strict):
    score: Annotated[int, Field(ge=0, le=3)]
    note: Annotated[str, Field(max_length=1000)] = ""


class ApplicationIn(Strict):
    criteria: dict[str, CriterionScore]


# What an assembly's decision may set: an outlet becomes an applicant by applying.
DECISIONS = (OutletStatus.accredited, OutletStatus.suspended, OutletStatus.revoked)


def _a_decision(status: OutletStatus) -> OutletStatus:
    if status not in DECISIONS:
        raise ValueError("a decision accredits, suspends or revokes (outlets apply to join)")
    return status


class StatusIn(Strict):
    status: Annotated[
        OutletStatus,
        AfterValidator(_a_decision),
        Field(description="`accredited`, `suspended` or `revoked` (a decision of the assembly)"),
    ]
    decision_reference: Annotated[str, Field(min_length=1, max_length=200)]


class FundOutletOut(BaseModel):
    id: uuid.UUID
    name: str
    category: OutletCategory
    address: AddressIn
    latitude: float | None
    longitude: float | None
    status: OutletStatus
    criteria: dict[str, Any] | None = None


class FundOutletPage(BaseModel):
    items: list[FundOutletOut]
    next_cursor: str | None


class StatusChangeOut(BaseModel):
    id: uuid.UUID
    from_status: str | None
    to_status: str
    decision_reference: str | None
    proposal_id: uuid.UUID | None
    actor: str
    created_at: datetime


class StatusChangePage(BaseModel):
    items: list[StatusChangeOut]
    next_cursor: str | None


class StaffIn(Strict):
    user_id: uuid.UUID
    role: Annotated[str, Field(pattern="^(manager|cashier)$")]


class StaffOut(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    role: str
    outlet_id: uuid.UUID


class TerminalIn(Strict):
    label: Annotated[str, Field(min_length=1, max_length=200)]


class TerminalOut(BaseModel):
    client_id: str
    # Shown once: null when the answer is replayed for the same Idempotency-Key.
    client_secret: str | None
    label: str
    outlet_id: uuid.UUID
