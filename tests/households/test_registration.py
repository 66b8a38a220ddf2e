"""Registering a household: its answer, member numbers, invitations, allowances, contributions."""

import re
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ssa.funds.presets import PRESETS, Preset
from ssa.funds.service import current_period
from tests.conftest import People
from tests.households.helpers import (
    adults,
    damm_valid,
    declared,
    household_body,
    new_fund,
    period_start,
    person,
    register,
    unique_email,
    years_before,
)

GIRONDE = PRESETS[Preset.gironde]
LYON = PRESETS[Preset.lyon]

HOUSEHOLD_FIELDS = {
    "id",
    "fund_id",
    "member_number",
    "status",
    "allowance_cents",
    "contribution_minimum_cents",
    "contribution_recommended_cents",
    "chosen_contribution_cents",
    "persons",
}
PERSON_FIELDS = {"id", "given_name", "family_name", "birth_date"}


def test_registration_answers_every_contract_field(client: TestClient, people: People) -> None:
    fund_id = new_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    body = household_body([person("Camille", "Martin", "1980-05-17"), person("Léo", "Martin")])
    created = register(client, fund_id, coordinator, body)
    assert set(created) >= HOUSEHOLD_FIELDS
    assert created["fund_id"] == str(fund_id)
    assert created["status"] == "active"
    assert created["chosen_contribution_cents"] == 5000
    assert uuid.UUID(created["id"])
    assert len(created["persons"]) == 2
    for answered in created["persons"]:
        assert set(answered) >= PERSON_FIELDS
        assert uuid.UUID(answered["id"])
        assert answered.get("user_id") is None  # no email, no user
        assert answered.get("invitation_token") is None
    assert {(p["given_name"], p["birth_date"]) for p in created["persons"]} == {
        ("Camille", "1980-05-17"),
        ("Léo", "1980-05-17"),
    }
    assert created["declared"] == body["declared"]
    assert created["allowance_period"] == current_period()


def test_member_numbers_have_a_damm_check_digit_and_are_unique(
    client: TestClient, people: People
) -> None:
    funds = [new_fund(client, people), new_fund(client, people)]
    numbers = []
    for fund_id in funds:
        coordinator = people.as_(("coordinator", fund_id))
        numbers += [register(client, fund_id, coordinator)["member_number"] for _ in range(4)]
    for number in numbers:
        assert re.fullmatch(r"[A-Z]{3}\d{7}", number), number
        assert damm_valid(number[3:]), number
        assert number.startswith("HH")  # from the slug "hh-..."
    assert len(set(numbers)) == len(numbers)


def test_a_person_with_an_email_is_invited_and_then_logs_in_as_a_member(
    client: TestClient, people: People
) -> None:
    fund_id = new_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    email = unique_email()
    created = register(
        client,
        fund_id,
        coordinator,
        household_body([person("Inès", "Garcia", "1985-02-11", email=email.upper()), person()]),
    )
    invited = next(p for p in created["persons"] if p["given_name"] == "Inès")
    other = next(p for p in created["persons"] if p["given_name"] == "Camille")
    assert invited["user_id"] is not None
    assert invited["invitation_token"]
    assert other.get("user_id") is None

    # The token appears once: reading the household again does not show it.
    again = client.get(f"/api/v1/households/{created['id']}", headers=coordinator).json()
    assert all(p.get("invitation_token") is None for p in again["persons"])

    accepted = client.post(
        "/api/v1/auth/invitations/accept",
        json={"token": invited["invitation_token"], "password": "a good passphrase"},
    )
    assert accepted.status_code == 200, accepted.text
    replay = client.post(
        "/api/v1/auth/invitations/accept",
        json={"token": invited["invitation_token"], "password": "another passphrase"},
    )
    assert replay.status_code == 400
    login = client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": email, "password": "a good passphrase"},
    )
    assert login.status_code == 200, login.text
    member = {"Authorization": f"Bearer {login.json()['access_token']}"}
    me = client.get("/api/v1/me", headers=member).json()
    assert me["user_id"] == invited["user_id"]
    assert me["household_id"] == created["id"]
    assert me["person_id"] == invited["id"]
    mine = client.get(f"/api/v1/households/{created['id']}", headers=member)
    assert mine.status_code == 200
    assert mine.json()["declared"] == created["declared"]


