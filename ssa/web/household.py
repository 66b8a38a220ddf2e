"""The household's pages: credits and this month's allowance explained, history, PIN,
confirming a till's payment request from the phone, and the printable member card.

Each page calls the services the API's household and payment-request routes call, with
the same authorisation (a member of the household, `Role.member` on it).
"""

import io
import uuid
from datetime import datetime
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from ssa.auth.deps import DbSession
from ssa.funds.models import Fund
from ssa.funds.service import current_period
from ssa.households import service, views
from ssa.households.models import Household
from ssa.households.schemas import PinIn, TransactionOut
from ssa.idempotency.service import fingerprint, run_once
from ssa.issuance import periods
from ssa.payments import requests
from ssa.payments.schemas import PaymentOut
from ssa.timeutil import utcnow
from ssa.web.access import Member, Viewer
from ssa.web.csrf import csrf_protect
from ssa.web.forms import Refused, attempt, new_form_key, problem_message, valid_form_key
from ssa.web.i18n import Texts, texts_for
from ssa.web.render import flash, render

router = APIRouter(
    prefix="/me",
    include_in_schema=False,
    default_response_class=HTMLResponse,
    dependencies=[Depends(csrf_protect)],
)

HISTORY_PAGE = 25
HISTORY_PERIODS = 12  # how many months the history offers to pick from


def _household(db_session: DbSession, viewer: Viewer) -> Household:
    assert viewer.household_id is not None  # `Member` made sure
    return service.get_household(db_session=db_session, household_id=viewer.household_id)


def _kind_label(t: Texts, kind: str) -> str:
    return {
        "issuance": t.gettext("Monthly credits"),
        "payment": t.gettext("Payment"),
        "refund": t.gettext("Refund"),
        "expiry": t.gettext("Credits returned to the fund"),
        "adjustment": t.gettext("Correction"),
    }.get(kind, kind)


def _history_rows(t: Texts, items: list[TransactionOut]) -> list[dict[str, Any]]:
    return [
        {
            "label": _kind_label(t, item.kind),
            # Which month's credits came or went (a month may be issued before it begins).
            "month": t.period(item.period)
            if item.kind in ("issuance", "expiry") and item.period
            else None,
            "outlet": item.outlet_name,
            "amount_cents": item.amount_cents,
            "when": datetime.fromisoformat(item.created_at),
        }
        for item in items
    ]


@router.get("", name="household_home")
def household_home(request: Request, db_session: DbSession, viewer: Member) -> Response:
    """Credits now, and this month's allowance explained person by person."""
    t = texts_for(request)
    household = _household(db_session, viewer)
    account = views.account(db_session=db_session, household=household)
    # Explained for the first month not yet issued: this one, or after a change of
    # composition once this month was issued, the next.
    assessment = service.assess_household(db_session, household)
    persons = {str(p.id): p for p in service.current_persons(db_session, household.id)}
    lines = []
    for line in assessment.allowance.lines:
        person = persons.get(line.person_id)
        lines.append(
            {
                "name": f"{person.given_name} {person.family_name}" if person else "",
                "share": t.gettext("first person")
                if line.share == "base"
                else t.gettext("each further person"),
                "cents": line.cents - line.child_cents,
                "child_cents": line.child_cents,
            }
        )
    recent = views.transactions(
        db_session=db_session, household=household, period=None, limit=5, cursor=None
    )
    return render(
        request,
        "household/home.html",
        {
            "viewer": viewer,
            "household": household,
            "fund": db_session.get(Fund, household.fund_id),
            "account": account,
            "lines": lines,
            "next_period": periods.shift(account.period, 1),
            "next_issued_cents": views.issued_for(
                db_session, household, periods.shift(account.period, 1)
            ),
            "explained_period": assessment.period,
            "explained_cents": assessment.allowance.total_cents,
            "recent": _history_rows(t, recent.items),
            "pin_set": household.pin_hash is not None,
            "pin_locked_until": household.pin_locked_until
            if service.pin_locked(household)
            else None,
        },
    )


@router.get("/history", name="household_history")
def household_history(
    request: Request,
    db_session: DbSession,
    viewer: Member,
    period: str = "",
    cursor: str = "",
) -> Response:
    """Every movement of the household's credits, newest first, by month if chosen."""
    t = texts_for(request)
    household = _household(db_session, viewer)
    now = current_period()
    choices = [periods.shift(now, -i) for i in range(HISTORY_PERIODS)]
    if views.issued_for(db_session, household, periods.shift(now, 1)):
        choices.insert(0, periods.shift(now, 1))  # next month's credits, issued in advance
    chosen = period if period in choices else None
    page = attempt(
        db_session,
        lambda: views.transactions(
            db_session=db_session,
            household=household,
            period=chosen,
            limit=HISTORY_PAGE,
            cursor=cursor or None,
        ),
    )
    if isinstance(page, Refused):  # a cursor not given by this page: start again
        page = views.transactions(
            db_session=db_session,
            household=household,
            period=chosen,
            limit=HISTORY_PAGE,
            cursor=None,
        )
    return render(
        request,
        "household/history.html",
        {
            "viewer": viewer,
            "rows": _history_rows(t, page.items),
            "next_cursor": page.next_cursor,
            "period": chosen or "",
            "choices": choices,
        },
    )


