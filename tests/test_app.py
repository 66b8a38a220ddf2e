"""The application skeleton: probes, problem+json errors, OpenAPI."""

import logging
import uuid
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from ssa.app import create_app
from ssa.settings import Settings


class Echo(BaseModel):
    amount_cents: int


@pytest.fixture
def app(database_url: str) -> FastAPI:
    app = create_app(Settings(database_url=database_url))

    @app.post("/test/echo")
    def echo(body: Echo) -> Echo:
        return body

    @app.get("/test/boom")
    def boom() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def assert_problem(response: object, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    assert body["code"] == code
    assert body["status"] == status
    assert {"type", "title", "detail"} <= set(body)
    return body


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["migrations"] == "head"


def test_readyz_refuses_a_database_that_is_not_migrated(
    databases: object, engine_kind: str
) -> None:
    url = databases.empty(engine_kind)  # type: ignore[attr-defined]
    with TestClient(create_app(Settings(database_url=url))) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["migrations"] == "behind"


def test_readyz_refuses_when_the_database_is_unreachable() -> None:
    settings = Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    with TestClient(create_app(settings)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


def test_unknown_path_is_a_not_found_problem(client: TestClient) -> None:
    assert_problem(client.get("/api/v1/nothing-here"), 404, "not_found")


def test_wrong_method_is_a_problem(client: TestClient) -> None:
    assert_problem(client.delete("/healthz"), 405, "method_not_allowed")


@pytest.mark.parametrize(
    "content",
    [b"{not json", b'{"amount_cents": "lots"}', b"[]", b"", b'{"amount_cents": 1e400}'],
)
def test_malformed_bodies_are_validation_errors(client: TestClient, content: bytes) -> None:
    body = assert_problem(
        client.post("/test/echo", content=content, headers={"content-type": "application/json"}),
        422,
        "validation_error",
    )
    assert isinstance(body["errors"], list)
    assert body["errors"]


def test_unexpected_errors_are_500_without_internals_and_logged(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="ssa"):
        response = client.get("/test/boom")
    body = assert_problem(response, 500, "internal_error")
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    assert body["detail"]
    assert any("unexpected error" in r.getMessage() for r in caplog.records)


def test_requests_carry_an_id(client: TestClient) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "abc"}).headers["X-Request-ID"] == "abc"
    assert len(client.get("/healthz").headers["X-Request-ID"]) == 32


def test_openapi_describes_the_api(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "ssa"
    assert "/readyz" in spec["paths"]


# The codes of API.md's table.
CONTRACT_CODES = [
    "validation_error",
    "unauthenticated",
    "forbidden",
    "not_found",
    "idempotency_conflict",
    "idempotency_key_required",
    "contribution_below_minimum",
    "invalid_siret",
    "invalid_iban",
    "member_number_invalid",
    "member_unknown",
    "household_inactive",
    "outlet_not_accredited",
    "pin_incorrect",
    "pin_locked",
    "pin_not_set",
    "insufficient_credits",
    "refund_exceeds_payment",
    "insufficient_coverage",
    "proposal_closed",
    "not_eligible",
    "period_not_issuable",
]


def test_openapi_describes_every_refusal(client: TestClient) -> None:
    """API.md: the document 'must describe all of it'. Every error is problem+json whose
    `code` lists every stable code (the contract's and every Problem the code defines);
    the till's refusals are on the payment's operation."""
    from ssa.problems import problem_catalogue

    spec = client.get("/openapi.json").json()
    problem = spec["components"]["schemas"]["Problem"]
    codes = problem["properties"]["code"]["enum"]
    assert set(CONTRACT_CODES) <= set(codes)
    assert set(problem_catalogue()) == set(codes)
    for code in CONTRACT_CODES:
        assert f"`{code}`" in problem["description"]
    for path, operations in spec["paths"].items():
        if not path.startswith("/api/") or path == "/api/v1/auth/token":
            continue
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status == "default" or status[0] in "45":
                    schema = response["content"]["application/problem+json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Problem"}, (path, method)
            assert "default" in operation["responses"], (path, method)
    # The token endpoint's errors are RFC 6749's, not problem+json.
    token = spec["paths"]["/api/v1/auth/token"]["post"]["responses"]
    assert "default" not in token
    assert all("application/problem+json" not in r.get("content", {}) for r in token.values())
    payment = spec["paths"]["/api/v1/payments"]["post"]["responses"]
    described = " ".join(r["description"] for r in payment.values())
    for code in [
        "member_number_invalid",
        "member_unknown",
        "outlet_not_accredited",
        "household_inactive",
        "pin_not_set",
        "pin_locked",
        "pin_incorrect",
        "insufficient_credits",
        "idempotency_key_required",
        "idempotency_conflict",
    ]:
        assert code in described, code


def test_a_value_the_database_refuses_is_a_validation_error(
    app: FastAPI, client: TestClient
) -> None:
    from sqlalchemy import text

    from ssa.auth.deps import DbSession

    @app.get("/test/nul/{value}")
    def nul(value: str, db_session: DbSession) -> dict[str, str]:
        # PostgreSQL refuses NUL in text; SQLite stores it: force the refusal on both.
        if "\x00" in value and db_session.get_bind().dialect.name == "sqlite":
            from sqlalchemy.exc import DataError

            raise DataError("SELECT", {}, ValueError("NUL"))
        db_session.exec(text("SELECT :v"), params={"v": value})  # type: ignore[call-overload]
        return {"ok": value}

    assert_problem(client.get("/test/nul/a%00b"), 422, "validation_error")
    response = client.post(
        "/api/v1/auth/token",
        content=b"grant_type=password&username=a%00b&password=x",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_extra_members_never_replace_the_problem_members() -> None:
    """RFC 9457: `status` is the HTTP status, whatever the refusal adds (a refused payout
    or payment request says its own state under another name)."""
    from ssa.problems import Conflict

    body = Conflict("Already paid.", status="paid", code="other", title="x", extra=1).body()
    assert (body["status"], body["code"], body["title"], body["detail"]) == (
        409,
        "conflict",
        "Conflict",
        "Already paid.",
    )
    assert body["extra"] == 1


def test_head_answers_as_get_without_a_body(client: TestClient) -> None:
    """RFC 9110: a server that answers GET answers HEAD (health checks, link checkers)."""
    for path in ("/healthz", "/api/v1/funds", "/openapi.json", "/"):
        got, head = client.get(path), client.head(path)
        assert head.status_code == got.status_code, path
        assert head.content == b""
        assert head.headers["content-type"] == got.headers["content-type"]


def test_a_wrong_method_names_every_method_of_the_path(client: TestClient) -> None:
    """The 405's Allow lists what the path answers, not the first route's method only."""
    response = client.delete("/api/v1/funds")
    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET, HEAD, POST"
    policy = client.delete(f"/api/v1/funds/{uuid.uuid4()}/policy")
    assert policy.headers["allow"] == "GET, HEAD, PUT"
    # Inside the static files' mount the routes cannot be matched again: no empty Allow.
    assert client.delete("/static/staff.css").headers.get("allow") != ""
