"""Every POST of the API honours `Idempotency-Key`, on both engines: the same key and the
same request get the first answer again (`Idempotent-Replayed: true`) and write nothing;
the same key with another request is refused (409 idempotency_conflict). A secret shown
once (a terminal's client secret, an invitation token) is replayed as null and never
stored in clear."""

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text
from sqlmodel import Session

import ssa.models  # noqa: F401 (every table in the metadata)
from ssa.db import metadata
from ssa.funds.service import current_period
from ssa.issuance import periods
from tests.assembly.helpers import household, opened, outlet
from tests.conftest import People
from tests.households.helpers import household_body, new_fund, new_outlet, person, unique_email
from tests.households.test_mandates import debit_file, mandated, sepa_fund
from tests.issuance.helpers import make_fund

# What the spec requires a key for (it moves money); every other POST accepts one.
KEY_REQUIRED = {
    "/api/v1/funds/{fund_id}/contributions",
    "/api/v1/funds/{fund_id}/contributions/{contribution_id}/correction",
    "/api/v1/funds/{fund_id}/grants",
    "/api/v1/payments",
    "/api/v1/payments/{payment_id}/refunds",
    "/api/v1/payment-requests/{request_id}/confirm",
    "/api/v1/funds/{fund_id}/payouts",
    "/api/v1/payouts/{payout_id}/confirm",
    "/api/v1/payouts/{payout_id}/cancel",
}
# A vote's key is accepted and never stored (tests/assembly/test_secrecy.py).
NOT_STORED = {"/api/v1/proposals/{proposal_id}/votes"}


@dataclass
class Case:
    """A request, and another one sent under the same key."""

    url: str
    headers: dict[str, str]
    body: Any
    status: int
    other_url: str
    other_body: Any
    secrets: set[str] = field(default_factory=set)


Setup = Callable[[TestClient, People, Engine], Case]


def _accept_invitation(client: TestClient, people: People, engine: Engine) -> Case:
    created = client.post(
        "/api/v1/users",
        json={"email": unique_email(), "display_name": "Invited"},
        headers=people.as_(("admin", None)),
    )
    assert created.status_code == 201, created.text
    url = "/api/v1/auth/invitations/accept"
    body = {"token": created.json()["invitation_token"], "password": "a long enough password"}
    return Case(url, {}, body, 200, url, {**body, "password": "another long password"})


def _create_user(client: TestClient, people: People, engine: Engine) -> Case:
    url = "/api/v1/users"
    body = {"email": unique_email(), "display_name": "New user"}
    other = {"email": unique_email(), "display_name": "New user"}
    return Case(url, people.as_(("admin", None)), body, 201, url, other, {"invitation_token"})


def _grant_fund_role(client: TestClient, people: People, engine: Engine) -> Case:
    fund_id = new_fund(client, people)
    url = f"/api/v1/funds/{fund_id}/roles"
    body = {"user_id": str(people.user()), "role": "auditor"}
    return Case(url, people.as_(("admin", None)), body, 201, url, {**body, "role": "treasurer"})


def _register_household(client: TestClient, people: People, engine: Engine) -> Case:
    fund_id = new_fund(client, people)
    url = f"/api/v1/funds/{fund_id}/households"
    body = household_body(persons=[person(email=unique_email())])
    other = {**body, "chosen_contribution_cents": 6000}
    coordinator = people.as_(("coordinator", fund_id))
    return Case(url, coordinator, body, 201, url, other, {"invitation_token"})


def _unlock_pin(client: TestClient, people: People, engine: Engine) -> Case:
    fund = make_fund(engine)
    first, second = household(engine, fund)[0], household(engine, fund)[0]
    url = f"/api/v1/households/{first.household_id}/pin/unlock"
    other = f"/api/v1/households/{second.household_id}/pin/unlock"
    return Case(url, people.as_(("coordinator", fund.id)), None, 204, other, None)


def _direct_debit_run(client: TestClient, people: People) -> tuple[uuid.UUID, str, Any]:
    fund_id = sepa_fund(client, people)
    made = mandated(client, fund_id, people.as_(("coordinator", fund_id)))
    treasurer = people.as_(("treasurer", fund_id))
    assert debit_file(client, fund_id, treasurer, current_period()).status_code == 200
    runs = client.get(f"/api/v1/funds/{fund_id}/direct-debit-runs", headers=treasurer).json()
    return fund_id, runs["items"][0]["id"], (treasurer, made)


