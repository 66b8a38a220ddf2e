"""Liveness and readiness probes."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from ssa.migrations import current_revisions

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """200 while the process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Database down or not migrated"}})
def readyz(request: Request) -> JSONResponse:
    """200 when the database answers and its schema is at the migrations' head."""
    engine = request.app.state.engine
    expected: set[str] = request.app.state.migration_heads
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        current = current_revisions(engine)
    except Exception as exc:  # any failure to reach the database means not ready
        return JSONResponse(
            {"status": "unavailable", "database": "unreachable", "error": type(exc).__name__},
            status_code=503,
        )
    if current != expected:
        return JSONResponse(
            {
                "status": "unavailable",
                "database": "ok",
                "migrations": "behind",
                "current": sorted(current),
                "head": sorted(expected),
            },
            status_code=503,
        )
    return JSONResponse({"status": "ok", "database": "ok", "migrations": "head"})
