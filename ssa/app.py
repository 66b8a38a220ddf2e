"""create_app(): the FastAPI application with its routers, error handlers and database."""

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from ssa import __version__, health
from ssa.db import make_engine
from ssa.migrations import head_revisions
from ssa.problems import install_problem_handlers
from ssa.settings import Settings, get_settings

logger = logging.getLogger("ssa")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
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
    install_problem_handlers(app)

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
    return app
