"""The OAuth2 token endpoint, built on Authlib's AuthorizationServer and grant classes.

A thin adapter turns the Starlette request (its form already read) into what Authlib
expects; the grants check passwords, client secrets and refresh tokens against the
database through the request's session. Three grants, as the API contract says:
`password` (people), `client_credentials` (till terminals), `refresh_token` (rotating).
"""

import json
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from authlib.oauth2 import AuthorizationServer, OAuth2Error
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Payload, OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidGrantError
from authlib.oauth2.rfc6749.grants import (
    ClientCredentialsGrant,
    RefreshTokenGrant,
    ResourceOwnerPasswordCredentialsGrant,
)
from sqlmodel import Session, col, select

from ssa.auth.login import TooManyFailures, WrongCredentials, authenticate_password
from ssa.auth.models import OAuthClient, RefreshToken, User
from ssa.auth.service import (
    issue_refresh_token,
    revoke_refresh_tokens,
    roles_claim,
)
from ssa.auth.tokens import TokenSigner, same_secret, secret_hash
from ssa.settings import Settings
from ssa.timeutil import utcnow

FIRST_PARTY_CLIENT_ID = "ssa"


class FormPayload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, form: dict[str, list[str]]) -> None:
        self._datalist = defaultdict(list, form)
        self._data = {key: values[0] for key, values in form.items() if values}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class TokenRequest(OAuth2Request):  # type: ignore[misc]
    """The token request as Authlib sees it.

    Authlib's own https check is not applied here: TLS is the deployment's business (a
    proxy terminates it), and the app cannot see it behind one.
    """

    def __init__(
        self, *, method: str, uri: str, headers: Mapping[str, str], form: dict[str, list[str]]
    ):
        self.method = method
        self.uri = uri
        self.headers = headers
        self._body = None
        self.payload = FormPayload(form)
        self._form = {key: values[0] for key, values in form.items() if values}
        self.client = None
        self.auth_method = None
        self.user = None
        self.authorization_code = None
        self.refresh_token = None
        self.credential = None
        self._scope = None
        self.address: str | None = None

    @property
    def form(self) -> dict[str, str]:
        return self._form

    @property
    def args(self) -> dict[str, str]:
        return {}


class FirstPartyClient(ClientMixin):  # type: ignore[misc]
    """The app's own pages and the API's users: a public client with no secret."""

    client_id = FIRST_PARTY_CLIENT_ID

    def get_client_id(self) -> str:
        return self.client_id

    def get_allowed_scope(self, scope: str | None) -> str:
        return ""

    def check_client_secret(self, client_secret: str) -> bool:
        return False

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "first_party" and endpoint == "token"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("password", "refresh_token")


