"""What the audit log endpoint returns."""

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel


class AuditEntryOut(BaseModel):
    id: uuid.UUID
    actor: str
    action: str
    target_type: str
    target_id: str
    before: Any
    after: Any
    request_id: str | None
    created_at: datetime


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None
