"""Assembly endpoints: proposals, votes, closing, committee draws."""

import uuid
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlmodel import Session

from ssa.assembly import committee, service
from ssa.assembly.models import CommitteeDraw, Proposal, ProposalStatus
from ssa.assembly.rules import turnout_percent
from ssa.assembly.schemas import (
    CommitteeDrawIn,
    CommitteeDrawOut,
    CommitteeDrawPage,
    CommitteeRollOut,
    Dossier,
    ProposalIn,
    ProposalOut,
    ProposalPage,
    RollEntry,
    SeatsOut,
    Tally,
    VoteIn,
    VoteOut,
)
from ssa.auth.deps import (
    Authorize,
    CurrentPrincipal,
    DbSession,
    MalformedId,
    Principal,
    Scope,
    fund_path,
)
from ssa.auth.roles import Role
from ssa.auth.service import membership_of
from ssa.households.models import Household
from ssa.idempotency.http import idempotent
from ssa.idempotency.openapi import key_parameter
from ssa.outlets.models import Outlet
from ssa.pagination import Cursor, Limit, decode_position, encode_position
from ssa.types import BlankIsNone

router = APIRouter(prefix="/api/v1", tags=["assembly"])

# Refusals, for the OpenAPI description (every one is problem+json with its `code`).
OPEN_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {
        "description": "forbidden; not_eligible: the member is not an adult of an active household"
    },
    404: {"description": "not_found: no such outlet"},
    409: {
        "description": "proposal_not_applicable (with `outlet_status`), proposal_already_open"
        " (with `proposal_id`), no_eligible_voters"
    },
}
VOTE_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "not_eligible: the caller is not on the proposal's roll"},
    404: {"description": "not_found: no such proposal"},
    409: {"description": "proposal_closed: the vote is over"},
}
DRAW_RESPONSES: dict[int | str, dict[str, Any]] = {
    409: {"description": "committee_too_large: more seats than adults (with `roll_size`)"},
}

# Who reads a fund's proposals and committees: its staff and the members of its households.
READERS = (Role.coordinator, Role.treasurer, Role.auditor, Role.member)


def _path_id(request: Request, name: str) -> uuid.UUID:
    raw = request.path_params.get(name)
    try:
        return uuid.UUID(str(raw))
    except ValueError as exc:
        raise MalformedId(
            f"`{name}` is not a valid id.",
            errors=[{"loc": ["path", name], "msg": "not a valid id", "type": "uuid_parsing"}],
        ) from exc


def _with_member(request: Request, db_session: Session, scope: Scope) -> Scope:
    """The scope, with the caller's household when it is one of the fund's: the caller
    then counts as a member of the fund."""
    principal: Principal | None = getattr(request.state, "principal", None)
    for household_id in principal.household_ids if principal else ():
        household = db_session.get(Household, household_id)
        if household is not None and household.fund_id == scope.fund_id:
            return replace(scope, household_id=household_id)
    return scope


def fund_members(request: Request, db_session: Session) -> Scope:
    """The fund in the path; its members count as `member`."""
    return _with_member(request, db_session, fund_path(request, db_session))


def proposal_fund(request: Request, db_session: Session) -> Scope:
    """The proposal in the path and its fund (404 when there is none)."""
    proposal_id = _path_id(request, "proposal_id")
    proposal = service.find_proposal(db_session=db_session, proposal_id=proposal_id)
    return _with_member(request, db_session, Scope(fund_id=proposal.fund_id))


def draw_fund(request: Request, db_session: Session) -> Scope:
    """The committee draw in the path and its fund (404 when there is none)."""
    draw = committee.get_draw(db_session=db_session, draw_id=_path_id(request, "draw_id"))
    return _with_member(request, db_session, Scope(fund_id=draw.fund_id))


