"""Proposals, their roll of voters, the anonymous ballots, and committees drawn by lot.

How a secret ballot is kept secret is told in docs/assembly.md: the roll says who voted,
the ballots say what was voted, and nothing but a keyed token (erased at the close) links
the two. Ballots carry no timestamp and no sequence on purpose.
"""

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from ssa.db import metadata as _metadata  # noqa: F401 (naming convention first)
from ssa.timeutil import utcnow
from ssa.types import UTCDateTime


class ProposalKind(StrEnum):
    accredit_outlet = "accredit_outlet"
    suspend_outlet = "suspend_outlet"
    revoke_outlet = "revoke_outlet"
    reinstate_outlet = "reinstate_outlet"


class ProposalStatus(StrEnum):
    open = "open"
    closed = "closed"


class ProposalResult(StrEnum):
    adopted = "adopted"
    rejected = "rejected"
    no_quorum = "no_quorum"


class Choice(StrEnum):
    yes = "yes"
    no = "no"
    abstain = "abstain"


class RollSource(StrEnum):
    members = "members"  # the adults of the fund's active households
    committee = "committee"  # the committee drawn by lot that was in force


def _sql_list(values: type[StrEnum]) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


class CommitteeDraw(SQLModel, table=True):
    """A committee drawn by lot, with everything needed to replay the draw.

    While `in_force_fund_id` is set (to the fund), the fund works with this committee:
    proposals opened then have its members, not all adults, as their roll.
    """

    __tablename__ = "committee_draw"
    __table_args__ = (
        CheckConstraint("size > 0 AND size <= roll_size", name="size"),
        CheckConstraint("in_force_fund_id IS NULL OR in_force_fund_id = fund_id", name="in_force"),
        UniqueConstraint("in_force_fund_id"),
        Index("ix_committee_draw_fund_drawn", "fund_id", "drawn_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    fund_id: uuid.UUID = Field(foreign_key="fund.id")
    seed: str = Field(max_length=200)
    size: int
    algorithm: str = Field(max_length=40)
    # The stratification: which of "income_band", "household_size" (in that order).
    strata: list[str] = Field(sa_column=Column(JSON, nullable=False))
    # The day ages were reckoned on (the fund's calendar).
    drawn_on: date
    # The roll: [[person_id, stratum], ...] sorted by person id, and its SHA-256.
    roll: list[list[str]] = Field(sa_column=Column(JSON, nullable=False))
    roll_size: int
    roll_sha256: str = Field(max_length=64)
    # [{"stratum", "roll", "seats"}, ...] by stratum.
    allocation: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    person_ids: list[str] = Field(sa_column=Column(JSON, nullable=False))
    in_force_fund_id: uuid.UUID | None = None
    drawn_by: str = Field(max_length=200)
    drawn_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_by: str | None = Field(default=None, max_length=200)


class Proposal(SQLModel, table=True):
    """A proposal to change an outlet's status in a fund, put to the assembly's vote.

    The roll, the voting rules (quorum, approval, secrecy) and the dossier are fixed when
    it opens; the tally and the result are written once, when it closes. While it is
    open, `open_outlet_id` holds the outlet: one open proposal per outlet and fund.
    """

    __tablename__ = "proposal"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_sql_list(ProposalKind)})", name="kind"),
        CheckConstraint(f"status IN ({_sql_list(ProposalStatus)})", name="status"),
        CheckConstraint(
            f"result IS NULL OR result IN ({_sql_list(ProposalResult)})", name="result"
        ),
        CheckConstraint(f"roll IN ({_sql_list(RollSource)})", name="roll"),
        CheckConstraint(
            "(roll = 'committee' AND committee_draw_id IS NOT NULL)"
            " OR (roll = 'members' AND committee_draw_id IS NULL)",
            name="committee",
        ),
        CheckConstraint("closes_at > opens_at", name="window"),
        CheckConstraint(
            "eligible_voters > 0 AND quorum_percent BETWEEN 0 AND 100"
            " AND approval_percent BETWEEN 0 AND 100",
            name="rules",
        ),
        CheckConstraint(
            "(status = 'open' AND open_outlet_id = outlet_id AND result IS NULL"
            " AND closed_at IS NULL AND yes_count IS NULL AND no_count IS NULL"
            " AND abstain_count IS NULL AND enacted_at IS NULL)"
            " OR (status = 'closed' AND open_outlet_id IS NULL AND result IS NOT NULL"
            " AND closed_at IS NOT NULL AND yes_count >= 0 AND no_count >= 0"
            " AND abstain_count >= 0"
            " AND yes_count + no_count + abstain_count <= eligible_voters)",
            name="state",
        ),
        CheckConstraint("enacted_at IS NULL OR result = 'adopted'", name="enacted"),
        UniqueConstraint("fund_id", "open_outlet_id"),
        Index("ix_proposal_fund_opens", "fund_id", "opens_at"),
        Index("ix_proposal_status_closes", "status", "closes_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    fund_id: uuid.UUID = Field(foreign_key="fund.id")
    outlet_id: uuid.UUID = Field(foreign_key="outlet.id", index=True)
    kind: ProposalKind = Field(sa_type=String(20))
    title: str = Field(max_length=200)
    description: str | None = Field(default=None, sa_type=Text)
    status: ProposalStatus = Field(default=ProposalStatus.open, sa_type=String(10))
    open_outlet_id: uuid.UUID | None = None
    opens_at: datetime = Field(sa_type=UTCDateTime)
    closes_at: datetime = Field(sa_type=UTCDateTime)
    roll: RollSource = Field(sa_type=String(10))
    committee_draw_id: uuid.UUID | None = Field(default=None, foreign_key="committee_draw.id")
    eligible_voters: int
    quorum_percent: int
    approval_percent: int
    secret_ballot: bool
    # The outlet's application file scored on the fund's criteria, as it was at the opening.
    dossier: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    proposed_by: str = Field(max_length=200)
    result: ProposalResult | None = Field(default=None, sa_type=String(10))
    yes_count: int | None = None
    no_count: int | None = None
    abstain_count: int | None = None
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_by: str | None = Field(default=None, max_length=200)
    # When an adopted proposal changed the outlet's status (in the closing transaction).
    enacted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ProposalVoter(SQLModel, table=True):
    """The roll of a proposal, fixed at its opening, and the register of who voted.

    `open_choice` is kept only when the ballot is not secret.
    """

    __tablename__ = "proposal_voter"
    __table_args__ = (
        CheckConstraint(
            f"open_choice IS NULL OR (has_voted AND open_choice IN ({_sql_list(Choice)}))",
            name="open_choice",
        ),
    )

    proposal_id: uuid.UUID = Field(foreign_key="proposal.id", primary_key=True)
    person_id: uuid.UUID = Field(foreign_key="person.id", primary_key=True, index=True)
    has_voted: bool = False
    open_choice: str | None = Field(default=None, max_length=7)


class Ballot(SQLModel, table=True):
    """One cast ballot, anonymous: a random id, the choice, and `token` (a keyed hash of
    the proposal and the voter, erased at the close) that finds it again when the vote is
    changed. No timestamp, no sequence; every vote re-creates the proposal's ballots in a
    random order with new ids (ssa/assembly/ballots.py, docs/assembly.md).
    """

    __tablename__ = "ballot"
    __table_args__ = (
        CheckConstraint(f"choice IS NULL OR choice IN ({_sql_list(Choice)})", name="choice"),
        CheckConstraint("token IS NULL OR choice IS NOT NULL", name="token_has_choice"),
        UniqueConstraint("proposal_id", "token"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    proposal_id: uuid.UUID = Field(foreign_key="proposal.id")
    token: str | None = Field(default=None, max_length=64)
    choice: str | None = Field(default=None, max_length=7)
