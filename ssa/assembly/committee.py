"""Committees drawn by lot from the fund's adults, stratified by income band and household
size, and the rule that makes a fund work with one (docs/assembly.md, "Committee")."""

import uuid
from collections import defaultdict
from datetime import date, datetime

from sqlmodel import Session, col, select

from ssa.assembly import lottery
from ssa.assembly.models import CommitteeDraw
from ssa.assembly.rules import adult_born_on_or_before
from ssa.assembly.schemas import STRATA, CommitteeDrawIn
from ssa.assembly.service import committee_in_force, fund_day
from ssa.audit.service import record
from ssa.funds.models import Fund, FundPolicy
from ssa.funds.service import get_fund, policy_for
from ssa.households import rules
from ssa.households.models import Household, HouseholdStatus, Person
from ssa.problems import Conflict, NotFound
from ssa.timeutil import utcnow


class CommitteeTooLarge(Conflict):
    code = "committee_too_large"
    title = "The committee would have more seats than the fund has adults"


class CommitteeDrawNotFound(NotFound):
    title = "No such committee draw"


def income_band(
    policy: FundPolicy, household: Household, members: list[rules.Member], day: date
) -> int:
    """The bracket (1, 2...) of the fund's contribution scale that the household's
    disposable income per consumption unit falls in."""
    disposable = rules.disposable_income(
        household.monthly_income_cents,
        household.housing_costs_cents,
        household.other_fixed_costs_cents,
    )
    units = rules.consumption_units_tenths(members, day)
    per_unit = disposable * 10 // units if units else disposable
    scale = policy.contribution_scale
    for index, bracket in enumerate(scale, start=1):
        bound = bracket["up_to_cents"]
        if bound is None or per_unit <= bound:
            return index
    return len(scale)


def size_class(persons: int) -> str:
    return "4+" if persons >= 4 else str(persons)


def stratum_label(strata: list[str], band: int, persons: int) -> str:
    parts = []
    if "income_band" in strata:
        parts.append(f"income_band={band}")
    if "household_size" in strata:
        parts.append(f"household_size={size_class(persons)}")
    return ";".join(parts) or "all"


def committee_roll(
    db_session: Session, fund_id: uuid.UUID, day: date, strata: list[str]
) -> list[tuple[str, str]]:
    """The adults (18+ on `day`) of the fund's active households, each with the stratum
    of their household, sorted by person id."""
    policy = policy_for(db_session=db_session, fund_id=fund_id, period=day.strftime("%Y-%m"))
    rows = db_session.exec(
        select(Person, Household)
        .join(Household, col(Household.id) == col(Person.household_id))
        .where(
            col(Household.fund_id) == fund_id,
            col(Household.status) == HouseholdStatus.active.value,
            col(Person.left_on).is_(None),
        )
    ).all()
    persons: dict[uuid.UUID, list[Person]] = defaultdict(list)
    households: dict[uuid.UUID, Household] = {}
    for person, household in rows:
        persons[household.id].append(person)
        households[household.id] = household
    cutoff = adult_born_on_or_before(day)
    roll: list[tuple[str, str]] = []
    for household_id, members in persons.items():
        household = households[household_id]
        band = income_band(
            policy,
            household,
            [rules.Member(person_id=str(p.id), birth_date=p.birth_date) for p in members],
            day,
        )
        label = stratum_label(strata, band, len(members))
        roll.extend((str(p.id), label) for p in members if p.birth_date <= cutoff)
    return lottery.canonical_roll(roll)


