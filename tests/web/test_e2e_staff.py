"""The fund staff's pages in a real browser (Playwright driving Debian's chromium) against a
real server holding the demo. The journey: the treasurer issues next month's credits after
a dry run, then creates a payout batch, downloads its SEPA file (valid pain.001) and
confirms it. Then every staff page in every language: axe-core (WCAG 2.1 A and AA) and a
screenshot under tests/web/screenshots/.

The server, the browser and the checks are those of `test_e2e.py` (skipped without
chromium unless SSA_TEST_REQUIRE_BROWSER=1).
"""

import re
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import sepaxml  # type: ignore[import-untyped]
import xmlschema
from sqlalchemy import func
from sqlmodel import Session, col, select

from ssa.auth.roles import Role
from ssa.db import make_engine
from ssa.demo import MEMBER_PIN, STAFF
from ssa.funds.models import Fund
from ssa.funds.service import current_period
from ssa.issuance import periods
from ssa.issuance.models import HouseholdIssuance
from ssa.payouts.models import Payout, PayoutStatus
from ssa.settings import Settings
from tests.web import test_e2e
from tests.web.test_e2e import (
    CASHIER,
    LOCALES,
    SCREENSHOTS,
    Checker,
    Site,
    close,
    euros,
    log_in,
    new_page,
    till_payment,
)

pytestmark = pytest.mark.slow

# The demo behind a real server, and chromium: the fixtures of test_e2e.py.
browser = test_e2e.browser
site = test_e2e.site

FUND = "bordeaux"  # the demo fund whose staff log in
BASE = f"/staff/{FUND}"
LOGINS = {role: email for email, _, role in STAFF}
PAIN_001 = Path(sepaxml.__file__).parent / "schemas" / "pain.001.001.03.xsd"
NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}


def issued_in(site: Site, period: str) -> int:
    """Households of the demo fund issued credits for `period`."""
    engine = make_engine(Settings(database_url=site.database_url))
    try:
        with Session(engine) as session:
            return int(
                session.exec(
                    select(func.count())
                    .select_from(HouseholdIssuance)
                    .join(Fund, col(Fund.id) == col(HouseholdIssuance.fund_id))
                    .where(col(Fund.slug) == FUND, col(HouseholdIssuance.period) == period)
                ).one()
            )
    finally:
        engine.dispose()


def payout_status(site: Site, payout_id: str) -> str:
    engine = make_engine(Settings(database_url=site.database_url))
    try:
        with Session(engine) as session:
            payout = session.get(Payout, uuid.UUID(payout_id))
            assert payout is not None
            return str(payout.status)
    finally:
        engine.dispose()


def to(page: Any, menu_item: str) -> None:
    """Through the staff menu, as a person would."""
    page.get_by_role("navigation", name="Fund staff").get_by_role("link", name=menu_item).click()
    page.wait_for_load_state()


def main_text(page: Any) -> str:
    return " ".join(str(page.locator("main").inner_text()).split())


# --- Every staff page, every language: accessibility and screenshots ------------------------


def test_every_staff_page_in_every_language_is_accessible(browser: Any, site: Site) -> None:
    """The coordinator's, the treasurer's and the auditor's pages: axe-core and screenshots."""
    if site.engine_kind != "sqlite":
        pytest.skip("the pages are the same on both engines: checked and pictured on SQLite")
    from axe_playwright_python.sync_playwright import Axe

    found: dict[str, list[str]] = {}
    checker = Checker(Axe(), SCREENSHOTS, found)
    too_wide: list[str] = []

    def check(page: Any, language: str, name: str) -> None:
        """axe-core and the screenshot; and nothing wider than the phone (mobile first)."""
        checker(page, language, name)
        if page.evaluate("document.documentElement.scrollWidth > window.innerWidth"):
            too_wide.append(f"{language}/{name}")

    before_last = periods.shift(current_period(), -1)
    for language in LOCALES:
        office = new_page(browser, site, language)
        log_in(office, LOGINS[Role.coordinator])
        assert office.url.endswith(BASE)
        check(office, language, "staff-home")
        office.goto(f"{BASE}/dashboard")
        assert office.locator("svg[role=img]").count() >= 3
        check(office, language, "staff-dashboard")
        office.goto(f"{BASE}/households")
        check(office, language, "staff-households")
        office.locator("main table tbody a").first.click()
        office.wait_for_load_state()
        check(office, language, "staff-household")
        # Leaving is final: asked once more, and going back changes nothing.
        household_url = office.url
        office.select_option("#f-status", "left")
        office.locator("main form[action$='/status'] button[type=submit]").click()
        office.wait_for_load_state()
        check(office, language, "staff-household-leave")
        office.locator(f"main .card a[href='{household_url.removeprefix(site.url)}']").click()
        office.wait_for_load_state()
        assert office.url == household_url
        office.goto(f"{BASE}/households/new")
        check(office, language, "staff-household-new")
        office.locator("main form button[value=register]:not([tabindex])").click()
        office.wait_for_load_state()
        check(office, language, "staff-household-new-refused")
        office.fill("#f-p0-given_name", "Aïcha")
        office.fill("#f-p0-family_name", "Benali")
        office.fill("#f-p0-birth_date", "1985-04-12")
        office.fill("#f-line1", "12 rue des Faures")
        office.fill("#f-postcode", "33800")
        office.fill("#f-city", "Bordeaux")
        for field, amount in (("income", "1450"), ("housing", "520"), ("other_fixed", "80")):
            office.fill(f"#f-{field}", amount)
        office.fill("#f-food_budget", "300")
        office.locator("main form button[value=assess]").click()
        office.wait_for_load_state()
        assert office.get_by_test_id("assessment").is_visible()
        check(office, language, "staff-household-assessed")
        office.goto(f"{BASE}/contributions?period={before_last}")
        check(office, language, "staff-contributions")
        office.goto(f"{BASE}/contributions")
        waive = office.locator("main table a[href*='/contributions/waive']")
        if waive.count():
            waive.first.click()
            office.wait_for_load_state()
            check(office, language, "staff-contribution-waive")
        office.goto(f"{BASE}/outlets")
        check(office, language, "staff-outlets")
        office.locator("main table tbody a").first.click()
        office.wait_for_load_state()
        check(office, language, "staff-outlet")
        office.goto(f"{BASE}/audit")
        check(office, language, "staff-audit")
        close(office)

        books = new_page(browser, site, language)
        log_in(books, LOGINS[Role.treasurer])
        books.goto(f"{BASE}/issuance")
        check(books, language, "staff-issuance")
        books.locator(f"#f-period-{before_last}").check()
        books.locator("main form[action$='/dry-run'] button[type=submit]").click()
        books.wait_for_load_state()
        check(books, language, "staff-issuance-dry-run")
        books.goto(f"{BASE}/close")
        check(books, language, "staff-close")
        books.goto(f"{BASE}/contributions")
        books.locator("main table a[href*='/contributions/record']").first.click()
        books.wait_for_load_state()
        check(books, language, "staff-contribution-record")
        books.goto(f"{BASE}/payouts")
        check(books, language, "staff-payouts")
        books.locator("main form[action$='/payouts'] button[type=submit]").click()
        books.wait_for_load_state()
        if "/payouts/" not in books.url:  # nothing owed any more: the batch made before
            books.locator("main table tbody a").first.click()
            books.wait_for_load_state()
        check(books, language, "staff-payout")
        ask = books.locator("main a[href$='/confirm']")
        if ask.count():  # a batch still to confirm: the question before the euros leave
            ask.click()
            books.wait_for_load_state()
            check(books, language, "staff-payout-confirm")
        close(books)

        auditor = new_page(browser, site, language)
        log_in(auditor, LOGINS[Role.auditor])
        check(auditor, language, "staff-home-auditor")
        close(auditor)
    assert found == {}, "accessibility violations (axe-core):\n" + "\n".join(
        f"{page}: {items}" for page, items in sorted(found.items())
    )
    assert too_wide == [], f"pages wider than a phone's screen: {too_wide}"


