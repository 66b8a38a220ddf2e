"""The assembly's pages: a fund's proposals (open ones first), a proposal with the outlet's
file scored on the fund's criteria, voting and changing one's vote, the results after the
close; opening a proposal (a coordinator, or an adult member of an active household of the
fund); for a coordinator, closing one and drawing a committee by lot.

Each page calls the services the API's assembly routes call, with the same authorisation:
the fund's staff and the members of its households read (`READERS`), a coordinator or a
member of the fund opens (the service checks that a member is an adult of an active
household), a coordinator closes and draws, and the vote is the service's own check of the
proposal's roll. What a
page shows of a proposal is the API's `proposal_out`: the tally stays hidden until the
close, and with a secret ballot nothing says how anybody voted, not even the voter.
"""

import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Any

from babel.numbers import format_percent
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import col, select

from ssa.assembly import committee, service
from ssa.assembly.models import (
    Choice,
    CommitteeDraw,
    Proposal,
    ProposalKind,
    ProposalResult,
    ProposalStatus,
    RollSource,
)
from ssa.assembly.routes import READERS, draw_out, proposal_out
from ssa.assembly.schemas import (
    STRATA,
    CommitteeDrawIn,
    CommitteeRollOut,
    ProposalIn,
    ProposalOut,
    RollEntry,
)
from ssa.auth.deps import DbSession, Scope
from ssa.auth.roles import Role
from ssa.auth.service import membership_of
from ssa.funds.models import Fund
from ssa.funds.service import FUND_TIMEZONE, current_period, policy_for
from ssa.households.models import Household, Person
from ssa.outlets.models import Outlet, OutletCategory, OutletStatus
from ssa.outlets.service import fund_outlets
from ssa.pagination import decode_position, encode_position
from ssa.problems import Problem
from ssa.timeutil import utcnow
from ssa.web.access import CurrentViewer, PageForbidden, PageNotFound, Viewer
from ssa.web.csrf import csrf_protect
from ssa.web.forms import N_, Refused, attempt
from ssa.web.i18n import Texts, texts_for
from ssa.web.public import CATEGORIES
from ssa.web.render import flash, render

router = APIRouter(
    prefix="/assembly",
    include_in_schema=False,
    default_response_class=HTMLResponse,
    dependencies=[Depends(csrf_protect)],
)

CLOSED_PAGE = 20
DRAWS_SHOWN = 50
OUTLETS_OFFERED = 1000

# What the pages call things, by the API's values.
KINDS = {
    ProposalKind.accredit_outlet: N_("Accredit the outlet"),
    ProposalKind.suspend_outlet: N_("Suspend the outlet"),
    ProposalKind.revoke_outlet: N_("Revoke the outlet's accreditation"),
    ProposalKind.reinstate_outlet: N_("Reinstate the outlet"),
}
RESULTS = {
    ProposalResult.adopted: N_("Adopted"),
    ProposalResult.rejected: N_("Rejected"),
    ProposalResult.no_quorum: N_("No quorum"),
}
CHOICES = {
    Choice.yes: N_("Yes"),
    Choice.no: N_("No"),
    Choice.abstain: N_("Abstain"),
}
OUTLET_STATUSES = {
    OutletStatus.applicant: N_("applicant"),
    OutletStatus.accredited: N_("accredited"),
    OutletStatus.suspended: N_("suspended"),
    OutletStatus.revoked: N_("revoked"),
}
# The criteria of the presets; a fund's own criteria show as the fund named them.
CRITERIA = {
    "accessibility": N_("Accessibility"),
    "working_conditions": N_("Working conditions"),
    "local_origin": N_("Local origin"),
    "price_transparency": N_("Price transparency"),
    "sustainable_practices": N_("Sustainable practices"),
}
STRATA_NAMES = {
    "income_band": N_("Income band"),
    "household_size": N_("Household size"),
}


# --- Who may see and do what: the API's rules -------------------------------------------


def _scope(db_session: DbSession, viewer: Viewer, fund_id: uuid.UUID) -> Scope:
    """The fund, with the viewer's household when it is one of the fund's: the viewer then
    counts as a member of the fund (the API's `fund_members`)."""
    household_id = viewer.household_id
    if household_id is not None:
        household = db_session.get(Household, household_id)
        if household is not None and household.fund_id == fund_id:
            return Scope(fund_id=fund_id, household_id=household_id)
    return Scope(fund_id=fund_id)


