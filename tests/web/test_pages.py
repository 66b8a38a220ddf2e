"""The pages without a browser: what they show, in which language, who may see them, and
that every form is protected and moves money once. On SQLite and on PostgreSQL."""

import re
import uuid
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from ssa.auth.roles import Role
from ssa.db import unit_of_work
from ssa.households.models import Household, HouseholdStatus
from ssa.households.service import pin_matches
from ssa.outlets.models import OutletStatus
from ssa.payments.models import Payment, Refund
from ssa.settings import Settings
from ssa.web.render import SECURITY_HEADERS
from tests.issuance.helpers import make_fund
from tests.payments.helpers import PIN
from tests.web.helpers import (
    World,
    add_member,
    add_outlet,
    add_user,
    alert_of,
    csrf_of,
    form_key_of,
    log_in,
    make_world,
    page_client,
    submit,
)


@pytest.fixture
def world(engine: Engine) -> World:
    return make_world(engine)


@pytest.fixture
def member(app: FastAPI, world: World) -> Iterator[TestClient]:
    with page_client(app) as client:
        assert log_in(client, world.member_email).headers["location"] == "/me"
        yield client


@pytest.fixture
def cashier(app: FastAPI, world: World) -> Iterator[TestClient]:
    with page_client(app) as client:
        assert log_in(client, world.cashier_email).headers["location"] == "/till"
        yield client


def payments_of(engine: Engine, household_id: uuid.UUID) -> int:
    with Session(engine) as session:
        return session.exec(
            select(func.count()).where(col(Payment.household_id) == household_id)
        ).one()


def till_pay(client: TestClient, world: World, amount: str, pin: str = PIN, **extra: str) -> object:
    till = f"/till/{world.outlet_id}"
    fields = {"member_number": world.member_number, "amount": amount, "pin": pin, **extra}
    return submit(client, till, f"{till}/pay", **fields)


# --- The landing page, languages, headers ----------------------------------------------


@pytest.mark.parametrize(
    ("accept", "language", "words"),
    [
        ("fr-FR,fr;q=0.9,en;q=0.5", "fr", "Se connecter"),
        ("nl-BE,nl;q=0.9", "nl", "Aanmelden"),
        ("en-GB,en;q=0.8", "en", "Log in"),
        ("de-DE", "fr", "Se connecter"),  # none offered: French, the funds' language
        ("de;q=1, nl;q=0.5, en;q=0.8", "en", "Log in"),
    ],
)
def test_the_landing_page_speaks_the_browser_language(
    app: FastAPI, accept: str, language: str, words: str
) -> None:
    with page_client(app, accept) as client:
        page = client.get("/")
    assert page.status_code == 200
    assert f'<html lang="{language}">' in page.text
    assert words in page.text
    assert page.headers["content-language"] == language


def test_the_language_switch_is_remembered(app: FastAPI) -> None:
    with page_client(app, "fr") as client:
        switched = client.get("/language/nl?next=/login", follow_redirects=False)
        assert switched.status_code == 303
        assert switched.headers["location"] == "/login"
        assert "HttpOnly" in switched.headers["set-cookie"]
        assert "Aanmelden" in client.get("/login").text
        # Never an open redirect, never an unknown language.
        assert (
            client.get("/language/xx?next=//evil.example", follow_redirects=False).headers[
                "location"
            ]
            == "/"
        )
        assert "Aanmelden" in client.get("/").text


def test_pages_load_nothing_from_elsewhere(app: FastAPI) -> None:
    with page_client(app) as client:
        page = client.get("/")
        for header, value in SECURITY_HEADERS.items():
            assert page.headers[header] == value
        assert "default-src 'self'" in page.headers["content-security-policy"]
        for link in re.findall(r'(?:src|href)="([^"]+)"', page.text):
            assert link.startswith(("/", "#")), link
        css = client.get("/static/ssa.css")
        assert css.status_code == 200
        assert "@import" not in css.text
        assert "url(http" not in css.text


def test_pages_stay_out_of_the_api_description(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p == "/" or p.startswith(("/me", "/till", "/login"))]


# --- Login and logout --------------------------------------------------------------------


