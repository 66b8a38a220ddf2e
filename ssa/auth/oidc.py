"""OpenID Connect login for persons through an external provider, and the web session.

The app is a confidential OIDC client (authorization code with PKCE S256, state and
nonce) built with Authlib's Starlette client from the issuer's discovery document. A
person is matched to a user by a verified email. After login the signed session cookie
(SessionMiddleware: HttpOnly, SameSite=lax) holds only the user id and the login time;
web pages exchange it for short-lived API bearer tokens at /api/v1/auth/session/token.
"""

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client import MismatchingStateError
from authlib.integrations.starlette_client import OAuth
from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from joserfc.errors import JoseError
from pydantic import BaseModel
from sqlmodel import Session

from ssa.auth.deps import DbSession, Unauthenticated
from ssa.auth.models import User
from ssa.auth.service import find_user_by_email, roles_claim
from ssa.auth.tokens import TokenSigner
from ssa.problems import Problem
from ssa.settings import Settings
from ssa.timeutil import utcnow

logger = logging.getLogger("ssa")

router = APIRouter(tags=["auth"])

CLIENT_NAME = "ssa_oidc"
SESSION_USER = "user_id"
SESSION_LOGIN_AT = "login_at"
SESSION_NEXT = "oidc_next"


class OidcNotConfigured(Problem):
    status = 404
    code = "oidc_not_configured"
    title = "OpenID Connect login is not configured"

    def __init__(self) -> None:
        super().__init__("This instance has no OpenID Connect provider (SSA_OIDC_ISSUER).")


class OidcStateInvalid(Problem):
    status = 400
    code = "oidc_state_invalid"
    title = "This login attempt is unknown or expired"

    def __init__(self) -> None:
        super().__init__("The login's state does not match this browser session; log in again.")


class OidcLoginFailed(Problem):
    status = 403
    code = "oidc_login_failed"
    title = "The identity provider did not confirm the login"


class OidcProviderUnavailable(Problem):
    status = 502
    code = "oidc_provider_unavailable"
    title = "The identity provider cannot be reached"


class OidcEmailUnverified(Problem):
    status = 403
    code = "oidc_email_unverified"
    title = "The identity provider has not verified this email"

    def __init__(self) -> None:
        super().__init__("Verify your email address with your identity provider, then log in.")


class OidcEmailUnknown(Problem):
    status = 403
    code = "oidc_email_unknown"
    title = "No user has this email"

    def __init__(self) -> None:
        super().__init__("No account of this instance has your email; ask its administrator.")


class OidcUserInactive(Problem):
    status = 403
    code = "oidc_user_inactive"
    title = "This account is disabled"


class SessionToken(BaseModel):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 (a scheme, not a secret)
    expires_in: int


@dataclass(frozen=True)
class Identity:
    """What the provider asserts about the person who logged in."""

    subject: str
    email: str | None
    email_verified: bool


# --- The OAuth client, built lazily per app from its settings -------------------------


def oidc_client(request: Request) -> Any:
    """The app's Authlib client for the configured provider (no network until used)."""
    settings: Settings = request.app.state.settings
    if not settings.oidc_issuer or not settings.oidc_client_id:
        raise OidcNotConfigured()
    oauth: Any = getattr(request.app.state, "oidc_oauth", None)
    if oauth is None:
        oauth = OAuth()
        oauth.register(
            name=CLIENT_NAME,
            server_metadata_url=discovery_url(settings.oidc_issuer),
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret,
            client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256"},
        )
        request.app.state.oidc_oauth = oauth
    return oauth.create_client(CLIENT_NAME)


def discovery_url(issuer: str) -> str:
    return f"{issuer.rstrip('/')}/.well-known/openid-configuration"


def local_path(candidate: str | None) -> str:
    """`candidate` if it is a path on this site, else "/" (no open redirects)."""
    if not candidate or not candidate.startswith("/") or candidate.startswith("//"):
        return "/"
    if "\\" in candidate or any(ord(char) < 0x20 for char in candidate):
        return "/"
    parts = urlsplit(candidate)
    if parts.scheme or parts.netloc:
        return "/"
    return candidate


# --- The login and its callback ---------------------------------------------------------


async def fetch_identity(client: Any, request: Request) -> Identity:
    """Exchange the code (state, PKCE and nonce checked by Authlib) and read the claims."""
    try:
        token = await client.authorize_access_token(request)
        claims: dict[str, Any] = dict(token.get("userinfo") or {})
        if not claims.get("sub"):
            raise OidcLoginFailed("The provider returned no ID token.")
        if "email" not in claims:
            # Most providers put scope claims at the userinfo endpoint only.
            userinfo = dict(await client.userinfo(token=token))
            if userinfo.get("sub") != claims["sub"]:
                raise OidcLoginFailed("The userinfo answer is about another person.")
            claims.update(userinfo)
    except MismatchingStateError as exc:
        raise OidcStateInvalid() from exc
    except httpx.HTTPError as exc:
        logger.warning("OIDC provider unreachable or failing: %r", exc)
        raise OidcProviderUnavailable() from exc
    except (AuthlibBaseError, JoseError, ValueError, KeyError, TypeError) as exc:
        logger.warning("OIDC login refused: %r", exc)
        raise OidcLoginFailed("The provider's answer could not be verified.") from exc
    return identity_from_claims(claims)


