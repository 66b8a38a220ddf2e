"""A fund with an accredited outlet and its cashier, and a household with a login, a PIN
and this month's credits; and a page client that logs in and posts forms like a browser."""

import re
import uuid
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from ssa.auth.roles import Role
from ssa.auth.service import create_user, find_user_by_email, grant_role
from ssa.funds.models import Fund
from ssa.households.models import Household, Person
from ssa.households.service import set_pin
from ssa.outlets.models import OutletCategory, OutletStatus
from ssa.outlets.schemas import AddressIn, OutletIn
from ssa.outlets.service import register_outlet, set_status
from ssa.settings import Settings
from tests.issuance.helpers import add_household, make_fund
from tests.issuance.test_issuance import issue
from tests.payments.helpers import IBAN, PIN, valid_siret

PASSWORD = "a long enough password"


@dataclass
class World:
    fund: Fund
    outlet_id: uuid.UUID
    household_id: uuid.UUID
    member_number: str
    member_email: str
    cashier_email: str


def outlet_in(fund_name: str = "Ferme") -> OutletIn:
    return OutletIn(
        name=f"{fund_name} {uuid.uuid4().hex[:6]}",
        siret=valid_siret(uuid.uuid4().int),
        iban=IBAN,
        address=AddressIn(line1="Marché des Capucins", postcode="33800", city="Bordeaux"),
        category=OutletCategory.market_stall,
    )


def add_outlet(
    engine: Engine, fund: Fund, status: OutletStatus = OutletStatus.accredited
) -> uuid.UUID:
    with Session(engine, expire_on_commit=False) as session:
        outlet = register_outlet(
            db_session=session, outlet_in=outlet_in(), actor="system:test", request_id=None
        )
        set_status(
            db_session=session,
            fund_id=fund.id,
            outlet_id=outlet.id,
            status=status,
            actor="system:test",
            decision_reference="AG 2026-01",
        )
        session.commit()
        return outlet.id


def add_user(
    engine: Engine, *, role: Role | None = None, outlet_id: uuid.UUID | None = None
) -> str:
    email = f"{uuid.uuid4().hex[:12]}@example.org"
    with Session(engine, expire_on_commit=False) as session:
        user = create_user(
            db_session=session, email=email, display_name="Camille Test", password=PASSWORD
        )
        if role is not None:
            grant_role(
                db_session=session,
                actor="system:test",
                user_id=user.id,
                role=role,
                outlet_id=outlet_id,
            )
        session.commit()
    return email


def add_member(engine: Engine, fund: Fund, *, pin: str | None = PIN) -> tuple[Household, str]:
    """A one-adult household with a login for its person, a PIN and paid contributions."""
    household = add_household(engine, fund)
    email = add_user(engine)
    with Session(engine, expire_on_commit=False) as session:
        person = session.exec(select(Person).where(col(Person.household_id) == household.id)).one()
        user = find_user_by_email(db_session=session, email=email)
        assert user is not None
        person.user_id = user.id
        session.add(person)
        if pin is not None:
            row = session.get(Household, household.id)
            assert row is not None
            set_pin(db_session=session, household=row, pin=pin, settings=Settings(), actor="t")
        session.commit()
    return household, email


def make_world(engine: Engine) -> World:
    fund = make_fund(engine)
    household, member_email = add_member(engine, fund)
    issue(engine, fund)
    outlet_id = add_outlet(engine, fund)
    cashier_email = add_user(engine, role=Role.cashier, outlet_id=outlet_id)
    return World(
        fund=fund,
        outlet_id=outlet_id,
        household_id=household.id,
        member_number=household.member_number,
        member_email=member_email,
        cashier_email=cashier_email,
    )


# --- Pages as a browser uses them ----------------------------------------------------

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_FORM_KEY = re.compile(r'name="form_key" value="([^"]+)"')
_ALERT = re.compile(r'class="alert alert-error" role="alert">([^<]+)<')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def form_key_of(html: str) -> str:
    found = _FORM_KEY.search(html)
    assert found, "no form key in the page"
    return found.group(1)


def alert_of(html: str) -> str:
    found = _ALERT.search(html)
    assert found, "no error shown"
    return found.group(1).replace("&#39;", "'")


def page_client(app: FastAPI, language: str = "en") -> TestClient:
    return TestClient(
        app,
        base_url="http://localhost",
        raise_server_exceptions=True,
        headers={"Accept-Language": language},
        client=(f"192.0.2.{uuid.uuid4().int % 250 + 1}", 50000),
    )


def log_in(client: TestClient, email: str, password: str = PASSWORD) -> Response:
    page = client.get("/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "next": "/", "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )


def submit(client: TestClient, page_path: str, action: str, **fields: str) -> Response:
    """Open `page_path`, then post its form to `action` with the page's tokens."""
    page = client.get(page_path)
    assert page.status_code == 200, page.text[:300]
    data = {"csrf_token": csrf_of(page.text), **fields}
    if "form_key" not in fields and _FORM_KEY.search(page.text):
        data["form_key"] = form_key_of(page.text)
    return client.post(action, data=data, follow_redirects=False)
