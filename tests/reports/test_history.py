"""The dashboard's series: per period, credits issued and spent as the fund report counts
them, and coverage and runway at the end of each period; the last point is the report's
"now". On both engines."""

from sqlalchemy import Engine
from sqlmodel import Session

from ssa.funds.service import current_period
from ssa.issuance import periods
from ssa.outlets.models import OutletCategory
from ssa.reports.history import MAX_PERIODS, period_series
from ssa.reports.service import coverage_ratio, period_report, runway_periods
from tests.issuance.helpers import NEXT, PREVIOUS, THIS, add_household, make_fund
from tests.issuance.test_issuance import issue
from tests.reports.test_spending import accredited_outlet, spend


def test_each_period_has_the_report_figures_and_the_last_is_now(engine: Engine) -> None:
    fund = make_fund(engine, grant_cents=100_000)
    households = [add_household(engine, fund) for _ in range(2)]
    issue(engine, fund, PREVIOUS)
    issue(engine, fund, THIS)
    issue(engine, fund, NEXT)  # next month's credits, issued ahead
    outlet = accredited_outlet(engine, fund, OutletCategory.bakery)
    spend(engine, households[0], outlet, 2_500)

    with Session(engine) as session:
        series = period_series(db_session=session, fund_id=fund.id, last=THIS, count=4)
        reports = {
            p.period: period_report(db_session=session, fund_id=fund.id, period=p.period)
            for p in series
        }
    assert [p.period for p in series] == [
        periods.shift(THIS, -3),
        periods.shift(THIS, -2),
        PREVIOUS,
        THIS,
    ]
    for point in series:
        assert point.issued_cents == reports[point.period].issued_cents
        assert point.spent_cents == reports[point.period].spent_cents
    assert series[0].issued_cents == 0
    assert series[0].coverage_ratio is None
    assert series[-1].spent_cents == 2_500
    # The last point is the books as they stand now, next month's credits included.
    now = reports[THIS]
    assert series[-1].bank_cents == now.bank_cents
    assert series[-1].coverage_ratio == now.coverage_ratio
    assert series[-1].runway_periods == now.runway_periods
    with Session(engine) as session:
        (alone,) = period_series(db_session=session, fund_id=fund.id, last=THIS, count=1)
    assert alone == series[-1]  # earlier months count through today's balances
    # The month before: this month's and next month's credits not yet owed.
    before = series[-2]
    assert before.owed_cents == before.issued_cents  # only its own credits, unspent
    assert before.coverage_ratio == coverage_ratio(before.bank_cents, before.owed_cents)
    assert before.runway_periods == runway_periods(
        before.bank_cents, before.owed_cents, before.issued_cents
    )


def test_a_past_series_stops_at_its_last_period(engine: Engine) -> None:
    fund = make_fund(engine, grant_cents=50_000)
    add_household(engine, fund)
    issue(engine, fund, PREVIOUS)
    issue(engine, fund, THIS)
    with Session(engine) as session:
        past = period_series(db_session=session, fund_id=fund.id, last=PREVIOUS, count=2)
        longest = period_series(db_session=session, fund_id=fund.id, count=1000)
        default = period_series(db_session=session, fund_id=fund.id)
    assert [p.period for p in past] == [periods.shift(PREVIOUS, -1), PREVIOUS]
    assert past[-1].owed_cents == past[-1].issued_cents  # this month's credits not counted
    assert len(longest) == MAX_PERIODS
    assert len(default) == 12
    assert default[-1].period == current_period()


def test_a_fund_without_books_has_empty_points(engine: Engine) -> None:
    fund = make_fund(engine, grant_cents=0)
    with Session(engine) as session:
        series = period_series(db_session=session, fund_id=fund.id, count=3)
    assert [(p.issued_cents, p.bank_cents, p.coverage_ratio, p.runway_periods) for p in series] == [
        (0, 0, None, None)
    ] * 3


def test_the_runway_counts_a_whole_month_of_credits_not_its_last_run(engine: Engine) -> None:
    """Before next month is issued, its report's runway is at this month's rate: all of this
    month's runs, not the last one alone (a late joiner's credits made it 30 times longer)."""
    fund = make_fund(engine, grant_cents=200_000)
    for _ in range(3):
        add_household(engine, fund)
    issue(engine, fund, THIS)
    add_household(engine, fund)  # a late joiner: a second, smaller run of the month
    issue(engine, fund, THIS)
    with Session(engine) as session:
        this = period_report(db_session=session, fund_id=fund.id, period=THIS)
        ahead = period_report(db_session=session, fund_id=fund.id, period=NEXT)
    assert ahead.issued_cents == 0
    assert this.issued_cents == 4 * 15_000
    assert this.runway_periods is not None
    assert (
        ahead.runway_periods
        == this.runway_periods
        == runway_periods(this.bank_cents, this.outstanding_credits_cents, this.issued_cents)
    )
