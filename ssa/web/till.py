"""The till, for a cashier in a hurry: member number and amount, the member types the PIN
on the same screen, a clear answer and a receipt with the credits left; a payment asked
from the member's phone; today's takings; refunds.

The pages call the payment services the API's payment routes call, with the same
authorisation (the outlet's cashier or manager) and the same idempotency: a hidden key
per form plays the Idempotency-Key, so a double tap or a reload charges once.
"""

import uuid
from datetime import datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from ssa.auth.deps import DbSession
from ssa.funds.service import FUND_TIMEZONE
from ssa.idempotency.service import fingerprint, forget_unanswered, run_once
from ssa.outlets.models import Outlet
from ssa.payments import requests, service, views
from ssa.payments.models import Payment, PaymentRequestStatus
from ssa.payments.schemas import REFUND_REASON_LENGTH, PaymentOut
from ssa.timeutil import utcnow
from ssa.web.access import CurrentViewer, PageForbidden, PageNotFound, Viewer
from ssa.web.csrf import csrf_protect
from ssa.web.forms import (
    Refused,
    attempt,
    euros_input,
    new_form_key,
    parse_amount,
    problem_message,
    too_long,
    valid_form_key,
)
from ssa.web.i18n import texts_for
from ssa.web.render import flash, render

router = APIRouter(
    prefix="/till",
    include_in_schema=False,
    default_response_class=HTMLResponse,
    dependencies=[Depends(csrf_protect)],
)

TODAY_LIMIT = 500


def _outlet(db_session: DbSession, viewer: Viewer, outlet_id: uuid.UUID) -> Outlet:
    """The outlet, if the viewer works there (cashier or manager), as the API decides."""
    if not viewer.works_at(outlet_id):
        raise PageForbidden()
    outlet = db_session.get(Outlet, outlet_id)
    if outlet is None:
        raise PageNotFound()
    return outlet


@router.get("", name="till_choose")
def choose(request: Request, db_session: DbSession, viewer: CurrentViewer) -> Response:
    """The viewer's till: straight to it when they work at one outlet."""
    outlet_ids = viewer.till_outlet_ids
    if not outlet_ids:
        raise PageForbidden()
    if len(outlet_ids) == 1:
        return RedirectResponse(
            request.app.url_path_for("till", outlet_id=str(outlet_ids[0])), status_code=303
        )
    outlets = [db_session.get(Outlet, outlet_id) for outlet_id in outlet_ids]
    return render(
        request,
        "till/choose.html",
        {"viewer": viewer, "outlets": [o for o in outlets if o is not None]},
    )


def _till_form(
    request: Request,
    viewer: Viewer,
    outlet: Outlet,
    *,
    member_number: str = "",
    amount: str = "",
    form_key: str | None = None,
    error: str | None = None,
    field_errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "till/pay.html",
        {
            "viewer": viewer,
            "outlet": outlet,
            "member_number": member_number,
            "amount": amount,
            "form_key": form_key or new_form_key(),
            "error": error,
            "field_errors": field_errors or {},
        },
        status=status,
    )


@router.get("/{outlet_id}", name="till")
def till(
    outlet_id: uuid.UUID, request: Request, db_session: DbSession, viewer: CurrentViewer
) -> Response:
    return _till_form(request, viewer, _outlet(db_session, viewer, outlet_id))


