"""The assembly in a real browser (Playwright driving Debian's chromium) against a real
server holding the demo, through the journey: a member votes, then changes the vote (with
the keyboard alone); an applicant outlet's cashier cannot take a payment yet; the
coordinator closes the proposal, adopted, and the same payment then goes through. Then
every assembly page in every language: axe-core (WCAG 2.1 A and AA) and a screenshot under
tests/web/screenshots/.

The server, the browser and the checks are those of `test_e2e.py` (skipped without
chromium unless SSA_TEST_REQUIRE_BROWSER=1).
"""

import re
import uuid
from typing import Any

import pytest
from sqlmodel import Session, col, select

from ssa.assembly.models import Proposal, ProposalStatus
from ssa.auth.roles import Role
from ssa.auth.service import create_user, grant_role
from ssa.db import make_engine
from ssa.demo import MEMBER_PIN, PASSWORD, STAFF
from ssa.funds.models import Fund
from ssa.settings import Settings
from tests.web import test_e2e
from tests.web.test_e2e import (
    LOCALES,
    SCREENSHOTS,
    Checker,
    Site,
    close,
    log_in,
    new_page,
    till_payment,
)

pytestmark = pytest.mark.slow

# The demo behind a real server, and chromium: the fixtures of test_e2e.py.
browser = test_e2e.browser
site = test_e2e.site

FUND = "bordeaux"  # the demo fund whose staff and members log in
COORDINATOR = next(email for email, _, role in STAFF if role is Role.coordinator)
NOT_ACCREDITED = "This shop is not accredited by the member's fund: the card cannot pay here."


def open_vote(site: Site) -> tuple[uuid.UUID, str, uuid.UUID]:
    """The demo's open vote in Bordeaux: its id, title and outlet (an applicant)."""
    engine = make_engine(Settings(database_url=site.database_url))
    try:
        with Session(engine) as session:
            proposal = session.exec(
                select(Proposal)
                .join(Fund, col(Fund.id) == col(Proposal.fund_id))
                .where(col(Fund.slug) == FUND, col(Proposal.status) == ProposalStatus.open.value)
            ).one()
            return proposal.id, proposal.title, proposal.outlet_id
    finally:
        engine.dispose()


def outlet_cashier(site: Site, outlet_id: uuid.UUID) -> str:
    """A cashier for the outlet (the demo gives its applicants no staff)."""
    email = f"caisse-{uuid.uuid4().hex[:8]}@example.org"
    engine = make_engine(Settings(database_url=site.database_url))
    try:
        with Session(engine) as session:
            user = create_user(
                db_session=session, email=email, display_name="Caissière", password=PASSWORD
            )
            grant_role(
                db_session=session,
                actor="system:test",
                user_id=user.id,
                role=Role.cashier,
                outlet_id=outlet_id,
            )
            session.commit()
    finally:
        engine.dispose()
    return email


def payer(site: Site) -> tuple[str, str]:
    """The demo member who votes in the journey and pays: (member number, email)."""
    number = site.richest()
    return number, site.members[number]


def bystander(site: Site) -> tuple[str, str]:
    """Another demo member, who votes on the pages pictured: (member number, email)."""
    number = next(n for n in sorted(site.members) if n != site.richest())
    return number, site.members[number]


def to_assembly(page: Any) -> None:
    """Through the navigation, as a person would."""
    page.get_by_role("navigation", name="Your spaces").get_by_role("link", name="Assembly").click()
    page.wait_for_load_state()


def main_text(page: Any) -> str:
    return " ".join(str(page.locator("main").inner_text()).split())


# --- Every assembly page, every language: accessibility and screenshots -------------------


