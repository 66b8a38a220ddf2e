"""Creating, confirming and cancelling payout batches, in the fund's books.

Every payout operation of a fund first locks the fund's payouts-in-transit account
(PostgreSQL; SQLite's `BEGIN IMMEDIATE` serialises all writers anyway): two batches
created at the same moment queue up, and the second one sees the payables the first
emptied. The ledger's conditional updates stay the last guard: a payable never goes
below zero whatever happens.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from ssa.audit.service import record
from ssa.funds.service import current_period, get_fund
from ssa.ledger.models import AccountKind, LedgerAccount, TransactionKind
from ssa.ledger.service import Leg, credit, debit, open_account, post_transaction
from ssa.outlets.models import Outlet, OutletFund
from ssa.payouts.models import Payout, PayoutLine, PayoutStatus
from ssa.problems import Conflict, NotFound
from ssa.timeutil import utcnow


class NothingToPay(Conflict):
    code = "nothing_to_pay"
    title = "No outlet is owed at least the minimum"


class PayoutNotOpen(Conflict):
    code = "payout_not_open"
    title = "This payout is already confirmed or cancelled"


class PayoutNotFound(NotFound):
    title = "No such payout"


@dataclass(frozen=True)
class PayoutWithLines:
    payout: Payout
    lines: list[PayoutLine]


def _lock_payout_operations(db_session: Session, fund_id: uuid.UUID) -> uuid.UUID:
    """Queue this fund's payout operations behind one row lock; return the transit account."""
    transit = open_account(
        db_session=db_session, fund_id=fund_id, kind=AccountKind.payouts_in_transit
    )
    db_session.exec(
        select(LedgerAccount.id).where(col(LedgerAccount.id) == transit.id).with_for_update()
    ).one()
    return transit.id


def create_payout(
    *,
    db_session: Session,
    fund_id: uuid.UUID,
    minimum_cents: int,
    actor: str,
    request_id: str | None = None,
) -> PayoutWithLines:
    """Put every outlet's whole payable (at least `minimum_cents`, and more than zero) in
    transit, in one transaction: payables debited, payouts in transit credited.

    Every outlet the fund owes is paid, whatever its status now: a suspended outlet is
    still owed what members spent there. Refused with `nothing_to_pay` when no outlet
    is owed enough.
    """
    get_fund(db_session=db_session, fund_id=fund_id)
    transit_id = _lock_payout_operations(db_session, fund_id)
    threshold = max(minimum_cents, 1)
    # Columns, not entities: the balances must be the ones just read under the lock,
    # never what the session remembers. Payables are locked in account order, the
    # order the ledger always locks in, so no payment can deadlock with a batch.
    owed = (
        db_session.connection()
        .execute(
            sa_select(
                col(OutletFund.outlet_id),
                col(OutletFund.payable_account_id),
                col(LedgerAccount.balance_cents),
                col(Outlet.name),
                col(Outlet.iban),
                col(Outlet.bic),
            )
            .join(LedgerAccount, col(LedgerAccount.id) == col(OutletFund.payable_account_id))
            .join(Outlet, col(Outlet.id) == col(OutletFund.outlet_id))
            .where(
                col(OutletFund.fund_id) == fund_id,
                col(LedgerAccount.fund_id) == fund_id,
                col(LedgerAccount.balance_cents) >= threshold,
            )
            .order_by(col(LedgerAccount.id))
            .with_for_update(of=LedgerAccount)
        )
        .all()
    )
    if not owed:
        raise NothingToPay(
            f"No outlet is owed at least {threshold} cents: there is nothing to pay.",
            minimum_cents=minimum_cents,
        )
    total = sum(int(balance) for _, _, balance, *_ in owed)
    legs: list[Leg] = [debit(account_id, int(balance)) for _, account_id, balance, *_ in owed]
    legs.append(credit(transit_id, total))
    posted = post_transaction(
        db_session=db_session,
        fund_id=fund_id,
        kind=TransactionKind.payout_created,
        legs=legs,
        period=current_period(),
        memo=f"Payout batch of {len(owed)} outlet(s)",
    )
    payout = Payout(
        fund_id=fund_id,
        total_cents=total,
        minimum_cents=minimum_cents,
        created_transaction_id=posted.transaction_id,
        created_by=actor,
    )
    db_session.add(payout)
    db_session.flush()
    lines = [
        PayoutLine(
            payout_id=payout.id,
            outlet_id=outlet_id,
            amount_cents=int(balance),
            iban=iban,
            bic=bic,
            name=name,
        )
        for outlet_id, _, balance, name, iban, bic in owed
    ]
    db_session.add_all(lines)
    db_session.flush()
    record(
        db_session=db_session,
        actor=actor,
        action="payout.create",
        target_type="payout",
        target_id=payout.id,
        fund_id=fund_id,
        after={
            "total_cents": total,
            "minimum_cents": minimum_cents,
            "lines": [
                {"outlet_id": str(x.outlet_id), "amount_cents": x.amount_cents} for x in lines
            ],
        },
        request_id=request_id,
    )
    return PayoutWithLines(payout=payout, lines=_sorted(lines))


def _sorted(lines: Sequence[PayoutLine]) -> list[PayoutLine]:
    return sorted(lines, key=lambda line: (line.name, str(line.outlet_id)))


def get_payout(*, db_session: Session, payout_id: uuid.UUID) -> Payout:
    payout = db_session.get(Payout, payout_id)
    if payout is None:
        raise PayoutNotFound()
    return payout


