"""The report's households and persons are those of its period: joined by then, and still
there at its end. On both engines."""

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from ssa.funds.service import fund_today
from ssa.households.models import Person
from ssa.issuance import periods
from ssa.reports.service import period_report
from tests.issuance.helpers import ADULT, PREVIOUS, THIS, add_household, make_fund


def counts(engine: Engine, fund_id: object, period: str) -> tuple[int, int]:
    with Session(engine) as session:
        report = period_report(db_session=session, fund_id=fund_id, period=period)  # type: ignore[arg-type]
    return report.households_active, report.persons


def test_households_and_persons_of_the_period(engine: Engine) -> None:
    fund = make_fund(engine, grant_cents=0)
    couple = add_household(engine, fund, [ADULT, ADULT])  # joined on the 1st of last month
    add_household(engine, fund, [ADULT], registered_today=True)  # joined this month
    # One of the couple leaves today: counted at the end of last month, not of this one.
    with Session(engine) as session:
        leaving = session.exec(select(Person.id).where(Person.household_id == couple.id)).first()
        session.exec(update(Person).where(col(Person.id) == leaving).values(left_on=fund_today()))
        session.commit()

    assert counts(engine, fund.id, periods.shift(PREVIOUS, -1)) == (0, 0)  # before any joined
    assert counts(engine, fund.id, PREVIOUS) == (1, 2)
    assert counts(engine, fund.id, THIS) == (2, 2)


def test_a_person_added_later_counts_from_the_month_added(engine: Engine) -> None:
    """Persons registered with their household count from its joining; one added later
    counts from the month it was added, not in the months before."""
    from datetime import timedelta

    from ssa.households.models import Household
    from ssa.timeutil import utcnow

    fund = make_fund(engine, grant_cents=0)
    household = add_household(engine, fund, [ADULT])  # joined on the 1st of last month
    with Session(engine) as session:
        # Registered back then (the helper registers today, dated back).
        back_then = utcnow() - timedelta(days=45)
        for table, key in ((Household, Household.id), (Person, Person.household_id)):
            session.exec(update(table).where(col(key) == household.id).values(created_at=back_then))
        session.add(
            Person(
                household_id=household.id,
                fund_id=fund.id,
                given_name="Newborn",
                family_name="Test",
                birth_date=fund_today(),
            )
        )
        session.commit()

    assert counts(engine, fund.id, PREVIOUS) == (1, 1)
    assert counts(engine, fund.id, THIS) == (1, 2)
