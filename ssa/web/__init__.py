"""The web pages: server-rendered HTML (Jinja2), in French, Dutch and English.

`install(app)` adds the static files, the page routers and what turns a page's
refusals into pages. A new area of pages is a module with its own `APIRouter`
(`include_in_schema=False`, `dependencies=[Depends(csrf_protect)]`) listed in `ROUTERS`,
and its templates under `templates/<area>/` extending `base.html`; see docs/web.md.
"""

import inspect
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ssa.web import assembly, household, public, staff, till
from ssa.web.access import LoginRequired, MonthRefused, PageForbidden, PageNotFound
from ssa.web.csrf import CsrfRefused
from ssa.web.render import render

STATIC = Path(__file__).parent / "static"
ROUTERS = (public.router, household.router, till.router, assembly.router, *staff.ROUTERS)
# The pages' own address spaces ("/me", "/till", ...): an address under one of them that
# no page answers is a page not found, not the API's JSON.
PAGE_PREFIXES = tuple(sorted({router.prefix for router in ROUTERS if router.prefix}))

Handler = Callable[[Request, Any], Response | Awaitable[Response]]


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(f"/login?next={quote(exc.next_path, safe='/')}", status_code=303)


async def _forbidden(request: Request, _exc: Exception) -> Response:
    return render(request, "error.html", {"kind": "forbidden"}, status=403)


async def _not_found(request: Request, _exc: Exception) -> Response:
    return render(request, "error.html", {"kind": "not_found"}, status=404)


def _is_page(request: Request) -> bool:
    """Whether the route that matched this request is one of the pages."""
    endpoint = getattr(request.scope.get("route"), "endpoint", None)
    return str(getattr(endpoint, "__module__", "")).startswith(f"{__name__}.")


def _under_page_prefix(path: str) -> bool:
    return any(path == prefix or path.startswith(f"{prefix}/") for prefix in PAGE_PREFIXES)


async def _delegate(api_handler: Handler, request: Request, exc: Exception) -> Response:
    answer = api_handler(request, exc)
    return await answer if inspect.isawaitable(answer) else answer


def _malformed_ids_not_found(api_handler: Handler) -> Handler:
    """A page whose address holds a malformed id (`/till/not-a-uuid`) or query parameter
    (`?span=abc`) is a page not found, as a well-formed unknown id is; the API's routes
    keep `api_handler` (problem+json)."""

    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if _is_page(request) and any(
            error.get("loc", ())[:1] in (("path",), ("query",)) for error in exc.errors()
        ):
            return await _not_found(request, exc)
        return await _delegate(api_handler, request, exc)

    return handler


def _unknown_pages_not_found(api_handler: Handler) -> Handler:
    """An address under a page prefix that no page answers (such as
    `/assembly/proposals/not-a-uuid`, refused by the route's converter) is a page not
    found; everything else keeps `api_handler`."""

    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if (
            exc.status_code == 404
            and request.scope.get("route") is None
            and _under_page_prefix(request.url.path)
        ):
            return await _not_found(request, exc)
        return await _delegate(api_handler, request, exc)

    return handler


async def _month_refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MonthRefused)
    return render(request, "error.html", {"kind": "month", "period": exc.period}, exc.status)


async def _csrf_refused(request: Request, _exc: Exception) -> Response:
    return render(request, "error.html", {"kind": "csrf"}, status=403)


def install(app: FastAPI) -> None:
    """Serve the pages and their static files from this app (nothing from elsewhere)."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in ROUTERS:
        app.include_router(router)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(PageForbidden, _forbidden)
    app.add_exception_handler(PageNotFound, _not_found)
    app.add_exception_handler(CsrfRefused, _csrf_refused)
    app.add_exception_handler(MonthRefused, _month_refused)
    # Wrapping the API's handlers (ssa.problems), which keep answering for the API.
    validation: Handler = app.exception_handlers.get(
        RequestValidationError, request_validation_exception_handler
    )
    app.add_exception_handler(RequestValidationError, _malformed_ids_not_found(validation))
    http_error: Handler = app.exception_handlers.get(StarletteHTTPException, http_exception_handler)
    app.add_exception_handler(StarletteHTTPException, _unknown_pages_not_found(http_error))
