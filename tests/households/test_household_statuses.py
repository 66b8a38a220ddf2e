"""One household's contributions month by month: the same statuses as the fund's list."""

from sqlalchemy import Engine
from sqlmodel import Session

from ssa.households.contributions import household_statuses, statuses
from ssa.issuance import periods
from tests.issuance.helpers import PREVIOUS, THIS, add_household, make_fund, waive_period


def test_a_household_reads_as_in_the_funds_list(engine: Engine) -> None:
    fund = make_fund(engine)
    paid = add_household(engine, fund, paid=(PREVIOUS,))
    waived = add_household(engine, fund, paid=())
    waive_period(engine, fund, waived, PREVIOUS)
    before_joining = periods.shift(PREVIOUS, -1)
    with Session(engine) as session:
        for household in (paid, waived):
            mine = household_statuses(
                db_session=session, household=household, periods=[before_joining, PREVIOUS, THIS]
            )
            # Nothing is owed for the months before the household joined; newest first.
            assert [row.period for row in mine] == [THIS, PREVIOUS]
            for row in mine:
                listed = statuses(
                    db_session=session,
                    fund_id=fund.id,
                    period=row.period,
                    limit=500,
                    after_member_number=None,
                )
                assert row in [r for r in listed if r.household_id == household.id]
        assert [
            r.status
            for r in household_statuses(
                db_session=session, household=paid, periods=[PREVIOUS, THIS]
            )
        ] == ["due", "paid"]
        assert (
            household_statuses(db_session=session, household=waived, periods=[PREVIOUS])[0].status
            == "waived"
        )
