"""Creating, listing and reading funds through the API."""

import json
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from ssa.audit.models import AuditEntry
from ssa.auth.roles import Role
from ssa.funds.presets import PRESETS, Preset
from ssa.funds.service import current_period
from ssa.ledger.models import LedgerAccount
from tests.funds.helpers import VALID_BIC, VALID_IBAN, headers_for, new_slug

FUNDS = "/api/v1/funds"


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    return body


def fund_body(**changes: Any) -> dict[str, Any]:
    return {"slug": new_slug(), "name": "Caisse locale", "iban": VALID_IBAN, **changes}


@pytest.mark.parametrize("preset", list(Preset))
def test_an_admin_creates_a_fund_from_each_preset(
    app: FastAPI, client: TestClient, admin: dict[str, str], preset: Preset
) -> None:
    response = client.post(FUNDS, json=fund_body(preset=preset.value, bic=VALID_BIC), headers=admin)
    assert response.status_code == 201, response.text
    fund = response.json()
    assert fund["iban"] == "FR7630006000011234567890189"
    assert fund["bic"] == "AGRIFRPP"
    policy = fund["policy"]
    assert policy["effective_period"] == current_period()
    for field, value in PRESETS[preset].items():
        assert policy[field] == value, field
    with Session(app.state.engine) as db_session:
        accounts = db_session.exec(
            select(LedgerAccount).where(col(LedgerAccount.fund_id) == uuid.UUID(fund["id"]))
        ).all()
        assert accounts, "the fund's ledger accounts are opened"
        entry = db_session.exec(
            select(AuditEntry).where(
                col(AuditEntry.fund_id) == uuid.UUID(fund["id"]),
                col(AuditEntry.action) == "fund.create",
            )
        ).one()
    assert entry.actor.startswith("user:")
    assert entry.after is not None
    assert json.loads(entry.after)["preset"] == preset.value


def test_the_presets_carry_the_pilots_allowances(client: TestClient, admin: dict[str, str]) -> None:
    expected = {
        "gironde": (15000, 7500, 0),
        "montpellier": (10000, 0, 0),
        "lyon": (15000, 7500, 4000),
        "nantes": (10000, 5000, 0),
    }
    for preset, amounts in expected.items():
        policy = client.post(FUNDS, json=fund_body(preset=preset), headers=admin).json()["policy"]
        assert (
            policy["allowance_base_cents"],
            policy["allowance_per_extra_person_cents"],
            policy["allowance_per_child_cents"],
        ) == amounts
        assert policy["child_age_limit"] == 14


def test_the_default_preset_is_gironde_and_policy_fields_override_it(
    client: TestClient, admin: dict[str, str]
) -> None:
    plain = client.post(FUNDS, json=fund_body(), headers=admin).json()["policy"]
    assert plain["allowance_base_cents"] == 15000
    assert plain["quorum_percent"] == 20
    assert plain["rollover"] == "full"
    assert plain["secret_ballot"] is True
    assert len(plain["accreditation_criteria"]) == 5
    changed = client.post(
        FUNDS,
        json=fund_body(preset="lyon", policy={"quorum_percent": 30, "rollover": "none"}),
        headers=admin,
    ).json()["policy"]
    assert changed["quorum_percent"] == 30
    assert changed["rollover"] == "none"
    assert changed["allowance_per_child_cents"] == 4000


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"iban": "FR76 3000 6000 0112 3456 7890 188"}, 422, "invalid_iban"),
        ({"iban": "not an iban"}, 422, "invalid_iban"),
        ({"iban": ""}, 422, "invalid_iban"),
        ({"bic": "12345678"}, 422, "invalid_bic"),
        ({"sepa_creditor_id": "FR00ZZZ123456"}, 422, "invalid_sepa_creditor_id"),
        ({"preset": "paris"}, 422, "validation_error"),
        ({"slug": "Upper"}, 422, "validation_error"),
        ({"slug": "x"}, 422, "validation_error"),
        ({"slug": "a" * 65}, 422, "validation_error"),
        ({"slug": "-leading"}, 422, "validation_error"),
        ({"name": "   "}, 422, "validation_error"),
        ({"colour": "red"}, 422, "validation_error"),
        ({"policy": {"quorum_percent": 101}}, 422, "validation_error"),
        ({"policy": {"allowance_base_cents": None}}, 422, "validation_error"),
        ({"policy": {"unknown": 1}}, 422, "validation_error"),
    ],
)
def test_creation_refuses_bad_input(
    client: TestClient, admin: dict[str, str], changes: dict[str, Any], status: int, code: str
) -> None:
    assert_problem(client.post(FUNDS, json=fund_body(**changes), headers=admin), status, code)


