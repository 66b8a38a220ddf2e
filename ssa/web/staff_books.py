"""The treasurer's books: issuing a month's credits (a dry run first, then the run),
closing a month with the fund's rollover policy, and payout batches to the outlets with
their SEPA file (the API's very file). Readers of payouts are the fund's staff; every
change is the treasurer's, as in the API.
"""

import uuid
from dataclasses import asdict
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session, col, select

from ssa.auth.deps import DbSession
from ssa.auth.roles import Role
from ssa.funds.models import Rollover
from ssa.funds.service import current_period, fund_today, policy_for
from ssa.households import contributions
from ssa.households.models import Household
from ssa.households.schemas import GrantIn, GrantOut
from ssa.issuance import periods
from ssa.issuance.close import close_period
from ssa.issuance.models import HouseholdIssuance, PeriodClose
from ssa.issuance.schemas import IssuanceIn, IssuanceOut
from ssa.issuance.service import coverage, issue_period
from ssa.pagination import decode_position, encode_position
from ssa.payouts import service as payouts
from ssa.payouts.models import PayoutStatus
from ssa.payouts.schemas import PayoutIn, PayoutOut
from ssa.payouts.sepa import sepa_credit_transfer
from ssa.reports.ratios import coverage_ratio
from ssa.web.access import CurrentViewer, PageNotFound
from ssa.web.forms import (
    Refused,
    attempt,
    new_form_key,
    parse_euros,
    problem_message,
    too_long,
    valid_form_key,
)
from ssa.web.i18n import Texts, texts_for
from ssa.web.render import download, flash, render
from ssa.web.staff_common import (
    PAYOUT_STATUSES,
    ROLLOVERS,
    SKIP_REASONS,
    STAFF_ROLES,
    Desk,
    label,
    once,
    open_desk,
    page_context,
    recent_periods,
    staff_router,
)

router: APIRouter = staff_router()

PAYOUT_PAGE = 25
SKIPPED_SHOWN = 200  # the skipped households listed on the page (all are counted)


# --- Monthly credits -------------------------------------------------------------------


def _issuable_periods() -> list[str]:
    """Next month (issued ahead of time), this month, and the two before."""
    return recent_periods(back=2, ahead=1)


def _issued_periods(db_session: Session, fund_id: uuid.UUID, choices: list[str]) -> set[str]:
    return set(
        db_session.exec(
            select(HouseholdIssuance.period)
            .where(
                col(HouseholdIssuance.fund_id) == fund_id,
                col(HouseholdIssuance.period).in_(choices),
            )
            .distinct()
        ).all()
    )


def _closed_periods(db_session: Session, fund_id: uuid.UUID) -> dict[str, PeriodClose]:
    return {
        row.period: row
        for row in db_session.exec(
            select(PeriodClose).where(col(PeriodClose.fund_id) == fund_id)
        ).all()
    }


def _rollover_text(t: Texts, db_session: Session, fund_id: uuid.UUID, period: str) -> str:
    policy = policy_for(db_session=db_session, fund_id=fund_id, period=period)
    rollover = Rollover(policy.rollover)
    if rollover is Rollover.capped:
        return t.gettext(ROLLOVERS["capped"], cap=t.money(policy.rollover_cap_cents))
    return t.gettext(ROLLOVERS[rollover.value])


def _issuance_page(
    request: Request,
    db_session: Session,
    desk: Desk,
    *,
    period: str | None = None,
    summary: dict[str, Any] | None = None,
    error: str | None = None,
    form_key: str | None = None,
    replayed: bool = False,
    status: int = 200,
) -> Response:
    t = texts_for(request)
    choices = _issuable_periods()
    issued = _issued_periods(db_session, desk.fund.id, choices)
    closed = _closed_periods(db_session, desk.fund.id)
    held, owed = coverage(db_session, desk.fund.id)
    shown = None
    if summary is not None:
        skipped = summary["skipped"]
        numbers = _member_numbers(db_session, [s["household_id"] for s in skipped[:SKIPPED_SHOWN]])
        shown = {
            **summary,
            "coverage_ratio": coverage_ratio(
                summary["bank_cents"], summary["owed_cents"] + summary["total_cents"]
            ),
            "skipped_rows": [
                {
                    "member_number": numbers.get(s["household_id"], s["household_id"][:8]),
                    "household_id": s["household_id"],
                    "reason": label(t, SKIP_REASONS, s["reason"]),
                }
                for s in skipped[:SKIPPED_SHOWN]
            ],
            "skipped_by_reason": _count_reasons(t, skipped),
        }
    return render(
        request,
        "staff/issuance.html",
        page_context(
            desk,
            "issuance",
            choices=[{"period": p, "issued": p in issued, "closed": p in closed} for p in choices],
            period=period or _first_to_issue(choices, issued, set(closed)),
            summary=shown,
            bank_cents=held,
            owed_cents=owed,
            error=error,
            form_key=form_key or new_form_key(),
            replayed=replayed,
        ),
        status=status,
    )


