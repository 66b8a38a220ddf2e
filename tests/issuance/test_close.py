"""Closing a period: each rollover mode, once only, and what it forbids afterwards."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlmodel import Session, col

from ssa.db import make_engine, unit_of_work
from ssa.funds.models import Fund, FundPolicy
from ssa.issuance import close as close_module
from ssa.issuance import periods
from ssa.issuance import service as issuance_service
from ssa.issuance.close import CloseSummary, PeriodNotClosable, close_period
from ssa.issuance.service import PeriodNotIssuable
from ssa.settings import Settings
from tests.issuance.helpers import ADULT, THIS, add_household, credits, make_fund
from tests.issuance.test_issuance import books_clean, issue
from tests.payments.helpers import open_till


def close(engine: Engine, fund: Fund, period: str = THIS) -> CloseSummary:
    """Close `period` on the 1st of the month after it (a month is closed once ended)."""
    with unit_of_work(engine) as session:
        return close_period(
            db_session=session,
            fund_id=fund.id,
            period=period,
            today=periods.first_day(periods.shift(period, 1)),
        )


def test_full_rollover_keeps_everything(engine: Engine) -> None:
    fund = make_fund(engine, rollover="full")
    household = add_household(engine, fund)
    issue(engine, fund)
    summary = close(engine, fund)
    assert (summary.expired_cents, summary.households, summary.already_closed) == (0, 0, False)
    assert credits(engine, household) == 15_000


def test_no_rollover_expires_every_credit_once(engine: Engine) -> None:
    fund = make_fund(engine, rollover="none")
    one = add_household(engine, fund)
    two = add_household(engine, fund, [ADULT, ADULT])
    issue(engine, fund)
    summary = close(engine, fund)
    assert (summary.expired_cents, summary.households) == (37_500, 2)
    assert credits(engine, one) == credits(engine, two) == 0
    again = close(engine, fund)
    assert again.already_closed
    assert (again.expired_cents, again.households) == (37_500, 2)
    with pytest.raises(PeriodNotIssuable):
        issue(engine, fund)
    assert books_clean(engine, fund)


def test_capped_rollover_expires_only_what_is_above_the_cap(engine: Engine) -> None:
    fund = make_fund(engine, rollover="capped", rollover_cap_cents=20_000)
    small = add_household(engine, fund)
    large = add_household(engine, fund, [ADULT, ADULT, ADULT])
    issue(engine, fund)
    summary = close(engine, fund)
    assert (summary.expired_cents, summary.households) == (10_000, 1)
    assert (credits(engine, small), credits(engine, large)) == (15_000, 20_000)
    assert books_clean(engine, fund)


def test_a_month_is_closed_only_once_it_has_ended(engine: Engine) -> None:
    """Households spend a month's credits until its last day (in Paris)."""
    fund = make_fund(engine, rollover="none")
    household = add_household(engine, fund)
    issue(engine, fund)
    last_day = periods.first_day(periods.shift(THIS, 1)) - timedelta(days=1)
    for period, today in [
        (THIS, last_day),
        (THIS, periods.first_day(THIS)),
        (periods.shift(THIS, 1), last_day),
    ]:
        with pytest.raises(PeriodNotClosable), unit_of_work(engine) as session:
            close_period(db_session=session, fund_id=fund.id, period=period, today=today)
    with pytest.raises(PeriodNotClosable), unit_of_work(engine) as session:
        close_period(db_session=session, fund_id=fund.id, period=THIS)  # today
    assert credits(engine, household) == 15_000
    assert close(engine, fund).expired_cents == 15_000  # on the 1st of next month


@pytest.mark.slow
def test_two_closes_at_the_same_moment_expire_once(database_url: str, engine: Engine) -> None:
    fund = make_fund(engine, rollover="none")
    households = [add_household(engine, fund) for _ in range(5)]
    issue(engine, fund)
    second = make_engine(Settings(database_url=database_url, database_pool_size=4))
    start = threading.Barrier(2)

    def run(target: Engine) -> CloseSummary:
        start.wait(timeout=30)
        return close(target, fund)

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(run, [engine, second]))
    finally:
        second.dispose()
    assert sorted(r.already_closed for r in results) == [False, True]
    assert all(r.expired_cents == 75_000 for r in results)
    assert all(credits(engine, h) == 0 for h in households)
    assert books_clean(engine, fund)


