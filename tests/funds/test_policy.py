"""A fund's policy: validation, who may change it, versions by period, the audit trail."""

import json
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from ssa.audit.models import AuditEntry
from ssa.auth.roles import Role
from ssa.funds.models import Fund
from ssa.funds.presets import GIRONDE
from ssa.funds.service import current_period
from tests.funds.helpers import headers_for
from tests.funds.test_funds_api import assert_problem


def next_period(period: str, months: int = 1) -> str:
    year, month = map(int, period.split("-"))
    index = year * 12 + month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def policy_body(period: str | None = None, **changes: Any) -> dict[str, Any]:
    return {"effective_period": period or next_period(current_period()), **GIRONDE, **changes}


def url(fund: Fund, suffix: str = "") -> str:
    return f"/api/v1/funds/{fund.id}/policy{suffix}"


@pytest.fixture
def coordinator(app: FastAPI, fund: Fund) -> dict[str, str]:
    return headers_for(app, Role.coordinator, fund.id)


def test_the_coordinator_sets_a_later_policy_and_the_current_one_stays(
    client: TestClient, fund: Fund, coordinator: dict[str, str]
) -> None:
    later = next_period(current_period(), 2)
    response = client.put(
        url(fund), json=policy_body(later, allowance_base_cents=20000), headers=coordinator
    )
    assert response.status_code == 200, response.text
    assert response.json()["effective_period"] == later
    assert response.json()["allowance_base_cents"] == 20000

    current = client.get(url(fund), headers=coordinator).json()
    assert current["effective_period"] == current_period()
    assert current["allowance_base_cents"] == 15000

    # An earlier version, set afterwards, still sorts before it in the history.
    sooner = next_period(current_period())
    client.put(url(fund), json=policy_body(sooner, quorum_percent=25), headers=coordinator)
    answer = client.get(url(fund, "/history"), headers=coordinator).json()
    history = answer["items"]
    assert [item["effective_period"] for item in history] == [current_period(), sooner, later]
    assert [item["allowance_base_cents"] for item in history] == [15000, 15000, 20000]
    assert all(item["created_at"] for item in history)
    assert answer["next_cursor"] is None
    # A list as the contract has them: pages of `limit`, then `next_cursor`.
    first = client.get(url(fund, "/history?limit=2"), headers=coordinator).json()
    assert [item["effective_period"] for item in first["items"]] == [current_period(), sooner]
    rest = client.get(
        url(fund, f"/history?limit=2&cursor={first['next_cursor']}"), headers=coordinator
    ).json()
    assert ([item["effective_period"] for item in rest["items"]], rest["next_cursor"]) == (
        [later],
        None,
    )
    assert_problem(
        client.get(url(fund, "/history?cursor=forged"), headers=coordinator),
        422,
        "validation_error",
    )


def test_a_policy_read_can_be_sent_back(
    client: TestClient, fund: Fund, coordinator: dict[str, str]
) -> None:
    current = client.get(url(fund), headers=coordinator).json()
    current["effective_period"] = next_period(current_period())
    current["voting_days"] = 7
    response = client.put(url(fund), json=current, headers=coordinator)
    assert response.status_code == 200, response.text
    assert response.json() == current


def test_the_current_period_may_be_replaced_and_becomes_current(
    client: TestClient, fund: Fund, coordinator: dict[str, str]
) -> None:
    body = policy_body(current_period(), rollover="capped", rollover_cap_cents=5000)
    assert client.put(url(fund), json=body, headers=coordinator).status_code == 200
    current = client.get(url(fund), headers=coordinator).json()
    assert (current["rollover"], current["rollover_cap_cents"]) == ("capped", 5000)
    history = client.get(url(fund, "/history"), headers=coordinator).json()["items"]
    assert len(history) == 1
    # The fund's own answer carries the same policy.
    fund_answer = client.get(f"/api/v1/funds/{fund.id}", headers=coordinator).json()
    assert fund_answer["policy"] == current


def test_a_past_period_is_refused(
    client: TestClient, fund: Fund, coordinator: dict[str, str]
) -> None:
    past = next_period(current_period(), -1)
    assert_problem(
        client.put(url(fund), json=policy_body(past), headers=coordinator),
        409,
        "policy_period_past",
    )
    history = client.get(url(fund, "/history"), headers=coordinator).json()["items"]
    assert [item["effective_period"] for item in history] == [current_period()]


