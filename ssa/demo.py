"""Demo data: a Gironde-like installation to try ssa on (`ssa demo`, run by `make run`).

Four local funds with the Gironde preset, 193 households (about 400 persons) of
realistic sizes and resources, their contributions for the previous and the current
period, a grant per fund, a PIN per household, the current period's credits issued,
and logins for staff and a few household members. Everything goes through the
services, as the API would; the data is drawn from a fixed seed, so every load looks
the same. Loading again changes nothing: it only prints the logins.
"""

import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlmodel import Session, col, select

from ssa.auth.models import User
from ssa.auth.roles import Role
from ssa.auth.service import create_user, find_user_by_email, grant_role, set_password
from ssa.funds.models import Fund, FundPolicy
from ssa.funds.service import FUND_TIMEZONE, create_fund, current_period, policy_for
from ssa.households import rules
from ssa.households.contributions import record_contribution, record_grant, waive
from ssa.households.models import ContributionMethod, Household, Person
from ssa.households.schemas import AddressIn, DeclaredIn, HouseholdIn, PersonIn
from ssa.households.service import register, set_pin
from ssa.issuance import periods
from ssa.issuance.service import IssuanceSummary, issue_period
from ssa.settings import Settings, get_settings
from ssa.timeutil import utcnow

SEED = 2024  # the year of the Gironde pilot
ACTOR = "system:demo"
PASSWORD = "demo-password-2026"  # noqa: S105 (printed on purpose: demo logins)
MEMBER_PIN = "1234"  # the PIN of the households whose members' logins are printed
EMAIL_DOMAIN = "demo.ssa.example"
ADMIN_EMAIL = f"admin@{EMAIL_DOMAIN}"
FUNDER = "Département de la Gironde"


@dataclass(frozen=True)
class DemoFund:
    slug: str
    name: str
    iban: str  # valid French IBANs (bank codes of real banks, made-up accounts)
    grant_cents: int
    households: int
    places: tuple[tuple[str, str], ...]  # (postcode, city)


DEMO_FUNDS = (
    DemoFund(
        "bordeaux",
        "Caisse locale de Bordeaux",
        "FR7642559100000801234567812",
        12_000_000,
        90,
        (
            ("33000", "Bordeaux"),
            ("33100", "Bordeaux"),
            ("33300", "Bordeaux"),
            ("33800", "Bordeaux"),
            ("33150", "Cenon"),
            ("33130", "Bègles"),
        ),
    ),
    DemoFund(
        "libourne",
        "Caisse locale du Libournais",
        "FR7613306000123350001234550",
        6_000_000,
        45,
        (("33500", "Libourne"), ("33330", "Saint-Émilion"), ("33910", "Saint-Denis-de-Pile")),
    ),
    DemoFund(
        "haute-gironde",
        "Caisse locale de Haute-Gironde",
        "FR7613335000400812345678996",
        4_500_000,
        30,
        (("33390", "Blaye"), ("33240", "Saint-André-de-Cubzac"), ("33710", "Bourg")),
    ),
    DemoFund(
        "sud-gironde",
        "Caisse locale du Sud-Gironde",
        "FR7610278036500002004560119",
        5_500_000,
        28,
        (("33210", "Langon"), ("33190", "La Réole"), ("33430", "Bazas")),
    ),
)

# Household sizes of the 193 households (406 persons): mostly one to three persons.
SIZES = {1: 80, 2: 55, 3: 30, 4: 18, 5: 6, 6: 4}

# Per fund: households that paid only the previous period (still within the one-period
# grace), that paid neither (their credits stop), that had the current period waived
# for hardship, and that joined this month.
LATE = {"bordeaux": 4, "libourne": 2, "haute-gironde": 1, "sud-gironde": 1}
UNPAID = {"bordeaux": 2, "libourne": 1, "haute-gironde": 1, "sud-gironde": 1}
WAIVED = {"bordeaux": 2, "libourne": 1, "haute-gironde": 0, "sud-gironde": 0}
NEW = {"bordeaux": 3, "libourne": 2, "haute-gironde": 1, "sud-gironde": 1}

