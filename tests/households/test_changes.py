"""Changing a household: composition, resources, contribution, status, and what the log keeps."""

import json
import uuid
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import People
from tests.households.helpers import (
    declared,
    household_body,
    new_fund,
    person,
    register,
    unique_email,
)

# Figures and names no other field of the log could hold by chance.
INCOME = 314159
HOUSING = 27183
NEW_INCOME = 271828
FOOD = 16180


def audit_entries(
    client: TestClient, fund_id: uuid.UUID, auditor: dict[str, str], household_id: str
) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/funds/{fund_id}/audit-log?limit=500", headers=auditor)
    assert response.status_code == 200, response.text
    return [e for e in response.json()["items"] if e["target_id"] == household_id]


def test_changes_are_applied_and_logged_without_private_data(
    client: TestClient, people: People
) -> None:
    fund_id = new_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    auditor = people.as_(("auditor", fund_id))
    email = unique_email()
    created = register(
        client,
        fund_id,
        coordinator,
        household_body(
            [
                person("Zéphyrine", "Quillebeuf", "1979-09-09", email=email),
                person("Anatole", "Quillebeuf", "1981-01-01"),
            ],
            chosen=3000,
            resources=declared(income=INCOME, housing=HOUSING, food=FOOD),
        ),
    )
    household_id = created["id"]
    url = f"/api/v1/households/{household_id}"
    assert created["allowance_cents"] == 15000 + 7500
    zephyrine = next(p for p in created["persons"] if p["given_name"] == "Zéphyrine")
    anatole = next(p for p in created["persons"] if p["given_name"] == "Anatole")
    assert len(audit_entries(client, fund_id, auditor, household_id)) == 1

    # Add a child, drop Anatole (left out of the list), rename Zéphyrine by her id.
    patched = client.patch(
        url,
        json={
            "persons": [
                {**person("Zéphyrine", "Kerbrat-Quillebeuf", "1979-09-09"), "id": zephyrine["id"]},
                person("Ysaline", "Quillebeuf", "2015-06-06"),
                person("Octave", "Quillebeuf", "2018-07-07"),
            ]
        },
        headers=coordinator,
    )
    assert patched.status_code == 200, patched.text
    after = patched.json()
    names = {(p["given_name"], p["family_name"]) for p in after["persons"]}
    assert names == {
        ("Zéphyrine", "Kerbrat-Quillebeuf"),
        ("Ysaline", "Quillebeuf"),
        ("Octave", "Quillebeuf"),
    }
    assert anatole["id"] not in {p["id"] for p in after["persons"]}
    renamed = next(p for p in after["persons"] if p["given_name"] == "Zéphyrine")
    assert renamed["id"] == zephyrine["id"]
    assert renamed["user_id"] == zephyrine["user_id"]  # still her login
    assert after["allowance_cents"] == 15000 + 2 * 7500
    assert after["contribution_minimum_cents"] == 1000 + 2 * 500
    assert (
        sum(x["cents"] + x["child_cents"] for x in after["allowance_explained"])
        == (after["allowance_cents"])
    )

    resources = client.patch(
        url, json={"declared": declared(income=NEW_INCOME, housing=HOUSING)}, headers=coordinator
    )
    assert resources.status_code == 200
    assert resources.json()["declared"]["monthly_income_cents"] == NEW_INCOME

    chosen = client.patch(url, json={"chosen_contribution_cents": 4200}, headers=coordinator)
    assert chosen.status_code == 200
    assert chosen.json()["chosen_contribution_cents"] == 4200
    too_low = client.patch(url, json={"chosen_contribution_cents": 1999}, headers=coordinator)
    assert too_low.status_code == 422
    assert too_low.json()["code"] == "contribution_below_minimum"
    assert client.get(url, headers=coordinator).json()["chosen_contribution_cents"] == 4200

    for status in ("suspended", "active", "left"):
        moved = client.patch(url, json={"status": status}, headers=coordinator)
        assert moved.status_code == 200, moved.text
        assert moved.json()["status"] == status
    for change in (
        {"status": "active"},
        {"status": "suspended"},
        {"chosen_contribution_cents": 5000},
        {"status": "left", "chosen_contribution_cents": 5000},
        {"status": "left"},
        {"persons": [person()]},
    ):
        final = client.patch(url, json=change, headers=coordinator)
        assert final.status_code == 409, change
        assert final.json()["code"] == "household_left"
    assert client.get(url, headers=coordinator).json()["status"] == "left"

    entries = audit_entries(client, fund_id, auditor, household_id)
    # Registration, then persons, declared, chosen, suspended, active, left.
    assert len(entries) == 7
    assert {e["action"] for e in entries} == {"household.register", "household.update"}
    statuses = [e["after"]["status"] for e in entries if e["action"] == "household.update"]
    assert statuses[:3] == ["left", "active", "suspended"]  # newest first
    log = json.dumps(entries)
    for secret in (
        str(INCOME),
        str(NEW_INCOME),
        str(HOUSING),
        str(FOOD),
        "Zéphyrine",
        "Zéphyrine".encode("ascii", "backslashreplace").decode(),
        "Quillebeuf",
        "Anatole",
        "Ysaline",
        email,
        email.split("@")[0],
        "rue des Lilas",
        "1979-09-09",
    ):
        assert secret not in log, secret


def test_patch_refuses_unknown_persons_and_other_callers(
    client: TestClient, people: People
) -> None:
    fund_id = new_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    created = register(client, fund_id, coordinator)
    other = register(client, fund_id, coordinator)
    url = f"/api/v1/households/{created['id']}"
    stranger = {**person(), "id": other["persons"][0]["id"]}
    refused = client.patch(url, json={"persons": [stranger]}, headers=coordinator)
    assert refused.status_code == 422
    assert refused.json()["code"] == "validation_error"
    assert refused.json()["errors"][0]["loc"] == ["body", "persons"]
    assert client.patch(url, json={"persons": []}, headers=coordinator).status_code == 422
    assert client.patch(url, json={"status": "gone"}, headers=coordinator).status_code == 422
    other_fund = new_fund(client, people)
    for grants in [
        ("treasurer", fund_id),
        ("auditor", fund_id),
        ("coordinator", other_fund),
        ("admin", None),
    ]:
        forbidden = client.patch(url, json={"status": "suspended"}, headers=people.as_(grants))
        assert forbidden.status_code == 403, grants
    missing = client.patch(
        f"/api/v1/households/{uuid.uuid4()}", json={"status": "active"}, headers=coordinator
    )
    assert missing.status_code == 404
    assert client.get(url, headers=coordinator).json()["status"] == "active"
