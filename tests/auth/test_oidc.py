"""OpenID Connect login, end to end against a real provider on loopback.

The provider is oidc-provider (npm, pinned in tests/oidc/package.json) run by
`node tests/oidc/provider.js`; the app is served by uvicorn on a real port, and an
httpx client plays the browser: the app's login redirect, the provider's login and
consent forms, the callback, the session cookie, and the API token the session buys.
"""

import html
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit, urlunsplit

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from ssa.app import create_app
from ssa.auth.oidc import local_path
from ssa.auth.service import create_user
from ssa.db import unit_of_work
from ssa.settings import Settings

pytestmark = pytest.mark.slow

OIDC_DIR = Path(__file__).resolve().parent.parent / "oidc"
CLIENT_ID = "ssa-web"
CLIENT_SECRET = "ssa-web-test-secret-" + uuid.uuid4().hex
RUN = uuid.uuid4().hex[:8]  # the database is shared with other tests: unique emails


@dataclass(frozen=True)
class Person:
    login: str  # the name typed into the provider's login form
    email: str
    email_verified: bool
    registered: bool  # has a user in ssa
    active: bool = True


ALICE = Person("alice", f"alice-{RUN}@example.org", email_verified=True, registered=True)
NOBODY = Person("nobody", f"nobody-{RUN}@example.org", email_verified=True, registered=False)
CAROL = Person("carol", f"carol-{RUN}@example.org", email_verified=False, registered=True)
DAVE = Person("dave", f"dave-{RUN}@example.org", email_verified=True, registered=True, active=False)
PEOPLE = (ALICE, NOBODY, CAROL, DAVE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def app_port() -> int:
    """The app's port, known before the provider starts (its client's redirect URI)."""
    return free_port()


def callback_url(port: int) -> str:
    return f"http://localhost:{port}/auth/oidc/callback"


def ensure_node_modules() -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed to run the OpenID Connect provider of these tests")
    if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        subprocess.run(
            ["npm", "install", "--prefix", str(OIDC_DIR), "--no-audit", "--no-fund"],
            check=True,
            timeout=300,
        )


def read_issuer(stdout: IO[str], timeout: float) -> str:
    """The issuer the provider prints once it listens (read in a thread: no hang)."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not lines or not lines[0].strip():
        raise RuntimeError("the OpenID Connect provider did not start")
    issuer: str = json.loads(lines[0])["issuer"]
    return issuer


def wait_for_discovery(issuer: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=2)
            if response.status_code == 200:
                document: dict[str, Any] = response.json()
                return document
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"no discovery document at {issuer}")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def oidc_issuer(app_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real OpenID Connect provider on 127.0.0.1, with one client and the PEOPLE."""
    ensure_node_modules()
    accounts = {
        p.login: {"email": p.email, "email_verified": p.email_verified, "name": p.login.title()}
        for p in PEOPLE
    }
    env = {
        **os.environ,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_REDIRECT_URIS": callback_url(app_port),
        "OIDC_ACCOUNTS": json.dumps(accounts),
    }
    log_path = tmp_path_factory.mktemp("oidc") / "provider.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            ["node", str(OIDC_DIR / "provider.js")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        try:
            assert process.stdout is not None
            try:
                issuer = read_issuer(process.stdout, timeout=30)
                wait_for_discovery(issuer)
            except (RuntimeError, ValueError, KeyError) as exc:
                process.kill()
                process.wait()
                raise RuntimeError(f"{exc}:\n{log_path.read_text()}") from exc
            yield issuer
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()


@dataclass(frozen=True)
class RunningApp:
    app: FastAPI
    base_url: str
    user_ids: dict[str, uuid.UUID]


def create_people(engine: Engine) -> dict[str, uuid.UUID]:
    ids = {}
    with unit_of_work(engine) as db_session:
        for person in PEOPLE:
            if not person.registered:
                continue
            user = create_user(
                db_session=db_session, email=person.email, display_name=person.login.title()
            )
            user.is_active = person.active
            db_session.add(user)
            ids[person.login] = user.id
    return ids


@pytest.fixture(scope="session")
def running_app(
    database_url: str, engine: Engine, oidc_issuer: str, app_port: int
) -> Iterator[RunningApp]:
    """The app served by uvicorn on localhost:app_port, configured for the provider."""
    user_ids = create_people(engine)
    app = create_app(
        Settings(
            database_url=database_url,
            oidc_issuer=oidc_issuer,
            oidc_client_id=CLIENT_ID,
            oidc_client_secret=CLIENT_SECRET,
        )
    )
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=app_port,
        log_level="warning",
        lifespan="on",
        http="h11",
        ws="none",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield RunningApp(app=app, base_url=f"http://localhost:{app_port}", user_ids=user_ids)
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    """A fresh browser: its own cookies for the app and for the provider."""
    with httpx.Client(follow_redirects=False, timeout=20) as client:
        yield client


def start_login(browser: httpx.Client, app: RunningApp, next_path: str | None = None) -> str:
    """GET the app's login; the provider's authorization URL it redirects to."""
    params = {"next": next_path} if next_path is not None else {}
    response = browser.get(f"{app.base_url}/auth/oidc/login", params=params)
    assert response.status_code == 302, response.text
    return response.headers["location"]


def log_in_at_provider(browser: httpx.Client, authorize_url: str, login: str) -> str:
    """Fill the provider's login and consent forms; the app callback URL it redirects to."""
    url = authorize_url
    callback_prefix = urlsplit(authorize_url)
    redirect_uri = parse_qs(callback_prefix.query)["redirect_uri"][0]
    for _ in range(20):
        if url.startswith(redirect_uri):
            return url
        response = browser.get(url)
        if response.is_redirect:
            url = urljoin(str(response.url), response.headers["location"])
            continue
        assert response.status_code == 200, response.text
        action = re.search(r'<form[^>]*action="([^"]+)"', response.text)
        prompt = re.search(r'name="prompt" value="(\w+)"', response.text)
        assert action, response.text
        assert prompt, response.text
        form = {"prompt": prompt.group(1)}
        if form["prompt"] == "login":
            form |= {"login": login, "password": "any password"}
        response = browser.post(
            urljoin(str(response.url), html.unescape(action.group(1))), data=form
        )
        assert response.is_redirect, response.text
        url = urljoin(str(response.url), response.headers["location"])
    raise AssertionError("the provider never redirected back to the app")


def with_state(url: str, state: str) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    query["state"] = state
    return urlunsplit(parts._replace(query=urlencode(query)))


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code


def session_cookie_header(response: httpx.Response) -> str:
    headers = [h for h in response.headers.get_list("set-cookie") if h.startswith("ssa_session=")]
    assert len(headers) == 1, response.headers
    return headers[0]


# --- The whole login ----------------------------------------------------------------------


def test_a_person_logs_in_and_gets_api_tokens(
    running_app: RunningApp, browser: httpx.Client, app_port: int
) -> None:
    authorize_url = start_login(browser, running_app, next_path="/funds?tab=ledger")
    query = parse_qs(urlsplit(authorize_url).query)
    assert query["response_type"] == ["code"]
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [callback_url(app_port)]
    assert set(query["scope"][0].split()) == {"openid", "email", "profile"}
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43  # base64url SHA-256
    assert query["state"][0]
    assert query["nonce"][0]

    callback = log_in_at_provider(browser, authorize_url, ALICE.login)
    assert "code=" in callback
    response = browser.get(callback)
    assert response.status_code == 302, response.text
    assert response.headers["location"] == "/funds?tab=ledger"
    cookie = session_cookie_header(response).lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie

    response = browser.get(f"{running_app.base_url}/api/v1/auth/session/token")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] > 0
    claims = running_app.app.state.token_signer.verify(body["access_token"])
    assert claims.subject == f"user:{running_app.user_ids[ALICE.login]}"

    # The session holds ids only, never what the provider said about the person.
    raw = browser.cookies.get("ssa_session")
    assert raw is not None
    assert ALICE.email not in raw

    response = browser.post(f"{running_app.base_url}/auth/logout")
    assert response.status_code == 204
    response = browser.get(f"{running_app.base_url}/api/v1/auth/session/token")
    assert_problem(response, 401, "unauthenticated")


