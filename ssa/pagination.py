"""Cursor pagination as the API contract says: `?limit=&cursor=` and `next_cursor`."""

import base64
import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Query

from ssa.problems import InvalidInput

Limit = Annotated[int, Query(ge=1, le=500, description="Items per page (default 50, max 500)")]
Cursor = Annotated[
    str | None, Query(max_length=500, description="`next_cursor` of the previous page")
]


class BadCursor(InvalidInput):
    title = "Invalid cursor"
    loc = ("query", "cursor")


def encode_cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode()


def decode_cursor(cursor: str | None, arity: int) -> list[Any] | None:
    if not cursor:  # `cursor=` (a client that writes the last page's null so): the first page
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError) as exc:
        raise BadCursor("The cursor is not one this API gave.") from exc
    if not isinstance(values, list) or len(values) != arity:
        raise BadCursor("The cursor is not one this API gave.")
    return values


def decode_position(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """A (timestamp, id) cursor of a list ordered by time (newest or oldest first)."""
    values = decode_cursor(cursor, 2)
    if values is None:
        return None
    try:
        at, item_id = datetime.fromisoformat(str(values[0])), uuid.UUID(str(values[1]))
        if at.tzinfo is None:
            raise ValueError("a cursor's time has a zone")
        # In UTC, as stored: a time at the calendar's edge (year 1 or 9999 with an
        # offset) has no UTC equivalent and is refused here, not by the database layer.
        at = at.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise BadCursor("The cursor is not one this API gave.") from exc
    return at, item_id


def decode_name_position(cursor: str | None) -> tuple[str, uuid.UUID] | None:
    """A (name, id) cursor of a list ordered by name."""
    values = decode_cursor(cursor, 2)
    if values is None:
        return None
    try:
        return str(values[0]), uuid.UUID(str(values[1]))
    except ValueError as exc:
        raise BadCursor("The cursor is not one this API gave.") from exc


def encode_position(at: datetime, item_id: uuid.UUID) -> str:
    return encode_cursor(at.isoformat(), str(item_id))
