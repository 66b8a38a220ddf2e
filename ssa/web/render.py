"""Rendering a page: the Jinja2 environment, what every template can use, the headers.

Templates speak through gettext (`{{ _("...") }}`, `{% trans %}`), looked up in the
catalogue of the request's language: the callables read it from the render context,
so one environment serves every language and thread.
"""

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context

from ssa import __version__
from ssa.auth.oidc import SESSION_USER
from ssa.settings import Settings
from ssa.web.csrf import FIELD as CSRF_FIELD
from ssa.web.csrf import csrf_token
from ssa.web.i18n import LANGUAGES, catalogue, texts_for

TEMPLATES = Path(__file__).parent / "templates"
FLASH_KEY = "flash"

# Every page: nothing from elsewhere (no CDN, no font, no script of another site), no
# framing, forms post only here, and no referrer leaves the site.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; "
        "object-src 'none'"
    ),
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Permissions-Policy": "camera=(self), geolocation=(), microphone=()",
}


@pass_context
def _gettext(context: Context, message: str) -> str:
    return str(catalogue(context["language"]).gettext(message))


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return str(catalogue(context["language"]).ngettext(singular, plural, n))


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "svg"], default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    # newstyle: `_("Hello %(name)s", name=...)`, the value escaped, the text formatted once.
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    return env


ENVIRONMENT = _environment()


def flash(request: Request, message: str, kind: str = "success") -> None:
    """A message for the next page shown (after a redirect): 'PIN changed'."""
    request.session[FLASH_KEY] = {"message": message, "kind": kind}


def download(content: bytes, filename: str, media_type: str = "application/xml") -> Response:
    """A file to save (a SEPA file), never kept in a cache: it may hold bank details."""
    return Response(
        content=content,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    """The page `template` in the request's language, with the headers every page has."""
    texts = texts_for(request)
    settings: Settings = request.app.state.settings

    def url(name: str, **params: Any) -> str:
        return str(request.app.url_path_for(name, **{k: str(v) for k, v in params.items()}))

    page = ENVIRONMENT.get_template(template).render(
        {
            "request": request,
            "language": texts.language,
            "languages": LANGUAGES,
            "t": texts,
            "url": url,
            "static": lambda path: f"{url('static', path=path)}?v={__version__}",
            "csrf_field": CSRF_FIELD,
            "csrf_token": lambda: csrf_token(request),
            "logged_in": bool(request.session.get(SESSION_USER)),
            "oidc_enabled": bool(settings.oidc_issuer and settings.oidc_client_id),
            "flashed": request.session.pop(FLASH_KEY, None),
            "current_path": request.url.path
            + (f"?{request.url.query}" if request.url.query else ""),
            **(context or {}),
        }
    )
    response = HTMLResponse(page, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    response.headers["Content-Language"] = texts.language
    return response
