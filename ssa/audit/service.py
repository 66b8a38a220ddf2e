"""Writing to and reading the audit log."""

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from ssa.audit.models import AuditEntry


def _as_json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, default=str)


def record(
    *,
    db_session: Session,
    actor: str,
    action: str,
    target_type: str,
    target_id: object,
    fund_id: uuid.UUID | None = None,
    before: Any = None,
    after: Any = None,
    request_id: str | None = None,
) -> AuditEntry:
    """Write one entry, in the caller's transaction: the action and its trace land together.

    Never put secrets (passwords, PINs, tokens) in `before` or `after`.
    """
    entry = AuditEntry(
        fund_id=fund_id,
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        before=_as_json(before),
        after=_as_json(after),
        request_id=request_id,
    )
    db_session.add(entry)
    db_session.flush()
    return entry


def list_entries(
    *,
    db_session: Session,
    fund_id: uuid.UUID | None,
    limit: int,
    before: tuple[datetime, uuid.UUID] | None = None,
) -> list[AuditEntry]:
    """Newest first, starting after the (created_at, id) position of the last one seen;
    a fund's entries, or (`fund_id` None) the instance's: users, outlets, their staff and
    tills, which belong to no one fund."""
    query = select(AuditEntry).where(
        col(AuditEntry.fund_id).is_(None) if fund_id is None else col(AuditEntry.fund_id) == fund_id
    )
    if before is not None:
        at, last_id = before
        query = query.where(
            or_(
                col(AuditEntry.created_at) < at,
                and_(col(AuditEntry.created_at) == at, col(AuditEntry.id) < last_id),
            )
        )
    query = query.order_by(col(AuditEntry.created_at).desc(), col(AuditEntry.id).desc())
    return list(db_session.exec(query.limit(limit)).all())
