"""direct_debit_run_line: a debit the bank returned

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-29

A debit of a file the bank received can come back (an R-transaction: insufficient funds,
account closed, refused by the debtor...). Until now the only way to collect that
household again was to cancel the whole file, which would debit the others twice. A line
now records its return (when, by whom, the bank's reason code); a returned debit no longer
keeps its household out of the next file of the period.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("direct_debit_run_line") as batch_op:
        batch_op.add_column(sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("returned_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("return_reason", sa.String(length=4), nullable=True))
        batch_op.create_check_constraint(
            batch_op.f("ck_direct_debit_run_line_returned"),
            "(returned_at IS NULL AND returned_by IS NULL AND return_reason IS NULL)"
            " OR (returned_at IS NOT NULL AND returned_by IS NOT NULL"
            " AND return_reason IS NOT NULL)",
        )


def downgrade() -> None:
    with op.batch_alter_table("direct_debit_run_line") as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_direct_debit_run_line_returned"), type_="check")
        batch_op.drop_column("return_reason")
        batch_op.drop_column("returned_by")
        batch_op.drop_column("returned_at")