def test_closing_a_period_leaves_the_next_periods_credits(engine: Engine) -> None:
    """Next month issued before this one closes: only this month's leftovers expire."""
    fund = make_fund(engine, rollover="none")
    household = add_household(engine, fund)
    issue(engine, fund)
    issue(engine, fund, periods.shift(THIS, 1))
    assert credits(engine, household) == 30_000
    summary = close(engine, fund)
    assert (summary.expired_cents, summary.households) == (15_000, 1)
    assert credits(engine, household) == 15_000
    assert books_clean(engine, fund)


@pytest.mark.parametrize(
    ("rollover", "cap", "expired", "answer"),
    [
        ("capped", 5_000, 10_000, 201),  # 5,000 kept, then 4,000 paid: 1,000 left
        ("none", 0, 15_000, 409),  # all expired, then the payment is refused
    ],
)
def test_a_payment_during_a_close_waits_for_it_and_is_never_taken_twice(
    app: FastAPI,
    client: TestClient,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    rollover: str,
    cap: int,
    expired: int,
    answer: int,
) -> None:
    """A payment sent while the close works out what to expire waits for the close (the
    accounts are locked as they are read), then pays from what the close left: the
    close never expires credits a payment already spent (twice taken; below zero, a 500)."""
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite serialises every writer: the close holds the write lock anyway")
    till = open_till(app, client, engine)
    with Session(engine) as session:
        session.exec(
            update(FundPolicy)
            .where(col(FundPolicy.fund_id) == till.fund.id)
            .values(rollover=rollover, rollover_cap_cents=cap)
        )
        session.commit()
    assert credits(engine, till.household) == 15_000
    answers: list[Any] = []
    payer = threading.Thread(target=lambda: answers.append(till.pay(client, 4_000)))
    real_apply = close_module.apply_postings_to_balances

    def apply_once_the_payment_was_sent(**kwargs: Any) -> None:
        payer.start()
        payer.join(timeout=2)
        assert payer.is_alive()  # waiting on the account the close is expiring
        real_apply(**kwargs)

    monkeypatch.setattr(close_module, "apply_postings_to_balances", apply_once_the_payment_was_sent)
    summary = close(engine, till.fund)
    payer.join(timeout=30)
    assert summary.expired_cents == expired
    (paid,) = answers
    assert paid.status_code == answer, paid.text
    left = 15_000 - expired - (4_000 if answer == 201 else 0)
    assert credits(engine, till.household) == left
    if answer == 201:
        assert paid.json()["remaining_cents"] == left  # the receipt tells the truth
    else:
        assert paid.json()["code"] == "insufficient_credits"
    assert books_clean(engine, till.fund)


def test_an_issuance_and_a_close_of_the_same_month_wait_for_each_other(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both take the fund's row first. A close sent while the month is being issued waits,
    then expires what was issued; an issuance sent while the month is being closed waits,
    then finds it closed: credits of a closed month are never issued after its close."""
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite serialises every writer: a run holds the write lock anyway")
    previous = periods.shift(THIS, -1)
    fund = make_fund(engine, rollover="none")
    household = add_household(engine, fund)
    closes: list[CloseSummary] = []
    closer = threading.Thread(target=lambda: closes.append(close(engine, fund, previous)))
    real_coverage = issuance_service.coverage

    def coverage_once_the_close_was_sent(*args: Any) -> tuple[int, int]:
        closer.start()
        closer.join(timeout=2)
        assert closer.is_alive()  # waiting on the fund's row
        return real_coverage(*args)

    with monkeypatch.context() as patched:
        patched.setattr(issuance_service, "coverage", coverage_once_the_close_was_sent)
        issued = issue(engine, fund, previous)
    closer.join(timeout=30)
    assert issued.total_cents == 15_000
    (closed,) = closes
    assert (closed.already_closed, closed.expired_cents) == (False, 15_000)
    assert credits(engine, household) == 0
    # The other way round: this month closed while an issuance of it is sent.
    refused: list[BaseException] = []

    def issue_this() -> None:
        try:
            issue(engine, fund, THIS)
        except PeriodNotIssuable as error:
            refused.append(error)

    issuer = threading.Thread(target=issue_this)
    real_policy_for = close_module.policy_for

    def policy_for_once_the_issuance_was_sent(**kwargs: Any) -> Any:
        issuer.start()
        issuer.join(timeout=2)
        assert issuer.is_alive()  # waiting on the fund's row
        return real_policy_for(**kwargs)

    monkeypatch.setattr(close_module, "policy_for", policy_for_once_the_issuance_was_sent)
    close(engine, fund, THIS)
    issuer.join(timeout=30)
    assert len(refused) == 1
    assert credits(engine, household) == 0
    assert books_clean(engine, fund)
