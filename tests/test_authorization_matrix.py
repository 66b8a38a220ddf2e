"""Every endpoint family against every role, through the real app: who may, who may not.

Each later endpoint family adds a row. "ok" means the request got past authorisation
(any answer but 401 and 403; the bodies sent are valid, so it is a 2xx here).
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from ssa.auth.models import OAuthClient
from ssa.auth.tokens import new_secret, secret_hash
from ssa.funds.models import Fund
from ssa.funds.service import create_fund, current_period
from ssa.households.models import Person
from ssa.households.schemas import HouseholdIn
from ssa.households.service import register
from ssa.settings import Settings
from tests.conftest import People

ROLES = [
    "anonymous",
    "terminal",
    "plain_user",
    "admin",
    "coordinator",
    "other_coordinator",
    "treasurer",
    "auditor",
    "member",
    "other_member",
]

OK, NO, ANON = "ok", "forbidden", "unauthenticated"


def _policy(fund: Fund) -> dict[str, Any]:
    return {"effective_period": "2099-01"}


# (family, method, path, body) -> expected per role, in ROLES order.
MATRIX: list[tuple[str, str, str, Callable[[Fund], Any] | None, list[str]]] = [
    ("me", "GET", "/api/v1/me", None, [ANON, OK, OK, OK, OK, OK, OK, OK, OK, OK]),
    (
        "users: create",
        "POST",
        "/api/v1/users",
        lambda f: {"email": f"{uuid.uuid4().hex[:10]}@example.org", "display_name": "New"},
        [ANON, NO, NO, OK, OK, OK, NO, NO, NO, NO],
    ),
    (
        "fund roles: grant",
        "POST",
        "/api/v1/funds/{fund_id}/roles",
        "grant",
        [ANON, NO, NO, OK, OK, NO, NO, NO, NO, NO],
    ),
    (
        "audit log",
        "GET",
        "/api/v1/funds/{fund_id}/audit-log",
        None,
        [ANON, NO, NO, NO, OK, NO, NO, OK, NO, NO],
    ),
    (
        "funds: create",
        "POST",
        "/api/v1/funds",
        lambda f: {
            "slug": f"m-{uuid.uuid4().hex[:10]}",
            "name": "Matrix fund",
            "iban": "FR7630006000011234567890189",
        },
        [ANON, NO, NO, OK, NO, NO, NO, NO, NO, NO],
    ),
    ("funds: list", "GET", "/api/v1/funds", None, [ANON, OK, OK, OK, OK, OK, OK, OK, OK, OK]),
    (
        "funds: read",
        "GET",
        "/api/v1/funds/{fund_id}",
        None,
        [ANON, OK, OK, OK, OK, OK, OK, OK, OK, OK],
    ),
    (
        "policy: read",
        "GET",
        "/api/v1/funds/{fund_id}/policy",
        None,
        [ANON, OK, OK, OK, OK, OK, OK, OK, OK, OK],
    ),
    (
        "policy: history",
        "GET",
        "/api/v1/funds/{fund_id}/policy/history",
        None,
        [ANON, OK, OK, OK, OK, OK, OK, OK, OK, OK],
    ),
    (
        "policy: change",
        "PUT",
        "/api/v1/funds/{fund_id}/policy",
        "policy",
        [ANON, NO, NO, NO, OK, NO, NO, NO, NO, NO],
    ),
    (
        "households: register",
        "POST",
        "/api/v1/funds/{fund_id}/households",
        "household",
        [ANON, NO, NO, NO, OK, NO, NO, NO, NO, NO],
    ),
    (
        "households: list",
        "GET",
        "/api/v1/funds/{fund_id}/households",
        None,
        [ANON, NO, NO, NO, OK, NO, NO, NO, NO, NO],
    ),
    (
        "household: read",
        "GET",
        "/api/v1/households/{household_id}",
        None,
        [ANON, NO, NO, NO, OK, NO, NO, NO, OK, NO],
    ),
    (
        "household: change",
        "PATCH",
        "/api/v1/households/{household_id}",
        lambda f: {"chosen_contribution_cents": 1_500},
        [ANON, NO, NO, NO, OK, NO, NO, NO, NO, NO],
    ),
    (
        "household: set PIN",
        "PUT",
        "/api/v1/households/{household_id}/pin",
        lambda f: {"pin": "4321"},
        [ANON, NO, NO, NO, OK, NO, NO, NO, OK, NO],
    ),
    (
        "household: unlock PIN",
        "POST",
        "/api/v1/households/{household_id}/pin/unlock",
        None,
        [ANON, NO, NO, NO, OK, NO, NO, NO, NO, NO],
    ),
    (
        "household: account",
        "GET",
        "/api/v1/households/{household_id}/account",
        None,
        [ANON, NO, NO, NO, OK, NO, NO, NO, OK, NO],
    ),
    (
        "household: transactions",
        "GET",
        "/api/v1/households/{household_id}/transactions",
        None,
        [ANON, NO, NO, NO, OK, NO, NO, NO, OK, NO],
    ),
    (
        "contributions: record",
        "POST",
        "/api/v1/funds/{fund_id}/contributions",
        "contribution",
        [ANON, NO, NO, NO, NO, NO, OK, NO, NO, NO],
    ),
    (
        "contributions: statuses",
        "GET",
        "/api/v1/funds/{fund_id}/contributions?period=2026-01",
        None,
        [ANON, NO, NO, NO, OK, NO, OK, OK, NO, NO],
    ),
    (
        "contributions: waive",
        "POST",
        "/api/v1/funds/{fund_id}/contribution-waivers",
        "waiver",
        [ANON, NO, NO, NO, OK, NO, NO, NO, NO, NO],
    ),
    (
        "grants: record",
        "POST",
        "/api/v1/funds/{fund_id}/grants",
        lambda f: {"funder": "Ville", "amount_cents": 100_000, "received_on": "2026-01-05"},
        [ANON, NO, NO, NO, NO, NO, OK, NO, NO, NO],
    ),
    (
        "issuance: run",
        "POST",
        "/api/v1/funds/{fund_id}/issuances",
        lambda f: {"period": current_period(), "dry_run": True},
        [ANON, NO, NO, NO, NO, NO, OK, NO, NO, NO],
    ),
    (
        "period: close",
        "POST",
        "/api/v1/funds/{fund_id}/periods/2020-01/close",
        None,
        [ANON, NO, NO, NO, NO, NO, OK, NO, NO, NO],
    ),
    (
        "report",
        "GET",
        "/api/v1/funds/{fund_id}/report",
        None,
        [ANON, NO, NO, NO, OK, NO, OK, OK, NO, NO],
    ),
    (
        "ledger check",
        "GET",
        "/api/v1/funds/{fund_id}/ledger/check",
        None,
        [ANON, NO, NO, NO, NO, NO, OK, OK, NO, NO],
    ),
]


@dataclass
class World:
    """A fund with a household whose person logs in, and a caller for every role."""

    headers: dict[str, dict[str, str]]
    household_id: uuid.UUID


@pytest.fixture
def world(client: TestClient, people: People, fund: Fund, engine: Engine) -> World:
    with Session(engine) as session:
        other = create_fund(db_session=session, slug=f"{fund.slug}-o", name="Other fund")
        secret = new_secret()
        terminal = OAuthClient(
            client_id=f"till-{uuid.uuid4().hex[:8]}",
            client_secret_hash=secret_hash(secret),
            label="Till",
            outlet_id=uuid.uuid4(),
        )
        session.add(terminal)
        session.commit()
        other_id, terminal_id = other.id, terminal.client_id
    token = client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": terminal_id,
            "client_secret": secret,
        },
    ).json()["access_token"]
    member, other_member = (_household_member(engine, fund_id) for fund_id in (fund.id, fund.id))
    headers = {
        "member": people.headers(member[1]),
        "other_member": people.headers(other_member[1]),
        "anonymous": {},
        "terminal": {"Authorization": f"Bearer {token}"},
        "plain_user": people.as_(),
        "admin": people.as_(("admin", None)),
        "coordinator": people.as_(("coordinator", fund.id)),
        "other_coordinator": people.as_(("coordinator", other_id)),
        "treasurer": people.as_(("treasurer", fund.id)),
        "auditor": people.as_(("auditor", fund.id)),
    }
    return World(headers=headers, household_id=member[0])


def _household_member(engine: Engine, fund_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    """A household of the fund whose one person has a login: (household id, user id)."""
    with Session(engine) as session:
        household, _ = register(
            db_session=session,
            fund_id=fund_id,
            household_in=HouseholdIn.model_validate(_household_body(email=True)),
            actor="system:test",
            settings=Settings(),
        )
        person = session.exec(select(Person).where(col(Person.household_id) == household.id)).one()
        session.commit()
        assert person.user_id is not None
        return household.id, person.user_id


def _household_body(email: bool = False) -> dict[str, Any]:
    person: dict[str, Any] = {
        "given_name": "Alex",
        "family_name": "Martin",
        "birth_date": "1985-04-02",
    }
    if email:
        person["email"] = f"{uuid.uuid4().hex[:10]}@example.org"
    return {
        "persons": [person],
        "address": {"line1": "2 place du Marché", "postcode": "33000", "city": "Bordeaux"},
        "declared": {
            "monthly_income_cents": 110_000,
            "housing_costs_cents": 45_000,
            "other_fixed_costs_cents": 8_000,
            "food_budget_cents": 25_000,
        },
        "chosen_contribution_cents": 1_000,
    }


def _body(kind: object, fund: Fund, client: TestClient, world: World, people: People) -> Any:
    if kind == "household":
        return _household_body()
    if kind == "contribution":
        return {
            "household_id": str(world.household_id),
            "period": current_period(),
            "amount_cents": 1_000,
            "method": "transfer",
            "received_on": "2026-01-05",
        }
    if kind == "waiver":
        return {"household_id": str(world.household_id), "period": "2026-01", "reason": "Hardship"}
    if kind == "grant":
        return {"user_id": str(people.user()), "role": "auditor"}
    if kind == "policy":
        admin = world.headers["admin"]
        current = client.get(f"/api/v1/funds/{fund.id}/policy", headers=admin).json()
        return {**{k: v for k, v in current.items() if k != "effective_period"}, **_policy(fund)}
    if callable(kind):
        return kind(fund)
    return None


@pytest.mark.parametrize(
    ("family", "method", "path", "body", "expected"), MATRIX, ids=[m[0] for m in MATRIX]
)
def test_authorization_matrix(
    client: TestClient,
    people: People,
    fund: Fund,
    world: World,
    family: str,
    method: str,
    path: str,
    body: object,
    expected: list[str],
) -> None:
    outcomes = {}
    for role, want in zip(ROLES, expected, strict=True):
        payload = _body(body, fund, client, world, people)
        headers = {**world.headers[role], "Idempotency-Key": uuid.uuid4().hex}
        url = path.format(fund_id=fund.id, household_id=world.household_id)
        response = client.request(method, url, json=payload, headers=headers)
        got = {401: ANON, 403: NO}.get(response.status_code, OK)
        if got != want or (got == OK and response.status_code >= 400):
            outcomes[role] = f"expected {want}, got {response.status_code}: {response.text[:200]}"
        if got != OK:
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["code"] == got
    assert outcomes == {}, f"{family}: {outcomes}"