def _cancel_direct_debit_run(client: TestClient, people: People, engine: Engine) -> Case:
    fund_id, run_id, (treasurer, _) = _direct_debit_run(client, people)
    runs = f"/api/v1/funds/{fund_id}/direct-debit-runs"
    return Case(
        f"{runs}/{run_id}/cancel", treasurer, None, 200, f"{runs}/{uuid.uuid4()}/cancel", None
    )


def _return_direct_debit(client: TestClient, people: People, engine: Engine) -> Case:
    fund_id, run_id, (treasurer, made) = _direct_debit_run(client, people)
    url = f"/api/v1/funds/{fund_id}/direct-debit-runs/{run_id}/returns"
    body = {"household_id": made["id"], "reason": "AM04"}
    return Case(url, treasurer, body, 200, url, {**body, "reason": "AC04"})


def _close_period(client: TestClient, people: People, engine: Engine) -> Case:
    fund = make_fund(engine)
    closes = f"/api/v1/funds/{fund.id}/periods"
    last = periods.shift(current_period(), -1)
    before = periods.shift(current_period(), -2)
    treasurer = people.as_(("treasurer", fund.id))
    return Case(f"{closes}/{last}/close", treasurer, None, 200, f"{closes}/{before}/close", None)


def _apply(client: TestClient, people: People, engine: Engine) -> Case:
    fund = make_fund(engine)
    coordinator = people.as_(("coordinator", fund.id))
    outlet_id = new_outlet(client, coordinator)
    url = f"/api/v1/funds/{fund.id}/outlets/{outlet_id}/application"
    body = {"criteria": {"local_origin": {"score": 3, "note": "within 50 km"}}}
    other = {"criteria": {"local_origin": {"score": 1, "note": "within 500 km"}}}
    return Case(url, coordinator, body, 201, url, other)


def _add_staff(client: TestClient, people: People, engine: Engine) -> Case:
    outlet_id = new_outlet(client, people.as_(("coordinator", make_fund(engine).id)))
    url = f"/api/v1/outlets/{outlet_id}/staff"
    body = {"user_id": str(people.user()), "role": "cashier"}
    return Case(url, people.as_(("admin", None)), body, 201, url, {**body, "role": "manager"})


def _manager(
    client: TestClient, people: People, engine: Engine
) -> tuple[uuid.UUID, dict[str, str]]:
    outlet_id = new_outlet(client, people.as_(("coordinator", make_fund(engine).id)))
    return outlet_id, people.as_(("manager", outlet_id))


def _create_terminal(client: TestClient, people: People, engine: Engine) -> Case:
    outlet_id, manager = _manager(client, people, engine)
    url = f"/api/v1/outlets/{outlet_id}/terminals"
    return Case(url, manager, {"label": "Till 1"}, 201, url, {"label": "Till 2"}, {"client_secret"})


def _revoke_terminal(client: TestClient, people: People, engine: Engine) -> Case:
    outlet_id, manager = _manager(client, people, engine)
    terminals = f"/api/v1/outlets/{outlet_id}/terminals"
    created = client.post(terminals, json={"label": "Till"}, headers=manager)
    assert created.status_code == 201, created.text
    url = f"{terminals}/{created.json()['client_id']}/revoke"
    return Case(url, manager, None, 204, f"{terminals}/till_other/revoke", None)


def _close_proposal(client: TestClient, people: People, engine: Engine) -> Case:
    fund = make_fund(engine)
    household(engine, fund)
    coordinator = people.as_(("coordinator", fund.id))
    first, second = (opened(client, coordinator, fund, outlet(engine, fund)) for _ in range(2))
    return Case(
        f"/api/v1/proposals/{first['id']}/close",
        coordinator,
        None,
        200,
        f"/api/v1/proposals/{second['id']}/close",
        None,
    )


def _end_committee(client: TestClient, people: People, engine: Engine) -> Case:
    fund = make_fund(engine)
    household(engine, fund, logins=False)
    coordinator = people.as_(("coordinator", fund.id))
    draws = []
    for seed in ("one", "two"):
        drawn = client.post(
            f"/api/v1/funds/{fund.id}/committee-draws",
            json={"size": 1, "seed": seed, "in_force": False},
            headers=coordinator,
        )
        assert drawn.status_code == 201, drawn.text
        draws.append(drawn.json()["id"])
    return Case(
        f"/api/v1/committee-draws/{draws[0]}/end",
        coordinator,
        None,
        200,
        f"/api/v1/committee-draws/{draws[1]}/end",
        None,
    )


