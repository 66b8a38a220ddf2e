"""Writing to and reading the audit log."""

import json
import uuid
from typing import Any

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
    *, db_session: Session, fund_id: uuid.UUID, limit: int, after_id: tuple[str, str] | None
) -> list[AuditEntry]:
    """Newest first; `after_id` is the (created_at ISO, id) of the last entry already seen."""
    query = select(AuditEntry).where(col(AuditEntry.fund_id) == fund_id)
    if after_id is not None:
        query = query.where(col(AuditEntry.id) != uuid.UUID(after_id[1]))
    query = query.order_by(col(AuditEntry.created_at).desc(), col(AuditEntry.id).desc())
    return list(db_session.exec(query.limit(limit)).all())
