"""role_grant and oauth_client: their outlet_id must name an outlet

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29

A manager's or cashier's grant and a till terminal belong to an outlet; until now the
database took any id there (the outlets arrived after identity, in 0005).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("role_grant") as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_role_grant_outlet_id_outlet"), "outlet", ["outlet_id"], ["id"]
        )
    with op.batch_alter_table("oauth_client") as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_oauth_client_outlet_id_outlet"), "outlet", ["outlet_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("oauth_client") as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_oauth_client_outlet_id_outlet"), type_="foreignkey")
    with op.batch_alter_table("role_grant") as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_role_grant_outlet_id_outlet"), type_="foreignkey")
