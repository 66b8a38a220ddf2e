"""Who sees a household: its members and the fund's coordinator, no one else; the search list."""

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import People
from tests.households.helpers import (
    adults,
    household_body,
    new_fund,
    new_outlet,
    person,
    register,
    unique_email,
)


def with_member(
    client: TestClient, people: People, fund_id: uuid.UUID, coordinator: dict[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    created = register(
        client,
        fund_id,
        coordinator,
        household_body([person("Noémie", "Brossard", email=unique_email()), person()]),
    )
    user_id = next(p["user_id"] for p in created["persons"] if p.get("user_id"))
    return created, people.headers(uuid.UUID(user_id))


def test_members_and_the_coordinator_see_identity_and_resources(
    client: TestClient, people: People
) -> None:
    fund_id = new_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    household, member = with_member(client, people, fund_id, coordinator)
    for caller in (coordinator, member):
        seen = client.get(f"/api/v1/households/{household['id']}", headers=caller)
        assert seen.status_code == 200
        body = seen.json()
        assert body["declared"] == household["declared"]
        assert {p["family_name"] for p in body["persons"]} == {"Brossard", "Martin"}
        assert body["address"]["city"] == "Bordeaux"


def test_no_one_else_sees_a_household(client: TestClient, people: People) -> None:
    fund_id = new_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    household, _ = with_member(client, people, fund_id, coordinator)
    _, other_member = with_member(client, people, fund_id, coordinator)
    url = f"/api/v1/households/{household['id']}"
    callers = {
        "treasurer": people.as_(("treasurer", fund_id)),
        "auditor": people.as_(("auditor", fund_id)),
        "admin": people.as_(("admin", None)),
        "other coordinator": people.as_(("coordinator", new_fund(client, people))),
        "cashier": people.as_(("cashier", new_outlet(client, coordinator))),
        "manager": people.as_(("manager", new_outlet(client, coordinator))),
        "member of another household": other_member,
        "no role": people.as_(),
    }
    for who, caller in callers.items():
        for path in ("", "/account", "/transactions"):
            refused = client.get(url + path, headers=caller)
            assert refused.status_code == 403, (who, path)
            assert refused.json()["code"] == "forbidden"
            assert "Brossard" not in refused.text
    assert client.get(url).status_code == 401
    missing = client.get(f"/api/v1/households/{uuid.uuid4()}", headers=coordinator)
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    malformed = client.get("/api/v1/households/not-an-id", headers=coordinator)
    assert malformed.status_code == 422


def test_a_person_who_left_loses_access(client: TestClient, people: People) -> None:
    fund_id = new_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    household, member = with_member(client, people, fund_id, coordinator)
    remaining = next(p for p in household["persons"] if not p.get("user_id"))
    url = f"/api/v1/households/{household['id']}"
    patched = client.patch(
        url, json={"persons": [{**person(), "id": remaining["id"]}]}, headers=coordinator
    )
    assert patched.status_code == 200, patched.text
    assert client.get(url, headers=member).status_code == 403


def test_the_list_is_for_the_coordinator(client: TestClient, people: People) -> None:
    fund_id = new_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    _, member = with_member(client, people, fund_id, coordinator)
    url = f"/api/v1/funds/{fund_id}/households"
    for caller in (
        member,
        people.as_(("treasurer", fund_id)),
        people.as_(("auditor", fund_id)),
        people.as_(("admin", None)),
        people.as_(("coordinator", new_fund(client, people))),
    ):
        assert client.get(url, headers=caller).status_code == 403
    assert client.get(url).status_code == 401


def test_search_by_family_name_member_number_and_status(client: TestClient, people: People) -> None:
    fund_id = new_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    other_fund = new_fund(client, people)
    register(
        client,
        other_fund,
        people.as_(("coordinator", other_fund)),
        household_body([person("Hors", "Lemarchand")]),
    )
    lemarchand = register(
        client, fund_id, coordinator, household_body([person("Rose", "Lemarchand")])
    )
    durand = register(client, fund_id, coordinator, household_body(adults(2, "Durand")))
    suspended = register(client, fund_id, coordinator, household_body([person("Yo", "Petit")]))
    patched = client.patch(
        f"/api/v1/households/{suspended['id']}", json={"status": "suspended"}, headers=coordinator
    )
    assert patched.status_code == 200
    url = f"/api/v1/funds/{fund_id}/households"

    def ids(**params: str) -> list[str]:
        response = client.get(url, params=params, headers=coordinator)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert sorted(ids()) == sorted([lemarchand["id"], durand["id"], suspended["id"]])
    assert ids(q="lemarch") == [lemarchand["id"]]  # not the other fund's Lemarchand
    assert ids(q="DURAND") == [durand["id"]]
    assert ids(q=durand["member_number"]) == [durand["id"]]
    assert ids(q=durand["member_number"].lower()) == [durand["id"]]
    assert ids(status="suspended") == [suspended["id"]]
    assert sorted(ids(status="active")) == sorted([lemarchand["id"], durand["id"]])
    assert ids(status="active", q="petit") == []
    assert ids(q="nobody-has-this-name") == []
    summary = client.get(url, params={"q": "durand"}, headers=coordinator).json()["items"][0]
    assert summary["member_number"] == durand["member_number"]
    assert summary["persons"] == 2
    assert summary["family_names"] == ["Durand"]
    assert summary["status"] == "active"
    bad = client.get(url, params={"status": "gone"}, headers=coordinator)
    assert bad.status_code == 422
    assert bad.json()["code"] == "validation_error"
    # Left empty, as the contract writes them (`?status=&q=`): no filter.
    assert sorted(ids(status="", q="")) == sorted(ids())


@pytest.mark.parametrize("limit", [1, 2, 3, 7])
def test_pages_return_every_household_once(client: TestClient, people: People, limit: int) -> None:
    fund_id = new_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    created = {register(client, fund_id, coordinator)["id"] for _ in range(7)}
    seen: list[str] = []
    cursor = None
    for _ in range(20):
        params: dict[str, Any] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        page = client.get(
            f"/api/v1/funds/{fund_id}/households", params=params, headers=coordinator
        ).json()
        assert len(page["items"]) <= limit
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(created)
    assert len(seen) == len(set(seen))
    for bad in ({"limit": 0}, {"limit": 501}, {"cursor": "!!!"}, {"cursor": "WyJ4IiwgInkiXQ=="}):
        refused = client.get(f"/api/v1/funds/{fund_id}/households", params=bad, headers=coordinator)
        assert refused.status_code == 422, bad
        assert refused.json()["code"] == "validation_error"
        assert refused.json()["errors"][0]["loc"] == ["query", *bad], refused.json()
    # An empty cursor (a client writing the last page's null so) is the first page.
    first = client.get(
        f"/api/v1/funds/{fund_id}/households", params={"cursor": ""}, headers=coordinator
    )
    assert first.status_code == 200
    assert len(first.json()["items"]) == min(50, len(created))
