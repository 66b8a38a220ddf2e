"""direct_debit_mandate: households' SEPA direct-debit mandates

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29

A household may give the fund a SEPA Core mandate to collect its monthly contribution
(pain.008 files, ssa/households/direct_debit.py). One row per mandate; a revoked or
replaced one is kept for history, and a partial unique index allows one active mandate
per household (both engines support `CREATE UNIQUE INDEX ... WHERE`).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "direct_debit_mandate",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("fund_id", sa.Uuid(), nullable=False),
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column("reference", sa.String(length=35), nullable=False),
        sa.Column("debtor_name", sa.String(length=70), nullable=False),
        sa.Column("iban", sa.String(length=34), nullable=False),
        sa.Column("bic", sa.String(length=11), nullable=True),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("account_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "status IN ('active', 'revoked')", name=op.f("ck_direct_debit_mandate_status")
        ),
        sa.CheckConstraint(
            "(status = 'active' AND revoked_at IS NULL)"
            " OR (status = 'revoked' AND revoked_at IS NOT NULL)",
            name=op.f("ck_direct_debit_mandate_revoked_at"),
        ),
        sa.ForeignKeyConstraint(
            ["fund_id"], ["fund.id"], name=op.f("fk_direct_debit_mandate_fund_id_fund")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_direct_debit_mandate_household_id_household"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_direct_debit_mandate")),
        sa.UniqueConstraint(
            "fund_id", "reference", name=op.f("uq_direct_debit_mandate_fund_id_reference")
        ),
    )
    with op.batch_alter_table("direct_debit_mandate") as batch_op:
        batch_op.create_index("ix_direct_debit_mandate_household_id", ["household_id"])
        batch_op.create_index(
            "uq_direct_debit_mandate_household_active",
            ["household_id"],
            unique=True,
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("direct_debit_mandate") as batch_op:
        batch_op.drop_index("uq_direct_debit_mandate_household_active")
        batch_op.drop_index("ix_direct_debit_mandate_household_id")
    op.drop_table("direct_debit_mandate")
