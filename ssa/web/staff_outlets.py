"""Outlets as the fund's staff see them: every outlet standing in the fund with its
status, and an outlet's page with its accreditation file (scores on the fund's criteria)
and the history of its status, each change with the decision behind it.

Status changes normally come from the assembly's votes (the assembly pages); what the
API also lets a coordinator do is kept here: record a decision taken in a meeting, with
its minutes' reference, and file the outlet's scores.
"""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session, col, select
from starlette.datastructures import FormData

from ssa.assembly.models import Proposal
from ssa.auth.deps import DbSession
from ssa.auth.roles import Role
from ssa.funds.service import current_period, policy_for
from ssa.outlets import service
from ssa.outlets.models import Outlet, OutletCategory, OutletFund, OutletStatus
from ssa.outlets.schemas import DECISIONS, ApplicationIn, OutletIn, StatusIn
from ssa.pagination import decode_name_position, encode_cursor
from ssa.web.access import CurrentViewer, PageNotFound
from ssa.web.forms import Refused, attempt, new_form_key, problem_message, too_long, valid_form_key
from ssa.web.i18n import Texts, texts_for
from ssa.web.render import flash, render
from ssa.web.staff_common import (
    CRITERIA,
    OUTLET_STATUSES,
    PAGE_SIZE,
    STAFF_ROLES,
    Desk,
    PostedForm,
    category_label,
    label,
    once,
    open_desk,
    page_context,
    staff_names,
    staff_router,
)

router: APIRouter = staff_router()

SCORES = range(4)  # 0 to 3, as the API's `CriterionScore`


@router.get("/{slug}/outlets", name="staff_outlets")
def outlets(
    slug: str,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
    status: str = "",
    cursor: str = "",
) -> Response:
    """Every outlet of the fund whatever its status (the API's staff list)."""
    t = texts_for(request)
    desk = open_desk(db_session, viewer, slug, *STAFF_ROLES)
    wanted = OutletStatus(status) if status in OutletStatus.__members__ else None
    after = attempt(db_session, lambda: decode_name_position(cursor or None))
    if isinstance(after, Refused):
        after, cursor = None, ""
    rows = service.fund_outlets(
        db_session=db_session,
        fund_id=desk.fund.id,
        status=wanted,
        limit=PAGE_SIZE + 1,
        after_name=after,
    )
    items = [
        {
            "id": outlet.id,
            "name": outlet.name,
            "category": _category(t, outlet),
            "city": outlet.city,
            "status": str(standing.status),
            "status_label": label(t, OUTLET_STATUSES, standing.status),
        }
        for outlet, standing in rows[:PAGE_SIZE]
    ]
    last = rows[PAGE_SIZE - 1][0] if len(rows) > PAGE_SIZE else None
    return render(
        request,
        "staff/outlets.html",
        page_context(
            desk,
            "outlets",
            items=items,
            status=wanted.value if wanted else "",
            statuses=[(s.value, label(t, OUTLET_STATUSES, s)) for s in OutletStatus],
            next_cursor=encode_cursor(last.name, str(last.id)) if last else None,
            first_page=not cursor,
        ),
    )


# The registration form's fields, and where the API's body puts each.
OUTLET_FIELDS = ("name", "siret", "iban", "bic", "category", "line1", "postcode", "city")
_BODY_FIELD = {"address.line1": "line1", "address.postcode": "postcode", "address.city": "city"}
# The service's refusals that belong to one field of the form.
_REFUSED_FIELD = {
    "invalid_siret": "siret",
    "siret_taken": "siret",
    "invalid_iban": "iban",
    "invalid_bic": "bic",
}


def _new_outlet_form(
    request: Request,
    desk: Desk,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    form_key: str | None = None,
    status: int = 200,
) -> Response:
    t = texts_for(request)
    return render(
        request,
        "staff/outlet_new.html",
        page_context(
            desk,
            "outlets",
            values=values or dict.fromkeys(OUTLET_FIELDS, ""),
            categories=[(c.value, category_label(t, c)) for c in OutletCategory],
            errors=errors or {},
            error=error,
            form_key=form_key or new_form_key(),
        ),
        status=status,
    )


@router.get("/{slug}/outlets/new", name="staff_outlet_new")
def outlet_new_page(
    slug: str, request: Request, db_session: DbSession, viewer: CurrentViewer
) -> Response:
    """The form to register an outlet that applies to this fund (coordinator)."""
    desk = open_desk(db_session, viewer, slug, Role.coordinator)
    return _new_outlet_form(request, desk)