def test_every_change_is_audited(
    app: FastAPI, client: TestClient, fund: Fund, coordinator: dict[str, str]
) -> None:
    period = next_period(current_period())
    body = policy_body(period, voting_days=21)
    response = client.put(url(fund), json=body, headers={**coordinator, "X-Request-ID": "req-42"})
    assert response.status_code == 200
    body["voting_days"] = 30
    client.put(url(fund), json=body, headers=coordinator)
    with Session(app.state.engine) as db_session:
        entries = db_session.exec(
            select(AuditEntry)
            .where(col(AuditEntry.fund_id) == fund.id, col(AuditEntry.action) == "policy.update")
            .order_by(col(AuditEntry.created_at))
        ).all()
    assert len(entries) == 2
    first, second = entries
    assert first.request_id == "req-42"
    assert first.actor.startswith("user:")
    assert first.before is not None
    assert first.after is not None
    assert second.before is not None
    assert second.after is not None
    assert json.loads(first.before)["effective_period"] == current_period()
    assert json.loads(first.after)["voting_days"] == 21
    assert json.loads(second.before)["voting_days"] == 21
    assert json.loads(second.after)["voting_days"] == 30
    assert json.loads(second.after)["effective_period"] == period


@pytest.mark.parametrize("role", [Role.treasurer, Role.auditor, Role.coordinator, Role.admin, None])
def test_only_the_funds_coordinator_changes_its_policy(
    app: FastAPI, client: TestClient, fund: Fund, role: Role | None
) -> None:
    if role is Role.coordinator:  # of another fund
        other = client.post(
            "/api/v1/funds",
            json={
                "slug": f"other-{uuid.uuid4().hex[:8]}",
                "name": "Other",
                "iban": "DE89370400440532013000",
            },
            headers=headers_for(app, Role.admin),
        ).json()
        headers = headers_for(app, role, uuid.UUID(other["id"]))
    elif role is Role.admin or role is None:
        headers = headers_for(app, role)
    else:
        headers = headers_for(app, role, fund.id)
    assert_problem(client.put(url(fund), json=policy_body(), headers=headers), 403, "forbidden")


def test_an_anonymous_caller_is_unauthenticated(client: TestClient, fund: Fund) -> None:
    assert_problem(client.put(url(fund), json=policy_body()), 401, "unauthenticated")
    assert_problem(client.get(url(fund)), 401, "unauthenticated")
    assert_problem(client.get(url(fund, "/history")), 401, "unauthenticated")


def test_a_bad_token_is_unauthenticated(client: TestClient, fund: Fund) -> None:
    headers = {"Authorization": "Bearer not.a.token"}
    assert_problem(
        client.put(url(fund), json=policy_body(), headers=headers), 401, "unauthenticated"
    )


ASCENDING_SCALE = [
    {"up_to_cents": 1000, "rate_percent": 1},
    {"up_to_cents": None, "rate_percent": 2},
]

INVALID: list[tuple[str, dict[str, Any]]] = [
    ("negative allowance", {"allowance_base_cents": -1}),
    ("negative extra person", {"allowance_per_extra_person_cents": -100}),
    ("negative child", {"allowance_per_child_cents": -1}),
    ("negative minimum", {"contribution_minimum_base_cents": -1}),
    ("negative min issuance", {"min_issuance_cents": -5}),
    ("negative cap", {"rollover_cap_cents": -1}),
    ("negative grace", {"contribution_grace_periods": -1}),
    ("negative dormancy", {"dormancy_periods": -1}),
    ("fractional cents", {"allowance_base_cents": 100.5}),
    ("cents as text", {"allowance_base_cents": "lots"}),
    ("quorum above 100", {"quorum_percent": 101}),
    ("approval above 100", {"approval_percent": 150}),
    ("negative quorum", {"quorum_percent": -1}),
    ("child age above 25", {"child_age_limit": 26}),
    ("negative child age", {"child_age_limit": -1}),
    ("no voting days", {"voting_days": 0}),
    ("bad contribution mode", {"contribution_mode": "voluntary"}),
    ("bad first period", {"first_period": "half"}),
    ("bad rollover", {"rollover": "some"}),
    ("coverage as text", {"require_coverage": "perhaps"}),
    ("no criteria", {"accreditation_criteria": []}),
    ("criterion not snake_case", {"accreditation_criteria": ["Local Origin"]}),
    ("criterion not a string", {"accreditation_criteria": [3]}),
    ("empty scale", {"contribution_scale": []}),
    (
        "scale without open bracket",
        {"contribution_scale": [{"up_to_cents": 1000, "rate_percent": 1}]},
    ),
    (
        "scale not ascending",
        {
            "contribution_scale": [
                {"up_to_cents": 2000, "rate_percent": 1},
                {"up_to_cents": 1000, "rate_percent": 2},
                {"up_to_cents": None, "rate_percent": 3},
            ]
        },
    ),
    (
        "scale open bracket in the middle",
        {"contribution_scale": [ASCENDING_SCALE[1], ASCENDING_SCALE[0], ASCENDING_SCALE[1]]},
    ),
    ("scale rate above 100", {"contribution_scale": [{"up_to_cents": None, "rate_percent": 101}]}),
    (
        "scale unknown key",
        {"contribution_scale": [{"up_to_cents": None, "rate_percent": 1, "x": 1}]},
    ),
    ("unknown field", {"colour": "red"}),
    ("bad period", {"effective_period": "2027-13"}),
    ("period not a month", {"effective_period": "2027-1"}),
    ("null field", {"secret_ballot": None}),
]


