"""ledger: posting a transaction in one round trip on PostgreSQL

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29

`ssa_post_transaction(...)` does on the server what `post_transaction` does from Python:
move the balances in account-id order (the same conditional UPDATE, so a guarded balance
never goes below zero and concurrent posts lock their rows in one order), insert the
postings, then the transaction row in a separate statement (which seals them), and
return the new balances. Nothing is bypassed: the triggers (sealing, append-only, the
deferred zero-sum check at commit), the CHECKs and the foreign keys all apply to the
rows it writes, and it runs with the caller's rights (SECURITY INVOKER).

A refusal raises, which aborts the caller's statement (its database transaction must
then be rolled back, as after any refusal of the ledger):

- SQLSTATE 23L01, an account that may not go below zero does not hold enough;
- SQLSTATE 23L02, an account is not in the fund;
- SQLSTATE 23L03, the legs are malformed: fewer than two, arrays of unequal lengths, a
  missing account, side or amount, or debits and credits that differ (the deferred
  trigger would refuse those at commit).

The DETAIL of 23L01 and 23L02 is a JSON object: {"account_id": ..., "kind": ...,
"available_cents": ...} (23L02: account_id only). Class 23 ("integrity constraint
violation") makes a raw caller see an IntegrityError.

SQLite has no stored procedures: `post_transaction` keeps its statement-by-statement path
there.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Balances that may never go below zero (ssa.ledger.models.NON_NEGATIVE_KINDS when this
# was written; migration 0001's CHECK ck_ledger_account_balance_non_negative).
_GUARDED = "'bank', 'household_credits', 'outlet_payable', 'payouts_in_transit'"

SIGNATURE = "ssa_post_transaction(uuid, uuid, text, text, text, uuid, timestamptz, uuid[], text[], bigint[])"

CREATE = f"""
CREATE FUNCTION ssa_post_transaction(
    p_transaction_id uuid,
    p_fund_id uuid,
    p_kind text,
    p_period text,
    p_memo text,
    p_reverses_id uuid,
    p_created_at timestamptz,
    p_account_ids uuid[],
    p_sides text[],
    p_amounts bigint[]
) RETURNS TABLE (account_id uuid, balance_cents bigint)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    legs integer := cardinality(p_account_ids);
    net record;
    moved bigint;
    total bigint := 0;
    found_kind text;
    available bigint;
BEGIN
    IF legs IS NULL OR legs < 2 OR cardinality(p_sides) IS DISTINCT FROM legs
       OR cardinality(p_amounts) IS DISTINCT FROM legs THEN
        RAISE EXCEPTION 'ledger transaction needs at least two postings, each with an'
            ' account, a side and an amount' USING ERRCODE = '23L03';
    END IF;

    -- Balances first, in account-id order: two transactions touching the same accounts
    -- lock them in the same order and cannot deadlock.
    FOR net IN
        SELECT l.id, sum(CASE l.s WHEN 'debit' THEN l.a WHEN 'credit' THEN -l.a END)::bigint
                   AS debit_cents
          FROM unnest(p_account_ids, p_sides, p_amounts) AS l (id, s, a)
         GROUP BY l.id
         ORDER BY l.id
    LOOP
        IF net.id IS NULL OR net.debit_cents IS NULL THEN
            RAISE EXCEPTION 'ledger posting without an account, a side (debit or credit) or'
                ' an amount' USING ERRCODE = '23L03';
        END IF;
        total := total + net.debit_cents;
        UPDATE ledger_account AS acc
           SET balance_cents = acc.balance_cents
               + CASE WHEN acc.normal_side = 'debit' THEN net.debit_cents
                      ELSE -net.debit_cents END
         WHERE acc.id = net.id
           AND acc.fund_id = p_fund_id
           AND (acc.kind NOT IN ({_GUARDED})
                OR acc.balance_cents + CASE WHEN acc.normal_side = 'debit'
                                            THEN net.debit_cents
                                            ELSE -net.debit_cents END >= 0)
        RETURNING acc.balance_cents INTO moved;
        IF NOT FOUND THEN
            SELECT acc.kind, acc.balance_cents INTO found_kind, available
              FROM ledger_account AS acc
             WHERE acc.id = net.id AND acc.fund_id = p_fund_id;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'ledger account % is not in fund %', net.id, p_fund_id
                    USING ERRCODE = '23L02',
                          DETAIL = json_build_object('account_id', net.id)::text;
            END IF;
            RAISE EXCEPTION 'ledger account % (%) holds % cents: the transaction would take it'
                ' below zero', net.id, found_kind, available
                USING ERRCODE = '23L01',
                      DETAIL = json_build_object('account_id', net.id, 'kind', found_kind,
                                                 'available_cents', available)::text;
        END IF;
        account_id := net.id;
        balance_cents := moved;
        RETURN NEXT;
    END LOOP;
    -- The deferred trigger would refuse it at commit; say it here, with its own code.
    IF total IS DISTINCT FROM 0 THEN
        RAISE EXCEPTION 'ledger transaction does not balance: debits and credits differ'
            USING ERRCODE = '23L03';
    END IF;

    INSERT INTO ledger_posting (fund_id, transaction_id, account_id, side, amount_cents)
    SELECT p_fund_id, p_transaction_id, l.id, l.s, l.a
      FROM unnest(p_account_ids, p_sides, p_amounts) WITH ORDINALITY AS l (id, s, a, n)
     ORDER BY l.n;

    -- A separate statement: the postings' statement trigger has run, and this row seals
    -- them (the deferred trigger checks their sum at commit).
    INSERT INTO ledger_transaction (id, fund_id, kind, period, memo, reverses_id, created_at)
    VALUES (p_transaction_id, p_fund_id, p_kind, p_period, p_memo, p_reverses_id,
            p_created_at);
    RETURN;
END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(CREATE)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP FUNCTION {SIGNATURE}")