def draw_committee(
    *,
    db_session: Session,
    fund_id: uuid.UUID,
    draw_in: CommitteeDrawIn,
    actor: str,
    now: datetime | None = None,
    request_id: str | None = None,
) -> CommitteeDraw:
    """Draw a committee from the current adults with the published seed, store the roll
    that replays it, and (unless `in_force` is false) make it the fund's committee."""
    now = now or utcnow()
    get_fund(db_session=db_session, fund_id=fund_id)
    # One draw at a time per fund: the committee in force changes under this lock.
    db_session.exec(select(Fund).where(col(Fund.id) == fund_id).with_for_update()).one()
    day = fund_day(now)
    asked = STRATA if draw_in.strata is None else draw_in.strata
    strata = [name for name in STRATA if name in asked]
    roll = committee_roll(db_session, fund_id, day, strata)
    if draw_in.size > len(roll):
        raise CommitteeTooLarge(
            f"The fund has {len(roll)} adults in active households.", roll_size=len(roll)
        )
    drawn = lottery.draw(draw_in.seed, draw_in.size, roll)
    previous = committee_in_force(db_session, fund_id) if draw_in.in_force else None
    if previous is not None:
        _end(db_session, previous, actor=actor, now=now, request_id=request_id)
    draw = CommitteeDraw(
        fund_id=fund_id,
        seed=draw_in.seed,
        size=draw_in.size,
        algorithm=lottery.ALGORITHM,
        strata=strata,
        drawn_on=day,
        roll=[[person_id, stratum] for person_id, stratum in roll],
        roll_size=len(roll),
        roll_sha256=lottery.roll_digest(roll),
        allocation=[
            {"stratum": s.stratum, "roll": s.roll, "seats": s.seats} for s in drawn.allocation
        ],
        person_ids=drawn.person_ids,
        in_force_fund_id=fund_id if draw_in.in_force else None,
        drawn_by=actor,
        drawn_at=now,
    )
    db_session.add(draw)
    db_session.flush()
    record(
        db_session=db_session,
        actor=actor,
        action="committee.draw",
        target_type="committee_draw",
        target_id=draw.id,
        fund_id=fund_id,
        after={
            "seed": draw.seed,
            "size": draw.size,
            "algorithm": draw.algorithm,
            "strata": strata,
            "roll_size": draw.roll_size,
            "roll_sha256": draw.roll_sha256,
            "person_ids": draw.person_ids,
            "in_force": draw_in.in_force,
            "replaces": previous.id if previous is not None else None,
        },
        request_id=request_id,
    )
    return draw


def _end(
    db_session: Session, draw: CommitteeDraw, *, actor: str, now: datetime, request_id: str | None
) -> None:
    draw.in_force_fund_id = None
    draw.ended_at = now
    draw.ended_by = actor
    db_session.add(draw)
    db_session.flush()
    record(
        db_session=db_session,
        actor=actor,
        action="committee.end",
        target_type="committee_draw",
        target_id=draw.id,
        fund_id=draw.fund_id,
        request_id=request_id,
    )


def get_draw(*, db_session: Session, draw_id: uuid.UUID) -> CommitteeDraw:
    draw = db_session.get(CommitteeDraw, draw_id)
    if draw is None:
        raise CommitteeDrawNotFound()
    return draw


def end_committee(
    *,
    db_session: Session,
    draw_id: uuid.UUID,
    actor: str,
    now: datetime | None = None,
    request_id: str | None = None,
) -> CommitteeDraw:
    """The fund stops working with this committee (idempotent): later proposals have all
    the adults of its active households as their roll again."""
    draw = get_draw(db_session=db_session, draw_id=draw_id)
    db_session.exec(select(Fund).where(col(Fund.id) == draw.fund_id).with_for_update()).one()
    db_session.refresh(draw)
    if draw.in_force_fund_id is not None:
        _end(db_session, draw, actor=actor, now=now or utcnow(), request_id=request_id)
    return draw


def list_draws(
    *,
    db_session: Session,
    fund_id: uuid.UUID,
    limit: int,
    before: tuple[datetime, uuid.UUID] | None,
) -> list[CommitteeDraw]:
    get_fund(db_session=db_session, fund_id=fund_id)
    query = select(CommitteeDraw).where(col(CommitteeDraw.fund_id) == fund_id)
    if before is not None:
        at, last_id = before
        query = query.where(
            (col(CommitteeDraw.drawn_at) < at)
            | ((col(CommitteeDraw.drawn_at) == at) & (col(CommitteeDraw.id) < last_id))
        )
    query = query.order_by(col(CommitteeDraw.drawn_at).desc(), col(CommitteeDraw.id).desc())
    return list(db_session.exec(query.limit(limit)).all())
