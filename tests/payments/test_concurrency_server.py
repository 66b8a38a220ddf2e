"""Payments under real concurrency: `ssa serve` in its own process, real connections from
two till terminals at once, on SQLite and on PostgreSQL.

Exactly as many payments succeed as the credits cover, nothing answers 5xx, the final
balance is right and `ssa ledger check` is clean; parallel wrong PINs cannot exceed the
attempt counter.
"""

import os
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from ssa.auth.roles import Role
from ssa.auth.service import create_user, grant_role
from ssa.db import make_engine
from ssa.funds.service import current_period, fund_today
from ssa.households.contributions import record_contribution
from ssa.households.models import Contribution, ContributionMethod, Household
from ssa.households.service import set_pin
from ssa.ledger.models import LedgerAccount
from ssa.outlets.models import OutletCategory, OutletStatus
from ssa.outlets.schemas import AddressIn, OutletIn
from ssa.outlets.service import create_terminal, register_outlet, set_status
from ssa.payments.models import Payment
from ssa.settings import Settings
from tests.issuance.helpers import add_household, credits, make_fund
from tests.issuance.test_issuance import issue
from tests.payments.helpers import IBAN, PIN, valid_siret

pytestmark = pytest.mark.slow

ALLOWANCE_CENTS = 15_000  # what `issue` gives a one-adult household of the helpers' fund
PAYMENT_CENTS = 300  # 50 payments exhaust the allowance
PAYMENTS = 120
WRONG_PINS = 30
THREADS = 32


@dataclass
class Shop:
    url: str
    engine: Engine
    member_numbers: list[str]
    households: list[Household]
    terminals: list[tuple[str, str]]  # (client_id, client_secret)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def set_up(url: str, households: int) -> Shop:
    """A fund, an accredited outlet with two terminals, households with credits and a PIN."""
    engine = make_engine(Settings(database_url=url))
    fund = make_fund(engine)
    made = [add_household(engine, fund) for _ in range(households)]
    issue(engine, fund)
    with Session(engine, expire_on_commit=False) as session:
        outlet = register_outlet(
            db_session=session,
            outlet_in=OutletIn(
                name="Épicerie du quartier",
                siret=valid_siret(uuid.uuid4().int),
                iban=IBAN,
                address=AddressIn(line1="2 place du Marché", postcode="33000", city="Bordeaux"),
                category=OutletCategory.grocer,
            ),
            actor="system:test",
            request_id=None,
        )
        set_status(
            db_session=session,
            fund_id=fund.id,
            outlet_id=outlet.id,
            status=OutletStatus.accredited,
            actor="system:test",
            decision_reference="AG 2026-01",
        )
        terminals = []
        for label in ("Till 1", "Till 2"):
            row, secret = create_terminal(
                db_session=session,
                outlet_id=outlet.id,
                label=label,
                actor="system:test",
                request_id=None,
            )
            terminals.append((row.client_id, secret))
        for household in made:
            row_ = session.get(Household, household.id)
            assert row_ is not None
            set_pin(db_session=session, household=row_, pin=PIN, settings=Settings(), actor="t")
        session.commit()
    return Shop(
        url=url,
        engine=engine,
        member_numbers=[h.member_number for h in made],
        households=made,
        terminals=terminals,
    )


def server_env(url: str) -> dict[str, str]:
    return {**os.environ, "SSA_DATABASE_URL": url, "SSA_LOG_LEVEL": "WARNING"}


@pytest.fixture
def shop(fresh_database_url: Callable[[], str]) -> Iterator[Shop]:
    made = set_up(fresh_database_url(), households=2)
    yield made
    made.engine.dispose()


