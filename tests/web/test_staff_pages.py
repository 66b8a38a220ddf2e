"""The fund staff's pages without a browser, on SQLite and PostgreSQL: each page shows the
fund's real data to the roles the API lets read it and refuses everyone else, every form
needs the session's token, and the forms do what they say, once."""

import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sepaxml  # type: ignore[import-untyped]
import xmlschema
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from ssa.audit.models import AuditEntry
from ssa.auth.roles import Role
from ssa.auth.service import create_user, grant_role
from ssa.db import unit_of_work
from ssa.funds.models import Fund
from ssa.funds.service import fund_today
from ssa.households import service
from ssa.households.contributions import grants_by_funder
from ssa.households.mandates import set_mandate
from ssa.households.models import (
    Contribution,
    ContributionWaiver,
    Household,
    HouseholdStatus,
    Person,
)
from ssa.households.schemas import HouseholdPatch, MandateIn, PersonIn
from ssa.issuance.models import HouseholdIssuance, PeriodClose
from ssa.outlets.models import Outlet, OutletFund, OutletStatus
from ssa.payouts.models import Payout, PayoutStatus
from ssa.settings import Settings
from ssa.web import staff_households
from ssa.web.forms import euros_input
from ssa.web.i18n import Texts
from tests.conftest import People
from tests.issuance.helpers import PREVIOUS, THIS, add_household
from tests.payments.helpers import IBAN, valid_siret
from tests.payouts.helpers import fund_owing
from tests.web.helpers import (
    PASSWORD,
    add_member,
    add_user,
    alert_of,
    csrf_of,
    form_key_of,
    log_in,
    page_client,
    submit,
)

PAIN_001 = Path(sepaxml.__file__).parent / "schemas" / "pain.001.001.03.xsd"
PAIN_008 = Path(sepaxml.__file__).parent / "schemas" / "pain.008.001.02.xsd"
THIS_YEAR = date(fund_today().year, 1, 2)


@dataclass
class Staffed:
    """A fund with an IBAN, households, outlets owed money, and its staff."""

    fund: Fund
    outlets: list[uuid.UUID]
    household: Household  # paid up, no login
    late: Household  # paid only last month
    staff: dict[Role, str]  # role -> email
    member_email: str
    cashier_email: str

    @property
    def base(self) -> str:
        return f"/staff/{self.fund.slug}"


def staff_user(engine: Engine, fund: Fund, role: Role) -> str:
    email = f"{role.value}-{uuid.uuid4().hex[:10]}@example.org"
    with Session(engine) as session:
        user = create_user(
            db_session=session, email=email, display_name=f"Nadia {role.value}", password=PASSWORD
        )
        grant_role(
            db_session=session, actor="system:test", user_id=user.id, role=role, fund_id=fund.id
        )
        session.commit()
    return email


def make_staffed(engine: Engine) -> Staffed:
    books = fund_owing(engine, [1_234, 20_000])
    household = add_household(engine, books.fund, paid=(PREVIOUS, THIS))
    late = add_household(engine, books.fund, paid=(PREVIOUS,))
    _, member_email = add_member(engine, books.fund)
    return Staffed(
        fund=books.fund,
        outlets=books.outlets,
        household=household,
        late=late,
        staff={
            role: staff_user(engine, books.fund, role)
            for role in (Role.coordinator, Role.treasurer, Role.auditor)
        },
        member_email=member_email,
        cashier_email=add_user(engine, role=Role.cashier, outlet_id=books.outlets[0]),
    )


def count(engine: Engine, model: type, *where: object) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(model).where(*where)).one())  # type: ignore[arg-type]


GRANT_FORM = {
    "funder": "Conseil départemental",
    "amount": "2 500",
    "received_on": "2026-01-12",
    "form_key": uuid.uuid4().hex,
}


def outlet_form(seed: int, **change: str) -> dict[str, str]:
    """The outlet registration form, filled in (a valid SIRET made from `seed`)."""
    return {
        "name": f"Épicerie {seed}",
        "category": "grocer",
        "siret": valid_siret(seed),
        "iban": IBAN,
        "bic": "",
        "line1": "3 rue des Halles",
        "postcode": "33000",
        "city": "Bordeaux",
        "form_key": uuid.uuid4().hex,
        **change,
    }


def outlets_named(engine: Engine, name: str) -> list[Outlet]:
    with Session(engine) as session:
        return list(session.exec(select(Outlet).where(col(Outlet.name) == name)).all())


def grants_of(engine: Engine, fund_id: uuid.UUID) -> list[tuple[str, int]]:
    """(funder, total) of the fund's grant income accounts, from the books."""
    with Session(engine) as session:
        return grants_by_funder(db_session=session, fund_id=fund_id)


def text_of(html: str) -> str:
    """The page's words, without tags, entities undone for the few that matter."""
    plain = re.sub(r"<[^>]+>", " ", html).replace("&#39;", "'").replace("&amp;", "&")
    return re.sub(r"\s+", " ", plain)


# --- Where staff land, what they see --------------------------------------------------------


def test_staff_land_on_their_fund_and_see_its_figures(
    coordinator: TestClient, staffed: Staffed
) -> None:
    landing = coordinator.get("/staff", follow_redirects=False)
    assert landing.status_code == 303
    assert landing.headers["location"] == staffed.base
    home = coordinator.get(staffed.base)
    assert home.status_code == 200
    assert staffed.fund.name in home.text
    assert "Your roles in this fund: coordinator." in text_of(home.text)
    # The report's figures, and the menu of a coordinator (no treasurer's issuance).
    assert 'data-testid="coverage"' in home.text
    for link in ("households", "contributions", "payouts", "outlets", "audit", "dashboard"):
        assert f'href="{staffed.base}/{link}"' in home.text
    assert f'href="{staffed.base}/issuance"' not in home.text
    # The staff link is in the header, and on the landing page.
    assert 'href="/staff"' in coordinator.get("/").text


@pytest.mark.parametrize(
    ("role", "shown", "hidden"),
    [
        (Role.coordinator, ["households", "audit"], ["issuance"]),
        (Role.treasurer, ["issuance", "payouts"], ["households", "audit"]),
        (Role.auditor, ["audit", "payouts"], ["households", "issuance"]),
    ],
)
def test_each_role_has_its_menu(
    app: FastAPI, staffed: Staffed, role: Role, shown: list[str], hidden: list[str]
) -> None:
    with page_client(app) as client:
        log_in(client, staffed.staff[role])
        home = client.get(staffed.base).text
    menu = home.split('class="staff-nav"', 1)[1].split("</nav>", 1)[0]
    for area in shown:
        assert f"{staffed.base}/{area}" in menu
    for area in hidden:
        assert f"{staffed.base}/{area}" not in menu


def test_pages_show_the_funds_real_data(
    coordinator: TestClient, treasurer: TestClient, auditor: TestClient, staffed: Staffed
) -> None:
    base = staffed.base
    number = staffed.household.member_number
    listed = coordinator.get(f"{base}/households")
    assert number in listed.text
    assert staffed.late.member_number in listed.text
    found = coordinator.get(f"{base}/households", params={"q": number})
    assert number in found.text
    assert staffed.late.member_number not in found.text
    page = coordinator.get(f"{base}/households/{staffed.household.id}")
    assert page.status_code == 200
    assert "P0 Test" in page.text  # the person
    assert "Monthly credits" in page.text
    contributions = auditor.get(f"{base}/contributions", params={"period": THIS})
    row = contributions.text.split(f'id="h-{staffed.late.member_number}"', 1)[1].split("</tr>")[0]
    assert "Due" in row
    assert "Record a payment" not in row  # an auditor only reads
    row = treasurer.get(f"{base}/contributions", params={"period": THIS}).text.split(
        f'id="h-{staffed.late.member_number}"', 1
    )[1]
    assert "Record a payment" in row.split("</tr>")[0]
    outlets = auditor.get(f"{base}/outlets")
    assert "Épicerie n°0" in outlets.text
    assert "Accredited" in outlets.text
    outlet = auditor.get(f"{base}/outlets/{staffed.outlets[0]}")
    assert "AG 2026-02" in outlet.text  # the decision behind the status
    audit = auditor.get(f"{base}/audit")
    assert "Household registered" in audit.text
    assert "Monthly credits issued" in audit.text
    payouts = auditor.get(f"{base}/payouts")
    assert "€212.34" in payouts.text  # what the outlets are owed
    dashboard = auditor.get(f"{base}/dashboard")
    assert dashboard.status_code == 200
    assert dashboard.text.count('role="img"') == 3  # categories: too few households to show
    assert "No category to show" in dashboard.text


