"""Taking a payment at the till, and refunding one.

The checks run in the order the contract gives, so that nothing leaks to a caller who
fails an earlier one: the number's check digit, the member, the outlet's accreditation
in the household's fund, the household's status, the PIN, then the credits.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, bindparam, case, update
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from ssa.funds.service import current_period
from ssa.households.models import Household, HouseholdStatus
from ssa.households.numbers import normalise
from ssa.households.service import pin_matches
from ssa.ledger.errors import InsufficientBalance
from ssa.ledger.models import AccountKind, LedgerAccount, TransactionKind
from ssa.ledger.service import Attached, credit, debit, post_transaction
from ssa.outlets.models import OutletFund, OutletStatus
from ssa.payments.models import Payment, Refund
from ssa.problems import Conflict, NotFound, Problem
from ssa.settings import Settings
from ssa.timeutil import utcnow


class MemberUnknown(NotFound):
    code = "member_unknown"
    title = "No member with this number"


class OutletNotAccredited(Problem):
    status = 403
    code = "outlet_not_accredited"
    title = "This outlet is not accredited by the member's fund"


class HouseholdInactive(Problem):
    status = 403
    code = "household_inactive"
    title = "This card is suspended or closed"


class PinNotSet(Problem):
    status = 403
    code = "pin_not_set"
    title = "No PIN chosen for this card yet"


class PinLocked(Problem):
    status = 423
    code = "pin_locked"
    title = "Too many wrong PINs: the card is locked"
    keeps_changes = True


class PinIncorrect(Problem):
    status = 403
    code = "pin_incorrect"
    title = "Wrong PIN"
    keeps_changes = True  # the failed attempt is counted even though nothing is paid


class CreditsShort(InsufficientBalance):
    """`insufficient_credits` seen at the till before anything is moved: the PIN was right,
    and a right PIN resets the count of wrong ones whatever comes next, so this refusal
    keeps that change (the ledger's own refusal, when the credits moved in between, cannot:
    its statement failed)."""

    keeps_changes = True


class RefundExceedsPayment(Conflict):
    code = "refund_exceeds_payment"
    title = "Refunds would exceed the payment"


class RefundAbovePayable(Conflict):
    """The outlet's payable (what the fund owes it) does not hold the refund: its takings
    went into a payout. The ledger's code, with the reason said."""

    code = "insufficient_balance"
    title = "The fund owes the outlet less than this refund"


class PaymentNotFound(NotFound):
    title = "No such payment at this outlet"


@dataclass(frozen=True)
class Receipt:
    """What the till is told of a payment."""

    id: uuid.UUID
    outlet_id: uuid.UUID
    fund_id: uuid.UUID
    amount_cents: int
    remaining_cents: int
    reference: str | None
    created_at: datetime


@dataclass(frozen=True)
class TakenPayment:
    payment: Payment
    remaining_cents: int

    @property
    def receipt(self) -> Receipt:
        payment = self.payment
        return Receipt(
            id=payment.id,
            outlet_id=payment.outlet_id,
            fund_id=payment.fund_id,
            amount_cents=payment.amount_cents,
            remaining_cents=self.remaining_cents,
            reference=payment.reference,
            created_at=payment.created_at,
        )


@dataclass(frozen=True)
class Payer:
    """What a payment needs of a household, as the till reads it in one statement (with
    its credits before the payment and the outlet's standing in its fund)."""

    id: uuid.UUID
    fund_id: uuid.UUID
    status: str
    account_id: uuid.UUID
    last_spending_period: str | None
    pin_hash: str | None
    pin_salt: str | None
    pin_failures: int
    pin_locked_until: datetime | None
    # The stored balance of its credits account when it was read (None: not read).
    credits_cents: int | None

    @classmethod
    def of(
        cls, household: Household | Row[*tuple[Any, ...]], credits_cents: int | None = None
    ) -> "Payer":
        """From a household, or from a row of the till's read (`_PAYER_AT_OUTLET`), which
        has the same names."""
        return cls(
            id=household.id,
            fund_id=household.fund_id,
            status=household.status,
            account_id=household.account_id,
            last_spending_period=household.last_spending_period,
            pin_hash=household.pin_hash,
            pin_salt=household.pin_salt,
            pin_failures=household.pin_failures,
            pin_locked_until=household.pin_locked_until,
            credits_cents=credits_cents,
        )


