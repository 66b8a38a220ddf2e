"""Registering and changing households, PINs, and what a household sees of its credits."""

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from ssa.audit.service import record
from ssa.auth.service import EmailTaken, create_user, find_user_by_email, invite
from ssa.funds.models import FundPolicy
from ssa.funds.service import current_period, fund_today, get_fund, policy_for
from ssa.households import rules
from ssa.households.dues import change_chosen_contribution
from ssa.households.models import Household, HouseholdStatus, Person
from ssa.households.numbers import next_member_number
from ssa.households.schemas import AddressIn, DeclaredIn, HouseholdIn, HouseholdPatch, PersonIn
from ssa.issuance import periods as months
from ssa.issuance.models import HouseholdIssuance
from ssa.ledger.models import AccountKind
from ssa.ledger.service import open_account
from ssa.problems import Conflict, InvalidInput, NotFound, Problem
from ssa.settings import Settings
from ssa.timeutil import utcnow


class HouseholdNotFound(NotFound):
    title = "No such household"


class ContributionBelowMinimum(Problem):
    status = 422
    code = "contribution_below_minimum"
    title = "The chosen contribution is below the minimum"


class HouseholdLeft(Conflict):
    code = "household_left"
    title = "This household has left the fund"


class PersonNotInHousehold(InvalidInput):
    title = "A person given by id is not of this household"
    loc = ("body", "persons")


@dataclass(frozen=True)
class Assessment:
    """What the policy says of a household for a period."""

    period: str
    allowance: rules.Allowance
    minimum_cents: int
    recommended_cents: int
    floor_cents: int


def members_of(persons: list[Person]) -> list[rules.Member]:
    return [rules.Member(person_id=str(p.id), birth_date=p.birth_date) for p in persons]


def current_persons(db_session: Session, household_id: uuid.UUID) -> list[Person]:
    return list(
        db_session.exec(
            select(Person)
            .where(col(Person.household_id) == household_id, col(Person.left_on).is_(None))
            .order_by(col(Person.birth_date), col(Person.id))
        ).all()
    )


def assess(
    policy: FundPolicy, members: list[rules.Member], declared: DeclaredIn, period: str
) -> Assessment:
    minimum = rules.contribution_minimum(policy, len(members))
    recommended = rules.contribution_recommended(
        policy,
        members,
        income_cents=declared.monthly_income_cents,
        housing_cents=declared.housing_costs_cents,
        other_fixed_cents=declared.other_fixed_costs_cents,
        day=rules.period_start(period),
    )
    return Assessment(
        period=period,
        allowance=rules.allowance(policy, members, period),
        minimum_cents=minimum,
        recommended_cents=recommended,
        floor_cents=rules.contribution_floor(policy, minimum, recommended),
    )


def declared_of(household: Household) -> DeclaredIn:
    return DeclaredIn(
        monthly_income_cents=household.monthly_income_cents,
        housing_costs_cents=household.housing_costs_cents,
        other_fixed_costs_cents=household.other_fixed_costs_cents,
        food_budget_cents=household.food_budget_cents,
    )


def address_of(household: Household) -> AddressIn:
    return AddressIn(
        line1=household.address_line1, postcode=household.postcode, city=household.city
    )


def allowance_period(db_session: Session, household: Household) -> str:
    """The first month, from this one, not yet issued to the household: the one a change
    of composition applies from."""
    period = current_period()
    issued = set(
        db_session.connection()
        .execute(
            select(col(HouseholdIssuance.period)).where(
                col(HouseholdIssuance.household_id) == household.id,
                col(HouseholdIssuance.period) >= period,
            )
        )
        .scalars()
    )
    while period in issued:
        period = months.shift(period, 1)
    return period


def assess_household(
    db_session: Session, household: Household, period: str | None = None
) -> Assessment:
    """The allowance and contributions for `period`, by default the first month not yet
    issued (a month issued keeps what it was issued with)."""
    period = period or allowance_period(db_session, household)
    policy = policy_for(db_session=db_session, fund_id=household.fund_id, period=period)
    members = members_of(current_persons(db_session, household.id))
    return assess(policy, members, declared_of(household), period)


def _check_contribution(assessment: Assessment, chosen_cents: int) -> None:
    if chosen_cents < assessment.floor_cents:
        raise ContributionBelowMinimum(
            f"The contribution must be at least {assessment.floor_cents} cents a month.",
            minimum_cents=assessment.floor_cents,
        )


def _add_person(
    db_session: Session, *, household: Household, person_in: PersonIn, settings: Settings
) -> tuple[Person, str | None]:
    """A person; with an email, a user and a one-time invitation token."""
    person = Person(
        household_id=household.id,
        fund_id=household.fund_id,
        given_name=person_in.given_name,
        family_name=person_in.family_name,
        birth_date=person_in.birth_date,
        email=str(person_in.email).lower() if person_in.email else None,
    )
    token = None
    if person_in.email:
        user = find_user_by_email(db_session=db_session, email=str(person_in.email))
        if user is None:
            user = create_user(
                db_session=db_session,
                email=str(person_in.email),
                display_name=f"{person_in.given_name} {person_in.family_name}",
            )
            token = invite(db_session=db_session, user=user, settings=settings)
        else:
            _take_over_login(db_session, user_id=user.id, email=str(person.email))
        person.user_id = user.id
    db_session.add(person)
    db_session.flush()
    return person, token