def test_a_person_who_moves_to_another_household_keeps_their_login(
    client: TestClient, people: People
) -> None:
    """Someone leaves a household and joins another (moving out, a separation): their
    login now opens the new household; the old one keeps them in its history only."""
    fund_id = new_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    email = unique_email()
    first = register(
        client,
        fund_id,
        coordinator,
        household_body([person("Inès", "Garcia", "1985-02-11", email=email), person()]),
    )
    ines = next(p for p in first["persons"] if p["given_name"] == "Inès")
    member = people.headers(uuid.UUID(ines["user_id"]))
    camille = next(p for p in first["persons"] if p["given_name"] == "Camille")
    left = client.patch(
        f"/api/v1/households/{first['id']}",
        json={
            "persons": [{k: camille[k] for k in ("id", "given_name", "family_name", "birth_date")}]
        },
        headers=coordinator,
    )
    assert left.status_code == 200, left.text
    second = register(
        client,
        fund_id,
        coordinator,
        household_body([person("Inès", "Garcia", "1985-02-11", email=email)]),
    )
    (moved,) = second["persons"]
    assert moved["user_id"] == ines["user_id"]
    assert moved.get("invitation_token") is None  # the login exists already
    me = client.get("/api/v1/me", headers=member).json()
    assert (me["household_id"], me["person_id"]) == (second["id"], moved["id"])
    assert client.get(f"/api/v1/households/{first['id']}", headers=member).status_code == 403


def test_an_email_that_is_another_accounts_login_is_refused(
    client: TestClient, people: People
) -> None:
    """A mistyped email must not hand an existing account (the fund's staff, a cashier, a
    member of another household) a household's identity, income and PIN: 409
    `email_taken`, and nothing is registered or changed."""
    fund_id = new_fund(client, people)
    coordinator_id = people.user(("coordinator", fund_id))
    coordinator = people.headers(coordinator_id)
    cashier_email = unique_email()
    cashier = people.headers(people.user(email=cashier_email))
    coordinator_email = client.get("/api/v1/me", headers=coordinator).json()["email"]
    member_email = unique_email()
    other = register(
        client,
        fund_id,
        coordinator,
        household_body([person("Inès", "Garcia", "1985-02-11", email=member_email)]),
    )
    url = f"/api/v1/funds/{fund_id}/households"
    twice = unique_email()
    for persons in [
        [person(email=cashier_email), person()],
        [person(email=coordinator_email.upper())],
        [person(email=member_email)],
        [person("Alex", email=twice), person("Sam", email=twice)],
    ]:
        refused = client.post(url, json=household_body(persons), headers=coordinator)
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "email_taken"
    listed = client.get(url, headers=coordinator).json()["items"]
    assert [h["id"] for h in listed] == [other["id"]]
    for headers in (cashier, coordinator):
        assert client.get("/api/v1/me", headers=headers).json().get("household_id") is None
    kept = {k: other["persons"][0][k] for k in ("id", "given_name", "family_name", "birth_date")}
    added = client.patch(
        f"/api/v1/households/{other['id']}",
        json={"persons": [kept, person(email=cashier_email)]},
        headers=coordinator,
    )
    assert added.status_code == 409, added.text
    assert added.json()["code"] == "email_taken"
    after = client.get(f"/api/v1/households/{other['id']}", headers=coordinator).json()
    assert [p["id"] for p in after["persons"]] == [kept["id"]]
    assert client.get("/api/v1/me", headers=cashier).json().get("household_id") is None


def test_a_member_whose_household_left_keeps_their_login_on_coming_back(
    client: TestClient, people: People
) -> None:
    fund_id = new_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    email = unique_email()
    first = register(
        client,
        fund_id,
        coordinator,
        household_body([person("Inès", "Garcia", "1985-02-11", email=email)]),
    )
    (ines,) = first["persons"]
    left = client.patch(
        f"/api/v1/households/{first['id']}", json={"status": "left"}, headers=coordinator
    )
    assert left.status_code == 200, left.text
    second = register(
        client,
        fund_id,
        coordinator,
        household_body([person("Inès", "Garcia", "1985-02-11", email=email)]),
    )
    (back,) = second["persons"]
    assert back["user_id"] == ines["user_id"]
    me = client.get("/api/v1/me", headers=people.headers(uuid.UUID(ines["user_id"]))).json()
    assert me["household_id"] == second["id"]