def test_login_refuses_a_wrong_password_in_plain_words(app: FastAPI, world: World) -> None:
    with page_client(app, "fr") as client:
        refused = log_in(client, world.member_email, "not the password")
        assert refused.status_code == 401
        assert "Adresse e-mail ou mot de passe incorrect." in refused.text
        assert client.get("/me", follow_redirects=False).headers["location"] == "/login?next=/me"


def test_login_is_throttled_like_the_token_endpoint(app: FastAPI, world: World) -> None:
    with page_client(app) as client:
        for _ in range(3):
            assert log_in(client, world.member_email, "not the password").status_code == 401
        slowed = log_in(client, world.member_email, "not the password")
        assert slowed.status_code == 429
        assert "Too many failed logins" in slowed.text


def test_the_session_cookie_is_httponly_and_samesite(app: FastAPI, world: World) -> None:
    with page_client(app) as client:
        done = log_in(client, world.member_email)
    cookie = done.headers["set-cookie"]
    assert "ssa_session=" in cookie
    assert "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()
    assert "secure" not in cookie.lower()  # plain HTTP here; SSA_SECURE_COOKIES marks it


def test_the_session_cookie_is_secure_when_configured(database_url: str, world: World) -> None:
    from ssa.app import create_app

    app = create_app(Settings(database_url=database_url, secure_cookies=True))
    try:
        with page_client(app) as client:
            assert "secure" in client.get("/login").headers["set-cookie"].lower()
    finally:
        app.state.engine.dispose()


