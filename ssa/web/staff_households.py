"""Households and their contributions, for the fund's staff: search and registration, a
household's page with its status and contributions (coordinator), each period's
contributions (treasurer, coordinator, auditor), recording a contribution (treasurer,
once per form) and waiving one for hardship (coordinator).

The pages call the services of the API's household and contribution routes, with their
roles: households are the coordinator's (income and identity are theirs to see), the
contributions list is the fund staff's, money is the treasurer's.
"""

import re
import uuid
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import EmailStr, TypeAdapter, ValidationError
from sqlmodel import Session, col, select
from starlette.datastructures import FormData

from ssa.auth.deps import DbSession
from ssa.auth.roles import Role
from ssa.funds.service import current_period, fund_today, policy_for
from ssa.households import contributions, direct_debit, rules, service, views
from ssa.households.models import (
    Contribution,
    ContributionMethod,
    Household,
    HouseholdStatus,
    Person,
)
from ssa.households.schemas import (
    AddressIn,
    ContributionCorrectionIn,
    ContributionIn,
    ContributionOut,
    DeclaredIn,
    HouseholdIn,
    HouseholdPatch,
    PersonIn,
    WaiverIn,
    WaiverOut,
)
from ssa.pagination import decode_cursor, encode_cursor
from ssa.problems import Conflict
from ssa.web.access import CurrentViewer, MonthRefused, PageNotFound
from ssa.web.forms import (
    Refused,
    attempt,
    euros_input,
    new_form_key,
    parse_euros,
    problem_message,
    valid_form_key,
)
from ssa.web.i18n import Texts, texts_for
from ssa.web.render import download, flash, render
from ssa.web.staff_common import (
    CONTRIBUTION_METHODS,
    CONTRIBUTION_STATUSES,
    HOUSEHOLD_STATUSES,
    PAGE_SIZE,
    STAFF_ROLES,
    Desk,
    PostedForm,
    chosen_period,
    label,
    once,
    open_desk,
    page_context,
    recent_periods,
    staff_router,
    valid_period,
)

router: APIRouter = staff_router()

MAX_PERSONS = 20  # as the API
MAX_RESOURCE_CENTS = 100_000_000_00  # as the API's `Cents`
MAX_CONTRIBUTION_CENTS = 100_000_00  # as the API's `ContributionIn`
HISTORY_PERIODS = 6  # contributions shown on a household's page
EMAIL = TypeAdapter(EmailStr)
_PERSON_ROW = re.compile(r"p(\d{1,3})-given_name")
_PERSON_FIELDS = ("given_name", "family_name", "birth_date", "email")
_ANY_PERSON_FIELD = re.compile(r"p\d+-.*")


def _household(db_session: Session, desk: Desk, household_id: uuid.UUID) -> Household:
    household = db_session.get(Household, household_id)
    if household is None or household.fund_id != desk.fund.id:
        raise PageNotFound()
    return household


# --- Search and list ------------------------------------------------------------------


@router.get("/{slug}/households", name="staff_households")
def households(
    slug: str,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
    q: str = "",
    status: str = "",
    cursor: str = "",
) -> Response:
    """Find a household by member number, name or email (the API's search, coordinator)."""
    t = texts_for(request)
    desk = open_desk(db_session, viewer, slug, Role.coordinator)
    q = q.strip()[:100]
    wanted = HouseholdStatus(status) if status in HouseholdStatus.__members__ else None
    after = attempt(db_session, lambda: decode_cursor(cursor or None, 1))
    if isinstance(after, Refused):
        after, cursor = None, ""
    rows = service.list_households(
        db_session=db_session,
        fund_id=desk.fund.id,
        status=wanted,
        q=q or None,
        limit=PAGE_SIZE + 1,
        after_member_number=str(after[0]) if after else None,
    )
    items = []
    for household in rows[:PAGE_SIZE]:
        persons = service.current_persons(db_session, household.id)
        items.append(
            {
                "id": household.id,
                "member_number": household.member_number,
                "names": ", ".join(sorted({p.family_name for p in persons})),
                "persons": len(persons),
                "status": label(t, HOUSEHOLD_STATUSES, household.status),
                "status_code": str(household.status),
            }
        )
    next_cursor = (
        encode_cursor(rows[PAGE_SIZE - 1].member_number) if len(rows) > PAGE_SIZE else None
    )
    return render(
        request,
        "staff/households.html",
        page_context(
            desk,
            "households",
            items=items,
            q=q,
            status=wanted.value if wanted else "",
            statuses=[(s.value, label(t, HOUSEHOLD_STATUSES, s)) for s in HouseholdStatus],
            next_cursor=next_cursor,
            first_page=not cursor,
        ),
    )


# --- Registration ---------------------------------------------------------------------


def _blank_person() -> dict[str, str]:
    return {"given_name": "", "family_name": "", "birth_date": "", "email": ""}


def _registration(
    request: Request,
    desk: Desk,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    assessment: dict[str, Any] | None = None,
    form_key: str | None = None,
    status: int = 200,
) -> Response:
    values = values or {
        "persons": [_blank_person()],
        "line1": "",
        "postcode": "",
        "city": "",
        "income": "",
        "housing": "",
        "other_fixed": "",
        "food_budget": "",
        "chosen": "",
    }
    return render(
        request,
        "staff/household_new.html",
        page_context(
            desk,
            "households",
            values=values,
            errors=errors or {},
            error=error,
            assessment=assessment,
            form_key=form_key or new_form_key(),
            max_persons=MAX_PERSONS,
        ),
        status=status,
    )


@router.get("/{slug}/households/new", name="staff_household_new")
def household_new(
    slug: str, request: Request, db_session: DbSession, viewer: CurrentViewer
) -> Response:
    desk = open_desk(db_session, viewer, slug, Role.coordinator)
    return _registration(request, desk)


