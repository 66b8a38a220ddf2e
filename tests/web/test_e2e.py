"""The pages in a real browser (Playwright driving Debian's chromium) against a real
server holding the demo: a household sees its credits; a cashier takes a payment with the
PIN and the household finds it in its history; a wrong PIN says the tries left; a payment
asked by the till is confirmed from the phone; everything works with the keyboard alone.
Then every page in every language: an axe-core accessibility check (WCAG 2.x A and AA),
nothing wider than a 390 px phone (the page, or a card's content), and a screenshot under
tests/web/screenshots/.

Without chromium the module is skipped, unless SSA_TEST_REQUIRE_BROWSER=1 (CI) makes it
fail. `apt-get install chromium` brings it; `playwright install` is not needed.
"""

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlmodel import Session, col, select

from ssa.app import create_app
from ssa.db import make_engine, unit_of_work
from ssa.demo import MEMBER_PIN, OUTLET_STAFF, PASSWORD, load_demo
from ssa.households.models import Household
from ssa.households.views import account
from ssa.settings import Settings
from tests.conftest import Databases

pytestmark = pytest.mark.slow

SCREENSHOTS = Path(__file__).parent / "screenshots"
CHROMIUM = os.environ.get("SSA_TEST_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("SSA_TEST_REQUIRE_BROWSER") == "1"
LOCALES = {"fr": "fr-FR", "nl": "nl-BE", "en": "en-GB"}
AXE_LANGUAGE = "fr"
MEMBER_LINE = re.compile(r"^  (\S+@\S+)\s+member, household (\w+) \((\d+) persons?\)")
CASHIER = next(email for email, _, role in OUTLET_STAFF if role.value == "cashier")
PHONE = {"width": 390, "height": 844}  # a common phone's screen (iPhone 12 to 15)
# What sticks out at the phone's width: the page itself, or a card's content (a card that
# scrolls on purpose, overflow other than visible, is left alone).
TOO_WIDE = """() => {
  const wide = [];
  const root = document.documentElement;
  if (root.scrollWidth > window.innerWidth) wide.push(`page ${root.scrollWidth}px`);
  for (const card of document.querySelectorAll(".card")) {
    if (getComputedStyle(card).overflowX === "visible" && card.scrollWidth > card.clientWidth + 1)
      wide.push(`card ${card.scrollWidth}px in ${card.clientWidth}px`);
  }
  return wide;
}"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Site:
    """The demo behind a real HTTP server, and who logs in to it."""

    url: str
    engine_kind: str
    database_url: str
    members: dict[str, str]  # member number -> email (password PASSWORD, PIN MEMBER_PIN)

    def balance_cents(self, member_number: str) -> int:
        engine = make_engine(Settings(database_url=self.database_url))
        try:
            with Session(engine) as session:
                household = session.exec(
                    select(Household).where(col(Household.member_number) == member_number)
                ).one()
                return account(db_session=session, household=household).balance_cents
        finally:
            engine.dispose()

    def richest(self, *, but: str | None = None) -> str:
        """The demo member with the most credits (other than `but`)."""
        numbers = [n for n in self.members if n != but]
        return max(numbers, key=self.balance_cents)


@pytest.fixture(scope="module")
def site(engine_kind: str, databases: Databases) -> Iterator[Site]:
    url = databases.migrated(engine_kind)
    engine = make_engine(Settings(database_url=url))
    with unit_of_work(engine) as session:
        lines = load_demo(db_session=session, settings=Settings(database_url=url))
    engine.dispose()
    members = {m.group(2): m.group(1) for m in map(MEMBER_LINE.match, lines) if m}
    assert len(members) >= 2, lines
    app = create_app(Settings(database_url=url))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="e2e-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "the server stopped"
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield Site(f"http://127.0.0.1:{port}", engine_kind, url, members)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        reason = f"chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        if REQUIRE_BROWSER:
            pytest.fail(f"browser tests required (SSA_TEST_REQUIRE_BROWSER=1): {reason}")
        pytest.skip(f"{reason}: browser tests skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield launched
        launched.close()


FOREIGN: dict[int, list[str]] = {}  # per browser context: requests to anywhere else


def new_page(browser: Any, site: Site, language: str = "en") -> Any:
    context = browser.new_context(base_url=site.url, locale=LOCALES[language], viewport=PHONE)
    context.set_default_timeout(15_000)
    foreign = FOREIGN.setdefault(id(context), [])
    # Nothing may be fetched from anywhere but the site itself (`close` checks).
    context.on(
        "request",
        lambda request: None if request.url.startswith(site.url) else foreign.append(request.url),
    )
    return context.new_page()


def close(page: Any) -> None:
    """Close the page's browser context, after checking it fetched nothing from elsewhere."""
    foreign = FOREIGN.pop(id(page.context), [])
    page.context.close()
    assert foreign == [], f"requests outside the site: {foreign}"


def log_in(page: Any, email: str) -> None:
    page.goto("/login")
    page.fill("#f-email", email)
    page.fill("#f-password", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()


def euros(text: str) -> int:
    """'€142.80' (the English pages) in cents."""
    return int(Decimal(re.sub(r"[^0-9.]", "", text)) * 100)


def till_payment(page: Any, member_number: str, amount: str, pin: str) -> None:
    page.goto("/till")
    page.fill("#f-member_number", member_number)
    page.fill("#f-amount", amount)
    page.fill("#f-pin", pin)
    page.locator(".till-form button[type=submit]").click()
    page.wait_for_load_state()


# --- The journeys ---------------------------------------------------------------------


def test_a_household_logs_in_and_sees_its_credits(browser: Any, site: Site) -> None:
    number = site.richest()
    page = new_page(browser, site)
    log_in(page, site.members[number])
    assert page.url.endswith("/me")
    assert euros(page.get_by_test_id("balance").inner_text()) == site.balance_cents(number)
    assert number in page.locator("main").inner_text()
    page.get_by_role("link", name="All my history").click()
    assert page.get_by_role("heading", name="History").is_visible()
    assert "Monthly credits" in page.locator("table").inner_text()
    close(page)


def test_a_cashier_takes_a_payment_the_household_sees_it(browser: Any, site: Site) -> None:
    number = site.richest()
    before = site.balance_cents(number)
    till = new_page(browser, site)
    log_in(till, CASHIER)
    assert "/till/" in till.url
    till_payment(till, number, "12.34", MEMBER_PIN)
    assert till.get_by_role("heading", name="Payment accepted").is_visible()
    assert euros(till.get_by_test_id("remaining").inner_text()) == before - 1234
    # Today's takings list it, with a refund link.
    till.get_by_role("link", name="Today's takings").click()
    assert "€12.34" in till.locator("table").inner_text()
    phone = new_page(browser, site)
    log_in(phone, site.members[number])
    assert euros(phone.get_by_test_id("balance").inner_text()) == before - 1234
    phone.goto("/me/history")
    first_row = phone.locator("table tbody tr").first.inner_text()
    assert "Payment" in first_row
    assert "Primeurs Dufau" in first_row
    assert "−€12.34" in first_row
    close(till)
    close(phone)


def test_a_wrong_pin_shows_the_tries_left(browser: Any, site: Site) -> None:
    number = site.richest()
    before = site.balance_cents(number)
    till = new_page(browser, site, "fr")
    log_in(till, CASHIER)
    till_payment(till, number, "5,00", "0000" if MEMBER_PIN != "0000" else "1111")
    alert = till.get_by_role("alert").inner_text()
    assert alert == "Code PIN erroné. Encore 4 essais avant le blocage de la carte."
    # The number and the amount stay; only the PIN is typed again.
    assert till.input_value("#f-member_number") == number
    assert till.input_value("#f-amount") == "5,00"
    till.fill("#f-pin", MEMBER_PIN)
    till.get_by_role("button", name="Payer", exact=True).click()
    assert till.get_by_role("heading", name="Paiement accepté").is_visible()
    assert site.balance_cents(number) == before - 500
    close(till)


def test_a_payment_asked_by_the_till_is_confirmed_on_the_phone(browser: Any, site: Site) -> None:
    number = site.richest()
    before = site.balance_cents(number)
    till = new_page(browser, site)
    log_in(till, CASHIER)
    till.locator("summary").click()
    till.fill("#f-request-amount", "3.10")
    till.get_by_role("button", name="Show a code to the member").click()
    code = till.get_by_test_id("code").inner_text()
    phone = new_page(browser, site)
    log_in(phone, site.members[number])
    phone.get_by_role("link", name="Pay with my phone").first.click()
    phone.fill("#f-code", code.lower())
    phone.get_by_role("button", name="Continue").click()
    phone.get_by_role("button", name="Pay €3.10").click()
    assert phone.get_by_role("heading", name="Paid").is_visible()
    assert f"Credits left: €{(before - 310) / 100:,.2f}" in phone.locator("main").inner_text()
    # The till's page notices by itself (it asks every two seconds) and shows it.
    till.get_by_role("heading", name="Paid by the member").wait_for()
    close(till)
    close(phone)


def test_everything_works_with_the_keyboard_alone(browser: Any, site: Site) -> None:
    number = site.richest()
    page = new_page(browser, site)
    page.goto("/login")
    for _ in range(20):  # past the skip link, the brand and the language switch
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "f-email":
            break
    assert page.evaluate("document.activeElement.id") == "f-email"
    page.keyboard.type(CASHIER)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/till/"))
    # The member number field has the focus; the focus ring shows where it is.
    assert page.evaluate("document.activeElement.id") == "f-member_number"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.type(number)
    page.keyboard.press("Tab")
    page.keyboard.type("1.50")
    page.keyboard.press("Tab")
    page.keyboard.type(MEMBER_PIN)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Payment accepted").wait_for()
    # On any page the first stop is the skip link, which takes the focus to the content.
    page.goto("/outlets")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    assert page.get_by_role("link", name="Skip to content").is_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    close(page)


# --- Every page, every language: accessibility and screenshots --------------------------


@dataclass
class Checker:
    """Runs axe-core on a page, keeps what it finds, and takes the page's screenshot."""

    axe: Any
    folder: Path
    found: dict[str, list[str]]

    def __call__(self, page: Any, language: str, name: str) -> None:
        check(page, self.axe, self.folder, language, name, self.found)


def violations(page: Any, axe: Any) -> list[str]:
    """What axe-core finds against WCAG 2.1 A and AA on the page as it is now."""
    results = axe.run(
        page,
        options={
            "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
            "resultTypes": ["violations"],
        },
    )
    return [
        f"{violation['id']}: {[', '.join(node['target']) for node in violation['nodes']][:3]}"
        for violation in results.response["violations"]
    ]


def check(
    page: Any, axe: Any, folder: Path, language: str, name: str, found: dict[str, list[str]]
) -> None:
    """Screenshot the page; in the checked language, run axe-core on it too (the pages are
    the same markup in every language, and a run costs about a second); in every language
    (the words' lengths differ), nothing may be wider than the phone's screen."""
    page.wait_for_load_state()
    if language == AXE_LANGUAGE and (problems := violations(page, axe)):
        found[f"{language}/{name}"] = problems
    if wide := page.evaluate(TOO_WIDE):
        found.setdefault(f"{language}/{name}", []).append(
            f"wider than a {PHONE['width']}px phone: {wide}"
        )
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{language}-{name}.png"), full_page=True)


def test_every_page_in_every_language_is_accessible(browser: Any, site: Site) -> None:
    """axe-core on every page (WCAG 2.1 A and AA: labels, contrast, names, landmarks...),
    and a screenshot of each page in French, Dutch and English."""
    if site.engine_kind != "sqlite":
        pytest.skip("the pages are the same on both engines: checked and pictured on SQLite")
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    # The check can fail: a field without a label, grey on grey.
    bad = new_page(browser, site)
    bad.set_content(
        '<html lang="en"><body><main><input name="x">'
        '<p style="color:#bbb;background:#ccc">faint</p></main></body></html>'
    )
    assert {v.split(":")[0] for v in violations(bad, axe)} >= {"label", "color-contrast"}
    close(bad)
    found: dict[str, list[str]] = {}
    _check = Checker(axe, SCREENSHOTS, found)
    number = site.richest()
    for language in LOCALES:
        visitor = new_page(browser, site, language)
        for name, path in (
            ("home", "/"),
            ("login", "/login"),
            ("invitation", "/invitation"),
            ("funds", "/outlets"),
            ("outlets", "/funds/bordeaux/outlets"),
            ("not-found", "/funds/nowhere/outlets"),
        ):
            visitor.goto(path)
            _check(visitor, language, name)
        visitor.goto("/login")
        visitor.fill("#f-email", site.members[number])
        visitor.fill("#f-password", "not the password")
        visitor.locator("main form button[type=submit]").click()
        _check(visitor, language, "login-refused")
        close(visitor)

        member = new_page(browser, site, language)
        log_in(member, site.members[number])
        for name, path in (
            ("member-home", "/me"),
            ("member-history", "/me/history"),
            ("member-pin", "/me/pin"),
            ("member-pay", "/me/pay"),
            ("member-card", "/me/card"),
            ("member-welcome", "/"),
        ):
            member.goto(path)
            _check(member, language, name)
        member.goto("/me/pin")
        member.fill("#f-pin", "12")
        member.fill("#f-pin_again", "12")
        member.locator("main form button[type=submit]").click()
        _check(member, language, "member-pin-refused")

        till = new_page(browser, site, language)
        log_in(till, CASHIER)
        _check(till, language, "till")
        till_payment(till, number, "1", "0000" if MEMBER_PIN != "0000" else "1111")
        _check(till, language, "till-wrong-pin")
        till_payment(till, number, "1", MEMBER_PIN)
        _check(till, language, "till-receipt")
        till.goto(till.url.rsplit("/pay", 1)[0] + "/today")
        _check(till, language, "till-today")
        till.locator("table a").first.click()
        _check(till, language, "till-refund")
        till.goto(till.url.split("/payments/")[0])
        till.locator("summary").click()
        till.fill("#f-request-amount", "2")
        till.locator("details form button[type=submit]").click()
        _check(till, language, "till-request")
        code = till.get_by_test_id("code").inner_text()

        member.goto(f"/me/pay?code={code}")
        _check(member, language, "member-confirm")
        member.locator("main form button[type=submit]").click()
        _check(member, language, "member-paid")
        till.locator(".result.success").wait_for()  # the till's page reloads by itself
        _check(till, language, "till-request-paid")
        close(member)
        close(till)
    assert found == {}, "accessibility violations (axe-core), or too wide:\n" + "\n".join(
        f"{page}: {items}" for page, items in sorted(found.items())
    )
