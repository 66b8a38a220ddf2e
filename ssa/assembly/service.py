"""Proposals: opening one with its roll, voting, closing (by hand, when due, or when read
after its window) and enacting an adopted one in the same transaction."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_
from sqlmodel import Session, col, select

from ssa.assembly import ballots
from ssa.assembly.models import (
    Choice,
    CommitteeDraw,
    Proposal,
    ProposalKind,
    ProposalResult,
    ProposalStatus,
    ProposalVoter,
    RollSource,
)
from ssa.assembly.rules import EFFECTS, adult_born_on_or_before, result_of
from ssa.assembly.schemas import ProposalIn
from ssa.audit.service import record
from ssa.funds.service import FUND_TIMEZONE, current_period, get_fund, policy_for
from ssa.households.models import Household, HouseholdStatus, Person
from ssa.outlets.models import OutletFund, OutletStatus
from ssa.outlets.service import get_outlet, set_status
from ssa.problems import Conflict, InvalidInput, NotFound, Problem
from ssa.timeutil import utcnow

# Who closes a proposal whose window has passed (the timer, or the read that noticed).
SYSTEM_ACTOR = "system:assembly"
LONGEST_WINDOW = timedelta(days=366)


class ProposalNotFound(NotFound):
    title = "No such proposal"


class ProposalClosed(Conflict):
    code = "proposal_closed"
    title = "This proposal is closed"


class ProposalClosedNow(ProposalClosed):
    """The window had passed: the request closed the proposal, and that close is kept."""

    keeps_changes = True


class NotEligible(Problem):
    status = 403
    code = "not_eligible"
    title = "You may not vote on this proposal"


class ProposalNotApplicable(Conflict):
    code = "proposal_not_applicable"
    title = "This proposal does not apply to the outlet's status in the fund"


class ProposalAlreadyOpen(Conflict):
    code = "proposal_already_open"
    title = "A proposal on this outlet is open already"


class NoEligibleVoters(Conflict):
    code = "no_eligible_voters"
    title = "Nobody could vote on this proposal"


class InvalidWindow(InvalidInput):
    pass


def fund_day(now: datetime) -> date:
    """The day it is in the fund's calendar (ages are reckoned on it)."""
    return now.astimezone(FUND_TIMEZONE).date()


# --- Who may vote -------------------------------------------------------------------


def adults_query(fund_id: uuid.UUID, day: date) -> Any:
    """Person ids of the adults (18+ on `day`) of the fund's active households."""
    return (
        select(Person.id)
        .join(Household, col(Household.id) == col(Person.household_id))
        .where(
            col(Household.fund_id) == fund_id,
            col(Household.status) == HouseholdStatus.active.value,
            col(Person.left_on).is_(None),
            col(Person.birth_date) <= adult_born_on_or_before(day),
        )
    )


def committee_in_force(db_session: Session, fund_id: uuid.UUID) -> CommitteeDraw | None:
    return db_session.exec(
        select(CommitteeDraw).where(col(CommitteeDraw.in_force_fund_id) == fund_id)
    ).first()


def _roll(
    db_session: Session, fund_id: uuid.UUID, day: date
) -> tuple[list[uuid.UUID], CommitteeDraw | None]:
    """The voters of a proposal opening on `day`: the adults of the fund's active
    households, or, when a committee is in force, those of its members who still are."""
    query = adults_query(fund_id, day)
    committee = committee_in_force(db_session, fund_id)
    if committee is not None:
        query = query.where(
            col(Person.id).in_([uuid.UUID(person_id) for person_id in committee.person_ids])
        )
    return sorted(db_session.exec(query).all()), committee


def is_adult_member(
    db_session: Session, fund_id: uuid.UUID, person_id: uuid.UUID, day: date
) -> bool:
    return (
        db_session.exec(adults_query(fund_id, day).where(col(Person.id) == person_id)).first()
        is not None
    )


# --- Opening ------------------------------------------------------------------------


