"""Issuing a period: eligibility, at-most-once, dry runs, coverage, prorata, dormancy."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from ssa.db import make_engine, unit_of_work
from ssa.funds.models import Fund
from ssa.funds.service import FUND_TIMEZONE, fund_today
from ssa.issuance import periods
from ssa.issuance.close import close_period
from ssa.issuance.models import HouseholdIssuance
from ssa.issuance.service import (
    InsufficientCoverage,
    IssuanceSummary,
    PeriodNotIssuable,
    issue_period,
)
from ssa.ledger.check import check_ledger
from ssa.ledger.models import LedgerTransaction
from ssa.settings import Settings
from ssa.timeutil import clock_at
from tests.issuance.helpers import (
    ADULT,
    NEXT,
    PREVIOUS,
    THIS,
    add_household,
    credits,
    make_fund,
    pay,
    set_household,
    waive_period,
)


def issue(
    engine: Engine, fund: Fund, period: str = THIS, *, dry_run: bool = False
) -> IssuanceSummary:
    with unit_of_work(engine) as session:
        return issue_period(db_session=session, fund_id=fund.id, period=period, dry_run=dry_run)


def reasons(summary: IssuanceSummary) -> dict[str, str]:
    return {item["household_id"]: item["reason"] for item in summary.skipped}


def books_clean(engine: Engine, fund: Fund) -> bool:
    with Session(engine) as session:
        return all(r.ok for r in check_ledger(db_session=session, fund_id=fund.id))


def issuance_rows(engine: Engine, fund: Fund) -> int:
    with Session(engine) as session:
        return int(
            session.exec(
                select(func.count())
                .select_from(HouseholdIssuance)
                .where(  # type: ignore[call-overload]
                    col(HouseholdIssuance.fund_id) == fund.id
                )
            ).scalar_one()
        )


def test_every_eligible_household_gets_its_allowance_once(engine: Engine) -> None:
    fund = make_fund(engine)
    one = add_household(engine, fund)
    three = add_household(engine, fund, [ADULT, ADULT, date(2015, 3, 1)])
    first = issue(engine, fund)
    assert (first.households_issued, first.total_cents) == (2, 15_000 + 30_000)
    assert (credits(engine, one), credits(engine, three)) == (15_000, 30_000)

    again = issue(engine, fund)
    assert (again.households_issued, again.total_cents) == (0, 0)
    assert reasons(again) == {str(one.id): "already_issued", str(three.id): "already_issued"}

    late = add_household(engine, fund, [ADULT, ADULT])
    rerun = issue(engine, fund)
    assert (rerun.households_issued, rerun.total_cents) == (1, 22_500)
    assert credits(engine, late) == 22_500
    assert (credits(engine, one), credits(engine, three)) == (15_000, 30_000)
    assert issuance_rows(engine, fund) == 3
    assert books_clean(engine, fund)


def test_a_dry_run_shows_the_same_and_writes_nothing(engine: Engine) -> None:
    fund = make_fund(engine)
    household = add_household(engine, fund)
    add_household(engine, fund, paid=())
    dry = issue(engine, fund, dry_run=True)
    assert dry.dry_run
    assert (dry.households_issued, dry.total_cents) == (1, 15_000)
    assert list(reasons(dry).values()) == ["contribution_unpaid"]
    assert issuance_rows(engine, fund) == 0
    assert credits(engine, household) == 0
    real = issue(engine, fund)
    assert (real.households_issued, real.total_cents, real.skipped) == (1, 15_000, dry.skipped)


def test_the_database_refuses_a_claim_in_another_fund_than_the_households(
    engine: Engine,
) -> None:
    fund, other = make_fund(engine), make_fund(engine)
    household = add_household(engine, fund)
    transaction_id = issue(engine, fund).transaction_id
    assert transaction_id is not None

    def claim(fund_id: object) -> None:
        with Session(engine) as session:
            session.add(
                HouseholdIssuance(
                    fund_id=fund_id,
                    household_id=household.id,
                    period=NEXT,
                    amount_cents=15_000,
                    transaction_id=transaction_id,
                )
            )
            session.commit()

    with pytest.raises(IntegrityError):
        claim(other.id)
    claim(fund.id)  # the same row in the household's own fund is taken
    assert issuance_rows(engine, fund) == 2
    assert issuance_rows(engine, other) == 0


@pytest.mark.slow
def test_two_runs_at_the_same_moment_issue_once(database_url: str, engine: Engine) -> None:
    fund = make_fund(engine)
    households = [add_household(engine, fund, [ADULT] * (1 + i % 3)) for i in range(12)]
    second = make_engine(Settings(database_url=database_url, database_pool_size=4))
    start = threading.Barrier(2)

    def run(target: Engine) -> IssuanceSummary:
        start.wait(timeout=30)
        return issue(target, fund)

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(run, [engine, second]))
    finally:
        second.dispose()
    assert sorted(r.households_issued for r in results) == [0, 12]
    expected = sum(15_000 + 7_500 * (i % 3) for i in range(12))
    assert sum(r.total_cents for r in results) == expected
    assert sum(credits(engine, h) for h in households) == expected
    assert issuance_rows(engine, fund) == 12
    with Session(engine) as session:
        runs = session.exec(
            select(func.count())
            .select_from(LedgerTransaction)
            .where(  # type: ignore[call-overload]
                col(LedgerTransaction.fund_id) == fund.id, col(LedgerTransaction.kind) == "issuance"
            )
        ).scalar_one()
    assert runs == 1
    assert books_clean(engine, fund)


def test_a_second_run_during_a_first_finds_its_claims_not_a_false_coverage_refusal(
    database_url: str, engine: Engine
) -> None:
    """The bank covers one month of credits, not two: a second run of the same month
    started while the first computes (another process, a timer run twice) waits for it and
    issues nothing; it used to check its stale list of candidates against a coverage that
    already counted the first run's credits, and fail with insufficient_coverage."""
    fund = make_fund(engine, grant_cents=270_000)
    households = [add_household(engine, fund, [ADULT] * (1 + i % 3)) for i in range(12)]
    expected = sum(15_000 + 7_500 * (i % 3) for i in range(12))  # 270,000: the grant
    second = make_engine(Settings(database_url=database_url, database_pool_size=4))
    outcome: list[object] = []

    def run_second() -> None:
        try:
            outcome.append(issue(second, fund))
        except Exception as exc:  # what failed is the assertion message
            outcome.append(exc)

    try:
        with unit_of_work(engine) as session:
            first = issue_period(db_session=session, fund_id=fund.id, period=THIS)
            runner = threading.Thread(target=run_second)
            runner.start()
            runner.join(timeout=2)  # the second run is under way, waiting on the first
        runner.join(timeout=60)
    finally:
        second.dispose()
    assert first.households_issued == 12
    (result,) = outcome
    assert isinstance(result, IssuanceSummary), result
    assert (result.households_issued, result.total_cents) == (0, 0)
    assert sum(credits(engine, h) for h in households) == expected
    assert books_clean(engine, fund)


