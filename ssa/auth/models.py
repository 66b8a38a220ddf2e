"""Users, role grants, invitations, OAuth2 clients, refresh tokens and login throttling."""

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from ssa.db import metadata as _metadata  # noqa: F401 (naming convention first)
from ssa.timeutil import utcnow
from ssa.types import UTCDateTime


class User(SQLModel, table=True):
    """Someone who logs in: fund staff, outlet staff, or a household's person."""

    __tablename__ = "user_account"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    email: str = Field(max_length=320, unique=True)  # stored lower-cased
    display_name: str = Field(max_length=200)
    password_hash: str | None = Field(default=None, max_length=255)  # argon2id
    is_active: bool = True
    password_changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When the user last logged out of the web pages: the sessions begun before end, on
    # every device (the session cookie is signed, not stored: this is how one ends).
    sessions_ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RoleGrant(SQLModel, table=True):
    """A role held by a user: instance-wide (admin), in a fund, or at an outlet."""

    __tablename__ = "role_grant"
    __table_args__ = (
        CheckConstraint(
            "(role = 'admin' AND fund_id IS NULL AND outlet_id IS NULL)"
            " OR (role IN ('coordinator', 'treasurer', 'auditor')"
            "     AND fund_id IS NOT NULL AND outlet_id IS NULL)"
            " OR (role IN ('manager', 'cashier') AND fund_id IS NULL AND outlet_id IS NOT NULL)",
            name="scope",
        ),
        Index(
            "uq_role_grant_user_role_scope",
            "user_id",
            "role",
            "fund_id",
            "outlet_id",
            unique=True,
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="user_account.id", index=True)
    role: str = Field(sa_type=String(20))
    fund_id: uuid.UUID | None = Field(default=None, foreign_key="fund.id")
    outlet_id: uuid.UUID | None = Field(default=None, foreign_key="outlet.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Invitation(SQLModel, table=True):
    """A one-time token for a new user to set a password; only its hash is kept."""

    __tablename__ = "invitation"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="user_account.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OAuthClient(SQLModel, table=True):
    """A machine that gets tokens with client credentials (a till terminal)."""

    __tablename__ = "oauth_client"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    client_id: str = Field(max_length=64, unique=True)
    client_secret_hash: str = Field(max_length=64)  # sha256 of a 256-bit random secret
    label: str = Field(max_length=200)
    outlet_id: uuid.UUID | None = Field(default=None, index=True, foreign_key="outlet.id")
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RefreshToken(SQLModel, table=True):
    """A rotating refresh token; only its hash is kept. A family shares one login."""

    __tablename__ = "refresh_token"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    family_id: uuid.UUID = Field(index=True)
    user_id: uuid.UUID = Field(foreign_key="user_account.id", index=True)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class LoginThrottle(SQLModel, table=True):
    """Failed password logins per account or per address, and the lock they earned."""

    __tablename__ = "login_throttle"
    __table_args__ = (UniqueConstraint("subject"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    subject: str = Field(max_length=400)  # "account:<email>" or "address:<ip>"
    failures: int = 0
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_failure_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
