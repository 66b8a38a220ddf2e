"""fund bank details, fund policy versions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

Funds get their IBAN, BIC and SEPA creditor identifier (NULL for funds created
before: the API requires an IBAN for new ones). `fund_policy` keeps one version of
a fund's rules per effective period; existing funds get the Gironde defaults from
the month of the upgrade, so that every fund has a policy.
"""

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NON_NEGATIVE = (
    "allowance_base_cents",
    "allowance_per_extra_person_cents",
    "allowance_per_child_cents",
    "contribution_minimum_base_cents",
    "contribution_minimum_per_extra_person_cents",
    "contribution_grace_periods",
    "min_issuance_cents",
    "rollover_cap_cents",
    "dormancy_periods",
)

# The Gironde defaults as of this revision (a migration does not import the app's presets,
# which may change later).
GIRONDE = {
    "allowance_base_cents": 15000,
    "allowance_per_extra_person_cents": 7500,
    "allowance_per_child_cents": 0,
    "child_age_limit": 14,
    "contribution_mode": "self_determined",
    "contribution_minimum_base_cents": 1000,
    "contribution_minimum_per_extra_person_cents": 500,
    "contribution_scale": [
        {"up_to_cents": 60000, "rate_percent": 2},
        {"up_to_cents": 100000, "rate_percent": 4},
        {"up_to_cents": 150000, "rate_percent": 6},
        {"up_to_cents": None, "rate_percent": 8},
    ],
    "contribution_grace_periods": 1,
    "first_period": "full",
    "min_issuance_cents": 1000,
    "rollover": "full",
    "rollover_cap_cents": 15000,
    "dormancy_periods": 3,
    "require_coverage": True,
    "quorum_percent": 20,
    "approval_percent": 50,
    "voting_days": 14,
    "secret_ballot": True,
    "accreditation_criteria": [
        "accessibility",
        "working_conditions",
        "local_origin",
        "price_transparency",
        "sustainable_practices",
    ],
}


def upgrade() -> None:
    with op.batch_alter_table("fund", schema=None) as batch_op:
        batch_op.add_column(sa.Column("iban", sa.String(length=34), nullable=True))
        batch_op.add_column(sa.Column("bic", sa.String(length=11), nullable=True))
        batch_op.add_column(sa.Column("sepa_creditor_id", sa.String(length=35), nullable=True))

    fund_policy = op.create_table(
        "fund_policy",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("fund_id", sa.Uuid(), nullable=False),
        sa.Column("effective_period", sa.String(length=7), nullable=False),
        sa.Column("allowance_base_cents", sa.BigInteger(), nullable=False),
        sa.Column("allowance_per_extra_person_cents", sa.BigInteger(), nullable=False),
        sa.Column("allowance_per_child_cents", sa.BigInteger(), nullable=False),
        sa.Column("child_age_limit", sa.Integer(), nullable=False),
        sa.Column("contribution_mode", sa.String(length=20), nullable=False),
        sa.Column("contribution_minimum_base_cents", sa.BigInteger(), nullable=False),
        sa.Column("contribution_minimum_per_extra_person_cents", sa.BigInteger(), nullable=False),
        sa.Column("contribution_scale", sa.JSON(), nullable=False),
        sa.Column("contribution_grace_periods", sa.Integer(), nullable=False),
        sa.Column("first_period", sa.String(length=10), nullable=False),
        sa.Column("min_issuance_cents", sa.BigInteger(), nullable=False),
        sa.Column("rollover", sa.String(length=10), nullable=False),
        sa.Column("rollover_cap_cents", sa.BigInteger(), nullable=False),
        sa.Column("dormancy_periods", sa.Integer(), nullable=False),
        sa.Column("require_coverage", sa.Boolean(), nullable=False),
        sa.Column("quorum_percent", sa.Integer(), nullable=False),
        sa.Column("approval_percent", sa.Integer(), nullable=False),
        sa.Column("voting_days", sa.Integer(), nullable=False),
        sa.Column("secret_ballot", sa.Boolean(), nullable=False),
        sa.Column("accreditation_criteria", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.CheckConstraint(
            "contribution_mode IN ('self_determined', 'scale')", name=op.f("ck_fund_policy_mode")
        ),
        sa.CheckConstraint(
            "first_period IN ('full', 'prorata')", name=op.f("ck_fund_policy_first_period")
        ),
        sa.CheckConstraint(
            "rollover IN ('full', 'none', 'capped')", name=op.f("ck_fund_policy_rollover")
        ),
        sa.CheckConstraint(
            " AND ".join(f"{column} >= 0" for column in NON_NEGATIVE),
            name=op.f("ck_fund_policy_non_negative"),
        ),
        sa.CheckConstraint(
            "quorum_percent BETWEEN 0 AND 100 AND approval_percent BETWEEN 0 AND 100",
            name=op.f("ck_fund_policy_percentages"),
        ),
        sa.ForeignKeyConstraint(["fund_id"], ["fund.id"], name=op.f("fk_fund_policy_fund_id_fund")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fund_policy")),
        sa.UniqueConstraint(
            "fund_id", "effective_period", name=op.f("uq_fund_policy_fund_id_effective_period")
        ),
    )
    with op.batch_alter_table("fund_policy", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fund_policy_fund_id"), ["fund_id"], unique=False)

    now = datetime.now(UTC)
    period = now.astimezone(ZoneInfo("Europe/Paris")).strftime("%Y-%m")
    fund_ids = op.get_bind().execute(sa.text("SELECT id FROM fund")).scalars().all()
    if fund_ids:
        op.bulk_insert(
            fund_policy,
            [
                {
                    "id": uuid.uuid4(),
                    "fund_id": fund_id if isinstance(fund_id, uuid.UUID) else uuid.UUID(fund_id),
                    "effective_period": period,
                    **json.loads(json.dumps(GIRONDE)),
                    "created_at": now,
                    "created_by": "migration:0003",
                }
                for fund_id in fund_ids
            ],
        )


def downgrade() -> None:
    with op.batch_alter_table("fund_policy", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fund_policy_fund_id"))

    op.drop_table("fund_policy")
    with op.batch_alter_table("fund", schema=None) as batch_op:
        batch_op.drop_column("sepa_creditor_id")
        batch_op.drop_column("bic")
        batch_op.drop_column("iban")
