"""Taking a payment at the till, and refunding one.

The checks run in the order the contract gives, so that nothing leaks to a caller who
fails an earlier one: the number's check digit, the member, the outlet's accreditation
in the household's fund, the household's status, the PIN, then the credits.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import case, update
from sqlmodel import Session, col, select

from ssa.funds.service import current_period
from ssa.households.models import Household, HouseholdStatus
from ssa.households.numbers import normalise
from ssa.households.service import pin_matches
from ssa.ledger.models import TransactionKind
from ssa.ledger.service import credit, debit, post_transaction
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


class RefundExceedsPayment(Conflict):
    code = "refund_exceeds_payment"
    title = "Refunds would exceed the payment"


class PaymentNotFound(NotFound):
    title = "No such payment at this outlet"


@dataclass(frozen=True)
class TakenPayment:
    payment: Payment
    remaining_cents: int


def _find_household(db_session: Session, member_number: str) -> Household:
    number = normalise(member_number)
    household = db_session.exec(
        select(Household).where(col(Household.member_number) == number)
    ).first()
    if household is None:
        raise MemberUnknown("No member has this number: check the card.")
    return household


def _check_pin(db_session: Session, household: Household, pin: str, settings: Settings) -> None:
    """Check the PIN; a wrong one is counted atomically, and the fifth in a row locks."""
    now = utcnow()
    if household.pin_hash is None or household.pin_salt is None:
        raise PinNotSet("The member must choose a PIN in the app or with the fund first.")
    if household.pin_locked_until is not None and household.pin_locked_until > now:
        raise PinLocked(locked_until=household.pin_locked_until.isoformat())
    if pin_matches(settings.secret_key, household, pin):
        if household.pin_failures:
            db_session.exec(
                update(Household).where(col(Household.id) == household.id).values(pin_failures=0)
            )
        return
    limit = settings.pin_max_attempts
    until = now + timedelta(minutes=settings.pin_lock_minutes)
    failures = col(Household.pin_failures) + 1
    counted = db_session.exec(
        update(Household)
        .where(
            col(Household.id) == household.id,
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


def accredited_standing(
    db_session: Session, household: Household, outlet_id: uuid.UUID
) -> OutletFund:
    """The outlet's standing in the household's fund, if the household may pay there now."""
    standing = db_session.exec(
        select(OutletFund).where(
            col(OutletFund.outlet_id) == outlet_id, col(OutletFund.fund_id) == household.fund_id
        )
    ).first()
    if standing is None or standing.status != OutletStatus.accredited:
        raise OutletNotAccredited("The member's fund does not accept payments at this outlet.")
    if household.status != HouseholdStatus.active:
        raise HouseholdInactive("This card cannot pay: the household is suspended or has left.")
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
    period = current_period(now)
    # Not enough credits: the ledger refuses with `insufficient_credits` and what is left.
    posted = post_transaction(
        db_session=db_session,
        fund_id=household.fund_id,
        kind=TransactionKind.payment,
        legs=[
            debit(household.account_id, amount_cents),
            credit(standing.payable_account_id, amount_cents),
        ],
        period=period,
    )
    payment = Payment(
        fund_id=household.fund_id,
        outlet_id=standing.outlet_id,
        household_id=household.id,
        amount_cents=amount_cents,
        reference=reference,
        period=period,
        transaction_id=posted.transaction_id,
        taken_by=taken_by,
        created_at=now,
    )
    db_session.add(payment)
    if household.last_spending_period != period:
        db_session.exec(
            update(Household)
            .where(col(Household.id) == household.id)
            .values(last_spending_period=period)
        )
    db_session.flush()
    return TakenPayment(payment=payment, remaining_cents=posted.balances[household.account_id])


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
) -> TakenPayment:
    """A payment at the till: the checks in the contract's order, then the charge."""
    household = _find_household(db_session, member_number)
    standing = accredited_standing(db_session, household, outlet_id)
    _check_pin(db_session, household, pin, settings)
    return charge_household(
        db_session,
        household=household,
        standing=standing,
        amount_cents=amount_cents,
        reference=reference,
        taken_by=taken_by,
        now=utcnow(),
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
    )
    refund_row = Refund(
        payment_id=payment.id,
        fund_id=payment.fund_id,
        outlet_id=outlet_id,
        amount_cents=amount_cents,
        reason=reason,
        transaction_id=posted.transaction_id,
        refunded_by=refunded_by,
    )
    db_session.add(refund_row)
    db_session.flush()
    return refund_row