@router.post("/{slug}/outlets/new", name="staff_outlet_register")
def outlet_register(
    slug: str,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
    form: PostedForm,
) -> Response:
    """Register the outlet (the API's `POST /outlets`) and file its application to this
    fund, unscored (`POST .../application`): it is an applicant here, its file is scored on
    its page. Coordinator; the form's key makes a double submit register it once."""
    t = texts_for(request)
    desk = open_desk(db_session, viewer, slug, Role.coordinator)
    # Never cut: what is longer than the API takes is refused below, by field.
    values = {name: " ".join(str(form.get(name, "")).split()) for name in OUTLET_FIELDS}
    form_key = str(form.get("form_key", ""))
    form_key = form_key if valid_form_key(form_key) else new_form_key()
    required = t.gettext("Required.")
    errors = {name: required for name in OUTLET_FIELDS if name != "bic" and not values[name]}
    outlet_in: OutletIn | None = None
    if not errors:
        try:
            outlet_in = OutletIn.model_validate(
                {
                    "name": values["name"],
                    "siret": values["siret"],
                    "iban": values["iban"],
                    "bic": values["bic"] or None,
                    "category": values["category"],
                    "address": {
                        "line1": values["line1"],
                        "postcode": values["postcode"],
                        "city": values["city"],
                    },
                }
            )
        except ValidationError as exc:
            for problem in exc.errors():
                where = ".".join(str(part) for part in problem["loc"])
                errors[_BODY_FIELD.get(where, where)] = (
                    t.gettext("Too long.")
                    if problem["type"] == "string_too_long"
                    else t.gettext("Check this field.")
                )
    if outlet_in is None:
        return _new_outlet_form(
            request, desk, values=values, errors=errors, form_key=form_key, status=422
        )
    body = outlet_in

    def work() -> tuple[int, Any]:
        outlet = service.register_outlet(
            db_session=db_session,
            outlet_in=body,
            actor=viewer.principal.actor,
            request_id=request.state.request_id,
        )
        service.apply(
            db_session=db_session,
            fund_id=desk.fund.id,
            outlet_id=outlet.id,
            application=ApplicationIn(criteria={}),
            actor=viewer.principal.actor,
            request_id=request.state.request_id,
        )
        return 201, {"id": str(outlet.id), "name": outlet.name}

    done = once(
        request, db_session, viewer, form_key, "/api/v1/outlets", body.model_dump(mode="json"), work
    )
    if isinstance(done, Refused):
        field = _REFUSED_FIELD.get(done.problem.code)
        message = problem_message(t, done.problem)
        return _new_outlet_form(
            request,
            desk,
            values=values,
            errors={field: message} if field else None,
            error=None if field else message,
            form_key=form_key,
            status=done.problem.status,
        )
    if not done.replayed:
        flash(
            request,
            t.gettext(
                "%(outlet)s is registered and applies to the fund: score its file below.",
                outlet=done.body["name"],
            ),
        )
    return RedirectResponse(
        request.app.url_path_for("staff_outlet", slug=slug, outlet_id=done.body["id"]),
        status_code=303,
    )


def _category(t: Texts, outlet: Outlet) -> str:
    return category_label(t, outlet.category)


def _standing(db_session: Session, desk: Desk, outlet_id: uuid.UUID) -> tuple[Outlet, OutletFund]:
    outlet = db_session.get(Outlet, outlet_id)
    standing = service.membership(db_session, outlet_id, desk.fund.id) if outlet else None
    if outlet is None or standing is None:
        raise PageNotFound()
    return outlet, standing