class TerminalClient(ClientMixin):  # type: ignore[misc]
    """A till terminal: client credentials, its secret kept as a hash."""

    def __init__(self, row: OAuthClient) -> None:
        self.row = row
        self.client_id = row.client_id

    def get_client_id(self) -> str:
        return self.client_id

    def get_allowed_scope(self, scope: str | None) -> str:
        return ""

    def check_client_secret(self, client_secret: str) -> bool:
        return same_secret(client_secret, self.row.client_secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_post", "client_secret_basic") and endpoint == "token"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


class StoredRefreshToken:
    """Authlib's view of a refresh token row."""

    def __init__(self, row: RefreshToken) -> None:
        self.row = row

    def check_client(self, client: ClientMixin) -> bool:
        return bool(client.get_client_id() == FIRST_PARTY_CLIENT_ID)

    def get_scope(self) -> str:
        return ""

    def is_expired(self) -> bool:
        return self.row.expires_at <= utcnow()

    def is_revoked(self) -> bool:
        return self.row.revoked_at is not None


class LoginThrottled(OAuth2Error):  # type: ignore[misc]
    error = "invalid_grant"
    status_code = 400

    def __init__(self, until: datetime) -> None:
        seconds = max(1, int((until - utcnow()).total_seconds()) + 1)
        super().__init__(
            description=f"Too many failed logins: try again in {seconds} seconds.",
            status_code=400,
        )
        self.retry_after = seconds

    def get_headers(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = super().get_headers()
        return [*headers, ("Retry-After", str(self.retry_after))]


class PasswordGrant(ResourceOwnerPasswordCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [
        "client_secret_basic",
        "client_secret_post",
        "first_party",
    ]

    def authenticate_user(self, username: str, password: str) -> User | None:
        server: TokenServer = self.server
        try:
            return authenticate_password(
                db_session=server.db_session,
                email=username,
                password=password,
                address=self.request.address,
                settings=server.settings,
            )
        except TooManyFailures as exc:
            raise LoginThrottled(exc.until) from exc
        except WrongCredentials as exc:
            # RFC 6749 §5.2: wrong resource owner credentials are an invalid grant.
            raise InvalidGrantError(description="Wrong email or password.") from exc


class RotatingRefreshTokenGrant(RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [
        "client_secret_basic",
        "client_secret_post",
        "first_party",
    ]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> StoredRefreshToken | None:
        server: TokenServer = self.server
        # Locked: the same token sent twice at once is used once, and the second use, which
        # waits here, finds it rotated (reuse: the whole login ends), never two new chains.
        row = server.db_session.exec(
            select(RefreshToken)
            .where(col(RefreshToken.token_hash) == secret_hash(refresh_token))
            .with_for_update()
            .execution_options(populate_existing=True)
        ).first()
        if row is None:
            return None
        if row.revoked_at is not None:
            # A rotated token used again: it leaked. End the whole login.
            revoke_refresh_tokens(db_session=server.db_session, user_id=row.user_id)
            return None
        if row.expires_at <= utcnow():
            return None
        return StoredRefreshToken(row)

    def authenticate_user(self, refresh_token: StoredRefreshToken) -> User | None:
        server: TokenServer = self.server
        user = server.db_session.get(User, refresh_token.row.user_id)
        if user is None or not user.is_active:
            return None
        self.request.family_id = refresh_token.row.family_id
        return user

    def revoke_old_credential(self, refresh_token: StoredRefreshToken) -> None:
        refresh_token.row.revoked_at = utcnow()
        self.server.db_session.add(refresh_token.row)
        self.server.db_session.flush()


class TerminalCredentialsGrant(ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic", "client_secret_post"]


class TokenServer(AuthorizationServer):  # type: ignore[misc]
    """Authlib's authorization server bound to one request's database session."""

    def __init__(self, *, db_session: Session, signer: TokenSigner, settings: Settings) -> None:
        super().__init__()
        self.db_session = db_session
        self.signer = signer
        self.settings = settings
        self.register_client_auth_method("first_party", self._first_party)
        self.register_token_generator("default", self._generate_token)
        self.register_grant(PasswordGrant)
        self.register_grant(RotatingRefreshTokenGrant)
        self.register_grant(TerminalCredentialsGrant)

    @staticmethod
    def _first_party(_query_client: Any, request: TokenRequest) -> FirstPartyClient | None:
        """The public first-party client: no client authentication at all, or its own
        `client_id` ("ssa") without a secret (RFC 6749 3.2.1: a public client may name
        itself; many OAuth libraries always do)."""
        if request.headers.get("authorization") or request.payload.data.get("client_secret"):
            return None
        if request.payload.client_id not in (None, "", FIRST_PARTY_CLIENT_ID):
            return None
        return FirstPartyClient()

    def query_client(self, client_id: str) -> ClientMixin | None:
        if client_id == FIRST_PARTY_CLIENT_ID:
            return FirstPartyClient()
        row = self.db_session.exec(
            select(OAuthClient).where(col(OAuthClient.client_id) == client_id)
        ).first()
        if row is None or row.revoked_at is not None:
            return None
        return TerminalClient(row)

    def _generate_token(
        self,
        grant_type: str,
        client: ClientMixin,
        user: User | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        if user is not None:
            access, lifetime = self.signer.issue(
                subject=f"user:{user.id}", roles=roles_claim(self.db_session, user.id)
            )
        else:
            assert isinstance(client, TerminalClient)
            roles = [{"role": "terminal", "outlet_id": str(client.row.outlet_id)}]
            access, lifetime = self.signer.issue(subject=f"client:{client.client_id}", roles=roles)
        token: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": lifetime,
        }
        if user is not None and include_refresh_token:
            token["refresh_token"] = issue_refresh_token(
                db_session=self.db_session,
                user_id=user.id,
                settings=self.settings,
                family_id=getattr(self._current_request, "family_id", None),
            )
        return token

    def create_oauth2_request(self, request: TokenRequest) -> TokenRequest:
        self._current_request = request
        return request

    def save_token(self, token: dict[str, Any], request: TokenRequest) -> None:
        """Refresh tokens are stored (hashed) when generated; access tokens are not stored."""

    def handle_response(
        self, status: int, body: Any, headers: list[tuple[str, str]]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        payload = body if isinstance(body, dict) else json.loads(body)
        merged = dict(headers)
        if payload.get("error") == "invalid_client":
            status = 401  # as the API contract says, whichever way the client authenticated
            merged["WWW-Authenticate"] = 'Basic realm="ssa"'

        merged["Cache-Control"] = "no-store"
        merged["Pragma"] = "no-cache"
        return status, payload, merged

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass


def token_response(
    *,
    db_session: Session,
    signer: TokenSigner,
    settings: Settings,
    method: str,
    uri: str,
    headers: Mapping[str, str],
    form: dict[str, list[str]],
    address: str | None,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Answer a token request: (status, RFC 6749 body, headers)."""
    server = TokenServer(db_session=db_session, signer=signer, settings=settings)
    request = TokenRequest(method=method, uri=uri, headers=headers, form=form)
    request.address = address
    result: tuple[int, dict[str, Any], dict[str, str]] = server.create_token_response(request)
    return result


__all__ = ["FIRST_PARTY_CLIENT_ID", "token_response"]
