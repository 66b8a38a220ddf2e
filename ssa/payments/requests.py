"""Payment requests: the till asks for an amount, a member confirms it from the phone.

A request is pending until it is paid, cancelled or its few minutes run out. A member
confirming it needs no PIN (the app's login stands for it); everything else is checked
as at the till. The request is claimed with a conditional UPDATE, so two confirmations
at the same moment pay once.
"""

import io
import secrets
import uuid
from datetime import datetime, timedelta

import segno
from sqlalchemy import update
from sqlmodel import Session, col, select

from ssa.households.models import Household
from ssa.outlets.models import Outlet
from ssa.payments.models import Payment, PaymentRequest, PaymentRequestStatus
from ssa.payments.service import TakenPayment, accredited_standing, charge_household
from ssa.problems import Conflict, NotFound
from ssa.timeutil import utcnow

# Read aloud or typed on a phone: no 0/O, 1/I/L look-alikes. 31**6 is about 887 million.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
# How long a till's request can be confirmed. A setting would be better (see the report).
LIFETIME = timedelta(minutes=10)
_CODE_TRIES = 20


class PaymentRequestNotFound(NotFound):
    title = "No such payment request"


class PaymentRequestNotPending(Conflict):
    code = "payment_request_not_pending"
    title = "This payment request is no longer waiting for a payment"


class PaymentRequestExpired(Conflict):
    code = "payment_request_expired"
    title = "This payment request has expired"


class PaymentRequestFoundExpired(PaymentRequestExpired):
    """Raised after marking a request expired: the mark is kept though the call fails."""

    keeps_changes = True


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(code: str) -> str:
    """What a member typed, as stored: upper case, without spaces or dashes."""
    return code.strip().upper().replace(" ", "").replace("-", "")


def qr_payload(request_id: uuid.UUID, code: str) -> str:
    """What the QR code says: the app reads the id (to confirm) and the code (to show)."""
    return f"ssa:pay:{request_id}:{code}"


def qr_svg(payload: str) -> str:
    """The QR code as an inline SVG document (with its namespace, so it also stands alone)."""
    out = io.BytesIO()
    segno.make(payload, error="m", micro=False).save(
        out, kind="svg", xmldecl=False, svgns=True, nl=False, scale=4, border=4
    )
    return out.getvalue().decode("utf-8")


def _due(payment_request: PaymentRequest, now: datetime) -> bool:
    return (
        payment_request.status == PaymentRequestStatus.pending and payment_request.expires_at <= now
    )


def _mark_expired(db_session: Session, payment_request: PaymentRequest) -> None:
    db_session.exec(
        update(PaymentRequest)
        .where(
            col(PaymentRequest.id) == payment_request.id,
            col(PaymentRequest.status) == PaymentRequestStatus.pending.value,
        )
        .values(status=PaymentRequestStatus.expired.value)
    )
    payment_request.status = PaymentRequestStatus.expired


def create_request(
    *,
    db_session: Session,
    outlet_id: uuid.UUID,
    amount_cents: int,
    reference: str | None,
    created_by: str,
    now: datetime | None = None,
    lifetime: timedelta = LIFETIME,
) -> PaymentRequest:
    """A pending request with a code no other pending request has."""
    now = now or utcnow()
    for _ in range(_CODE_TRIES):
        code = new_code()
        taken = db_session.exec(
            select(PaymentRequest.id).where(
                col(PaymentRequest.code) == code,
                col(PaymentRequest.status) == PaymentRequestStatus.pending.value,
            )
        ).first()
        if taken is None:
            break
    else:  # pragma: no cover (20 collisions in a space of 887 million)
        raise RuntimeError("Could not find a free payment request code.")
    payment_request = PaymentRequest(
        outlet_id=outlet_id,
        amount_cents=amount_cents,
        reference=reference,
        code=code,
        created_by=created_by,
        expires_at=now + lifetime,
        created_at=now,
    )
    db_session.add(payment_request)
    db_session.flush()
    return payment_request


def get_request(
    *, db_session: Session, request_id: uuid.UUID, now: datetime | None = None
) -> PaymentRequest:
    """The request, marked expired first if its time ran out while it was pending."""
    payment_request = db_session.get(PaymentRequest, request_id)
    if payment_request is None:
        raise PaymentRequestNotFound()
    if _due(payment_request, now or utcnow()):
        _mark_expired(db_session, payment_request)
    return payment_request