def _take_over_login(db_session: Session, *, user_id: uuid.UUID, email: str) -> None:
    """An existing login joins a new person only when it is a member's who left their
    household, or whose household left the fund (moving out, a separation, coming back):
    the login follows them, and the person who left
    stays in history without it. Any other account (a member of a household, the fund's
    staff, an outlet's cashier) is refused: a mistyped email must not hand a stranger the
    household's identity, income and PIN."""
    rows = db_session.exec(
        select(Person, Household.status)
        .join(Household, col(Household.id) == col(Person.household_id))
        .where(col(Person.user_id) == user_id)
    ).all()
    persons = [person for person, _ in rows]
    still_there = [
        person
        for person, status in rows
        if person.left_on is None and HouseholdStatus(status) != HouseholdStatus.left
    ]
    if not persons or still_there:
        raise EmailTaken(
            f"{email} is already the login of another account: leave the email out, or give"
            " the person's own address.",
            email=email,
        )
    for former in persons:
        former.user_id = None
        db_session.add(former)
    db_session.flush()


def register(
    *,
    db_session: Session,
    fund_id: uuid.UUID,
    household_in: HouseholdIn,
    actor: str,
    settings: Settings,
    request_id: str | None = None,
    today: date | None = None,
) -> tuple[Household, dict[uuid.UUID, str]]:
    """Register a household; returns it and the invitation tokens of its persons."""
    fund = get_fund(db_session=db_session, fund_id=fund_id)
    period = current_period()
    policy = policy_for(db_session=db_session, fund_id=fund.id, period=period)
    draft = [
        rules.Member(person_id=str(i), birth_date=p.birth_date)
        for i, p in enumerate(household_in.persons)
    ]
    _check_contribution(
        assess(policy, draft, household_in.declared, period),
        household_in.chosen_contribution_cents,
    )
    household_id = uuid.uuid4()
    joined_on = today or fund_today()
    account = open_account(
        db_session=db_session,
        fund_id=fund.id,
        kind=AccountKind.household_credits,
        reference=str(household_id),
    )
    declared = household_in.declared
    household = Household(
        id=household_id,
        fund_id=fund.id,
        member_number=next_member_number(db_session=db_session, slug=fund.slug),
        address_line1=household_in.address.line1,
        postcode=household_in.address.postcode,
        city=household_in.address.city,
        monthly_income_cents=declared.monthly_income_cents,
        housing_costs_cents=declared.housing_costs_cents,
        other_fixed_costs_cents=declared.other_fixed_costs_cents,
        food_budget_cents=declared.food_budget_cents,
        chosen_contribution_cents=household_in.chosen_contribution_cents,
        account_id=account.id,
        joined_on=joined_on,
        joined_period=joined_on.strftime("%Y-%m"),
    )
    db_session.add(household)
    db_session.flush()
    tokens = {}
    for person_in in household_in.persons:
        person, token = _add_person(
            db_session, household=household, person_in=person_in, settings=settings
        )
        if token:
            tokens[person.id] = token
    record(
        db_session=db_session,
        actor=actor,
        action="household.register",
        target_type="household",
        target_id=household.id,
        fund_id=fund.id,
        # Identity and income stay out of the log: auditors read it.
        after={"member_number": household.member_number, "persons": len(household_in.persons)},
        request_id=request_id,
    )
    return household, tokens


def get_household(*, db_session: Session, household_id: uuid.UUID) -> Household:
    household = db_session.get(Household, household_id)
    if household is None:
        raise HouseholdNotFound()
    return household


def update(
    *,
    db_session: Session,
    household: Household,
    patch: HouseholdPatch,
    actor: str,
    settings: Settings,
    request_id: str | None = None,
) -> dict[uuid.UUID, str]:
    """Change composition, resources, contribution or status; the allowance follows
    from the next period not yet issued (issuance reads the composition when it runs)."""
    # Leaving is final: nothing of a household that left changes any more.
    if household.status == HouseholdStatus.left:
        raise HouseholdLeft()
    changed = sorted(patch.model_fields_set)
    # The column reads back as a plain string: the enum is rebuilt for the log.
    before = {"status": HouseholdStatus(household.status).value}
    tokens: dict[uuid.UUID, str] = {}
    if patch.persons is not None:
        tokens = _recompose(
            db_session, household=household, persons=patch.persons, settings=settings
        )
    if patch.address is not None:
        household.address_line1 = patch.address.line1
        household.postcode = patch.address.postcode
        household.city = patch.address.city
    if patch.declared is not None:
        household.monthly_income_cents = patch.declared.monthly_income_cents
        household.housing_costs_cents = patch.declared.housing_costs_cents
        household.other_fixed_costs_cents = patch.declared.other_fixed_costs_cents
        household.food_budget_cents = patch.declared.food_budget_cents
    if patch.chosen_contribution_cents is not None:
        change_chosen_contribution(
            db_session, household=household, cents=patch.chosen_contribution_cents, actor=actor
        )
    if patch.status is not None:
        household.status = patch.status
    db_session.add(household)
    db_session.flush()
    if {"persons", "declared", "chosen_contribution_cents"} & set(changed):
        _check_contribution(
            assess_household(db_session, household), household.chosen_contribution_cents
        )
    record(
        db_session=db_session,
        actor=actor,
        action="household.update",
        target_type="household",
        target_id=household.id,
        fund_id=household.fund_id,
        before=before,
        after={"status": HouseholdStatus(household.status).value, "changed": changed},
        request_id=request_id,
    )
    return tokens


