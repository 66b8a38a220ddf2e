"""Signed access tokens (JWT, joserfc) and random secrets kept only as hashes.

Access tokens are HS256 JWTs signed with a key derived from SSA_SECRET_KEY; the key id
(`kid`) names the key, so a new secret key can be rolled out while tokens signed with a
previous one (SSA_PREVIOUS_SECRET_KEYS) stay valid until they expire.
"""

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OctKey
from joserfc.jwt import JWTClaimsRegistry

from ssa.settings import Settings
from ssa.timeutil import utcnow


def new_secret(nbytes: int = 32) -> str:
    """A random URL-safe secret (invitation tokens, refresh tokens, client secrets)."""
    return secrets.token_urlsafe(nbytes)


def secret_hash(secret: str) -> str:
    """SHA-256 of a high-entropy secret: enough, since it cannot be guessed."""
    return hashlib.sha256(secret.encode()).hexdigest()


def same_secret(secret: str, expected_hash: str) -> bool:
    return hmac.compare_digest(secret_hash(secret), expected_hash)


def _signing_key(secret_key: str) -> OctKey:
    derived = hmac.new(secret_key.encode(), b"ssa access token v1", hashlib.sha256).digest()
    kid = hashlib.sha256(derived).hexdigest()[:16]
    return OctKey.import_key(derived, {"kid": kid, "alg": "HS256", "use": "sig"})


@dataclass(frozen=True)
class AccessClaims:
    """What a verified access token says: ids and roles only, never personal data."""

    subject: str  # "user:<uuid>" or "client:<client_id>"
    token_id: str
    roles: list[dict[str, str]]


class InvalidToken(Exception):
    """The token is malformed, badly signed, expired, or not for us."""


class TokenSigner:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.current = _signing_key(settings.secret_key)
        previous = [k for k in settings.previous_secret_keys.split(",") if k.strip()]
        self.keys = KeySet([self.current, *(_signing_key(k.strip()) for k in previous)])
        self.registry = JWTClaimsRegistry(
            iss={"essential": True, "value": settings.token_issuer},
            aud={"essential": True, "value": settings.token_audience},
            sub={"essential": True},
            exp={"essential": True},
            jti={"essential": True},
            leeway=5,
        )

    def issue(self, *, subject: str, roles: list[dict[str, str]]) -> tuple[str, int]:
        now = utcnow()
        lifetime = self.settings.access_token_seconds
        claims: dict[str, Any] = {
            "iss": self.settings.token_issuer,
            "aud": self.settings.token_audience,
            "sub": subject,
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(seconds=lifetime)).timestamp()),
            "jti": uuid.uuid4().hex,
            "roles": roles,
        }
        header = {"alg": "HS256", "kid": self.current.kid, "typ": "at+jwt"}
        return jwt.encode(header, claims, self.current), lifetime

    def verify(self, token: str) -> AccessClaims:
        try:
            decoded = jwt.decode(token, self.keys, algorithms=["HS256"])
            self.registry.validate(decoded.claims)
        except (JoseError, ValueError, TypeError) as exc:
            raise InvalidToken(str(exc)) from exc
        if decoded.header.get("typ") != "at+jwt":
            raise InvalidToken("not an access token")
        claims = decoded.claims
        roles = claims.get("roles", [])
        if not isinstance(claims.get("sub"), str) or not isinstance(roles, list):
            raise InvalidToken("malformed claims")
        return AccessClaims(subject=claims["sub"], token_id=str(claims["jti"]), roles=roles)
