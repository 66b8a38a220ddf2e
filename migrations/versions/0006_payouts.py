"""payouts

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

Payout batches (created, then confirmed or cancelled, each step naming its ledger
transaction) and their lines, with the outlets' bank details as they were.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payout",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("fund_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("total_cents", sa.BigInteger(), nullable=False),
        sa.Column("minimum_cents", sa.BigInteger(), nullable=False),
        sa.Column("created_transaction_id", sa.Uuid(), nullable=False),
        sa.Column("confirmed_transaction_id", sa.Uuid(), nullable=True),
        sa.Column("cancelled_transaction_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("closed_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('created', 'confirmed', 'cancelled')", name=op.f("ck_payout_status")
        ),
        sa.CheckConstraint("total_cents > 0", name=op.f("ck_payout_total_positive")),
        sa.CheckConstraint("minimum_cents >= 0", name=op.f("ck_payout_minimum_non_negative")),
        sa.CheckConstraint(
            "(status = 'created' AND confirmed_transaction_id IS NULL"
            " AND cancelled_transaction_id IS NULL)"
            " OR (status = 'confirmed' AND confirmed_transaction_id IS NOT NULL"
            " AND cancelled_transaction_id IS NULL)"
            " OR (status = 'cancelled' AND cancelled_transaction_id IS NOT NULL"
            " AND confirmed_transaction_id IS NULL)",
            name=op.f("ck_payout_status_transactions"),
        ),
        sa.ForeignKeyConstraint(["fund_id"], ["fund.id"], name=op.f("fk_payout_fund_id_fund")),
        sa.ForeignKeyConstraint(
            ["created_transaction_id"],
            ["ledger_transaction.id"],
            name=op.f("fk_payout_created_transaction_id_ledger_transaction"),
        ),
        sa.ForeignKeyConstraint(
            ["confirmed_transaction_id"],
            ["ledger_transaction.id"],
            name=op.f("fk_payout_confirmed_transaction_id_ledger_transaction"),
        ),
        sa.ForeignKeyConstraint(
            ["cancelled_transaction_id"],
            ["ledger_transaction.id"],
            name=op.f("fk_payout_cancelled_transaction_id_ledger_transaction"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout")),
    )
    with op.batch_alter_table("payout", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payout_fund_id"), ["fund_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_payout_created_at"), ["created_at"], unique=False)

    op.create_table(
        "payout_line",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("payout_id", sa.Uuid(), nullable=False),
        sa.Column("outlet_id", sa.Uuid(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("iban", sa.String(length=34), nullable=False),
        sa.Column("bic", sa.String(length=11), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_payout_line_amount_positive")),
        sa.ForeignKeyConstraint(
            ["payout_id"], ["payout.id"], name=op.f("fk_payout_line_payout_id_payout")
        ),
        sa.ForeignKeyConstraint(
            ["outlet_id"], ["outlet.id"], name=op.f("fk_payout_line_outlet_id_outlet")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_line")),
        sa.UniqueConstraint(
            "payout_id", "outlet_id", name=op.f("uq_payout_line_payout_id_outlet_id")
        ),
    )
    with op.batch_alter_table("payout_line", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payout_line_outlet_id"), ["outlet_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("payout_line", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payout_line_outlet_id"))

    op.drop_table("payout_line")
    with op.batch_alter_table("payout", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payout_created_at"))
        batch_op.drop_index(batch_op.f("ix_payout_fund_id"))

    op.drop_table("payout")
