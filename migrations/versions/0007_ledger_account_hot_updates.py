"""ledger_account: cheaper balance updates on PostgreSQL

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29

The guard that keeps an account's fund, kind and side fixed becomes a trigger with a
WHEN clause: a balance-only update no longer calls PL/pgSQL for every row. The table
leaves room in its pages (fillfactor 80) so that balance updates, which touch no
indexed column, stay heap-only (HOT). SQLite's trigger already has its WHEN clause.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHANGED = (
    "NEW.id IS DISTINCT FROM OLD.id OR NEW.fund_id IS DISTINCT FROM OLD.fund_id"
    " OR NEW.kind IS DISTINCT FROM OLD.kind OR NEW.reference IS DISTINCT FROM OLD.reference"
    " OR NEW.normal_side IS DISTINCT FROM OLD.normal_side"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER ledger_account_fixed ON ledger_account")
    op.execute(
        f"""
        CREATE TRIGGER ledger_account_fixed BEFORE UPDATE ON ledger_account
            FOR EACH ROW WHEN ({_CHANGED}) EXECUTE FUNCTION ssa_ledger_account_fixed()
        """
    )
    op.execute("ALTER TABLE ledger_account SET (fillfactor = 80)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE ledger_account RESET (fillfactor)")
    op.execute("DROP TRIGGER ledger_account_fixed ON ledger_account")
    op.execute(
        """
        CREATE TRIGGER ledger_account_fixed BEFORE UPDATE ON ledger_account
            FOR EACH ROW EXECUTE FUNCTION ssa_ledger_account_fixed()
        """
    )