def _dossier(criteria_names: Sequence[str], criteria: dict[str, Any]) -> dict[str, Any]:
    """The application file on the fund's criteria (a criterion not scored: null)."""
    lines = []
    for name in criteria_names:
        given = criteria.get(name) or {}
        score = given.get("score")
        lines.append(
            {
                "criterion": name,
                "score": score if isinstance(score, int) else None,
                "note": str(given.get("note", "")),
            }
        )
    return {
        "criteria": lines,
        "score_total": sum(line["score"] or 0 for line in lines),
        "score_max": 3 * len(lines),
    }


def _status(value: Any) -> OutletStatus:
    return OutletStatus(value.value if isinstance(value, OutletStatus) else str(value))


def open_proposal(
    *,
    db_session: Session,
    fund_id: uuid.UUID,
    proposal_in: ProposalIn,
    actor: str,
    proposer_person_id: uuid.UUID | None,
    now: datetime | None = None,
    request_id: str | None = None,
) -> Proposal:
    """Open a proposal: its roll, voting rules and dossier are fixed now.

    `proposer_person_id` is the proposing member (None when a coordinator proposes):
    a member must be an adult of an active household of the fund.
    """
    now = now or utcnow()
    day = fund_day(now)
    get_fund(db_session=db_session, fund_id=fund_id)
    outlet = get_outlet(db_session=db_session, outlet_id=proposal_in.outlet_id)
    if proposer_person_id is not None and not is_adult_member(
        db_session, fund_id, proposer_person_id, day
    ):
        raise NotEligible(
            "Only the fund's coordinators and the adult members of its active households"
            " may make a proposal.",
        )
    kind = proposal_in.kind
    # The outlet's standing, locked: two proposals on one outlet open one after the other.
    standing = db_session.exec(
        select(OutletFund)
        .where(col(OutletFund.outlet_id) == outlet.id, col(OutletFund.fund_id) == fund_id)
        .with_for_update()
    ).first()
    effect = EFFECTS[kind]
    if standing is None:
        raise ProposalNotApplicable(
            "The outlet has not applied to this fund: its application (scored on the"
            " fund's criteria) comes first."
            if kind is ProposalKind.accredit_outlet
            else "The outlet does not stand in this fund.",
        )
    status = _status(standing.status)
    if status not in effect.applies_to:
        raise ProposalNotApplicable(
            f"The outlet is {status.value} in this fund: a proposal to"
            f" {kind.value.removesuffix('_outlet')} it does not apply.",
            outlet_status=status.value,
        )
    already = db_session.exec(
        select(Proposal.id).where(
            col(Proposal.fund_id) == fund_id, col(Proposal.open_outlet_id) == outlet.id
        )
    ).first()
    if already is not None:
        raise ProposalAlreadyOpen(
            "Close the open proposal on this outlet first.", proposal_id=str(already)
        )
    policy = policy_for(db_session=db_session, fund_id=fund_id, period=current_period(now))
    closes_at = proposal_in.closes_at or now + timedelta(days=policy.voting_days)
    if not now < closes_at <= now + LONGEST_WINDOW:
        raise InvalidWindow(
            "`closes_at` must be in the future, and at most a year away.",
            errors=[
                {
                    "loc": ["body", "closes_at"],
                    "msg": "must be in the future, and at most a year away",
                    "type": "value_error",
                }
            ],
        )
    voters, committee = _roll(db_session, fund_id, day)
    if not voters:
        raise NoEligibleVoters(
            "The fund has no adult in an active household"
            + (" on its committee in force." if committee is not None else ".")
        )
    proposal = Proposal(
        fund_id=fund_id,
        outlet_id=outlet.id,
        kind=kind,
        title=proposal_in.title.strip(),
        description=proposal_in.description,
        status=ProposalStatus.open,
        open_outlet_id=outlet.id,
        opens_at=now,
        closes_at=closes_at,
        roll=RollSource.committee if committee is not None else RollSource.members,
        committee_draw_id=committee.id if committee is not None else None,
        eligible_voters=len(voters),
        quorum_percent=policy.quorum_percent,
        approval_percent=policy.approval_percent,
        secret_ballot=policy.secret_ballot,
        dossier=_dossier(policy.accreditation_criteria, standing.criteria),
        proposed_by=actor,
    )
    db_session.add(proposal)
    db_session.flush()
    db_session.execute(
        insert(ProposalVoter),
        [{"proposal_id": proposal.id, "person_id": p, "has_voted": False} for p in voters],
    )
    record(
        db_session=db_session,
        actor=actor,
        action="proposal.open",
        target_type="proposal",
        target_id=proposal.id,
        fund_id=fund_id,
        after={
            "kind": kind.value,
            "outlet_id": outlet.id,
            "outlet_status": status.value,
            "closes_at": closes_at.isoformat(),
            "eligible_voters": len(voters),
            "roll": proposal.roll.value,
            "committee_draw_id": proposal.committee_draw_id,
            "quorum_percent": proposal.quorum_percent,
            "approval_percent": proposal.approval_percent,
            "secret_ballot": proposal.secret_ballot,
        },
        request_id=request_id,
    )
    return proposal