FundReader = Annotated[Principal, Depends(Authorize(*READERS, on=fund_members))]
FundProposer = Annotated[
    Principal, Depends(Authorize(Role.coordinator, Role.member, on=fund_members))
]
FundCoordinator = Annotated[Principal, Depends(Authorize(Role.coordinator, on=fund_path))]
ProposalReader = Annotated[Principal, Depends(Authorize(*READERS, on=proposal_fund))]
ProposalCoordinator = Annotated[Principal, Depends(Authorize(Role.coordinator, on=proposal_fund))]
DrawReader = Annotated[Principal, Depends(Authorize(*READERS, on=draw_fund))]
DrawCoordinator = Annotated[Principal, Depends(Authorize(Role.coordinator, on=draw_fund))]


def _person_of(db_session: Session, principal: Principal) -> uuid.UUID | None:
    if principal.user_id is None:
        return None
    membership = membership_of(db_session=db_session, user_id=principal.user_id)
    return membership[1] if membership else None


def proposal_out(
    db_session: Session, proposal: Proposal, person_id: uuid.UUID | None
) -> ProposalOut:
    outlet = db_session.get(Outlet, proposal.outlet_id)
    closed = proposal.status == ProposalStatus.closed
    cast = service.votes_cast(db_session, proposal)
    voter = service.voter_state(db_session=db_session, proposal=proposal, person_id=person_id)
    return ProposalOut(
        id=proposal.id,
        fund_id=proposal.fund_id,
        kind=proposal.kind,
        outlet_id=proposal.outlet_id,
        outlet_name=outlet.name if outlet is not None else "",
        title=proposal.title,
        description=proposal.description,
        status=proposal.status,
        opens_at=proposal.opens_at,
        closes_at=proposal.closes_at,
        eligible_voters=proposal.eligible_voters,
        votes_cast=cast,
        turnout_percent=turnout_percent(cast, proposal.eligible_voters),
        quorum_percent=proposal.quorum_percent,
        approval_percent=proposal.approval_percent,
        secret_ballot=proposal.secret_ballot,
        roll=proposal.roll,
        committee_draw_id=proposal.committee_draw_id,
        dossier=Dossier.model_validate(proposal.dossier) if proposal.dossier else None,
        proposed_by=proposal.proposed_by,
        result=proposal.result,
        tally=Tally(
            yes=proposal.yes_count or 0,
            no=proposal.no_count or 0,
            abstain=proposal.abstain_count or 0,
        )
        if closed
        else None,
        enacted=proposal.enacted_at is not None,
        enacted_at=proposal.enacted_at,
        closed_at=proposal.closed_at,
        closed_by=proposal.closed_by,
        on_roll=voter.on_roll,
        has_voted=voter.has_voted,
        my_vote=voter.open_choice,
    )


@router.post(
    "/funds/{fund_id}/proposals",
    status_code=201,
    response_model=ProposalOut,
    responses=OPEN_RESPONSES,
)
def open_proposal(
    fund_id: uuid.UUID,
    body: ProposalIn,
    request: Request,
    db_session: DbSession,
    principal: FundProposer,
) -> JSONResponse:
    """Put a proposal on an outlet to the vote (a coordinator, or an adult member of an
    active household of the fund). The roll of voters is fixed now."""
    person_id = _person_of(db_session, principal)

    def work() -> tuple[int, ProposalOut]:
        coordinator = principal.has(Role.coordinator, Scope(fund_id=fund_id))
        proposal = service.open_proposal(
            db_session=db_session,
            fund_id=fund_id,
            proposal_in=body,
            actor=principal.actor,
            proposer_person_id=None if coordinator else person_id,
            request_id=request.state.request_id,
        )
        return 201, proposal_out(db_session, proposal, person_id)

    return idempotent(
        request=request,
        db_session=db_session,
        caller=principal.actor,
        body=body,
        work=work,
        required=False,
    )