# --- The journey -----------------------------------------------------------------------------


def test_the_treasurer_issues_a_month_and_downloads_a_payout_file(
    browser: Any, site: Site, tmp_path: Path
) -> None:
    coming = periods.shift(current_period(), 1)
    # A member pays at a till: the fund owes that outlet at least this.
    till = new_page(browser, site)
    log_in(till, CASHIER)
    till_payment(till, site.richest(), "4.20", MEMBER_PIN)
    assert till.get_by_role("heading", name="Payment accepted").is_visible()
    close(till)

    page = new_page(browser, site)
    log_in(page, LOGINS[Role.treasurer])
    assert page.url.endswith(BASE)  # the treasurer lands on the fund's staff home

    # Next month's credits: a dry run first, which writes nothing...
    to(page, "Monthly credits")
    assert page.locator(f"#f-period-{coming}").is_checked()  # this month is issued already
    page.get_by_role("button", name="Dry run", exact=True).click()
    page.wait_for_load_state()
    summary = page.get_by_test_id("issuance-summary")
    assert "nothing was written" in summary.inner_text()
    households = int(page.get_by_test_id("households-issued").inner_text())
    total = page.get_by_test_id("total").inner_text()
    assert households > 0
    assert issued_in(site, coming) == 0
    # ...then the run, from the dry run's button.
    page.get_by_role("button", name=re.compile(r"^Issue €")).click()
    page.wait_for_load_state()
    assert "Credits of" in page.get_by_role("heading", level=2).first.inner_text()
    assert int(page.get_by_test_id("households-issued").inner_text()) == households
    assert page.get_by_test_id("total").inner_text() == total
    assert issued_in(site, coming) == households

    # A payout batch: every outlet the fund owes, and its SEPA file for the bank.
    to(page, "Payouts")
    page.get_by_role("button", name="Create the batch").click()
    page.wait_for_load_state()
    assert "/payouts/" in page.url
    payout_id = page.url.rsplit("/", 1)[1]
    status = page.get_by_role("status").inner_text()
    assert status.startswith("Batch created: €")
    batch_total = euros(status.split(" to pay")[0])
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the transfer file (SEPA XML)").click()
    download = download_info.value
    assert download.suggested_filename == f"payout-{payout_id}.xml"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    xmlschema.XMLSchema(str(PAIN_001)).validate(str(saved))
    root = ET.parse(saved).getroot()  # noqa: S314 (the app's own file, in a test)
    control_sum = root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", namespaces=NS)
    assert control_sum is not None
    assert round(float(control_sum) * 100) == batch_total
    assert "Primeurs Dufau" in main_text(page)  # the outlet where the member just paid

    # The bank made the transfers: confirmed, once asked a second time (with the keyboard).
    page.get_by_role("link", name="Confirm the batch").click()
    page.wait_for_load_state()
    assert "cannot be undone" in main_text(page)
    assert payout_status(site, payout_id) == PayoutStatus.created.value  # not yet
    page.get_by_role("button", name="Yes, the bank made the transfers: confirm").focus()
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    assert "Batch confirmed" in page.get_by_role("status").inner_text()
    assert page.get_by_test_id("payout-status").inner_text() == "Paid by the bank"
    assert payout_status(site, payout_id) == PayoutStatus.confirmed.value
    close(page)
