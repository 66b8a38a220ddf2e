"""direct_debit_run, direct_debit_run_line: the direct-debit files produced

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29

Each pain.008 file produced for a fund's period is recorded with its debits, so that a
later file of the same period leaves out the households already sent to the bank (no
double debit) and the same request gives the same file (same message id). A run the
bank never received is cancelled; its households may then be collected again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "direct_debit_run",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("fund_id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("message_id", sa.String(length=35), nullable=False),
        sa.Column("collection_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_by", sa.String(length=200), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'cancelled')", name=op.f("ck_direct_debit_run_status")
        ),
        sa.CheckConstraint(
            "(status = 'open' AND cancelled_at IS NULL)"
            " OR (status = 'cancelled' AND cancelled_at IS NOT NULL)",
            name=op.f("ck_direct_debit_run_cancelled_at"),
        ),
        sa.ForeignKeyConstraint(
            ["fund_id"], ["fund.id"], name=op.f("fk_direct_debit_run_fund_id_fund")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_direct_debit_run")),
        sa.UniqueConstraint("message_id", name=op.f("uq_direct_debit_run_message_id")),
    )
    with op.batch_alter_table("direct_debit_run") as batch_op:
        batch_op.create_index("ix_direct_debit_run_fund_period", ["fund_id", "period"])
    op.create_table(
        "direct_debit_run_line",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column("mandate_id", sa.Uuid(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("sequence_type", sa.String(length=4), nullable=False),
        sa.Column("end_to_end_id", sa.String(length=35), nullable=False),
        sa.CheckConstraint(
            "amount_cents > 0", name=op.f("ck_direct_debit_run_line_amount_positive")
        ),
        sa.CheckConstraint(
            "sequence_type IN ('FRST', 'RCUR')",
            name=op.f("ck_direct_debit_run_line_sequence_type"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["direct_debit_run.id"],
            name=op.f("fk_direct_debit_run_line_run_id_direct_debit_run"),
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_direct_debit_run_line_household_id_household"),
        ),
        sa.ForeignKeyConstraint(
            ["mandate_id"],
            ["direct_debit_mandate.id"],
            name=op.f("fk_direct_debit_run_line_mandate_id_direct_debit_mandate"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_direct_debit_run_line")),
        sa.UniqueConstraint(
            "run_id", "household_id", name=op.f("uq_direct_debit_run_line_run_id_household_id")
        ),
    )
    with op.batch_alter_table("direct_debit_run_line") as batch_op:
        batch_op.create_index("ix_direct_debit_run_line_household_id", ["household_id"])
        batch_op.create_index("ix_direct_debit_run_line_mandate_id", ["mandate_id"])


def downgrade() -> None:
    with op.batch_alter_table("direct_debit_run_line") as batch_op:
        batch_op.drop_index("ix_direct_debit_run_line_mandate_id")
        batch_op.drop_index("ix_direct_debit_run_line_household_id")
    op.drop_table("direct_debit_run_line")
    with op.batch_alter_table("direct_debit_run") as batch_op:
        batch_op.drop_index("ix_direct_debit_run_fund_period")
    op.drop_table("direct_debit_run")
