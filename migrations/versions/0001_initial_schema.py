"""initial schema: funds, ledger, idempotency keys

Revision ID: 0001
Revises:
Create Date: 2026-11-29

The ledger's invariants are enforced here by the database itself, on both engines:
balanced transactions, append-only postings and transactions, immutable accounts,
balances that may not go below zero (CHECK), unique idempotency keys per caller.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fund",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fund")),
        sa.UniqueConstraint("slug", name=op.f("uq_fund_slug")),
    )
    op.create_table(
        "idempotency_key",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("caller", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_key")),
        sa.UniqueConstraint("caller", "key", name=op.f("uq_idempotency_key_caller_key")),
    )
    op.create_table(
        "ledger_account",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("fund_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("normal_side", sa.String(length=6), nullable=False),
        sa.Column("balance_cents", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(normal_side = 'debit' AND kind IN ('allowance_expense', 'bank')) OR (normal_side = 'credit' AND kind NOT IN ('allowance_expense', 'bank'))",
            name=op.f("ck_ledger_account_normal_side"),
        ),
        sa.CheckConstraint(
            "balance_cents >= 0 OR kind NOT IN ('bank', 'household_credits', 'outlet_payable', 'payouts_in_transit')",
            name=op.f("ck_ledger_account_balance_non_negative"),
        ),
        sa.CheckConstraint(
            "kind IN ('allowance_expense', 'bank', 'contribution_income', 'grant_income', 'household_credits', 'outlet_payable', 'payouts_in_transit')",
            name=op.f("ck_ledger_account_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["fund_id"], ["fund.id"], name=op.f("fk_ledger_account_fund_id_fund")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_account")),
        sa.UniqueConstraint(
            "fund_id", "kind", "reference", name=op.f("uq_ledger_account_fund_id_kind_reference")
        ),
        sa.UniqueConstraint("id", "fund_id", name="uq_ledger_account_id_fund"),
    )
    with op.batch_alter_table("ledger_account", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_account_fund_id"), ["fund_id"], unique=False)

    op.create_table(
        "ledger_transaction",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("fund_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=True),
        sa.Column("memo", sa.String(length=500), nullable=True),
        sa.Column("reverses_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(kind = 'reversal') = (reverses_id IS NOT NULL)",
            name=op.f("ck_ledger_transaction_reversal_link"),
        ),
        sa.CheckConstraint(
            "kind IN ('contribution', 'expiry', 'grant', 'issuance', 'payment', 'payout_cancelled', 'payout_confirmed', 'payout_created', 'refund', 'reversal', 'transfer')",
            name=op.f("ck_ledger_transaction_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["fund_id"], ["fund.id"], name=op.f("fk_ledger_transaction_fund_id_fund")
        ),
        sa.ForeignKeyConstraint(
            ["reverses_id", "fund_id"],
            ["ledger_transaction.id", "ledger_transaction.fund_id"],
            name="fk_ledger_transaction_reverses",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_transaction")),
        sa.UniqueConstraint("id", "fund_id", name="uq_ledger_transaction_id_fund"),
        sa.UniqueConstraint("reverses_id", name=op.f("uq_ledger_transaction_reverses_id")),
    )
    with op.batch_alter_table("ledger_transaction", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_transaction_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ledger_transaction_fund_id"), ["fund_id"], unique=False
        )

    op.create_table(
        "ledger_posting",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("fund_id", sa.Uuid(), nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("side", sa.String(length=6), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("side IN ('credit', 'debit')", name=op.f("ck_ledger_posting_side")),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_ledger_posting_amount_positive")),
        sa.ForeignKeyConstraint(
            ["account_id", "fund_id"],
            ["ledger_account.id", "ledger_account.fund_id"],
            name="fk_ledger_posting_account",
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id", "fund_id"],
            ["ledger_transaction.id", "ledger_transaction.fund_id"],
            name="fk_ledger_posting_transaction",
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_posting")),
    )
    with op.batch_alter_table("ledger_posting", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_posting_account_id", ["account_id"], unique=False)
        batch_op.create_index("ix_ledger_posting_transaction_id", ["transaction_id"], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRESQL_GUARDS:
            op.execute(statement)
    else:
        for statement in SQLITE_GUARDS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRESQL_DROP_GUARDS:
            op.execute(statement)
    # SQLite drops a table's triggers with the table.
    with op.batch_alter_table("ledger_posting", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_posting_transaction_id")
        batch_op.drop_index("ix_ledger_posting_account_id")

    op.drop_table("ledger_posting")
    with op.batch_alter_table("ledger_transaction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_transaction_fund_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_transaction_created_at"))

    op.drop_table("ledger_transaction")
    with op.batch_alter_table("ledger_account", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_account_fund_id"))

    op.drop_table("ledger_account")
    op.drop_table("idempotency_key")
    op.drop_table("fund")


# --- Guards -----------------------------------------------------------------------
# A transaction is written as: move the balances, insert the postings, then insert the
# transaction row. That last insert seals it: its postings must balance, and no posting
# may be added to a sealed transaction. The postings' key to their transaction is
# DEFERRABLE INITIALLY DEFERRED, so a posting whose transaction row never comes fails
# the commit. PostgreSQL checks the sum in a deferred constraint trigger (once per
# transaction, at commit); SQLite, which has no deferred triggers, when the row is sealed.

_SUM = "COALESCE(SUM(CASE side WHEN 'debit' THEN amount_cents ELSE -amount_cents END), 0)"

POSTGRESQL_GUARDS = [
    """
    CREATE FUNCTION ssa_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
            USING ERRCODE = 'integrity_constraint_violation';
    END $$
    """,
    f"""
    CREATE FUNCTION ssa_ledger_transaction_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        legs integer;
        total bigint;
    BEGIN
        SELECT count(*), {_SUM} INTO legs, total
          FROM ledger_posting WHERE transaction_id = NEW.id;
        IF legs < 2 OR total <> 0 THEN
            RAISE EXCEPTION 'ledger transaction % does not balance (% postings, sum %)',
                NEW.id, legs, total USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION ssa_ledger_posting_unsealed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM new_postings p
                     JOIN ledger_transaction t ON t.id = p.transaction_id) THEN
            RAISE EXCEPTION 'ledger transaction is sealed: no posting may be added'
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION ssa_ledger_account_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.id IS DISTINCT FROM OLD.id OR NEW.fund_id IS DISTINCT FROM OLD.fund_id
           OR NEW.kind IS DISTINCT FROM OLD.kind OR NEW.reference IS DISTINCT FROM OLD.reference
           OR NEW.normal_side IS DISTINCT FROM OLD.normal_side THEN
            RAISE EXCEPTION 'ledger_account: only the balance may change'
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE CONSTRAINT TRIGGER ledger_transaction_balanced
        AFTER INSERT ON ledger_transaction DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW EXECUTE FUNCTION ssa_ledger_transaction_balanced()
    """,
    """
    CREATE TRIGGER ledger_posting_unsealed
        AFTER INSERT ON ledger_posting REFERENCING NEW TABLE AS new_postings
        FOR EACH STATEMENT EXECUTE FUNCTION ssa_ledger_posting_unsealed()
    """,
    """
    CREATE TRIGGER ledger_account_fixed BEFORE UPDATE ON ledger_account
        FOR EACH ROW EXECUTE FUNCTION ssa_ledger_account_fixed()
    """,
    *(
        f"""
        CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION ssa_refuse_change()
        """
        for table in ("ledger_posting", "ledger_transaction")
    ),
    *(
        f"""
        CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION ssa_refuse_change()
        """
        for table in ("ledger_posting", "ledger_transaction", "ledger_account")
    ),
    """
    CREATE TRIGGER ledger_account_no_delete BEFORE DELETE ON ledger_account
        FOR EACH ROW EXECUTE FUNCTION ssa_refuse_change()
    """,
]

POSTGRESQL_DROP_GUARDS = [
    "DROP FUNCTION ssa_refuse_change() CASCADE",
    "DROP FUNCTION ssa_ledger_transaction_balanced() CASCADE",
    "DROP FUNCTION ssa_ledger_posting_unsealed() CASCADE",
    "DROP FUNCTION ssa_ledger_account_fixed() CASCADE",
]

SQLITE_GUARDS = [
    f"""
    CREATE TRIGGER ledger_transaction_balanced BEFORE INSERT ON ledger_transaction
    WHEN (SELECT count(*) FROM ledger_posting WHERE transaction_id = NEW.id) < 2
      OR (SELECT {_SUM} FROM ledger_posting WHERE transaction_id = NEW.id) <> 0
    BEGIN
        SELECT RAISE(ABORT, 'ledger transaction does not balance');
    END
    """,
    """
    CREATE TRIGGER ledger_posting_unsealed BEFORE INSERT ON ledger_posting
    WHEN EXISTS (SELECT 1 FROM ledger_transaction WHERE id = NEW.transaction_id)
    BEGIN
        SELECT RAISE(ABORT, 'ledger transaction is sealed: no posting may be added');
    END
    """,
    """
    CREATE TRIGGER ledger_account_fixed BEFORE UPDATE ON ledger_account
    WHEN NEW.id IS NOT OLD.id OR NEW.fund_id IS NOT OLD.fund_id OR NEW.kind IS NOT OLD.kind
      OR NEW.reference IS NOT OLD.reference OR NEW.normal_side IS NOT OLD.normal_side
    BEGIN
        SELECT RAISE(ABORT, 'ledger_account: only the balance may change');
    END
    """,
    *(
        f"""
        CREATE TRIGGER {table}_no_{op_name.lower()} BEFORE {op_name} ON {table}
        BEGIN
            SELECT RAISE(ABORT, '{table} is append-only: {op_name} refused');
        END
        """
        for table in ("ledger_posting", "ledger_transaction")
        for op_name in ("UPDATE", "DELETE")
    ),
    """
    CREATE TRIGGER ledger_account_no_delete BEFORE DELETE ON ledger_account
    BEGIN
        SELECT RAISE(ABORT, 'ledger_account is append-only: DELETE refused');
    END
    """,
]
