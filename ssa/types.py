"""Column types shared by the domains."""

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator
from sqlalchemy import DateTime, Dialect, TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp; SQLite, which keeps no zone, gets UTC back."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        if value is not None and dialect.name == "sqlite":
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# A period, 'YYYY-MM', of the years 2000 to 2999 (a month of year 0000 or 9999 is not one a
# fund has, and its neighbours are not dates). ASCII digits only: `\d` would also match
# other scripts' digits.
PERIOD_PATTERN = r"^2[0-9]{3}-(0[1-9]|1[0-2])$"


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59-05:00 is in year 10000 in UTC
        raise ValueError("this instant is out of the range of dates") from None


# An instant given by a client (a query's bound, say), with its zone, read in UTC: one that
# has no UTC date (at the ends of the calendar) is a validation error, not a crash when it
# is bound to a query.
Instant = Annotated[AwareDatetime, AfterValidator(_in_utc)]


def _blank_as_none(value: Any) -> Any:
    return None if value == "" else value


# A query filter left empty (`?status=&q=`, as a form sends it) is no filter.
BlankIsNone = BeforeValidator(_blank_as_none)