# --- Reading ------------------------------------------------------------------------


def _lock(db_session: Session, proposal_id: uuid.UUID) -> Proposal:
    """The proposal, row-locked (PostgreSQL; SQLite's write lock is taken already) and
    read afresh: votes and closes of one proposal queue up behind each other."""
    proposal = db_session.exec(
        select(Proposal)
        .where(col(Proposal.id) == proposal_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if proposal is None:
        raise ProposalNotFound()
    return proposal


def find_proposal(*, db_session: Session, proposal_id: uuid.UUID) -> Proposal:
    proposal = db_session.get(Proposal, proposal_id)
    if proposal is None:
        raise ProposalNotFound()
    return proposal


def is_due(proposal: Proposal, now: datetime) -> bool:
    return proposal.status == ProposalStatus.open and proposal.closes_at <= now


def get_proposal(
    *, db_session: Session, proposal_id: uuid.UUID, now: datetime | None = None
) -> Proposal:
    """The proposal; read after its window, it is closed (and enacted) first."""
    now = now or utcnow()
    proposal = find_proposal(db_session=db_session, proposal_id=proposal_id)
    if is_due(proposal, now):
        proposal, _ = close_proposal(
            db_session=db_session, proposal_id=proposal_id, actor=SYSTEM_ACTOR, now=now
        )
    return proposal


def list_proposals(
    *,
    db_session: Session,
    fund_id: uuid.UUID,
    status: ProposalStatus | None,
    limit: int,
    before: tuple[datetime, uuid.UUID] | None,
    now: datetime | None = None,
) -> list[Proposal]:
    """The fund's proposals, newest first; those past their window are closed first."""
    now = now or utcnow()
    get_fund(db_session=db_session, fund_id=fund_id)
    for proposal_id in due_proposal_ids(db_session=db_session, now=now, fund_id=fund_id):
        close_proposal(db_session=db_session, proposal_id=proposal_id, actor=SYSTEM_ACTOR, now=now)
    query = select(Proposal).where(col(Proposal.fund_id) == fund_id)
    if status is not None:
        query = query.where(col(Proposal.status) == status.value)
    if before is not None:
        at, last_id = before
        query = query.where(
            or_(
                col(Proposal.opens_at) < at,
                and_(col(Proposal.opens_at) == at, col(Proposal.id) < last_id),
            )
        )
    query = query.order_by(col(Proposal.opens_at).desc(), col(Proposal.id).desc()).limit(limit)
    return list(db_session.exec(query).all())


@dataclass(frozen=True)
class VoterState:
    """The caller's place on a proposal's roll."""

    on_roll: bool
    has_voted: bool
    open_choice: Choice | None  # only for a ballot that is not secret


def voter_state(
    *, db_session: Session, proposal: Proposal, person_id: uuid.UUID | None
) -> VoterState:
    row = db_session.get(ProposalVoter, (proposal.id, person_id)) if person_id is not None else None
    if row is None:
        return VoterState(on_roll=False, has_voted=False, open_choice=None)
    choice = None if proposal.secret_ballot or row.open_choice is None else Choice(row.open_choice)
    return VoterState(on_roll=True, has_voted=row.has_voted, open_choice=choice)


def votes_cast(db_session: Session, proposal: Proposal) -> int:
    """How many voters voted (from the register: it says nothing of the choices)."""
    if proposal.status == ProposalStatus.closed:
        return (proposal.yes_count or 0) + (proposal.no_count or 0) + (proposal.abstain_count or 0)
    return int(
        db_session.exec(
            select(func.count())
            .select_from(ProposalVoter)
            .where(
                col(ProposalVoter.proposal_id) == proposal.id,
                col(ProposalVoter.has_voted).is_(True),
            )
        ).one()
    )


# --- Voting -------------------------------------------------------------------------


@dataclass(frozen=True)
class Receipt:
    proposal: Proposal
    replaced: bool


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment is not None else "its close"


def cast_vote(
    *,
    db_session: Session,
    proposal_id: uuid.UUID,
    person_id: uuid.UUID | None,
    choice: Choice,
    actor: str,
    secret_keys: Sequence[str],
    now: datetime | None = None,
    request_id: str | None = None,
) -> Receipt:
    """Record the vote of `person_id` (None: the caller is not a person, such as staff or
    a till); a second vote replaces the first. Refused after the close."""
    now = now or utcnow()
    proposal = _lock(db_session, proposal_id)
    if proposal.status == ProposalStatus.closed:
        raise ProposalClosed(f"Voting closed at {_when(proposal.closed_at)}.")
    if proposal.closes_at <= now:
        _close(db_session, proposal, actor=SYSTEM_ACTOR, now=now, request_id=request_id)
        raise ProposalClosedNow(f"Voting closed at {_when(proposal.closes_at)}.")
    if person_id is None:
        raise NotEligible("Only members of the fund's households vote; staff and tills do not.")
    voter = db_session.get(ProposalVoter, (proposal.id, person_id))
    if voter is None:
        raise NotEligible(
            "You are not on this proposal's roll: it holds the adults of the fund's active"
            " households (or its committee) when the proposal opened."
        )
    replaced = ballots.cast(
        db_session,
        voter=voter,
        choice=choice,
        secret_ballot=proposal.secret_ballot,
        secret_keys=secret_keys,
    )
    # A secret ballot's choice never reaches the log, nor whether it changed: that the
    # person voted is written once, at their first vote.
    if not (proposal.secret_ballot and replaced):
        record(
            db_session=db_session,
            actor=actor,
            action="proposal.vote",
            target_type="proposal",
            target_id=proposal.id,
            fund_id=proposal.fund_id,
            after=None
            if proposal.secret_ballot
            else {"choice": choice.value, "replaced": replaced},
            request_id=request_id,
        )
    return Receipt(proposal=proposal, replaced=replaced)


# --- Closing ------------------------------------------------------------------------


def close_proposal(
    *,
    db_session: Session,
    proposal_id: uuid.UUID,
    actor: str,
    now: datetime | None = None,
    request_id: str | None = None,
) -> tuple[Proposal, bool]:
    """Close the proposal (idempotent); True when this call closed it.

    Two closes at once (two timers, a timer and a coordinator): the second waits for the
    first one's row lock, then finds the proposal closed and does nothing.
    """
    now = now or utcnow()
    proposal = _lock(db_session, proposal_id)
    if proposal.status == ProposalStatus.closed:
        return proposal, False
    _close(db_session, proposal, actor=actor, now=now, request_id=request_id)
    return proposal, True


def close_if_due(
    *, db_session: Session, proposal_id: uuid.UUID, now: datetime | None = None
) -> bool:
    """Close the proposal if its window has passed and nobody closed it yet."""
    now = now or utcnow()
    proposal = _lock(db_session, proposal_id)
    if not is_due(proposal, now):
        return False
    _close(db_session, proposal, actor=SYSTEM_ACTOR, now=now, request_id=None)
    return True


def due_proposal_ids(
    *, db_session: Session, now: datetime, fund_id: uuid.UUID | None = None
) -> list[uuid.UUID]:
    query = select(Proposal.id).where(
        col(Proposal.status) == ProposalStatus.open.value, col(Proposal.closes_at) <= now
    )
    if fund_id is not None:
        query = query.where(col(Proposal.fund_id) == fund_id)
    return list(db_session.exec(query.order_by(col(Proposal.closes_at), col(Proposal.id))).all())


def _close(
    db_session: Session, proposal: Proposal, *, actor: str, now: datetime, request_id: str | None
) -> None:
    """Count, decide, erase the ballots' tokens and, when adopted, enact (caller holds the lock)."""
    counted = ballots.tally(db_session, proposal.id)
    result = result_of(
        eligible=proposal.eligible_voters,
        yes=counted[Choice.yes],
        no=counted[Choice.no],
        abstain=counted[Choice.abstain],
        quorum_percent=proposal.quorum_percent,
        approval_percent=proposal.approval_percent,
    )
    ballots.unlink(db_session, proposal.id)
    proposal.status = ProposalStatus.closed
    proposal.open_outlet_id = None
    proposal.result = result
    proposal.yes_count = counted[Choice.yes]
    proposal.no_count = counted[Choice.no]
    proposal.abstain_count = counted[Choice.abstain]
    proposal.closed_at = now
    proposal.closed_by = actor
    enacted = result == ProposalResult.adopted and _enact(
        db_session, proposal, actor=actor, request_id=request_id
    )
    if enacted:
        proposal.enacted_at = now
    db_session.add(proposal)
    db_session.flush()
    record(
        db_session=db_session,
        actor=actor,
        action="proposal.close",
        target_type="proposal",
        target_id=proposal.id,
        fund_id=proposal.fund_id,
        before={"status": ProposalStatus.open.value},
        after={
            "status": ProposalStatus.closed.value,
            "result": result.value,
            "tally": {choice.value: count for choice, count in counted.items()},
            "eligible_voters": proposal.eligible_voters,
            "enacted": enacted,
        },
        request_id=request_id,
    )


def _enact(db_session: Session, proposal: Proposal, *, actor: str, request_id: str | None) -> bool:
    """Change the outlet's status as adopted (payments follow it at once); False when the
    outlet's status no longer allows it (a meeting decided otherwise in the meantime)."""
    kind = ProposalKind(proposal.kind)
    effect = EFFECTS[kind]
    standing = db_session.exec(
        select(OutletFund)
        .where(
            col(OutletFund.outlet_id) == proposal.outlet_id,
            col(OutletFund.fund_id) == proposal.fund_id,
        )
        .with_for_update()
    ).first()
    status = _status(standing.status) if standing is not None else None
    if status not in effect.applies_to:
        record(
            db_session=db_session,
            actor=actor,
            action="proposal.not_enacted",
            target_type="proposal",
            target_id=proposal.id,
            fund_id=proposal.fund_id,
            after={"outlet_status": status.value if status else None},
            request_id=request_id,
        )
        return False
    set_status(
        db_session=db_session,
        fund_id=proposal.fund_id,
        outlet_id=proposal.outlet_id,
        status=effect.becomes,
        actor=actor,
        decision_reference=f"Assembly vote: {proposal.title}"[:200],
        proposal_id=proposal.id,
        request_id=request_id,
    )
    record(
        db_session=db_session,
        actor=actor,
        action="proposal.enact",
        target_type="proposal",
        target_id=proposal.id,
        fund_id=proposal.fund_id,
        before={"outlet_status": status.value if status else None},
        after={"outlet_id": proposal.outlet_id, "outlet_status": effect.becomes.value},
        request_id=request_id,
    )
    return True
