"""Coverage and runway: what the fund holds against what it owes."""


def coverage_ratio(held_cents: int, owed_cents: int) -> float | None:
    """Euros held for each euro owed (credits, payables, transfers in transit)."""
    return round(held_cents / owed_cents, 4) if owed_cents else None


def runway_periods(held_cents: int, owed_cents: int, monthly_rate_cents: int) -> float | None:
    """How many more months of credits, at `monthly_rate_cents`, what is held beyond what
    is owed would cover."""
    return round((held_cents - owed_cents) / monthly_rate_cents, 2) if monthly_rate_cents else None
