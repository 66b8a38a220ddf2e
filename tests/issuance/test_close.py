"""Closing a period: each rollover mode, once only, and what it forbids afterwards."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from ssa.db import make_engine, unit_of_work
from ssa.funds.models import Fund
from ssa.issuance import periods
from ssa.issuance.close import CloseSummary, PeriodNotClosable, close_period
from ssa.issuance.service import PeriodNotIssuable
from ssa.settings import Settings
from tests.issuance.helpers import ADULT, THIS, add_household, credits, make_fund
from tests.issuance.test_issuance import books_clean, issue


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