def _may(viewer: Viewer, scope: Scope, *roles: Role) -> bool:
    return any(viewer.principal.has(role, scope) for role in roles)


def _reader(db_session: DbSession, viewer: Viewer, fund_id: uuid.UUID) -> Scope:
    scope = _scope(db_session, viewer, fund_id)
    if not _may(viewer, scope, *READERS):
        raise PageForbidden()
    return scope


def _coordinator(viewer: Viewer, fund_id: uuid.UUID) -> None:
    if not _may(viewer, Scope(fund_id=fund_id), Role.coordinator):
        raise PageForbidden()


def _proposer(db_session: DbSession, viewer: Viewer, fund_id: uuid.UUID) -> uuid.UUID | None:
    """Who proposes, as the API's `POST /funds/{id}/proposals`: a coordinator of the fund
    (None), else a member of one of its households (their person, whom the service checks:
    an adult of an active household). Anybody else is not allowed."""
    if _may(viewer, Scope(fund_id=fund_id), Role.coordinator):
        return None
    scope = _scope(db_session, viewer, fund_id)
    person_id = _person_id(db_session, viewer)
    if scope.household_id is None or person_id is None or not _may(viewer, scope, Role.member):
        raise PageForbidden()
    return person_id


def _may_propose(db_session: DbSession, viewer: Viewer, fund_id: uuid.UUID) -> bool:
    """Whether the viewer may open a proposal now: the service's own rule for a member."""
    try:
        person_id = _proposer(db_session, viewer, fund_id)
    except PageForbidden:
        return False
    if person_id is None:
        return True
    return service.is_adult_member(db_session, fund_id, person_id, service.fund_day(utcnow()))


def _fund(db_session: DbSession, slug: str) -> Fund:
    fund = db_session.exec(select(Fund).where(col(Fund.slug) == slug)).first()
    if fund is None:
        raise PageNotFound()
    return fund


def _person_id(db_session: DbSession, viewer: Viewer) -> uuid.UUID | None:
    membership = membership_of(db_session=db_session, user_id=viewer.user.id)
    return membership[1] if membership else None


def _secret_keys(request: Request) -> list[str]:
    """The server key, then the earlier ones (as the API's vote route)."""
    settings = request.app.state.settings
    return [settings.secret_key, *filter(None, settings.previous_secret_keys.split(","))]


# --- Words and formats ------------------------------------------------------------------


def _moment(t: Texts, moment: datetime) -> str:
    """'7 mars 2026 à 17:45' (the fund's time zone)."""
    return t.gettext("%(date)s at %(time)s", date=t.date(moment), time=t.time(moment))


def _label(t: Texts, labels: dict[Any, str], value: Any) -> str:
    message = labels.get(value)
    return t.gettext(message) if message is not None else str(value)


def _percent(t: Texts, value: float) -> str:
    """12.5 as '12,5 %', '12,5 %', '12.5%' (one decimal at most)."""
    share = Decimal(str(round(value, 1))) / 100
    return str(format_percent(share, locale=t.language, decimal_quantization=False))


def _stratum(t: Texts, stratum: str) -> str:
    """'income_band=2;household_size=4+' as 'Income band 2, household of 4 or more'."""
    parts = []
    for part in stratum.split(";"):
        name, _, value = part.partition("=")
        if name == "income_band":
            parts.append(t.gettext("income band %(band)s", band=value))
        elif name == "household_size":
            if value.endswith("+"):
                parts.append(
                    t.gettext("households of %(num)s persons or more", num=value.rstrip("+"))
                )
            else:
                parts.append(
                    t.ngettext(
                        "households of %(num)d person", "households of %(num)d persons", int(value)
                    )
                )
    return ", ".join(parts) if parts else t.gettext("everybody")


