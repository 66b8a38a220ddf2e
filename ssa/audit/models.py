"""The audit log table: written once, never changed (the database refuses it)."""

import uuid
from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from ssa.db import metadata as _metadata  # noqa: F401 (naming convention first)
from ssa.timeutil import utcnow
from ssa.types import UTCDateTime


class AuditEntry(SQLModel, table=True):
    """Who did what to what, when, with the state before and after (JSON)."""

    __tablename__ = "audit_entry"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    fund_id: uuid.UUID | None = Field(default=None, foreign_key="fund.id", index=True)
    actor: str = Field(max_length=200)  # "user:<id>", "client:<client_id>", "system"
    action: str = Field(max_length=100)  # e.g. "role.grant", "policy.update"
    target_type: str = Field(max_length=50)
    target_id: str = Field(max_length=100)
    before: str | None = Field(default=None, sa_type=Text)
    after: str | None = Field(default=None, sa_type=Text)
    request_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