# Called with the payment's receipt as it will be, just before the ledger post (which
# locks the outlet's payable balance until COMMIT): for what the caller must write in the
# same transaction (the idempotency answer), so that it is not written under that lock.
BeforeCharge = Callable[[Receipt], None]

_HOUSEHOLDS = Household.__table__  # type: ignore[attr-defined]
_ACCOUNTS = LedgerAccount.__table__  # type: ignore[attr-defined]
_STANDINGS = OutletFund.__table__  # type: ignore[attr-defined]
_PAYMENTS = Payment.__table__  # type: ignore[attr-defined]
_REFUNDS = Refund.__table__  # type: ignore[attr-defined]

# The household by its number, its credits, and the outlet's standing in its fund (none
# if the outlet does not stand there): one round trip for every check of the till.
_PAYER_AT_OUTLET = (
    core_select(
        _HOUSEHOLDS.c.id,
        _HOUSEHOLDS.c.fund_id,
        _HOUSEHOLDS.c.status,
        _HOUSEHOLDS.c.account_id,
        _HOUSEHOLDS.c.last_spending_period,
        _HOUSEHOLDS.c.pin_hash,
        _HOUSEHOLDS.c.pin_salt,
        _HOUSEHOLDS.c.pin_failures,
        _HOUSEHOLDS.c.pin_locked_until,
        _ACCOUNTS.c.balance_cents,
        _STANDINGS.c.status.label("standing_status"),
        _STANDINGS.c.payable_account_id,
    )
    .select_from(
        _HOUSEHOLDS.join(_ACCOUNTS, _ACCOUNTS.c.id == _HOUSEHOLDS.c.account_id).outerjoin(
            _STANDINGS,
            and_(
                _STANDINGS.c.fund_id == _HOUSEHOLDS.c.fund_id,
                _STANDINGS.c.outlet_id == bindparam("outlet_id"),
            ),
        )
    )
    .where(_HOUSEHOLDS.c.member_number == bindparam("member_number"))
)


def _check_pin(db_session: Session, payer: Payer, pin: str, settings: Settings) -> None:
    """Check the PIN; a wrong one is counted atomically, and the fifth in a row locks."""
    now = utcnow()
    if payer.pin_hash is None or payer.pin_salt is None:
        raise PinNotSet("The member must choose a PIN in the app or with the fund first.")
    if payer.pin_locked_until is not None and payer.pin_locked_until > now:
        raise PinLocked(locked_until=payer.pin_locked_until.isoformat())
    if pin_matches(settings.secret_key, payer, pin):
        if payer.pin_failures:
            db_session.exec(
                update(Household).where(col(Household.id) == payer.id).values(pin_failures=0)
            )
        return
    limit = settings.pin_max_attempts
    until = now + timedelta(minutes=settings.pin_lock_minutes)
    failures = col(Household.pin_failures) + 1
    counted = db_session.exec(
        update(Household)
        .where(
            col(Household.id) == payer.id,
            (col(Household.pin_locked_until).is_(None)) | (col(Household.pin_locked_until) <= now),
        )
        .values(
            # The lock starts a fresh count: after it, five more tries.
            pin_failures=case((failures >= limit, 0), else_=failures),
            pin_locked_until=case((failures >= limit, until), else_=None),
        )
        .returning(col(Household.pin_failures), col(Household.pin_locked_until))
    ).first()
    if counted is None:  # another wrong PIN locked it a moment ago
        raise PinLocked(locked_until=until.isoformat())
    after_failures, locked_until = counted
    if locked_until is not None:
        raise PinLocked(locked_until=_aware(locked_until).isoformat())
    raise PinIncorrect(attempts_left=limit - int(after_failures))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _check_standing(standing_status: str | None, household_status: str) -> None:
    """The outlet's accreditation in the household's fund, then the household's status."""
    if standing_status != OutletStatus.accredited:
        raise OutletNotAccredited("The member's fund does not accept payments at this outlet.")
    if household_status != HouseholdStatus.active:
        raise HouseholdInactive("This card cannot pay: the household is suspended or has left.")