def _read_registration(
    t: Texts, form: FormData
) -> tuple[dict[str, Any], dict[str, str], HouseholdIn | None, list[PersonIn]]:
    """The form as typed, its errors by field, and the household when it is complete."""

    def text(name: str) -> str:  # never cut: what is too long is refused
        value = form.get(name, "")
        return value.strip() if isinstance(value, str) else ""

    values: dict[str, Any] = {
        "persons": [],
        **{
            name: text(name)
            for name in (
                "line1",
                "postcode",
                "city",
                "income",
                "housing",
                "other_fixed",
                "food_budget",
                "chosen",
            )
        },
    }
    errors: dict[str, str] = {}
    persons = _read_persons(t, form, values["persons"], errors)
    if not values["persons"]:
        values["persons"].append(_blank_person())
    cents = _read_address_and_money(t, values, errors)
    if "chosen" in errors and not values["chosen"]:
        errors["chosen"] = t.gettext("Choose the monthly contribution, in euros.")
    declared = _declared(cents)
    if errors or declared is None:
        return values, errors, None, persons
    household_in = HouseholdIn(
        persons=persons,
        address=AddressIn(line1=values["line1"], postcode=values["postcode"], city=values["city"]),
        declared=declared,
        chosen_contribution_cents=cents["chosen"],
    )
    return values, errors, household_in, persons


def _read_persons(
    t: Texts,
    form: FormData,
    rows: list[dict[str, str]],
    errors: dict[str, str],
    existing: dict[str, Person] | None = None,
) -> list[PersonIn]:
    """The persons' rows typed in `form` (`p<i>-given_name`...): each row as typed goes in
    `rows` (renumbered without the blank ones), its errors in `errors` (`persons`: too
    many), and the persons written correctly are returned.

    With `existing` (changing a composition), a row may name a person (`p<i>-id`; the
    email is not changed here) and say that person has left (`p<i>-left`: not checked,
    not returned). A row naming someone who is not (or no longer) of the household is
    dropped if it says the person left, and else returned with that id, for the service
    to refuse: the page was older than the household."""

    def text(name: str) -> str:  # never cut: what is too long is refused
        value = form.get(name, "")
        return value.strip() if isinstance(value, str) else ""

    numbers = sorted(
        {int(m.group(1)) for key in form if (m := _PERSON_ROW.fullmatch(key)) is not None}
    )[: 2 * MAX_PERSONS]
    # Every person's field sent must belong to a row read here: a row the page does not
    # know (`p99999-given_name`, `p1-nickname`, a row without its name) is refused, not
    # left out of the household silently.
    names = _PERSON_FIELDS + (("id", "left") if existing is not None else ())
    read_here = {f"p{index}-{name}" for index in numbers for name in names}
    if any(_ANY_PERSON_FIELD.fullmatch(key) and key not in read_here for key in form):
        errors["persons"] = t.gettext(
            "This form holds a person's row the page does not know: nothing was saved."
            " Check the persons and send it again."
        )
    persons: list[PersonIn] = []
    named: set[uuid.UUID] = set()
    for index in numbers:
        typed = {name: text(f"p{index}-{name}") for name in _PERSON_FIELDS}
        person_id: uuid.UUID | None = None
        if existing is not None and (given := text(f"p{index}-id")):
            left = bool(form.get(f"p{index}-left"))
            known = existing.get(given)
            try:
                person_id = uuid.UUID(given)
            except ValueError:
                person_id = uuid.uuid4()  # no one: refused as not of the household
            if known is None and left:
                continue  # gone already
            typed.update(id=str(person_id), email=(known.email or "") if known else "")
            typed["left"] = "1" if left else ""
        elif not any(typed.values()) and (index > 0 or existing is not None):
            continue  # a row left blank
        position = len(rows)
        rows.append(typed)
        prefix = f"p{position}-"
        if person_id is not None and person_id in named:
            errors[prefix + "given_name"] = t.gettext("This person is listed twice.")
            continue
        if person_id is not None:
            named.add(person_id)
        if typed.get("left"):
            continue
        try:
            born = date.fromisoformat(typed["birth_date"])
        except ValueError:
            errors[prefix + "birth_date"] = t.gettext(
                "Type the date of birth, for example 1984-03-21."
            )
            born = None
        for name in ("given_name", "family_name"):
            if not typed[name]:
                errors[prefix + name] = t.gettext("This is needed.")
            elif len(typed[name]) > 100:
                errors[prefix + name] = t.gettext("At most 100 characters.")
        if typed["email"] and person_id is None:
            try:
                EMAIL.validate_python(typed["email"])
            except ValidationError:
                errors[prefix + "email"] = t.gettext("This email address is not valid.")
        if born is None or any(key.startswith(prefix) for key in errors):
            continue
        try:
            persons.append(
                PersonIn(
                    id=person_id,
                    given_name=typed["given_name"],
                    family_name=typed["family_name"],
                    birth_date=born,
                    email=(typed["email"] or None) if person_id is None else None,
                )
            )
        except ValidationError as exc:
            fields = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
            if "birth_date" in fields:
                errors[prefix + "birth_date"] = t.gettext("A date of birth between 1900 and today.")
    if sum(1 for row in rows if not row.get("left")) > MAX_PERSONS:
        errors["persons"] = t.gettext(
            "At most %(count)s persons live in a household.", count=MAX_PERSONS
        )
        del persons[MAX_PERSONS:]
    return persons


def _read_address_and_money(
    t: Texts, values: dict[str, Any], errors: dict[str, str]
) -> dict[str, int]:
    """Check the address typed in `values` and read its amounts (resources and the chosen
    contribution) as cents; what is wrong goes in `errors`, by field."""
    for name, limit in (("line1", 200), ("postcode", 12), ("city", 100)):
        if not values[name]:
            errors[name] = t.gettext("This is needed.")
        elif len(values[name]) > limit:
            errors[name] = t.gettext("Too long.")
    cents: dict[str, int] = {}
    for name in ("income", "housing", "other_fixed", "food_budget", "chosen"):
        amount = parse_euros(
            values[name] or "", maximum_cents=MAX_RESOURCE_CENTS, language=t.language
        )
        if amount is None:
            errors[name] = t.gettext("Type an amount in euros, for example 850 or 12.50.")
        else:
            cents[name] = amount
    return cents