def test_registration_is_for_the_funds_coordinator(client: TestClient, people: People) -> None:
    fund_id = new_fund(client, people)
    other_fund = new_fund(client, people)
    url = f"/api/v1/funds/{fund_id}/households"
    for grants in [("treasurer", fund_id), ("auditor", fund_id), ("coordinator", other_fund)]:
        refused = client.post(url, json=household_body(), headers=people.as_(grants))
        assert refused.status_code == 403, grants
        assert refused.json()["code"] == "forbidden"
    assert client.post(url, json=household_body()).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        household_body(persons=[]),
        household_body(persons=[person(born="2999-01-01")]),
        household_body(persons=[person(email="not an email")]),
        household_body(chosen=-1),
        household_body(resources=declared(income=-5)),
        {**household_body(), "surprise": 1},
        {"persons": [person()]},
    ],
)
def test_malformed_registrations_are_422(
    client: TestClient, people: People, body: dict[str, Any]
) -> None:
    fund_id = new_fund(client, people)
    refused = client.post(
        f"/api/v1/funds/{fund_id}/households",
        json=body,
        headers=people.as_(("coordinator", fund_id)),
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "validation_error"
    assert refused.json()["errors"]


# --- Allowances -------------------------------------------------------------------------


@pytest.mark.parametrize("size", range(1, 9))
def test_gironde_allowance_by_household_size(client: TestClient, people: People, size: int) -> None:
    fund_id = new_fund(client, people, "gironde")
    coordinator = people.as_(("coordinator", fund_id))
    created = register(client, fund_id, coordinator, household_body(adults(size), chosen=20000))
    expected = (
        GIRONDE["allowance_base_cents"] + (size - 1) * GIRONDE["allowance_per_extra_person_cents"]
    )
    assert created["allowance_cents"] == expected
    assert created["allowance_cents"] == 15000 + 7500 * (size - 1)
    lines = created["allowance_explained"]
    assert len(lines) == size
    assert sum(line["cents"] + line["child_cents"] for line in lines) == expected
    assert [line["share"] for line in lines] == ["base"] + ["extra"] * (size - 1)
    assert {line["person_id"] for line in lines} == {p["id"] for p in created["persons"]}


def test_lyon_counts_children_under_14_on_the_periods_first_day(
    client: TestClient, people: People
) -> None:
    fund_id = new_fund(client, people, "lyon")
    coordinator = people.as_(("coordinator", fund_id))
    first_day = period_start()
    fourteen_on_first_day = years_before(first_day, 14)
    turns_fourteen_next_day = fourteen_on_first_day + timedelta(days=1)
    persons = [
        person("Parent", "Dupont", "1982-04-02"),
        person("Aîné", "Dupont", fourteen_on_first_day),  # 14 already: not a child
        person("Cadet", "Dupont", turns_fourteen_next_day),  # 13 on the first day: a child
        person("Benjamin", "Dupont", years_before(first_day, 3)),
    ]
    created = register(client, fund_id, coordinator, household_body(persons, chosen=20000))
    by_name = {p["given_name"]: p["id"] for p in created["persons"]}
    lines = {line["person_id"]: line for line in created["allowance_explained"]}
    assert lines[by_name["Aîné"]]["child_cents"] == 0
    assert lines[by_name["Cadet"]]["child_cents"] == LYON["allowance_per_child_cents"] == 4000
    assert lines[by_name["Benjamin"]]["child_cents"] == LYON["allowance_per_child_cents"]
    assert lines[by_name["Parent"]]["child_cents"] == 0
    assert lines[by_name["Parent"]]["share"] == "base"
    expected = (
        LYON["allowance_base_cents"]
        + 3 * LYON["allowance_per_extra_person_cents"]
        + 2 * LYON["allowance_per_child_cents"]
    )
    assert created["allowance_cents"] == expected == 15000 + 3 * 7500 + 2 * 4000
    assert sum(x["cents"] + x["child_cents"] for x in lines.values()) == created["allowance_cents"]


# --- Contributions: minimum and scale ------------------------------------------------------


def expected_recommendation(
    policy: dict[str, Any], births: list[date], income: int, housing: int, other: int
) -> int:
    """The rule of PRODUCT.md, written again: the bracket of disposable income per OECD unit."""
    first_day = period_start()
    ages = sorted(
        (
            first_day.year - b.year - ((first_day.month, first_day.day) < (b.month, b.day))
            for b in births
        ),
        reverse=True,
    )
    units = 1.0 + sum(0.5 if age >= 14 else 0.3 for age in ages[1:])
    disposable = max(0, income - housing - other)
    per_unit = disposable / units
    rate = next(
        b["rate_percent"]
        for b in policy["contribution_scale"]
        if b["up_to_cents"] is None or per_unit <= b["up_to_cents"] + 1e-9
    )
    minimum = (
        policy["contribution_minimum_base_cents"]
        + (len(births) - 1) * policy["contribution_minimum_per_extra_person_cents"]
    )
    return max(disposable * rate // 100, minimum)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8])
def test_contribution_minimum_and_below_minimum(
    client: TestClient, people: People, size: int
) -> None:
    fund_id = new_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    minimum = (
        GIRONDE["contribution_minimum_base_cents"]
        + (size - 1) * GIRONDE["contribution_minimum_per_extra_person_cents"]
    )
    assert minimum == 1000 + 500 * (size - 1)
    url = f"/api/v1/funds/{fund_id}/households"
    below = client.post(
        url, json=household_body(adults(size), chosen=minimum - 1), headers=coordinator
    )
    assert below.status_code == 422
    assert below.json()["code"] == "contribution_below_minimum"
    at = register(client, fund_id, coordinator, household_body(adults(size), chosen=minimum))
    assert at["contribution_minimum_cents"] == minimum
    assert at["chosen_contribution_cents"] == minimum


SCALE_CASES = [
    # (persons' ages, income, housing, other)
    ([40], 80000, 30000, 0),  # 50 000 per unit: first bracket
    ([40], 150000, 50000, 10000),  # 90 000: second
    ([40], 200000, 20000, 30000),  # 150 000 exactly: third (bounds are inclusive)
    ([40], 400000, 50000, 0),  # last bracket
    ([40, 38, 10, 6], 260000, 40000, 10000),  # 2.1 units, 100 000 each: second
    ([40, 38, 10, 6], 260021, 40000, 10000),  # 2.1 units, a little above: third
    ([40, 16], 10000, 30000, 0),  # nothing disposable: the minimum
    ([40, 38, 17, 15, 12, 9, 5, 1], 900000, 100000, 50000),
]


@pytest.mark.parametrize(("ages", "income", "housing", "other"), SCALE_CASES)
def test_recommended_contribution_follows_the_brackets(
    client: TestClient, people: People, ages: list[int], income: int, housing: int, other: int
) -> None:
    fund_id = new_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    births = [years_before(period_start(), age) - timedelta(days=40) for age in ages]
    body = household_body(
        [person(f"P{i}", "Scale", born) for i, born in enumerate(births)],
        chosen=200000,
        resources=declared(income=income, housing=housing, other=other),
    )
    created = register(client, fund_id, coordinator, body)
    expected = expected_recommendation(GIRONDE, births, income, housing, other)
    assert created["contribution_recommended_cents"] == expected


def test_scale_mode_requires_the_recommended_amount(client: TestClient, people: People) -> None:
    fund_id = new_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    policy = client.get(f"/api/v1/funds/{fund_id}/policy", headers=coordinator).json()
    policy.update(effective_period=current_period(), contribution_mode="scale")
    put = client.put(f"/api/v1/funds/{fund_id}/policy", json=policy, headers=coordinator)
    assert put.status_code == 200, put.text
    resources = declared(income=250000, housing=60000, other=10000)  # 180 000: 8 %
    recommended = expected_recommendation(GIRONDE, [date(1980, 5, 17)], 250000, 60000, 10000)
    assert recommended == 180000 * 8 // 100
    url = f"/api/v1/funds/{fund_id}/households"
    minimum = GIRONDE["contribution_minimum_base_cents"]
    for chosen in (minimum, recommended - 1):
        refused = client.post(
            url, json=household_body(chosen=chosen, resources=resources), headers=coordinator
        )
        assert refused.status_code == 422, chosen
        assert refused.json()["code"] == "contribution_below_minimum"
    created = register(
        client, fund_id, coordinator, household_body(chosen=recommended, resources=resources)
    )
    assert created["contribution_recommended_cents"] == recommended
    assert created["chosen_contribution_cents"] == recommended