def test_next_must_be_a_local_path(running_app: RunningApp, browser: httpx.Client) -> None:
    authorize_url = start_login(browser, running_app, next_path="//evil.example/steal")
    response = browser.get(log_in_at_provider(browser, authorize_url, ALICE.login))
    assert response.status_code == 302, response.text
    assert response.headers["location"] == "/"


# --- Refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("person", "code"),
    [
        (NOBODY, "oidc_email_unknown"),
        (CAROL, "oidc_email_unverified"),
        (DAVE, "oidc_user_inactive"),
    ],
    ids=["unknown email", "unverified email", "inactive user"],
)
def test_a_login_is_refused(
    running_app: RunningApp, browser: httpx.Client, person: Person, code: str
) -> None:
    authorize_url = start_login(browser, running_app)
    response = browser.get(log_in_at_provider(browser, authorize_url, person.login))
    assert_problem(response, 403, code)
    assert not [h for h in response.headers.get_list("set-cookie") if "user_id" in h]
    response = browser.get(f"{running_app.base_url}/api/v1/auth/session/token")
    assert_problem(response, 401, "unauthenticated")


def test_a_tampered_state_is_refused(running_app: RunningApp, browser: httpx.Client) -> None:
    authorize_url = start_login(browser, running_app)
    callback = log_in_at_provider(browser, authorize_url, ALICE.login)
    response = browser.get(with_state(callback, "tampered-" + uuid.uuid4().hex))
    assert_problem(response, 400, "oidc_state_invalid")
    response = browser.get(f"{running_app.base_url}/api/v1/auth/session/token")
    assert_problem(response, 401, "unauthenticated")

    # The untouched answer still logs in: only the tampering was refused.
    response = browser.get(callback)
    assert response.status_code == 302, response.text
    response = browser.get(f"{running_app.base_url}/api/v1/auth/session/token")
    assert response.status_code == 200, response.text


