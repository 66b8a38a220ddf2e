"""The PIN typed at the till: who may set it, what is stored, and unlocking it."""

import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from ssa.households.models import Household
from ssa.timeutil import utcnow
from tests.conftest import People
from tests.households.helpers import (
    household_body,
    new_fund,
    new_outlet,
    person,
    register,
    unique_email,
)


def registered_with_member(
    client: TestClient, people: People, fund_id: uuid.UUID, coordinator: dict[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """A household with one person who has a login, and that person's headers."""
    created = register(client, fund_id, coordinator, household_body([person(email=unique_email())]))
    return created, people.headers(uuid.UUID(created["persons"][0]["user_id"]))


def stored(engine: Engine, household_id: str) -> Household:
    with Session(engine, expire_on_commit=False) as db_session:
        household = db_session.get(Household, uuid.UUID(household_id))
        assert household is not None
        return household


def test_a_member_and_the_coordinator_set_the_pin(
    client: TestClient, people: People, engine: Engine
) -> None:
    fund_id = new_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    household, member = registered_with_member(client, people, fund_id, coordinator)
    url = f"/api/v1/households/{household['id']}/pin"
    assert household["pin_set"] is False
    by_member = client.put(url, json={"pin": "2468"}, headers=member)
    assert by_member.status_code == 204
    assert by_member.content == b""
    first = stored(engine, household["id"])
    assert client.put(url, json={"pin": "1357"}, headers=coordinator).status_code == 204
    second = stored(engine, household["id"])
    assert second.pin_hash != first.pin_hash
    assert client.get(f"/api/v1/households/{household['id']}", headers=member).json()["pin_set"]


def test_others_may_not_set_the_pin(client: TestClient, people: People) -> None:
    fund_id = new_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    household, _ = registered_with_member(client, people, fund_id, coordinator)
    _, other_member = registered_with_member(client, people, fund_id, coordinator)
    url = f"/api/v1/households/{household['id']}/pin"
    callers = [
        other_member,
        people.as_(("treasurer", fund_id)),
        people.as_(("auditor", fund_id)),
        people.as_(("admin", None)),
        people.as_(("coordinator", new_fund(client, people))),
        people.as_(("cashier", new_outlet(client, coordinator))),
    ]
    for caller in callers:
        refused = client.put(url, json={"pin": "1234"}, headers=caller)
        assert refused.status_code == 403
        assert refused.json()["code"] == "forbidden"
    anonymous = client.put(url, json={"pin": "1234"})
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "unauthenticated"
    missing = client.put(
        f"/api/v1/households/{uuid.uuid4()}/pin", json={"pin": "1234"}, headers=coordinator
    )
    assert missing.status_code == 404
    assert (
        client.get(f"/api/v1/households/{household['id']}", headers=coordinator).json()["pin_set"]
        is False
    )


@pytest.mark.parametrize(
    "body",
    [
        {"pin": "123"},
        {"pin": "12345"},
        {"pin": "abcd"},
        {"pin": 1234},
        {"pin": "12 4"},
        {"pin": "١٢٣٤"},  # digits, but not ASCII ones
        {"pin": ""},
        {},
        {"pin": "1234", "extra": True},
    ],
)
def test_malformed_pins_are_422(client: TestClient, people: People, body: dict[str, Any]) -> None:
    fund_id = new_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    household = register(client, fund_id, coordinator)
    refused = client.put(
        f"/api/v1/households/{household['id']}/pin", json=body, headers=coordinator
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "validation_error"
    assert refused.json()["errors"]


def test_the_stored_hash_is_salted_and_not_the_pin(
    client: TestClient, people: People, engine: Engine
) -> None:
    fund_id = new_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    households = [register(client, fund_id, coordinator) for _ in range(2)]
    for household in households:
        put = client.put(
            f"/api/v1/households/{household['id']}/pin", json={"pin": "4321"}, headers=coordinator
        )
        assert put.status_code == 204
    one, two = (stored(engine, h["id"]) for h in households)
    assert one.pin_hash is not None
    assert two.pin_hash is not None
    assert "4321" not in one.pin_hash
    assert one.pin_hash != two.pin_hash
    assert one.pin_salt != two.pin_salt


def test_the_coordinator_unlocks_a_locked_pin(
    client: TestClient, people: People, engine: Engine
) -> None:
    fund_id = new_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    household, member = registered_with_member(client, people, fund_id, coordinator)
    url = f"/api/v1/households/{household['id']}"
    assert client.put(f"{url}/pin", json={"pin": "9876"}, headers=member).status_code == 204
    with Session(engine) as db_session:
        row = db_session.get(Household, uuid.UUID(household["id"]))
        assert row is not None
        row.pin_failures = 5
        row.pin_locked_until = utcnow() + timedelta(minutes=15)
        db_session.add(row)
        db_session.commit()
    assert client.get(url, headers=coordinator).json()["pin_locked_until"] is not None
    for caller in (member, people.as_(("treasurer", fund_id)), people.as_(("auditor", fund_id))):
        assert client.post(f"{url}/pin/unlock", headers=caller).status_code == 403
    assert client.post(f"{url}/pin/unlock").status_code == 401
    unlocked = client.post(f"{url}/pin/unlock", headers=coordinator)
    assert unlocked.status_code == 204
    after = stored(engine, household["id"])
    assert after.pin_failures == 0
    assert after.pin_locked_until is None
    assert after.pin_hash is not None  # the PIN itself is kept
    assert client.get(url, headers=coordinator).json()["pin_locked_until"] is None
