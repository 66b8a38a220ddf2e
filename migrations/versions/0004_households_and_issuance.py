"""households, contributions, issuance

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29

Households and their persons, member-number counters, contributions and waivers,
issued credits (one row per household and period: at-most-once issuance) and closes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "member_number_counter",
        sa.Column("prefix", sa.String(length=4), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("prefix", name=op.f("pk_member_number_counter")),
    )
    op.create_table(
        "period_close",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("fund_id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("expired_cents", sa.BigInteger(), nullable=False),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=True),
        sa.Column("closed_by", sa.String(length=200), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["fund_id"], ["fund.id"], name=op.f("fk_period_close_fund_id_fund")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_period_close")),
        sa.UniqueConstraint("fund_id", "period", name=op.f("uq_period_close_fund_id_period")),
    )
    op.create_table(
        "household",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("fund_id", sa.Uuid(), nullable=False),
        sa.Column("member_number", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("address_line1", sa.String(length=200), nullable=False),
        sa.Column("postcode", sa.String(length=12), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("monthly_income_cents", sa.BigInteger(), nullable=False),
        sa.Column("housing_costs_cents", sa.BigInteger(), nullable=False),
        sa.Column("other_fixed_costs_cents", sa.BigInteger(), nullable=False),
        sa.Column("food_budget_cents", sa.BigInteger(), nullable=False),
        sa.Column("chosen_contribution_cents", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("joined_on", sa.Date(), nullable=False),
        sa.Column("joined_period", sa.String(length=7), nullable=False),
        sa.Column("last_spending_period", sa.String(length=7), nullable=True),
        sa.Column("pin_hash", sa.String(length=64), nullable=True),
        sa.Column("pin_salt", sa.String(length=32), nullable=True),
        sa.Column("pin_failures", sa.Integer(), nullable=False),
        sa.Column("pin_locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'suspended', 'left')", name=op.f("ck_household_status")
        ),
        sa.CheckConstraint(
            "monthly_income_cents >= 0 AND housing_costs_cents >= 0 AND other_fixed_costs_cents >= 0 AND food_budget_cents >= 0 AND chosen_contribution_cents >= 0",
            name=op.f("ck_household_non_negative"),
        ),
        sa.CheckConstraint("pin_failures >= 0", name=op.f("ck_household_pin_failures")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ledger_account.id"],
            name=op.f("fk_household_account_id_ledger_account"),
        ),
        sa.ForeignKeyConstraint(["fund_id"], ["fund.id"], name=op.f("fk_household_fund_id_fund")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household")),
        sa.UniqueConstraint("account_id", name=op.f("uq_household_account_id")),
        sa.UniqueConstraint("member_number", name=op.f("uq_household_member_number")),
    )
    with op.batch_alter_table("household", schema=None) as batch_op:
        batch_op.create_index("ix_household_fund_status", ["fund_id", "status"], unique=False)

    op.create_table(
        "contribution",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("fund_id", sa.Uuid(), nullable=False),
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "method IN ('transfer', 'cash', 'card', 'direct_debit')",
            name=op.f("ck_contribution_method"),
        ),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_contribution_amount_positive")),
        sa.ForeignKeyConstraint(
            ["fund_id"], ["fund.id"], name=op.f("fk_contribution_fund_id_fund")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["household.id"], name=op.f("fk_contribution_household_id_household")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transaction.id"],
            name=op.f("fk_contribution_transaction_id_ledger_transaction"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contribution")),
    )
    with op.batch_alter_table("contribution", schema=None) as batch_op:
        batch_op.create_index("ix_contribution_fund_period", ["fund_id", "period"], unique=False)
        batch_op.create_index(
            "ix_contribution_household_period", ["household_id", "period"], unique=False
        )

    op.create_table(
        "contribution_waiver",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("fund_id", sa.Uuid(), nullable=False),
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("granted_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["fund_id"], ["fund.id"], name=op.f("fk_contribution_waiver_fund_id_fund")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_contribution_waiver_household_id_household"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contribution_waiver")),
        sa.UniqueConstraint(
            "household_id", "period", name=op.f("uq_contribution_waiver_household_id_period")
        ),
    )
    with op.batch_alter_table("contribution_waiver", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contribution_waiver_fund_id"), ["fund_id"], unique=False
        )

    op.create_table(
        "household_issuance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fund_id", sa.Uuid(), nullable=False),
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_household_issuance_amount_positive")),
        sa.ForeignKeyConstraint(
            ["fund_id"], ["fund.id"], name=op.f("fk_household_issuance_fund_id_fund")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_household_issuance_household_id_household"),
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transaction.id"],
            name="fk_household_issuance_transaction",
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household_issuance")),
        sa.UniqueConstraint(
            "household_id", "period", name=op.f("uq_household_issuance_household_id_period")
        ),
    )
    with op.batch_alter_table("household_issuance", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_household_issuance_fund_id"), ["fund_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_household_issuance_transaction_id"), ["transaction_id"], unique=False
        )

    op.create_table(
        "person",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column("fund_id", sa.Uuid(), nullable=False),
        sa.Column("given_name", sa.String(length=100), nullable=False),
        sa.Column("family_name", sa.String(length=100), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("left_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["fund_id"], ["fund.id"], name=op.f("fk_person_fund_id_fund")),
        sa.ForeignKeyConstraint(
            ["household_id"], ["household.id"], name=op.f("fk_person_household_id_household")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_person_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person")),
        sa.UniqueConstraint("user_id", name=op.f("uq_person_user_id")),
    )
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_fund_id"), ["fund_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_person_household_id"), ["household_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_household_id"))
        batch_op.drop_index(batch_op.f("ix_person_fund_id"))

    op.drop_table("person")
    with op.batch_alter_table("household_issuance", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_household_issuance_transaction_id"))
        batch_op.drop_index(batch_op.f("ix_household_issuance_fund_id"))

    op.drop_table("household_issuance")
    with op.batch_alter_table("contribution_waiver", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contribution_waiver_fund_id"))

    op.drop_table("contribution_waiver")
    with op.batch_alter_table("contribution", schema=None) as batch_op:
        batch_op.drop_index("ix_contribution_household_period")
        batch_op.drop_index("ix_contribution_fund_period")

    op.drop_table("contribution")
    with op.batch_alter_table("household", schema=None) as batch_op:
        batch_op.drop_index("ix_household_fund_status")

    op.drop_table("household")
    op.drop_table("period_close")
    op.drop_table("member_number_counter")
