"""The token endpoint: grants, RFC 6749 errors, rotation, revocation, throttling."""

import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from ssa.auth.models import OAuthClient, User
from ssa.auth.service import set_password
from ssa.auth.tokens import new_secret, secret_hash
from tests.conftest import People
from tests.households.helpers import new_fund, new_outlet

PASSWORD = "a long enough password"


def login(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, object]:
    response = client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": email, "password": password},
    )
    body: dict[str, object] = response.json()
    body["_status"] = response.status_code
    return body


def email_of(engine: Engine, user_id: uuid.UUID) -> str:
    with Session(engine) as session:
        user = session.get(User, user_id)
        assert user is not None
        return user.email


def test_password_grant_gives_a_working_access_token_and_a_refresh_token(
    client: TestClient, people: People, engine: Engine
) -> None:
    user_id = people.user(("admin", None))
    tokens = login(client, email_of(engine, user_id).upper())  # emails are case-insensitive
    assert tokens["_status"] == 200
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 900
    assert isinstance(tokens["refresh_token"], str)
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200
    assert me.json()["user_id"] == str(user_id)
    assert me.json()["roles"] == [{"role": "admin", "fund_id": None, "outlet_id": None}]


def test_wrong_password_and_unknown_user_are_invalid_grant(
    client: TestClient, people: People, engine: Engine
) -> None:
    email = email_of(engine, people.user())
    for username, password in [(email, "wrong password!!"), ("nobody@example.org", PASSWORD)]:
        body = login(client, username, password)
        assert body["_status"] == 400
        assert body["error"] == "invalid_grant"
        assert "access_token" not in body


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({}, 400, "invalid_request"),
        ({"username": "x@example.org", "password": "x"}, 400, "invalid_request"),
        ({"grant_type": ""}, 400, "invalid_request"),
        ({"grant_type": "magic"}, 400, "unsupported_grant_type"),
        ({"grant_type": "password", "username": "x@example.org"}, 400, "invalid_request"),
        ({"grant_type": "refresh_token", "refresh_token": "nope"}, 400, "invalid_grant"),
        (
            {"grant_type": "client_credentials", "client_id": "nope", "client_secret": "x"},
            401,
            "invalid_client",
        ),
    ],
)
def test_bad_token_requests_get_rfc6749_errors(
    client: TestClient, form: dict[str, str], status: int, error: str
) -> None:
    response = client.post("/api/v1/auth/token", data=form)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.headers["cache-control"] == "no-store"


def test_the_first_party_client_may_name_itself(
    client: TestClient, people: People, engine: Engine
) -> None:
    """RFC 6749 3.2.1: a public client may send its client_id (OAuth libraries do)."""
    email = email_of(engine, people.user())
    form = {"grant_type": "password", "username": email, "password": PASSWORD}
    named = client.post("/api/v1/auth/token", data={**form, "client_id": "ssa"})
    assert named.status_code == 200, named.text
    refreshed = client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": named.json()["refresh_token"],
            "client_id": "ssa",
        },
    )
    assert refreshed.status_code == 200, refreshed.text
    # Another client's id, or a secret, is client authentication: refused as before.
    for other in ({"client_id": "someone-else"}, {"client_id": "ssa", "client_secret": "x"}):
        refused = client.post("/api/v1/auth/token", data={**form, **other})
        assert refused.status_code == 401, other
        assert refused.json()["error"] == "invalid_client"


def test_refresh_tokens_rotate_and_a_reused_one_ends_the_login(
    client: TestClient, people: People, engine: Engine
) -> None:
    email = email_of(engine, people.user())
    first = login(client, email)
    rotated = client.post(
        "/api/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
    ).json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert rotated["access_token"]
    replay = client.post(
        "/api/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
    )
    assert replay.json()["error"] == "invalid_grant"
    # The reuse revoked the whole family, the rotated token included.
    after = client.post(
        "/api/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": rotated["refresh_token"]},
    )
    assert after.json()["error"] == "invalid_grant"


