"""Two treasurers at the same moment: one batch takes the money, the other finds none."""

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from ssa.db import make_engine, unit_of_work
from ssa.ledger.models import AccountKind
from ssa.payouts.models import Payout
from ssa.payouts.service import (
    NothingToPay,
    PayoutNotOpen,
    PayoutWithLines,
    cancel_payout,
    confirm_payout,
    create_payout,
)
from ssa.problems import Problem
from ssa.settings import Settings
from tests.payouts.helpers import books_clean, fund_balance, fund_owing, payable

T = TypeVar("T")


def at_the_same_moment(
    database_url: str, engine: Engine, work: list[Callable[[Engine], T]]
) -> list[T | Problem]:
    """Run each piece of work in its own thread and engine, all released together;
    a refusal (Problem) is returned, anything else raised."""
    second = make_engine(Settings(database_url=database_url, database_pool_size=4))
    start = threading.Barrier(len(work))

    def run(index: int) -> T | Problem:
        start.wait(timeout=30)
        try:
            return work[index](engine if index % 2 == 0 else second)
        except Problem as refused:
            return refused

    try:
        with ThreadPoolExecutor(max_workers=len(work)) as pool:
            return list(pool.map(run, range(len(work))))
    finally:
        second.dispose()


@pytest.mark.slow
def test_two_batches_at_the_same_moment_take_the_money_once(
    database_url: str, engine: Engine
) -> None:
    books = fund_owing(engine, [1_000 + 100 * i for i in range(8)])
    owed = sum(1_000 + 100 * i for i in range(8))

    def batch(target: Engine) -> PayoutWithLines:
        with unit_of_work(target) as session:
            return create_payout(
                db_session=session, fund_id=books.fund.id, minimum_cents=0, actor="system:test"
            )

    results = at_the_same_moment(database_url, engine, [batch, batch])
    made = [r for r in results if isinstance(r, PayoutWithLines)]
    refused = [r for r in results if isinstance(r, Problem)]
    assert len(made) == 1, results
    assert [type(r) for r in refused] == [NothingToPay]
    assert made[0].payout.total_cents == owed
    assert len(made[0].lines) == 8
    assert all(payable(engine, books, o) == 0 for o in books.outlets)
    assert fund_balance(engine, books.fund, AccountKind.payouts_in_transit) == owed
    with Session(engine) as session:
        count = session.exec(select(func.count()).where(col(Payout.fund_id) == books.fund.id)).one()
    assert count == 1
    assert books_clean(engine, books.fund) == []


@pytest.mark.slow
def test_confirm_and_cancel_at_the_same_moment_close_it_once(
    database_url: str, engine: Engine
) -> None:
    books = fund_owing(engine, [1_500, 2_500])
    bank_before = fund_balance(engine, books.fund, AccountKind.bank)
    with unit_of_work(engine) as session:
        payout_id = create_payout(
            db_session=session, fund_id=books.fund.id, minimum_cents=0, actor="system:test"
        ).payout.id

    def confirm(target: Engine) -> PayoutWithLines:
        with unit_of_work(target) as session:
            return confirm_payout(db_session=session, payout_id=payout_id, actor="system:test")

    def cancel(target: Engine) -> PayoutWithLines:
        with unit_of_work(target) as session:
            return cancel_payout(db_session=session, payout_id=payout_id, actor="system:test")

    results = at_the_same_moment(database_url, engine, [confirm, cancel])
    done = [r for r in results if isinstance(r, PayoutWithLines)]
    refused = [r for r in results if isinstance(r, Problem)]
    assert len(done) == 1, results
    assert [type(r) for r in refused] == [PayoutNotOpen]
    assert fund_balance(engine, books.fund, AccountKind.payouts_in_transit) == 0
    if done[0].payout.status == "confirmed":
        assert fund_balance(engine, books.fund, AccountKind.bank) == bank_before - 4_000
        assert [payable(engine, books, o) for o in books.outlets] == [0, 0]
    else:
        assert fund_balance(engine, books.fund, AccountKind.bank) == bank_before
        assert [payable(engine, books, o) for o in books.outlets] == [1_500, 2_500]
    assert books_clean(engine, books.fund) == []
