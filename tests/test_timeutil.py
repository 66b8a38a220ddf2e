"""The clock: `utcnow` is the system's, or the one `clock_at` sets inside its block."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ssa.funds.service import current_period
from ssa.timeutil import clock_at, utcnow


def test_clock_at_sets_utcnow_inside_its_block_only() -> None:
    moment = datetime(2024, 3, 31, 23, 30, tzinfo=timezone(timedelta(hours=2)))
    with clock_at(moment):
        assert utcnow() == moment
        assert utcnow().tzinfo is UTC
        assert current_period() == "2024-03"  # Paris time
        with clock_at(moment + timedelta(days=1)):
            assert current_period() == "2024-04"
        assert utcnow() == moment
    assert abs(utcnow() - datetime.now(UTC)) < timedelta(seconds=5)


def test_clock_at_needs_an_aware_moment() -> None:
    with pytest.raises(ValueError, match="timezone-aware"), clock_at(datetime(2024, 3, 1)):
        pass