def test_issuance_that_would_break_coverage_is_refused(engine: Engine) -> None:
    fund = make_fund(engine, grant_cents=0)  # contributions only: 2 × 10.00 € in the bank
    add_household(engine, fund, paid=(THIS,))
    add_household(engine, fund, paid=(THIS,))
    preview = issue(engine, fund, dry_run=True)
    assert not preview.coverage_ok
    assert (preview.households_issued, preview.bank_cents) == (2, 2_000)
    with pytest.raises(InsufficientCoverage) as refused:
        issue(engine, fund)
    assert refused.value.code == "insufficient_coverage"
    assert refused.value.extra["bank_cents"] == 2_000
    assert issuance_rows(engine, fund) == 0
    uncovered = make_fund(engine, grant_cents=0, require_coverage=False)
    add_household(engine, uncovered, paid=(THIS,))
    assert issue(engine, uncovered).households_issued == 1


def test_contributions_within_the_grace_and_waivers(engine: Engine) -> None:
    fund = make_fund(engine)  # grace: 1 unpaid period tolerated
    paid_before = add_household(engine, fund, paid=(PREVIOUS,))
    paid_now = add_household(engine, fund, paid=(THIS,))
    unpaid = add_household(engine, fund, paid=())
    waived = add_household(engine, fund, paid=(PREVIOUS,))
    waive_period(engine, fund, waived, THIS)
    waived_both = add_household(engine, fund, paid=())
    waive_period(engine, fund, waived_both, PREVIOUS)
    underpaid = add_household(engine, fund, paid=(), chosen_cents=2_000)
    newcomer = add_household(engine, fund, paid=(), joined_on=fund_today())
    summary = issue(engine, fund)
    assert reasons(summary) == {
        str(unpaid.id): "contribution_unpaid",
        str(underpaid.id): "contribution_unpaid",
    }
    for household in (paid_before, paid_now, waived, waived_both, newcomer):
        assert credits(engine, household) > 0


