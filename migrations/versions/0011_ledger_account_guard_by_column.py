"""ledger_account: the guard on its fixed columns fires only when they are set

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29

`ledger_account_fixed` keeps an account's id, fund, kind, reference and normal side
fixed. Since 0007 it had a WHEN clause comparing the five columns; PostgreSQL rebuilds
such a clause from its stored form for every UPDATE statement, and on the ledger's hot
path (a balance update per account of every transaction) that was about a tenth of the
server's CPU per transfer. It is now a column trigger, `BEFORE UPDATE OF` those five
columns: an UPDATE that sets only the balance does not consider it at all, and one that
names any of them runs the same check as before (setting a column to its own value is
still allowed). SQLite keeps its trigger (its WHEN clause costs nothing comparable).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
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
        """
        CREATE TRIGGER ledger_account_fixed
            BEFORE UPDATE OF id, fund_id, kind, reference, normal_side ON ledger_account
            FOR EACH ROW EXECUTE FUNCTION ssa_ledger_account_fixed()
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER ledger_account_fixed ON ledger_account")
    op.execute(
        f"""
        CREATE TRIGGER ledger_account_fixed BEFORE UPDATE ON ledger_account
            FOR EACH ROW WHEN ({_CHANGED}) EXECUTE FUNCTION ssa_ledger_account_fixed()
        """
    )