CASES: dict[str, Setup] = {
    "accept invitation": _accept_invitation,
    "create user": _create_user,
    "grant fund role": _grant_fund_role,
    "register household": _register_household,
    "unlock pin": _unlock_pin,
    "cancel direct-debit run": _cancel_direct_debit_run,
    "return direct debit": _return_direct_debit,
    "close period": _close_period,
    "outlet application": _apply,
    "outlet staff": _add_staff,
    "create terminal": _create_terminal,
    "revoke terminal": _revoke_terminal,
    "close proposal": _close_proposal,
    "end committee": _end_committee,
}


def row_counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {
            name: int(session.execute(select(func.count()).select_from(table)).scalar_one())
            for name, table in metadata.tables.items()
        }


def stored_row(engine: Engine, key: str) -> Any:
    with engine.connect() as connection:
        (row,) = connection.execute(
            text("SELECT * FROM idempotency_key WHERE key = :key"), {"key": key}
        ).all()
        return row


def without(value: Any, names: set[str]) -> Any:
    if isinstance(value, dict):
        return {k: None if k in names else without(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [without(v, names) for v in value]
    return value


def secrets_in(value: Any, names: set[str]) -> list[str]:
    if isinstance(value, dict):
        found = [str(v) for k, v in value.items() if k in names and v is not None]
        return found + [s for v in value.values() for s in secrets_in(v, names)]
    if isinstance(value, list):
        return [s for v in value for s in secrets_in(v, names)]
    return []


def answer(response: Any) -> Any:
    return response.json() if response.content else None


@pytest.mark.parametrize("setup", list(CASES.values()), ids=list(CASES))
def test_the_same_key_and_request_get_the_first_answer_and_write_nothing(
    client: TestClient, people: People, engine: Engine, setup: Setup
) -> None:
    case = setup(client, people, engine)
    key = uuid.uuid4().hex
    headers = {**case.headers, "Idempotency-Key": key}

    first = client.post(case.url, json=case.body, headers=headers)
    assert first.status_code == case.status, first.text
    assert "Idempotent-Replayed" not in first.headers
    before = row_counts(engine)
    second = client.post(case.url, json=case.body, headers=headers)
    assert second.status_code == case.status, second.text
    assert second.headers["Idempotent-Replayed"] == "true"
    assert row_counts(engine) == before
    assert answer(second) == without(answer(first), case.secrets)
    if case.secrets:
        shown = secrets_in(answer(first), case.secrets)
        assert shown  # the first answer carries the secret...
        stored = json.dumps([str(value) for value in stored_row(engine, key)])
        assert not [secret for secret in shown if secret in stored]  # ...never stored

    conflict = client.post(case.other_url, json=case.other_body, headers=headers)
    assert conflict.status_code == 409, conflict.text
    assert conflict.json()["code"] == "idempotency_conflict"
    assert row_counts(engine) == before


def test_a_replayed_terminal_creation_never_shows_nor_stores_the_secret(
    client: TestClient, people: People, engine: Engine
) -> None:
    outlet_id, manager = _manager(client, people, engine)
    key = uuid.uuid4().hex
    url = f"/api/v1/outlets/{outlet_id}/terminals"
    headers = {**manager, "Idempotency-Key": key}

    first = client.post(url, json={"label": "Till"}, headers=headers)
    assert first.status_code == 201, first.text
    secret = first.json()["client_secret"]
    assert secret
    replayed = client.post(url, json={"label": "Till"}, headers=headers)
    assert replayed.status_code == 201
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json() == {**first.json(), "client_secret": None}
    assert secret not in replayed.text
    row = stored_row(engine, key)
    assert secret not in json.dumps([str(value) for value in row])
    assert json.loads(row.response_body)["client_secret"] is None
    # The secret shown the first time is the terminal's: it gets a token.
    token = client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": first.json()["client_id"],
            "client_secret": secret,
        },
    )
    assert token.status_code == 200, token.text


def test_the_openapi_document_lists_the_key_on_every_post(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    posts = {path: ops["post"] for path, ops in paths.items() if "post" in ops}
    api = {path: op for path, op in posts.items() if path.startswith("/api/v1/")}
    assert "/api/v1/auth/token" in api
    assert len(api) > 30
    required = set()
    for path, operation in api.items():
        keys = [p for p in operation.get("parameters", []) if p["name"] == "Idempotency-Key"]
        if path == "/api/v1/auth/token":
            assert keys == []
            continue
        assert len(keys) == 1, path
        assert keys[0]["in"] == "header"
        assert keys[0]["schema"]["type"] == "string"
        if keys[0]["required"]:
            required.add(path)
            assert "idempotency_key_required" in operation["responses"]["400"]["description"]
        if path not in NOT_STORED:
            assert "idempotency_conflict" in operation["responses"]["409"]["description"], path
    assert required == KEY_REQUIRED