def test_a_period_is_paid_when_its_contributions_add_up_to_the_chosen_amount(
    engine: Engine,
) -> None:
    fund = make_fund(engine)  # grace: 1 unpaid period tolerated
    in_two_parts = add_household(engine, fund, paid=(), chosen_cents=2_000)
    short_twice = add_household(engine, fund, paid=(), chosen_cents=2_000)
    short_then_waived = add_household(engine, fund, paid=(), chosen_cents=2_000)
    with Session(engine) as session:
        pay(session, fund, in_two_parts, THIS, 1_200)
        pay(session, fund, in_two_parts, THIS, 800)
        pay(session, fund, short_twice, PREVIOUS, 1_999)
        pay(session, fund, short_twice, THIS, 1_999)
        pay(session, fund, short_then_waived, PREVIOUS, 1_000)
        session.commit()
    waive_period(engine, fund, short_then_waived, THIS)
    summary = issue(engine, fund)
    assert reasons(summary) == {str(short_twice.id): "contribution_unpaid"}
    assert credits(engine, in_two_parts) == credits(engine, short_then_waived) == 15_000


def test_suspended_left_and_dormant_households(engine: Engine) -> None:
    fund = make_fund(engine, dormancy_periods=3)
    active = add_household(engine, fund)
    suspended = add_household(engine, fund)
    left = add_household(engine, fund)
    dormant = add_household(engine, fund, joined_on=date(2024, 1, 1))
    spender = add_household(engine, fund, joined_on=date(2024, 1, 1))
    set_household(engine, suspended, status="suspended")
    set_household(engine, left, status="left")
    # Spent four months ago: three whole months without spending since. Three months
    # ago: two (this month has only begun). Both hold last month's credits, unspent.
    set_household(engine, dormant, last_spending_period=periods.shift(THIS, -4))
    set_household(engine, spender, last_spending_period=periods.shift(THIS, -3))
    assert issue(engine, fund, PREVIOUS).skipped == [
        {"household_id": str(suspended.id), "reason": "suspended"}
    ]
    summary = issue(engine, fund)
    assert reasons(summary) == {str(suspended.id): "suspended", str(dormant.id): "dormant"}
    assert credits(engine, active) == credits(engine, spender) == 30_000
    assert credits(engine, dormant) == 15_000
    never = make_fund(engine, dormancy_periods=0)
    add_household(engine, never, joined_on=date(2020, 1, 1))
    assert issue(engine, never).households_issued == 1


def test_households_that_never_spent_pause_three_months_after_joining(
    engine: Engine,
) -> None:
    fund = make_fund(engine, dormancy_periods=3)
    joined_three = periods.first_day(periods.shift(THIS, -3))
    joined_two = periods.first_day(periods.shift(THIS, -2))
    idle = add_household(engine, fund, joined_on=joined_three)  # three whole months
    recent = add_household(engine, fund, joined_on=joined_two)  # two
    assert issue(engine, fund, PREVIOUS).households_issued == 2
    summary = issue(engine, fund)
    assert reasons(summary) == {str(idle.id): "dormant"}
    assert credits(engine, recent) == 30_000


def test_a_household_with_nothing_to_spend_is_never_dormant(engine: Engine) -> None:
    """Credits pause while credits are left unspent: a household that never received any
    (months unpaid), or whose credits expired at a close, could not have spent; paused,
    it could never come back."""
    fund = make_fund(engine, dormancy_periods=3, rollover="none")
    # Joined four months ago, paid only last month and this one: never issued until now.
    late_payer = add_household(engine, fund, joined_on=periods.first_day(periods.shift(THIS, -4)))
    summary = issue(engine, fund)
    assert reasons(summary) == {}
    assert credits(engine, late_payer) == 15_000
    # Unspent, they make it dormant next month; once they expired at the close, it is not.
    assert reasons(issue(engine, fund, NEXT, dry_run=True)) == {str(late_payer.id): "dormant"}
    with unit_of_work(engine) as session:
        close_period(
            db_session=session,
            fund_id=fund.id,
            period=THIS,
            today=periods.first_day(NEXT),
        )
    assert credits(engine, late_payer) == 0
    assert reasons(issue(engine, fund, NEXT, dry_run=True)) == {}


