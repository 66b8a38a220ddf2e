"""Time helpers: every timestamp is timezone-aware UTC.

`clock_at` sets the clock that `utcnow` reads, inside a block: the demo replays the funds'
past months through the services as they would have run then (a payment's ledger
transaction dated on the day it was taken). Nothing else sets it; outside such a block,
and in every other context (request, thread, task), `utcnow` is the system's clock.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

_clock: ContextVar[datetime | None] = ContextVar("ssa_clock", default=None)


def utcnow() -> datetime:
    set_at = _clock.get()
    return set_at if set_at is not None else datetime.now(UTC)


@contextmanager
def clock_at(moment: datetime) -> Iterator[None]:
    """`utcnow()` is `moment` (timezone-aware) inside the block."""
    if moment.tzinfo is None:
        raise ValueError("clock_at needs a timezone-aware moment")
    token = _clock.set(moment.astimezone(UTC))
    try:
        yield
    finally:
        _clock.reset(token)
