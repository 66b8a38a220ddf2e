"""create_app(): the FastAPI application with its routers, error handlers and database."""

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from starlette.middleware.sessions import SessionMiddleware

from ssa import __version__, health
from ssa.assembly import routes as assembly_routes
from ssa.audit import routes as audit_routes
from ssa.auth import oidc
from ssa.auth import routes as auth_routes
from ssa.auth.tokens import TokenSigner
from ssa.db import is_sqlite, make_engine
from ssa.funds import routes as fund_routes
from ssa.households import contribution_routes, mandate_routes
from ssa.households import routes as household_routes
from ssa.issuance import routes as issuance_routes
from ssa.migrations import head_revisions
from ssa.outlets import routes as outlet_routes
from ssa.payments import request_routes
from ssa.payments import routes as payment_routes
from ssa.payouts import routes as payout_routes
from ssa.problems import install_problem_handlers
from ssa.reports import routes as report_routes
from ssa.settings import DEVELOPMENT_SECRET_KEY, Settings, get_settings
from ssa.web import install as install_web

logger = logging.getLogger("ssa")


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

    @app.middleware("http")
    async def request_id(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        rid = request.headers.get("X-Request-ID") or uuid.uuid4().hex
        request.state.request_id = rid[:64]
        response = await call_next(request)
        response.headers["X-Request-ID"] = request.state.request_id
        return response

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
    return app
