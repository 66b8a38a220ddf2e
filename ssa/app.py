"""create_app(): the FastAPI application with its routers, error handlers and database."""

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ssa import __version__, health
from ssa.assembly import routes as assembly_routes
from ssa.audit import routes as audit_routes
from ssa.auth import oidc
from ssa.auth import routes as auth_routes
from ssa.auth.tokens import TokenSigner
from ssa.db import HEAD_REQUEST, is_sqlite, make_engine
from ssa.funds import routes as fund_routes
from ssa.households import contribution_routes, mandate_routes
from ssa.households import routes as household_routes
from ssa.idempotency.openapi import describe_idempotency_keys
from ssa.issuance import routes as issuance_routes
from ssa.migrations import head_revisions
from ssa.outlets import routes as outlet_routes
from ssa.payments import request_routes
from ssa.payments import routes as payment_routes
from ssa.payouts import routes as payout_routes
from ssa.problems import describe_problems, install_problem_handlers
from ssa.reports import routes as report_routes
from ssa.settings import DEVELOPMENT_SECRET_KEY, Settings, get_settings
from ssa.web import install as install_web

logger = logging.getLogger("ssa")


class RequestIdMiddleware:
    """Names every request, with the caller's `X-Request-ID` or a new one, for the logs
    and the audit trail (`request.state.request_id`), and says the name in the answer.

    A plain ASGI middleware: the `@app.middleware("http")` one it replaces
    (BaseHTTPMiddleware, which runs every request through extra tasks and streams) cost
    about a tenth of a payment's CPU in `bench/payments.py`.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = (Headers(scope=scope).get("x-request-id") or uuid.uuid4().hex)[:64]
        scope.setdefault("state", {})["request_id"] = rid

        async def send_named(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-ID"] = rid
            await send(message)

        await self.app(scope, receive, send_named)


class HeadAsGetMiddleware:
    """RFC 9110: what answers GET answers HEAD, with the same status and headers and no
    body (FastAPI's routes answer the methods they name only: a HEAD was a 405). A HEAD
    writes nothing: its unit of work is rolled back (a GET that records what it served,
    such as a direct-debit file, records nothing for a HEAD)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] != "http.response.body":
                await send(message)
            elif not message.get("more_body", False):
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        await self.app({**scope, "method": "GET", HEAD_REQUEST: True}, receive, send_without_body)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    if settings.secret_key == DEVELOPMENT_SECRET_KEY and not is_sqlite(settings.database_url):
        raise RuntimeError(
            "Refusing to start on PostgreSQL with the development secret key: set SSA_SECRET_KEY."
        )
    engine = make_engine(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(
        title="ssa",
        version=__version__,
        summary="The ledger of a social food security fund",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.migration_heads = head_revisions()
    app.state.token_signer = TokenSigner(settings)
    install_problem_handlers(app)
    # The web session (OpenID Connect login, pages): a signed, HttpOnly, SameSite cookie.
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="ssa_session",
        max_age=12 * 3600,
        same_site="lax",
        https_only=settings.secure_cookies,
    )

    app.add_middleware(HeadAsGetMiddleware)
    app.add_middleware(RequestIdMiddleware)

    app.include_router(health.router)
    app.include_router(auth_routes.router)
    app.include_router(oidc.router)
    app.include_router(fund_routes.router)
    app.include_router(audit_routes.router)
    app.include_router(household_routes.router)
    app.include_router(contribution_routes.router)
    app.include_router(mandate_routes.router)
    app.include_router(issuance_routes.router)
    app.include_router(report_routes.router)
    app.include_router(outlet_routes.router)
    app.include_router(payment_routes.router)
    app.include_router(request_routes.router)
    app.include_router(payout_routes.router)
    app.include_router(assembly_routes.router)
    install_web(app)
    generate_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        # FastAPI caches its document (and makes it again when routes are added): the
        # Idempotency-Key header of every POST is added to whichever it gives.
        return describe_problems(describe_idempotency_keys(generate_openapi()))

    app.openapi = openapi  # type: ignore[method-assign]
    return app
