"""contribution: corrections of a contribution recorded by mistake

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-29

A contribution recorded for the wrong household, period or amount could not be undone:
the ledger is append-only and no endpoint reversed one. A correction is now a row of its
own, with the opposite amount, naming the contribution it corrects (once: unique), whose
ledger transaction is the reversal of the first one's. Every sum of a period's
contributions (statuses, issuance, direct debit) nets it out unchanged.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contribution") as batch_op:
        batch_op.add_column(sa.Column("corrects_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("correction_reason", sa.String(length=200), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_contribution_corrects_id_contribution"),
            "contribution",
            ["corrects_id"],
            ["id"],
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_contribution_corrects_id"), ["corrects_id"]
        )
        batch_op.drop_constraint(batch_op.f("ck_contribution_amount_positive"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_contribution_amount_sign"),
            "(corrects_id IS NULL AND amount_cents > 0)"
            " OR (corrects_id IS NOT NULL AND amount_cents < 0)",
        )


def downgrade() -> None:
    # Corrections cannot be expressed before this revision, and deleting them would leave
    # their ledger reversals behind (the corrected months counted as paid again).
    corrections = (
        op.get_bind()
        .execute(sa.text("SELECT count(*) FROM contribution WHERE corrects_id IS NOT NULL"))
        .scalar_one()
    )
    if corrections:
        raise RuntimeError(
            f"{corrections} contribution correction(s) recorded: this database cannot go back"
            " before revision 0018 without losing them."
        )
    with op.batch_alter_table("contribution") as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_contribution_amount_sign"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_contribution_amount_positive"), "amount_cents > 0"
        )
        batch_op.drop_constraint(batch_op.f("uq_contribution_corrects_id"), type_="unique")
        batch_op.drop_constraint(
            batch_op.f("fk_contribution_corrects_id_contribution"), type_="foreignkey"
        )
        batch_op.drop_column("correction_reason")
        batch_op.drop_column("corrects_id")
