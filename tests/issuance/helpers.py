"""Building funds and households straight through the services, for issuance tests."""

import uuid
from datetime import date
from typing import Any

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from ssa.funds.models import Fund, FundPolicy
from ssa.funds.service import create_fund, current_period, fund_today
from ssa.households.contributions import record_contribution, record_grant, waive
from ssa.households.models import ContributionMethod, Household
from ssa.households.schemas import AddressIn, DeclaredIn, HouseholdIn, PersonIn
from ssa.households.service import register
from ssa.issuance import periods
from ssa.ledger.models import LedgerAccount
from ssa.settings import Settings

THIS = current_period()
PREVIOUS = periods.shift(THIS, -1)
NEXT = periods.shift(THIS, 1)
ADULT = date(1980, 5, 17)


def make_fund(engine: Engine, *, grant_cents: int = 10_000_000, **policy: Any) -> Fund:
    """A fund (gironde preset) with a grant in the bank and `policy` fields overridden."""
    with Session(engine, expire_on_commit=False) as session:
        fund = create_fund(db_session=session, slug=f"i-{uuid.uuid4().hex[:10]}", name="Issuance")
        if policy:
            session.exec(
                update(FundPolicy).where(col(FundPolicy.fund_id) == fund.id).values(**policy)  # type: ignore[call-overload]
            )
        if grant_cents:
            record_grant(
                db_session=session,
                fund_id=fund.id,
                funder="Département",
                amount_cents=grant_cents,
                received_on=fund_today(),
                reference=None,
                actor="system:test",
            )
        session.commit()
        return fund


def add_household(
    engine: Engine,
    fund: Fund,
    births: list[date] | None = None,
    *,
    chosen_cents: int | None = None,
    joined_on: date | None = None,
    paid: tuple[str, ...] = (PREVIOUS, THIS),
    registered_today: bool = False,
) -> Household:
    """A household registered, by default, on the 1st of last month (`registered_today`:
    on the day the service's clock says), having paid `paid`."""
    births = births or [ADULT]
    if chosen_cents is None:  # the gironde minimum for the household's size
        chosen_cents = 1_000 + 500 * (len(births) - 1)
    with Session(engine, expire_on_commit=False) as session:
        household, _ = register(
            db_session=session,
            fund_id=fund.id,
            household_in=HouseholdIn(
                persons=[
                    PersonIn(given_name=f"P{i}", family_name="Test", birth_date=b)
                    for i, b in enumerate(births)
                ],
                address=AddressIn(line1="1 rue du Marché", postcode="33000", city="Bordeaux"),
                declared=DeclaredIn(
                    monthly_income_cents=120_000,
                    housing_costs_cents=50_000,
                    other_fixed_costs_cents=10_000,
                    food_budget_cents=30_000,
                ),
                chosen_contribution_cents=chosen_cents,
            ),
            actor="system:test",
            settings=Settings(),
            today=None if registered_today else joined_on or periods.first_day(PREVIOUS),
        )
        for period in paid:
            pay(session, fund, household, period, chosen_cents)
        session.commit()
        return household


def pay(session: Session, fund: Fund, household: Household, period: str, cents: int) -> None:
    if cents > 0:
        record_contribution(
            db_session=session,
            fund_id=fund.id,
            household_id=household.id,
            period=period,
            amount_cents=cents,
            method=ContributionMethod.transfer,
            received_on=fund_today(),
            actor="system:test",
        )


def waive_period(engine: Engine, fund: Fund, household: Household, period: str) -> None:
    with Session(engine) as session:
        waive(
            db_session=session,
            fund_id=fund.id,
            household_id=household.id,
            period=period,
            reason="hardship",
            actor="system:test",
        )
        session.commit()


def credits(engine: Engine, household: Household) -> int:
    with Session(engine) as session:
        return int(
            session.exec(
                select(LedgerAccount.balance_cents).where(
                    col(LedgerAccount.id) == household.account_id
                )
            ).one()
        )


def set_household(engine: Engine, household: Household, **values: Any) -> None:
    with Session(engine) as session:
        session.exec(update(Household).where(col(Household.id) == household.id).values(**values))  # type: ignore[call-overload]
        session.commit()
