"""Every endpoint family against every role, through the real app: who may, who may not.

Each later endpoint family adds a row. "ok" means the request got past authorisation
(any answer but 401 and 403; the bodies sent are valid, so it is a 2xx here).
"""

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from ssa.auth.models import OAuthClient
from ssa.auth.tokens import new_secret, secret_hash
from ssa.funds.models import Fund
from ssa.funds.service import create_fund
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
]

OK, NO, ANON = "ok", "forbidden", "unauthenticated"


def _policy(fund: Fund) -> dict[str, Any]:
    return {"effective_period": "2099-01"}


# (family, method, path, body) -> expected per role, in ROLES order.
MATRIX: list[tuple[str, str, str, Callable[[Fund], Any] | None, list[str]]] = [
    ("me", "GET", "/api/v1/me", None, [ANON, OK, OK, OK, OK, OK, OK, OK]),
    (
        "users: create",
        "POST",
        "/api/v1/users",
        lambda f: {"email": f"{uuid.uuid4().hex[:10]}@example.org", "display_name": "New"},
        [ANON, NO, NO, OK, OK, OK, NO, NO],
    ),
    (
        "fund roles: grant",
        "POST",
        "/api/v1/funds/{fund_id}/roles",
        "grant",
        [ANON, NO, NO, OK, OK, NO, NO, NO],
    ),
    (
        "audit log",
        "GET",
        "/api/v1/funds/{fund_id}/audit-log",
        None,
        [ANON, NO, NO, NO, OK, NO, NO, OK],
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
        [ANON, NO, NO, OK, NO, NO, NO, NO],
    ),
    ("funds: list", "GET", "/api/v1/funds", None, [ANON, OK, OK, OK, OK, OK, OK, OK]),
    ("funds: read", "GET", "/api/v1/funds/{fund_id}", None, [ANON, OK, OK, OK, OK, OK, OK, OK]),
    (
        "policy: read",
        "GET",
        "/api/v1/funds/{fund_id}/policy",
        None,
        [ANON, OK, OK, OK, OK, OK, OK, OK],
    ),
    (
        "policy: history",
        "GET",
        "/api/v1/funds/{fund_id}/policy/history",
        None,
        [ANON, OK, OK, OK, OK, OK, OK, OK],
    ),
    (
        "policy: change",
        "PUT",
        "/api/v1/funds/{fund_id}/policy",
        "policy",
        [ANON, NO, NO, NO, OK, NO, NO, NO],
    ),
]


@pytest.fixture
def principals(
    client: TestClient, people: People, fund: Fund, engine: Engine
) -> dict[str, dict[str, str]]:
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
    return {
        "anonymous": {},
        "terminal": {"Authorization": f"Bearer {token}"},
        "plain_user": people.as_(),
        "admin": people.as_(("admin", None)),
        "coordinator": people.as_(("coordinator", fund.id)),
        "other_coordinator": people.as_(("coordinator", other_id)),
        "treasurer": people.as_(("treasurer", fund.id)),
        "auditor": people.as_(("auditor", fund.id)),
    }


def _body(
    kind: object, fund: Fund, client: TestClient, admin: dict[str, str], people: People
) -> Any:
    if kind == "grant":
        return {"user_id": str(people.user()), "role": "auditor"}
    if kind == "policy":
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
    principals: dict[str, dict[str, str]],
    family: str,
    method: str,
    path: str,
    body: object,
    expected: list[str],
) -> None:
    outcomes = {}
    for role, want in zip(ROLES, expected, strict=True):
        payload = _body(body, fund, client, principals["admin"], people)
        response = client.request(
            method, path.format(fund_id=fund.id), json=payload, headers=principals[role]
        )
        got = {401: ANON, 403: NO}.get(response.status_code, OK)
        if got != want or (got == OK and response.status_code >= 300):
            outcomes[role] = f"expected {want}, got {response.status_code}: {response.text[:200]}"
        if got != OK:
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["code"] == got
    assert outcomes == {}, f"{family}: {outcomes}"