def _first_to_issue(choices: list[str], issued: set[str], closed: set[str]) -> str:
    """This month if it is still to issue, else next month (issued ahead of time)."""
    now = current_period()
    for period in (now, periods.shift(now, 1)):
        if period in choices and period not in issued and period not in closed:
            return period
    return now


def _member_numbers(db_session: Session, household_ids: list[str]) -> dict[str, str]:
    ids = [uuid.UUID(h) for h in household_ids]
    if not ids:
        return {}
    return {
        str(household_id): number
        for household_id, number in db_session.exec(
            select(Household.id, Household.member_number).where(col(Household.id).in_(ids))
        ).all()
    }


def _count_reasons(t: Texts, skipped: list[dict[str, str]]) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for item in skipped:
        counts[item["reason"]] = counts.get(item["reason"], 0) + 1
    return [(label(t, SKIP_REASONS, reason), n) for reason, n in sorted(counts.items())]


@router.get("/{slug}/issuance", name="staff_issuance")
def issuance(slug: str, request: Request, db_session: DbSession, viewer: CurrentViewer) -> Response:
    """Choose the month to issue; a dry run comes first (treasurer)."""
    desk = open_desk(db_session, viewer, slug, Role.treasurer)
    return _issuance_page(request, db_session, desk)


def _summary_out(summary: Any) -> dict[str, Any]:
    return IssuanceOut.model_validate(
        {
            **asdict(summary),
            "transaction_id": str(summary.transaction_id) if summary.transaction_id else None,
        }
    ).model_dump(mode="json")


@router.post("/{slug}/issuance/dry-run", name="staff_issuance_dry_run")
def issuance_dry_run(
    slug: str,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
    period: Annotated[str, Form()] = "",
) -> Response:
    """What the run would do, writing nothing (the API's `dry_run`, treasurer)."""
    t = texts_for(request)
    desk = open_desk(db_session, viewer, slug, Role.treasurer)
    if period not in _issuable_periods():
        return _issuance_page(
            request, db_session, desk, error=t.gettext("Choose a month."), status=422
        )
    done = attempt(
        db_session,
        lambda: issue_period(
            db_session=db_session,
            fund_id=desk.fund.id,
            period=period,
            dry_run=True,
            actor=viewer.principal.actor,
            request_id=request.state.request_id,
        ),
    )
    if isinstance(done, Refused):
        return _issuance_page(
            request,
            db_session,
            desk,
            period=period,
            error=_issuance_refusal(t, done),
            status=done.problem.status,
        )
    return _issuance_page(request, db_session, desk, period=period, summary=_summary_out(done))


def _issuance_refusal(t: Texts, refused: Refused) -> str:
    problem = refused.problem
    if problem.code == "period_not_issuable":
        return t.gettext(
            "This month cannot be issued: it is closed, or too far ahead (next month at most)."
        )
    if problem.code == "insufficient_coverage":
        return t.gettext(
            "Not issued: the bank holds %(bank)s, the fund already owes %(owed)s and this month"
            " would add %(issuance)s. Record the contributions and grants received first.",
            bank=t.money(int(problem.extra.get("bank_cents", 0))),
            owed=t.money(int(problem.extra.get("owed_cents", 0))),
            issuance=t.money(int(problem.extra.get("issuance_cents", 0))),
        )
    return problem_message(t, problem)