def _not_eligible_reason(t: Texts, proposal: ProposalOut, person_id: uuid.UUID | None) -> str:
    """Why the viewer is not on the proposal's roll, in plain words."""
    if person_id is None:
        return t.gettext(
            "Only the members of the fund's households vote: your account is not a member's."
        )
    if proposal.roll == RollSource.committee:
        return t.gettext(
            "This vote is the committee's: only the members drawn by lot for the fund's"
            " committee vote on it, and you are not one of them."
        )
    return t.gettext(
        "You are not on this proposal's roll: it holds the adults (18 and over) of the fund's"
        " active households on the day the proposal opened."
    )


def _refusal(t: Texts, problem: Problem) -> str:
    """A refusal of the assembly's services in plain words."""
    extra = problem.extra
    code = problem.code
    if code == "proposal_closed":
        return t.gettext("The vote on this proposal is closed: no vote can be cast or changed.")
    if code == "ballot_unreachable":
        return t.gettext(
            "Your earlier vote cannot be found to be replaced (the server's key has changed)."
            " Ask the fund's coordinator."
        )
    if code == "proposal_not_applicable":
        status = extra.get("outlet_status")
        if isinstance(status, str):
            return t.gettext(
                "This outlet is %(status)s in this fund: this kind of proposal does not apply"
                " to it.",
                status=_label(t, OUTLET_STATUSES, OutletStatus(status)),
            )
        return t.gettext(
            "This outlet has not applied to this fund: its application, scored on the fund's"
            " criteria, comes first."
        )
    if code == "proposal_already_open":
        return t.gettext(
            "A proposal on this outlet is already open: it must be closed before another one."
        )
    if code == "no_eligible_voters":
        return t.gettext("Nobody could vote: the fund has no adult in an active household.")
    if code == "not_eligible":
        return _not_a_proposer(t)
    if code == "committee_too_large":
        size = int(extra.get("roll_size", 0))
        return t.ngettext(
            "The fund has only %(num)d adult in its active households: the committee cannot"
            " have more seats.",
            "The fund has only %(num)d adults in its active households: the committee cannot"
            " have more seats.",
            size,
        )
    if code == "not_found":
        return t.gettext("Not found: check what you chose.")
    return t.gettext("This could not be done. Nothing was changed; please try again.")


# --- A proposal as the pages show it ------------------------------------------------------


def _proposal_view(
    t: Texts, db_session: DbSession, out: ProposalOut, person_id: uuid.UUID | None
) -> dict[str, Any]:
    outlet = db_session.get(Outlet, out.outlet_id)
    closed = out.status == ProposalStatus.closed
    dossier = None
    if out.dossier is not None:
        dossier = {
            "lines": [
                {
                    "criterion": _label(t, CRITERIA, line.criterion),
                    "score": line.score,
                    "note": line.note,
                }
                for line in out.dossier.criteria
            ],
            "score_total": out.dossier.score_total,
            "score_max": out.dossier.score_max,
        }
    return {
        "id": out.id,
        "title": out.title,
        "description": out.description,
        "kind": _label(t, KINDS, out.kind),
        "kind_value": out.kind.value,
        "outlet": outlet,
        "category": t.gettext(CATEGORIES.get(outlet.category, CATEGORIES[OutletCategory.other]))
        if outlet is not None
        else "",
        "open": not closed,
        "opens_at": _moment(t, out.opens_at),
        "closes_at": _moment(t, out.closes_at),
        "eligible_voters": out.eligible_voters,
        "votes_cast": out.votes_cast,
        "turnout": _percent(t, out.turnout_percent),
        "quorum": _percent(t, out.quorum_percent),
        "approval": _percent(t, out.approval_percent),
        "committee_roll": out.roll == RollSource.committee,
        "committee_draw_id": out.committee_draw_id,
        "secret_ballot": out.secret_ballot,
        "dossier": dossier,
        "result": out.result.value if out.result else None,
        "result_label": _label(t, RESULTS, out.result) if out.result else None,
        "tally": [
            {"label": t.gettext(CHOICES[choice]), "count": getattr(out.tally, choice.value)}
            for choice in Choice
        ]
        if out.tally is not None
        else None,
        "enacted": out.enacted,
        "closed_at": _moment(t, out.closed_at) if out.closed_at else None,
        "closed_by_timer": out.closed_by == service.SYSTEM_ACTOR,
        "on_roll": out.on_roll,
        "has_voted": out.has_voted,
        "my_vote": t.gettext(CHOICES[out.my_vote]) if out.my_vote else None,
        "my_choice": out.my_vote.value if out.my_vote else None,
        "not_eligible": None if out.on_roll else _not_eligible_reason(t, out, person_id),
    }