def test_the_pages_speak_french_and_dutch(app: FastAPI, staffed: Staffed) -> None:
    for language, words in (("fr", "Cotisations"), ("nl", "Bijdragen")):
        with page_client(app, language) as client:
            log_in(client, staffed.staff[Role.treasurer])
            page = client.get(f"{staffed.base}/contributions")
            assert f'<html lang="{language}">' in page.text
            assert words in page.text


# --- Who may see what ---------------------------------------------------------------------

COORDINATOR, TREASURER, AUDITOR = Role.coordinator, Role.treasurer, Role.auditor
ALL = (COORDINATOR, TREASURER, AUDITOR)
# (path after /staff/<slug>, the roles the matching API routes allow)
PAGES = [
    ("", ALL),
    ("/dashboard", ALL),
    ("/report.csv", ALL),
    ("/households", (COORDINATOR,)),
    ("/households/new", (COORDINATOR,)),
    ("/households/{household}", (COORDINATOR,)),
    ("/households/{household}/edit", (COORDINATOR,)),
    ("/households/{household}/persons", (COORDINATOR,)),
    ("/contributions", ALL),
    ("/contributions/record?household={household}", (TREASURER,)),
    ("/contributions/waive?household={household}", (COORDINATOR,)),
    ("/grants", ALL),
    ("/issuance", (TREASURER,)),
    ("/close", (TREASURER,)),
    ("/payouts", ALL),
    ("/outlets", ALL),
    ("/outlets/new", (COORDINATOR,)),
    ("/outlets/{outlet}", ALL),
    ("/audit", (AUDITOR, COORDINATOR)),
]


def test_each_page_is_for_its_roles_only(app: FastAPI, engine: Engine, staffed: Staffed) -> None:
    other_fund = fund_owing(engine, [])
    outsider = staff_user(engine, other_fund.fund, Role.coordinator)
    clients: dict[str, TestClient] = {}
    for role, email in staffed.staff.items():
        clients[role.value] = page_client(app)
        log_in(clients[role.value], email)
    for name, email in (
        ("member", staffed.member_email),
        ("cashier", staffed.cashier_email),
        ("other fund's coordinator", outsider),
    ):
        clients[name] = page_client(app)
        log_in(clients[name], email)
    anonymous = page_client(app)
    try:
        for path, allowed in PAGES:
            url = staffed.base + path.format(
                household=staffed.household.id, outlet=staffed.outlets[0]
            )
            for name, client in clients.items():
                answer = client.get(url, follow_redirects=False)
                expected = 200 if name in {r.value for r in allowed} else 403
                assert answer.status_code == expected, (name, url, answer.status_code)
            away = anonymous.get(url, follow_redirects=False)
            assert away.status_code == 303
            assert away.headers["location"].startswith("/login?next=/staff/")
        # Someone with no fund role finds no fund; an unknown fund is not found.
        assert "holds no role in a fund" in clients["member"].get("/staff").text
        assert clients["coordinator"].get("/staff/nowhere").status_code == 404
        # Another fund's household is not this fund's page.
        elsewhere = add_household(engine, other_fund.fund)
        assert (
            clients["coordinator"].get(f"{staffed.base}/households/{elsewhere.id}").status_code
            == 404
        )
    finally:
        for client in (*clients.values(), anonymous):
            client.close()


def test_staff_posts_are_refused_to_other_roles(
    auditor: TestClient, treasurer: TestClient, staffed: Staffed, engine: Engine
) -> None:
    base = staffed.base
    grants_before = grants_of(engine, staffed.fund.id)
    token = csrf_of(auditor.get(base).text)
    for path, data in (
        (f"/households/{staffed.household.id}/status", {"status": "suspended"}),
        (
            f"/households/{staffed.household.id}/persons",
            {"p0-given_name": "Lina", "p0-family_name": "Test", "p0-birth_date": "2025-06-01"},
        ),
        ("/issuance/run", {"period": THIS, "form_key": uuid.uuid4().hex}),
        ("/payouts", {"form_key": uuid.uuid4().hex}),
        ("/close", {"period": PREVIOUS}),
        (f"/outlets/{staffed.outlets[0]}/status", {"status": "revoked", "reference": "AG"}),
        ("/grants", GRANT_FORM),
        ("/outlets/new", outlet_form(91)),
    ):
        answer = auditor.post(base + path, data={"csrf_token": token, **data})
        assert answer.status_code == 403, path
    token = csrf_of(treasurer.get(base).text)
    answer = treasurer.post(
        f"{base}/contributions/waive",
        data={
            "csrf_token": token,
            "household": str(staffed.late.id),
            "period": THIS,
            "reason": "loss of work",
        },
    )
    assert answer.status_code == 403
    assert count(engine, Payout, col(Payout.fund_id) == staffed.fund.id) == 0
    assert count(engine, PeriodClose, col(PeriodClose.fund_id) == staffed.fund.id) == 0
    assert (
        count(engine, ContributionWaiver, col(ContributionWaiver.fund_id) == staffed.fund.id) == 0
    )
    assert grants_of(engine, staffed.fund.id) == grants_before


def test_every_form_needs_the_session_token(
    coordinator: TestClient, treasurer: TestClient, staffed: Staffed, engine: Engine
) -> None:
    base = staffed.base
    grants_before = grants_of(engine, staffed.fund.id)
    for client, path, data in (
        (coordinator, "/households/new", {"action": "register"}),
        (coordinator, f"/households/{staffed.household.id}/status", {"status": "suspended"}),
        (coordinator, f"/households/{staffed.household.id}/unlock", {}),
        (coordinator, f"/households/{staffed.household.id}/edit", {"city": "Libourne"}),
        (
            coordinator,
            f"/households/{staffed.household.id}/persons",
            {"p0-given_name": "Lina", "p0-family_name": "Test", "p0-birth_date": "2025-06-01"},
        ),
        (
            coordinator,
            "/contributions/waive",
            {"household": str(staffed.late.id), "period": THIS, "reason": "illness"},
        ),
        (
            coordinator,
            f"/outlets/{staffed.outlets[0]}/status",
            {"status": "revoked", "reference": "AG"},
        ),
        (coordinator, f"/outlets/{staffed.outlets[0]}/application", {"score-accessibility": "2"}),
        (
            treasurer,
            "/contributions/record",
            {
                "household": str(staffed.late.id),
                "period": THIS,
                "amount": "10",
                "method": "cash",
                "received_on": "2026-01-05",
            },
        ),
        (treasurer, "/contributions/correct", {"contribution": str(uuid.uuid4()), "reason": "x"}),
        (treasurer, "/issuance/dry-run", {"period": THIS}),
        (treasurer, "/issuance/run", {"period": THIS, "form_key": uuid.uuid4().hex}),
        (treasurer, "/close", {"period": PREVIOUS}),
        (treasurer, "/payouts", {"form_key": uuid.uuid4().hex}),
        (treasurer, "/grants", GRANT_FORM),
        (coordinator, "/outlets/new", outlet_form(92)),
    ):
        for token in (None, "forged"):
            sent = dict(data) if token is None else {**data, "csrf_token": token}
            answer = client.post(base + path, data=sent)
            assert answer.status_code == 403, path
            assert "Form expired" in answer.text
    with Session(engine) as session:
        household = session.get(Household, staffed.household.id)
        assert household is not None
        assert household.status == HouseholdStatus.active
    assert count(engine, Contribution, col(Contribution.household_id) == staffed.late.id) == 1
    assert count(engine, Payout, col(Payout.fund_id) == staffed.fund.id) == 0
    assert count(engine, PeriodClose, col(PeriodClose.fund_id) == staffed.fund.id) == 0
    assert grants_of(engine, staffed.fund.id) == grants_before


