"""Recompute the books from the postings and say what is wrong (`ssa ledger check`)."""

import uuid
from dataclasses import dataclass

from sqlalchemy import Row, Uuid, bindparam, text
from sqlmodel import Session

from ssa.ledger.models import NON_NEGATIVE_KINDS, AccountKind

_SIGNED = "CASE p.side WHEN 'debit' THEN p.amount_cents ELSE -p.amount_cents END"
_LIABILITIES = ", ".join(
    f"'{k.value}'"
    for k in (
        AccountKind.household_credits,
        AccountKind.outlet_payable,
        AccountKind.payouts_in_transit,
    )
)
_GUARDED = ", ".join(f"'{k.value}'" for k in sorted(NON_NEGATIVE_KINDS))
MAX_LISTED = 20


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


def _fund_filter(alias: str, fund_id: uuid.UUID | None) -> str:
    return f" AND {alias}.fund_id = :fund_id" if fund_id is not None else ""


def _run(db_session: Session, sql: str, fund_id: uuid.UUID | None) -> list[Row[tuple[object, ...]]]:
    statement = text(sql)
    if fund_id is None:
        return list(db_session.connection().execute(statement).fetchall())
    statement = statement.bindparams(bindparam("fund_id", type_=Uuid()))
    return list(db_session.connection().execute(statement, {"fund_id": fund_id}).fetchall())


def _show(value: object) -> str:
    """Ids as UUIDs on both engines (SQLite keeps them as 32 hex digits)."""
    if isinstance(value, str) and len(value) == 32:
        try:
            return str(uuid.UUID(hex=value))
        except ValueError:
            pass
    return str(value)


def _result(
    name: str, rows: list[Row[tuple[object, ...]]], ok_detail: str, what: str
) -> CheckResult:
    if not rows:
        return CheckResult(name, True, ok_detail)
    listed = "; ".join(", ".join(_show(v) for v in row) for row in rows[:MAX_LISTED])
    more = f" (and {len(rows) - MAX_LISTED} more)" if len(rows) > MAX_LISTED else ""
    return CheckResult(name, False, f"{len(rows)} {what}: {listed}{more}")


def check_ledger(*, db_session: Session, fund_id: uuid.UUID | None = None) -> list[CheckResult]:
    """Check invariants 1 to 5 of the ledger over one fund, or over the whole database."""
    results = []
    rows = _run(
        db_session,
        f"SELECT t.id, count(p.id), COALESCE(SUM({_SIGNED}), 0) FROM ledger_transaction t"
        " LEFT JOIN ledger_posting p ON p.transaction_id = t.id"
        f" WHERE 1 = 1{_fund_filter('t', fund_id)} GROUP BY t.id"
        f" HAVING count(p.id) < 2 OR COALESCE(SUM({_SIGNED}), 0) <> 0",
        fund_id,
    )
    results.append(
        _result(
            "zero_sum",
            rows,
            "every transaction balances",
            "transactions unbalanced (id, postings, debits minus credits)",
        )
    )
    rows = _run(
        db_session,
        "SELECT p.id, p.transaction_id FROM ledger_posting p"
        " LEFT JOIN ledger_transaction t ON t.id = p.transaction_id"
        f" WHERE (t.id IS NULL OR t.fund_id <> p.fund_id){_fund_filter('p', fund_id)}",
        fund_id,
    )
    results.append(
        _result(
            "sealed",
            rows,
            "every posting belongs to a transaction of its fund",
            "postings without their transaction (posting, transaction)",
        )
    )
    rows = _run(
        db_session,
        "SELECT a.id, a.kind, a.balance_cents, COALESCE(s.total, 0) FROM ledger_account a"
        f" LEFT JOIN (SELECT p.account_id, SUM({_SIGNED}) AS total FROM ledger_posting p"
        "  GROUP BY p.account_id) s ON s.account_id = a.id"
        " WHERE a.balance_cents <> CASE a.normal_side WHEN 'debit' THEN COALESCE(s.total, 0)"
        f" ELSE -COALESCE(s.total, 0) END{_fund_filter('a', fund_id)}",
        fund_id,
    )
    results.append(
        _result(
            "balances",
            rows,
            "every stored balance equals the sum of its postings",
            "accounts whose stored balance differs from the postings "
            "(account, kind, stored, net debits)",
        )
    )
    rows = _run(
        db_session,
        "SELECT a.id, a.kind, a.balance_cents FROM ledger_account a"
        f" WHERE a.balance_cents < 0 AND a.kind IN ({_GUARDED}){_fund_filter('a', fund_id)}",
        fund_id,
    )
    results.append(
        _result(
            "non_negative",
            rows,
            "no credits, payable, transit or bank balance below zero",
            "accounts below zero (account, kind, balance)",
        )
    )
    rows = _run(
        db_session,
        "SELECT r.id, r.reverses_id FROM ledger_transaction r"
        f" WHERE r.reverses_id IS NOT NULL{_fund_filter('r', fund_id)} AND EXISTS ("
        "  SELECT 1 FROM ledger_posting p WHERE p.transaction_id IN (r.id, r.reverses_id)"
        f"  GROUP BY p.account_id HAVING SUM({_SIGNED}) <> 0)",
        fund_id,
    )
    results.append(
        _result(
            "reversals",
            rows,
            "every reversal mirrors the transaction it reverses",
            "reversals that do not mirror their original (reversal, original)",
        )
    )
    rows = _run(
        db_session,
        "SELECT a.fund_id,"
        " SUM(CASE WHEN a.kind = 'bank' THEN a.balance_cents ELSE 0 END) AS held,"
        f" SUM(CASE WHEN a.kind IN ({_LIABILITIES}) THEN a.balance_cents ELSE 0 END) AS owed"
        f" FROM ledger_account a WHERE 1 = 1{_fund_filter('a', fund_id)} GROUP BY a.fund_id"
        f" HAVING SUM(CASE WHEN a.kind = 'bank' THEN a.balance_cents ELSE 0 END)"
        f" < SUM(CASE WHEN a.kind IN ({_LIABILITIES}) THEN a.balance_cents ELSE 0 END)",
        fund_id,
    )
    results.append(
        _result(
            "coverage",
            rows,
            "the bank covers credits, payables and payouts in transit",
            "funds whose bank does not cover what they owe (fund, bank, owed)",
        )
    )
    return results