def _proposal_page(
    request: Request,
    db_session: DbSession,
    viewer: Viewer,
    proposal: Proposal,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    t = texts_for(request)
    person_id = _person_id(db_session, viewer)
    out = proposal_out(db_session, proposal, person_id)
    fund = db_session.get(Fund, proposal.fund_id)
    return render(
        request,
        "assembly/proposal.html",
        {
            "viewer": viewer,
            "fund": fund,
            "proposal": _proposal_view(t, db_session, out, person_id),
            "coordinator": _may(viewer, Scope(fund_id=proposal.fund_id), Role.coordinator),
            "choices": [(choice.value, t.gettext(label)) for choice, label in CHOICES.items()],
            "error": error,
        },
        status=status,
    )


def _readable_proposal(db_session: DbSession, viewer: Viewer, proposal_id: uuid.UUID) -> Proposal:
    """The proposal if the viewer may read it (read after its window: closed first)."""
    found = attempt(
        db_session, lambda: service.find_proposal(db_session=db_session, proposal_id=proposal_id)
    )
    if isinstance(found, Refused):
        raise PageNotFound()
    _reader(db_session, viewer, found.fund_id)
    return service.get_proposal(db_session=db_session, proposal_id=proposal_id)


# --- The fund's assembly ----------------------------------------------------------------------


@router.get("", name="assembly_home")
def assembly_home(request: Request, db_session: DbSession, viewer: CurrentViewer) -> Response:
    """The assembly of the viewer's fund; a choice when they read several funds'."""
    fund_ids = set(viewer.principal.fund_ids(*READERS))
    household_id = viewer.household_id
    if household_id is not None:
        household = db_session.get(Household, household_id)
        if household is not None:
            fund_ids.add(household.fund_id)
    funds = sorted(
        (fund for fund in (db_session.get(Fund, fund_id) for fund_id in fund_ids) if fund),
        key=lambda fund: fund.name,
    )
    if not funds:
        raise PageForbidden()
    if len(funds) == 1:
        return RedirectResponse(
            request.app.url_path_for("assembly_fund", slug=funds[0].slug), status_code=303
        )
    return render(request, "assembly/choose.html", {"viewer": viewer, "funds": funds})


@router.get("/{slug}", name="assembly_fund")
def assembly_fund(
    slug: str, request: Request, db_session: DbSession, viewer: CurrentViewer, cursor: str = ""
) -> Response:
    """The fund's open proposals, then the closed ones (newest first, by pages)."""
    t = texts_for(request)
    fund = _fund(db_session, slug)
    _reader(db_session, viewer, fund.id)
    person_id = _person_id(db_session, viewer)
    open_rows = service.list_proposals(
        db_session=db_session,
        fund_id=fund.id,
        status=ProposalStatus.open,
        limit=200,
        before=None,
    )
    before = attempt(db_session, lambda: decode_position(cursor or None))
    closed_rows = service.list_proposals(
        db_session=db_session,
        fund_id=fund.id,
        status=ProposalStatus.closed,
        limit=CLOSED_PAGE + 1,
        before=None if isinstance(before, Refused) else before,
    )
    next_cursor = (
        encode_position(closed_rows[CLOSED_PAGE - 1].opens_at, closed_rows[CLOSED_PAGE - 1].id)
        if len(closed_rows) > CLOSED_PAGE
        else None
    )

    def view(proposal: Proposal) -> dict[str, Any]:
        out = proposal_out(db_session, proposal, person_id)
        return _proposal_view(t, db_session, out, person_id)

    in_force = service.committee_in_force(db_session, fund.id)
    return render(
        request,
        "assembly/fund.html",
        {
            "viewer": viewer,
            "fund": fund,
            "open": [view(p) for p in open_rows],
            "closed": [view(p) for p in closed_rows[:CLOSED_PAGE]],
            "next_cursor": next_cursor,
            "older": bool(cursor) and not isinstance(before, Refused),
            "may_propose": _may_propose(db_session, viewer, fund.id),
            "committee_in_force": in_force,
        },
    )


# --- Opening a proposal (a coordinator, or an adult member of an active household) ------


def _new_form(
    request: Request,
    db_session: DbSession,
    viewer: Viewer,
    fund: Fund,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
    may_propose: bool = True,
) -> Response:
    t = texts_for(request)
    outlets = [
        {
            "id": str(outlet.id),
            "label": t.gettext(
                "%(name)s (%(status)s)",
                name=outlet.name,
                status=_label(t, OUTLET_STATUSES, OutletStatus(str(standing.status))),
            ),
        }
        for outlet, standing in fund_outlets(
            db_session=db_session,
            fund_id=fund.id,
            status=None,
            limit=OUTLETS_OFFERED,
            after_name=None,
        )
    ]
    policy = policy_for(db_session=db_session, fund_id=fund.id, period=current_period())
    return render(
        request,
        "assembly/new.html",
        {
            "viewer": viewer,
            "fund": fund,
            "outlets": outlets,
            "kinds": [(kind.value, t.gettext(label)) for kind, label in KINDS.items()],
            "voting_days": policy.voting_days,
            "values": {"kind": ProposalKind.accredit_outlet.value, **(values or {})},
            "errors": errors or {},
            "error": error,
            "may_propose": may_propose,
        },
        status=status,
    )


def _not_a_proposer(t: Texts) -> str:
    return t.gettext(
        "Only the fund's coordinators and the adult members of its active households may"
        " make a proposal."
    )


@router.get("/{slug}/new", name="assembly_new")
def new_proposal(
    slug: str,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
    outlet: str = "",
    kind: str = "",
) -> Response:
    """The form; a member who may not propose (a minor, a household not active) is told
    why instead."""
    fund = _fund(db_session, slug)
    _proposer(db_session, viewer, fund.id)
    if not _may_propose(db_session, viewer, fund.id):
        t = texts_for(request)
        return _new_form(
            request,
            db_session,
            viewer,
            fund,
            error=_not_a_proposer(t),
            status=403,
            may_propose=False,
        )
    values = {k: v[:100] for k, v in (("outlet_id", outlet), ("kind", kind)) if v}
    return _new_form(request, db_session, viewer, fund, values=values)


def _closes_at(day: date) -> datetime:
    """The end of `day` in the fund's calendar (midnight, Paris time)."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=FUND_TIMEZONE)


@router.post("/{slug}/new", name="assembly_new_submit")
def new_proposal_submit(
    slug: str,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
    kind: Annotated[str, Form()] = "",
    outlet_id: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    closes_on: Annotated[str, Form()] = "",
) -> Response:
    """Open a proposal (the API's `POST /funds/{id}/proposals`: a coordinator's, or a
    member's, whom the service checks)."""
    t = texts_for(request)
    fund = _fund(db_session, slug)
    proposer_person_id = _proposer(db_session, viewer, fund.id)
    values = {
        "kind": kind[:40],
        "outlet_id": outlet_id[:40],
        "title": title[:300],
        "description": description[:6000],
        "closes_on": closes_on[:40],
    }
    errors: dict[str, str] = {}
    closes_at = None
    if closes_on.strip():
        try:
            closes_at = _closes_at(date.fromisoformat(closes_on.strip()))
        except ValueError:
            errors["closes_on"] = t.gettext("Type a date, for example 2026-12-24.")
    proposal_in = None
    try:
        proposal_in = ProposalIn.model_validate(
            {
                "kind": kind,
                "outlet_id": outlet_id,
                "title": title,
                "description": description.strip() or None,
                "closes_at": closes_at,
            }
        )
    except ValidationError as exc:
        for issue in exc.errors():
            field = str(issue["loc"][0]) if issue["loc"] else ""
            if field == "kind":
                errors["kind"] = t.gettext("Choose what the proposal does.")
            elif field == "outlet_id":
                errors["outlet_id"] = t.gettext("Choose the outlet.")
            elif field == "title":
                errors["title"] = t.gettext("Give the proposal a title (at most 200 characters).")
            elif field == "description":
                errors["description"] = t.gettext("The description is too long.")
    if errors or proposal_in is None:
        return _new_form(
            request, db_session, viewer, fund, values=values, errors=errors, status=422
        )
    opened = attempt(
        db_session,
        lambda: service.open_proposal(
            db_session=db_session,
            fund_id=fund.id,
            proposal_in=proposal_in,
            actor=viewer.principal.actor,
            proposer_person_id=proposer_person_id,  # None: a coordinator proposes
            request_id=request.state.request_id,
        ),
    )
    if isinstance(opened, Refused):
        problem = opened.problem
        if problem.code == "validation_error":
            errors["closes_on"] = t.gettext(
                "The vote must close in the future, and at most a year from now."
            )
            return _new_form(
                request, db_session, viewer, fund, values=values, errors=errors, status=422
            )
        return _new_form(
            request,
            db_session,
            viewer,
            fund,
            values=values,
            error=_refusal(t, problem),
            status=problem.status,
            may_propose=problem.code != "not_eligible",
        )
    flash(
        request,
        t.gettext(
            "The proposal is open: the members can vote until %(closes)s.",
            closes=_moment(t, opened.closes_at),
        ),
    )
    return RedirectResponse(
        request.app.url_path_for("assembly_proposal", proposal_id=str(opened.id)),
        status_code=303,
    )


# --- A proposal: reading, voting, closing -------------------------------------------------


@router.get("/proposals/{proposal_id:uuid}", name="assembly_proposal")
def proposal_page(
    proposal_id: uuid.UUID, request: Request, db_session: DbSession, viewer: CurrentViewer
) -> Response:
    proposal = _readable_proposal(db_session, viewer, proposal_id)
    return _proposal_page(request, db_session, viewer, proposal)


@router.post("/proposals/{proposal_id:uuid}/vote", name="assembly_vote")
def vote(
    proposal_id: uuid.UUID,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
    choice: Annotated[str, Form()] = "",
) -> Response:
    """Vote, or change one's vote (the API's `POST /proposals/{id}/votes`): the service
    checks the roll, the window, and replaces an earlier vote."""
    t = texts_for(request)
    proposal = _readable_proposal(db_session, viewer, proposal_id)
    try:
        chosen = Choice(choice)
    except ValueError:
        error = t.gettext("Choose yes, no or abstain.")
        return _proposal_page(request, db_session, viewer, proposal, error=error, status=422)
    person_id = _person_id(db_session, viewer)
    receipt = attempt(
        db_session,
        lambda: service.cast_vote(
            db_session=db_session,
            proposal_id=proposal_id,
            person_id=person_id,
            choice=chosen,
            actor=viewer.principal.actor,
            secret_keys=_secret_keys(request),
            request_id=request.state.request_id,
        ),
    )
    if isinstance(receipt, Refused):
        problem = receipt.problem
        if problem.code == "not_eligible":
            out = proposal_out(db_session, proposal, person_id)
            error = _not_eligible_reason(t, out, person_id)
        else:
            error = _refusal(t, problem)
        proposal = service.find_proposal(db_session=db_session, proposal_id=proposal_id)
        return _proposal_page(
            request, db_session, viewer, proposal, error=error, status=problem.status
        )
    # Never the choice itself: the message travels in the session cookie.
    flash(
        request,
        t.gettext("Your vote is changed: only your latest vote counts.")
        if receipt.replaced
        else t.gettext("Your vote is recorded. You can change it until the vote closes."),
    )
    return RedirectResponse(
        request.app.url_path_for("assembly_proposal", proposal_id=str(proposal_id)),
        status_code=303,
    )


@router.get("/proposals/{proposal_id:uuid}/close", name="assembly_close_confirm")
def close_confirm(
    proposal_id: uuid.UUID, request: Request, db_session: DbSession, viewer: CurrentViewer
) -> Response:
    """Asks the coordinator to confirm: closing counts the votes and, when adopted,
    changes the outlet's status at once."""
    t = texts_for(request)
    proposal = _readable_proposal(db_session, viewer, proposal_id)
    _coordinator(viewer, proposal.fund_id)
    if proposal.status == ProposalStatus.closed:
        return RedirectResponse(
            request.app.url_path_for("assembly_proposal", proposal_id=str(proposal_id)),
            status_code=303,
        )
    person_id = _person_id(db_session, viewer)
    out = proposal_out(db_session, proposal, person_id)
    return render(
        request,
        "assembly/close.html",
        {
            "viewer": viewer,
            "fund": db_session.get(Fund, proposal.fund_id),
            "proposal": _proposal_view(t, db_session, out, person_id),
        },
    )


@router.post("/proposals/{proposal_id:uuid}/close", name="assembly_close")
def close(
    proposal_id: uuid.UUID, request: Request, db_session: DbSession, viewer: CurrentViewer
) -> Response:
    """Close the vote now (the API's `POST /proposals/{id}/close`, a coordinator's;
    closing a closed proposal does nothing)."""
    t = texts_for(request)
    proposal = _readable_proposal(db_session, viewer, proposal_id)
    _coordinator(viewer, proposal.fund_id)
    closed, closed_now = service.close_proposal(
        db_session=db_session,
        proposal_id=proposal_id,
        actor=viewer.principal.actor,
        request_id=request.state.request_id,
    )
    if closed_now:
        result = _label(t, RESULTS, closed.result)
        flash(request, t.gettext("The vote is closed. Result: %(result)s.", result=result))
    return RedirectResponse(
        request.app.url_path_for("assembly_proposal", proposal_id=str(proposal_id)),
        status_code=303,
    )


# --- Committees drawn by lot -------------------------------------------------------------


def _committee_page(
    request: Request,
    db_session: DbSession,
    viewer: Viewer,
    fund: Fund,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    t = texts_for(request)
    draws = committee.list_draws(
        db_session=db_session, fund_id=fund.id, limit=DRAWS_SHOWN, before=None
    )
    return render(
        request,
        "assembly/committee.html",
        {
            "viewer": viewer,
            "fund": fund,
            "draws": [
                {
                    "id": draw.id,
                    "drawn_on": t.date(draw.drawn_on),
                    "size": draw.size,
                    "roll_size": draw.roll_size,
                    "seed": draw.seed,
                    "in_force": draw.in_force_fund_id is not None,
                }
                for draw in draws
            ],
            "coordinator": _may(viewer, Scope(fund_id=fund.id), Role.coordinator),
            "strata": [(name, t.gettext(STRATA_NAMES[name])) for name in STRATA],
            "values": {"strata": list(STRATA), "in_force": True, **(values or {})},
            "errors": errors or {},
            "error": error,
        },
        status=status,
    )


@router.get("/{slug}/committee", name="assembly_committee")
def committee_page(
    slug: str, request: Request, db_session: DbSession, viewer: CurrentViewer
) -> Response:
    """The fund's committees drawn by lot; a coordinator draws a new one here."""
    fund = _fund(db_session, slug)
    _reader(db_session, viewer, fund.id)
    return _committee_page(request, db_session, viewer, fund)


@router.post("/{slug}/committee", name="assembly_draw")
def draw_submit(
    slug: str,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
    size: Annotated[str, Form()] = "",
    seed: Annotated[str, Form()] = "",
    strata: Annotated[list[str] | None, Form()] = None,
    in_force: Annotated[str, Form()] = "",
) -> Response:
    """Draw a committee (the API's `POST /funds/{id}/committee-draws`, a coordinator's)."""
    t = texts_for(request)
    fund = _fund(db_session, slug)
    _coordinator(viewer, fund.id)
    chosen = [name for name in STRATA if name in (strata or [])]
    values = {"size": size[:20], "seed": seed[:300], "strata": chosen, "in_force": bool(in_force)}
    errors: dict[str, str] = {}
    draw_in = None
    try:
        draw_in = CommitteeDrawIn.model_validate(
            {
                "size": size.strip(),
                "seed": seed.strip(),
                "strata": chosen,
                "in_force": bool(in_force),
            }
        )
    except ValidationError as exc:
        for issue in exc.errors():
            field = str(issue["loc"][0]) if issue["loc"] else ""
            if field == "size":
                errors["size"] = t.gettext("The number of seats is a whole number, 1 or more.")
            elif field == "seed":
                errors["seed"] = t.gettext(
                    "Type the seed announced before the draw (at most 200 characters, on one line)."
                )
    if errors or draw_in is None:
        return _committee_page(
            request, db_session, viewer, fund, values=values, errors=errors, status=422
        )
    drawn = attempt(
        db_session,
        lambda: committee.draw_committee(
            db_session=db_session,
            fund_id=fund.id,
            draw_in=draw_in,
            actor=viewer.principal.actor,
            request_id=request.state.request_id,
        ),
    )
    if isinstance(drawn, Refused):
        problem = drawn.problem
        return _committee_page(
            request,
            db_session,
            viewer,
            fund,
            values=values,
            error=_refusal(t, problem),
            status=problem.status,
        )
    flash(request, t.gettext("The committee is drawn."))
    return RedirectResponse(
        request.app.url_path_for("assembly_draw_view", draw_id=str(drawn.id)), status_code=303
    )


def _readable_draw(db_session: DbSession, viewer: Viewer, draw_id: uuid.UUID) -> CommitteeDraw:
    found = attempt(db_session, lambda: committee.get_draw(db_session=db_session, draw_id=draw_id))
    if isinstance(found, Refused):
        raise PageNotFound()
    _reader(db_session, viewer, found.fund_id)
    return found


@router.get("/committees/{draw_id:uuid}", name="assembly_draw_view")
def draw_page(
    draw_id: uuid.UUID, request: Request, db_session: DbSession, viewer: CurrentViewer
) -> Response:
    """A committee draw: the seed, the roll's digest, the seats per stratum, and how to
    replay it. Who was drawn, by name, only for the fund's coordinators; a member learns
    whether they are on it."""
    t = texts_for(request)
    draw = _readable_draw(db_session, viewer, draw_id)
    scope = Scope(fund_id=draw.fund_id)
    coordinator = _may(viewer, scope, Role.coordinator)
    out = draw_out(draw, strata_named=coordinator)
    members: list[dict[str, str]] = []
    if coordinator:
        persons = {
            str(person.id): person
            for person in db_session.exec(
                select(Person).where(
                    col(Person.id).in_([uuid.UUID(person_id) for person_id in out.person_ids])
                )
            ).all()
        }
        members = [
            {
                "person_id": person_id,
                "name": f"{persons[person_id].given_name} {persons[person_id].family_name}"
                if person_id in persons
                else "",
            }
            for person_id in out.person_ids
        ]
    person_id = _person_id(db_session, viewer)
    return render(
        request,
        "assembly/draw.html",
        {
            "viewer": viewer,
            "fund": db_session.get(Fund, draw.fund_id),
            "draw": out,
            "drawn_at": _moment(t, out.drawn_at),
            "ended_at": _moment(t, out.ended_at) if out.ended_at else None,
            "strata": [_label(t, STRATA_NAMES, name) for name in out.strata],
            "allocation": [
                {
                    "stratum": _stratum(t, seats.stratum)
                    if coordinator
                    else t.gettext("Group %(number)s", number=i),
                    "roll": seats.roll,
                    "seats": seats.seats,
                }
                for i, seats in enumerate(out.allocation, start=1)
            ],
            "coordinator": coordinator,
            "members": members,
            "drawn_me": person_id is not None and str(person_id) in out.person_ids,
            "may_replay": _may(viewer, scope, Role.coordinator),
        },
    )


@router.get("/committees/{draw_id:uuid}/roll.json", name="assembly_draw_roll")
def draw_roll(draw_id: uuid.UUID, db_session: DbSession, viewer: CurrentViewer) -> Response:
    """The roll the committee was drawn from, to replay the draw (the API's
    `GET /committee-draws/{id}/roll`: coordinators only, as strata tell income bands)."""
    draw = _readable_draw(db_session, viewer, draw_id)
    if not _may(viewer, Scope(fund_id=draw.fund_id), Role.coordinator):
        raise PageForbidden()
    roll = CommitteeRollOut(
        draw_id=draw.id,
        algorithm=draw.algorithm,
        seed=draw.seed,
        size=draw.size,
        roll_sha256=draw.roll_sha256,
        roll=[RollEntry(person_id=person_id, stratum=stratum) for person_id, stratum in draw.roll],
    )
    return JSONResponse(
        roll.model_dump(mode="json"),
        headers={
            "Content-Disposition": f'attachment; filename="committee-roll-{draw.id}.json"',
            "Cache-Control": "no-store",
        },
    )
