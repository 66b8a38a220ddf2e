"""Users, invitations, fund roles, the audit log, and refusing an unsafe start."""

import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from ssa.app import create_app
from ssa.audit.models import AuditEntry
from ssa.auth.models import Invitation
from ssa.funds.models import Fund
from ssa.settings import Settings
from ssa.timeutil import utcnow
from tests.conftest import People


def test_an_invited_user_sets_a_password_once(client: TestClient, people: People) -> None:
    admin = people.as_(("admin", None))
    created = client.post(
        "/api/v1/users",
        json={"email": "Camille@Example.org", "display_name": "Camille"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["email"] == "camille@example.org"
    token = body["invitation_token"]
    accepted = client.post(
        "/api/v1/auth/invitations/accept", json={"token": token, "password": "a good passphrase"}
    )
    assert accepted.status_code == 200
    assert accepted.json()["user_id"] == body["id"]
    login = client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "password",
            "username": "camille@example.org",
            "password": "a good passphrase",
        },
    )
    assert login.status_code == 200
    again = client.post(
        "/api/v1/auth/invitations/accept", json={"token": token, "password": "another passphrase"}
    )
    assert again.status_code == 400
    assert again.json()["code"] == "invitation_invalid"


def test_an_expired_invitation_is_refused(
    client: TestClient, people: People, engine: Engine
) -> None:
    admin = people.as_(("admin", None))
    body = client.post(
        "/api/v1/users",
        json={"email": f"{uuid.uuid4().hex[:8]}@example.org", "display_name": "X"},
        headers=admin,
    ).json()
    with Session(engine) as session:
        session.exec(
            update(Invitation)  # type: ignore[call-overload]
            .where(Invitation.user_id == uuid.UUID(body["id"]))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        session.commit()
    refused = client.post(
        "/api/v1/auth/invitations/accept",
        json={"token": body["invitation_token"], "password": "a good passphrase"},
    )
    assert refused.json()["code"] == "invitation_invalid"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"email": "not an email", "display_name": "X"}, 422, "validation_error"),
        ({"email": "a@example.org"}, 422, "validation_error"),
        ({"email": "a@example.org", "display_name": "X", "admin": True}, 422, "validation_error"),
    ],
)
def test_bad_user_bodies(
    client: TestClient, people: People, body: dict[str, object], status: int, code: str
) -> None:
    response = client.post("/api/v1/users", json=body, headers=people.as_(("admin", None)))
    assert response.status_code == status
    assert response.json()["code"] == code


def test_a_taken_email_and_a_weak_password_are_refused(client: TestClient, people: People) -> None:
    admin = people.as_(("admin", None))
    email = f"{uuid.uuid4().hex[:8]}@example.org"
    first = client.post("/api/v1/users", json={"email": email, "display_name": "A"}, headers=admin)
    taken = client.post(
        "/api/v1/users", json={"email": email.upper(), "display_name": "B"}, headers=admin
    )
    assert taken.status_code == 409
    assert taken.json()["code"] == "email_taken"
    weak = client.post(
        "/api/v1/auth/invitations/accept",
        json={"token": first.json()["invitation_token"], "password": "short"},
    )
    assert weak.status_code == 422
    assert weak.json()["code"] == "password_too_weak"


def test_fund_roles_are_granted_audited_and_take_effect(
    client: TestClient, people: People, fund: Fund
) -> None:
    admin = people.as_(("admin", None))
    treasurer = people.user()
    granted = client.post(
        f"/api/v1/funds/{fund.id}/roles",
        json={"user_id": str(treasurer), "role": "treasurer"},
        headers=admin,
    )
    assert granted.status_code == 201, granted.text
    me = client.get("/api/v1/me", headers=people.headers(treasurer)).json()
    assert {"role": "treasurer", "fund_id": str(fund.id), "outlet_id": None} in me["roles"]
    bad = client.post(
        f"/api/v1/funds/{fund.id}/roles",
        json={"user_id": str(treasurer), "role": "admin"},
        headers=admin,
    )
    assert bad.status_code == 422
    unknown = client.post(
        f"/api/v1/funds/{fund.id}/roles",
        json={"user_id": str(uuid.uuid4()), "role": "auditor"},
        headers=admin,
    )
    assert unknown.status_code == 404
    auditor = people.as_(("auditor", fund.id))
    log = client.get(f"/api/v1/funds/{fund.id}/audit-log", headers=auditor)
    assert log.status_code == 200
    grants = [e for e in log.json()["items"] if e["action"] == "role.grant"]
    assert any(
        e["target_id"] == str(treasurer) and e["after"]["role"] == "treasurer" for e in grants
    )
    assert all(e["request_id"] for e in grants if e["actor"].startswith("user:"))


def test_the_audit_log_pages_and_is_append_only(
    client: TestClient, people: People, fund: Fund, engine: Engine
) -> None:
    admin = people.as_(("admin", None))
    for _ in range(3):
        client.post(
            f"/api/v1/funds/{fund.id}/roles",
            json={"user_id": str(people.user()), "role": "auditor"},
            headers=admin,
        )
    coordinator = people.as_(("coordinator", fund.id))
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(
            f"/api/v1/funds/{fund.id}/audit-log", params=params, headers=coordinator
        ).json()
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) >= 4
    bad = client.get(
        f"/api/v1/funds/{fund.id}/audit-log", params={"cursor": "%%%"}, headers=coordinator
    )
    assert bad.status_code == 422
    from ssa.pagination import encode_cursor

    forged = encode_cursor("not a date", "not an id")
    bad = client.get(
        f"/api/v1/funds/{fund.id}/audit-log", params={"cursor": forged}, headers=coordinator
    )
    assert bad.status_code == 422
    with pytest.raises(IntegrityError), Session(engine) as session:
        session.exec(update(AuditEntry).values(action="forged"))  # type: ignore[call-overload]
        session.commit()


def test_the_instance_log_is_the_administrators_and_holds_no_names(
    client: TestClient, people: People, fund: Fund
) -> None:
    """Users, outlets, their staff and tills belong to no one fund: their entries were
    written and read by no one. The administrator reads them; names stay out of them."""
    admin = people.as_(("admin", None))
    fund_id = fund.id
    email = f"dominique-{uuid.uuid4().hex[:6]}@example.org"
    created = client.post(
        "/api/v1/users", json={"email": email, "display_name": "Dominique Martin"}, headers=admin
    )
    assert created.status_code == 201, created.text
    log = client.get("/api/v1/audit-log", params={"limit": 200}, headers=admin)
    assert log.status_code == 200, log.text
    (entry,) = [e for e in log.json()["items"] if e["target_id"] == created.json()["id"]]
    assert entry["action"] == "user.create"
    assert entry["after"] == {"email": email}
    assert "Dominique Martin" not in log.text
    for other in (people.as_(("coordinator", fund_id)), people.as_(("auditor", fund_id))):
        assert client.get("/api/v1/audit-log", headers=other).status_code == 403


def test_the_app_refuses_postgresql_with_the_development_key() -> None:
    from ssa.settings import DEVELOPMENT_SECRET_KEY

    with pytest.raises(RuntimeError, match="SSA_SECRET_KEY"):
        create_app(
            Settings(
                database_url="postgresql+psycopg://postgres@127.0.0.1/postgres",
                secret_key=DEVELOPMENT_SECRET_KEY,
            )
        )


def test_passwords_never_reach_the_logs(
    client: TestClient, people: People, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    with caplog.at_level(logging.DEBUG):
        client.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "password",
                "username": "x@example.org",
                "password": "hunter2-secret-value",
            },
        )
    assert "hunter2-secret-value" not in caplog.text