# Staff of the Bordeaux fund: (email, display name, role).
STAFF = (
    (f"coordination.bordeaux@{EMAIL_DOMAIN}", "Nadia Benali", Role.coordinator),
    (f"tresorerie.bordeaux@{EMAIL_DOMAIN}", "Julien Lacoste", Role.treasurer),
    (f"audit.bordeaux@{EMAIL_DOMAIN}", "Hélène Darrieux", Role.auditor),
)
# The household members of Bordeaux who get a login, by household size.
MEMBER_SIZES = (1, 2, 4)

FEMALE = [
    "Camille",
    "Léa",
    "Manon",
    "Chloé",
    "Emma",
    "Inès",
    "Sarah",
    "Jade",
    "Louise",
    "Alice",
    "Julie",
    "Marie",
    "Nathalie",
    "Isabelle",
    "Sandrine",
    "Sophie",
    "Céline",
    "Aurélie",
    "Fatima",
    "Aïcha",
    "Amina",
    "Yasmine",
    "Nadia",
    "Sylvie",
    "Christine",
    "Monique",
    "Françoise",
    "Martine",
    "Josiane",
    "Élodie",
    "Laura",
    "Pauline",
    "Océane",
    "Mathilde",
    "Clémence",
    "Lucie",
    "Anaïs",
    "Zoé",
]
MALE = [
    "Lucas",
    "Hugo",
    "Louis",
    "Gabriel",
    "Arthur",
    "Jules",
    "Nathan",
    "Théo",
    "Thomas",
    "Nicolas",
    "Julien",
    "Sébastien",
    "David",
    "Christophe",
    "Stéphane",
    "Laurent",
    "Philippe",
    "Pierre",
    "Jean",
    "Michel",
    "Alain",
    "Bernard",
    "Karim",
    "Mohamed",
    "Youssef",
    "Mehdi",
    "Rachid",
    "Kevin",
    "Maxime",
    "Antoine",
    "Romain",
    "Baptiste",
    "Adrien",
    "Léo",
    "Paul",
    "Sacha",
    "Noah",
    "Enzo",
]
FAMILY = [
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefebvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
    "Morel",
    "Girard",
    "André",
    "Mercier",
    "Dupont",
    "Lambert",
    "Bonnet",
    "François",
    "Martinez",
    "Legrand",
    "Garnier",
    "Faure",
    "Rousseau",
    "Blanc",
    "Guerin",
    "Muller",
    "Henry",
    "Roussel",
    "Nicolas",
    "Perrin",
    "Morin",
    "Mathieu",
    "Clément",
    "Gauthier",
    "Dumont",
    "Lopez",
    "Fontaine",
    "Chevalier",
    "Robin",
    "Lacoste",
    "Darrieux",
    "Labat",
    "Dufau",
    "Larrieu",
    "Lafargue",
    "Castaing",
    "Duprat",
    "Barbe",
    "Lamarque",
    "Soulé",
    "Dupuy",
    "Cazenave",
    "Lalanne",
    "Benali",
    "Haddad",
    "Diallo",
    "Traoré",
    "Nguyen",
    "Da Silva",
    "Ferreira",
]
STREETS = (
    "rue Sainte-Catherine",
    "cours de la Marne",
    "rue de la République",
    "avenue Thiers",
    "rue du Général-de-Gaulle",
    "place du Marché",
    "rue des Vignes",
    "chemin de la Garonne",
    "allée des Tilleuls",
    "rue Victor-Hugo",
    "rue Jean-Jaurès",
    "impasse des Lilas",
    "route de Libourne",
    "rue de l'Église",
    "avenue de la Libération",
)


@dataclass
class _Draft:
    """One household to register, and what it pays."""

    size: int
    payment: str = "both"  # both | late | unpaid | waived | new
    member_login: bool = False
    household_in: HouseholdIn | None = None
    household_id: uuid.UUID | None = None
    emails: list[str] = field(default_factory=list)


