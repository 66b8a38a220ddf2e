"""Issuing a period's credits to every eligible household, in one set-based run.

The run is a handful of SQL statements, whatever the number of households: one
INSERT ... SELECT claims (household, period) rows in `household_issuance` (unique, so
a household is issued a period at most once, even when two runs race: the second
waits on the first's rows and skips them), one INSERT ... SELECT writes the postings,
one UPDATE ... FROM moves the balances, and the transaction row seals it all.
"""

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Uuid,
    and_,
    case,
    cast,
    extract,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from ssa.audit.service import record
from ssa.funds.models import FirstPeriod, Fund, FundPolicy
from ssa.funds.service import current_period, fund_today, get_fund, policy_for
from ssa.households.dues import window_dues
from ssa.households.models import Contribution, ContributionWaiver, Household, Person
from ssa.issuance import periods
from ssa.issuance.models import HouseholdIssuance, PeriodClose
from ssa.ledger.models import (
    AccountKind,
    LedgerAccount,
    LedgerPosting,
    Side,
    TransactionKind,
)
from ssa.ledger.service import apply_postings_to_balances, open_account, seal_transaction
from ssa.problems import Conflict

# Memory for each sort or hash of a run's statements (this transaction only). Measured
# with bench/issuance.py, 200,000 households: the eligibility took 2.6 s with 4 MB and
# 1.4 s with 64 MB.
_RUN_WORK_MEM = "64MB"


class PeriodNotIssuable(Conflict):
    code = "period_not_issuable"
    title = "This period cannot be issued"


class InsufficientCoverage(Conflict):
    code = "insufficient_coverage"
    title = "Issuing would leave credits uncovered"


@dataclass
class IssuanceSummary:
    period: str
    dry_run: bool
    households_issued: int
    total_cents: int
    skipped: list[dict[str, str]] = field(default_factory=list)
    transaction_id: uuid.UUID | None = None
    bank_cents: int = 0
    owed_cents: int = 0
    coverage_ok: bool = True


def check_issuable(db_session: Session, fund_id: uuid.UUID, period: str, today: date) -> None:
    this_month = today.strftime("%Y-%m")
    if period > periods.shift(this_month, 1):
        raise PeriodNotIssuable(f"{period} is too far ahead: the latest is next month.")
    closed = (
        db_session.connection()
        .execute(
            select(col(PeriodClose.id)).where(
                col(PeriodClose.fund_id) == fund_id, col(PeriodClose.period) == period
            )
        )
        .first()
    )
    if closed is not None:
        raise PeriodNotIssuable(f"{period} is closed.")


def _dues(fund_id: uuid.UUID, window: list[str]) -> Any:
    """Per household with a contribution or a waiver in the window: for the window's
    i-th period, what it paid (`paid_i`, NULL if nothing) and whether it was waived
    (`waived_i`). One pass over the window's contributions and waivers."""
    rows = union_all(
        select(
            col(Contribution.household_id),
            col(Contribution.period),
            col(Contribution.amount_cents).label("paid"),
            literal(0).label("waived"),
        ).where(col(Contribution.fund_id) == fund_id, col(Contribution.period).in_(window)),
        select(
            col(ContributionWaiver.household_id),
            col(ContributionWaiver.period),
            literal(0),
            literal(1),
        ).where(
            col(ContributionWaiver.fund_id) == fund_id,
            col(ContributionWaiver.period).in_(window),
        ),
    ).subquery("due_rows")
    columns: list[Any] = [rows.c.household_id]
    for i, month in enumerate(window):
        in_month = rows.c.period == month
        columns.append(func.sum(case((in_month, rows.c.paid), else_=None)).label(f"paid_{i}"))
        columns.append(func.max(case((in_month, rows.c.waived), else_=0)).label(f"waived_{i}"))
    return select(*columns).group_by(rows.c.household_id).subquery("dues")


