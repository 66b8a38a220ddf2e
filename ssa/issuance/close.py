"""Closing a period: the rollover policy applied once, with one expiry transaction."""

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Uuid, func, insert, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from ssa.audit.service import record
from ssa.funds.models import Rollover
from ssa.funds.service import fund_today, get_fund, policy_for
from ssa.households.models import Household
from ssa.issuance.models import HouseholdIssuance, PeriodClose
from ssa.issuance.service import lock_fund_runs
from ssa.ledger.models import (
    AccountKind,
    LedgerAccount,
    LedgerPosting,
    Side,
    TransactionKind,
)
from ssa.ledger.service import apply_postings_to_balances, open_account, seal_transaction
from ssa.problems import Conflict
from ssa.timeutil import utcnow


class PeriodNotClosable(Conflict):
    code = "period_not_closable"
    title = "This period cannot be closed yet"


@dataclass(frozen=True)
class CloseSummary:
    period: str
    expired_cents: int
    households: int
    already_closed: bool


def close_period(
    *,
    db_session: Session,
    fund_id: uuid.UUID,
    period: str,
    actor: str = "system",
    request_id: str | None = None,
    today: date | None = None,
) -> CloseSummary:
    """Expire what the rollover policy does not carry over; a second close changes nothing."""
    get_fund(db_session=db_session, fund_id=fund_id)
    # One run of a fund at a time, as for issuance (same lock): a close waits for an
    # issuance in progress, and an issuance for a close, then finds the month closed.
    lock_fund_runs(db_session, fund_id)
    this_month = (today or fund_today()).strftime("%Y-%m")
    if period >= this_month:
        # Households may still spend this month's credits until its last day.
        raise PeriodNotClosable(
            f"{period} has not ended yet: a month is closed from the 1st of the next."
        )
    connection = db_session.connection()
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    close_id = uuid.uuid4()
    # Claim the close first: a concurrent close waits here, then finds it done.
    claimed = connection.execute(
        dialect.insert(PeriodClose.__table__)  # type: ignore[attr-defined]
        .values(
            id=close_id,
            fund_id=fund_id,
            period=period,
            expired_cents=0,
            households=0,
            closed_by=actor,
            closed_at=utcnow(),
        )
        .on_conflict_do_nothing()
        .returning(col(PeriodClose.id))
    ).scalar_one_or_none()
    if claimed is None:
        done = db_session.exec(
            select(PeriodClose).where(  # type: ignore[call-overload]
                col(PeriodClose.fund_id) == fund_id, col(PeriodClose.period) == period
            )
        ).scalar_one()
        return CloseSummary(period, done.expired_cents, done.households, already_closed=True)

    policy = policy_for(db_session=db_session, fund_id=fund_id, period=period)
    rollover = Rollover(policy.rollover)
    keep = {Rollover.full: None, Rollover.none: 0, Rollover.capped: policy.rollover_cap_cents}[
        rollover
    ]
    expired, households, transaction_id = 0, 0, None
    if keep is not None:
        transaction_id = uuid.uuid4()
        # Credits already issued for later periods are not this period's to expire.
        later = (
            select(
                col(Household.account_id).label("account_id"),
                func.sum(col(HouseholdIssuance.amount_cents)).label("cents"),
            )
            .join(Household, col(Household.id) == col(HouseholdIssuance.household_id))
            .where(
                col(HouseholdIssuance.fund_id) == fund_id, col(HouseholdIssuance.period) > period
            )
            .group_by(col(Household.account_id))
            .subquery("later")
        )
        excess = col(LedgerAccount.balance_cents) - func.coalesce(later.c.cents, 0) - keep
        # The accounts to expire are locked as they are read (PostgreSQL; SQLite's writers
        # are serialised already), and FOR UPDATE reads the balance a payment committed
        # meanwhile: no payment can move them between this statement and the balances'
        # update below, so no payment is taken twice.
        expiring = (
            select(
                col(LedgerAccount.fund_id).label("fund_id"),
                col(LedgerAccount.id).label("account_id"),
                excess.label("cents"),
            )
            .select_from(LedgerAccount)
            .outerjoin(later, later.c.account_id == col(LedgerAccount.id))
            .where(
                col(LedgerAccount.fund_id) == fund_id,
                col(LedgerAccount.kind) == AccountKind.household_credits.value,
                excess > 0,
            )
            .with_for_update(of=LedgerAccount)
            .subquery("expiring")
        )
        connection.execute(
            insert(LedgerPosting).from_select(
                ["fund_id", "transaction_id", "account_id", "side", "amount_cents"],
                select(
                    expiring.c.fund_id,
                    literal(transaction_id, type_=Uuid()),
                    expiring.c.account_id,
                    literal(Side.debit.value),
                    expiring.c.cents,
                ),
            )
        )
        households, expired = connection.execute(
            select(func.count(), func.coalesce(func.sum(col(LedgerPosting.amount_cents)), 0)).where(
                col(LedgerPosting.transaction_id) == transaction_id
            )
        ).one()
        households, expired = int(households), int(expired)
        if households:
            _post_expiry(
                db_session,
                fund_id=fund_id,
                period=period,
                transaction_id=transaction_id,
                total=expired,
            )
        else:
            transaction_id = None
    connection.execute(
        update(PeriodClose)
        .where(col(PeriodClose.id) == close_id)
        .values(expired_cents=expired, households=households, transaction_id=transaction_id)
    )
    record(
        db_session=db_session,
        actor=actor,
        action="period.close",
        target_type="period",
        target_id=period,
        fund_id=fund_id,
        after={
            "rollover": rollover.value,
            "expired_cents": expired,
            "households": households,
        },
        request_id=request_id,
    )
    return CloseSummary(period, expired, households, already_closed=False)


def _post_expiry(
    db_session: Session, *, fund_id: uuid.UUID, period: str, transaction_id: uuid.UUID, total: int
) -> None:
    connection = db_session.connection()
    expense = open_account(
        db_session=db_session, fund_id=fund_id, kind=AccountKind.allowance_expense
    )
    connection.execute(
        insert(LedgerPosting).values(
            fund_id=fund_id,
            transaction_id=transaction_id,
            account_id=expense.id,
            side=Side.credit.value,
            amount_cents=total,
        )
    )
    apply_postings_to_balances(db_session=db_session, transaction_id=transaction_id)
    seal_transaction(
        db_session=db_session,
        fund_id=fund_id,
        transaction_id=transaction_id,
        kind=TransactionKind.expiry,
        period=period,
        memo=f"Credits expired at the close of {period}",
    )