def test_a_callback_from_another_browser_is_refused(
    running_app: RunningApp, browser: httpx.Client
) -> None:
    callback = log_in_at_provider(browser, start_login(browser, running_app), ALICE.login)
    with httpx.Client(timeout=20) as other:  # no session cookie: no state of this login
        assert_problem(other.get(callback), 400, "oidc_state_invalid")


def test_a_provider_error_is_refused(running_app: RunningApp, browser: httpx.Client) -> None:
    authorize_url = start_login(browser, running_app)
    state = parse_qs(urlsplit(authorize_url).query)["state"][0]
    response = browser.get(
        f"{running_app.base_url}/auth/oidc/callback",
        params={"error": "access_denied", "state": state},
    )
    assert_problem(response, 403, "oidc_login_failed")


def test_the_session_token_needs_a_session(running_app: RunningApp, browser: httpx.Client) -> None:
    response = browser.get(f"{running_app.base_url}/api/v1/auth/session/token")
    assert_problem(response, 401, "unauthenticated")
    browser.cookies.set("ssa_session", "forged", domain="localhost.local")
    response = browser.get(f"{running_app.base_url}/api/v1/auth/session/token")
    assert_problem(response, 401, "unauthenticated")


# --- Without a provider -------------------------------------------------------------------


def test_without_an_issuer_oidc_is_not_configured(database_url: str) -> None:
    app = create_app(Settings(database_url=database_url, oidc_issuer=None))
    try:
        with TestClient(app, follow_redirects=False) as client:
            assert_problem(client.get("/auth/oidc/login"), 404, "oidc_not_configured")
            response = client.get("/auth/oidc/callback", params={"code": "x", "state": "y"})
            assert_problem(response, 404, "oidc_not_configured")
    finally:
        app.state.engine.dispose()


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        (None, "/"),
        ("", "/"),
        ("/funds/1?x=2#y", "/funds/1?x=2#y"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("funds", "/"),
        ("/\nSet-Cookie:x", "/"),
    ],
)
def test_local_path(candidate: str | None, expected: str) -> None:
    assert local_path(candidate) == expected
