"""assembly: proposals, voter rolls, secret ballots, committee draws

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29

Committees drawn by lot (with the roll and the seed that replay them), proposals on an
outlet's status with their voting rules fixed at the opening, the roll of each proposal
(which is also the register of who voted), and the anonymous ballots: no timestamp, no
sequence, random ids, a keyed token erased at the close (docs/assembly.md).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "committee_draw",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("fund_id", sa.Uuid(), nullable=False),
        sa.Column("seed", sa.String(length=200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("algorithm", sa.String(length=40), nullable=False),
        sa.Column("strata", sa.JSON(), nullable=False),
        sa.Column("drawn_on", sa.Date(), nullable=False),
        sa.Column("roll", sa.JSON(), nullable=False),
        sa.Column("roll_size", sa.Integer(), nullable=False),
        sa.Column("roll_sha256", sa.String(length=64), nullable=False),
        sa.Column("allocation", sa.JSON(), nullable=False),
        sa.Column("person_ids", sa.JSON(), nullable=False),
        sa.Column("in_force_fund_id", sa.Uuid(), nullable=True),
        sa.Column("drawn_by", sa.String(length=200), nullable=False),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.String(length=200), nullable=True),
        sa.CheckConstraint("size > 0 AND size <= roll_size", name=op.f("ck_committee_draw_size")),
        sa.CheckConstraint(
            "in_force_fund_id IS NULL OR in_force_fund_id = fund_id",
            name=op.f("ck_committee_draw_in_force"),
        ),
        sa.ForeignKeyConstraint(
            ["fund_id"], ["fund.id"], name=op.f("fk_committee_draw_fund_id_fund")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_committee_draw")),
        sa.UniqueConstraint("in_force_fund_id", name=op.f("uq_committee_draw_in_force_fund_id")),
    )
    with op.batch_alter_table("committee_draw", schema=None) as batch_op:
        batch_op.create_index("ix_committee_draw_fund_drawn", ["fund_id", "drawn_at"], unique=False)

    op.create_table(
        "proposal",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("fund_id", sa.Uuid(), nullable=False),
        sa.Column("outlet_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("open_outlet_id", sa.Uuid(), nullable=True),
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("roll", sa.String(length=10), nullable=False),
        sa.Column("committee_draw_id", sa.Uuid(), nullable=True),
        sa.Column("eligible_voters", sa.Integer(), nullable=False),
        sa.Column("quorum_percent", sa.Integer(), nullable=False),
        sa.Column("approval_percent", sa.Integer(), nullable=False),
        sa.Column("secret_ballot", sa.Boolean(), nullable=False),
        sa.Column("dossier", sa.JSON(), nullable=True),
        sa.Column("proposed_by", sa.String(length=200), nullable=False),
        sa.Column("result", sa.String(length=10), nullable=True),
        sa.Column("yes_count", sa.Integer(), nullable=True),
        sa.Column("no_count", sa.Integer(), nullable=True),
        sa.Column("abstain_count", sa.Integer(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=200), nullable=True),
        sa.Column("enacted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('accredit_outlet', 'suspend_outlet', 'revoke_outlet', 'reinstate_outlet')",
            name=op.f("ck_proposal_kind"),
        ),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_proposal_status")),
        sa.CheckConstraint(
            "result IS NULL OR result IN ('adopted', 'rejected', 'no_quorum')",
            name=op.f("ck_proposal_result"),
        ),
        sa.CheckConstraint("roll IN ('members', 'committee')", name=op.f("ck_proposal_roll")),
        sa.CheckConstraint(
            "(roll = 'committee' AND committee_draw_id IS NOT NULL)"
            " OR (roll = 'members' AND committee_draw_id IS NULL)",
            name=op.f("ck_proposal_committee"),
        ),
        sa.CheckConstraint("closes_at > opens_at", name=op.f("ck_proposal_window")),
        sa.CheckConstraint(
            "eligible_voters > 0 AND quorum_percent BETWEEN 0 AND 100"
            " AND approval_percent BETWEEN 0 AND 100",
            name=op.f("ck_proposal_rules"),
        ),
        sa.CheckConstraint(
            "(status = 'open' AND open_outlet_id = outlet_id AND result IS NULL"
            " AND closed_at IS NULL AND yes_count IS NULL AND no_count IS NULL"
            " AND abstain_count IS NULL AND enacted_at IS NULL)"
            " OR (status = 'closed' AND open_outlet_id IS NULL AND result IS NOT NULL"
            " AND closed_at IS NOT NULL AND yes_count >= 0 AND no_count >= 0"
            " AND abstain_count >= 0"
            " AND yes_count + no_count + abstain_count <= eligible_voters)",
            name=op.f("ck_proposal_state"),
        ),
        sa.CheckConstraint(
            "enacted_at IS NULL OR result = 'adopted'", name=op.f("ck_proposal_enacted")
        ),
        sa.ForeignKeyConstraint(["fund_id"], ["fund.id"], name=op.f("fk_proposal_fund_id_fund")),
        sa.ForeignKeyConstraint(
            ["outlet_id"], ["outlet.id"], name=op.f("fk_proposal_outlet_id_outlet")
        ),
        sa.ForeignKeyConstraint(
            ["committee_draw_id"],
            ["committee_draw.id"],
            name=op.f("fk_proposal_committee_draw_id_committee_draw"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposal")),
        sa.UniqueConstraint(
            "fund_id", "open_outlet_id", name=op.f("uq_proposal_fund_id_open_outlet_id")
        ),
    )
    with op.batch_alter_table("proposal", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_proposal_outlet_id"), ["outlet_id"], unique=False)
        batch_op.create_index("ix_proposal_fund_opens", ["fund_id", "opens_at"], unique=False)
        batch_op.create_index("ix_proposal_status_closes", ["status", "closes_at"], unique=False)

    op.create_table(
        "proposal_voter",
        sa.Column("proposal_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("has_voted", sa.Boolean(), nullable=False),
        sa.Column("open_choice", sa.String(length=7), nullable=True),
        sa.CheckConstraint(
            "open_choice IS NULL OR (has_voted AND open_choice IN ('yes', 'no', 'abstain'))",
            name=op.f("ck_proposal_voter_open_choice"),
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposal.id"], name=op.f("fk_proposal_voter_proposal_id_proposal")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_proposal_voter_person_id_person")
        ),
        sa.PrimaryKeyConstraint("proposal_id", "person_id", name=op.f("pk_proposal_voter")),
    )
    with op.batch_alter_table("proposal_voter", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_proposal_voter_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "ballot",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("proposal_id", sa.Uuid(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=True),
        sa.Column("choice", sa.String(length=7), nullable=True),
        sa.CheckConstraint(
            "choice IS NULL OR choice IN ('yes', 'no', 'abstain')", name=op.f("ck_ballot_choice")
        ),
        sa.CheckConstraint(
            "token IS NULL OR choice IS NOT NULL", name=op.f("ck_ballot_token_has_choice")
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposal.id"], name=op.f("fk_ballot_proposal_id_proposal")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ballot")),
        sa.UniqueConstraint("proposal_id", "token", name=op.f("uq_ballot_proposal_id_token")),
    )


def downgrade() -> None:
    op.drop_table("ballot")
    with op.batch_alter_table("proposal_voter", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proposal_voter_person_id"))

    op.drop_table("proposal_voter")
    with op.batch_alter_table("proposal", schema=None) as batch_op:
        batch_op.drop_index("ix_proposal_status_closes")
        batch_op.drop_index("ix_proposal_fund_opens")
        batch_op.drop_index(batch_op.f("ix_proposal_outlet_id"))

    op.drop_table("proposal")
    with op.batch_alter_table("committee_draw", schema=None) as batch_op:
        batch_op.drop_index("ix_committee_draw_fund_drawn")

    op.drop_table("committee_draw")