def load_demo(*, db_session: Session, settings: Settings | None = None) -> list[str]:
    """Load the demo unless it is there; say what was done, and the logins, line by line."""
    settings = settings or get_settings()
    there = db_session.exec(
        select(Fund.slug).where(col(Fund.slug).in_([f.slug for f in DEMO_FUNDS]))
    ).all()
    if there or find_user_by_email(db_session=db_session, email=ADMIN_EMAIL) is not None:
        found = ", ".join(sorted(there)) or ADMIN_EMAIL
        return [
            f"demo: already there ({found}); nothing changed",
            *_login_lines(db_session),
        ]
    rng = random.Random(SEED)
    today = utcnow().astimezone(FUND_TIMEZONE).date()
    period = current_period()
    previous = periods.shift(period, -1)
    drafts = _plan(rng)
    lines = [f"demo: Gironde-like installation, period {period}"]
    totals: Counter[str] = Counter()
    for demo_fund in DEMO_FUNDS:
        fund = create_fund(
            db_session=db_session,
            slug=demo_fund.slug,
            name=demo_fund.name,
            iban=demo_fund.iban,
            actor=ACTOR,
        )
        policy = policy_for(db_session=db_session, fund_id=fund.id, period=period)
        record_grant(
            db_session=db_session,
            fund_id=fund.id,
            funder=FUNDER,
            amount_cents=demo_fund.grant_cents,
            received_on=periods.first_day(previous),
            reference=f"Convention SSA {previous[:4]}",
            actor=ACTOR,
        )
        persons = 0
        for draft in drafts[demo_fund.slug]:
            draft.household_in = _household(rng, draft, demo_fund, policy, period, today)
            persons += draft.size
            joined = (
                periods.first_day(period)
                if draft.payment == "new"
                else periods.first_day(previous) + timedelta(days=rng.randrange(20))
            )
            household, _tokens = register(
                db_session=db_session,
                fund_id=fund.id,
                household_in=draft.household_in,
                actor=ACTOR,
                settings=settings,
                today=joined,
            )
            draft.household_id = household.id
            pin = MEMBER_PIN if draft.member_login else f"{rng.randrange(10_000):04d}"
            set_pin(
                db_session=db_session,
                household=household,
                pin=pin,
                settings=settings,
                actor=ACTOR,
            )
            _pay(rng, db_session, fund.id, household, draft, joined, previous, period, today)
        summary = issue_period(db_session=db_session, fund_id=fund.id, period=period, actor=ACTOR)
        households = len(drafts[demo_fund.slug])
        totals.update(households=households, persons=persons, issued=summary.households_issued)
        lines.append(_fund_line(demo_fund, households, persons, summary))
    _users(db_session, drafts["bordeaux"])
    lines.insert(
        1,
        f"  {len(DEMO_FUNDS)} funds, {totals['households']} households,"
        f" {totals['persons']} persons; credits of {period} issued to"
        f" {totals['issued']} households",
    )
    return [*lines, *_login_lines(db_session)]


# --- Drawing the households -----------------------------------------------------------


def _plan(rng: random.Random) -> dict[str, list[_Draft]]:
    """The households of each fund: sizes shuffled, payments and logins assigned."""
    sizes = [size for size, count in SIZES.items() for _ in range(count)]
    rng.shuffle(sizes)
    plan: dict[str, list[_Draft]] = {}
    start = 0
    for demo_fund in DEMO_FUNDS:
        drafts = [_Draft(size) for size in sizes[start : start + demo_fund.households]]
        start += demo_fund.households
        logins = []
        if demo_fund.slug == "bordeaux":
            for size in MEMBER_SIZES:
                chosen = next(d for d in drafts if d.size == size and not d.member_login)
                chosen.member_login = True
                logins.append(chosen)
        others = [d for d in drafts if not d.member_login]
        picked = rng.sample(
            others,
            LATE[demo_fund.slug]
            + UNPAID[demo_fund.slug]
            + WAIVED[demo_fund.slug]
            + NEW[demo_fund.slug],
        )
        for kind, count in (
            ("late", LATE),
            ("unpaid", UNPAID),
            ("waived", WAIVED),
            ("new", NEW),
        ):
            for _ in range(count[demo_fund.slug]):
                picked.pop().payment = kind
        plan[demo_fund.slug] = drafts
    return plan