def test_every_assembly_page_in_every_language_is_accessible(browser: Any, site: Site) -> None:
    """The members' and the coordinator's assembly pages, axe-core and screenshots (before
    the journey below closes the open vote; another member than the journey's)."""
    if site.engine_kind != "sqlite":
        pytest.skip("the pages are the same on both engines: checked and pictured on SQLite")
    from axe_playwright_python.sync_playwright import Axe

    proposal_id, _, _ = open_vote(site)
    _, email = bystander(site)
    found: dict[str, list[str]] = {}
    check = Checker(Axe(), SCREENSHOTS, found)
    for language in LOCALES:
        voter = new_page(browser, site, language)
        log_in(voter, email)
        voter.goto("/assembly")
        check(voter, language, "assembly")
        voter.goto(f"/assembly/proposals/{proposal_id}")
        check(voter, language, "assembly-proposal")
        voter.locator("main form button[type=submit]").click()  # no choice: the browser asks
        voter.locator("#f-choice-abstain").check()
        voter.locator("main form button[type=submit]").click()
        voter.wait_for_load_state()
        check(voter, language, "assembly-voted")
        voter.goto(f"/assembly/{FUND}")
        voter.locator(".proposals").last.get_by_role("link").first.click()
        check(voter, language, "assembly-result")
        voter.goto(f"/assembly/{FUND}/committee")
        check(voter, language, "assembly-committees")
        close(voter)

        coordinator = new_page(browser, site, language)
        log_in(coordinator, COORDINATOR)
        coordinator.goto(f"/assembly/proposals/{proposal_id}")
        check(coordinator, language, "assembly-coordinator-proposal")
        coordinator.goto(f"/assembly/proposals/{proposal_id}/close")
        check(coordinator, language, "assembly-close")
        coordinator.goto(f"/assembly/{FUND}/new")
        check(coordinator, language, "assembly-new")
        coordinator.locator("#f-title").fill(" ")
        coordinator.locator("main form button[type=submit]").click()
        check(coordinator, language, "assembly-new-refused")
        coordinator.goto(f"/assembly/{FUND}/committee")
        coordinator.fill("#f-size", "5")
        coordinator.fill("#f-seed", f"Tirage {language} 04 12 27")
        coordinator.locator("#f-in_force").uncheck()  # a draw that changes nothing
        check(coordinator, language, "assembly-committee")
        coordinator.locator("main form button[type=submit]").click()
        coordinator.wait_for_load_state()
        assert "/assembly/committees/" in coordinator.url
        check(coordinator, language, "assembly-draw")
        close(coordinator)
    assert found == {}, "accessibility violations (axe-core):\n" + "\n".join(
        f"{page}: {items}" for page, items in sorted(found.items())
    )


# --- The journey -----------------------------------------------------------------------------


def test_a_member_votes_the_coordinator_closes_and_the_outlet_takes_payments(
    browser: Any, site: Site
) -> None:
    proposal_id, title, outlet_id = open_vote(site)
    number, email = payer(site)
    cashier_email = outlet_cashier(site, outlet_id)

    # The outlet only applied: its cashier cannot take the member's card yet.
    till = new_page(browser, site)
    log_in(till, cashier_email)
    assert f"/till/{outlet_id}" in till.url
    till_payment(till, number, "7.50", MEMBER_PIN)
    assert till.get_by_role("alert").inner_text() == NOT_ACCREDITED

    # The member finds the vote and votes "no" with the keyboard alone...
    phone = new_page(browser, site)
    log_in(phone, email)
    to_assembly(phone)
    assert phone.url.endswith(f"/assembly/{FUND}")
    phone.get_by_role("link", name=title).click()
    assert phone.get_by_test_id("voter-state").inner_text() == "You have not voted yet."
    assert "Result" not in main_text(phone)  # no count while the vote is open
    for _ in range(60):
        phone.keyboard.press("Tab")
        if phone.evaluate("document.activeElement.name") == "choice":
            break
    assert phone.evaluate("document.activeElement.value") == "yes"
    assert phone.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    phone.keyboard.press("ArrowDown")
    assert phone.evaluate("document.activeElement.value") == "no"
    assert phone.evaluate("document.activeElement.checked")
    phone.keyboard.press("Enter")
    phone.wait_for_load_state()
    assert "Your vote is recorded." in phone.get_by_role("status").inner_text()
    assert phone.get_by_test_id("voter-state").inner_text() == "You have voted."
    # ...then changes it to "yes": the page says it changed, never what it was.
    assert phone.locator("input[name=choice]:checked").count() == 0
    phone.get_by_label("Yes", exact=True).check()
    phone.get_by_role("button", name="Change my vote").click()
    assert "only your latest vote counts" in phone.get_by_role("status").inner_text()
    assert re.search(r"\bno\b|\byes\b", phone.get_by_test_id("voter-state").inner_text()) is None

    # The coordinator closes the vote, after a confirmation.
    office = new_page(browser, site)
    log_in(office, COORDINATOR)
    to_assembly(office)
    office.get_by_role("link", name=title).click()
    office.get_by_role("link", name="Close the vote now…").click()
    assert office.get_by_role("heading", name="Close the vote?").is_visible()
    office.get_by_role("button", name="Yes, close the vote now").click()
    office.wait_for_load_state()
    assert office.url.endswith(f"/assembly/proposals/{proposal_id}")
    assert office.get_by_test_id("result").inner_text() == "Adopted"
    words = main_text(office)
    assert "The vote is closed. Result: Adopted." in words
    assert "The outlet is now accredited by the fund" in words

    # The member sees the result; voting is over.
    phone.reload()
    assert phone.get_by_test_id("result").inner_text() == "Adopted"
    assert phone.locator("input[name=choice]").count() == 0

    # And the outlet's cashier now takes the payment with the PIN.
    till_payment(till, number, "7.50", MEMBER_PIN)
    assert till.get_by_role("heading", name="Payment accepted").is_visible()
    for page in (till, phone, office):
        close(page)  # and nothing was fetched from elsewhere