def accredited_standing(
    db_session: Session, household: Household, outlet_id: uuid.UUID
) -> OutletFund:
    """The outlet's standing in the household's fund, if the household may pay there now."""
    standing = db_session.exec(
        select(OutletFund).where(
            col(OutletFund.outlet_id) == outlet_id, col(OutletFund.fund_id) == household.fund_id
        )
    ).first()
    _check_standing(standing.status if standing is not None else None, household.status)
    assert standing is not None
    return standing


def charge_household(
    db_session: Session,
    *,
    household: Household,
    standing: OutletFund,
    amount_cents: int,
    reference: str | None,
    taken_by: str,
    now: datetime,
) -> TakenPayment:
    """Move the credits to the outlet's payable and write the payment (as at the till)."""
    return _charge(
        db_session,
        payer=Payer.of(household),
        outlet_id=standing.outlet_id,
        payable_account_id=standing.payable_account_id,
        amount_cents=amount_cents,
        reference=reference,
        taken_by=taken_by,
        now=now,
        before_charge=None,
    )


def _charge(
    db_session: Session,
    *,
    payer: Payer,
    outlet_id: uuid.UUID,
    payable_account_id: uuid.UUID,
    amount_cents: int,
    reference: str | None,
    taken_by: str,
    now: datetime,
    before_charge: BeforeCharge | None,
) -> TakenPayment:
    """Everything the payment writes about the household first, then the ledger post
    with the payment row attached (it refers to the post's transaction) and nothing
    else: the outlet's payable balance, which every payment at the outlet moves, is
    locked by the post until COMMIT, so as little as possible runs after it."""
    period = current_period(now)
    if payer.last_spending_period != period:
        db_session.exec(
            update(Household)
            .where(col(Household.id) == payer.id)
            .values(last_spending_period=period)
        )
    payment_id = uuid.uuid4()
    row: dict[str, Any] = {
        "id": payment_id,
        "fund_id": payer.fund_id,
        "outlet_id": outlet_id,
        "household_id": payer.id,
        "amount_cents": amount_cents,
        "refunded_cents": 0,
        "reference": reference,
        "period": period,
        "taken_by": taken_by,
        "created_at": now,
    }
    # What the household will have left, unless another of its payments or credits moves
    # its balance in between (then the caller hears the right figure after the post).
    if before_charge is not None and payer.credits_cents is not None:
        expected_cents = payer.credits_cents - amount_cents
        if expected_cents >= 0:  # else the ledger refuses (`insufficient_credits`)
            before_charge(
                Receipt(
                    id=payment_id,
                    outlet_id=outlet_id,
                    fund_id=payer.fund_id,
                    amount_cents=amount_cents,
                    remaining_cents=expected_cents,
                    reference=reference,
                    created_at=now,
                )
            )
    # Not enough credits: the ledger refuses with `insufficient_credits` and what is left.
    posted = post_transaction(
        db_session=db_session,
        fund_id=payer.fund_id,
        kind=TransactionKind.payment,
        legs=[
            debit(payer.account_id, amount_cents),
            credit(payable_account_id, amount_cents),
        ],
        period=period,
        # The payment row goes with the post (same statement on PostgreSQL): the outlet's
        # payable row stays locked for the COMMIT only.
        attached=Attached(_PAYMENTS, row),
    )
    payment = Payment(**row, transaction_id=posted.transaction_id)
    return TakenPayment(payment=payment, remaining_cents=posted.balances[payer.account_id])