def _birth(rng: random.Random, today: date, low: int, high: int) -> date:
    """A birth date of someone aged `low` to `high` today."""
    age = rng.randint(low, high)
    # At least a day old: the Paris date may be a day ahead of the server's.
    return today - timedelta(days=1 + age * 365 + rng.randrange(365) + age // 4)


def _household(
    rng: random.Random,
    draft: _Draft,
    demo_fund: DemoFund,
    policy: FundPolicy,
    period: str,
    today: date,
) -> HouseholdIn:
    size = draft.size
    family = rng.choice(FAMILY)
    if size == 1:
        adults = 1
    elif size == 2:
        adults = 2 if rng.random() < 0.7 else 1
    else:
        adults = 2 if rng.random() < 0.75 else 1
    first_female = rng.random() < 0.6
    persons: list[PersonIn] = []
    first_birth = _birth(rng, today, 20, 84) if size == 1 else _birth(rng, today, 26, 52)
    first_name = rng.choice(FEMALE if first_female else MALE)
    persons.append(PersonIn(given_name=first_name, family_name=family, birth_date=first_birth))
    if adults == 2:
        second_family = family if rng.random() < 0.6 else rng.choice(FAMILY)
        persons.append(
            PersonIn(
                given_name=rng.choice(MALE if first_female else FEMALE),
                family_name=second_family,
                birth_date=_birth(rng, today, 24, 55) if size > 2 else _birth(rng, today, 22, 80),
            )
        )
    parent_age = (today - first_birth).days // 365
    for _ in range(size - adults):
        persons.append(
            PersonIn(
                given_name=rng.choice(FEMALE if rng.random() < 0.5 else MALE),
                family_name=family,
                birth_date=_birth(rng, today, 0, max(0, min(19, parent_age - 19))),
            )
        )
    if draft.member_login:
        email = f"{_ascii(first_name)}.{_ascii(family)}@{EMAIL_DOMAIN}".lower()
        persons[0] = persons[0].model_copy(update={"email": email})
        draft.emails.append(email)
    members = [
        rules.Member(person_id=str(i), birth_date=p.birth_date) for i, p in enumerate(persons)
    ]
    units = rules.consumption_units_tenths(members, today)
    # Monthly income per consumption unit: from RSA level to about the median.
    band = rng.random()
    if band < 0.35:
        per_unit = rng.randint(560, 800)
    elif band < 0.75:
        per_unit = rng.randint(800, 1400)
    else:
        per_unit = rng.randint(1400, 2100)
    income = round(per_unit * units / 10, -1) * 100
    social_housing = rng.random() < 0.5
    housing = (
        (rng.randint(250, 420) + 60 * (size - 1)) * 100
        if social_housing
        else round(income * rng.uniform(0.25, 0.40), -2)
    )
    other_fixed = rng.randint(60, 220) * 100
    food = round(rng.randint(130, 220) * size**0.8, -1) * 100
    minimum = rules.contribution_minimum(policy, size)
    recommended = rules.contribution_recommended(
        policy,
        members,
        income_cents=int(income),
        housing_cents=int(housing),
        other_fixed_cents=other_fixed,
        day=rules.period_start(period),
    )
    choice = rng.random()
    if choice < 0.45:
        chosen = minimum
    elif choice < 0.85:
        chosen = max(minimum, round(recommended, -2))
    else:  # well above: some pay for others
        chosen = max(minimum, round(recommended, -2)) + rng.choice((1000, 2000, 3000, 5000))
    postcode, city = rng.choice(demo_fund.places)
    return HouseholdIn(
        persons=persons,
        address=AddressIn(
            line1=f"{rng.randint(1, 180)} {rng.choice(STREETS)}", postcode=postcode, city=city
        ),
        declared=DeclaredIn(
            monthly_income_cents=int(income),
            housing_costs_cents=int(housing),
            other_fixed_costs_cents=other_fixed,
            food_budget_cents=int(food),
        ),
        chosen_contribution_cents=int(chosen),
    )


def _ascii(name: str) -> str:
    plain = name.translate(str.maketrans("éèëêïîôöàâçÉ", "eeeeiiooaacE"))
    return "".join(c for c in plain if c.isalnum())


def _pay(
    rng: random.Random,
    db_session: Session,
    fund_id: uuid.UUID,
    household: Household,
    draft: _Draft,
    joined: date,
    previous: str,
    period: str,
    today: date,
) -> None:
    """Record what the household paid for the previous and the current period."""
    method = rng.choice(list(ContributionMethod))
    due = household.chosen_contribution_cents
    paid_periods = {
        "both": (previous, period),
        "late": (previous,),
        "unpaid": (),
        "waived": (previous,),
        "new": (period,),
    }[draft.payment]
    for paid in paid_periods:
        if paid == previous:
            received = max(joined, periods.first_day(previous) + timedelta(days=rng.randrange(25)))
        else:
            received = periods.first_day(period) + timedelta(days=rng.randrange(today.day))
        record_contribution(
            db_session=db_session,
            fund_id=fund_id,
            household_id=household.id,
            period=paid,
            amount_cents=due,
            method=method,
            received_on=received,
            actor=ACTOR,
        )
    if draft.payment == "waived":
        waive(
            db_session=db_session,
            fund_id=fund_id,
            household_id=household.id,
            period=period,
            reason="Perte d'emploi : exonération d'un mois",
            actor=ACTOR,
        )


def _fund_line(demo_fund: DemoFund, households: int, persons: int, summary: IssuanceSummary) -> str:
    reasons = Counter(s["reason"] for s in summary.skipped)
    skipped = ", ".join(f"{reason} {count}" for reason, count in sorted(reasons.items()))
    return (
        f"  fund {demo_fund.slug} ({demo_fund.name}): {households} households, {persons} persons,"
        f" grant {demo_fund.grant_cents / 100:,.2f} EUR; {summary.period} credits issued to"
        f" {summary.households_issued} households, {summary.total_cents / 100:,.2f} EUR"
        + (f" (skipped: {skipped})" if skipped else "")
    )


# --- Logins ---------------------------------------------------------------------------


def _users(db_session: Session, bordeaux: list[_Draft]) -> None:
    admin = create_user(
        db_session=db_session, email=ADMIN_EMAIL, display_name="Admin démo", password=PASSWORD
    )
    grant_role(db_session=db_session, actor=ACTOR, user_id=admin.id, role=Role.admin)
    fund = db_session.exec(select(Fund).where(col(Fund.slug) == "bordeaux")).one()
    for email, name, role in STAFF:
        user = create_user(db_session=db_session, email=email, display_name=name, password=PASSWORD)
        grant_role(db_session=db_session, actor=ACTOR, user_id=user.id, role=role, fund_id=fund.id)
    for draft in bordeaux:
        for email in draft.emails:
            member = find_user_by_email(db_session=db_session, email=email)
            if member is not None:  # created by the registration, with an invitation
                set_password(db_session=db_session, user=member, password=PASSWORD)


def _login_lines(db_session: Session) -> list[str]:
    """The demo logins that exist, with their roles (and member numbers and PINs)."""
    found = db_session.exec(select(User).where(col(User.email).like(f"%@{EMAIL_DOMAIN}"))).all()
    if not found:
        return []
    order = [ADMIN_EMAIL, *(s[0] for s in STAFF)]
    users = sorted(
        found, key=lambda u: (order.index(u.email) if u.email in order else len(order), u.email)
    )
    lines = [f"logins (password {PASSWORD}):"]
    for user in users:
        if user.email == ADMIN_EMAIL:
            lines.append(f"  {user.email:<44} administrator")
            continue
        staff = next((s for s in STAFF if s[0] == user.email), None)
        if staff is not None:
            lines.append(f"  {user.email:<44} {staff[2].value}, fund bordeaux")
            continue
        row = db_session.exec(
            select(Household.member_number, Household.id)
            .join(Person, col(Person.household_id) == col(Household.id))
            .where(col(Person.user_id) == user.id)
        ).first()
        if row is None:
            continue
        size = len(
            db_session.exec(
                select(Person.id).where(
                    col(Person.household_id) == row[1], col(Person.left_on).is_(None)
                )
            ).all()
        )
        lines.append(
            f"  {user.email:<44} member, household {row[0]}"
            f" ({size} person{'s' if size > 1 else ''}), PIN {MEMBER_PIN} at the till"
        )
    return lines
