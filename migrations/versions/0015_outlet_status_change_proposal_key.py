"""outlet_status_change: a change made by an adopted proposal names a real proposal

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29

Since the assembly (0009), an adopted proposal changes the outlet's status and the
history row names the proposal; the database took any id there.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outlet_status_change") as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_outlet_status_change_proposal_id_proposal"),
            "proposal",
            ["proposal_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("outlet_status_change") as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_outlet_status_change_proposal_id_proposal"), type_="foreignkey"
        )