def _declared(cents: dict[str, int]) -> DeclaredIn | None:
    if not {"income", "housing", "other_fixed", "food_budget"} <= set(cents):
        return None
    return DeclaredIn(
        monthly_income_cents=cents["income"],
        housing_costs_cents=cents["housing"],
        other_fixed_costs_cents=cents["other_fixed"],
        food_budget_cents=cents["food_budget"],
    )


def _assess(
    db_session: Session, desk: Desk, persons: list[PersonIn], declared: DeclaredIn
) -> dict[str, Any]:
    """The policy's figures for the household as typed (the service's `assess`)."""
    period = current_period()
    policy = policy_for(db_session=db_session, fund_id=desk.fund.id, period=period)
    members = [
        rules.Member(person_id=str(index), birth_date=person.birth_date)
        for index, person in enumerate(persons)
    ]
    assessment = service.assess(policy, members, declared, period)
    return {
        "period": period,
        "allowance_cents": assessment.allowance.total_cents,
        "minimum_cents": assessment.minimum_cents,
        "recommended_cents": assessment.recommended_cents,
        "floor_cents": assessment.floor_cents,
    }


@router.post("/{slug}/households/new", name="staff_household_register")
def household_register(
    slug: str,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
    form: PostedForm,
    action: Annotated[str, Form()] = "register",
    form_key: Annotated[str, Form()] = "",
) -> Response:
    """Add a person's row, work out the contribution, or register (the API's
    `POST /funds/{id}/households`, coordinator; once per form)."""
    t = texts_for(request)
    desk = open_desk(db_session, viewer, slug, Role.coordinator)
    form_key = form_key if valid_form_key(form_key) else new_form_key()
    values, errors, household_in, persons = _read_registration(t, form)
    if action not in ("register", "assess", "add_person"):
        return _registration(
            request,
            desk,
            values=values,
            errors=errors,
            error=t.gettext(
                "This form was sent with an action the page does not know: nothing was saved."
            ),
            form_key=form_key,
            status=422,
        )
    if action == "add_person":
        if len(values["persons"]) < MAX_PERSONS:
            values["persons"].append(_blank_person())
        return _registration(request, desk, values=values, form_key=form_key)
    declared = household_in.declared if household_in else None
    if declared is None:
        amounts = {}
        for name in ("income", "housing", "other_fixed", "food_budget"):
            found = parse_euros(values[name], maximum_cents=MAX_RESOURCE_CENTS, language=t.language)
            if found is not None:
                amounts[name] = found
        declared = _declared(amounts)
    assessment = (
        _assess(db_session, desk, persons, declared) if declared is not None and persons else None
    )
    if action == "assess":
        if assessment is not None and not values["chosen"]:
            values["chosen"] = euros_input(t, assessment["recommended_cents"])
        shown = {k: v for k, v in errors.items() if k != "chosen"}
        return _registration(
            request,
            desk,
            values=values,
            errors=shown,
            assessment=assessment,
            form_key=form_key,
            status=200 if assessment else 422,
        )
    if household_in is None:
        return _registration(
            request,
            desk,
            values=values,
            errors=errors,
            error=errors.get("persons") or t.gettext("Some fields need a look: see below."),
            assessment=assessment,
            form_key=form_key,
            status=422,
        )
    tokens: dict[uuid.UUID, str] = {}

    def work() -> tuple[int, Any]:
        household, invited = service.register(
            db_session=db_session,
            fund_id=desk.fund.id,
            household_in=household_in,
            actor=viewer.principal.actor,
            settings=request.app.state.settings,
            request_id=request.state.request_id,
        )
        tokens.update(invited)
        return 201, {"household_id": str(household.id)}

    done = once(
        request,
        db_session,
        viewer,
        form_key,
        f"/api/v1/funds/{desk.fund.id}/households",
        household_in.model_dump(mode="json"),
        work,
    )
    if isinstance(done, Refused):
        problem = done.problem
        if problem.code == "contribution_below_minimum":
            errors["chosen"] = t.gettext(
                "At least %(amount)s a month for this household.",
                amount=t.money(int(problem.extra.get("minimum_cents", 0))),
            )
            message = t.gettext("The contribution is below the minimum: see below.")
        else:
            message = problem_message(t, problem)
        if problem.code == "email_taken":
            taken = str(problem.extra.get("email", "")).lower()
            for index, typed in enumerate(values["persons"]):
                if typed["email"].strip().lower() == taken:
                    errors[f"p{index}-email"] = message
        return _registration(
            request,
            desk,
            values=values,
            errors=errors,
            error=message,
            assessment=assessment,
            form_key=form_key,
            status=problem.status,
        )
    household = _household(db_session, desk, uuid.UUID(done.body["household_id"]))
    persons_by_id = {p.id: p for p in service.current_persons(db_session, household.id)}
    invitations = [
        {"name": f"{persons_by_id[pid].given_name} {persons_by_id[pid].family_name}", "code": code}
        for pid, code in tokens.items()
        if pid in persons_by_id
    ]
    return _household_page(
        request,
        db_session,
        desk,
        household,
        registered=True,
        replayed=done.replayed,
        invitations=invitations,
        status=201,
    )


# --- A household's page -----------------------------------------------------------------


def _household_page(
    request: Request,
    db_session: Session,
    desk: Desk,
    household: Household,
    *,
    registered: bool = False,
    replayed: bool = False,
    invitations: list[dict[str, str]] | None = None,
    status_error: str | None = None,
    status: int = 200,
) -> Response:
    t = texts_for(request)
    persons = service.current_persons(db_session, household.id)
    assessment = service.assess_household(db_session, household)
    by_id = {str(p.id): p for p in persons}
    lines = [
        {
            "name": f"{by_id[line.person_id].given_name} {by_id[line.person_id].family_name}"
            if line.person_id in by_id
            else "",
            "share": t.gettext("first person")
            if line.share == "base"
            else t.gettext("each further person"),
            "cents": line.cents - line.child_cents,
            "child_cents": line.child_cents,
        }
        for line in assessment.allowance.lines
    ]
    history = contributions.household_statuses(
        db_session=db_session,
        household=household,
        periods=recent_periods(back=HISTORY_PERIODS - 1),
    )
    return render(
        request,
        "staff/household.html",
        page_context(
            desk,
            "households",
            household=household,
            status_label=label(t, HOUSEHOLD_STATUSES, household.status),
            persons=persons,
            assessment=assessment,
            lines=lines,
            account=views.account(db_session=db_session, household=household),
            history=[
                {
                    "period": row.period,
                    "due_cents": row.due_cents,
                    "paid_cents": row.paid_cents,
                    "status": row.status,
                    "status_label": label(t, CONTRIBUTION_STATUSES, row.status),
                }
                for row in history
            ],
            pin_locked=service.pin_locked(household),
            statuses=[(s.value, label(t, HOUSEHOLD_STATUSES, s)) for s in HouseholdStatus],
            registered=registered,
            replayed=replayed,
            invitations=invitations or [],
            status_error=status_error,
        ),
        status=status,
    )