@router.post("/{outlet_id}/pay", name="till_pay")
def till_pay(
    outlet_id: uuid.UUID,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
    member_number: Annotated[str, Form()] = "",
    amount: Annotated[str, Form()] = "",
    pin: Annotated[str, Form()] = "",
    form_key: Annotated[str, Form()] = "",
) -> Response:
    """Take the payment (`POST /api/v1/payments` as the outlet's staff)."""
    t = texts_for(request)
    outlet = _outlet(db_session, viewer, outlet_id)
    member_number = member_number.strip()[:40]
    amount = amount.strip()
    cents = parse_amount(amount, t.language)
    field_errors = {}
    if not member_number:
        field_errors["member_number"] = t.gettext("Type the member number from the card.")
    if cents is None:
        field_errors["amount"] = t.gettext(
            "Type the amount in euros, for example 12.50 (at most 10,000)."
        )
    if not (len(pin) == 4 and pin.isascii() and pin.isdigit()):
        field_errors["pin"] = t.gettext("The member types their 4-digit PIN.")
    if not valid_form_key(form_key):
        form_key = new_form_key()
    if field_errors or cents is None:
        return _till_form(
            request,
            viewer,
            outlet,
            member_number=member_number,
            amount=amount,
            form_key=form_key,
            field_errors=field_errors,
            status=422,
        )
    actor = viewer.principal.actor
    key = f"web:{form_key}"
    body = {
        "member_number": member_number,
        "amount_cents": cents,
        "pin": pin,
        "reference": None,
        "outlet_id": str(outlet.id),
    }

    def work() -> tuple[int, Any]:
        taken = service.take_payment(
            db_session=db_session,
            outlet_id=outlet.id,
            member_number=member_number,
            amount_cents=cents,
            pin=pin,
            reference=None,
            taken_by=actor,
            settings=request.app.state.settings,
        )
        payment = taken.payment
        out = PaymentOut(
            id=payment.id,
            outlet_id=payment.outlet_id,
            fund_id=payment.fund_id,
            amount_cents=payment.amount_cents,
            remaining_cents=taken.remaining_cents,
            reference=payment.reference,
            created_at=payment.created_at,
        )
        return 201, out.model_dump(mode="json")

    done = attempt(
        db_session,
        lambda: run_once(
            db_session=db_session,
            caller=actor,
            key=key,
            request_fingerprint=fingerprint(
                "POST", "/api/v1/payments", body, key=request.app.state.settings.secret_key
            ),
            work=work,
        ),
    )
    if isinstance(done, Refused):
        if done.problem.keeps_changes:  # the wrong PIN counts; the key may be used again
            forget_unanswered(db_session=db_session, caller=actor, key=key)
        return _till_form(
            request,
            viewer,
            outlet,
            member_number=member_number,
            amount=amount,
            form_key=form_key,
            error=problem_message(t, done.problem),
            status=done.problem.status,
        )
    receipt = done.body
    return render(
        request,
        "till/receipt.html",
        {
            "viewer": viewer,
            "outlet": outlet,
            "amount_cents": receipt["amount_cents"],
            "remaining_cents": receipt["remaining_cents"],
            "paid_at": datetime.fromisoformat(receipt["created_at"]),
            "payment_id": receipt["id"],
            "member_number": member_number,
        },
        status=201,
    )


@router.post("/{outlet_id}/requests", name="till_request")
def till_request(
    outlet_id: uuid.UUID,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
    amount: Annotated[str, Form()] = "",
    form_key: Annotated[str, Form()] = "",
) -> Response:
    """Ask for a payment from the member's phone: a code and a QR code to show."""
    t = texts_for(request)
    outlet = _outlet(db_session, viewer, outlet_id)
    cents = parse_amount(amount, t.language)
    if cents is None:
        return _till_form(
            request,
            viewer,
            outlet,
            amount=amount.strip(),
            form_key=form_key if valid_form_key(form_key) else None,
            field_errors={
                "amount": t.gettext("Type the amount in euros, for example 12.50 (at most 10,000).")
            },
            status=422,
        )
    row = requests.create_request(
        db_session=db_session,
        outlet_id=outlet.id,
        amount_cents=cents,
        reference=None,
        created_by=viewer.principal.actor,
    )
    return RedirectResponse(
        request.app.url_path_for(
            "till_request_view", outlet_id=str(outlet.id), request_id=str(row.id)
        ),
        status_code=303,
    )


@router.get("/{outlet_id}/requests/{request_id}", name="till_request_view")
def till_request_view(
    outlet_id: uuid.UUID,
    request_id: uuid.UUID,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
) -> Response:
    """The code and QR code for the member's phone, until the member has paid."""
    outlet = _outlet(db_session, viewer, outlet_id)
    found = attempt(
        db_session, lambda: requests.get_request(db_session=db_session, request_id=request_id)
    )
    if isinstance(found, Refused) or found.outlet_id != outlet.id:
        raise PageNotFound()
    payment = db_session.get(Payment, found.payment_id) if found.payment_id is not None else None
    return render(
        request,
        "till/request.html",
        {
            "viewer": viewer,
            "outlet": outlet,
            "payment_request": found,
            "payment": payment,
            "qr_svg": requests.qr_svg(requests.qr_payload(found.id, found.code))
            if found.status == PaymentRequestStatus.pending
            else None,
        },
    )


@router.get("/{outlet_id}/requests/{request_id}/status", name="till_request_status")
def till_request_status(
    outlet_id: uuid.UUID,
    request_id: uuid.UUID,
    db_session: DbSession,
    viewer: CurrentViewer,
) -> Response:
    """Where the request stands, in one word: the request page (with JavaScript) asks
    this until it changes, then reloads; without JavaScript it has a Refresh button."""
    _outlet(db_session, viewer, outlet_id)
    found = attempt(
        db_session, lambda: requests.get_request(db_session=db_session, request_id=request_id)
    )
    if isinstance(found, Refused) or found.outlet_id != outlet_id:
        raise PageNotFound()
    return PlainTextResponse(str(found.status), headers={"Cache-Control": "no-store"})


def _today_start() -> datetime:
    today = utcnow().astimezone(FUND_TIMEZONE).date()
    return datetime.combine(today, time(0), tzinfo=FUND_TIMEZONE)


