"""What the funds API takes and returns; the policy's validation rules live here.

The contribution scale is a list of brackets on the household's monthly disposable
income per consumption unit (income − housing − fixed costs, divided by the OECD
units 1 / 0.5 / 0.3), in ascending order of `up_to_cents`; the last bracket has
`up_to_cents: null` (no upper bound). The recommended contribution per consumption
unit is `rate_percent` of that income, taken from the first bracket whose
`up_to_cents` is at or above it (a flat rate per bracket, not a marginal one), and
never below the policy's minimum.
"""

import uuid
from datetime import datetime
from itertools import pairwise
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from ssa.funds.models import ContributionMode, FirstPeriod, Rollover
from ssa.funds.presets import Preset
from ssa.types import PERIOD_PATTERN

Cents = Annotated[int, Field(ge=0, le=10**12)]
Count = Annotated[int, Field(ge=0, le=1000)]
Percent = Annotated[int, Field(ge=0, le=100)]
Period = Annotated[str, StringConstraints(pattern=PERIOD_PATTERN)]
Criterion = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$", max_length=64)
]
Criteria = Annotated[list[Criterion], Field(min_length=1, max_length=50)]
ChildAgeLimit = Annotated[int, Field(ge=0, le=25)]
VotingDays = Annotated[int, Field(ge=1, le=365)]

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]*[a-z0-9]$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScaleBracket(Strict):
    """Up to `up_to_cents` of disposable income per consumption unit (null: no bound)."""

    up_to_cents: Cents | None
    rate_percent: Percent


def _check_scale(brackets: list[ScaleBracket]) -> list[ScaleBracket]:
    bounds = [bracket.up_to_cents for bracket in brackets]
    if bounds[-1] is not None:
        raise ValueError("the last bracket of the scale has up_to_cents null (no upper bound)")
    finite = [bound for bound in bounds[:-1] if bound is not None]
    if len(finite) != len(bounds) - 1:
        raise ValueError("only the last bracket of the scale may have up_to_cents null")
    if any(b <= a for a, b in pairwise(finite)):
        raise ValueError("the brackets' up_to_cents must be strictly ascending")
    return brackets


Scale = Annotated[list[ScaleBracket], Field(min_length=1, max_length=20)]


class PolicyFields(Strict):
    """Every rule of a fund's policy (see PRODUCT.md, "Policy"); all required."""

    allowance_base_cents: Cents
    allowance_per_extra_person_cents: Cents
    allowance_per_child_cents: Cents
    child_age_limit: ChildAgeLimit
    contribution_mode: ContributionMode
    contribution_minimum_base_cents: Cents
    contribution_minimum_per_extra_person_cents: Cents
    contribution_scale: Scale
    contribution_grace_periods: Count
    first_period: FirstPeriod
    min_issuance_cents: Cents
    rollover: Rollover
    rollover_cap_cents: Cents
    dormancy_periods: Count
    require_coverage: bool
    quorum_percent: Percent
    approval_percent: Percent
    voting_days: VotingDays
    secret_ballot: bool
    accreditation_criteria: Criteria

    @model_validator(mode="after")
    def _scale_ordered(self) -> Self:
        _check_scale(self.contribution_scale)
        return self


class PolicyOverrides(Strict):
    """Some policy fields, laid over a preset when a fund is created."""

    allowance_base_cents: Cents | None = None
    allowance_per_extra_person_cents: Cents | None = None
    allowance_per_child_cents: Cents | None = None
    child_age_limit: ChildAgeLimit | None = None
    contribution_mode: ContributionMode | None = None
    contribution_minimum_base_cents: Cents | None = None
    contribution_minimum_per_extra_person_cents: Cents | None = None
    contribution_scale: Scale | None = None
    contribution_grace_periods: Count | None = None
    first_period: FirstPeriod | None = None
    min_issuance_cents: Cents | None = None
    rollover: Rollover | None = None
    rollover_cap_cents: Cents | None = None
    dormancy_periods: Count | None = None
    require_coverage: bool | None = None
    quorum_percent: Percent | None = None
    approval_percent: Percent | None = None
    voting_days: VotingDays | None = None
    secret_ballot: bool | None = None
    accreditation_criteria: Criteria | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        # Leave a field out to keep the preset's value; null is not a value of any rule.
        if isinstance(data, dict):
            nulls = sorted(str(key) for key, value in data.items() if value is None)
            if nulls:
                raise ValueError(f"null given for {', '.join(nulls)}: leave the field out instead")
        return data

    @model_validator(mode="after")
    def _scale_ordered(self) -> Self:
        if self.contribution_scale is not None:
            _check_scale(self.contribution_scale)
        return self

    def given(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)


class PolicyUpdate(PolicyFields):
    """A new policy version: every field, from `effective_period` on."""

    effective_period: Period


class PolicyOut(PolicyFields):
    """A policy version as read: what a PUT takes back unchanged (with another period)."""

    effective_period: str


class PolicyVersion(PolicyOut):
    """A version in the history, with when it was recorded."""

    created_at: datetime


class PolicyHistory(BaseModel):
    items: list[PolicyVersion]
    next_cursor: str | None


class FundCreate(Strict):
    slug: Annotated[str, StringConstraints(min_length=2, max_length=64, pattern=SLUG_PATTERN)]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    # Checked by the service with schwifty, to answer `invalid_iban` / `invalid_bic`.
    iban: Annotated[str, StringConstraints(max_length=64)]
    bic: Annotated[str, StringConstraints(max_length=32)] | None = None
    sepa_creditor_id: Annotated[str, StringConstraints(max_length=64)] | None = None
    preset: Preset = Preset.gironde
    policy: PolicyOverrides | None = None


class FundSummary(BaseModel):
    """What every authenticated caller may list: no bank details."""

    id: uuid.UUID
    slug: str
    name: str
    created_at: datetime


class FundOut(FundSummary):
    iban: str | None
    bic: str | None
    sepa_creditor_id: str | None
    policy: PolicyOut


class FundList(BaseModel):
    items: list[FundSummary]
    next_cursor: str | None
