"""What each month costs a household: the contribution agreed for that month.

A household's `chosen_contribution_cents` is what it owes from its latest change on. A
change is recorded (`ContributionChange`) with the month it applies from and the amount
due before it, so that a later change does not rewrite the months before: raised, the
months paid in full stay paid; lowered, the months left short stay short.

A change applies from the current month when nothing (no contribution that was not
corrected, no waiver) was recorded for it yet (a typo fixed right after registering, a
household that cannot pay what it chose), else from the month after the latest one
recorded (next month, or later when paid ahead): a month something was recorded for keeps
the amount it was recorded against.
"""

import uuid
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import BigInteger, String, case, cast, delete, func, select, union
from sqlmodel import Session, col

from ssa.funds.service import current_period
from ssa.households.models import (
    Contribution,
    ContributionChange,
    ContributionWaiver,
    DirectDebitRun,
    DirectDebitRunLine,
    DirectDebitRunStatus,
    Household,
)
from ssa.issuance import periods as months


def change_chosen_contribution(
    db_session: Session, *, household: Household, cents: int, actor: str
) -> str | None:
    """Set the household's contribution to `cents`, keeping what the months before the
    change owe; returns the month it applies from (None when unchanged).

    It applies from this month, or from the month after the latest one (this month or
    later: paid ahead) something is recorded for: a contribution not corrected, a waiver,
    or a debit in a direct-debit file (not cancelled, not returned). Changes scheduled
    after that month are superseded."""
    connection = db_session.connection()
    # The household's row, locked: two changes at once are made one after the other.
    current = connection.execute(
        select(col(Household.chosen_contribution_cents))
        .where(col(Household.id) == household.id)
        .with_for_update()
    ).scalar_one()
    if cents == current:
        return None
    this_month = current_period()
    paid = (
        select(col(Contribution.period))
        .where(
            col(Contribution.household_id) == household.id, col(Contribution.period) >= this_month
        )
        .group_by(col(Contribution.period))
        .having(func.sum(col(Contribution.amount_cents)) > 0)  # corrections are negative
    )
    waived = select(col(ContributionWaiver.period)).where(
        col(ContributionWaiver.household_id) == household.id,
        col(ContributionWaiver.period) >= this_month,
    )
    # A month whose direct-debit file went to the bank with the household in it: the
    # amount the bank will collect is the one agreed.
    debited = (
        select(col(DirectDebitRun.period))
        .join(DirectDebitRunLine, col(DirectDebitRunLine.run_id) == col(DirectDebitRun.id))
        .where(
            col(DirectDebitRunLine.household_id) == household.id,
            col(DirectDebitRunLine.returned_at).is_(None),
            col(DirectDebitRun.status) == DirectDebitRunStatus.open.value,
            col(DirectDebitRun.period) >= this_month,
        )
    )
    recorded = [row[0] for row in connection.execute(union(paid, waived, debited))]
    from_period = months.shift(max(recorded), 1) if recorded else this_month
    connection.execute(
        delete(ContributionChange).where(
            col(ContributionChange.household_id) == household.id,
            col(ContributionChange.from_period) > from_period,
        )
    )
    if from_period > household.joined_period:
        existing = connection.execute(
            select(col(ContributionChange.id)).where(
                col(ContributionChange.household_id) == household.id,
                col(ContributionChange.from_period) == from_period,
            )
        ).first()
        if existing is None:  # a second change for the same month keeps the first's past
            db_session.add(
                ContributionChange(
                    fund_id=household.fund_id,
                    household_id=household.id,
                    from_period=from_period,
                    previous_cents=current,
                    changed_by=actor,
                )
            )
    household.chosen_contribution_cents = cents
    return from_period


def dues(
    db_session: Session, households: Sequence[Household], periods: Collection[str]
) -> dict[tuple[uuid.UUID, str], int]:
    """The amount each household owed for each of `periods`."""
    if not households or not periods:
        return {}
    changes: dict[uuid.UUID, list[tuple[str, int]]] = {}
    rows = db_session.connection().execute(
        select(
            col(ContributionChange.household_id),
            col(ContributionChange.from_period),
            col(ContributionChange.previous_cents),
        )
        .where(
            col(ContributionChange.household_id).in_([h.id for h in households]),
            col(ContributionChange.from_period) > min(periods),
        )
        .order_by(col(ContributionChange.from_period))
    )
    for household_id, from_period, previous in rows:
        changes.setdefault(household_id, []).append((from_period, int(previous)))
    return {
        (h.id, period): next(
            (previous for start, previous in changes.get(h.id, ()) if start > period),
            h.chosen_contribution_cents,
        )
        for h in households
        for period in periods
    }


def window_dues(fund_id: uuid.UUID, window: Sequence[str]) -> Any:
    """For the issuance's eligibility: per household whose contribution changed after
    the window's first month, what it owed in the window's i-th month (`due_i`): the
    amount before the earliest change after that month, NULL when none came after it (the
    chosen amount is due). Households that never changed have no row: the run reads the
    changes only, not a row per household.

    One pass: the earliest change after a month is the least of "from_period:previous"
    (months are fixed-width 'YYYY-MM', so the least string is the earliest month)."""
    later = (
        select(
            col(ContributionChange.household_id),
            col(ContributionChange.from_period),
            col(ContributionChange.previous_cents),
        )
        .where(
            col(ContributionChange.fund_id) == fund_id,
            col(ContributionChange.from_period) > window[0],
        )
        .subquery("later_changes")
    )
    tagged = later.c.from_period + ":" + cast(later.c.previous_cents, String)
    columns: list[Any] = [later.c.household_id]
    for i, month in enumerate(window):
        earliest = func.min(case((later.c.from_period > month, tagged), else_=None))
        columns.append(cast(func.substr(earliest, 9), BigInteger).label(f"due_{i}"))
    return select(*columns).group_by(later.c.household_id).subquery("window_dues")