@router.get("/pin", name="household_pin")
def pin_page(request: Request, db_session: DbSession, viewer: Member) -> Response:
    household = _household(db_session, viewer)
    return render(
        request,
        "household/pin.html",
        {"viewer": viewer, "pin_set": household.pin_hash is not None, "errors": {}},
    )


@router.post("/pin", name="household_pin_submit")
def pin_submit(
    request: Request,
    db_session: DbSession,
    viewer: Member,
    pin: Annotated[str, Form()] = "",
    pin_again: Annotated[str, Form()] = "",
) -> Response:
    """Choose a new PIN (the API's `PUT /households/{id}/pin`, same rule and audit)."""
    t = texts_for(request)
    household = _household(db_session, viewer)
    errors: dict[str, str] = {}
    try:
        chosen = PinIn(pin=pin.strip()).pin
    except ValidationError:
        errors["pin"] = t.gettext("A PIN is exactly 4 digits, for example 4071.")
    else:
        if pin_again.strip() != chosen:
            errors["pin_again"] = t.gettext("The two PINs are not the same: type it again.")
    if errors:
        context = {"viewer": viewer, "pin_set": household.pin_hash is not None, "errors": errors}
        return render(request, "household/pin.html", context, status=422)
    service.set_pin(
        db_session=db_session,
        household=household,
        pin=chosen,
        settings=request.app.state.settings,
        actor=viewer.principal.actor,
        request_id=request.state.request_id,
    )
    flash(request, t.gettext("Your new PIN is set: use it at the till from now on."))
    return RedirectResponse(request.app.url_path_for("household_home"), status_code=303)


@router.get("/pay", name="household_pay")
def pay_page(request: Request, db_session: DbSession, viewer: Member, code: str = "") -> Response:
    """Type (or scan) the code the till shows; then see what it asks before confirming."""
    t = texts_for(request)
    context: dict[str, Any] = {"viewer": viewer, "code": code[:40], "error": None}
    if not code.strip():
        return render(request, "household/pay.html", context)
    typed = _qr_payload_code(code.strip())
    found = attempt(db_session, lambda: requests.find_pending(db_session=db_session, code=typed))
    if isinstance(found, Refused):
        context["error"] = t.gettext(
            "No payment is waiting with this code: check it on the till's screen."
        )
        return render(request, "household/pay.html", context, status=404)
    context.update(
        payment_request=found,
        outlet_name=requests.outlet_name(db_session, found.outlet_id),
        form_key=new_form_key(),
    )
    return render(request, "household/confirm.html", context)


def _qr_payload_code(scanned: str) -> str:
    """A scanned till QR code ('ssa:pay:<id>:<code>') or a typed code: the code."""
    if scanned.startswith("ssa:pay:"):
        return scanned.rsplit(":", 1)[-1]
    return scanned


@router.post("/pay/{request_id}", name="household_pay_confirm")
def pay_confirm(
    request_id: uuid.UUID,
    request: Request,
    db_session: DbSession,
    viewer: Member,
    form_key: Annotated[str, Form()] = "",
) -> Response:
    """Pay the till's request from the household's credits (the API's confirmation: the
    login stands for the PIN; the form's key makes a double tap pay once)."""
    t = texts_for(request)
    household_id = viewer.household_id
    assert household_id is not None
    if not valid_form_key(form_key):
        return RedirectResponse(request.app.url_path_for("household_pay"), status_code=303)
    now = utcnow()
    actor = viewer.principal.actor

    def confirm() -> tuple[int, Any]:
        requests.expire_if_due(db_session=db_session, request_id=request_id, now=now)

        def work() -> tuple[int, Any]:
            taken = requests.confirm_request(
                db_session=db_session, request_id=request_id, household_id=household_id, now=now
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

        outcome = run_once(
            db_session=db_session,
            caller=actor,
            key=f"web:{form_key}",
            request_fingerprint=fingerprint(
                "POST",
                f"/api/v1/payment-requests/{request_id}/confirm",
                None,
                key=request.app.state.settings.secret_key,
            ),
            work=work,
        )
        return outcome.status_code, outcome.body

    done = attempt(db_session, confirm)
    if isinstance(done, Refused):
        context = {"viewer": viewer, "code": "", "error": problem_message(t, done.problem)}
        return render(request, "household/pay.html", context, status=done.problem.status)
    _, body = done
    payment_request = requests.get_request(db_session=db_session, request_id=request_id)
    return render(
        request,
        "household/paid.html",
        {
            "viewer": viewer,
            "amount_cents": body["amount_cents"],
            "remaining_cents": body["remaining_cents"],
            "outlet_name": requests.outlet_name(db_session, payment_request.outlet_id),
        },
        status=201,
    )


def _member_qr(member_number: str) -> str:
    out = io.BytesIO()
    segno.make(member_number, error="m", micro=False).save(
        out, kind="svg", xmldecl=False, svgns=True, nl=False, scale=6, border=4
    )
    return out.getvalue().decode("utf-8")


@router.get("/card", name="household_card")
def card(request: Request, db_session: DbSession, viewer: Member) -> Response:
    """The member card to print: the fund, the number and its QR code for the till."""
    household = _household(db_session, viewer)
    persons = service.current_persons(db_session, household.id)
    return render(
        request,
        "household/card.html",
        {
            "viewer": viewer,
            "household": household,
            "fund": db_session.get(Fund, household.fund_id),
            "family_names": sorted({p.family_name for p in persons}),
            "qr_svg": _member_qr(household.member_number),
        },
    )
