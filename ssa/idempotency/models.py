"""The idempotency key table."""

import uuid
from datetime import datetime

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from ssa.db import metadata as _metadata  # noqa: F401 (naming convention first)
from ssa.timeutil import utcnow
from ssa.types import UTCDateTime


class IdempotencyKey(SQLModel, table=True):
    """A caller's key for one request: its fingerprint and the answer it got."""

    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("caller", "key"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    caller: str = Field(max_length=200)
    key: str = Field(max_length=255)
    request_fingerprint: str = Field(max_length=64)
    status_code: int | None = None
    response_body: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