@router.get("/{slug}/households/{household_id}", name="staff_household")
def household_page(
    slug: str,
    household_id: uuid.UUID,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
) -> Response:
    """Composition, allowance explained, contribution chosen, contributions of the last
    months, credits, PIN and status (the API's household view, coordinator)."""
    desk = open_desk(db_session, viewer, slug, Role.coordinator)
    return _household_page(request, db_session, desk, _household(db_session, desk, household_id))


_EDITABLE = (
    "line1",
    "postcode",
    "city",
    "income",
    "housing",
    "other_fixed",
    "food_budget",
    "chosen",
)


def _edit_form(
    request: Request,
    db_session: Session,
    desk: Desk,
    household: Household,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    t = texts_for(request)
    values = values or {
        "line1": household.address_line1,
        "postcode": household.postcode,
        "city": household.city,
        "income": euros_input(t, household.monthly_income_cents),
        "housing": euros_input(t, household.housing_costs_cents),
        "other_fixed": euros_input(t, household.other_fixed_costs_cents),
        "food_budget": euros_input(t, household.food_budget_cents),
        "chosen": euros_input(t, household.chosen_contribution_cents),
    }
    return render(
        request,
        "staff/household_edit.html",
        page_context(
            desk,
            "households",
            household=household,
            assessment=service.assess_household(db_session, household),
            values=values,
            errors=errors or {},
            error=error,
        ),
        status=status,
    )


@router.get("/{slug}/households/{household_id}/edit", name="staff_household_edit")
def household_edit_page(
    slug: str,
    household_id: uuid.UUID,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
) -> Response:
    """The form to change the household's address, declared resources and chosen
    contribution (coordinator)."""
    desk = open_desk(db_session, viewer, slug, Role.coordinator)
    return _edit_form(request, db_session, desk, _household(db_session, desk, household_id))


@router.post("/{slug}/households/{household_id}/edit", name="staff_household_change")
def household_change(
    slug: str,
    household_id: uuid.UUID,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
    form: PostedForm,
) -> Response:
    """Change them (the API's `PATCH /households/{id}`, coordinator): the contribution is
    checked against the minimum for the resources as changed."""
    t = texts_for(request)
    desk = open_desk(db_session, viewer, slug, Role.coordinator)
    household = _household(db_session, desk, household_id)
    values = {name: " ".join(str(form.get(name, "")).split()) for name in _EDITABLE}
    errors: dict[str, str] = {}
    cents = _read_address_and_money(t, values, errors)
    declared = _declared(cents)
    if errors or declared is None:
        return _edit_form(
            request, db_session, desk, household, values=values, errors=errors, status=422
        )
    patch = HouseholdPatch(
        address=AddressIn(line1=values["line1"], postcode=values["postcode"], city=values["city"]),
        declared=declared,
        chosen_contribution_cents=cents["chosen"],
    )
    done = attempt(
        db_session,
        lambda: service.update(
            db_session=db_session,
            household=household,
            patch=patch,
            actor=viewer.principal.actor,
            settings=request.app.state.settings,
            request_id=request.state.request_id,
        ),
    )
    if isinstance(done, Refused):
        db_session.refresh(household)
        problem = done.problem
        if problem.code == "contribution_below_minimum":
            errors["chosen"] = t.gettext(
                "At least %(amount)s a month for this household.",
                amount=t.money(int(problem.extra.get("minimum_cents", 0))),
            )
            message = t.gettext("The contribution is below the minimum: see below.")
        elif problem.code == "household_left":
            message = t.gettext("This household has left the fund: nothing of it changes any more.")
        else:
            message = problem_message(t, problem)
        return _edit_form(
            request,
            db_session,
            desk,
            household,
            values=values,
            errors=errors,
            error=message,
            status=problem.status,
        )
    flash(
        request,
        t.gettext("Household %(number)s is changed.", number=household.member_number),
    )
    return RedirectResponse(
        request.app.url_path_for("staff_household", slug=slug, household_id=str(household.id)),
        status_code=303,
    )


# --- Changing the composition ------------------------------------------------------------


class CompositionChanged(Conflict):
    code = "household_changed"
    title = "Someone changed who lives in the household since the page was opened"


def _persons_form(
    request: Request,
    db_session: Session,
    desk: Desk,
    household: Household,
    *,
    rows: list[dict[str, str]] | None = None,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    form_key: str | None = None,
    shown: str | None = None,
    status: int = 200,
) -> Response:
    if rows is None:
        shown = None
        rows = [
            {
                "id": str(person.id),
                "given_name": person.given_name,
                "family_name": person.family_name,
                "birth_date": person.birth_date.isoformat(),
                "email": person.email or "",
                "left": "",
            }
            for person in service.current_persons(db_session, household.id)
        ]
    return render(
        request,
        "staff/household_persons.html",
        page_context(
            desk,
            "households",
            household=household,
            assessment=service.assess_household(db_session, household),
            rows=rows,
            errors=errors or {},
            error=error,
            form_key=form_key or new_form_key(),
            max_persons=MAX_PERSONS,
            # Who the page showed first: a save is refused if someone came in since.
            shown=shown if shown is not None else " ".join(r["id"] for r in rows if r["id"]),
        ),
        status=status,
    )


@router.get("/{slug}/households/{household_id}/persons", name="staff_household_persons")
def household_persons_page(
    slug: str,
    household_id: uuid.UUID,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
) -> Response:
    """The form to change who lives in the household: a birth, someone who moves in or
    leaves, a name or a date of birth typed wrong (coordinator)."""
    desk = open_desk(db_session, viewer, slug, Role.coordinator)
    return _persons_form(request, db_session, desk, _household(db_session, desk, household_id))


@router.post("/{slug}/households/{household_id}/persons", name="staff_household_recompose")
def household_recompose(
    slug: str,
    household_id: uuid.UUID,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
    form: PostedForm,
    action: Annotated[str, Form()] = "save",
    form_key: Annotated[str, Form()] = "",
) -> Response:
    """Add a person's row, or save the composition (the API's `PATCH /households/{id}`
    with `persons`, coordinator; once per form: a person is not added twice). The
    allowance follows from the next month not yet issued; the contribution chosen is
    checked against the minimum for the new composition."""
    t = texts_for(request)
    desk = open_desk(db_session, viewer, slug, Role.coordinator)
    household = _household(db_session, desk, household_id)
    form_key = form_key if valid_form_key(form_key) else new_form_key()
    existing = {str(p.id): p for p in service.current_persons(db_session, household.id)}
    rows: list[dict[str, str]] = []
    errors: dict[str, str] = {}
    persons = _read_persons(t, form, rows, errors, existing)

    shown = " ".join(str(form.get("shown", "")).split()[: 2 * MAX_PERSONS])

    def again(error: str | None, status: int) -> Response:
        return _persons_form(
            request,
            db_session,
            desk,
            household,
            rows=rows,
            errors=errors,
            error=error,
            form_key=form_key,
            shown=shown,
            status=status,
        )

    if action not in ("save", "add_person"):
        return again(
            t.gettext(
                "This form was sent with an action the page does not know: nothing was saved."
            ),
            422,
        )
    if action == "add_person":
        if len(rows) < MAX_PERSONS:
            rows.append({**_blank_person(), "id": "", "left": ""})
        return again(None, 200)
    if errors:
        return again(errors.get("persons") or t.gettext("Some fields need a look: see below."), 422)
    if not persons:
        return again(t.gettext("At least one person stays in the household."), 422)
    patch = HouseholdPatch(persons=persons)
    tokens: dict[uuid.UUID, str] = {}

    def work() -> tuple[int, Any]:
        # Under the household's row lock (PostgreSQL; SQLite's writers wait anyway), who
        # lives there now: someone the page did not show would be marked as left.
        db_session.get(Household, household.id, with_for_update=True, populate_existing=True)
        living = {str(p.id) for p in service.current_persons(db_session, household.id)}
        if living - set(shown.split()):
            raise CompositionChanged()
        tokens.update(
            service.update(
                db_session=db_session,
                household=household,
                patch=patch,
                actor=viewer.principal.actor,
                settings=request.app.state.settings,
                request_id=request.state.request_id,
            )
        )
        return 200, {"household_id": str(household.id)}

    done = once(
        request,
        db_session,
        viewer,
        form_key,
        f"/api/v1/households/{household.id}",
        patch.model_dump(mode="json", exclude_unset=True),
        work,
    )
    if isinstance(done, Refused):
        db_session.refresh(household)
        problem = done.problem
        if isinstance(problem, CompositionChanged | service.PersonNotInHousehold):
            return _persons_form(
                request,
                db_session,
                desk,
                household,
                error=t.gettext(
                    "Someone changed who lives in this household since this page was opened."
                    " Here it is as it is now: make your change again."
                ),
                status=409,
            )
        if problem.code == "contribution_below_minimum":
            message = t.gettext(
                "With this composition the contribution must be at least %(amount)s a month:"
                " change the contribution first.",
                amount=t.money(int(problem.extra.get("minimum_cents", 0))),
            )
        elif problem.code == "household_left":
            message = t.gettext("This household has left the fund: nothing of it changes any more.")
        else:
            message = problem_message(t, problem)
        return again(message, problem.status)
    flash(
        request,
        t.gettext(
            "The composition of household %(number)s is changed.", number=household.member_number
        ),
    )
    if not tokens:
        return RedirectResponse(
            request.app.url_path_for("staff_household", slug=slug, household_id=str(household.id)),
            status_code=303,
        )
    persons_by_id = {p.id: p for p in service.current_persons(db_session, household.id)}
    invitations = [
        {"name": f"{persons_by_id[pid].given_name} {persons_by_id[pid].family_name}", "code": code}
        for pid, code in tokens.items()
        if pid in persons_by_id
    ]
    return _household_page(request, db_session, desk, household, invitations=invitations)


@router.post("/{slug}/households/{household_id}/status", name="staff_household_status")
def household_status(
    slug: str,
    household_id: uuid.UUID,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
    status: Annotated[str, Form()] = "",
    confirmed: Annotated[str, Form()] = "",
) -> Response:
    """Suspend, reactivate or mark as left (the API's PATCH with a status, coordinator).
    Leaving is final, so it is asked once more on a page of its own (as closing a vote
    is), answered with a second form: no script needed, and nothing done by one slip."""
    t = texts_for(request)
    desk = open_desk(db_session, viewer, slug, Role.coordinator)
    household = _household(db_session, desk, household_id)
    if status not in HouseholdStatus.__members__:
        return _household_page(
            request,
            db_session,
            desk,
            household,
            status_error=t.gettext("Choose a status."),
            status=422,
        )
    if (
        status == HouseholdStatus.left
        and household.status != HouseholdStatus.left
        and confirmed != "yes"
    ):
        return render(
            request,
            "staff/household_leave.html",
            page_context(desk, "households", household=household),
        )
    done = attempt(
        db_session,
        lambda: service.update(
            db_session=db_session,
            household=household,
            patch=HouseholdPatch(status=HouseholdStatus(status)),
            actor=viewer.principal.actor,
            settings=request.app.state.settings,
            request_id=request.state.request_id,
        ),
    )
    if isinstance(done, Refused):
        db_session.refresh(household)
        message = (
            t.gettext("This household has left the fund: nothing of it changes any more.")
            if done.problem.code == "household_left"
            else problem_message(t, done.problem)
        )
        return _household_page(
            request, db_session, desk, household, status_error=message, status=done.problem.status
        )
    flash(
        request,
        t.gettext(
            "Household %(number)s is now: %(status)s.",
            number=household.member_number,
            status=label(t, HOUSEHOLD_STATUSES, status),
        ),
    )
    return RedirectResponse(
        request.app.url_path_for("staff_household", slug=slug, household_id=str(household.id)),
        status_code=303,
    )


@router.post("/{slug}/households/{household_id}/unlock", name="staff_household_unlock")
def household_unlock(
    slug: str,
    household_id: uuid.UUID,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
) -> Response:
    """Unlock a card locked by wrong PINs (the API's `pin/unlock`, coordinator)."""
    t = texts_for(request)
    desk = open_desk(db_session, viewer, slug, Role.coordinator)
    household = _household(db_session, desk, household_id)
    service.unlock_pin(
        db_session=db_session,
        household=household,
        actor=viewer.principal.actor,
        request_id=request.state.request_id,
    )
    flash(request, t.gettext("The card is unlocked: the member can pay with their PIN again."))
    return RedirectResponse(
        request.app.url_path_for("staff_household", slug=slug, household_id=str(household.id)),
        status_code=303,
    )


# --- Contributions -----------------------------------------------------------------------


@router.get("/{slug}/contributions", name="staff_contributions")
def contributions_page(
    slug: str,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
    period: str = "",
    cursor: str = "",
) -> Response:
    """Each household's contribution for a month: paid, due, late or waived (the API's
    list, fund staff), with the treasurer's and the coordinator's actions."""
    t = texts_for(request)
    desk = open_desk(db_session, viewer, slug, *STAFF_ROLES)
    choices = recent_periods(back=12, ahead=1)
    chosen = chosen_period(period, choices)
    after = attempt(db_session, lambda: decode_cursor(cursor or None, 1))
    if isinstance(after, Refused):
        after, cursor = None, ""
    rows = contributions.statuses(
        db_session=db_session,
        fund_id=desk.fund.id,
        period=chosen,
        limit=PAGE_SIZE + 1,
        after_member_number=str(after[0]) if after else None,
    )
    items = [
        {
            "household_id": row.household_id,
            "member_number": row.member_number,
            "due_cents": row.due_cents,
            "paid_cents": row.paid_cents,
            "status": row.status,
            "status_label": label(t, CONTRIBUTION_STATUSES, row.status),
        }
        for row in rows[:PAGE_SIZE]
    ]
    next_cursor = (
        encode_cursor(rows[PAGE_SIZE - 1].member_number) if len(rows) > PAGE_SIZE else None
    )
    return render(
        request,
        "staff/contributions.html",
        page_context(
            desk,
            "contributions",
            items=items,
            period=chosen,
            choices=choices,
            next_cursor=next_cursor,
            first_page=not cursor,
            Role=Role,
            collection_date=(direct_debit.today() + timedelta(days=7)).isoformat(),
        ),
    )


@router.get("/{slug}/contributions/direct-debit.xml", name="staff_contributions_direct_debit")
def contributions_direct_debit(
    slug: str,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
    period: str = "",
    collection_date: str = "",
) -> Response:
    """The month's SEPA direct-debit file (treasurer): the API's `direct-debit.xml`; a
    refusal (no creditor identifier, nobody to collect, a past date) is said on the page."""
    t = texts_for(request)
    desk = open_desk(db_session, viewer, slug, Role.treasurer)
    chosen = chosen_period(period, recent_periods(back=12, ahead=1), offered_only=True)
    back = request.app.url_path_for("staff_contributions", slug=slug) + f"?period={chosen}"
    try:
        when = date.fromisoformat(collection_date)
    except ValueError:
        flash(request, t.gettext("Choose the day the bank should collect."), "error")
        return RedirectResponse(back, status_code=303)
    xml = attempt(
        db_session,
        lambda: direct_debit.sepa_direct_debit(
            db_session=db_session,
            fund_id=desk.fund.id,
            period=chosen,
            collection_date=when,
            actor=viewer.principal.actor,
            request_id=request.state.request_id,
        ),
    )
    if isinstance(xml, Refused):
        flash(request, problem_message(t, xml.problem), "error")
        return RedirectResponse(back, status_code=303)
    return download(xml, f"direct-debit-{desk.fund.slug}-{chosen}.xml")


def _find_household(
    db_session: Session, desk: Desk, household: str, member_number: str
) -> Household | None:
    """The household of the fund by its id, or by the member number typed."""
    if household:
        try:
            return _household(db_session, desk, uuid.UUID(household))
        except ValueError:
            return None
    number = member_number.strip().upper()[:20]
    if not number:
        return None
    return db_session.exec(
        select(Household).where(
            col(Household.fund_id) == desk.fund.id, col(Household.member_number) == number
        )
    ).first()


def _owed(
    db_session: Session, household: Household, period: str
) -> contributions.ContributionStatus:
    rows = contributions.household_statuses(
        db_session=db_session, household=household, periods=[period]
    )
    if rows:
        return rows[0]
    # A month before the household joined: nothing was due.
    return contributions.ContributionStatus(
        household_id=household.id,
        member_number=household.member_number,
        period=period,
        due_cents=0,
        paid_cents=0,
        status="paid",
    )


def _record_form(
    request: Request,
    db_session: Session,
    desk: Desk,
    household: Household,
    period: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    form_key: str | None = None,
    status: int = 200,
) -> Response:
    t = texts_for(request)
    owed = _owed(db_session, household, period)
    left = max(owed.due_cents - owed.paid_cents, 0)
    return render(
        request,
        "staff/contribution_record.html",
        page_context(
            desk,
            "contributions",
            household=household,
            period=period,
            owed=owed,
            owed_label=label(t, CONTRIBUTION_STATUSES, owed.status),
            values=values
            or {
                "amount": euros_input(t, left) if left else "",
                "method": ContributionMethod.transfer.value,
                "received_on": fund_today().isoformat(),
            },
            methods=[(m.value, label(t, CONTRIBUTION_METHODS, m)) for m in ContributionMethod],
            periods=recent_periods(back=12, ahead=1),
            errors=errors or {},
            error=error,
            form_key=form_key or new_form_key(),
            recorded=[
                {
                    "id": row.id,
                    "amount_cents": row.amount_cents,
                    "method": label(t, CONTRIBUTION_METHODS, row.method),
                    "received_on": row.received_on,
                    "correction": row.corrects_id is not None,
                    "reason": row.correction_reason or "",
                    "corrected": corrected,
                    "key": new_form_key(),  # each row's correction, once
                }
                for row, corrected in contributions.of_period(
                    db_session=db_session, household_id=household.id, period=period
                )
            ],
        ),
        status=status,
    )


@router.get("/{slug}/contributions/record", name="staff_contribution_record")
def contribution_record_page(
    slug: str,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
    household: str = "",
    member_number: str = "",
    period: str = "",
) -> Response:
    """The form to record euros received from a household (treasurer)."""
    t = texts_for(request)
    desk = open_desk(db_session, viewer, slug, Role.treasurer)
    found = _find_household(db_session, desk, household, member_number)
    chosen = chosen_period(period, recent_periods(back=12, ahead=1), offered_only=True)
    if found is None:
        message = (
            t.gettext("No household of this fund has this member number.")
            if member_number.strip()
            else None
        )
        return render(
            request,
            "staff/contribution_find.html",
            page_context(
                desk,
                "contributions",
                member_number=member_number.strip()[:20],
                period=chosen,
                periods=recent_periods(back=12, ahead=1),
                error=message,
            ),
            status=404 if message else 200,
        )
    return _record_form(request, db_session, desk, found, chosen)


@router.post("/{slug}/contributions/record", name="staff_contribution_record_submit")
def contribution_record(
    slug: str,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
    household: Annotated[str, Form()] = "",
    period: Annotated[str, Form()] = "",
    amount: Annotated[str, Form()] = "",
    method: Annotated[str, Form()] = "",
    received_on: Annotated[str, Form()] = "",
    form_key: Annotated[str, Form()] = "",
) -> Response:
    """Record the contribution (the API's `POST /funds/{id}/contributions`, treasurer;
    the form's key makes a double submit record it once)."""
    t = texts_for(request)
    desk = open_desk(db_session, viewer, slug, Role.treasurer)
    found = _find_household(db_session, desk, household, "")
    if found is None:
        raise PageNotFound()
    form_key = form_key if valid_form_key(form_key) else new_form_key()
    values = {"amount": amount.strip(), "method": method, "received_on": received_on.strip()}
    errors: dict[str, str] = {}
    cents = parse_euros(
        values["amount"],
        allow_zero=False,
        maximum_cents=MAX_CONTRIBUTION_CENTS,
        language=t.language,
    )
    if cents is None:
        errors["amount"] = t.gettext("Type the amount received in euros, for example 15 or 12.50.")
    if method not in ContributionMethod.__members__:
        errors["method"] = t.gettext("Choose how it was paid.")
    try:
        day = date.fromisoformat(values["received_on"])
    except ValueError:
        errors["received_on"] = t.gettext("Type the date it was received, for example 2026-11-05.")
        day = None
    if day is not None and day > fund_today():
        errors["received_on"] = t.gettext("The euros cannot have been received on a day to come.")
    if not valid_period(period):  # never recorded for another month than the form's
        raise MonthRefused(period, 400)
    if errors or cents is None or day is None:
        return _record_form(
            request,
            db_session,
            desk,
            found,
            period,
            values=values,
            errors=errors,
            form_key=form_key,
            status=422,
        )
    body = ContributionIn(
        household_id=found.id,
        period=period,
        amount_cents=cents,
        method=ContributionMethod(method),
        received_on=day,
    )

    def work() -> tuple[int, Any]:
        recorded = contributions.record_contribution(
            db_session=db_session,
            fund_id=desk.fund.id,
            household_id=body.household_id,
            period=body.period,
            amount_cents=body.amount_cents,
            method=body.method,
            received_on=body.received_on,
            actor=viewer.principal.actor,
            request_id=request.state.request_id,
        )
        return 201, ContributionOut.model_validate(recorded, from_attributes=True)

    done = once(
        request,
        db_session,
        viewer,
        form_key,
        f"/api/v1/funds/{desk.fund.id}/contributions",
        body.model_dump(mode="json"),
        work,
    )
    if isinstance(done, Refused):
        return _record_form(
            request,
            db_session,
            desk,
            found,
            period,
            values=values,
            error=problem_message(t, done.problem),
            form_key=form_key,
            status=done.problem.status,
        )
    flash(
        request,
        t.gettext(
            "%(amount)s recorded for household %(number)s, %(period)s.",
            amount=t.money(int(done.body["amount_cents"])),
            number=found.member_number,
            period=t.period(period),
        ),
    )
    target = request.app.url_path_for("staff_contributions", slug=slug)
    return RedirectResponse(f"{target}?period={period}#h-{found.member_number}", status_code=303)


@router.post("/{slug}/contributions/correct", name="staff_contribution_correct")
def contribution_correct(
    slug: str,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
    contribution: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    right_amount: Annotated[str, Form()] = "",
    form_key: Annotated[str, Form()] = "",
) -> Response:
    """Correct a contribution recorded by mistake (the API's `POST .../contributions/{id}/
    correction`, treasurer; once per form): the period is owed again, or, with the amount
    really received (a wrong amount typed), that contribution is recorded in its place in
    the same transaction (the API's `replacement`: same household, month, method, day)."""
    t = texts_for(request)
    desk = open_desk(db_session, viewer, slug, Role.treasurer)
    try:
        contribution_id = uuid.UUID(contribution)
    except ValueError:
        raise PageNotFound() from None
    original = db_session.get(Contribution, contribution_id)
    if original is None or original.fund_id != desk.fund.id:
        raise PageNotFound()
    household = _household(db_session, desk, original.household_id)
    form_key = form_key if valid_form_key(form_key) else new_form_key()
    why = " ".join(reason.split())
    right_cents = (
        parse_euros(
            right_amount.strip(),
            allow_zero=False,
            maximum_cents=MAX_CONTRIBUTION_CENTS,
            language=t.language,
        )
        if right_amount.strip()
        else None
    )
    error = None
    if not why:
        error = t.gettext("Say why the contribution is corrected: it stays in the books.")
    elif len(why) > 200:  # as the API's `reason`: never cut, refused
        error = t.gettext("The reason is too long: at most %(count)s characters.", count=200)
    elif right_amount.strip() and right_cents is None:
        error = t.gettext(
            "Type the amount really received in euros, for example 12.50, or leave it empty."
        )
    if error is not None:
        return _record_form(
            request,
            db_session,
            desk,
            household,
            original.period,
            error=error,
            form_key=form_key,
            status=422,
        )
    replacement = (
        ContributionIn(
            household_id=original.household_id,
            period=original.period,
            amount_cents=right_cents,
            method=ContributionMethod(original.method),
            received_on=original.received_on,
        )
        if right_cents is not None
        else None
    )
    body = ContributionCorrectionIn(reason=why, replacement=replacement)

    def work() -> tuple[int, Any]:
        correction, _ = contributions.correct_contribution(
            db_session=db_session,
            fund_id=desk.fund.id,
            contribution_id=original.id,
            reason=body.reason,
            actor=viewer.principal.actor,
            replacement=body.replacement,
            request_id=request.state.request_id,
        )
        return 201, ContributionOut.model_validate(correction, from_attributes=True)

    done = once(
        request,
        db_session,
        viewer,
        form_key,
        f"/api/v1/funds/{desk.fund.id}/contributions/{original.id}/correction",
        body.model_dump(mode="json"),
        work,
    )
    if isinstance(done, Refused):
        return _record_form(
            request,
            db_session,
            desk,
            household,
            original.period,
            error=problem_message(t, done.problem),
            status=done.problem.status,
        )
    flash(
        request,
        t.gettext(
            "The contribution of %(amount)s for %(period)s is corrected (household %(number)s).",
            amount=t.money(original.amount_cents),
            number=household.member_number,
            period=t.period(original.period),
        )
        if right_cents is None
        else t.gettext(
            "The contribution of %(amount)s for %(period)s is corrected to %(right)s"
            " (household %(number)s).",
            amount=t.money(original.amount_cents),
            right=t.money(right_cents),
            number=household.member_number,
            period=t.period(original.period),
        ),
    )
    target = request.app.url_path_for("staff_contribution_record", slug=slug)
    return RedirectResponse(
        f"{target}?household={household.id}&period={original.period}", status_code=303
    )


def _waive_form(
    request: Request,
    db_session: Session,
    desk: Desk,
    household: Household,
    period: str,
    *,
    reason: str = "",
    errors: dict[str, str] | None = None,
    error: str | None = None,
    form_key: str | None = None,
    status: int = 200,
) -> Response:
    t = texts_for(request)
    owed = _owed(db_session, household, period)
    return render(
        request,
        "staff/contribution_waive.html",
        page_context(
            desk,
            "contributions",
            household=household,
            period=period,
            owed=owed,
            owed_label=label(t, CONTRIBUTION_STATUSES, owed.status),
            periods=recent_periods(back=12, ahead=1),
            reason=reason,
            errors=errors or {},
            error=error,
            form_key=form_key or new_form_key(),
        ),
        status=status,
    )


@router.get("/{slug}/contributions/waive", name="staff_contribution_waive")
def contribution_waive_page(
    slug: str,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
    household: str = "",
    period: str = "",
) -> Response:
    """The form to waive a month's contribution for hardship, with the reason (coordinator)."""
    desk = open_desk(db_session, viewer, slug, Role.coordinator)
    found = _find_household(db_session, desk, household, "")
    if found is None:
        raise PageNotFound()
    chosen = chosen_period(period, recent_periods(back=12, ahead=1), offered_only=True)
    return _waive_form(request, db_session, desk, found, chosen)


@router.post("/{slug}/contributions/waive", name="staff_contribution_waive_submit")
def contribution_waive(
    slug: str,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
    household: Annotated[str, Form()] = "",
    period: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    form_key: Annotated[str, Form()] = "",
) -> Response:
    """Waive it (the API's `POST /funds/{id}/contribution-waivers`, coordinator)."""
    t = texts_for(request)
    desk = open_desk(db_session, viewer, slug, Role.coordinator)
    found = _find_household(db_session, desk, household, "")
    if found is None:
        raise PageNotFound()
    form_key = form_key if valid_form_key(form_key) else new_form_key()
    if not valid_period(period):  # never recorded for another month than the form's
        raise MonthRefused(period, 400)
    reason = reason.strip()
    try:
        body = WaiverIn(household_id=found.id, period=period, reason=reason)
    except ValidationError:
        return _waive_form(
            request,
            db_session,
            desk,
            found,
            period,
            reason=reason[:500],
            errors={"reason": t.gettext("Say why, in 3 to 500 characters.")},
            form_key=form_key,
            status=422,
        )

    def work() -> tuple[int, Any]:
        waiver = contributions.waive(
            db_session=db_session,
            fund_id=desk.fund.id,
            household_id=body.household_id,
            period=body.period,
            reason=body.reason,
            actor=viewer.principal.actor,
            request_id=request.state.request_id,
        )
        return 201, WaiverOut.model_validate(waiver, from_attributes=True)

    done = once(
        request,
        db_session,
        viewer,
        form_key,
        f"/api/v1/funds/{desk.fund.id}/contribution-waivers",
        body.model_dump(mode="json"),
        work,
    )
    if isinstance(done, Refused):
        message = (
            t.gettext("This month is already waived for this household.")
            if done.problem.code == "waiver_exists"
            else problem_message(t, done.problem)
        )
        return _waive_form(
            request,
            db_session,
            desk,
            found,
            period,
            reason=reason,
            error=message,
            form_key=form_key,
            status=done.problem.status,
        )
    flash(
        request,
        t.gettext(
            "The contribution of household %(number)s for %(period)s is waived.",
            number=found.member_number,
            period=t.period(period),
        ),
    )
    return RedirectResponse(
        request.app.url_path_for("staff_household", slug=slug, household_id=str(found.id)),
        status_code=303,
    )
