"""A fund's figures over consecutive periods, for the dashboard's charts: credits issued
and spent in each period, and coverage and runway at the end of each period's books.

A period's balances are the accounts' balances now, less the postings of the later
periods (read once, grouped by period, from the window on: not the fund's whole
history). The current period's point is the books as they stand now, next month's
credits issued early included: the figures of the fund report. Postings without a period
count from the start.
"""

import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlmodel import Session, col

from ssa.funds.service import current_period
from ssa.issuance import periods as months
from ssa.ledger.models import (
    NORMAL_SIDE,
    AccountKind,
    LedgerAccount,
    LedgerPosting,
    LedgerTransaction,
    Side,
)
from ssa.reports.ratios import coverage_ratio, runway_periods

# What the fund owes, as the coverage check counts it (ssa.issuance.service.coverage).
OWED_KINDS = (
    AccountKind.household_credits,
    AccountKind.outlet_payable,
    AccountKind.payouts_in_transit,
)
# The report's movements (ssa.reports.service.period_report).
ISSUED = ("issuance", AccountKind.household_credits.value, Side.credit.value)
SPENT = ("payment", AccountKind.household_credits.value, Side.debit.value)
REFUNDED = ("refund", AccountKind.household_credits.value, Side.credit.value)
MAX_PERIODS = 36
RATE_LOOKBACK = 12  # months before the window where the monthly rate is looked for


@dataclass(frozen=True)
class PeriodPoint:
    period: str
    issued_cents: int
    spent_cents: int
    refunded_cents: int
    bank_cents: int
    owed_cents: int
    coverage_ratio: float | None
    runway_periods: float | None
    # By account kind, at the end of the period's books.
    balances: dict[str, int] = field(default_factory=dict)


def period_series(
    *, db_session: Session, fund_id: uuid.UUID, last: str | None = None, count: int = 12
) -> list[PeriodPoint]:
    """The `count` periods up to `last` (default: this month), oldest first."""
    last = last or current_period()
    count = max(1, min(count, MAX_PERIODS))
    wanted = [months.shift(last, offset) for offset in range(1 - count, 1)]
    # Only the postings of the window and after it (and of the months before it that may
    # hold the last issuance) are read: a period's balances are today's, less what came
    # after the period.
    since = months.shift(wanted[0], -RATE_LOOKBACK)
    rows = (
        db_session.connection()
        .execute(
            select(
                col(LedgerTransaction.period),
                col(LedgerTransaction.kind),
                col(LedgerAccount.kind),
                col(LedgerPosting.side),
                func.sum(col(LedgerPosting.amount_cents)),
            )
            .join(LedgerTransaction, col(LedgerTransaction.id) == col(LedgerPosting.transaction_id))
            .join(LedgerAccount, col(LedgerAccount.id) == col(LedgerPosting.account_id))
            .where(col(LedgerPosting.fund_id) == fund_id, col(LedgerTransaction.period) >= since)
            .group_by(
                col(LedgerTransaction.period),
                col(LedgerTransaction.kind),
                col(LedgerAccount.kind),
                col(LedgerPosting.side),
            )
        )
        .all()
    )
    moves: dict[str, dict[tuple[str, str, str], int]] = defaultdict(lambda: defaultdict(int))
    changes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for period, transaction_kind, account_kind, side, total in rows:
        moves[str(period)][(str(transaction_kind), str(account_kind), str(side))] += int(total)
        kind = AccountKind(str(account_kind))
        sign = 1 if Side(str(side)) is NORMAL_SIDE[kind] else -1
        changes[str(period)][kind.value] += sign * int(total)
    today = _balances_now(db_session, fund_id)
    now = current_period()
    points = []
    rate = _latest_rate(moves, before=wanted[0])
    for period in wanted:
        balances = dict(today)
        if period < now or period < last:  # the books at the end of a past period
            for later in (p for p in changes if p > period):
                for name, cents in changes[later].items():
                    balances[name] = balances.get(name, 0) - cents
        held, owed = balances.get(AccountKind.bank.value, 0), _owed(balances)
        issued = moves.get(period, {}).get(ISSUED, 0)
        rate = issued or rate
        points.append(
            PeriodPoint(
                period=period,
                issued_cents=issued,
                spent_cents=moves.get(period, {}).get(SPENT, 0),
                refunded_cents=moves.get(period, {}).get(REFUNDED, 0),
                bank_cents=held,
                owed_cents=owed,
                coverage_ratio=coverage_ratio(held, owed),
                runway_periods=runway_periods(held, owed, rate),
                balances=balances,
            )
        )
    return points


def _balances_now(db_session: Session, fund_id: uuid.UUID) -> dict[str, int]:
    """The fund's balances by account kind, as the accounts hold them now."""
    rows = (
        db_session.connection()
        .execute(
            select(col(LedgerAccount.kind), func.sum(col(LedgerAccount.balance_cents)))
            .where(col(LedgerAccount.fund_id) == fund_id)
            .group_by(col(LedgerAccount.kind))
        )
        .all()
    )
    return {str(kind): int(total) for kind, total in rows}


def _owed(balances: dict[str, int]) -> int:
    return sum(balances.get(kind.value, 0) for kind in OWED_KINDS)


def _latest_rate(moves: dict[str, dict[tuple[str, str, str], int]], *, before: str) -> int:
    """The credits of the latest period issued before `before`: the monthly rate then."""
    for period in sorted((p for p in moves if p and p < before), reverse=True):
        if moves[period].get(ISSUED, 0):
            return moves[period][ISSUED]
    return 0
