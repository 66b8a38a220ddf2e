"""What the assembly endpoints take and return. Nothing here ever says how a person voted
on a secret ballot; tallies are null while a proposal is open."""

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from ssa.assembly.models import Choice, ProposalKind, ProposalResult, ProposalStatus, RollSource

STRATA = ("income_band", "household_size")
Stratum = Literal["income_band", "household_size"]
# Printable text only: a seed is published and typed again by whoever replays the draw.
Seed = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProposalIn(Strict):
    kind: ProposalKind
    outlet_id: uuid.UUID
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=5000)] | None = None
    closes_at: Annotated[
        AwareDatetime | None,
        Field(description="End of the vote (default: the policy's `voting_days` from now)"),
    ] = None


class VoteIn(Strict):
    choice: Choice


class Tally(BaseModel):
    yes: int
    no: int
    abstain: int


class DossierLine(BaseModel):
    criterion: str
    score: int | None
    note: str


class Dossier(BaseModel):
    """The outlet's application file on the fund's criteria, as it was at the opening."""

    criteria: list[DossierLine]
    score_total: int
    score_max: int


class ProposalOut(BaseModel):
    id: uuid.UUID
    fund_id: uuid.UUID
    kind: ProposalKind
    outlet_id: uuid.UUID
    outlet_name: str
    title: str
    description: str | None
    status: ProposalStatus
    opens_at: datetime
    closes_at: datetime
    eligible_voters: int = Field(description="The roll's size, fixed at the opening")
    votes_cast: int = Field(description="How many voters voted (abstentions included)")
    turnout_percent: float
    quorum_percent: int
    approval_percent: int
    secret_ballot: bool
    roll: RollSource
    committee_draw_id: uuid.UUID | None
    dossier: Dossier | None
    proposed_by: str
    result: ProposalResult | None
    tally: Tally | None = Field(description="Null while the proposal is open")
    enacted: bool = Field(description="An adopted proposal changed the outlet's status")
    enacted_at: datetime | None
    closed_at: datetime | None
    closed_by: str | None
    on_roll: bool = Field(description="Whether the caller may vote on it")
    has_voted: bool = Field(description="Whether the caller voted (never what)")
    my_vote: Choice | None = Field(
        default=None, description="The caller's vote, only when the ballot is not secret"
    )


class ProposalPage(BaseModel):
    items: list[ProposalOut]
    next_cursor: str | None


class VoteOut(BaseModel):
    proposal_id: uuid.UUID
    recorded: bool
    replaced: bool = Field(description="This vote replaced the caller's earlier one")
    closes_at: datetime


class CommitteeDrawIn(Strict):
    size: Annotated[int, Field(ge=1, le=10_000)]
    seed: Seed
    strata: Annotated[
        list[Stratum] | None,
        Field(
            max_length=2,
            description="What to stratify by (default both); [] for a simple random draw",
        ),
    ] = None
    in_force: bool = Field(
        default=True,
        description="The fund works with this committee from now on (ends the previous one)",
    )


class SeatsOut(BaseModel):
    stratum: str
    roll: int
    seats: int


class CommitteeDrawOut(BaseModel):
    id: uuid.UUID
    fund_id: uuid.UUID
    seed: str
    size: int
    algorithm: str
    strata: list[str]
    drawn_on: date
    roll_size: int
    roll_sha256: str
    allocation: list[SeatsOut]
    person_ids: list[str]
    in_force: bool
    drawn_by: str
    drawn_at: datetime
    ended_at: datetime | None


class CommitteeDrawPage(BaseModel):
    items: list[CommitteeDrawOut]
    next_cursor: str | None


class RollEntry(BaseModel):
    person_id: str
    stratum: str


class CommitteeRollOut(BaseModel):
    """Everything needed to replay the draw: the seed, the size and the roll."""

    draw_id: uuid.UUID
    algorithm: str
    seed: str
    size: int
    roll_sha256: str
    roll: list[RollEntry]