def test_a_valid_sepa_creditor_id_is_kept(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post(FUNDS, json=fund_body(sepa_creditor_id="fr72 zzz 123456"), headers=admin)
    assert response.status_code == 201, response.text
    assert response.json()["sepa_creditor_id"] == "FR72ZZZ123456"


def test_a_slug_is_taken_once(app: FastAPI, client: TestClient, admin: dict[str, str]) -> None:
    body = fund_body()
    assert client.post(FUNDS, json=body, headers=admin).status_code == 201
    assert_problem(client.post(FUNDS, json=body, headers=admin), 409, "fund_slug_taken")


def test_only_an_admin_creates_funds(app: FastAPI, client: TestClient, fund: Any) -> None:
    assert_problem(client.post(FUNDS, json=fund_body()), 401, "unauthenticated")
    coordinator = headers_for(app, Role.coordinator, fund.id)
    assert_problem(client.post(FUNDS, json=fund_body(), headers=coordinator), 403, "forbidden")


def test_creation_is_idempotent_with_a_key(client: TestClient, admin: dict[str, str]) -> None:
    body = fund_body()
    headers = {**admin, "Idempotency-Key": uuid.uuid4().hex}
    first = client.post(FUNDS, json=body, headers=headers)
    again = client.post(FUNDS, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other = client.post(FUNDS, json=fund_body(), headers=headers)
    assert_problem(other, 409, "idempotency_conflict")


def test_any_authenticated_caller_lists_and_reads_funds(
    app: FastAPI, client: TestClient, admin: dict[str, str]
) -> None:
    created = [client.post(FUNDS, json=fund_body(), headers=admin).json() for _ in range(3)]
    someone = headers_for(app)
    assert_problem(client.get(FUNDS), 401, "unauthenticated")
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        page = client.get(FUNDS, params=params, headers=someone).json()
        assert len(page["items"]) <= 2
        for item in page["items"]:
            assert set(item) == {"id", "slug", "name", "created_at"}  # no bank details
        seen += [item["slug"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen))
    assert {fund["slug"] for fund in created} <= set(seen)

    one = client.get(f"{FUNDS}/{created[0]['id']}", headers=someone)
    assert one.status_code == 200
    assert one.json() == created[0]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 501}, {"limit": "many"}])
def test_list_parameters_are_checked(
    client: TestClient, admin: dict[str, str], params: dict[str, Any]
) -> None:
    assert_problem(client.get(FUNDS, params=params, headers=admin), 422, "validation_error")


def test_a_strange_cursor_is_not_a_server_error(client: TestClient, admin: dict[str, str]) -> None:
    for cursor in ("!!!", "_w", "zzzz"):
        assert client.get(FUNDS, params={"cursor": cursor}, headers=admin).status_code in (200, 422)


def test_an_unknown_fund_is_not_found(client: TestClient, admin: dict[str, str]) -> None:
    assert_problem(client.get(f"{FUNDS}/{uuid.uuid4()}", headers=admin), 404, "not_found")
    assert_problem(client.get(f"{FUNDS}/{uuid.uuid4()}/policy", headers=admin), 404, "not_found")
    assert_problem(client.get(f"{FUNDS}/not-an-id", headers=admin), 422, "validation_error")
