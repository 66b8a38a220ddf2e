"""Periods ('YYYY-MM'): arithmetic on calendar months."""

import calendar
from datetime import date


def parse(period: str) -> tuple[int, int]:
    year, month = period.split("-")
    return int(year), int(month)


def shift(period: str, months: int) -> str:
    year, month = parse(period)
    index = year * 12 + (month - 1) + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def first_day(period: str) -> date:
    year, month = parse(period)
    return date(year, month, 1)


def days_in(period: str) -> int:
    year, month = parse(period)
    return calendar.monthrange(year, month)[1]


def years_before(day: date, years: int) -> date:
    """The same day `years` earlier (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)