def eligibility(fund_id: uuid.UUID, period: str, policy: FundPolicy) -> Select[Any]:
    """Every household of the fund that has not left and had joined by `period`: its
    allowance for `period` and, when it is not to be issued, why (NULL when it is)."""
    start = periods.first_day(period)
    child_cutoff = periods.years_before(start, policy.child_age_limit)
    composition = (
        select(
            col(Person.household_id),
            func.count().label("persons"),
            func.sum(case((col(Person.birth_date) > child_cutoff, 1), else_=0)).label("children"),
        )
        .where(col(Person.fund_id) == fund_id, col(Person.left_on).is_(None))
        .group_by(col(Person.household_id))
        .subquery("composition")
    )
    persons = func.coalesce(composition.c.persons, 0)
    full = case(
        (persons == 0, 0),
        else_=policy.allowance_base_cents
        + (persons - 1) * policy.allowance_per_extra_person_cents
        + func.coalesce(composition.c.children, 0) * policy.allowance_per_child_cents,
    )
    amount: ColumnElement[int] = full
    if policy.first_period == FirstPeriod.prorata:
        days = periods.days_in(period)
        # An integer: PostgreSQL's EXTRACT is numeric, and its division would be rounded.
        days_left = days - cast(extract("day", col(Household.joined_on)), Integer) + 1
        amount = case(
            (col(Household.joined_period) == period, (full * days_left) // days), else_=full
        )
    grace = policy.contribution_grace_periods
    window = [periods.shift(period, -back) for back in range(grace, -1, -1)]
    # A month of the window, from the month of joining on, is unpaid unless it is waived
    # or paid in full: what was agreed for it, the chosen amount unless it changed after
    # (a month that owed nothing is paid; no household row in `dues`: nothing paid).
    dues = _dues(fund_id, window)
    changed = window_dues(fund_id, window)
    chosen = col(Household.chosen_contribution_cents)
    unpaid = sum(
        (
            case(
                (
                    and_(
                        col(Household.joined_period) <= month,
                        func.coalesce(dues.c[f"waived_{i}"], 0) == 0,
                        func.coalesce(dues.c[f"paid_{i}"], 0)
                        < func.coalesce(changed.c[f"due_{i}"], chosen),
                    ),
                    1,
                ),
                else_=0,
            )
            for i, month in enumerate(window)
        ),
        literal(0),
    )
    # The period's issuances, read once through a join: a correlated EXISTS would be
    # re-run per household against the table the same statement inserts into.
    issued = (
        select(col(HouseholdIssuance.household_id))
        .where(col(HouseholdIssuance.fund_id) == fund_id, col(HouseholdIssuance.period) == period)
        .subquery("issued")
    )
    already = issued.c.household_id.is_not(None)
    # Dormant after `dormancy_periods` whole months without any spending before this
    # one: those after the last month with spending, or from the month of joining on
    # when nothing was ever spent (spent in January: February, March and April make
    # three, so credits pause from May), while credits are left unspent on its account.
    # A household with nothing left to spend (never issued: unpaid months; or its credits
    # expired at a close) is not dormant: it could not have spent, and it could never
    # come back if its credits paused for good.
    spent, joined = col(Household.last_spending_period), col(Household.joined_period)
    holding = select(col(LedgerAccount.id)).where(
        col(LedgerAccount.id) == col(Household.account_id), col(LedgerAccount.balance_cents) > 0
    )
    dormant: ColumnElement[bool] = (
        and_(
            case(
                (
                    or_(spent.is_(None), spent < joined),
                    joined <= periods.shift(period, -policy.dormancy_periods),
                ),
                else_=spent <= periods.shift(period, -policy.dormancy_periods - 1),
            ),
            holding.exists(),
        )
        if policy.dormancy_periods > 0
        else literal(False)
    )
    reason = case(
        (already, "already_issued"),
        (col(Household.status) != "active", "suspended"),
        (dormant, "dormant"),
        (unpaid > grace, "contribution_unpaid"),
        (or_(amount <= 0, amount < policy.min_issuance_cents), "below_minimum"),
        else_=None,
    )
    return (
        select(
            col(Household.id).label("household_id"),
            amount.label("amount_cents"),
            reason.label("reason"),
        )
        .select_from(Household)
        .outerjoin(composition, composition.c.household_id == col(Household.id))
        .outerjoin(dues, dues.c.household_id == col(Household.id))
        .outerjoin(changed, changed.c.household_id == col(Household.id))
        .outerjoin(issued, issued.c.household_id == col(Household.id))
        .where(
            col(Household.fund_id) == fund_id,
            col(Household.status) != "left",
            # Members in that month: a household is not owed the months before it joined.
            col(Household.joined_period) <= period,
        )
    )


def coverage(db_session: Session, fund_id: uuid.UUID) -> tuple[int, int]:
    """(euros held, euros owed) by the fund now."""
    owed_kinds = [
        AccountKind.household_credits.value,
        AccountKind.outlet_payable.value,
        AccountKind.payouts_in_transit.value,
    ]
    held, owed = (
        db_session.connection()
        .execute(
            select(
                func.coalesce(
                    func.sum(
                        case(
                            (col(LedgerAccount.kind) == "bank", col(LedgerAccount.balance_cents)),
                            else_=0,
                        )
                    ),
                    0,
                ),
                func.coalesce(
                    func.sum(
                        case(
                            (
                                col(LedgerAccount.kind).in_(owed_kinds),
                                col(LedgerAccount.balance_cents),
                            ),
                            else_=0,
                        )
                    ),
                    0,
                ),
            ).where(col(LedgerAccount.fund_id) == fund_id)
        )
        .one()
    )
    return int(held), int(owed)


def _insert_ignoring_duplicates(db_session: Session) -> Any:
    dialect = db_session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(HouseholdIssuance.__table__)  # type: ignore[attr-defined]


def lock_fund_runs(db_session: Session, fund_id: uuid.UUID) -> None:
    """Take the fund's row for a run that reads the policy and the households' books and
    writes by the whole fund (issuance, close): runs of a fund wait for one another, and a
    policy change (FOR UPDATE) for them. FOR NO KEY UPDATE: payments and other rows
    referring to the fund go on meanwhile."""
    db_session.connection().execute(
        select(col(Fund.id)).where(col(Fund.id) == fund_id).with_for_update(key_share=True)
    ).one()


def issue_period(
    *,
    db_session: Session,
    fund_id: uuid.UUID,
    period: str,
    dry_run: bool = False,
    actor: str = "system",
    request_id: str | None = None,
    today: date | None = None,
) -> IssuanceSummary:
    """Issue `period` to every eligible household not yet issued; list the others."""
    get_fund(db_session=db_session, fund_id=fund_id)
    # From before it reads the policy and the households: a second run (another process,
    # the same month) waits, then finds the first one's claims, not a stale list of
    # candidates checked against a coverage that already counts them.
    lock_fund_runs(db_session, fund_id)
    check_issuable(db_session, fund_id, period, today or fund_today())
    policy = policy_for(db_session=db_session, fund_id=fund_id, period=period)
    connection = db_session.connection()
    if connection.dialect.name == "postgresql":
        # The eligibility groups every person and contribution of the fund: with the
        # default 4 MB its hash tables spill to disk (see _RUN_WORK_MEM).
        connection.exec_driver_sql(f"SET LOCAL work_mem = '{_RUN_WORK_MEM}'")
    candidates = _materialise(connection, eligibility(fund_id, period, policy))
    try:
        return _issue(
            db_session,
            fund_id=fund_id,
            period=period,
            policy=policy,
            candidates=candidates,
            dry_run=dry_run,
            actor=actor,
            request_id=request_id,
        )
    finally:
        if connection.in_transaction() and not connection.invalidated:
            candidates.drop(connection, checkfirst=True)


def _materialise(connection: Connection, query: Select[Any]) -> Table:
    """Evaluate the eligibility once, into a temporary table the run reads three times."""
    table = Table(
        f"issuance_candidates_{uuid.uuid4().hex[:12]}",
        MetaData(),
        # No key nor index: every read of it is a scan, and an index would cost more to
        # fill than it saves.
        Column("household_id", Uuid(), nullable=False),
        Column("amount_cents", BigInteger(), nullable=False),
        Column("reason", String(30)),
        prefixes=["TEMPORARY"],
    )
    table.create(connection)
    connection.execute(insert(table).from_select(["household_id", "amount_cents", "reason"], query))
    return table


def _issue(
    db_session: Session,
    *,
    fund_id: uuid.UUID,
    period: str,
    policy: FundPolicy,
    candidates: Table,
    dry_run: bool,
    actor: str,
    request_id: str | None,
) -> IssuanceSummary:
    skipped = [
        {"household_id": str(household_id), "reason": reason}
        for household_id, reason in db_session.connection()
        .execute(
            select(candidates.c.household_id, candidates.c.reason)
            .where(candidates.c.reason.is_not(None))
            .order_by(candidates.c.household_id)
        )
        .all()
    ]
    count, total = (
        db_session.connection()
        .execute(
            select(func.count(), func.coalesce(func.sum(candidates.c.amount_cents), 0)).where(
                candidates.c.reason.is_(None)
            )
        )
        .one()
    )
    # Runs for two periods at once must not both pass the coverage check: lock the fund's
    # bank account row first (PostgreSQL; SQLite's writers are serialised already).
    db_session.connection().execute(
        select(col(LedgerAccount.id))
        .where(
            col(LedgerAccount.fund_id) == fund_id, col(LedgerAccount.kind) == AccountKind.bank.value
        )
        .with_for_update()
    ).all()
    held, owed = coverage(db_session, fund_id)
    summary = IssuanceSummary(
        period=period,
        dry_run=dry_run,
        households_issued=int(count),
        total_cents=int(total),
        skipped=skipped,
        bank_cents=held,
        owed_cents=owed,
    )
    summary.coverage_ok = held >= owed + int(total)
    # A dry run shows the shortfall (coverage_ok false) instead of refusing.
    if policy.require_coverage and not summary.coverage_ok and not dry_run:
        raise InsufficientCoverage(
            f"The bank holds {held} cents; credits, payables and transit already owe {owed}"
            f" and this issuance would add {int(total)}.",
            bank_cents=held,
            owed_cents=owed,
            issuance_cents=int(total),
        )
    if dry_run or count == 0:
        return summary
    transaction_id = uuid.uuid4()
    claim = (
        _insert_ignoring_duplicates(db_session)
        .from_select(
            ["fund_id", "household_id", "period", "amount_cents", "transaction_id"],
            select(
                literal(fund_id, type_=Uuid()),
                candidates.c.household_id,
                literal(period),
                candidates.c.amount_cents,
                literal(transaction_id, type_=Uuid()),
            ).where(candidates.c.reason.is_(None)),
        )
        .on_conflict_do_nothing()
    )
    db_session.connection().execute(claim)
    # What this run actually claimed: a concurrent run may have taken some first.
    count, total = (
        db_session.connection()
        .execute(
            select(func.count(), func.coalesce(func.sum(HouseholdIssuance.amount_cents), 0)).where(
                col(HouseholdIssuance.transaction_id) == transaction_id
            )
        )
        .one()
    )
    summary.households_issued, summary.total_cents = int(count), int(total)
    if count == 0:
        return summary
    _post_issuance(
        db_session, fund_id=fund_id, period=period, transaction_id=transaction_id, total=int(total)
    )
    summary.transaction_id = transaction_id
    record(
        db_session=db_session,
        actor=actor,
        action="issuance.run",
        target_type="period",
        target_id=period,
        fund_id=fund_id,
        after={
            "households_issued": int(count),
            "total_cents": int(total),
            "transaction_id": transaction_id,
        },
        request_id=request_id,
    )
    return summary


def _post_issuance(
    db_session: Session, *, fund_id: uuid.UUID, period: str, transaction_id: uuid.UUID, total: int
) -> None:
    """The ledger transaction of a run: one credit per household, one expense debit."""
    expense = open_account(
        db_session=db_session, fund_id=fund_id, kind=AccountKind.allowance_expense
    )
    db_session.connection().execute(
        insert(LedgerPosting).from_select(
            ["fund_id", "transaction_id", "account_id", "side", "amount_cents"],
            select(
                col(HouseholdIssuance.fund_id),
                col(HouseholdIssuance.transaction_id),
                col(Household.account_id),
                literal(Side.credit.value),
                col(HouseholdIssuance.amount_cents),
            )
            .join(Household, col(Household.id) == col(HouseholdIssuance.household_id))
            .where(col(HouseholdIssuance.transaction_id) == transaction_id),
        )
    )
    db_session.connection().execute(
        insert(LedgerPosting).values(
            fund_id=fund_id,
            transaction_id=transaction_id,
            account_id=expense.id,
            side=Side.debit.value,
            amount_cents=total,
        )
    )
    apply_postings_to_balances(db_session=db_session, transaction_id=transaction_id)
    seal_transaction(
        db_session=db_session,
        fund_id=fund_id,
        transaction_id=transaction_id,
        kind=TransactionKind.issuance,
        period=period,
        memo=f"Monthly credits {period}",
    )


def default_period() -> str:
    return current_period()
