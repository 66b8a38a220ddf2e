"""The demo installation (`ssa demo`): its shape, its books, its logins, and a second load."""

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, text
from sqlmodel import Session, col, select

from ssa.app import create_app
from ssa.db import make_engine, unit_of_work
from ssa.demo import DEMO_FUNDS, MEMBER_PIN, PASSWORD, load_demo
from ssa.funds.models import Fund
from ssa.funds.service import current_period
from ssa.households.models import Household, Person
from ssa.households.service import pin_matches
from ssa.issuance.models import HouseholdIssuance
from ssa.ledger.check import check_ledger
from ssa.settings import Settings

pytestmark = pytest.mark.slow

COUNTED = (
    "fund",
    "household",
    "person",
    "contribution",
    "contribution_waiver",
    "household_issuance",
    "ledger_account",
    "ledger_transaction",
    "ledger_posting",
    "user_account",
    "role_grant",
    "audit_entry",
)
LOGIN = re.compile(r"^  (\S+@demo\.ssa\.example)\s+(.+)$")


def _counts(session: Session) -> dict[str, int]:
    return {
        table: int(session.connection().execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
        for table in COUNTED
    }


def test_demo_loads_a_gironde_like_installation_once(
    fresh_database_url: Callable[[], str],
) -> None:
    url = fresh_database_url()
    settings = Settings(database_url=url)
    engine = make_engine(settings)
    try:
        with unit_of_work(engine) as session:
            lines = load_demo(db_session=session, settings=settings)
        period = current_period()
        with Session(engine) as session:
            funds = session.exec(select(Fund)).all()
            assert sorted(f.slug for f in funds) == sorted(f.slug for f in DEMO_FUNDS)
            assert all(f.iban for f in funds)
            households = session.exec(select(func.count()).select_from(Household)).one()
            persons = session.exec(select(func.count()).select_from(Person)).one()
            assert households == 193
            assert 380 <= persons <= 420
            issued = session.exec(
                select(func.count())
                .select_from(HouseholdIssuance)
                .where(col(HouseholdIssuance.period) == period)
            ).one()
            assert 0.9 * households <= issued < households  # most, not those that never paid
            assert all(h.pin_hash for h in session.exec(select(Household)).all())
            results = check_ledger(db_session=session)
            assert all(r.ok for r in results), [r for r in results if not r.ok]
            before = _counts(session)

        logins = {m.group(1): m.group(2) for m in map(LOGIN.match, lines) if m}
        roles = " ".join(logins.values())
        for role in ("administrator", "coordinator", "treasurer", "auditor"):
            assert role in roles
        members = {email: what for email, what in logins.items() if what.startswith("member")}
        assert len(members) == 3
        app = create_app(Settings(database_url=url))
        try:
            with TestClient(app, base_url="http://localhost") as client:
                for email in logins:
                    response = client.post(
                        "/api/v1/auth/token",
                        data={"grant_type": "password", "username": email, "password": PASSWORD},
                    )
                    assert response.status_code == 200, (email, response.text)
                    token = response.json()["access_token"]
                    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
                    assert me.status_code == 200
                    if email in members:
                        assert me.json()["household_id"] is not None
        finally:
            app.state.engine.dispose()

        with Session(engine) as session:
            for what in members.values():
                number = re.search(r"household (\S+)", what)
                assert number is not None
                household = session.exec(
                    select(Household).where(col(Household.member_number) == number.group(1))
                ).one()
                assert pin_matches(settings.secret_key, household, MEMBER_PIN)
                assert session.exec(
                    select(HouseholdIssuance).where(
                        col(HouseholdIssuance.household_id) == household.id,
                        col(HouseholdIssuance.period) == period,
                    )
                ).first()

        with unit_of_work(engine) as session:
            again = load_demo(db_session=session, settings=settings)
        assert "already there" in again[0]
        assert [line for line in again if LOGIN.match(line)] == [
            line for line in lines if LOGIN.match(line)
        ]
        with Session(engine) as session:
            assert _counts(session) == before
    finally:
        engine.dispose()
