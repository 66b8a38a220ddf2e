"""The audit log of a fund, for its auditors and coordinators; the instance's, for its
administrators."""

import json
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends
from sqlmodel import Session

from ssa.audit.schemas import AuditEntryOut, AuditPage
from ssa.audit.service import list_entries
from ssa.auth.deps import Authorize, DbSession, Principal, fund_path
from ssa.auth.roles import Role
from ssa.pagination import Cursor, Limit, decode_position, encode_cursor

router = APIRouter(prefix="/api/v1", tags=["audit"])


@router.get("/funds/{fund_id}/audit-log", response_model=AuditPage)
def audit_log(
    fund_id: uuid.UUID,
    db_session: DbSession,
    _principal: Annotated[
        Principal, Depends(Authorize(Role.auditor, Role.coordinator, on=fund_path))
    ],
    limit: Limit = 50,
    cursor: Cursor = None,
) -> AuditPage:
    """Privileged actions in this fund, newest first."""
    return _page(db_session, fund_id, limit, cursor)


@router.get("/audit-log", response_model=AuditPage)
def instance_audit_log(
    db_session: DbSession,
    _principal: Annotated[Principal, Depends(Authorize(Role.admin))],
    limit: Limit = 50,
    cursor: Cursor = None,
) -> AuditPage:
    """Privileged actions of no one fund (users, outlets, their staff and tills), newest
    first (the instance administrator)."""
    return _page(db_session, None, limit, cursor)


def _page(
    db_session: Session, fund_id: uuid.UUID | None, limit: int, cursor: str | None
) -> AuditPage:
    position = decode_position(cursor)
    entries = list_entries(db_session=db_session, fund_id=fund_id, limit=limit + 1, before=position)
    items = [
        AuditEntryOut(
            id=e.id,
            actor=e.actor,
            action=e.action,
            target_type=e.target_type,
            target_id=e.target_id,
            before=json.loads(e.before) if e.before else None,
            after=json.loads(e.after) if e.after else None,
            request_id=e.request_id,
            created_at=e.created_at,
        )
        for e in entries[:limit]
    ]
    next_cursor = (
        encode_cursor(entries[limit - 1].created_at.isoformat(), entries[limit - 1].id)
        if len(entries) > limit
        else None
    )
    return AuditPage(items=items, next_cursor=next_cursor)
