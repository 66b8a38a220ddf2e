"""A changed contribution applies from a month on; the months before owe what they owed."""

from sqlalchemy import Engine
from sqlmodel import Session, select

from ssa.funds.models import Fund
from ssa.households.contributions import correct_contribution, household_statuses, statuses
from ssa.households.models import Contribution, ContributionChange, Household
from ssa.households.schemas import HouseholdPatch
from ssa.households.service import update
from ssa.issuance import periods
from ssa.settings import Settings
from tests.issuance.helpers import NEXT, PREVIOUS, THIS, add_household, make_fund, pay
from tests.issuance.test_issuance import issue, reasons


def change(engine: Engine, household: Household, cents: int) -> None:
    with Session(engine, expire_on_commit=False) as session:
        current = session.get(Household, household.id)
        assert current is not None
        update(
            db_session=session,
            household=current,
            patch=HouseholdPatch(chosen_contribution_cents=cents),
            actor="system:test",
            settings=Settings(),
        )
        session.commit()


def owed(engine: Engine, household: Household) -> dict[str, tuple[int, int, str]]:
    """Per month from last to next: (due, paid, status)."""
    with Session(engine) as session:
        current = session.get(Household, household.id)
        assert current is not None
        rows = household_statuses(
            db_session=session, household=current, periods=[PREVIOUS, THIS, NEXT]
        )
    return {r.period: (r.due_cents, r.paid_cents, r.status) for r in rows}


def test_a_raise_after_paying_applies_from_next_month(engine: Engine) -> None:
    fund = make_fund(engine)
    household = add_household(engine, fund, chosen_cents=1_000)  # paid last and this month
    change(engine, household, 2_000)
    assert owed(engine, household) == {
        PREVIOUS: (1_000, 1_000, "paid"),
        THIS: (1_000, 1_000, "paid"),
        NEXT: (2_000, 0, "due"),
    }
    # The issuance counts the months as paid too: this month, and next month within the
    # grace (before: both short of 2,000, so skipped as contribution_unpaid).
    assert issue(engine, fund).households_issued == 1
    ahead = issue(engine, fund, NEXT, dry_run=True)
    assert (ahead.households_issued, ahead.skipped) == (1, [])
    with Session(engine) as session:
        listed = statuses(
            db_session=session, fund_id=fund.id, period=THIS, limit=10, after_member_number=None
        )
    assert [(s.due_cents, s.status) for s in listed] == [(1_000, "paid")]


def test_a_cut_before_paying_applies_from_this_month(engine: Engine) -> None:
    fund = make_fund(engine)
    household = add_household(engine, fund, chosen_cents=2_000, paid=())
    with Session(engine) as session:
        pay(session, fund, household, PREVIOUS, 1_000)  # half of last month
        session.commit()
    change(engine, household, 1_000)
    assert owed(engine, household) == {
        PREVIOUS: (2_000, 1_000, "late"),  # still short: was settled at 1,000 before
        THIS: (1_000, 0, "due"),
        NEXT: (1_000, 0, "due"),
    }
    skipped = issue(engine, fund, dry_run=True)
    assert reasons(skipped) == {str(household.id): "contribution_unpaid"}


def test_changes_the_same_month_keep_what_the_months_before_owed(engine: Engine) -> None:
    fund = make_fund(engine)
    household = add_household(engine, fund, chosen_cents=1_000)
    change(engine, household, 2_000)
    change(engine, household, 3_000)
    change(engine, household, 3_000)  # no change, nothing recorded
    assert owed(engine, household)[THIS] == (1_000, 1_000, "paid")
    assert owed(engine, household)[NEXT] == (3_000, 0, "due")
    with Session(engine) as session:
        rows = session.exec(
            select(ContributionChange).where(ContributionChange.household_id == household.id)
        ).all()
    assert [(r.from_period, r.previous_cents) for r in rows] == [(NEXT, 1_000)]


def test_a_change_in_the_month_of_joining_rewrites_nothing(engine: Engine) -> None:
    """A typo fixed the day of registering: the new amount is the only one."""
    fund: Fund = make_fund(engine)
    household = add_household(engine, fund, registered_today=True, chosen_cents=5_000, paid=())
    change(engine, household, 1_000)
    assert owed(engine, household) == {THIS: (1_000, 0, "due"), NEXT: (1_000, 0, "due")}
    with Session(engine) as session:
        assert (
            session.exec(
                select(ContributionChange).where(ContributionChange.household_id == household.id)
            ).all()
            == []
        )


def test_months_that_owed_nothing_are_paid_for_the_issuance(engine: Engine) -> None:
    """A fund whose minimum is 0: a household that chose 0 and then 10 € owes nothing for
    the months before, and is issued (the issuance agrees with the statuses)."""
    fund = make_fund(
        engine,
        contribution_minimum_base_cents=0,
        contribution_minimum_per_extra_person_cents=0,
    )
    household = add_household(engine, fund, chosen_cents=0, paid=())
    change(engine, household, 1_000)  # nothing recorded this month: from this month
    assert owed(engine, household)[PREVIOUS] == (0, 0, "paid")
    assert owed(engine, household)[THIS] == (1_000, 0, "due")
    late = issue(engine, fund, PREVIOUS, dry_run=True)
    assert (late.households_issued, late.skipped) == (1, [])
    this = issue(engine, fund, dry_run=True)  # this month unpaid, within the grace
    assert (this.households_issued, this.skipped) == (1, [])


def test_a_corrected_contribution_is_not_a_month_recorded(engine: Engine) -> None:
    fund = make_fund(engine)
    household = add_household(engine, fund, chosen_cents=5_000, paid=(THIS,))
    with Session(engine) as session:
        recorded = session.exec(
            select(Contribution).where(
                Contribution.household_id == household.id, Contribution.period == THIS
            )
        ).one()
        correct_contribution(
            db_session=session,
            fund_id=fund.id,
            contribution_id=recorded.id,
            reason="recorded by mistake",
            actor="system:test",
        )
        session.commit()
    change(engine, household, 1_000)  # nothing left recorded this month: from this month
    assert owed(engine, household)[THIS] == (1_000, 0, "due")
    assert owed(engine, household)[PREVIOUS] == (5_000, 0, "late")


def test_a_month_paid_ahead_keeps_its_amount(engine: Engine) -> None:
    fund = make_fund(engine)
    household = add_household(engine, fund, chosen_cents=1_000, paid=(PREVIOUS, NEXT))
    change(engine, household, 2_000)
    assert owed(engine, household) == {
        PREVIOUS: (1_000, 1_000, "paid"),
        THIS: (1_000, 0, "due"),
        NEXT: (1_000, 1_000, "paid"),
    }
    with Session(engine) as session:
        rows = session.exec(
            select(ContributionChange).where(ContributionChange.household_id == household.id)
        ).all()
    assert [r.from_period for r in rows] == [periods.shift(NEXT, 1)]