@pytest.mark.parametrize(("case", "changes"), INVALID, ids=[case for case, _ in INVALID])
def test_invalid_policies_are_refused(
    client: TestClient, fund: Fund, coordinator: dict[str, str], case: str, changes: dict[str, Any]
) -> None:
    body = assert_problem(
        client.put(url(fund), json=policy_body(**changes), headers=coordinator),
        422,
        "validation_error",
    )
    assert body["errors"], case


@pytest.mark.parametrize("field", sorted(GIRONDE))
def test_every_field_is_required(
    client: TestClient, fund: Fund, coordinator: dict[str, str], field: str
) -> None:
    body = policy_body()
    del body[field]
    assert_problem(client.put(url(fund), json=body, headers=coordinator), 422, "validation_error")


def test_a_valid_scale_and_mode_are_kept(
    client: TestClient, fund: Fund, coordinator: dict[str, str]
) -> None:
    body = policy_body(contribution_mode="scale", contribution_scale=ASCENDING_SCALE)
    response = client.put(url(fund), json=body, headers=coordinator)
    assert response.status_code == 200, response.text
    assert response.json()["contribution_scale"] == ASCENDING_SCALE
    assert response.json()["contribution_mode"] == "scale"


def test_policy_of_an_unknown_fund(client: TestClient, coordinator: dict[str, str]) -> None:
    missing = f"/api/v1/funds/{uuid.uuid4()}/policy"
    assert_problem(client.put(missing, json=policy_body(), headers=coordinator), 403, "forbidden")
    assert_problem(client.get(missing + "/history", headers=coordinator), 404, "not_found")
    assert_problem(
        client.put("/api/v1/funds/nope/policy", json=policy_body(), headers=coordinator),
        422,
        "validation_error",
    )


def test_a_month_already_issued_keeps_its_policy(
    app: FastAPI, client: TestClient, engine: Engine
) -> None:
    """A late joiner of an issued month would get other credits than the rest: once a
    month is issued, the policy changes from the month after it."""
    from tests.issuance.helpers import NEXT, THIS, add_household, make_fund
    from tests.issuance.test_issuance import issue

    fund = make_fund(engine)
    add_household(engine, fund)
    assert issue(engine, fund, THIS).households_issued == 1
    coordinator = headers_for(app, Role.coordinator, fund.id)

    refused = client.put(
        url(fund), json=policy_body(THIS, allowance_base_cents=99_900), headers=coordinator
    )
    body = assert_problem(refused, 409, "policy_period_issued")
    assert NEXT in body["detail"]
    assert client.get(url(fund), headers=coordinator).json()["allowance_base_cents"] == 15_000
    # Next month's credits issued ahead: a change from this month would apply to them too.
    assert issue(engine, fund, NEXT).households_issued == 1
    assert client.put(url(fund), json=policy_body(NEXT), headers=coordinator).status_code == 409
    later = next_period(NEXT)
    assert client.put(url(fund), json=policy_body(later), headers=coordinator).status_code == 200


def test_a_policy_change_waits_for_a_run_under_way(
    app: FastAPI, client: TestClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run holds the fund's row from before it reads the policy: a change of its month's
    policy made while it computes the eligibility (before it writes anything) waits for the
    run, then sees its credits and is refused."""
    import threading

    from ssa.db import unit_of_work
    from ssa.issuance import service as issuance
    from tests.issuance.helpers import NEXT, add_household, make_fund

    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite serialises every writer: the run holds the write lock anyway")
    fund = make_fund(engine)
    add_household(engine, fund)
    coordinator = headers_for(app, Role.coordinator, fund.id)
    policy_read, change_sent = threading.Event(), threading.Event()
    real_policy_for = issuance.policy_for

    def policy_for_then_wait(**kwargs: Any) -> Any:
        policy = real_policy_for(**kwargs)
        policy_read.set()
        change_sent.wait(timeout=30)  # the change is sent before the run writes anything
        return policy

    monkeypatch.setattr(issuance, "policy_for", policy_for_then_wait)
    answers: list[int] = []

    def change() -> None:
        policy_read.wait(timeout=30)
        change_sent.set()
        answer = client.put(url(fund), json=policy_body(NEXT), headers=coordinator)
        answers.append(answer.status_code)

    changer = threading.Thread(target=change)
    changer.start()
    with unit_of_work(engine) as session:
        issuance.issue_period(db_session=session, fund_id=fund.id, period=NEXT)
        changer.join(timeout=2)
        assert changer.is_alive()  # waiting on the run's lock
    changer.join(timeout=30)
    assert answers == [409]
