"""CSRF protection of every page form: a synchroniser token kept in the signed session.

Why this and not a package: the pages already have a signed, HttpOnly, SameSite=Lax
session cookie (Starlette's SessionMiddleware), so a random token stored in it and
repeated in a hidden field of each form is the whole defence (OWASP's synchroniser token
pattern): no extra cookie for scripts to read, no JavaScript, nothing to configure.
A cross-site page can neither read the token (same-origin policy) nor forge the session
(it is signed with the secret key). The token is replaced at login and logout, so a
token seen before login is useless after it. SameSite=Lax on the cookie is a second
barrier in browsers that honour it.
"""

import hmac
import secrets

from fastapi import Request

SESSION_KEY = "csrf"
FIELD = "csrf_token"


class CsrfRefused(Exception):
    """A page form came without the token of this browser's session (or with another)."""


def csrf_token(request: Request) -> str:
    """This session's token, made on first use (the session cookie carries it)."""
    token = request.session.get(SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_KEY] = token
    return token


def rotate(request: Request) -> None:
    """A new token (at login and logout)."""
    request.session[SESSION_KEY] = secrets.token_urlsafe(32)


async def csrf_protect(request: Request) -> None:
    """Dependency of every page router: a POST must carry the session's token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    expected = request.session.get(SESSION_KEY)
    form = await request.form()
    sent = form.get(FIELD)
    if (
        not isinstance(expected, str)
        or not expected
        or not isinstance(sent, str)
        or not hmac.compare_digest(sent.encode(), expected.encode())
    ):
        raise CsrfRefused()