def _outlet_page(
    request: Request,
    db_session: Session,
    desk: Desk,
    outlet_id: uuid.UUID,
    *,
    decision: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    t = texts_for(request)
    outlet, standing = _standing(db_session, desk, outlet_id)
    changes = service.history(db_session=db_session, fund_id=desk.fund.id, outlet_id=outlet.id)
    names = staff_names(db_session, desk.fund.id, [c.actor for c in changes])
    # A change an assembly vote made is told from its proposal, in the page's language
    # (the reference the service stored with it is in English, for the API and the audit).
    voted = {c.proposal_id for c in changes if c.proposal_id is not None}
    titles = (
        dict(
            db_session.exec(
                select(Proposal.id, Proposal.title).where(col(Proposal.id).in_(voted))
            ).all()
        )
        if voted
        else {}
    )
    criteria = policy_for(
        db_session=db_session, fund_id=desk.fund.id, period=current_period()
    ).accreditation_criteria
    filed = standing.criteria or {}
    return render(
        request,
        "staff/outlet.html",
        page_context(
            desk,
            "outlets",
            outlet=outlet,
            category=_category(t, outlet),
            status=str(standing.status),
            status_label=label(t, OUTLET_STATUSES, standing.status),
            criteria=[
                {
                    "name": name,
                    "label": label(t, CRITERIA, name),
                    "score": (filed.get(name) or {}).get("score"),
                    "note": (filed.get(name) or {}).get("note", ""),
                }
                for name in sorted(set(criteria) | set(filed))
            ],
            history=[
                {
                    "when": change.created_at,
                    "from": label(t, OUTLET_STATUSES, change.from_status)
                    if change.from_status
                    else "",
                    "to": label(t, OUTLET_STATUSES, change.to_status),
                    "reference": change.decision_reference or "",
                    "by_vote": change.proposal_id is not None,
                    "proposal_id": change.proposal_id,
                    "proposal_title": titles.get(change.proposal_id, "")
                    if change.proposal_id
                    else "",
                    "who": names.get(change.actor, change.actor),
                }
                for change in reversed(changes)
            ],
            decisions=[(s.value, label(t, OUTLET_STATUSES, s)) for s in DECISIONS],
            decision=decision or {"status": "", "reference": ""},
            scores=SCORES,
            errors=errors or {},
            error=error,
        ),
        status=status,
    )


@router.get("/{slug}/outlets/{outlet_id}", name="staff_outlet")
def outlet_page(
    slug: str,
    outlet_id: uuid.UUID,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
) -> Response:
    """The outlet, its standing in the fund, its file and its history (fund staff)."""
    desk = open_desk(db_session, viewer, slug, *STAFF_ROLES)
    return _outlet_page(request, db_session, desk, outlet_id)


@router.post("/{slug}/outlets/{outlet_id}/status", name="staff_outlet_status")
def outlet_status(
    slug: str,
    outlet_id: uuid.UUID,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
    status: Annotated[str, Form()] = "",
    reference: Annotated[str, Form()] = "",
) -> Response:
    """Record a decision the assembly took in a meeting (the API's `PUT .../status`,
    coordinator): the minutes' reference is required and kept."""
    t = texts_for(request)
    desk = open_desk(db_session, viewer, slug, Role.coordinator)
    outlet, _ = _standing(db_session, desk, outlet_id)
    decision = {"status": status, "reference": reference.strip()}
    errors = {}
    if status not in {s.value for s in DECISIONS}:
        errors["status"] = t.gettext("Choose the status decided.")
    if (long := too_long(t, decision["reference"], 200)) is not None:  # as the API's StatusIn
        errors["reference"] = long
    try:
        body = StatusIn(status=OutletStatus(status), decision_reference=decision["reference"])
    except (ValueError, ValidationError):
        if not decision["reference"]:
            errors["reference"] = t.gettext(
                "Give the reference of the meeting's minutes, for example AG 2026-03."
            )
    if errors:
        return _outlet_page(
            request, db_session, desk, outlet.id, decision=decision, errors=errors, status=422
        )
    done = attempt(
        db_session,
        lambda: service.set_status(
            db_session=db_session,
            fund_id=desk.fund.id,
            outlet_id=outlet.id,
            status=body.status,
            actor=viewer.principal.actor,
            decision_reference=body.decision_reference,
            request_id=request.state.request_id,
        ),
    )
    if isinstance(done, Refused):
        return _outlet_page(
            request,
            db_session,
            desk,
            outlet.id,
            decision=decision,
            error=problem_message(t, done.problem),
            status=done.problem.status,
        )
    flash(
        request,
        t.gettext(
            "%(outlet)s is now: %(status)s.",
            outlet=outlet.name,
            status=label(t, OUTLET_STATUSES, body.status),
        ),
    )
    return RedirectResponse(
        request.app.url_path_for("staff_outlet", slug=slug, outlet_id=str(outlet.id)),
        status_code=303,
    )


@router.post("/{slug}/outlets/{outlet_id}/application", name="staff_outlet_application")
def outlet_application(
    slug: str,
    outlet_id: uuid.UUID,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
    form: PostedForm,
) -> Response:
    """File the outlet's scores on the fund's criteria, 0 to 3 with a note (the API's
    `POST .../application`, coordinator); a criterion left empty is not scored."""
    t = texts_for(request)
    desk = open_desk(db_session, viewer, slug, Role.coordinator)
    outlet, _ = _standing(db_session, desk, outlet_id)
    criteria = policy_for(
        db_session=db_session, fund_id=desk.fund.id, period=current_period()
    ).accreditation_criteria
    scores, errors = _scores(t, form, list(criteria))
    if errors:
        return _outlet_page(request, db_session, desk, outlet.id, errors=errors, status=422)
    body = ApplicationIn.model_validate({"criteria": scores})
    done = attempt(
        db_session,
        lambda: service.apply(
            db_session=db_session,
            fund_id=desk.fund.id,
            outlet_id=outlet.id,
            application=body,
            actor=viewer.principal.actor,
            request_id=request.state.request_id,
        ),
    )
    if isinstance(done, Refused):
        return _outlet_page(
            request,
            db_session,
            desk,
            outlet.id,
            error=problem_message(t, done.problem),
            status=done.problem.status,
        )
    flash(request, t.gettext("The accreditation file of %(outlet)s is saved.", outlet=outlet.name))
    return RedirectResponse(
        request.app.url_path_for("staff_outlet", slug=slug, outlet_id=str(outlet.id)),
        status_code=303,
    )


def _scores(t: Texts, form: FormData, criteria: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
    scores: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in criteria:
        raw = form.get(f"score-{name}", "")
        note = form.get(f"note-{name}", "")
        if not isinstance(raw, str) or raw == "":
            continue
        if raw not in {str(s) for s in SCORES}:
            errors[f"score-{name}"] = t.gettext("A score from 0 to 3.")
            continue
        note = note.strip() if isinstance(note, str) else ""
        if (long := too_long(t, note, 1000)) is not None:  # as the API's CriterionScore
            errors[f"note-{name}"] = long
            continue
        scores[name] = {"score": int(raw), "note": note}
    return scores, errors
