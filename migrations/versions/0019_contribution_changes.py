"""contribution_change: what each month was agreed to cost

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-29

A household's chosen contribution was one column, and every month's status and the
issuance's eligibility compared what was paid with today's amount: raising it made months
paid in full late (and the household skipped as contribution_unpaid), lowering it made
months left short paid. A change is now recorded with the month it applies from and the
amount due before it. Households that never changed have no row: their chosen amount is
due for every month (as before for them).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contribution_change",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("fund_id", sa.Uuid(), nullable=False),
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column("from_period", sa.String(length=7), nullable=False),
        sa.Column("previous_cents", sa.BigInteger(), nullable=False),
        sa.Column("changed_by", sa.String(length=200), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "previous_cents >= 0", name=op.f("ck_contribution_change_previous_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["household_id", "fund_id"],
            ["household.id", "household.fund_id"],
            name=op.f("fk_contribution_change_household_id_fund_id_household"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contribution_change")),
        sa.UniqueConstraint(
            "household_id",
            "from_period",
            name=op.f("uq_contribution_change_household_id_from_period"),
        ),
    )
    op.create_index(
        "ix_contribution_change_fund_period", "contribution_change", ["fund_id", "from_period"]
    )


def downgrade() -> None:
    # Without the changes, every past month would owe today's amount again.
    changes = (
        op.get_bind().execute(sa.text("SELECT count(*) FROM contribution_change")).scalar_one()
    )
    if changes:
        raise RuntimeError(
            f"{changes} contribution change(s) recorded: this database cannot go back before"
            " revision 0019 without losing what past months owed."
        )
    op.drop_index("ix_contribution_change_fund_period", table_name="contribution_change")
    op.drop_table("contribution_change")
