"""user_account.sessions_ended_at: logging out ends the web sessions

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30

The web session is a signed cookie, not a stored row: logging out cleared the browser's
copy, and a copy taken before stayed valid until it expired (12 hours). A logout now
records when the user's sessions ended; a session begun before is refused (as one begun
before the password last changed).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "user_account", sa.Column("sessions_ended_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    # Not a batch (a copy of the table): on SQLite (3.35 and later) a plain DROP COLUMN,
    # which the rows referring to the users do not stand in the way of.
    op.drop_column("user_account", "sessions_ended_at")