def test_a_refresh_token_sent_several_times_at_once_is_used_once(
    client: TestClient, people: People, engine: Engine
) -> None:
    """The same refresh token sent five times at once (a stolen copy racing the owner's)
    gives at most one new token, and the other uses end the login: never two chains."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    email = email_of(engine, people.user())
    token = login(client, email)["refresh_token"]
    start = threading.Barrier(5)

    def refresh(_: int) -> dict[str, object]:
        start.wait(timeout=30)
        response = client.post(
            "/api/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": token}
        )
        body: dict[str, object] = response.json()
        return body

    with ThreadPoolExecutor(max_workers=5) as pool:
        answers = list(pool.map(refresh, range(5)))
    issued = [a["refresh_token"] for a in answers if "refresh_token" in a]
    assert len(issued) <= 1, answers
    assert sum(a.get("error") == "invalid_grant" for a in answers) >= 4
    for new in issued:  # a reuse came after it: the login is over
        again = client.post(
            "/api/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": new}
        )
        assert again.json()["error"] == "invalid_grant"


def test_a_password_change_revokes_refresh_tokens(
    client: TestClient, people: People, engine: Engine
) -> None:
    user_id = people.user()
    tokens = login(client, email_of(engine, user_id))
    with Session(engine) as session:
        user = session.get(User, user_id)
        assert user is not None
        set_password(db_session=session, user=user, password="another long password")
        session.commit()
    refused = client.post(
        "/api/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )
    assert refused.json()["error"] == "invalid_grant"
    assert login(client, email_of(engine, user_id), "another long password")["_status"] == 200


def test_client_credentials_for_a_terminal(
    client: TestClient, engine: Engine, people: People
) -> None:
    secret = new_secret()
    client_id = f"till-{uuid.uuid4().hex[:8]}"
    fund_id = new_fund(client, people)
    outlet_id = new_outlet(client, people.as_(("coordinator", fund_id)))
    with Session(engine) as session:
        session.add(
            OAuthClient(
                client_id=client_id,
                client_secret_hash=secret_hash(secret),
                label="Till 1",
                outlet_id=outlet_id,
            )
        )
        session.commit()
    for form, headers in [
        ({"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}, {}),
        ({"grant_type": "client_credentials"}, {}),
    ]:
        if not headers and "client_id" not in form:
            response = client.post("/api/v1/auth/token", data=form, auth=(client_id, secret))
        else:
            response = client.post("/api/v1/auth/token", data=form)
        assert response.status_code == 200, response.text
        token = response.json()
        assert "refresh_token" not in token
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token['access_token']}"})
        assert me.json()["client_id"] == client_id
        assert me.json()["outlet_id"] == str(outlet_id)
    wrong = client.post(
        "/api/v1/auth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": "guess"},
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    # A terminal cannot use the password grant, a person cannot use client credentials.
    assert login(client, client_id)["_status"] == 400


def test_failed_logins_are_slowed_then_locked_per_account(
    client: TestClient, people: People, engine: Engine
) -> None:
    email = email_of(engine, people.user())
    statuses = [login(client, email, "wrong password!!")["_status"] for _ in range(3)]
    assert statuses == [400, 400, 400]
    # Now slowed: even the right password waits, and the answer says for how long.
    response = client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": email, "password": PASSWORD},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert "try again in" in response.json()["error_description"]
    assert int(response.headers["retry-after"]) >= 1


def test_parallel_guesses_are_counted_and_slowed_like_sequential_ones(
    client: TestClient, people: People, engine: Engine
) -> None:
    """Twelve wrong passwords sent at once: each one counted (none lost), and once three
    have failed the others wait their turn and are refused unchecked (all twelve were
    checked and answered 'wrong password' before, on PostgreSQL)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from ssa.auth.models import LoginThrottle

    email = email_of(engine, people.user())
    start = threading.Barrier(12)

    def guess(_: int) -> str:
        start.wait(timeout=30)
        return str(login(client, email, "wrong password!!").get("error_description", ""))

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(guess, range(12)))
    checked = [a for a in answers if "try again in" not in a]
    assert len(checked) == 3, answers  # the slowdown starts after the third failure
    with Session(engine) as session:
        row = session.exec(
            select(LoginThrottle).where(col(LoginThrottle.subject) == f"account:{email}")
        ).one()
    assert row.failures == len(checked)


def test_the_lock_expires_and_a_success_resets_the_count(
    app: FastAPI, client: TestClient, people: People, engine: Engine
) -> None:
    from sqlalchemy import update

    from ssa.auth.models import LoginThrottle

    email = email_of(engine, people.user())
    for _ in range(12):
        login(client, email, "wrong password!!")
    with Session(engine) as session:  # time passes
        session.exec(update(LoginThrottle).values(locked_until=None))  # type: ignore[call-overload]
        session.commit()
    assert login(client, email)["_status"] == 200
    assert login(client, email, "wrong password!!")["_status"] == 400
    last = login(client, email)
    assert last["_status"] == 200, last  # one failure after a reset: not slowed


def test_failures_a_lock_length_old_are_forgotten(
    client: TestClient, people: People, engine: Engine
) -> None:
    """Once a lock has run out with no failure since, the count starts again: one wrong try
    after it does not lock the account for another 15 minutes (one try per quarter of an
    hour kept an account locked for good)."""
    from datetime import timedelta

    from sqlalchemy import update

    from ssa.auth.models import LoginThrottle
    from ssa.timeutil import utcnow

    email = email_of(engine, people.user())
    for _ in range(12):
        login(client, email, "wrong password!!")
    with Session(engine) as session:  # the lock ran out, 16 minutes without a try
        session.exec(
            update(LoginThrottle)  # type: ignore[call-overload]
            .where(col(LoginThrottle.subject) == f"account:{email}")
            .values(locked_until=None, last_failure_at=utcnow() - timedelta(minutes=16))
        )
        session.commit()
    assert login(client, email, "wrong password!!")["_status"] == 400
    assert login(client, email)["_status"] == 200  # not locked again by one try


def test_access_tokens_are_verified(client: TestClient, app: FastAPI, people: People) -> None:
    from ssa.auth.tokens import TokenSigner
    from ssa.settings import Settings

    user_id = people.user()
    good = people.headers(user_id)
    assert client.get("/api/v1/me", headers=good).status_code == 200
    settings: Settings = app.state.settings
    others = {
        "other key": TokenSigner(settings.model_copy(update={"secret_key": "another key"})),
        "other issuer": TokenSigner(settings.model_copy(update={"token_issuer": "evil"})),
        "other audience": TokenSigner(settings.model_copy(update={"token_audience": "x"})),
        "expired": TokenSigner(settings.model_copy(update={"access_token_seconds": -60})),
    }
    for signer in others.values():
        token, _ = signer.issue(subject=f"user:{user_id}", roles=[])
        response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert response.json()["code"] == "unauthenticated"
    token = good["Authorization"].split()[1]
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload[:-2]}AA.{signature}"
    for value in [
        f"Bearer {tampered}",
        "Bearer ",
        "Basic abc",
        token,
        f"Bearer {header}.{payload}.",
    ]:
        response = client.get("/api/v1/me", headers={"Authorization": value})
        assert response.status_code == 401, value
        assert response.headers["content-type"] == "application/problem+json"
