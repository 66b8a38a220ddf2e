"""Committees drawn by lot, on both engines: the stratified draw from the current adults,
its replay from the published seed and roll (by an independent implementation of the
algorithm written from docs/assembly.md), and a fund working with its committee."""

import hashlib
import json
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from ssa.funds.models import Fund
from tests.assembly.helpers import (
    ADULT,
    assembly_fund,
    household,
    opened,
    outlet,
    set_household_status,
    vote,
    years_ago,
)
from tests.conftest import People


def replay(seed: str, size: int, roll: list[tuple[str, str]]) -> list[str]:
    """`ssa-committee-v1` as docs/assembly.md tells it, written without the app's code."""

    def sha(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    total = len(roll)
    strata = Counter(stratum for _, stratum in roll)
    seats = {s: size * n // total for s, n in strata.items()}
    order = sorted(
        strata, key=lambda s: (-(size * strata[s] % total), sha(f"{seed}:stratum:{s}"), s)
    )
    for stratum in order[: size - sum(seats.values())]:
        seats[stratum] += 1
    chosen = []
    for stratum, count in seats.items():
        people = sorted((p for p, s in roll if s == stratum), key=lambda p: (sha(f"{seed}:{p}"), p))
        chosen += people[:count]
    return sorted(chosen)


def digest(roll: list[tuple[str, str]]) -> str:
    rows = [[p, s] for p, s in sorted(roll)]
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


def populate(engine: Engine, fund: Fund) -> None:
    """Twenty households of various sizes and incomes: 1 to 4 persons, some children."""
    for i in range(20):
        size = 1 + i % 4
        births = [ADULT] * min(size, 2) + [years_ago(8)] * (size - 2)
        household(
            engine, fund, births, income_cents=[60_000, 150_000, 400_000][i % 3], logins=False
        )


def draw(client: TestClient, headers: dict[str, str], fund: Fund, **body: Any) -> dict[str, Any]:
    response = client.post(f"/api/v1/funds/{fund.id}/committee-draws", json=body, headers=headers)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_a_draw_is_published_and_replayed_from_its_seed_and_roll(
    client: TestClient, engine: Engine, people: People
) -> None:
    fund = assembly_fund(engine)
    coordinator = people.as_(("coordinator", fund.id))
    auditor = people.as_(("auditor", fund.id))
    populate(engine, fund)
    made = draw(client, coordinator, fund, size=7, seed="Loto 2026-11-28: 4 17 23 31 42 + 7")
    assert made["seed"] == "Loto 2026-11-28: 4 17 23 31 42 + 7"
    assert made["algorithm"] == "ssa-committee-v1"
    assert made["strata"] == ["income_band", "household_size"]
    assert made["in_force"] is True
    assert len(made["person_ids"]) == len(set(made["person_ids"])) == 7
    # 20 households: 1 to 4 persons, 2 adults at most each -> 35 adults.
    assert made["roll_size"] == 35
    allocation = made["allocation"]
    assert sum(a["seats"] for a in allocation) == 7
    assert sum(a["roll"] for a in allocation) == 35
    assert all(0 <= a["seats"] <= a["roll"] for a in allocation)
    # Proportional: each stratum within one seat of its exact share.
    assert all(abs(a["seats"] - 7 * a["roll"] / 35) < 1 for a in allocation)

    # The roll's strata tell income bands: the coordinator's, not the auditor's.
    assert (
        client.get(f"/api/v1/committee-draws/{made['id']}/roll", headers=auditor).status_code == 403
    )
    published = client.get(f"/api/v1/committee-draws/{made['id']}/roll", headers=coordinator).json()
    roll = [(entry["person_id"], entry["stratum"]) for entry in published["roll"]]
    assert len(roll) == 35
    assert published["roll_sha256"] == made["roll_sha256"] == digest(roll)
    # Anyone with the seed and the roll gets the same people.
    assert replay(published["seed"], published["size"], roll) == made["person_ids"]
    assert replay("another seed", 7, roll) != made["person_ids"]

    # The same seed on the same adults gives the same committee.
    again = draw(client, coordinator, fund, size=7, seed=made["seed"])
    assert again["person_ids"] == made["person_ids"]
    assert again["roll_sha256"] == made["roll_sha256"]
    listed = client.get(f"/api/v1/funds/{fund.id}/committee-draws", headers=coordinator).json()
    assert [d["id"] for d in listed["items"]] == [again["id"], made["id"]]
    assert [d["in_force"] for d in listed["items"]] == [True, False]  # replaced


def test_strata_follow_income_bands_and_household_sizes(
    client: TestClient, engine: Engine, people: People
) -> None:
    fund = assembly_fund(engine)
    coordinator = people.as_(("coordinator", fund.id))
    household(engine, fund, [ADULT], income_cents=60_000, logins=False)
    household(
        engine, fund, [ADULT, ADULT, years_ago(5), years_ago(3)], income_cents=500_000, logins=False
    )
    household(engine, fund, [years_ago(15)], income_cents=100_000, logins=False)  # a minor alone
    made = draw(client, coordinator, fund, size=2, seed="s")
    strata = {a["stratum"]: (a["roll"], a["seats"]) for a in made["allocation"]}
    assert set(strata) == {"income_band=1;household_size=1", "income_band=4;household_size=4+"}
    assert strata["income_band=4;household_size=4+"][0] == 2
    by_size = draw(client, coordinator, fund, size=3, seed="s", strata=["household_size"])
    assert {a["stratum"] for a in by_size["allocation"]} == {
        "household_size=1",
        "household_size=4+",
    }
    simple = draw(client, coordinator, fund, size=3, seed="s", strata=[])
    assert simple["allocation"] == [{"stratum": "all", "roll": 3, "seats": 3}]


def test_a_fund_with_a_committee_in_force_votes_with_it(
    client: TestClient, engine: Engine, people: People
) -> None:
    fund = assembly_fund(engine)
    coordinator = people.as_(("coordinator", fund.id))
    members = [household(engine, fund)[0] for _ in range(6)]
    made = draw(client, coordinator, fund, size=3, seed="AG du 12 décembre", strata=[])
    seated = {uuid.UUID(p) for p in made["person_ids"]}
    # One committee member's household is suspended before the proposal opens.
    gone = next(m for m in members if m.id in seated)
    set_household_status(engine, gone.household_id, "suspended")

    proposal = opened(client, coordinator, fund, outlet(engine, fund))
    assert proposal["roll"] == "committee"
    assert proposal["committee_draw_id"] == made["id"]
    assert proposal["eligible_voters"] == 2
    for member in members:
        assert member.user_id is not None
        response = vote(client, people.headers(member.user_id), proposal["id"], "yes")
        if member.id in seated and member is not gone:
            assert response.status_code == 200, response.text
        else:
            assert response.status_code == 403
            assert response.json()["code"] == "not_eligible"

    # The coordinator ends the committee: the next proposal is for every adult again.
    ended = client.post(f"/api/v1/committee-draws/{made['id']}/end", headers=coordinator)
    assert ended.status_code == 200
    assert ended.json()["in_force"] is False
    assert ended.json()["ended_at"] is not None
    again = client.post(f"/api/v1/committee-draws/{made['id']}/end", headers=coordinator)
    assert again.json()["ended_at"] == ended.json()["ended_at"]
    later = opened(client, coordinator, fund, outlet(engine, fund))
    assert later["roll"] == "members"
    assert later["eligible_voters"] == 5
    # A draw that is not put in force leaves the roll alone.
    draw(client, coordinator, fund, size=2, seed="essai", in_force=False)
    assert opened(client, coordinator, fund, outlet(engine, fund))["roll"] == "members"


def test_committee_refusals_and_who_may_see_what(
    client: TestClient, engine: Engine, people: People
) -> None:
    fund = assembly_fund(engine)
    coordinator = people.as_(("coordinator", fund.id))
    member = household(engine, fund)[0]
    household(engine, fund, [ADULT, ADULT], logins=False)
    too_many = client.post(
        f"/api/v1/funds/{fund.id}/committee-draws",
        json={"size": 4, "seed": "x"},
        headers=coordinator,
    )
    assert too_many.status_code == 409
    assert too_many.json()["code"] == "committee_too_large"
    assert too_many.json()["roll_size"] == 3
    for body in (
        {"size": 0, "seed": "x"},
        {"size": 2, "seed": ""},
        {"size": 2, "seed": "bad\u0000seed"},
        {"size": 2, "seed": "x", "strata": ["age"]},
        {"size": 2},
    ):
        bad = client.post(
            f"/api/v1/funds/{fund.id}/committee-draws", json=body, headers=coordinator
        )
        assert bad.status_code == 422, body
        assert bad.json()["code"] == "validation_error"
    made = draw(client, coordinator, fund, size=2, seed="x")
    assert member.user_id is not None
    as_member = people.headers(member.user_id)
    seen = client.get(f"/api/v1/committee-draws/{made['id']}", headers=as_member)
    assert seen.status_code == 200
    assert seen.json()["person_ids"] == made["person_ids"]
    # The strata are income bands: numbered groups for anyone but the coordinator (with
    # the person ids, a stratum given every seat would tell the drawn people's band).
    groups = [a["stratum"] for a in seen.json()["allocation"]]
    assert groups == [f"group {i}" for i in range(1, len(groups) + 1)]
    assert [(a["roll"], a["seats"]) for a in seen.json()["allocation"]] == [
        (a["roll"], a["seats"]) for a in made["allocation"]
    ]
    assert all("income_band" in a["stratum"] for a in made["allocation"])
    listed = client.get(f"/api/v1/funds/{fund.id}/committee-draws", headers=as_member).json()
    assert all(a["stratum"].startswith("group ") for d in listed["items"] for a in d["allocation"])
    named = client.get(f"/api/v1/committee-draws/{made['id']}", headers=coordinator).json()
    assert named["allocation"] == made["allocation"]
    # The roll carries each adult's income band: coordinators only.
    assert (
        client.get(f"/api/v1/committee-draws/{made['id']}/roll", headers=as_member).status_code
        == 403
    )
    refused = client.post(
        f"/api/v1/funds/{fund.id}/committee-draws", json={"size": 1, "seed": "y"}, headers=as_member
    )
    assert refused.status_code == 403
    assert (
        client.get(f"/api/v1/committee-draws/{uuid.uuid4()}", headers=coordinator).status_code
        == 404
    )


def test_the_roll_is_reckoned_on_the_day_of_the_draw(
    client: TestClient, engine: Engine, people: People
) -> None:
    fund = assembly_fund(engine)
    coordinator = people.as_(("coordinator", fund.id))
    household(engine, fund, [years_ago(18)], logins=False)  # 18 today
    household(engine, fund, [years_ago(18) + timedelta(days=1)], logins=False)  # tomorrow
    made = draw(client, coordinator, fund, size=1, seed="x")
    assert made["roll_size"] == 1