def find_pending(*, db_session: Session, code: str, now: datetime | None = None) -> PaymentRequest:
    """The pending, unexpired request with this code (what a member typed at the till)."""
    found = db_session.exec(
        select(PaymentRequest)
        .where(
            col(PaymentRequest.code) == normalise_code(code),
            col(PaymentRequest.status) == PaymentRequestStatus.pending.value,
            col(PaymentRequest.expires_at) > (now or utcnow()),
        )
        .order_by(col(PaymentRequest.created_at).desc())
    ).first()
    if found is None:
        raise PaymentRequestNotFound("No payment is waiting with this code: check it at the till.")
    return found


def outlet_name(db_session: Session, outlet_id: uuid.UUID) -> str:
    name = db_session.exec(select(Outlet.name).where(col(Outlet.id) == outlet_id)).first()
    return name or ""


def expire_if_due(
    *, db_session: Session, request_id: uuid.UUID, now: datetime | None = None
) -> None:
    """Before a confirmation: a request whose time ran out is marked expired, and refused.

    Called before the idempotent part of the confirmation, so that the mark is kept
    (the refusal keeps changes) without keeping a half-written idempotency key.
    """
    payment_request = db_session.get(PaymentRequest, request_id)
    if payment_request is not None and _due(payment_request, now or utcnow()):
        _mark_expired(db_session, payment_request)
        raise PaymentRequestFoundExpired(
            "The till's request has expired: ask for a new one.",
            expired_at=payment_request.expires_at.isoformat(),
        )


def confirm_request(
    *,
    db_session: Session,
    request_id: uuid.UUID,
    household_id: uuid.UUID,
    now: datetime | None = None,
) -> TakenPayment:
    """Pay a pending request from the household's credits, once."""
    now = now or utcnow()
    payment_request = db_session.get(PaymentRequest, request_id)
    if payment_request is None:
        raise PaymentRequestNotFound()
    if payment_request.status != PaymentRequestStatus.pending:
        raise PaymentRequestNotPending(
            f"This payment request is {payment_request.status}.",
            request_status=payment_request.status,
        )
    if _due(payment_request, now):
        raise PaymentRequestExpired(
            "The till's request has expired: ask for a new one.",
            expired_at=payment_request.expires_at.isoformat(),
        )
    household = db_session.get(Household, household_id)
    if household is None:
        raise NotFound("No such household.")
    standing = accredited_standing(db_session, household, payment_request.outlet_id)
    # The claim: a second confirmation waits here on the row (PostgreSQL) or on the write
    # lock (SQLite), then finds the request paid. A refusal below rolls the claim back.
    claimed = db_session.exec(
        update(PaymentRequest)
        .where(
            col(PaymentRequest.id) == request_id,
            col(PaymentRequest.status) == PaymentRequestStatus.pending.value,
        )
        .values(status=PaymentRequestStatus.paid.value)
        .returning(col(PaymentRequest.id))
    ).first()
    if claimed is None:
        db_session.refresh(payment_request)
        raise PaymentRequestNotPending(
            f"This payment request is {payment_request.status}.",
            request_status=payment_request.status,
        )
    taken = charge_household(
        db_session,
        household=household,
        standing=standing,
        amount_cents=payment_request.amount_cents,
        reference=payment_request.reference,
        # The payment was asked for by the till: it reads as taken there.
        taken_by=payment_request.created_by,
        now=now,
    )
    db_session.exec(
        update(PaymentRequest)
        .where(col(PaymentRequest.id) == request_id)
        .values(payment_id=taken.payment.id)
    )
    db_session.refresh(payment_request)
    return taken


def paid_by_household(
    db_session: Session, payment_request: PaymentRequest, household_ids: frozenset[uuid.UUID]
) -> bool:
    """Whether the request was paid by one of these households (to show them the payment)."""
    if payment_request.payment_id is None:
        return False
    payer = db_session.exec(
        select(Payment.household_id).where(col(Payment.id) == payment_request.payment_id)
    ).first()
    return payer is not None and payer in household_ids