def _recompose(
    db_session: Session, *, household: Household, persons: list[PersonIn], settings: Settings
) -> dict[uuid.UUID, str]:
    existing = {p.id: p for p in current_persons(db_session, household.id)}
    kept = {p.id for p in persons if p.id is not None}
    if not kept <= set(existing):
        raise PersonNotInHousehold()
    tokens = {}
    for person_id, person in existing.items():
        if person_id not in kept:
            person.left_on = fund_today()
            db_session.add(person)
    for person_in in persons:
        if person_in.id is None:
            person, token = _add_person(
                db_session, household=household, person_in=person_in, settings=settings
            )
            if token:
                tokens[person.id] = token
            continue
        person = existing[person_in.id]
        person.given_name = person_in.given_name
        person.family_name = person_in.family_name
        person.birth_date = person_in.birth_date
        db_session.add(person)
    db_session.flush()
    return tokens


def list_households(
    *,
    db_session: Session,
    fund_id: uuid.UUID,
    status: HouseholdStatus | None,
    q: str | None,
    limit: int,
    after_member_number: str | None,
) -> list[Household]:
    query = select(Household).where(col(Household.fund_id) == fund_id)
    if status is not None:
        query = query.where(col(Household.status) == status.value)
    if q:
        like = f"%{q.strip().lower()}%"
        matching = select(Person.household_id).where(
            or_(
                func.lower(col(Person.family_name)).like(like),
                func.lower(col(Person.given_name)).like(like),
                func.lower(col(Person.email)).like(like),
            )
        )
        query = query.where(
            or_(
                func.lower(col(Household.member_number)).like(like),
                col(Household.id).in_(matching),
            )
        )
    if after_member_number is not None:
        query = query.where(col(Household.member_number) > after_member_number)
    return list(db_session.exec(query.order_by(col(Household.member_number)).limit(limit)).all())


# --- PINs ----------------------------------------------------------------------------


def pin_digest(secret_key: str, salt: str, pin: str) -> str:
    """HMAC-SHA256 keyed by the server secret: microseconds to check, useless if stolen
    without the key (a 4-digit PIN has too few values for a slow hash to help)."""
    key = hashlib.sha256(f"ssa pin v1:{secret_key}".encode()).digest()
    return hmac.new(key, f"{salt}:{pin}".encode(), hashlib.sha256).hexdigest()


class PinHolder(Protocol):
    """A household's PIN as stored (a Household, or what the till reads of one)."""

    @property
    def pin_hash(self) -> str | None: ...

    @property
    def pin_salt(self) -> str | None: ...


def pin_matches(secret_key: str, household: PinHolder, pin: str) -> bool:
    if household.pin_hash is None or household.pin_salt is None:
        return False
    return hmac.compare_digest(pin_digest(secret_key, household.pin_salt, pin), household.pin_hash)


def set_pin(
    *,
    db_session: Session,
    household: Household,
    pin: str,
    settings: Settings,
    actor: str,
    request_id: str | None = None,
) -> None:
    salt = secrets.token_hex(16)
    household.pin_salt = salt
    household.pin_hash = pin_digest(settings.secret_key, salt, pin)
    household.pin_failures = 0
    household.pin_locked_until = None
    db_session.add(household)
    db_session.flush()
    record(
        db_session=db_session,
        actor=actor,
        action="household.pin.set",
        target_type="household",
        target_id=household.id,
        fund_id=household.fund_id,
        request_id=request_id,
    )


def unlock_pin(
    *, db_session: Session, household: Household, actor: str, request_id: str | None = None
) -> None:
    before = {
        "pin_failures": household.pin_failures,
        "pin_locked_until": household.pin_locked_until,
    }
    household.pin_failures = 0
    household.pin_locked_until = None
    db_session.add(household)
    db_session.flush()
    record(
        db_session=db_session,
        actor=actor,
        action="household.pin.unlock",
        target_type="household",
        target_id=household.id,
        fund_id=household.fund_id,
        before=before,
        after={"pin_failures": 0, "pin_locked_until": None},
        request_id=request_id,
    )


def pin_locked(household: Household, now: datetime | None = None) -> bool:
    return household.pin_locked_until is not None and household.pin_locked_until > (now or utcnow())