def identity_from_claims(claims: dict[str, Any]) -> Identity:
    email = claims.get("email")
    return Identity(
        subject=str(claims["sub"]),
        email=email if isinstance(email, str) and email.strip() else None,
        email_verified=claims.get("email_verified") is True,
    )


def user_for_identity(db_session: Session, identity: Identity) -> User:
    """The active user with the identity's verified email, or a refusal."""
    if identity.email is None or not identity.email_verified:
        raise OidcEmailUnverified()
    user = find_user_by_email(db_session=db_session, email=identity.email)
    if user is None:
        raise OidcEmailUnknown()
    if not user.is_active:
        raise OidcUserInactive()
    return user


def start_session(request: Request, user: User) -> None:
    """A fresh session holding only the user id and the login time."""
    request.session.clear()
    request.session[SESSION_USER] = str(user.id)
    request.session[SESSION_LOGIN_AT] = time.time()


def session_outlived(request: Request, user: User) -> bool:
    """Whether the session began before the user's password last changed (a change of
    password ends the sessions opened with the old one, as it revokes refresh tokens) or
    before the user last logged out (on any device)."""
    ends = [at for at in (user.password_changed_at, user.sessions_ended_at) if at is not None]
    if not ends:
        return False
    login_at = request.session.get(SESSION_LOGIN_AT)
    if not isinstance(login_at, int | float):
        return True
    return float(login_at) < max(ends).timestamp()


def end_sessions(request: Request, db_session: Session) -> None:
    """Log out: this session's user's web sessions end (here and on every device), and
    this one is cleared."""
    raw = request.session.get(SESSION_USER)
    try:
        user = db_session.get(User, uuid.UUID(str(raw))) if raw else None
    except ValueError:
        user = None
    if user is not None:
        user.sessions_ended_at = utcnow()
        db_session.add(user)
    request.session.clear()


@router.get(
    "/auth/oidc/login",
    response_class=RedirectResponse,
    status_code=302,
    responses={404: {"description": "OpenID Connect is not configured"}},
)
async def oidc_login(request: Request, next: str | None = None) -> Response:
    """Redirect to the identity provider; `next` is where to land after login."""
    client = oidc_client(request)
    redirect_uri = str(request.url_for("oidc_callback"))
    try:
        response: Response = await client.authorize_redirect(request, redirect_uri)
    except (httpx.HTTPError, ValueError, KeyError, RuntimeError) as exc:
        logger.warning("OIDC discovery failed: %r", exc)
        raise OidcProviderUnavailable() from exc
    request.session[SESSION_NEXT] = local_path(next)
    return response


@router.get(
    "/auth/oidc/callback",
    name="oidc_callback",
    response_class=RedirectResponse,
    status_code=302,
    responses={
        400: {"description": "Unknown or expired login attempt"},
        403: {"description": "Login refused"},
        404: {"description": "OpenID Connect is not configured"},
        502: {"description": "The identity provider cannot be reached"},
    },
)
async def oidc_callback(request: Request, db_session: DbSession) -> Response:
    """Where the provider sends the person back: open the session, or refuse."""
    client = oidc_client(request)
    identity = await fetch_identity(client, request)
    target = local_path(request.session.pop(SESSION_NEXT, None))
    user = user_for_identity(db_session, identity)
    start_session(request, user)
    logger.info("OIDC login of user %s", user.id)
    return RedirectResponse(target, status_code=302)


@router.post("/auth/logout", status_code=204, name="api_logout")
def logout(request: Request, db_session: DbSession) -> Response:
    """End the web sessions of this session's user (on every device)."""
    end_sessions(request, db_session)
    return Response(status_code=204)


# --- API tokens for the web pages -------------------------------------------------------


def session_user(request: Request, db_session: Session) -> User:
    """The active user of the web session, or 401 `unauthenticated`."""
    try:
        user_id = uuid.UUID(str(request.session.get(SESSION_USER)))
    except ValueError as exc:
        raise Unauthenticated("Log in first: there is no web session.") from exc
    user = db_session.get(User, user_id)
    if user is None or not user.is_active:
        request.session.clear()
        raise Unauthenticated("The session's user no longer exists or is disabled.")
    if session_outlived(request, user):
        request.session.clear()
        raise Unauthenticated("The password changed since this session began: log in again.")
    return user


@router.get(
    "/api/v1/auth/session/token",
    responses={401: {"description": "No web session"}},
)
def session_token(request: Request, response: Response, db_session: DbSession) -> SessionToken:
    """A short-lived API bearer token for the logged-in web session's user."""
    user = session_user(request, db_session)
    signer: TokenSigner = request.app.state.token_signer
    access, expires_in = signer.issue(
        subject=f"user:{user.id}", roles=roles_claim(db_session, user.id)
    )
    response.headers["Cache-Control"] = "no-store"
    return SessionToken(access_token=access, expires_in=expires_in)