@pytest.fixture
def server(shop: Shop) -> Iterator[str]:
    """`ssa serve` with two workers on a free port; its base URL once /readyz answers 200."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "ssa", "serve", "--port", str(port), "--workers", "2"],
        env=server_env(shop.url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"the server stopped: {process.stdout.read() if process.stdout else ''}"
                )
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the server did not get ready in 60 s")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        assert "Traceback" not in (output or ""), output


def bearer(base: str, client_id: str, secret: str) -> dict[str, str]:
    answer = httpx.post(
        f"{base}/api/v1/auth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def fire(
    base: str,
    tills: list[dict[str, str]],
    bodies: list[dict[str, Any]],
    path: str = "/api/v1/payments",
) -> list[httpx.Response]:
    """Send every body at once (round-robin over the tills), each with its own key."""
    limits = httpx.Limits(max_connections=THREADS * 2, max_keepalive_connections=THREADS * 2)
    with httpx.Client(base_url=base, timeout=120, limits=limits) as http:

        def one(index: int) -> httpx.Response:
            headers = {**tills[index % len(tills)], "Idempotency-Key": uuid.uuid4().hex}
            return http.post(path, json=bodies[index], headers=headers)

        with ThreadPoolExecutor(THREADS) as pool:
            return list(pool.map(one, range(len(bodies))))


def codes(responses: list[httpx.Response]) -> Counter[tuple[int, str]]:
    return Counter(
        (r.status_code, "done" if r.status_code == 201 else r.json().get("code", "?"))
        for r in responses
    )


def ledger_check(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ssa", "ledger", "check"],
        env=server_env(url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def household_row(engine: Engine, household: Household) -> Household:
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(Household, household.id)
        assert row is not None
        return row


def test_concurrent_payments_spend_exactly_the_credits(shop: Shop, server: str) -> None:
    tills = [bearer(server, client_id, secret) for client_id, secret in shop.terminals]
    body = {"member_number": shop.member_numbers[0], "amount_cents": PAYMENT_CENTS, "pin": PIN}
    responses = fire(server, tills, [body] * PAYMENTS)
    seen = codes(responses)
    covered = ALLOWANCE_CENTS // PAYMENT_CENTS
    assert seen == Counter(
        {(201, "done"): covered, (409, "insufficient_credits"): PAYMENTS - covered}
    ), seen
    remaining = sorted(r.json()["remaining_cents"] for r in responses if r.status_code == 201)
    assert remaining == list(range(0, ALLOWANCE_CENTS, PAYMENT_CENTS))
    assert {r.json()["available_cents"] for r in responses if r.status_code == 409} == {0}
    assert credits(shop.engine, shop.households[0]) == 0
    assert credits(shop.engine, shop.households[1]) == ALLOWANCE_CENTS
    with Session(shop.engine) as session:
        taken = session.exec(
            select(Payment).where(col(Payment.household_id) == shop.households[0].id)
        ).all()
    assert len(taken) == covered
    assert {row.taken_by for row in taken} == {f"client:{cid}" for cid, _ in shop.terminals}
    check = ledger_check(shop.url)
    assert check.returncode == 0, check.stdout + check.stderr


def test_parallel_wrong_pins_cannot_exceed_the_attempts(shop: Shop, server: str) -> None:
    tills = [bearer(server, client_id, secret) for client_id, secret in shop.terminals]
    target = shop.households[1]
    wrong = {"member_number": target.member_number, "amount_cents": 100, "pin": "0000"}
    responses = fire(server, tills, [wrong] * WRONG_PINS)
    seen = codes(responses)
    assert seen == Counter({(403, "pin_incorrect"): 4, (423, "pin_locked"): WRONG_PINS - 4}), seen
    attempts = sorted(r.json()["attempts_left"] for r in responses if r.status_code == 403)
    assert attempts == [1, 2, 3, 4]
    locks = {r.json()["locked_until"] for r in responses if r.status_code == 423}
    assert all(lock for lock in locks)
    row = household_row(shop.engine, target)
    assert row.pin_locked_until is not None
    assert row.pin_failures == 0  # the lock starts a fresh count
    # The right PIN cannot open a locked card either, and nothing was spent.
    right = fire(server, tills[:1], [{**wrong, "pin": PIN}])[0]
    assert right.status_code == 423, right.text
    assert right.json()["code"] == "pin_locked"
    assert credits(shop.engine, target) == ALLOWANCE_CENTS
    # The other household's card is untouched.
    other = {"member_number": shop.member_numbers[0], "amount_cents": 100, "pin": PIN}
    assert fire(server, tills, [other])[0].status_code == 201
    check = ledger_check(shop.url)
    assert check.returncode == 0, check.stdout + check.stderr


REFUNDS = 40
REFUND_CENTS = 100


def test_concurrent_refunds_never_exceed_the_payment(shop: Shop, server: str) -> None:
    tills = [bearer(server, client_id, secret) for client_id, secret in shop.terminals]
    target = shop.households[1]
    paid = fire(
        server,
        tills[:1],
        [{"member_number": target.member_number, "amount_cents": 1_000, "pin": PIN}],
    )[0]
    assert paid.status_code == 201, paid.text
    payment_id = paid.json()["id"]
    body = {"amount_cents": REFUND_CENTS, "reason": "damaged goods"}
    responses = fire(server, tills, [body] * REFUNDS, path=f"/api/v1/payments/{payment_id}/refunds")
    seen = codes(responses)
    given = 1_000 // REFUND_CENTS
    assert seen == Counter(
        {(201, "done"): given, (409, "refund_exceeds_payment"): REFUNDS - given}
    ), seen
    assert credits(shop.engine, target) == ALLOWANCE_CENTS  # all of it back, not more
    with Session(shop.engine) as session:
        row = session.get(Payment, uuid.UUID(payment_id))
        assert row is not None
        assert row.refunded_cents == 1_000
    check = ledger_check(shop.url)
    assert check.returncode == 0, check.stdout + check.stderr


CORRECTIONS = 40


def test_concurrent_corrections_of_a_contribution_reverse_it_once(shop: Shop, server: str) -> None:
    """A contribution recorded by mistake, corrected by 40 requests at once (each with its
    own key): one correction, the bank back by its amount once, the books clean."""
    household = shop.households[0]
    email = f"treasurer-{uuid.uuid4().hex[:8]}@example.org"
    with Session(shop.engine, expire_on_commit=False) as session:
        user = create_user(
            db_session=session, email=email, display_name="Trésorière", password="a long pass 2026"
        )
        grant_role(
            db_session=session,
            actor="system:test",
            user_id=user.id,
            role=Role.treasurer,
            fund_id=household.fund_id,
        )
        wrong = record_contribution(
            db_session=session,
            fund_id=household.fund_id,
            household_id=household.id,
            period=current_period(),
            amount_cents=2_500,
            method=ContributionMethod.transfer,
            received_on=fund_today(),
            actor="system:test",
        )
        session.commit()
    bank_before = bank_of(shop.engine, household.fund_id)
    token = httpx.post(
        f"{server}/api/v1/auth/token",
        data={"grant_type": "password", "username": email, "password": "a long pass 2026"},
        timeout=30,
    )
    assert token.status_code == 200, token.text
    treasurer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    responses = fire(
        server,
        [treasurer],
        [{"reason": "recorded twice"}] * CORRECTIONS,
        path=f"/api/v1/funds/{household.fund_id}/contributions/{wrong.id}/correction",
    )
    seen = codes(responses)
    assert seen == Counter(
        {(201, "done"): 1, (409, "contribution_already_corrected"): CORRECTIONS - 1}
    ), seen
    assert bank_of(shop.engine, household.fund_id) == bank_before - 2_500
    with Session(shop.engine) as session:
        rows = session.exec(
            select(Contribution.amount_cents).where(col(Contribution.household_id) == household.id)
        ).all()
    assert sorted(r for r in rows if abs(r) == 2_500) == [-2_500, 2_500]  # corrected once
    check = ledger_check(shop.url)
    assert check.returncode == 0, check.stdout + check.stderr


def bank_of(engine: Engine, fund_id: uuid.UUID) -> int:
    with Session(engine) as session:
        return session.exec(
            select(LedgerAccount.balance_cents).where(
                col(LedgerAccount.fund_id) == fund_id, col(LedgerAccount.kind) == "bank"
            )
        ).one()