def test_login_then_logout(member: TestClient) -> None:
    assert member.get("/me").status_code == 200
    home = member.get("/")
    out = member.post("/logout", data={"csrf_token": csrf_of(home.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert member.get("/me", follow_redirects=False).status_code == 303


def test_login_goes_back_where_the_visitor_was_going(app: FastAPI, world: World) -> None:
    with page_client(app) as client:
        page = client.get("/login?next=/me/card")
        done = client.post(
            "/login",
            data={
                "email": world.member_email,
                "password": "a long enough password",
                "next": "/me/card",
                "csrf_token": csrf_of(page.text),
            },
            follow_redirects=False,
        )
        assert done.headers["location"] == "/me/card"


# --- CSRF ------------------------------------------------------------------------------


def test_every_form_needs_the_session_token(
    member: TestClient, cashier: TestClient, world: World
) -> None:
    forged = {"csrf_token": "forged", "pin": "1111", "pin_again": "1111"}
    assert member.post("/me/pin", data=forged).status_code == 403
    assert member.post("/me/pin", data={"pin": "1111", "pin_again": "1111"}).status_code == 403
    assert member.post("/logout", data={}).status_code == 403
    refused = cashier.post(
        f"/till/{world.outlet_id}/pay",
        data={
            "member_number": world.member_number,
            "amount": "5",
            "pin": PIN,
            "form_key": "a" * 32,
        },
    )
    assert refused.status_code == 403
    assert "Form expired" in refused.text
    assert payments_of(cashier.app.state.engine, world.household_id) == 0  # type: ignore[attr-defined]


def test_a_token_from_another_session_is_refused(app: FastAPI, world: World) -> None:
    with page_client(app) as stranger:
        token = csrf_of(stranger.get("/login").text)
    with page_client(app) as client:
        client.get("/login")
        refused = client.post(
            "/login",
            data={
                "email": world.member_email,
                "password": "a long enough password",
                "csrf_token": token,
            },
        )
        assert refused.status_code == 403


def test_login_replaces_the_csrf_token(app: FastAPI, world: World) -> None:
    with page_client(app) as client:
        before = csrf_of(client.get("/login").text)
        log_in(client, world.member_email)
        assert csrf_of(client.get("/me").text) != before


# --- The household's pages -------------------------------------------------------------


def test_the_household_sees_its_credits_and_allowance(app: FastAPI, world: World) -> None:
    with page_client(app, "fr") as client:
        log_in(client, world.member_email)
        page = client.get("/me")
    assert page.status_code == 200
    assert "150,00\u00a0€" in page.text  # the balance and the allowance, in French
    assert world.member_number in page.text
    assert "première personne" in page.text
    assert "Crédits du mois" in page.text  # the issuance, in the latest movements


@pytest.mark.parametrize(
    ("status", "said"),
    [
        (HouseholdStatus.suspended, "Your household is suspended by"),
        (HouseholdStatus.left, "Your household has left"),
    ],
)
def test_a_member_is_told_when_the_household_cannot_pay(
    member: TestClient, world: World, engine: Engine, status: HouseholdStatus, said: str
) -> None:
    """A suspended (or gone) household's card is refused at the till: /me says so, what
    it means and whom to ask, where it said nothing."""
    assert 'data-testid="household-status"' not in member.get("/me").text
    with unit_of_work(engine) as session:
        household = session.get(Household, world.household_id)
        assert household is not None
        household.status = status
        session.add(household)
    page = member.get("/me")
    assert page.status_code == 200
    (notice,) = re.findall(r'data-testid="household-status">(.*?)</div>', page.text, re.S)
    assert said in notice
    assert world.fund.name in notice
    assert "cannot pay at the till" in notice or "can no longer pay at the till" in notice
    assert "contact the fund" in notice


def test_the_history_lists_movements_by_month(member: TestClient) -> None:
    page = member.get("/me/history")
    assert page.status_code == 200
    assert "Monthly credits" in page.text
    assert "+€150.00" in page.text
    assert member.get("/me/history?period=1999-01").status_code == 200  # not offered: all
    assert member.get("/me/history?cursor=forged").status_code == 200  # first page again


def test_changing_the_pin(member: TestClient, world: World, engine: Engine) -> None:
    mismatch = submit(member, "/me/pin", "/me/pin", pin="4071", pin_again="4072")
    assert mismatch.status_code == 422
    assert "not the same" in mismatch.text
    short = submit(member, "/me/pin", "/me/pin", pin="12", pin_again="12")
    assert short.status_code == 422
    done = submit(member, "/me/pin", "/me/pin", pin="4071", pin_again="4071")
    assert done.status_code == 303
    assert "Your new PIN is set" in member.get("/me").text
    with Session(engine) as session:
        household = session.get(Household, world.household_id)
        assert household is not None
        assert pin_matches(Settings().secret_key, household, "4071")


def test_the_member_card_has_the_number_as_a_qr_code(member: TestClient, world: World) -> None:
    page = member.get("/me/card")
    assert page.status_code == 200
    assert world.member_number in page.text
    assert "<svg" in page.text


def test_household_pages_need_a_login(app: FastAPI) -> None:
    with page_client(app) as client:
        for path in ("/me", "/me/history", "/me/pin", "/me/pay", "/me/card"):
            answer = client.get(path, follow_redirects=False)
            assert answer.status_code == 303
            assert answer.headers["location"].startswith("/login?next=")


def test_a_form_sent_after_the_session_ended_asks_to_log_in(app: FastAPI) -> None:
    with page_client(app) as client:
        token = csrf_of(client.get("/login").text)
        answer = client.post(
            "/me/pin",
            data={"csrf_token": token, "pin": "1111", "pin_again": "1111"},
            follow_redirects=False,
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login?next=/"


def test_household_pages_are_for_members_only(cashier: TestClient) -> None:
    assert cashier.get("/me").status_code == 403
    assert cashier.get("/me/card").status_code == 403


# --- The till --------------------------------------------------------------------------


def test_the_cashier_takes_a_payment_and_the_household_sees_it(
    cashier: TestClient, member: TestClient, world: World, engine: Engine
) -> None:
    receipt = till_pay(cashier, world, "12,50")
    assert receipt.status_code == 201
    assert "Payment accepted" in receipt.text
    assert "€137.50" in receipt.text  # the credits left, on the receipt
    history = member.get("/me/history").text
    assert "−€12.50" in history
    today = cashier.get(f"/till/{world.outlet_id}/today").text
    assert "€12.50" in today
    assert payments_of(engine, world.household_id) == 1


def test_a_double_submit_charges_once(cashier: TestClient, world: World, engine: Engine) -> None:
    till = f"/till/{world.outlet_id}"
    page = cashier.get(till)
    data = {
        "csrf_token": csrf_of(page.text),
        "form_key": form_key_of(page.text),
        "member_number": world.member_number,
        "amount": "10",
        "pin": PIN,
    }
    first = cashier.post(f"{till}/pay", data=data)
    again = cashier.post(f"{till}/pay", data=data)
    assert first.status_code == again.status_code == 201
    assert "€140.00" in first.text
    assert "€140.00" in again.text
    assert payments_of(engine, world.household_id) == 1
    # The same key with another amount is not a second payment either.
    other = cashier.post(f"{till}/pay", data={**data, "amount": "11"})
    assert "already sent with other values" in alert_of(other.text)
    assert payments_of(engine, world.household_id) == 1


def test_a_wrong_pin_says_how_many_tries_are_left(cashier: TestClient, world: World) -> None:
    till = f"/till/{world.outlet_id}"
    page = cashier.get(till)
    data = {
        "csrf_token": csrf_of(page.text),
        "form_key": form_key_of(page.text),
        "member_number": world.member_number,
        "amount": "4",
        "pin": "0000",
    }
    wrong = cashier.post(f"{till}/pay", data=data)
    assert wrong.status_code == 403
    assert alert_of(wrong.text) == "Wrong PIN. 4 tries left before the card is locked."
    assert world.member_number in wrong.text  # the form keeps the number and the amount
    # The same form, with the right PIN: the attempt was counted, the key is free again.
    right = cashier.post(f"{till}/pay", data={**data, "pin": PIN})
    assert right.status_code == 201


def test_the_card_locks_after_five_wrong_pins(
    app: FastAPI, cashier: TestClient, world: World
) -> None:
    for left in (4, 3, 2, 1):
        wrong = till_pay(cashier, world, "4", pin="0000")
        assert alert_of(wrong.text).startswith(f"Wrong PIN. {left} tr")
    locked = till_pay(cashier, world, "4", pin="0000")
    assert locked.status_code == 423
    assert "the card is locked until" in alert_of(locked.text)
    still = till_pay(cashier, world, "4")
    assert still.status_code == 423


def test_a_locked_card_says_who_can_unlock_it(app: FastAPI, world: World) -> None:
    """In front of a cashier, 'la caisse' reads as the till: the message names the member's
    local fund (its coordinator), the only one who can unlock the card; /me names the fund."""
    with page_client(app, "fr") as cashier:
        log_in(cashier, world.cashier_email)
        for _ in range(5):
            locked = till_pay(cashier, world, "4", pin="0000")
    said = alert_of(locked.text).replace("&#39;", "'")
    assert "la caisse locale du membre peut la débloquer plus tôt" in said
    assert "La caisse peut" not in said
    with page_client(app, "fr") as member:
        log_in(member, world.member_email)
        home = member.get("/me").text
    assert f"Votre caisse locale, {world.fund.name}, peut la débloquer plus tôt." in home


@pytest.mark.parametrize("language", ["fr", "nl"])
def test_refusals_are_said_in_the_cashier_language(
    app: FastAPI, world: World, language: str
) -> None:
    with page_client(app, language) as client:
        log_in(client, world.cashier_email)
        wrong = till_pay(client, world, "4", pin="0000")
    expected = {
        "fr": "Code PIN erroné. Encore 4 essais avant le blocage de la carte.",
        "nl": "Verkeerde pincode. Nog 4 pogingen voordat de kaart wordt geblokkeerd.",
    }
    assert alert_of(wrong.text) == expected[language]


def test_till_refusals_in_plain_words(
    app: FastAPI, cashier: TestClient, world: World, engine: Engine
) -> None:
    too_much = till_pay(cashier, world, "151")
    assert too_much.status_code == 409
    assert alert_of(too_much.text) == "Not enough credits: €150.00 left on this card."
    invalid = till_pay(cashier, world, "5", member_number=world.member_number[:-1] + "X")
    assert "not valid" in alert_of(invalid.text)
    # A household of a fund that has not accredited this outlet.
    other_fund_household, _ = add_member(engine, make_fund(engine))
    elsewhere = till_pay(cashier, world, "5", member_number=other_fund_household.member_number)
    assert elsewhere.status_code == 403
    assert "not accredited by the member's fund" in alert_of(elsewhere.text)
    no_pin, _ = add_member(engine, world.fund, pin=None)
    unset = till_pay(cashier, world, "5", member_number=no_pin.member_number)
    assert "No PIN has been chosen" in alert_of(unset.text)
    blank = till_pay(cashier, world, "", pin="12")
    assert blank.status_code == 422
    assert "Type the amount in euros" in blank.text
    assert "4-digit PIN" in blank.text


@pytest.mark.parametrize("typed", ["5 50", "12 5", "1 20", "4.50" + " " * 20 + "9"])
def test_an_amount_that_reads_two_ways_is_refused(
    cashier: TestClient, world: World, engine: Engine, typed: str
) -> None:
    """'5 50' is not EUR 550 (a space separates thousands only, '1 200'), nor a long entry
    cut to its first characters: the cashier types it again, nothing is paid."""
    refused = till_pay(cashier, world, typed)
    assert refused.status_code == 422
    assert "Type the amount in euros" in refused.text
    assert payments_of(engine, world.household_id) == 0


def test_amounts_as_people_type_them() -> None:
    from ssa.web.forms import parse_amount, parse_euros

    typed = {
        "12": 1_200,
        "12,5": 1_250,
        "12.50": 1_250,
        "€ 12,50": 1_250,
        "12,50 €": 1_250,
        "1 200,50": 120_050,
        "1\u00a0200": 120_000,
        "1\u202f234": 123_400,
        "0": None,
        "12 50": None,
        "1 20": None,
        "12,505": None,
        "-5": None,
        "": None,
        "10000": 1_000_000,
        "10000.01": None,
    }
    assert {text: parse_amount(text) for text in typed} == typed
    assert parse_euros("1 234 567", maximum_cents=10**12) == 123_456_700
    assert parse_euros("0", maximum_cents=100) == 0


@pytest.mark.parametrize(
    ("language", "typed", "cents"),
    [
        # Grouped as the page shows amounts: the language's grouping sign, in threes.
        ("en", "25,000.00", 2_500_000),
        ("en", "€25,000.00", 2_500_000),
        ("en", "1,450", 145_000),
        ("en", "1,234,567.5", 123_456_750),
        ("nl", "25.000,00", 2_500_000),
        ("nl", "€ 25.000,00", 2_500_000),
        ("nl", "1.450", 145_000),
        ("fr", "1\u202f450,50\u00a0€", 145_050),
        ("fr", "1 450,50", 145_050),
        # Cents after either sign, in every language: never EUR 1,250 for '12,50'.
        ("en", "12,50", 1_250),
        ("en", "12.5", 1_250),
        ("nl", "12.50", 1_250),
        ("nl", "12,50", 1_250),
        ("fr", "12.50", 1_250),
        # Ambiguous or written in another language's way: refused.
        ("en", "25.000,00", None),
        ("en", "1.450", None),
        ("en", "1,234,56", None),
        ("en", "12,34,567", None),
        ("en", "1,45,0", None),
        ("en", "1,234,567,50", None),
        ("en", "1,234.567", None),
        ("nl", "25,000.00", None),
        ("nl", "1.234.56", None),
        ("fr", "25.000,00", None),
        ("fr", "25,000.00", None),
        ("fr", "1.450", None),
    ],
)
def test_amounts_grouped_as_the_page_writes_them(language: str, typed: str, cents: int) -> None:
    from ssa.web.forms import parse_euros

    assert parse_euros(typed, maximum_cents=10**12, language=language) == cents


@pytest.mark.parametrize("language", ["fr", "nl", "en"])
def test_an_amount_shown_for_editing_reads_back(language: str) -> None:
    from ssa.web.forms import euros_input, parse_euros
    from ssa.web.i18n import Texts

    t = Texts(language)
    for cents in (0, 5, 1_250, 145_050, 2_500_000, 123_456_789):
        shown = euros_input(t, cents)
        assert ("." in shown) == (language == "en" and cents % 100 != 0)
        assert parse_euros(shown, maximum_cents=10**12, language=language) == cents


def test_a_cashier_works_only_at_their_own_till(app: FastAPI, world: World, engine: Engine) -> None:
    other_outlet = add_outlet(engine, world.fund)
    stranger_email = add_user(engine, role=Role.cashier, outlet_id=other_outlet)
    with page_client(app) as stranger:
        log_in(stranger, stranger_email)
        assert stranger.get(f"/till/{world.outlet_id}").status_code == 403
        assert stranger.get(f"/till/{world.outlet_id}/today").status_code == 403
        own = stranger.get(f"/till/{other_outlet}")
        refused = stranger.post(
            f"/till/{world.outlet_id}/pay",
            data={
                "csrf_token": csrf_of(own.text),
                "form_key": "a" * 32,
                "member_number": world.member_number,
                "amount": "5",
                "pin": PIN,
            },
        )
        assert refused.status_code == 403
    assert payments_of(engine, world.household_id) == 0


def test_the_till_is_not_for_members(member: TestClient, world: World) -> None:
    assert member.get("/till").status_code == 403
    assert member.get(f"/till/{world.outlet_id}").status_code == 403


def test_the_till_page_for_one_outlet(cashier: TestClient, world: World) -> None:
    choose = cashier.get("/till", follow_redirects=False)
    assert choose.headers["location"] == f"/till/{world.outlet_id}"


def test_refunds_from_todays_takings(cashier: TestClient, world: World, engine: Engine) -> None:
    till_pay(cashier, world, "20")
    today = cashier.get(f"/till/{world.outlet_id}/today")
    (refund_path,) = re.findall(r'href="(/till/[^"]+/refund)"', today.text)
    too_much = submit(cashier, refund_path, refund_path, amount="25", reason="Erreur")
    assert too_much.status_code == 409
    assert "more than can still be refunded" in alert_of(too_much.text)
    no_reason = submit(cashier, refund_path, refund_path, amount="5", reason="")
    assert no_reason.status_code == 422
    # The reason is kept whole or refused, never cut (the API takes 300 characters).
    long = submit(cashier, refund_path, refund_path, amount="5", reason="x" * 301)
    assert long.status_code == 422
    assert "At most 300 characters." in long.text
    done = submit(cashier, refund_path, refund_path, amount="5", reason="Produit abîmé")
    assert done.status_code == 303
    after = cashier.get(f"/till/{world.outlet_id}/today").text
    assert "Refunded €5.00" in after
    with Session(engine) as session:
        refunds = session.exec(select(Refund).where(col(Refund.outlet_id) == world.outlet_id)).all()
        assert [r.amount_cents for r in refunds] == [500]


def test_a_refund_once_the_takings_are_in_a_payout_says_why(
    cashier: TestClient, world: World, engine: Engine
) -> None:
    """The outlet's takings went into a payout: the refund cannot come from them, and the
    till says so (it said 'please try again', which could never work)."""
    from ssa.db import unit_of_work
    from ssa.payouts.service import create_payout

    till_pay(cashier, world, "20")
    with unit_of_work(engine) as session:
        create_payout(db_session=session, fund_id=world.fund.id, minimum_cents=0, actor="t")
    till_pay(cashier, world, "3")  # new takings: EUR 3 owed now
    today = cashier.get(f"/till/{world.outlet_id}/today")
    refund_path = re.findall(r'href="(/till/[^"]+/refund)"', today.text)[-1]  # the EUR 20
    refused = submit(cashier, refund_path, refund_path, amount="10", reason="Erreur")
    assert refused.status_code == 409
    assert alert_of(refused.text) == (
        "The fund owes this outlet less than that: its takings are paid out, or in a payout"
        " on its way. A refund is possible up to €3.00."
    )
    done = submit(cashier, refund_path, refund_path, amount="3", reason="Erreur")
    assert done.status_code == 303


def test_a_payment_refunded_in_full_shows_no_refund_form(
    cashier: TestClient, world: World, engine: Engine
) -> None:
    """Once nothing is left to refund the page says so, without a form that could only be
    refused (it showed 'Can still be refunded €0.00' and an active Refund button)."""
    till_pay(cashier, world, "8")
    today = cashier.get(f"/till/{world.outlet_id}/today")
    (refund_path,) = re.findall(r'href="(/till/[^"]+/refund)"', today.text)
    assert 'name="amount"' in cashier.get(refund_path).text
    done = submit(cashier, refund_path, refund_path, amount="8", reason="Erreur de caisse")
    assert done.status_code == 303
    page = cashier.get(refund_path)
    assert page.status_code == 200
    assert "refunded in full: nothing is left to refund" in page.text
    assert "<form" not in page.text.split("<main", 1)[1].split("</main>", 1)[0]
    assert f'href="/till/{world.outlet_id}/today"' in page.text
    with Session(engine) as session:
        refunds = session.exec(select(Refund).where(col(Refund.outlet_id) == world.outlet_id)).all()
        assert [r.amount_cents for r in refunds] == [800]


def test_a_refund_of_another_outlet_payment_is_not_found(
    app: FastAPI, cashier: TestClient, world: World, engine: Engine
) -> None:
    till_pay(cashier, world, "20")
    with Session(engine) as session:
        payment = session.exec(
            select(Payment).where(col(Payment.household_id) == world.household_id)
        ).one()
    other_outlet = add_outlet(engine, world.fund)
    with page_client(app) as stranger:
        log_in(stranger, add_user(engine, role=Role.manager, outlet_id=other_outlet))
        path = f"/till/{other_outlet}/payments/{payment.id}/refund"
        assert stranger.get(path).status_code == 404


# --- Paying from the phone ------------------------------------------------------------


def test_a_payment_request_confirmed_from_the_phone(
    cashier: TestClient, member: TestClient, world: World, engine: Engine
) -> None:
    till = f"/till/{world.outlet_id}"
    shown = cashier.post(
        f"{till}/requests",
        data={"csrf_token": csrf_of(cashier.get(till).text), "amount": "7,20"},
        follow_redirects=True,
    )
    (code,) = re.findall(r'data-testid="code">([^<]+)<', shown.text)
    status_path = re.findall(r'data-poll="([^"]+)"', shown.text)[0]
    assert cashier.get(status_path).text == "pending"
    unknown = member.get("/me/pay?code=ZZZZZZ")
    assert unknown.status_code == 404
    confirm = member.get(f"/me/pay?code={code.lower()}")
    assert "€7.20" in confirm.text
    (action,) = re.findall(r'action="(/me/pay/[^"]+)"', confirm.text)
    data = {"csrf_token": csrf_of(confirm.text), "form_key": form_key_of(confirm.text)}
    paid = member.post(action, data=data)
    assert paid.status_code == 201
    assert "Credits left: €142.80" in paid.text
    again = member.post(action, data=data)  # a double tap: the same answer, paid once
    assert again.status_code == 201
    assert payments_of(engine, world.household_id) == 1
    assert "Paid by the member" in cashier.get(shown.url.path).text
    assert cashier.get(status_path).text == "paid"
    assert member.get(status_path).status_code == 403  # the till's, not the member's
    # A new confirmation of a paid request is refused in plain words.
    refused = member.post(action, data={**data, "form_key": "b" * 32})
    assert "no longer waiting" in alert_of(refused.text)


# --- The public list of accredited outlets ----------------------------------------------


def test_accredited_outlets_are_public(app: FastAPI, world: World, engine: Engine) -> None:
    suspended = add_outlet(engine, world.fund, OutletStatus.suspended)
    with page_client(app, "nl") as client:
        page = client.get(f"/funds/{world.fund.slug}/outlets")
        assert page.status_code == 200
        assert "Marktkraam" in page.text
        assert "1 verkooppunt aanvaardt" in page.text
        assert str(suspended) not in page.text
        assert client.get("/funds/no-such-fund/outlets").status_code == 404
        assert world.fund.name in client.get("/outlets").text


def test_next_months_credits_issued_in_advance_are_said_so(
    app: FastAPI, engine: Engine, world: World
) -> None:
    """Issued on the last days of a month, next month's credits are in the balance already:
    /me says how much of it is next month's, and the history names each credit's month and
    offers next month to pick."""
    from ssa.issuance import periods
    from tests.issuance.helpers import NEXT, THIS
    from tests.issuance.test_issuance import issue

    with page_client(app) as client:
        log_in(client, world.member_email)
        assert 'data-testid="issued-ahead"' not in client.get("/me").text
        assert f'value="{NEXT}"' not in client.get("/me/history").text
        issue(engine, world.fund, NEXT)
        home = client.get("/me").text
        ahead = home.split('data-testid="issued-ahead">', 1)[1].split("</p>", 1)[0]
        month = periods.first_day(NEXT).strftime("%B %Y")
        assert ahead == f"Including €150.00 of credits for {month}, added in advance."
        history = client.get("/me/history")
        assert f'value="{NEXT}"' in history.text
        assert f"Monthly credits · {month}" in history.text
        this_month = periods.first_day(THIS).strftime("%B %Y")
        assert f"Monthly credits · {this_month}" in history.text
        chosen = client.get(f"/me/history?period={NEXT}").text
        assert f"Monthly credits · {month}" in chosen
        assert f"Monthly credits · {this_month}" not in chosen