@router.get("/{outlet_id}/today", name="till_today")
def today(
    outlet_id: uuid.UUID, request: Request, db_session: DbSession, viewer: CurrentViewer
) -> Response:
    """Today's payments at this outlet, their refunds and the day's total."""
    outlet = _outlet(db_session, viewer, outlet_id)
    start = _today_start()
    page = views.outlet_payments(
        db_session=db_session,
        outlet_id=outlet.id,
        start=start,
        end=start + timedelta(days=1),
        limit=TODAY_LIMIT,
        cursor=None,
    )
    paid = sum(p.amount_cents for p in page.items)
    refunded = sum(p.refunded_cents for p in page.items)
    return render(
        request,
        "till/today.html",
        {
            "viewer": viewer,
            "outlet": outlet,
            "payments": page.items,
            "paid_cents": paid,
            "refunded_cents": refunded,
            "net_cents": paid - refunded,
            "more": page.next_cursor is not None,
        },
    )


def _payment_at(db_session: DbSession, outlet: Outlet, payment_id: uuid.UUID) -> Payment:
    payment = db_session.get(Payment, payment_id)
    if payment is None or payment.outlet_id != outlet.id:
        raise PageNotFound()
    return payment


def _refund_form(
    request: Request,
    viewer: Viewer,
    outlet: Outlet,
    payment: Payment,
    *,
    amount: str | None = None,
    reason: str = "",
    form_key: str | None = None,
    error: str | None = None,
    field_errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    t = texts_for(request)
    refundable = payment.amount_cents - payment.refunded_cents
    return render(
        request,
        "till/refund.html",
        {
            "viewer": viewer,
            "outlet": outlet,
            "payment": payment,
            "refundable_cents": refundable,
            "amount": amount if amount is not None else euros_input(t, refundable),
            "reason": reason,
            "form_key": form_key or new_form_key(),
            "error": error,
            "field_errors": field_errors or {},
        },
        status=status,
    )


@router.get("/{outlet_id}/payments/{payment_id}/refund", name="till_refund")
def refund_page(
    outlet_id: uuid.UUID,
    payment_id: uuid.UUID,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
) -> Response:
    outlet = _outlet(db_session, viewer, outlet_id)
    return _refund_form(request, viewer, outlet, _payment_at(db_session, outlet, payment_id))


@router.post("/{outlet_id}/payments/{payment_id}/refund", name="till_refund_submit")
def refund_submit(
    outlet_id: uuid.UUID,
    payment_id: uuid.UUID,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
    amount: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    form_key: Annotated[str, Form()] = "",
) -> Response:
    """Give credits back to the household that paid (`POST /payments/{id}/refunds`)."""
    t = texts_for(request)
    outlet = _outlet(db_session, viewer, outlet_id)
    payment = _payment_at(db_session, outlet, payment_id)
    amount, reason = amount.strip(), reason.strip()
    cents = parse_amount(amount, t.language)
    field_errors = {}
    if cents is None:
        field_errors["amount"] = t.gettext("Type the amount to refund in euros, for example 4.50.")
    if not reason:
        field_errors["reason"] = t.gettext("Say why, in a few words (kept with the refund).")
    elif (message := too_long(t, reason, REFUND_REASON_LENGTH)) is not None:
        field_errors["reason"] = message
    if not valid_form_key(form_key):
        form_key = new_form_key()
    if field_errors or cents is None:
        return _refund_form(
            request,
            viewer,
            outlet,
            payment,
            amount=amount,
            reason=reason,
            form_key=form_key,
            field_errors=field_errors,
            status=422,
        )
    actor = viewer.principal.actor
    body = {"amount_cents": cents, "reason": reason}

    def work() -> tuple[int, Any]:
        row = service.refund(
            db_session=db_session,
            outlet_id=outlet.id,
            payment_id=payment.id,
            amount_cents=cents,
            reason=reason,
            refunded_by=actor,
        )
        return 201, {"id": str(row.id), "amount_cents": row.amount_cents}

    done = attempt(
        db_session,
        lambda: run_once(
            db_session=db_session,
            caller=actor,
            key=f"web:{form_key}",
            request_fingerprint=fingerprint(
                "POST",
                f"/api/v1/payments/{payment.id}/refunds",
                body,
                key=request.app.state.settings.secret_key,
            ),
            work=work,
        ),
    )
    if isinstance(done, Refused):
        db_session.refresh(payment)
        return _refund_form(
            request,
            viewer,
            outlet,
            payment,
            amount=amount,
            reason=reason,
            form_key=form_key,
            error=(
                t.gettext(
                    "The fund owes this outlet less than that: its takings are paid out, or in"
                    " a payout on its way. A refund is possible up to %(available)s.",
                    available=t.money(int(done.problem.extra.get("available_cents", 0))),
                )
                if done.problem.code == "insufficient_balance"
                else problem_message(t, done.problem)
            ),
            status=done.problem.status,
        )
    flash(
        request,
        t.gettext(
            "Refunded %(amount)s to the member's credits.",
            amount=t.money(int(done.body["amount_cents"])),
        ),
    )
    return RedirectResponse(
        request.app.url_path_for("till_today", outlet_id=str(outlet.id)), status_code=303
    )