def take_payment(
    *,
    db_session: Session,
    outlet_id: uuid.UUID,
    member_number: str,
    amount_cents: int,
    pin: str,
    reference: str | None,
    taken_by: str,
    settings: Settings,
    before_charge: BeforeCharge | None = None,
) -> TakenPayment:
    """A payment at the till: the checks in the contract's order, then the charge.

    `before_charge`, if given, is called with the payment as it will be answered just
    before the ledger post (see `BeforeCharge`); the payment returned is the final word.
    """
    found = (
        db_session.connection()
        .execute(
            _PAYER_AT_OUTLET,
            {"member_number": normalise(member_number), "outlet_id": outlet_id},
        )
        .first()
    )
    if found is None:
        raise MemberUnknown("No member has this number: check the card.")
    _check_standing(found.standing_status, found.status)
    payer = Payer.of(found, credits_cents=found.balance_cents)
    _check_pin(db_session, payer, pin, settings)
    if found.balance_cents < amount_cents:
        # Refused before anything moves, so that the right PIN's reset of the count stands.
        raise CreditsShort(
            account_id=payer.account_id,
            kind=AccountKind.household_credits,
            available_cents=int(found.balance_cents),
        )
    return _charge(
        db_session,
        payer=payer,
        outlet_id=outlet_id,
        payable_account_id=found.payable_account_id,
        amount_cents=amount_cents,
        reference=reference,
        taken_by=taken_by,
        now=utcnow(),
        before_charge=before_charge,
    )


def refund(
    *,
    db_session: Session,
    outlet_id: uuid.UUID,
    payment_id: uuid.UUID,
    amount_cents: int,
    reason: str,
    refunded_by: str,
) -> Refund:
    """Give credits back to the household that paid, never more than the payment in all."""
    payment = db_session.get(Payment, payment_id)
    if payment is None or payment.outlet_id != outlet_id:
        raise PaymentNotFound()
    room = db_session.exec(
        update(Payment)
        .where(
            col(Payment.id) == payment.id,
            col(Payment.refunded_cents) + amount_cents <= col(Payment.amount_cents),
        )
        .values(refunded_cents=col(Payment.refunded_cents) + amount_cents)
        .returning(col(Payment.refunded_cents))
    ).first()
    if room is None:
        db_session.refresh(payment)
        raise RefundExceedsPayment(
            "Refunds would exceed the payment.",
            refundable_cents=payment.amount_cents - payment.refunded_cents,
        )
    household = db_session.get(Household, payment.household_id)
    standing = db_session.exec(
        select(OutletFund).where(
            col(OutletFund.outlet_id) == outlet_id, col(OutletFund.fund_id) == payment.fund_id
        )
    ).one()
    assert household is not None
    row: dict[str, Any] = {
        "id": uuid.uuid4(),
        "payment_id": payment.id,
        "fund_id": payment.fund_id,
        "outlet_id": outlet_id,
        "amount_cents": amount_cents,
        "reason": reason,
        "refunded_by": refunded_by,
        "created_at": utcnow(),
    }
    # The refund row goes with the post, as a payment's does: the outlet's payable row,
    # which the post locks, is held for the COMMIT only.
    try:
        posted = post_transaction(
            db_session=db_session,
            fund_id=payment.fund_id,
            kind=TransactionKind.refund,
            legs=[
                debit(standing.payable_account_id, amount_cents),
                credit(household.account_id, amount_cents),
            ],
            period=current_period(),
            memo=f"Refund of payment {payment.id}",
            attached=Attached(_REFUNDS, row),
        )
    except InsufficientBalance as exc:
        raise RefundAbovePayable(
            "The fund owes this outlet less than the refund: what it had taken is paid out,"
            " or in a payout on its way. A refund is possible up to what it is owed now.",
            available_cents=exc.available_cents,
        ) from exc
    return Refund(**row, transaction_id=posted.transaction_id)
