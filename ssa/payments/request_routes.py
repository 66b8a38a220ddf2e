"""Payment requests: the till asks, the member confirms from the phone."""

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ssa.auth.deps import CurrentPrincipal, DbSession, Forbidden, Principal, Scope
from ssa.auth.roles import Role
from ssa.idempotency.http import MONEY_RESPONSES, idempotent
from ssa.payments import requests as service
from ssa.payments.models import PaymentRequest
from ssa.payments.routes import till_outlet
from ssa.payments.schemas import Amount, PaymentOut, Strict
from ssa.timeutil import utcnow

router = APIRouter(prefix="/api/v1", tags=["payments"])


class PaymentRequestIn(Strict):
    amount_cents: Amount
    reference: Annotated[str, Field(max_length=100)] | None = None
    outlet_id: uuid.UUID | None = None


class ConfirmIn(Strict):
    """Nothing to send: the member's login stands for the PIN."""


class PaymentRequestOut(BaseModel):
    """What a member sees of a request: the outlet, the amount and where it stands."""

    id: uuid.UUID
    code: str
    status: str
    amount_cents: int
    reference: str | None
    outlet_id: uuid.UUID
    outlet_name: str
    expires_at: datetime
    created_at: datetime
    payment_id: uuid.UUID | None = Field(
        default=None, description="for the outlet, and for the household that paid it"
    )


class OutletPaymentRequestOut(PaymentRequestOut):
    """What the till sees: also the QR code to show."""

    qr_svg: str = Field(description="an SVG document; the QR code says ssa:pay:<id>:<code>")


def _member_view(
    db_session: DbSession, row: PaymentRequest, principal: Principal
) -> PaymentRequestOut:
    shown = service.paid_by_household(db_session, row, principal.household_ids)
    return PaymentRequestOut(
        id=row.id,
        code=row.code,
        status=row.status,
        amount_cents=row.amount_cents,
        reference=row.reference,
        outlet_id=row.outlet_id,
        outlet_name=service.outlet_name(db_session, row.outlet_id),
        expires_at=row.expires_at,
        created_at=row.created_at,
        payment_id=row.payment_id if shown else None,
    )


def _outlet_view(db_session: DbSession, row: PaymentRequest) -> OutletPaymentRequestOut:
    return OutletPaymentRequestOut(
        id=row.id,
        code=row.code,
        status=row.status,
        amount_cents=row.amount_cents,
        reference=row.reference,
        outlet_id=row.outlet_id,
        outlet_name=service.outlet_name(db_session, row.outlet_id),
        expires_at=row.expires_at,
        created_at=row.created_at,
        payment_id=row.payment_id,
        qr_svg=service.qr_svg(service.qr_payload(row.id, row.code)),
    )


def _is_outlet_side(principal: Principal, outlet_id: uuid.UUID) -> bool:
    scope = Scope(outlet_id=outlet_id)
    return any(principal.has(role, scope) for role in (Role.manager, Role.cashier, Role.terminal))


def _household_of(principal: Principal) -> uuid.UUID:
    if not principal.household_ids:
        raise Forbidden("Only a member of a household confirms a payment request.")
    (household_id,) = principal.household_ids
    return household_id


@router.post(
    "/payment-requests",
    status_code=201,
    response_model=OutletPaymentRequestOut,
    responses={409: MONEY_RESPONSES[409]},
)
def create_payment_request(
    body: PaymentRequestIn, request: Request, db_session: DbSession, principal: CurrentPrincipal
) -> JSONResponse:
    """Ask for a payment from the phone (a terminal, or the outlet's staff); shows a code
    and a QR code for a few minutes. Idempotency-Key accepted."""
    outlet_id = till_outlet(principal, body.outlet_id)

    def work() -> tuple[int, OutletPaymentRequestOut]:
        row = service.create_request(
            db_session=db_session,
            outlet_id=outlet_id,
            amount_cents=body.amount_cents,
            reference=body.reference,
            created_by=principal.actor,
        )
        return 201, _outlet_view(db_session, row)

    return idempotent(
        request=request,
        db_session=db_session,
        caller=principal.actor,
        body=body,
        work=work,
        required=False,
    )


@router.get("/payment-requests", response_model=PaymentRequestOut)
def find_payment_request(
    db_session: DbSession,
    principal: CurrentPrincipal,
    code: Annotated[str, Query(min_length=1, max_length=20, description="the code at the till")],
) -> PaymentRequestOut:
    """The pending request with this code, for the member's phone (a single request, not a
    list: codes are unique among pending requests)."""
    _household_of(principal)
    row = service.find_pending(db_session=db_session, code=code)
    return _member_view(db_session, row, principal)


@router.get(
    "/payment-requests/{request_id}",
    response_model=OutletPaymentRequestOut | PaymentRequestOut,
)
def get_payment_request(
    request_id: uuid.UUID, db_session: DbSession, principal: CurrentPrincipal
) -> OutletPaymentRequestOut | PaymentRequestOut:
    """The request as its outlet sees it (with the QR code), or as a member sees it."""
    row = service.get_request(db_session=db_session, request_id=request_id)
    if _is_outlet_side(principal, row.outlet_id):
        return _outlet_view(db_session, row)
    if principal.household_ids:
        return _member_view(db_session, row, principal)
    raise Forbidden("Only the outlet and members see payment requests.")


@router.post(
    "/payment-requests/{request_id}/confirm",
    status_code=201,
    response_model=PaymentOut,
    responses={
        **MONEY_RESPONSES,
        409: {
            "description": "payment_request_not_pending (paid, expired or cancelled: its"
            " `request_status`),"
            " payment_request_expired (its time ran out: marked expired now),"
            " insufficient_credits, or idempotency_conflict"
        },
    },
)
def confirm_payment_request(
    request_id: uuid.UUID,
    request: Request,
    db_session: DbSession,
    principal: CurrentPrincipal,
    body: ConfirmIn | None = None,
) -> JSONResponse:
    """Pay the request from the member's household credits (member token; no PIN;
    Idempotency-Key required). Refusals as at the till."""
    household_id = _household_of(principal)
    now = utcnow()
    # Before the idempotent part: the expiry mark is kept, and no key is half-written.
    service.expire_if_due(db_session=db_session, request_id=request_id, now=now)

    def work() -> tuple[int, PaymentOut]:
        taken = service.confirm_request(
            db_session=db_session, request_id=request_id, household_id=household_id, now=now
        )
        payment = taken.payment
        return 201, PaymentOut(
            id=payment.id,
            outlet_id=payment.outlet_id,
            fund_id=payment.fund_id,
            amount_cents=payment.amount_cents,
            remaining_cents=taken.remaining_cents,
            reference=payment.reference,
            created_at=payment.created_at,
        )

    return idempotent(
        request=request,
        db_session=db_session,
        caller=principal.actor,
        body=None,
        work=work,
        required=True,
    )
