"""Concurrent debits from separate connections never overspend an account."""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from ssa.db import make_engine, unit_of_work
from ssa.funds.models import Fund
from ssa.ledger.check import check_ledger
from ssa.ledger.errors import InsufficientBalance
from ssa.ledger.models import AccountKind, LedgerTransaction, TransactionKind
from ssa.ledger.service import credit, debit, post_transaction
from ssa.settings import Settings
from tests.ledger.helpers import account, balance, issue_credits

WRITERS = 60
DEBIT_CENTS = 100
CREDITS_CENTS = 2_000  # covers exactly 20 of the 60 debits


@pytest.mark.slow
def test_concurrent_debits_succeed_exactly_as_far_as_the_balance_covers(
    database_url: str, engine: Engine, fund: Fund
) -> None:
    with Session(engine) as session:
        household = account(session, fund, AccountKind.household_credits, "h")
        outlets = [account(session, fund, AccountKind.outlet_payable, f"o{i}") for i in range(3)]
        issue_credits(session, fund, household, CREDITS_CENTS)
        session.commit()

    # One connection per writer, all opened before the start line.
    wide = make_engine(Settings(database_url=database_url, database_pool_size=WRITERS + 4))
    start = threading.Barrier(WRITERS)

    def pay(i: int) -> str:
        with wide.connect():
            pass  # warm a pooled connection for this thread
        start.wait(timeout=30)
        try:
            with unit_of_work(wide) as session:
                post_transaction(
                    db_session=session,
                    fund_id=fund.id,
                    kind=TransactionKind.payment,
                    legs=[debit(household, DEBIT_CENTS), credit(outlets[i % 3], DEBIT_CENTS)],
                )
        except InsufficientBalance as refused:
            assert refused.code == "insufficient_credits"
            assert 0 <= refused.available_cents < DEBIT_CENTS
            return "insufficient"
        return "ok"

    try:
        with ThreadPoolExecutor(max_workers=WRITERS) as pool:
            outcomes = Counter(pool.map(pay, range(WRITERS)))
    finally:
        wide.dispose()

    covered = CREDITS_CENTS // DEBIT_CENTS
    assert outcomes == {"ok": covered, "insufficient": WRITERS - covered}
    assert balance(engine, household) == 0
    assert sum(balance(engine, o) for o in outlets) == CREDITS_CENTS
    with Session(engine) as session:
        payments = session.exec(
            select(func.count())
            .select_from(LedgerTransaction)
            .where(
                col(LedgerTransaction.fund_id) == fund.id,
                col(LedgerTransaction.kind) == TransactionKind.payment,
            )
        ).scalar_one()
        assert payments == covered
        assert all(r.ok for r in check_ledger(db_session=session, fund_id=fund.id))