# --- Households ---------------------------------------------------------------------------


def send(client: TestClient, path: str, **fields: str) -> Response:
    """Open the registration form and post it with its tokens and `fields`."""
    page = client.get(path).text
    data = {"csrf_token": csrf_of(page), "form_key": form_key_of(page), **fields}
    return client.post(path, data=data, follow_redirects=False)


def registration(**overrides: str) -> dict[str, str]:
    return {
        "p0-given_name": "Aïcha",
        "p0-family_name": "Benali",
        "p0-birth_date": "1985-04-12",
        "p0-email": f"aicha.{uuid.uuid4().hex[:8]}@example.org",
        "p1-given_name": "Sami",
        "p1-family_name": "Benali",
        "p1-birth_date": "2016-09-30",
        "p1-email": "",
        "line1": "12 rue des Faures",
        "postcode": "33800",
        "city": "Bordeaux",
        "income": "1450",
        "housing": "520",
        "other_fixed": "80",
        "food_budget": "300",
        "chosen": "",
        **overrides,
    }


def test_registering_a_household_shows_its_contribution_then_registers_it_once(
    coordinator: TestClient, staffed: Staffed, engine: Engine
) -> None:
    base = staffed.base
    new = f"{base}/households/new"
    # Adding a person's row keeps what was typed.
    added = send(coordinator, new, action="add_person", **registration())
    assert added.status_code == 200
    assert 'name="p2-given_name"' in added.text
    assert 'value="Aïcha"' in added.text
    # Working out the contribution: the figures, the recommended amount filled in.
    assessed = send(coordinator, new, action="assess", **registration())
    assert assessed.status_code == 200
    figures = text_of(assessed.text.split('data-testid="assessment"', 1)[1].split("</dl>")[0])
    assert "Minimum contribution €15.00" in figures  # gironde: 10 + 5 for the second person
    assert "Monthly credits €225.00" in figures  # 150 + 75
    assert re.search(r'id="f-chosen" name="chosen" type="text" value="\d+(\.\d\d)?"', assessed.text)
    # Below the minimum: refused in plain words, nothing written.
    before = count(engine, Household, col(Household.fund_id) == staffed.fund.id)
    low = send(coordinator, new, action="register", **registration(chosen="5"))
    assert low.status_code == 422
    assert "At least €15.00 a month for this household." in low.text
    assert count(engine, Household, col(Household.fund_id) == staffed.fund.id) == before
    # Registered, with the invitation code of the person with an email; sent twice, once.
    form = coordinator.get(new).text
    data = {
        "csrf_token": csrf_of(form),
        "form_key": form_key_of(form),
        "action": "register",
        **registration(chosen="20"),
    }
    done = coordinator.post(new, data=data)
    assert done.status_code == 201
    assert "Household registered" in done.text
    assert "Invitation codes" in done.text
    assert "Aïcha Benali: <code" in done.text
    number = re.search(r'data-testid="member-number">([A-Z0-9]+)<', done.text)
    assert number
    again = coordinator.post(new, data=data)
    assert again.status_code == 201
    assert number.group(1) in again.text
    assert "invitations-title" not in again.text  # the codes are shown only once
    assert count(engine, Household, col(Household.fund_id) == staffed.fund.id) == before + 1
    # Its page: composition, chosen contribution, the child.
    with Session(engine) as session:
        household = session.exec(
            select(Household).where(col(Household.member_number) == number.group(1))
        ).one()
    page = coordinator.get(f"{base}/households/{household.id}")
    assert "Sami Benali" in page.text
    assert "€20.00" in page.text.split('data-testid="chosen"', 1)[1][:40]


def test_registration_errors_are_said_by_field(coordinator: TestClient, staffed: Staffed) -> None:
    new = f"{staffed.base}/households/new"
    refused = send(
        coordinator,
        new,
        action="register",
        **registration(
            **{
                "p0-birth_date": "12/04/1985",
                "p0-email": "not an email",
                "city": "",
                "income": "lots",
            }
        ),
    )
    assert refused.status_code == 422
    assert alert_of(refused.text) == "Some fields need a look: see below."
    for field in ("p0-birth_date", "p0-email", "city", "income"):
        assert f'id="f-{field}-error"' in refused.text
        assert f'aria-describedby="f-{field}-error"' in refused.text or (
            f'f-{field}-error"' in refused.text
        )


def test_registering_with_another_accounts_email_is_refused_at_that_field(
    coordinator: TestClient, staffed: Staffed, engine: Engine
) -> None:
    new = f"{staffed.base}/households/new"
    before = count(engine, Household, col(Household.fund_id) == staffed.fund.id)
    refused = send(
        coordinator,
        new,
        action="register",
        **registration(**{"p1-email": staffed.cashier_email.upper(), "chosen": "20"}),
    )
    assert refused.status_code == 409
    said = "This email is already the login of another account"
    assert alert_of(refused.text).startswith(said)
    error = refused.text.split('id="f-p1-email-error"', 1)[1][:300]
    assert said in error
    assert 'id="f-p0-email-error"' not in refused.text
    assert 'value="Aïcha"' in refused.text  # what was typed is kept
    assert count(engine, Household, col(Household.fund_id) == staffed.fund.id) == before


def test_a_household_status_changes_and_leaving_is_final(
    coordinator: TestClient, staffed: Staffed, engine: Engine
) -> None:
    page = f"{staffed.base}/households/{staffed.late.id}"
    done = submit(coordinator, page, f"{page}/status", status="suspended")
    assert done.status_code == 303
    shown = coordinator.get(page)
    assert "is now: Suspended" in shown.text
    assert 'badge badge-suspended">Suspended' in shown.text
    # Leaving is final: the first form only asks again, and nothing changes yet.
    asked = submit(coordinator, page, f"{page}/status", status="left")
    assert asked.status_code == 200
    assert "This cannot be undone." in asked.text
    assert 'name="confirmed" value="yes"' in asked.text
    assert f'href="{page}"' in asked.text  # the way back, a plain link
    with Session(engine) as session:
        waiting = session.get(Household, staffed.late.id)
        assert waiting is not None
        assert waiting.status == HouseholdStatus.suspended
    left = coordinator.post(
        f"{page}/status",
        data={"csrf_token": csrf_of(asked.text), "status": "left", "confirmed": "yes"},
        follow_redirects=False,
    )
    assert left.status_code == 303
    final = coordinator.get(page)
    assert "nothing of it changes any more" in final.text
    assert 'action="' + f"{page}/status" + '"' not in final.text
    # Posting anyway is refused by the service's rule, in words.
    token = csrf_of(final.text)
    again = coordinator.post(f"{page}/status", data={"csrf_token": token, "status": "active"})
    assert again.status_code == 409
    with Session(engine) as session:
        household = session.get(Household, staffed.late.id)
        assert household is not None
        assert household.status == HouseholdStatus.left