@router.post("/{slug}/issuance/run", name="staff_issuance_run")
def issuance_run(
    slug: str,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
    period: Annotated[str, Form()] = "",
    form_key: Annotated[str, Form()] = "",
) -> Response:
    """Issue the month to every eligible household not yet issued (the API's run,
    treasurer; a household gets a month's credits once, and the form runs once)."""
    t = texts_for(request)
    desk = open_desk(db_session, viewer, slug, Role.treasurer)
    if period not in _issuable_periods() or not valid_form_key(form_key):
        return _issuance_page(
            request, db_session, desk, error=t.gettext("Choose a month."), status=422
        )
    body = IssuanceIn(period=period, dry_run=False)

    def work() -> tuple[int, Any]:
        summary = issue_period(
            db_session=db_session,
            fund_id=desk.fund.id,
            period=period,
            dry_run=False,
            actor=viewer.principal.actor,
            request_id=request.state.request_id,
        )
        return (201 if summary.households_issued else 200), _summary_out(summary)

    done = once(
        request,
        db_session,
        viewer,
        form_key,
        f"/api/v1/funds/{desk.fund.id}/issuances",
        body.model_dump(mode="json"),
        work,
    )
    if isinstance(done, Refused):
        return _issuance_page(
            request,
            db_session,
            desk,
            period=period,
            error=_issuance_refusal(t, done),
            status=done.problem.status,
        )
    return _issuance_page(
        request,
        db_session,
        desk,
        period=period,
        summary=done.body,
        replayed=done.replayed,
        status=done.status_code,
    )


# --- Closing a month ---------------------------------------------------------------------


def _closable_periods() -> list[str]:
    """The twelve months before this one: a month is closed once it has ended."""
    return recent_periods(back=12)[1:]


