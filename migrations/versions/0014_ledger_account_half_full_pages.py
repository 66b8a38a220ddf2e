"""ledger_account: pages half full, so balance updates stay heap-only

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29

Every month's issuance moves the balance of every household's credits account, and each
payment moves two balances. PostgreSQL can write the new version of an updated row in
the same page, without touching the table's four indexes (a heap-only, HOT, update), only
if that page has room. With `fillfactor = 80` (0007) a freshly filled page has room for
about a quarter of its rows' new versions: measured with bench/issuance.py, 200,000
households, the balance UPDATE took 4.50 s; with 50, 1.14 s (the whole issuance 16.0 s ->
12.1 s). Pruning of the old versions frees the room again for the next month. The cost
is space: the table's pages are filled to half (ledger_account rows are small: about
150 bytes, so some 300 MB per million accounts instead of about 190 MB).

The setting applies to pages written from now on; an existing installation gets it for
all its rows after `VACUUM FULL ledger_account` (which locks the table: in a quiet hour).
SQLite has no such setting.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE ledger_account SET (fillfactor = 50)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE ledger_account SET (fillfactor = 80)")