def test_a_coordinator_changes_resources_and_contribution(
    coordinator: TestClient, staffed: Staffed, engine: Engine
) -> None:
    page = f"{staffed.base}/households/{staffed.household.id}"
    assert f"{page}/edit" in coordinator.get(page).text
    form = coordinator.get(f"{page}/edit")
    assert form.status_code == 200
    with Session(engine) as session:
        before = session.get(Household, staffed.household.id)
        assert before is not None
        chosen = before.chosen_contribution_cents
    fields = {
        name: re.search(rf'name="{name}" type="text" value="([^"]*)"', form.text).group(1)  # type: ignore[union-attr]
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
    }
    assert fields["chosen"] == euros_input(Texts("en"), chosen)  # the form shows what is recorded
    done = coordinator.post(
        f"{page}/edit",
        data={"csrf_token": csrf_of(form.text), **fields, "city": "Libourne", "income": "1 450,50"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert "is changed" in coordinator.get(done.headers["location"]).text
    with Session(engine) as session:
        after = session.get(Household, staffed.household.id)
        assert after is not None
        assert (after.city, after.monthly_income_cents) == ("Libourne", 145_050)
        assert after.chosen_contribution_cents == chosen
    # Below the minimum: said next to the contribution, nothing changed.
    refused = coordinator.post(
        f"{page}/edit",
        data={"csrf_token": csrf_of(form.text), **fields, "city": "Blaye", "chosen": "0"},
    )
    assert refused.status_code == 422
    assert 'id="f-chosen-error"' in refused.text
    bad = coordinator.post(
        f"{page}/edit", data={"csrf_token": csrf_of(form.text), **fields, "income": "lots"}
    )
    assert bad.status_code == 422
    assert 'id="f-income-error"' in bad.text
    with Session(engine) as session:
        unchanged = session.get(Household, staffed.household.id)
        assert unchanged is not None
        assert unchanged.city == "Libourne"


def shown_fields(html: str, names: list[str]) -> dict[str, str]:
    """The values a page's form shows in its fields `names` (text, date or email)."""
    found = {}
    for name in names:
        match = re.search(rf'name="{name}" type="[a-z]+" value="([^"]*)"', html)
        assert match, name
        found[name] = match.group(1)
    return found


def shown_of(html: str) -> dict[str, str]:
    """The composition form's record of whom it showed."""
    found = re.search(r'name="shown" value="([^"]*)"', html)
    assert found
    return {"shown": found.group(1)}


def person_rows(html: str) -> list[dict[str, str]]:
    """The persons' rows of the composition form, as it shows them."""
    rows = []
    for index, person_id in re.findall(r'name="p(\d+)-id" value="([^"]+)"', html):
        names = [f"p{index}-{n}" for n in ("given_name", "family_name", "birth_date")]
        rows.append({f"p{index}-id": person_id, **shown_fields(html, names)})
    return rows


def test_a_coordinator_changes_who_lives_in_the_household(
    coordinator: TestClient, staffed: Staffed, engine: Engine
) -> None:
    household_id = staffed.household.id
    page = f"{staffed.base}/households/{household_id}"
    persons_page = f"{page}/persons"
    assert persons_page in coordinator.get(page).text

    def living() -> list[str]:
        with Session(engine) as session:
            return sorted(p.given_name for p in service.current_persons(session, household_id))

    (first,) = living()
    form = coordinator.get(persons_page)
    assert form.status_code == 200
    (kept,) = person_rows(form.text)
    kept |= shown_of(form.text)
    token = csrf_of(form.text)
    with_row = coordinator.post(
        persons_page, data={"csrf_token": token, **kept, "action": "add_person"}
    )
    assert with_row.status_code == 200
    assert 'name="p1-given_name"' in with_row.text
    baby = {
        "p1-given_name": "Lina",
        "p1-family_name": "Test",
        "p1-birth_date": "2025-06-01",
        "p1-email": f"lina-{uuid.uuid4().hex[:8]}@example.org",
    }
    key = form_key_of(with_row.text)
    # A date of birth typed wrong is said by its field.
    bad = coordinator.post(
        persons_page,
        data={"csrf_token": token, **kept, **baby, "p1-birth_date": "1 June", "form_key": key},
    )
    assert bad.status_code == 422
    assert 'id="f-p1-birth_date-error"' in bad.text
    # 10 € a month was the minimum for one person, not for two: refused, nothing changes.
    data = {"csrf_token": token, **kept, **baby, "form_key": key}
    refused = coordinator.post(persons_page, data=data)
    assert refused.status_code == 422
    assert "change the contribution first" in alert_of(refused.text)
    assert living() == [first]

    edit = coordinator.get(f"{page}/edit")
    money = shown_fields(edit.text, ["line1", "postcode", "city", "income", "housing"])
    money |= shown_fields(edit.text, ["other_fixed", "food_budget"])
    changed = coordinator.post(
        f"{page}/edit",
        data={"csrf_token": token, **money, "chosen": "15"},
        follow_redirects=False,
    )
    assert changed.status_code == 303
    added = coordinator.post(persons_page, data=data)
    assert added.status_code == 200
    assert "Lina Test:" in added.text  # its invitation code, shown once
    assert living() == sorted([first, "Lina"])
    # The same form sent again adds no one.
    again = coordinator.post(persons_page, data=data, follow_redirects=False)
    assert again.status_code == 303
    assert living() == sorted([first, "Lina"])

    # The first person leaves; that no one at all lives there is refused.
    form = coordinator.get(persons_page)
    rows = person_rows(form.text)
    assert len(rows) == 2
    current = {"csrf_token": token, "form_key": form_key_of(form.text), **shown_of(form.text)}
    for row in rows:
        current |= row
    leaving = next(k[:2] for row in rows for k, v in row.items() if v == first)
    nobody = coordinator.post(persons_page, data={**current, "p0-left": "1", "p1-left": "1"})
    assert nobody.status_code == 422
    assert "At least one person stays" in alert_of(nobody.text)
    left = coordinator.post(
        persons_page, data={**current, f"{leaving}-left": "1"}, follow_redirects=False
    )
    assert left.status_code == 303
    assert "is changed" in coordinator.get(left.headers["location"]).text
    assert living() == ["Lina"]
    with Session(engine) as session:
        gone = session.exec(
            select(Person).where(
                col(Person.household_id) == household_id, col(Person.given_name) == first
            )
        ).one()
        assert gone.left_on == fund_today()


def test_a_composition_form_older_than_the_household_is_refused(
    coordinator: TestClient, staffed: Staffed, engine: Engine
) -> None:
    household_id = staffed.household.id
    persons_page = f"{staffed.base}/households/{household_id}/persons"
    other = add_household(engine, staffed.fund)

    def living() -> list[str]:
        with Session(engine) as session:
            return sorted(p.given_name for p in service.current_persons(session, household_id))

    def form_of(html: str) -> dict[str, str]:
        data = {"csrf_token": csrf_of(html), "form_key": form_key_of(html), **shown_of(html)}
        for row in person_rows(html):
            data |= row
        return data

    def changed_since(answer: Response) -> None:
        assert answer.status_code == 409, answer.text[:300]
        assert "since this page was opened" in alert_of(answer.text)

    (first,) = living()
    old = form_of(coordinator.get(persons_page).text)
    # Meanwhile a person moves in (through the API's service, as another coordinator).
    with unit_of_work(engine) as session:
        household = session.get(Household, household_id)
        assert household is not None
        (kept,) = service.current_persons(session, household_id)
        service.update(
            db_session=session,
            household=household,
            patch=HouseholdPatch(
                persons=[
                    PersonIn(
                        id=kept.id,
                        given_name=kept.given_name,
                        family_name=kept.family_name,
                        birth_date=kept.birth_date,
                    ),
                    PersonIn(given_name="Baby", family_name="Test", birth_date=date(2025, 2, 1)),
                ],
                chosen_contribution_cents=2_000,
            ),
            actor="system:test",
            settings=Settings(),
        )
    # The old page, saved: it would say the newcomer left. Refused, the page shows both.
    answer = coordinator.post(persons_page, data={**old, "p0-family_name": "Martin"})
    changed_since(answer)
    assert len(person_rows(answer.text)) == 2
    assert living() == sorted([first, "Baby"])

    # Someone of another household named in a row: refused, no one added.
    with Session(engine) as session:
        (stranger,) = service.current_persons(session, other.id)
    fresh = form_of(coordinator.get(persons_page).text)
    foreign = {"p2-id": str(stranger.id), "p2-given_name": "Stolen", "p2-family_name": "Id"}
    changed_since(
        coordinator.post(persons_page, data={**fresh, **foreign, "p2-birth_date": "1990-01-01"})
    )
    assert living() == sorted([first, "Baby"])

    # The same person twice, or more persons than a household holds: said, nothing saved.
    twice = coordinator.post(
        persons_page,
        data={
            **fresh,
            "p2-id": fresh["p0-id"],
            "p2-given_name": first,
            "p2-family_name": "X",
            "p2-birth_date": "1980-05-17",
        },
    )
    assert twice.status_code == 422
    assert "listed twice" in twice.text
    crowd = {
        f"p{i}-{name}": value
        for i in range(2, 22)
        for name, value in (
            ("given_name", f"N{i}"),
            ("family_name", "T"),
            ("birth_date", "2001-01-01"),
        )
    }
    crowded = coordinator.post(persons_page, data={**fresh, **crowd})
    assert crowded.status_code == 422
    assert "At most 20 persons" in alert_of(crowded.text)
    assert living() == sorted([first, "Baby"])

    # Baby leaves; the same form sent again (a double click) is the same save, once.
    baby_row = next(k[:2] for k, v in fresh.items() if v == "Baby")
    leaving = {**fresh, f"{baby_row}-left": "1"}
    assert coordinator.post(persons_page, data=leaving, follow_redirects=False).status_code == 303
    again = coordinator.post(persons_page, data=leaving, follow_redirects=False)
    assert again.status_code == 303
    assert living() == [first]


def test_someone_moving_in_during_a_save_is_not_marked_as_left(
    coordinator: TestClient, staffed: Staffed, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL (SQLite's writers are serialised): another save commits a newcomer after
    the page's request read the household, before it writes."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time")
    household_id = staffed.household.id
    persons_page = f"{staffed.base}/households/{household_id}/persons"
    html = coordinator.get(persons_page).text
    data = {"csrf_token": csrf_of(html), "form_key": form_key_of(html), **shown_of(html)}
    for row in person_rows(html):
        data |= row
    read = staff_households._read_persons

    def read_then_someone_moves_in(*args: Any, **kwargs: Any) -> Any:
        found = read(*args, **kwargs)
        with unit_of_work(engine) as session:
            household = session.get(Household, household_id)
            assert household is not None
            persons = [
                PersonIn(
                    id=p.id,
                    given_name=p.given_name,
                    family_name=p.family_name,
                    birth_date=p.birth_date,
                )
                for p in service.current_persons(session, household_id)
            ]
            baby = PersonIn(given_name="Baby", family_name="Test", birth_date=date(2025, 2, 1))
            service.update(
                db_session=session,
                household=household,
                patch=HouseholdPatch(persons=[*persons, baby], chosen_contribution_cents=2_000),
                actor="system:test",
                settings=Settings(),
            )
        return found

    monkeypatch.setattr(staff_households, "_read_persons", read_then_someone_moves_in)
    answer = coordinator.post(persons_page, data={**data, "p0-family_name": "Martin"})
    assert answer.status_code == 409
    assert "since this page was opened" in alert_of(answer.text)
    with Session(engine) as session:
        living = sorted(p.given_name for p in service.current_persons(session, household_id))
    assert "Baby" in living


# --- Contributions ------------------------------------------------------------------------


def correction_form(
    treasurer: TestClient, staffed: Staffed, engine: Engine
) -> tuple[Response, Contribution, dict[str, str]]:
    """The household's month page, its one contribution this month, and the fields of
    that contribution's correction form (session token, form key, contribution)."""
    page = f"{staffed.base}/contributions/record?household={staffed.household.id}&period={THIS}"
    shown = treasurer.get(page)
    with Session(engine) as session:
        (paid,) = session.exec(
            select(Contribution).where(
                col(Contribution.household_id) == staffed.household.id,
                col(Contribution.period) == THIS,
            )
        ).all()
    key = re.search(
        rf'name="form_key" value="([0-9a-f]{{32}})">\s*<input type="hidden" name="contribution"'
        rf' value="{paid.id}"',
        shown.text,
    ).group(1)  # type: ignore[union-attr]
    data = {"csrf_token": csrf_of(shown.text), "form_key": key, "contribution": str(paid.id)}
    return shown, paid, data


def test_a_treasurer_corrects_a_contribution_recorded_by_mistake(
    treasurer: TestClient, auditor: TestClient, staffed: Staffed, engine: Engine
) -> None:
    base = staffed.base
    shown, paid, data = correction_form(treasurer, staffed, engine)
    assert "Recorded for this month" in shown.text
    assert "Recorded by mistake?" in shown.text
    url = f"{base}/contributions/correct"

    blank = treasurer.post(url, data={**data, "reason": "  "})
    assert blank.status_code == 422
    assert "Say why" in alert_of(blank.text)
    refused = auditor.post(url, data={**data, "csrf_token": csrf_of(auditor.get(base).text)})
    assert refused.status_code == 403
    done = treasurer.post(
        url, data={**data, "reason": "Paid by the neighbour"}, follow_redirects=False
    )
    assert done.status_code == 303
    after = treasurer.get(done.headers["location"])
    assert "is corrected" in after.text
    assert "Correction: Paid by the neighbour" in after.text
    assert "Recorded by mistake?" not in after.text
    assert re.search(r"Paid so far</dt><dd>€0.00", after.text)
    # The same form again: corrected once.
    again = treasurer.post(url, data={**data, "reason": "Paid by the neighbour"})
    assert again.status_code in (200, 303)
    with Session(engine) as session:
        rows = session.exec(
            select(Contribution.amount_cents).where(
                col(Contribution.household_id) == staffed.household.id,
                col(Contribution.period) == THIS,
            )
        ).all()
    assert sorted(rows) == [-paid.amount_cents, paid.amount_cents]


def test_a_wrong_amount_is_corrected_to_the_amount_received(
    treasurer: TestClient, staffed: Staffed, engine: Engine
) -> None:
    """The correction form takes the amount really received: the mistaken contribution is
    reversed and the right one recorded in its place, in one transaction."""
    base = staffed.base
    shown, paid, data = correction_form(treasurer, staffed, engine)
    assert "Amount really received" in shown.text
    url = f"{base}/contributions/correct"
    bad = treasurer.post(url, data={**data, "reason": "typo", "right_amount": "douze"})
    assert bad.status_code == 422
    assert "amount really received" in alert_of(bad.text)
    done = treasurer.post(
        url, data={**data, "reason": "typo", "right_amount": "12.50"}, follow_redirects=False
    )
    assert done.status_code == 303
    after = treasurer.get(done.headers["location"])
    assert "is corrected to €12.50" in after.text
    assert re.search(r"Paid so far</dt><dd>€12.50", after.text)
    with Session(engine) as session:
        rows = session.exec(
            select(Contribution.amount_cents, Contribution.method, Contribution.received_on).where(
                col(Contribution.household_id) == staffed.household.id,
                col(Contribution.period) == THIS,
            )
        ).all()
    assert sorted(r[0] for r in rows) == sorted([-paid.amount_cents, 1_250, paid.amount_cents])
    right = next(r for r in rows if r[0] == 1_250)
    assert (right[1], right[2]) == (paid.method, paid.received_on)


def test_a_contribution_recorded_appears_once(
    treasurer: TestClient, staffed: Staffed, engine: Engine
) -> None:
    base = staffed.base
    number = staffed.late.member_number
    # Found by its member number, as typed from a bank statement.
    form = treasurer.get(
        f"{base}/contributions/record", params={"member_number": number.lower(), "period": THIS}
    )
    assert form.status_code == 200
    assert number in form.text
    assert 'value="10"' in form.text  # what is still due, filled in
    data = {
        "csrf_token": csrf_of(form.text),
        "form_key": form_key_of(form.text),
        "household": str(staffed.late.id),
        "period": THIS,
        "amount": "10,00",
        "method": "cash",
        "received_on": "2026-01-05",
    }
    done = treasurer.post(f"{base}/contributions/record", data=data, follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"].endswith(f"?period={THIS}#h-{number}")
    listed = treasurer.get(done.headers["location"])
    assert f"€10.00 recorded for household {number}" in listed.text
    row = listed.text.split(f'id="h-{number}"', 1)[1].split("</tr>")[0]
    assert "Paid" in row
    # The same form sent again: recorded once.
    again = treasurer.post(f"{base}/contributions/record", data=data, follow_redirects=False)
    assert again.status_code == 303
    paid = count(
        engine,
        Contribution,
        col(Contribution.household_id) == staffed.late.id,
        col(Contribution.period) == THIS,
    )
    assert paid == 1
    # A wrong amount is said next to the field.
    bad = submit(
        treasurer,
        f"{base}/contributions/record?household={staffed.late.id}&period={THIS}",
        f"{base}/contributions/record",
        household=str(staffed.late.id),
        period=THIS,
        amount="0",
        method="cash",
        received_on="2026-01-05",
    )
    assert bad.status_code == 422
    assert 'id="f-amount-error"' in bad.text
    unknown = treasurer.get(f"{base}/contributions/record", params={"member_number": "NOPE123"})
    assert unknown.status_code == 404
    assert "No household of this fund has this member number." in unknown.text


def test_a_grant_recorded_once_adds_to_its_funder(
    treasurer: TestClient, auditor: TestClient, staffed: Staffed, engine: Engine
) -> None:
    base = staffed.base
    page = treasurer.get(f"{base}/grants")
    assert page.status_code == 200
    before = dict(grants_of(engine, staffed.fund.id))
    assert "Conseil départemental" not in before
    data = {
        "csrf_token": csrf_of(page.text),
        "form_key": form_key_of(page.text),
        "funder": "  Conseil   départemental ",
        "amount": "2 500,50",
        "received_on": "2026-01-12",
        "reference": "Convention 2026-07",
    }
    done = treasurer.post(f"{base}/grants", data=data, follow_redirects=False)
    assert done.status_code == 303
    listed = treasurer.get(done.headers["location"])
    assert "€2,500.50 from Conseil départemental recorded." in listed.text
    # The same form sent again records nothing more; a second grant from the same funder
    # adds to its total.
    assert treasurer.post(f"{base}/grants", data=data, follow_redirects=False).status_code == 303
    assert dict(grants_of(engine, staffed.fund.id)) == {**before, "Conseil départemental": 250_050}
    second = {**data, "form_key": form_key_of(listed.text), "amount": "100"}
    assert treasurer.post(f"{base}/grants", data=second, follow_redirects=False).status_code == 303
    assert dict(grants_of(engine, staffed.fund.id)) == {**before, "Conseil départemental": 260_050}
    # Staff who may not record see the totals and the latest grants, without the form.
    seen = auditor.get(f"{base}/grants").text
    assert "€2,600.50" in seen
    assert "€100.00" in seen
    assert 'name="funder"' not in seen
    # Mistakes are said by field, and nothing is recorded.
    bad = treasurer.post(
        f"{base}/grants",
        data={**data, "form_key": uuid.uuid4().hex, "funder": "X", "amount": "0"}
        | {"received_on": ""},
    )
    assert bad.status_code == 422
    for field in ("funder", "amount", "received_on"):
        assert f'id="f-{field}-error"' in bad.text
    assert dict(grants_of(engine, staffed.fund.id)) == {**before, "Conseil départemental": 260_050}


def test_the_dashboard_says_spent_on_one_basis(
    auditor: TestClient, staffed: Staffed, engine: Engine
) -> None:
    """The month's 'spent' and spending by category were two figures for one month (payments
    alone, and payments less refunds): the page now says spent net of refunds everywhere,
    with the payments and the refunds beside it."""
    from ssa.payments.models import Payment
    from ssa.payments.service import refund

    with unit_of_work(engine) as session:
        payment = session.exec(
            select(Payment).where(col(Payment.outlet_id) == staffed.outlets[1])
        ).one()
        refund(
            db_session=session,
            outlet_id=staffed.outlets[1],
            payment_id=payment.id,
            amount_cents=2_000,
            reason="Produit abîmé",
            refunded_by="t",
        )
    page = auditor.get(f"{staffed.base}/dashboard").text
    now = fund_today().strftime("%Y-%m")
    (spent,) = re.findall(rf'data-testid="spent-{now}">([^<]+)<', page)
    assert spent == "€192.34"  # EUR 212.34 paid, EUR 20 refunded
    assert "€212.34" in page
    assert "€20.00" in page
    assert '<th scope="col" class="num">Credits spent, net of refunds</th>' in page
    assert "Credits spent</th>" not in page
    assert "less the refunds they gave back" in page
    assert "outlets, net of refunds. This month: €375.00 issued, €192.34 spent." in page


@pytest.mark.parametrize(
    ("language", "typed"), [("en", "25,000.00"), ("nl", "25.000,00"), ("fr", "25\u202f000,00")]
)
def test_a_grant_typed_as_the_page_shows_amounts(
    app: FastAPI, staffed: Staffed, engine: Engine, language: str, typed: str
) -> None:
    """Thousands grouped the way the page itself writes them are read, in each language
    ('25,000.00' and '25.000,00' were refused; only the French grouping was read)."""
    base = staffed.base
    before = dict(grants_of(engine, staffed.fund.id)).get("Ville", 0)
    with page_client(app, language) as treasurer:
        log_in(treasurer, staffed.staff[Role.treasurer])
        done = submit(
            treasurer,
            f"{base}/grants",
            f"{base}/grants",
            funder="Ville",
            amount=typed,
            received_on="2026-01-12",
            reference="",
        )
        assert done.status_code == 303, done.text
        # The other language's way is ambiguous there, and refused with nothing recorded.
        other = {"en": "25.000,00", "nl": "25,000.00", "fr": "25.000,00"}[language]
        refused = submit(
            treasurer,
            f"{base}/grants",
            f"{base}/grants",
            funder="Ville",
            amount=other,
            received_on="2026-01-12",
            reference="",
        )
        assert refused.status_code == 422
        assert 'id="f-amount-error"' in refused.text
    assert dict(grants_of(engine, staffed.fund.id))["Ville"] == before + 2_500_000


@pytest.mark.parametrize(("language", "shown"), [("fr", "1450,50"), ("nl", "1450,50")])
def test_amounts_to_edit_are_written_in_the_pages_language(
    app: FastAPI, staffed: Staffed, engine: Engine, language: str, shown: str
) -> None:
    """The household's form shows its amounts the way its hint asks them ('12,50' in French
    and Dutch, not '1450.50'), and sending the form unchanged changes no amount."""
    with unit_of_work(engine) as session:
        household = session.get(Household, staffed.household.id)
        assert household is not None
        household.monthly_income_cents = 145_050
        household.housing_costs_cents = 40_025
        session.add(household)
    page = f"{staffed.base}/households/{staffed.household.id}"
    with page_client(app, language) as coordinator:
        log_in(coordinator, staffed.staff[Role.coordinator])
        form = coordinator.get(f"{page}/edit")
        fields = shown_fields(
            form.text,
            ["line1", "postcode", "city", "income", "housing", "other_fixed", "food_budget"],
        )
        fields |= shown_fields(form.text, ["chosen"])
        assert fields["income"] == shown
        assert fields["housing"] == "400,25"
        assert "." not in fields["chosen"]
        done = coordinator.post(
            f"{page}/edit",
            data={"csrf_token": csrf_of(form.text), **fields},
            follow_redirects=False,
        )
        assert done.status_code == 303
    with Session(engine) as session:
        after = session.get(Household, staffed.household.id)
        assert after is not None
        assert (after.monthly_income_cents, after.housing_costs_cents) == (145_050, 40_025)


def test_the_treasurer_downloads_the_months_direct_debit_file(
    treasurer: TestClient, auditor: TestClient, staffed: Staffed, engine: Engine
) -> None:
    """The contributions page's pain.008 file: the API's, for the month shown; its
    refusals said in plain words on the page; for the treasurer only."""
    base = staffed.base
    file = f"{base}/contributions/direct-debit.xml"
    page = treasurer.get(f"{base}/contributions", params={"period": THIS})
    assert 'action="' + file + '"' in page.text
    assert file not in auditor.get(f"{base}/contributions", params={"period": THIS}).text
    when = (fund_today() + timedelta(days=7)).isoformat()
    asked = {"period": THIS, "collection_date": when}

    # The fund has no creditor identifier yet: said on the page, nothing downloaded.
    refused = treasurer.get(file, params=asked, follow_redirects=False)
    assert refused.status_code == 303
    assert refused.headers["location"].endswith(f"/contributions?period={THIS}")
    said = text_of(treasurer.get(refused.headers["location"]).text)
    assert "no SEPA creditor identifier" in said
    with Session(engine) as session:
        fund = session.get(Fund, staffed.fund.id)
        assert fund is not None
        fund.sepa_creditor_id = "FR72ZZZ123456"
        session.add(fund)
        session.commit()
    # Nobody under a mandate owes this month yet.
    nobody = treasurer.get(file, params=asked)
    assert "Nobody is to be collected this month" in text_of(nobody.text)

    # The late household gives a mandate: the file debits it, and only it.
    with unit_of_work(engine) as session:
        set_mandate(
            db_session=session,
            household_id=staffed.late.id,
            mandate_in=MandateIn(
                debtor_name="Awa Diallo", iban="FR1420041010050500013M02606", signed_on=THIS_YEAR
            ),
            actor="system:test",
        )
    got = treasurer.get(file, params=asked)
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("application/xml")
    assert got.headers["content-disposition"].startswith("attachment;")
    xmlschema.XMLSchema(str(PAIN_008)).validate(got.text)
    assert staffed.late.member_number in got.text
    assert staffed.household.member_number not in got.text  # paid up: not debited
    assert "FR1420041010050500013M02606" in got.text
    assert got.headers["cache-control"] == "no-store"
    # The same download again: the same file; the next day's (another collection day):
    # nobody is debited twice.
    assert treasurer.get(file, params=asked).content == got.content
    later = (fund_today() + timedelta(days=8)).isoformat()
    twice = treasurer.get(file, params={"period": THIS, "collection_date": later})
    assert "apart from those in a file already downloaded" in text_of(twice.text)

    # A day gone by, today, or none: said plainly.
    for day in ("2020-01-06", fund_today().isoformat()):
        past = treasurer.get(file, params={"period": THIS, "collection_date": day})
        assert "The collection day must be from tomorrow on" in text_of(past.text)
    missing = treasurer.get(file, params={"period": THIS, "collection_date": ""})
    assert "Choose the day the bank should collect." in text_of(missing.text)
    # Other staff: refused.
    assert auditor.get(file, params=asked).status_code == 403


def test_a_waiver_needs_a_reason_and_is_granted_once(
    coordinator: TestClient, staffed: Staffed, engine: Engine
) -> None:
    base = staffed.base
    form = f"{base}/contributions/waive?household={staffed.late.id}&period={THIS}"
    action = f"{base}/contributions/waive"
    fields = {"household": str(staffed.late.id), "period": THIS}
    short = submit(coordinator, form, action, reason="no", **fields)
    assert short.status_code == 422
    assert "Say why, in 3 to 500 characters." in short.text
    done = submit(coordinator, form, action, reason="loss of work", **fields)
    assert done.status_code == 303
    page = coordinator.get(done.headers["location"])
    assert f"The contribution of household {staffed.late.member_number}" in page.text
    assert "Waived" in page.text
    twice = submit(coordinator, form, action, reason="illness", **fields)
    assert twice.status_code == 409
    assert alert_of(twice.text) == "This month is already waived for this household."
    assert (
        count(engine, ContributionWaiver, col(ContributionWaiver.household_id) == staffed.late.id)
        == 1
    )


# --- Monthly credits and the close --------------------------------------------------------


def test_a_dry_run_writes_nothing_and_the_run_issues(
    treasurer: TestClient, staffed: Staffed, engine: Engine
) -> None:
    base = staffed.base
    joined = add_household(engine, staffed.fund, paid=(PREVIOUS, THIS))  # after the month's run
    issued = col(HouseholdIssuance.fund_id) == staffed.fund.id
    logged = col(AuditEntry.fund_id) == staffed.fund.id
    before = (count(engine, HouseholdIssuance, issued), count(engine, AuditEntry, logged))
    dry = submit(treasurer, f"{base}/issuance", f"{base}/issuance/dry-run", period=THIS)
    assert dry.status_code == 200
    summary = dry.text.split('data-testid="issuance-summary"', 1)[1]
    assert "nothing was written" in summary
    # The households added after the month's run, and the one joining now.
    assert re.search(r'data-testid="households-issued">4<', summary)
    assert "Already issued for this month" in summary
    assert (count(engine, HouseholdIssuance, issued), count(engine, AuditEntry, logged)) == before
    # The run, from the dry run's button; sent twice, done once.
    data = {"csrf_token": csrf_of(dry.text), "form_key": form_key_of(dry.text), "period": THIS}
    run = treasurer.post(f"{base}/issuance/run", data=data)
    assert run.status_code == 201
    assert "Credits of" in run.text
    assert re.search(r'data-testid="households-issued">4<', run.text)
    again = treasurer.post(f"{base}/issuance/run", data=data)
    assert again.status_code == 201
    assert "had already been sent" in again.text
    assert count(engine, HouseholdIssuance, issued) == before[0] + 4
    assert count(engine, HouseholdIssuance, col(HouseholdIssuance.household_id) == joined.id) == 1
    # A month too far ahead is refused in words.
    far = submit(treasurer, f"{base}/issuance", f"{base}/issuance/dry-run", period="2999-01")
    assert far.status_code == 422


def test_closing_a_month_applies_the_rollover_policy_once(
    treasurer: TestClient, staffed: Staffed, engine: Engine
) -> None:
    base = staffed.base
    page = treasurer.get(f"{base}/close")
    assert "Unspent credits are all kept for the next months." in page.text  # gironde: full
    done = submit(treasurer, f"{base}/close", f"{base}/close", period=PREVIOUS)
    assert done.status_code == 200
    result = text_of(done.text.split('data-testid="close-result"', 1)[1].split("</section>")[0])
    assert "is closed" in result
    assert "Credits returned to the fund: €0.00, from 0 households." in result
    assert f'<option value="{PREVIOUS}"' not in done.text  # no longer offered
    again = treasurer.post(
        f"{base}/close", data={"csrf_token": csrf_of(done.text), "period": PREVIOUS}
    )
    assert "was already closed" in again.text
    assert count(engine, PeriodClose, col(PeriodClose.fund_id) == staffed.fund.id) == 1


# --- Payouts ------------------------------------------------------------------------------


def test_a_payout_batch_its_sepa_file_and_its_confirmation(
    treasurer: TestClient,
    auditor: TestClient,
    staffed: Staffed,
    engine: Engine,
    people: People,
    client: TestClient,
) -> None:
    base = staffed.base
    page = treasurer.get(f"{base}/payouts")
    data = {"csrf_token": csrf_of(page.text), "form_key": form_key_of(page.text), "minimum": ""}
    created = treasurer.post(f"{base}/payouts", data=data, follow_redirects=False)
    assert created.status_code == 303
    location = created.headers["location"]
    again = treasurer.post(f"{base}/payouts", data=data, follow_redirects=False)
    assert again.headers["location"] == location  # once per form
    assert count(engine, Payout, col(Payout.fund_id) == staffed.fund.id) == 1
    batch = treasurer.get(location)
    assert "Batch created: €212.34 to pay." in batch.text
    assert "Épicerie n°1" in batch.text
    # The file: the API's, valid pain.001, downloadable by any of the fund's staff.
    sepa = auditor.get(f"{location}/sepa.xml")
    assert sepa.status_code == 200
    assert sepa.headers["content-type"].startswith("application/xml")
    assert sepa.headers["content-disposition"].startswith("attachment;")
    xmlschema.XMLSchema(str(PAIN_001)).validate(sepa.text)
    payout_id = location.rsplit("/", 1)[1]
    api = client.get(
        f"/api/v1/payouts/{payout_id}/sepa.xml",
        headers=people.as_(("treasurer", staffed.fund.id)),
    )
    # The same file but for its creation time and sepaxml's random payment block id.
    moving = re.compile(rb"<(CreDtTm|PmtInfId)>[^<]*</(CreDtTm|PmtInfId)>")
    assert moving.sub(b"", sepa.content) == moving.sub(b"", api.content)
    ns = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
    root = ET.fromstring(sepa.content)  # noqa: S314 (our own answer, in a test)
    assert root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", namespaces=ns) == "212.34"
    # Confirmed by the treasurer (an auditor has no button, and is refused), once asked a
    # second time: the batch's page only links to the question, which holds the form.
    assert "Confirm the batch" not in auditor.get(location).text
    assert auditor.get(f"{location}/confirm").status_code == 403
    batch = treasurer.get(location)
    assert f'action="{location}/confirm"' not in batch.text
    assert f'href="{location}/confirm"' in batch.text
    asked = treasurer.get(f"{location}/confirm")
    assert asked.status_code == 200
    assert "This cannot be undone." in asked.text
    assert "€212.34" in asked.text
    assert f'href="{location}"' in asked.text  # the way back, a plain link
    with Session(engine) as session:
        waiting = session.get(Payout, uuid.UUID(payout_id))
        assert waiting is not None
        assert waiting.status == PayoutStatus.created
    confirm = treasurer.post(
        f"{location}/confirm",
        data={"csrf_token": csrf_of(asked.text), "form_key": form_key_of(asked.text)},
        follow_redirects=False,
    )
    assert confirm.status_code == 303
    confirmed = treasurer.get(location)
    assert "Batch confirmed" in confirmed.text
    assert f'href="{location}/confirm"' not in confirmed.text
    # Asked again once confirmed: back to the batch, nothing to confirm.
    assert treasurer.get(f"{location}/confirm", follow_redirects=False).status_code == 303
    assert 'data-testid="payout-status">Paid by the bank' in confirmed.text
    with Session(engine) as session:
        payout = session.get(Payout, uuid.UUID(payout_id))
        assert payout is not None
        assert payout.status == PayoutStatus.confirmed
    # Nothing left to pay: said in words.
    page = treasurer.get(f"{base}/payouts")
    empty = treasurer.post(
        f"{base}/payouts",
        data={"csrf_token": csrf_of(page.text), "form_key": form_key_of(page.text)},
    )
    assert empty.status_code == 409
    assert (
        alert_of(empty.text) == "No outlet is owed at least this minimum: there is nothing to pay."
    )


def test_a_cancelled_batch_has_no_file(treasurer: TestClient, staffed: Staffed) -> None:
    base = staffed.base
    page = treasurer.get(f"{base}/payouts")
    created = treasurer.post(
        f"{base}/payouts",
        data={
            "csrf_token": csrf_of(page.text),
            "form_key": form_key_of(page.text),
            "minimum": "100",
        },
        follow_redirects=False,
    )
    location = created.headers["location"]
    batch = treasurer.get(location)
    assert "Épicerie n°0" not in batch.text  # owed less than the minimum
    cancel_key = re.findall(r'name="form_key" value="([^"]+)"', batch.text)[-1]
    treasurer.post(
        f"{location}/cancel",
        data={"csrf_token": csrf_of(batch.text), "form_key": cancel_key},
        follow_redirects=False,
    )
    cancelled = treasurer.get(location)
    assert "Batch cancelled" in cancelled.text
    assert "sepa.xml" not in cancelled.text
    refused = treasurer.get(f"{location}/sepa.xml", follow_redirects=False)
    assert refused.status_code == 303


# --- Outlets ------------------------------------------------------------------------------


def test_a_coordinator_registers_an_outlet_that_applies_to_the_fund(
    coordinator: TestClient, staffed: Staffed, engine: Engine
) -> None:
    base = staffed.base
    listing = coordinator.get(f"{base}/outlets").text
    assert f"{base}/outlets/new" in listing
    form = coordinator.get(f"{base}/outlets/new")
    assert form.status_code == 200
    data = {
        "csrf_token": csrf_of(form.text),
        **outlet_form(93, name="Épicerie  du   Marché", form_key=form_key_of(form.text)),
    }
    done = coordinator.post(f"{base}/outlets/new", data=data, follow_redirects=False)
    assert done.status_code == 303
    (outlet,) = outlets_named(engine, "Épicerie du Marché")
    assert done.headers["location"] == f"{base}/outlets/{outlet.id}"
    page = coordinator.get(done.headers["location"]).text
    assert "is registered and applies to the fund" in page
    with Session(engine) as session:
        standing = session.exec(
            select(OutletFund).where(
                col(OutletFund.outlet_id) == outlet.id, col(OutletFund.fund_id) == staffed.fund.id
            )
        ).one()
        assert standing.status == OutletStatus.applicant
    # The same form again registers nothing more; the same SIRET in a new form is refused.
    assert (
        coordinator.post(f"{base}/outlets/new", data=data, follow_redirects=False).status_code
        == 303
    )
    assert len(outlets_named(engine, "Épicerie du Marché")) == 1
    again = coordinator.post(
        f"{base}/outlets/new", data={**data, "form_key": uuid.uuid4().hex, "name": "Autre"}
    )
    assert again.status_code == 409
    assert 'id="f-siret-error"' in again.text
    assert "already registered" in again.text
    # Bad identifiers and missing fields are said by field; nothing is registered.
    for change, field in (
        ({"siret": "123"}, "siret"),
        ({"iban": "FR00 1234"}, "iban"),
        ({"city": ""}, "city"),
        ({"category": "casino"}, "category"),
    ):
        bad = coordinator.post(
            f"{base}/outlets/new",
            data={"csrf_token": data["csrf_token"], **outlet_form(94, name="Bad", **change)},
        )
        assert bad.status_code in (409, 422), (change, bad.status_code)
        assert f'id="f-{field}-error"' in bad.text, change
    assert outlets_named(engine, "Bad") == []


def test_a_meetings_decision_and_the_file_are_recorded(
    coordinator: TestClient, staffed: Staffed, engine: Engine
) -> None:
    page = f"{staffed.base}/outlets/{staffed.outlets[1]}"
    missing = submit(coordinator, page, f"{page}/status", status="suspended", reference="")
    assert missing.status_code == 422
    assert "Give the reference of the meeting's minutes" in text_of(missing.text)
    done = submit(coordinator, page, f"{page}/status", status="suspended", reference="AG 2026-05")
    assert done.status_code == 303
    shown = coordinator.get(page)
    assert 'data-testid="outlet-status">Suspended' in shown.text
    history = shown.text.split("History in this fund", 1)[1]
    assert "Accredited → Suspended" in history
    assert "AG 2026-05" in history
    assert "Nadia coordinator" in history  # staff are named
    scored = submit(
        coordinator,
        page,
        f"{page}/application",
        **{"score-accessibility": "3", "note-accessibility": "ramp"},
    )
    assert scored.status_code == 303
    with Session(engine) as session:
        standing = session.exec(
            select(OutletFund).where(
                col(OutletFund.outlet_id) == staffed.outlets[1],
                col(OutletFund.fund_id) == staffed.fund.id,
            )
        ).one()
        assert standing.status == OutletStatus.suspended
        assert standing.criteria["accessibility"] == {"score": 3, "note": "ramp"}
    bad = submit(coordinator, page, f"{page}/application", **{"score-accessibility": "9"})
    assert bad.status_code == 422


# --- Lists --------------------------------------------------------------------------------


def test_a_forged_cursor_starts_the_list_again(auditor: TestClient, staffed: Staffed) -> None:
    for path in ("/audit", "/payouts", "/contributions", "/outlets"):
        answer = auditor.get(f"{staffed.base}{path}", params={"cursor": "not-a-cursor"})
        assert answer.status_code == 200, path


def test_the_audit_log_names_staff_not_members(
    coordinator: TestClient, auditor: TestClient, staffed: Staffed, engine: Engine
) -> None:
    page = f"{staffed.base}/households/{staffed.late.id}"
    submit(coordinator, page, f"{page}/status", status="suspended")
    audit = auditor.get(f"{staffed.base}/audit").text
    assert "Nadia coordinator" in audit
    assert "Household changed" in audit
    assert "status: active" in audit