def _close_page(
    request: Request,
    db_session: Session,
    desk: Desk,
    *,
    result: dict[str, Any] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    t = texts_for(request)
    closed = _closed_periods(db_session, desk.fund.id)
    now = current_period()
    choices = [p for p in _closable_periods() if p not in closed]
    return render(
        request,
        "staff/close.html",
        page_context(
            desk,
            "issuance",
            choices=choices,
            default=periods.shift(now, -1) if periods.shift(now, -1) in choices else "",
            closed=sorted(closed.values(), key=lambda c: c.period, reverse=True)[:12],
            rollover=_rollover_text(t, db_session, desk.fund.id, now),
            result=result,
            error=error,
        ),
        status=status,
    )


@router.get("/{slug}/close", name="staff_close")
def close_page(
    slug: str, request: Request, db_session: DbSession, viewer: CurrentViewer
) -> Response:
    """Close a month: what the rollover policy does with unspent credits (treasurer)."""
    desk = open_desk(db_session, viewer, slug, Role.treasurer)
    return _close_page(request, db_session, desk)


@router.post("/{slug}/close", name="staff_close_submit")
def close_submit(
    slug: str,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
    period: Annotated[str, Form()] = "",
) -> Response:
    """Apply the rollover policy to the month (the API's close: a second close changes
    nothing and says so)."""
    t = texts_for(request)
    desk = open_desk(db_session, viewer, slug, Role.treasurer)
    if period not in _closable_periods():
        return _close_page(
            request, db_session, desk, error=t.gettext("Choose a month."), status=422
        )
    done = attempt(
        db_session,
        lambda: close_period(
            db_session=db_session,
            fund_id=desk.fund.id,
            period=period,
            actor=viewer.principal.actor,
            request_id=request.state.request_id,
        ),
    )
    if isinstance(done, Refused):
        return _close_page(
            request,
            db_session,
            desk,
            error=problem_message(t, done.problem),
            status=done.problem.status,
        )
    result = {
        **asdict(done),
        "rollover": _rollover_text(t, db_session, desk.fund.id, period),
    }
    return _close_page(request, db_session, desk, result=result)


# --- Payouts ---------------------------------------------------------------------------


def _payout(db_session: Session, desk: Desk, payout_id: uuid.UUID) -> payouts.PayoutWithLines:
    found = attempt(
        db_session, lambda: payouts.get_payout(db_session=db_session, payout_id=payout_id)
    )
    if isinstance(found, Refused) or found.fund_id != desk.fund.id:
        raise PageNotFound()
    return payouts.with_lines(db_session=db_session, payout=found)


def _payout_row(t: Texts, found: payouts.PayoutWithLines) -> dict[str, Any]:
    payout = found.payout
    return {
        "id": payout.id,
        "status": str(payout.status),
        "status_label": label(t, PAYOUT_STATUSES, payout.status),
        "total_cents": payout.total_cents,
        "outlets": len(found.lines),
        "created_at": payout.created_at,
        "confirmed_at": payout.confirmed_at,
        "cancelled_at": payout.cancelled_at,
    }


def _payouts_page(
    request: Request,
    db_session: Session,
    desk: Desk,
    *,
    cursor: str = "",
    minimum: str = "",
    error: str | None = None,
    form_key: str | None = None,
    status: int = 200,
) -> Response:
    t = texts_for(request)

    def page() -> list[payouts.PayoutWithLines]:
        return payouts.list_payouts(
            db_session=db_session,
            fund_id=desk.fund.id,
            limit=PAYOUT_PAGE + 1,
            before=decode_position(cursor or None),
        )

    found = attempt(db_session, page)
    if isinstance(found, Refused):
        cursor = ""
        found = page()
    last = found[PAYOUT_PAGE - 1].payout if len(found) > PAYOUT_PAGE else None
    return render(
        request,
        "staff/payouts.html",
        page_context(
            desk,
            "payouts",
            rows=[_payout_row(t, x) for x in found[:PAYOUT_PAGE]],
            next_cursor=encode_position(last.created_at, last.id) if last else None,
            first_page=not cursor,
            owed_cents=_payables(db_session, desk.fund.id),
            minimum=minimum,
            error=error,
            form_key=form_key or new_form_key(),
        ),
        status=status,
    )


def _payables(db_session: Session, fund_id: uuid.UUID) -> int:
    from ssa.reports.service import period_report

    return period_report(
        db_session=db_session, fund_id=fund_id, period=current_period()
    ).outlet_payables_cents


@router.get("/{slug}/payouts", name="staff_payouts")
def payouts_page(
    slug: str, request: Request, db_session: DbSession, viewer: CurrentViewer, cursor: str = ""
) -> Response:
    """The fund's payout batches, newest first (fund staff); a new batch (treasurer)."""
    desk = open_desk(db_session, viewer, slug, *STAFF_ROLES)
    return _payouts_page(request, db_session, desk, cursor=cursor)


@router.post("/{slug}/payouts", name="staff_payout_create")
def payout_create(
    slug: str,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
    minimum: Annotated[str, Form()] = "",
    form_key: Annotated[str, Form()] = "",
) -> Response:
    """Put what every outlet is owed (at least the minimum) in one batch (the API's
    `POST /funds/{id}/payouts`, treasurer; once per form)."""
    t = texts_for(request)
    desk = open_desk(db_session, viewer, slug, Role.treasurer)
    minimum = minimum.strip()
    cents = parse_euros(minimum or "0", maximum_cents=1_000_000_00, language=t.language)
    if cents is None or not valid_form_key(form_key):
        return _payouts_page(
            request,
            db_session,
            desk,
            minimum=minimum,
            error=t.gettext("Type the minimum in euros, for example 50 (or leave it empty)."),
            form_key=form_key if valid_form_key(form_key) else None,
            status=422,
        )
    body = PayoutIn(minimum_cents=cents)

    def work() -> tuple[int, Any]:
        created = payouts.create_payout(
            db_session=db_session,
            fund_id=desk.fund.id,
            minimum_cents=body.minimum_cents,
            actor=viewer.principal.actor,
            request_id=request.state.request_id,
        )
        return 201, PayoutOut.of(created)

    done = once(
        request,
        db_session,
        viewer,
        form_key,
        f"/api/v1/funds/{desk.fund.id}/payouts",
        body.model_dump(mode="json"),
        work,
    )
    if isinstance(done, Refused):
        message = (
            t.gettext("No outlet is owed at least this minimum: there is nothing to pay.")
            if done.problem.code == "nothing_to_pay"
            else problem_message(t, done.problem)
        )
        return _payouts_page(
            request,
            db_session,
            desk,
            minimum=minimum,
            error=message,
            form_key=form_key,
            status=done.problem.status,
        )
    if not done.replayed:
        flash(
            request,
            t.gettext(
                "Batch created: %(total)s to pay. Download the transfer file for the bank.",
                total=t.money(int(done.body["total_cents"])),
            ),
        )
    return RedirectResponse(
        request.app.url_path_for("staff_payout", slug=slug, payout_id=done.body["id"]),
        status_code=303,
    )


@router.get("/{slug}/payouts/{payout_id}", name="staff_payout")
def payout_page(
    slug: str,
    payout_id: uuid.UUID,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
) -> Response:
    """One batch: its transfers, its file, and (treasurer) confirm or cancel."""
    t = texts_for(request)
    desk = open_desk(db_session, viewer, slug, *STAFF_ROLES)
    found = _payout(db_session, desk, payout_id)
    return render(
        request,
        "staff/payout.html",
        page_context(
            desk,
            "payouts",
            payout=_payout_row(t, found),
            lines=found.lines,
            sepa_ready=bool(desk.fund.iban) and found.payout.status != PayoutStatus.cancelled,
            cancel_key=new_form_key(),
        ),
    )


@router.get("/{slug}/payouts/{payout_id}/sepa.xml", name="staff_payout_sepa")
def payout_sepa(
    slug: str,
    payout_id: uuid.UUID,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
) -> Response:
    """The batch's SEPA credit transfer file: the API's `sepa.xml`, byte for byte."""
    t = texts_for(request)
    desk = open_desk(db_session, viewer, slug, *STAFF_ROLES)
    found = _payout(db_session, desk, payout_id)
    xml = attempt(db_session, lambda: sepa_credit_transfer(db_session=db_session, found=found))
    if isinstance(xml, Refused):
        flash(request, problem_message(t, xml.problem), "error")
        return RedirectResponse(
            request.app.url_path_for("staff_payout", slug=slug, payout_id=str(payout_id)),
            status_code=303,
        )
    return download(xml, f"payout-{found.payout.id}.xml")


def _close_payout(
    request: Request,
    db_session: Session,
    viewer: Any,
    slug: str,
    payout_id: uuid.UUID,
    form_key: str,
    action: str,
) -> Response:
    t = texts_for(request)
    desk = open_desk(db_session, viewer, slug, Role.treasurer)
    found = _payout(db_session, desk, payout_id)
    target = request.app.url_path_for("staff_payout", slug=slug, payout_id=str(found.payout.id))
    if not valid_form_key(form_key):
        return RedirectResponse(target, status_code=303)
    operation = payouts.confirm_payout if action == "confirm" else payouts.cancel_payout

    def work() -> tuple[int, Any]:
        closed = operation(
            db_session=db_session,
            payout_id=found.payout.id,
            actor=viewer.principal.actor,
            request_id=request.state.request_id,
        )
        return 200, PayoutOut.of(closed)

    done = once(
        request,
        db_session,
        viewer,
        form_key,
        f"/api/v1/payouts/{found.payout.id}/{action}",
        None,
        work,
    )
    if isinstance(done, Refused):
        code = done.problem.code
        if code == "payout_not_open":
            message = t.gettext("This batch is already confirmed or cancelled.")
        elif code == "insufficient_balance":
            message = t.gettext("The bank account does not hold the total of this batch.")
        else:
            message = problem_message(t, done.problem)
        flash(request, message, "error")
    elif action == "confirm":
        flash(request, t.gettext("Batch confirmed: the euros have left the bank account."))
    else:
        flash(request, t.gettext("Batch cancelled: the amounts are owed to the outlets again."))
    return RedirectResponse(target, status_code=303)


@router.get("/{slug}/payouts/{payout_id}/confirm", name="staff_payout_confirm_ask")
def payout_confirm_ask(
    slug: str,
    payout_id: uuid.UUID,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
) -> Response:
    """Asked once more before the euros leave the bank account, which cannot be undone (as
    closing a vote is): the batch's total, and the form that confirms it (treasurer)."""
    t = texts_for(request)
    desk = open_desk(db_session, viewer, slug, Role.treasurer)
    found = _payout(db_session, desk, payout_id)
    if found.payout.status != PayoutStatus.created:
        return RedirectResponse(
            request.app.url_path_for("staff_payout", slug=slug, payout_id=str(found.payout.id)),
            status_code=303,
        )
    return render(
        request,
        "staff/payout_confirm.html",
        page_context(desk, "payouts", payout=_payout_row(t, found), form_key=new_form_key()),
    )


@router.post("/{slug}/payouts/{payout_id}/confirm", name="staff_payout_confirm")
def payout_confirm(
    slug: str,
    payout_id: uuid.UUID,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
    form_key: Annotated[str, Form()] = "",
) -> Response:
    """The bank made the transfers (the API's confirm, treasurer)."""
    return _close_payout(request, db_session, viewer, slug, payout_id, form_key, "confirm")


@router.post("/{slug}/payouts/{payout_id}/cancel", name="staff_payout_cancel")
def payout_cancel(
    slug: str,
    payout_id: uuid.UUID,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
    form_key: Annotated[str, Form()] = "",
) -> Response:
    """The transfers will not be made (the API's cancel, treasurer)."""
    return _close_payout(request, db_session, viewer, slug, payout_id, form_key, "cancel")


# --- Grants ----------------------------------------------------------------------------

GRANTS_SHOWN = 20


def _grants_page(
    request: Request,
    db_session: Session,
    desk: Desk,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    form_key: str | None = None,
    status: int = 200,
) -> Response:
    funders = contributions.grants_by_funder(db_session=db_session, fund_id=desk.fund.id)
    return render(
        request,
        "staff/grants.html",
        page_context(
            desk,
            "grants",
            funders=funders,
            total_cents=sum(total for _funder, total in funders),
            grants=contributions.recent_grants(
                db_session=db_session, fund_id=desk.fund.id, limit=GRANTS_SHOWN
            ),
            values=values
            or {
                "funder": "",
                "amount": "",
                "received_on": fund_today().isoformat(),
                "reference": "",
            },
            errors=errors or {},
            error=error,
            form_key=form_key or new_form_key(),
        ),
        status=status,
    )


@router.get("/{slug}/grants", name="staff_grants")
def grants_page(
    slug: str, request: Request, db_session: DbSession, viewer: CurrentViewer
) -> Response:
    """The fund's grants by funder and the latest ones (fund staff); a new one (treasurer)."""
    desk = open_desk(db_session, viewer, slug, *STAFF_ROLES)
    return _grants_page(request, db_session, desk)


@router.post("/{slug}/grants", name="staff_grant_record")
def grant_record(
    slug: str,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
    funder: Annotated[str, Form()] = "",
    amount: Annotated[str, Form()] = "",
    received_on: Annotated[str, Form()] = "",
    reference: Annotated[str, Form()] = "",
    form_key: Annotated[str, Form()] = "",
) -> Response:
    """Record euros received from a funder (the API's `POST /funds/{id}/grants`,
    treasurer; the form's key makes a double submit record it once)."""
    t = texts_for(request)
    desk = open_desk(db_session, viewer, slug, Role.treasurer)
    form_key = form_key if valid_form_key(form_key) else new_form_key()
    values = {  # never cut: what is longer than the API takes is refused
        "funder": " ".join(funder.split()),
        "amount": amount.strip(),
        "received_on": received_on.strip(),
        "reference": reference.strip(),
    }
    errors: dict[str, str] = {}
    if len(values["funder"]) < 2:
        errors["funder"] = t.gettext("Type the funder's name, for example Département.")
    for name in ("funder", "reference"):  # as the API's GrantIn
        if (long := too_long(t, values[name], 200)) is not None:
            errors[name] = long
    cents = parse_euros(
        values["amount"], allow_zero=False, maximum_cents=100_000_000_00, language=t.language
    )
    if cents is None:
        errors["amount"] = t.gettext("Type the amount received in euros, for example 15 or 12.50.")
    try:
        day = date.fromisoformat(values["received_on"])
    except ValueError:
        errors["received_on"] = t.gettext("Type the date it was received, for example 2026-11-05.")
        day = None
    if day is not None and day > fund_today():
        errors["received_on"] = t.gettext("The euros cannot have been received on a day to come.")
    if errors or cents is None or day is None:
        return _grants_page(
            request,
            db_session,
            desk,
            values=values,
            errors=errors,
            form_key=form_key,
            status=422,
        )
    body = GrantIn(
        funder=values["funder"],
        amount_cents=cents,
        received_on=day,
        reference=values["reference"] or None,
    )

    def work() -> tuple[int, Any]:
        transaction_id = contributions.record_grant(
            db_session=db_session,
            fund_id=desk.fund.id,
            funder=body.funder,
            amount_cents=body.amount_cents,
            received_on=body.received_on,
            reference=body.reference,
            actor=viewer.principal.actor,
            request_id=request.state.request_id,
        )
        return 201, GrantOut.of(body, transaction_id)

    done = once(
        request,
        db_session,
        viewer,
        form_key,
        f"/api/v1/funds/{desk.fund.id}/grants",
        body.model_dump(mode="json"),
        work,
    )
    if isinstance(done, Refused):
        return _grants_page(
            request,
            db_session,
            desk,
            values=values,
            error=problem_message(t, done.problem),
            form_key=form_key,
            status=done.problem.status,
        )
    if not done.replayed:
        flash(
            request,
            t.gettext(
                "%(amount)s from %(funder)s recorded.",
                amount=t.money(int(done.body["amount_cents"])),
                funder=body.funder,
            ),
        )
    return RedirectResponse(request.app.url_path_for("staff_grants", slug=slug), status_code=303)