@router.get("/funds/{fund_id}/proposals", response_model=ProposalPage)
def list_proposals(
    fund_id: uuid.UUID,
    db_session: DbSession,
    principal: FundReader,
    status: Annotated[ProposalStatus | None, BlankIsNone] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ProposalPage:
    """The fund's proposals, newest first (those past their window are closed first)."""
    rows = service.list_proposals(
        db_session=db_session,
        fund_id=fund_id,
        status=status,
        limit=limit + 1,
        before=decode_position(cursor),
    )
    person_id = _person_of(db_session, principal)
    items = [proposal_out(db_session, p, person_id) for p in rows[:limit]]
    next_cursor = (
        encode_position(rows[limit - 1].opens_at, rows[limit - 1].id) if len(rows) > limit else None
    )
    return ProposalPage(items=items, next_cursor=next_cursor)


@router.get("/proposals/{proposal_id}", response_model=ProposalOut)
def get_proposal(
    proposal_id: uuid.UUID, db_session: DbSession, principal: ProposalReader
) -> ProposalOut:
    """A proposal; the tally is null while it is open. Read after its window, it is
    closed (and an adopted one enacted) by this read."""
    proposal = service.get_proposal(db_session=db_session, proposal_id=proposal_id)
    return proposal_out(db_session, proposal, _person_of(db_session, principal))


# A vote's Idempotency-Key is described here, not by ssa.idempotency.openapi: it is
# accepted and never stored, so it never answers idempotency_conflict.
VOTE_KEY: dict[str, Any] = {
    "parameters": [
        key_parameter(
            required=False,
            description="Accepted and not stored: a vote repeated is the same vote, and a "
            "stored request would tie the voter to the choice.",
        )
    ]
}


@router.post(
    "/proposals/{proposal_id}/votes",
    response_model=VoteOut,
    responses=VOTE_RESPONSES,
    openapi_extra=VOTE_KEY,
)
def vote(
    proposal_id: uuid.UUID,
    body: VoteIn,
    request: Request,
    db_session: DbSession,
    principal: CurrentPrincipal,
) -> VoteOut:
    """Vote yes, no or abstain (a person on the proposal's roll); voting again replaces
    the earlier vote. An `Idempotency-Key` is accepted and not stored: a vote repeated is
    the same vote, and a stored request would tie the voter to the choice."""
    settings = request.app.state.settings
    keys = [settings.secret_key, *filter(None, settings.previous_secret_keys.split(","))]
    receipt = service.cast_vote(
        db_session=db_session,
        proposal_id=proposal_id,
        person_id=_person_of(db_session, principal),
        choice=body.choice,
        actor=principal.actor,
        secret_keys=keys,
        request_id=request.state.request_id,
    )
    return VoteOut(
        proposal_id=receipt.proposal.id,
        recorded=True,
        replaced=receipt.replaced,
        closes_at=receipt.proposal.closes_at,
    )


@router.post("/proposals/{proposal_id}/close", response_model=ProposalOut)
def close_proposal(
    proposal_id: uuid.UUID,
    request: Request,
    db_session: DbSession,
    principal: ProposalCoordinator,
) -> JSONResponse:
    """Close the vote now (a coordinator; idempotent): the result follows the policy, and
    an adopted proposal has changed the outlet's status when this answers."""

    def work() -> tuple[int, ProposalOut]:
        proposal, _ = service.close_proposal(
            db_session=db_session,
            proposal_id=proposal_id,
            actor=principal.actor,
            request_id=request.state.request_id,
        )
        return 200, proposal_out(db_session, proposal, _person_of(db_session, principal))

    return idempotent(
        request=request,
        db_session=db_session,
        caller=principal.actor,
        body=None,
        work=work,
        required=False,
    )


# --- Committees -----------------------------------------------------------------------


def draw_out(draw: CommitteeDraw, *, strata_named: bool) -> CommitteeDrawOut:
    """The draw; its seats per stratum name the strata (an income band) for the fund's
    coordinators only (`strata_named`): for anyone else the strata are numbered groups,
    since with the committee's person ids a stratum given all the seats would tell each
    drawn person's income band."""
    allocation = [SeatsOut.model_validate(seats) for seats in draw.allocation]
    if not strata_named:
        allocation = [
            seats.model_copy(update={"stratum": f"group {i}"})
            for i, seats in enumerate(allocation, start=1)
        ]
    return CommitteeDrawOut(
        id=draw.id,
        fund_id=draw.fund_id,
        seed=draw.seed,
        size=draw.size,
        algorithm=draw.algorithm,
        strata=draw.strata,
        drawn_on=draw.drawn_on,
        roll_size=draw.roll_size,
        roll_sha256=draw.roll_sha256,
        allocation=allocation,
        person_ids=draw.person_ids,
        in_force=draw.in_force_fund_id is not None,
        drawn_by=draw.drawn_by,
        drawn_at=draw.drawn_at,
        ended_at=draw.ended_at,
    )


@router.post(
    "/funds/{fund_id}/committee-draws",
    status_code=201,
    response_model=CommitteeDrawOut,
    responses=DRAW_RESPONSES,
)
def draw_committee(
    fund_id: uuid.UUID,
    body: CommitteeDrawIn,
    request: Request,
    db_session: DbSession,
    principal: FundCoordinator,
) -> JSONResponse:
    """Draw a committee by lot from the fund's adults, stratified by income band and
    household size, with a published seed (docs/assembly.md: anyone can replay it)."""

    def work() -> tuple[int, CommitteeDrawOut]:
        draw = committee.draw_committee(
            db_session=db_session,
            fund_id=fund_id,
            draw_in=body,
            actor=principal.actor,
            request_id=request.state.request_id,
        )
        return 201, draw_out(draw, strata_named=True)

    return idempotent(
        request=request,
        db_session=db_session,
        caller=principal.actor,
        body=body,
        work=work,
        required=False,
    )


@router.get("/funds/{fund_id}/committee-draws", response_model=CommitteeDrawPage)
def list_committee_draws(
    fund_id: uuid.UUID,
    db_session: DbSession,
    principal: FundReader,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> CommitteeDrawPage:
    """The fund's committee draws, newest first; at most one is in force."""
    named = principal.has(Role.coordinator, Scope(fund_id=fund_id))
    rows = committee.list_draws(
        db_session=db_session, fund_id=fund_id, limit=limit + 1, before=decode_position(cursor)
    )
    next_cursor = (
        encode_position(rows[limit - 1].drawn_at, rows[limit - 1].id) if len(rows) > limit else None
    )
    return CommitteeDrawPage(
        items=[draw_out(d, strata_named=named) for d in rows[:limit]], next_cursor=next_cursor
    )


@router.get("/committee-draws/{draw_id}", response_model=CommitteeDrawOut)
def get_committee_draw(
    draw_id: uuid.UUID, db_session: DbSession, principal: DrawReader
) -> CommitteeDrawOut:
    """A committee draw: its seed, the roll's digest, the seats per stratum (named for
    the fund's coordinators, numbered for others), the people."""
    draw = committee.get_draw(db_session=db_session, draw_id=draw_id)
    named = principal.has(Role.coordinator, Scope(fund_id=draw.fund_id))
    return draw_out(draw, strata_named=named)


@router.get("/committee-draws/{draw_id}/roll", response_model=CommitteeRollOut)
def get_committee_roll(
    draw_id: uuid.UUID, db_session: DbSession, _principal: DrawCoordinator
) -> CommitteeRollOut:
    """The roll the committee was drawn from, each person with a stratum, to replay the
    draw: the fund's coordinators only, since a stratum tells a person's income band
    (income is seen by the household and the coordinator only)."""
    draw = committee.get_draw(db_session=db_session, draw_id=draw_id)
    return CommitteeRollOut(
        draw_id=draw.id,
        algorithm=draw.algorithm,
        seed=draw.seed,
        size=draw.size,
        roll_sha256=draw.roll_sha256,
        roll=[RollEntry(person_id=person_id, stratum=stratum) for person_id, stratum in draw.roll],
    )


@router.post("/committee-draws/{draw_id}/end", response_model=CommitteeDrawOut)
def end_committee(
    draw_id: uuid.UUID, request: Request, db_session: DbSession, principal: DrawCoordinator
) -> JSONResponse:
    """The fund stops working with this committee (idempotent): proposals opened from now
    on have all the adults of its active households as their roll."""

    def work() -> tuple[int, CommitteeDrawOut]:
        draw = committee.end_committee(
            db_session=db_session,
            draw_id=draw_id,
            actor=principal.actor,
            request_id=request.state.request_id,
        )
        return 200, draw_out(draw, strata_named=True)

    return idempotent(
        request=request,
        db_session=db_session,
        caller=principal.actor,
        body=None,
        work=work,
        required=False,
    )