def test_prorata_first_period_and_the_minimum(engine: Engine) -> None:
    fund = make_fund(engine, first_period="prorata", min_issuance_cents=1_000)
    days = periods.days_in(THIS)
    start = periods.first_day(THIS)
    early = add_household(engine, fund, joined_on=start)
    mid = add_household(engine, fund, joined_on=start.replace(day=11))
    last_day = add_household(engine, fund, joined_on=start.replace(day=days))
    veteran = add_household(engine, fund, joined_on=date(2023, 2, 1))
    set_household(engine, veteran, last_spending_period=PREVIOUS)
    summary = issue(engine, fund)
    assert credits(engine, early) == 15_000
    assert credits(engine, mid) == 15_000 * (days - 10) // days
    assert credits(engine, veteran) == 15_000
    # One day of 150 € is under 10 €: not issued.
    assert reasons(summary) == {str(last_day.id): "below_minimum"}
    full = make_fund(engine, first_period="full")
    assert credits(engine, add_household(engine, full, joined_on=start.replace(day=days))) == 0
    issue(engine, full)


def test_a_prorata_amount_is_rounded_down_to_the_cent_on_both_engines(engine: Engine) -> None:
    """Integer cents, rounded down: PostgreSQL's EXTRACT is numeric, and a numeric division
    rounded on the way into the column gave a cent more than on SQLite."""
    base = 15_001
    fund = make_fund(engine, first_period="prorata", allowance_base_cents=base)
    days = periods.days_in(THIS)
    # A joining day whose share has a fraction of at least half a cent (rounding up differs).
    day = next(d for d in range(2, days) if 2 * (base * (days - d + 1) % days) >= days)
    household = add_household(engine, fund, joined_on=periods.first_day(THIS).replace(day=day))
    issue(engine, fund)
    assert credits(engine, household) == base * (days - day + 1) // days


def test_periods_that_cannot_be_issued(engine: Engine) -> None:
    fund = make_fund(engine)
    add_household(engine, fund)
    with pytest.raises(PeriodNotIssuable):
        issue(engine, fund, periods.shift(THIS, 2))
    assert issue(engine, fund, NEXT, dry_run=True).period == NEXT


def test_a_household_is_not_owed_the_months_before_it_joined(engine: Engine) -> None:
    """A late run (late payers) does not reach households that joined after the month:
    they are not the fund's members then, so neither issued nor listed as skipped."""
    fund = make_fund(engine)
    member = add_household(engine, fund)  # joined last month
    newcomer = add_household(engine, fund, joined_on=periods.first_day(THIS), paid=(THIS,))
    late = issue(engine, fund, PREVIOUS)
    assert late.households_issued == 1
    assert late.skipped == []
    assert credits(engine, member) == 15_000
    assert credits(engine, newcomer) == 0
    long_ago = issue(engine, fund, "2020-01")
    assert (long_ago.households_issued, long_ago.skipped) == (0, [])
    assert issue(engine, fund).households_issued == 2  # this month: both
    assert credits(engine, newcomer) == 15_000
    assert books_clean(engine, fund)


def test_the_months_follow_the_funds_calendar_not_utc(engine: Engine) -> None:
    """At 00:30 in Paris on the 1st it is still the month before in UTC: a household
    registered then joins the new month, which can be issued, and the month that just
    ended can be closed."""
    new_month = periods.first_day(NEXT)
    just_after_midnight = datetime.combine(new_month, time(0, 30), tzinfo=FUND_TIMEZONE)
    assert just_after_midnight.astimezone(UTC).month != new_month.month
    fund = make_fund(engine)
    with clock_at(just_after_midnight):
        assert fund_today() == new_month
        household = add_household(engine, fund, registered_today=True, paid=(NEXT,))
        assert (household.joined_on, household.joined_period) == (new_month, NEXT)
        # The month after the new one is "next month" now: it can be issued.
        ahead = issue(engine, fund, periods.shift(NEXT, 1), dry_run=True)
        assert ahead.households_issued == 1
        with unit_of_work(engine) as session:
            summary = close_period(db_session=session, fund_id=fund.id, period=THIS)
        assert not summary.already_closed
