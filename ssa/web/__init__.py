"""The web pages: server-rendered HTML (Jinja2), in French, Dutch and English.

`install(app)` adds the static files, the page routers and what turns a page's
refusals into pages. A new area of pages is a module with its own `APIRouter`
(`include_in_schema=False`, `dependencies=[Depends(csrf_protect)]`) listed in `ROUTERS`,
and its templates under `templates/<area>/` extending `base.html`; see docs/web.md.
"""

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from ssa.web import assembly, household, public, staff, till
from ssa.web.access import LoginRequired, PageForbidden, PageNotFound
from ssa.web.csrf import CsrfRefused
from ssa.web.render import render

STATIC = Path(__file__).parent / "static"
ROUTERS = (public.router, household.router, till.router, assembly.router, *staff.ROUTERS)


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(f"/login?next={quote(exc.next_path, safe='/')}", status_code=303)


async def _forbidden(request: Request, _exc: Exception) -> Response:
    return render(request, "error.html", {"kind": "forbidden"}, status=403)


async def _not_found(request: Request, _exc: Exception) -> Response:
    return render(request, "error.html", {"kind": "not_found"}, status=404)


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