def lines_of(
    *, db_session: Session, payout_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[PayoutLine]]:
    found: dict[uuid.UUID, list[PayoutLine]] = {payout_id: [] for payout_id in payout_ids}
    if payout_ids:
        for line in db_session.exec(
            select(PayoutLine).where(col(PayoutLine.payout_id).in_(list(payout_ids)))
        ).all():
            found[line.payout_id].append(line)
    return {payout_id: _sorted(lines) for payout_id, lines in found.items()}


def with_lines(*, db_session: Session, payout: Payout) -> PayoutWithLines:
    return PayoutWithLines(
        payout=payout, lines=lines_of(db_session=db_session, payout_ids=[payout.id])[payout.id]
    )


def list_payouts(
    *,
    db_session: Session,
    fund_id: uuid.UUID,
    limit: int,
    before: tuple[datetime, uuid.UUID] | None = None,
) -> list[PayoutWithLines]:
    """Newest first, after the (created_at, id) position of the last one seen."""
    query = select(Payout).where(col(Payout.fund_id) == fund_id)
    if before is not None:
        at, last_id = before
        query = query.where(
            or_(
                col(Payout.created_at) < at,
                and_(col(Payout.created_at) == at, col(Payout.id) < last_id),
            )
        )
    payouts = db_session.exec(
        query.order_by(col(Payout.created_at).desc(), col(Payout.id).desc()).limit(limit)
    ).all()
    lines = lines_of(db_session=db_session, payout_ids=[p.id for p in payouts])
    return [PayoutWithLines(payout=p, lines=lines[p.id]) for p in payouts]


def _open_for_closing(
    db_session: Session, payout_id: uuid.UUID, wanted: PayoutStatus
) -> tuple[Payout, uuid.UUID | None]:
    """The payout, locked and re-read, with its fund's transit account; no account when
    it is already in the `wanted` state (a repeated request: nothing to do)."""
    payout = get_payout(db_session=db_session, payout_id=payout_id)
    transit_id = _lock_payout_operations(db_session, payout.fund_id)
    payout = db_session.exec(
        select(Payout)
        .where(col(Payout.id) == payout_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if payout.status == wanted:
        return payout, None
    if payout.status != PayoutStatus.created:
        raise PayoutNotOpen(
            f"This payout is {payout.status}: only a created payout can be {wanted}.",
            payout_status=str(payout.status),
        )
    return payout, transit_id


def confirm_payout(
    *, db_session: Session, payout_id: uuid.UUID, actor: str, request_id: str | None = None
) -> PayoutWithLines:
    """The bank made the transfers: payouts in transit debited, bank credited.

    The bank may not go below zero: refused with the ledger's `insufficient_balance`.
    Confirming a confirmed payout again changes nothing and answers the same.
    """
    payout, transit_id = _open_for_closing(db_session, payout_id, PayoutStatus.confirmed)
    if transit_id is None:
        return with_lines(db_session=db_session, payout=payout)
    bank = open_account(db_session=db_session, fund_id=payout.fund_id, kind=AccountKind.bank)
    posted = post_transaction(
        db_session=db_session,
        fund_id=payout.fund_id,
        kind=TransactionKind.payout_confirmed,
        legs=[debit(transit_id, payout.total_cents), credit(bank.id, payout.total_cents)],
        period=current_period(),
        memo=f"Payout {payout.id} paid by the bank",
    )
    payout.status = PayoutStatus.confirmed
    payout.confirmed_transaction_id = posted.transaction_id
    payout.confirmed_at = utcnow()
    payout.closed_by = actor
    db_session.add(payout)
    db_session.flush()
    _audit(db_session, payout, "payout.confirm", actor, request_id)
    return with_lines(db_session=db_session, payout=payout)


def cancel_payout(
    *, db_session: Session, payout_id: uuid.UUID, actor: str, request_id: str | None = None
) -> PayoutWithLines:
    """The transfers will not be made: each line goes back on its outlet's payable.

    Cancelling a cancelled payout again changes nothing and answers the same.
    """
    payout, transit_id = _open_for_closing(db_session, payout_id, PayoutStatus.cancelled)
    if transit_id is None:
        return with_lines(db_session=db_session, payout=payout)
    lines = lines_of(db_session=db_session, payout_ids=[payout.id])[payout.id]
    payables = dict(
        db_session.exec(
            select(OutletFund.outlet_id, OutletFund.payable_account_id).where(
                col(OutletFund.fund_id) == payout.fund_id,
                col(OutletFund.outlet_id).in_([line.outlet_id for line in lines]),
            )
        ).all()
    )
    legs: list[Leg] = [debit(transit_id, payout.total_cents)]
    legs += [credit(payables[line.outlet_id], line.amount_cents) for line in lines]
    posted = post_transaction(
        db_session=db_session,
        fund_id=payout.fund_id,
        kind=TransactionKind.payout_cancelled,
        legs=legs,
        period=current_period(),
        memo=f"Payout {payout.id} cancelled",
    )
    payout.status = PayoutStatus.cancelled
    payout.cancelled_transaction_id = posted.transaction_id
    payout.cancelled_at = utcnow()
    payout.closed_by = actor
    db_session.add(payout)
    db_session.flush()
    _audit(db_session, payout, "payout.cancel", actor, request_id)
    return PayoutWithLines(payout=payout, lines=lines)


def _audit(
    db_session: Session, payout: Payout, action: str, actor: str, request_id: str | None
) -> None:
    record(
        db_session=db_session,
        actor=actor,
        action=action,
        target_type="payout",
        target_id=payout.id,
        fund_id=payout.fund_id,
        before={"status": PayoutStatus.created.value},
        after={"status": str(payout.status), "total_cents": payout.total_cents},
        request_id=request_id,
    )
