"""Payments at the till through the API, on both engines: every refusal of the contract
in its order, the PIN lock, idempotency, staff and terminals, refunds, outlet views."""

import json
import uuid
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from ssa.db import unit_of_work
from ssa.households.models import Household, HouseholdStatus
from ssa.households.numbers import format_number
from ssa.idempotency.service import Answer, fingerprint, run_once, run_once_answering_early
from ssa.outlets.models import OutletStatus
from ssa.payments import service
from ssa.payments.models import Payment
from ssa.settings import Settings
from ssa.timeutil import utcnow
from tests.conftest import People
from tests.issuance.helpers import credits, set_household
from tests.issuance.test_issuance import books_clean
from tests.payments.helpers import PIN, Till, open_till

WRONG_PIN = "1357"


def pay(
    client: TestClient,
    till: Till,
    amount_cents: int = 100,
    *,
    pin: str = PIN,
    member_number: str | None = None,
    key: str | None = "fresh",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    sent = dict(headers if headers is not None else till.headers)
    if key is not None:
        sent["Idempotency-Key"] = uuid.uuid4().hex if key == "fresh" else key
    return client.post(
        "/api/v1/payments",
        json={
            "member_number": member_number or till.household.member_number,
            "amount_cents": amount_cents,
            "pin": pin,
            **extra,
        },
        headers=sent,
    )


def refused(response: Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


def wrong_check_digit(member_number: str) -> str:
    last = int(member_number[-1])
    return member_number[:-1] + str((last + 1) % 10)


def unknown_number() -> str:
    # Fund prefixes come from slugs of hex digits: no fund has "ZZZ".
    return format_number("ZZZ", uuid.uuid4().int % 999_999 + 1)


def payment_count(engine: Engine, till: Till) -> int:
    with Session(engine) as session:
        return int(
            session.exec(
                select(func.count())
                .select_from(Payment)
                .where(col(Payment.household_id) == till.household.id)
            ).one()
        )


def coordinator_of(people: People, till: Till) -> dict[str, str]:
    return people.as_(("coordinator", till.fund.id))


def set_outlet_status(
    client: TestClient, people: People, till: Till, status: str
) -> dict[str, Any]:
    response = client.put(
        f"/api/v1/funds/{till.fund.id}/outlets/{till.outlet_id}/status",
        json={"status": status, "decision_reference": "AG extraordinaire 2026-03"},
        headers=coordinator_of(people, till),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def parse(moment: str) -> datetime:
    parsed = datetime.fromisoformat(moment)
    assert parsed.tzinfo is not None, moment
    return parsed


# --- Success -------------------------------------------------------------------------


def test_a_payment_answers_the_remaining_credits(
    app: FastAPI, client: TestClient, engine: Engine
) -> None:
    till = open_till(app, client, engine)
    paid = pay(client, till, 4_250, reference="ticket 17")
    assert paid.status_code == 201, paid.text
    body = paid.json()
    assert set(body) >= {"id", "outlet_id", "fund_id", "amount_cents", "remaining_cents"}
    assert body["outlet_id"] == str(till.outlet_id)
    assert body["fund_id"] == str(till.fund.id)
    assert body["amount_cents"] == 4_250
    assert body["remaining_cents"] == 15_000 - 4_250
    assert abs(parse(body["created_at"]) - utcnow()) < timedelta(minutes=1)
    # Spaces and hyphens in the typed number do not matter.
    number = till.household.member_number
    spaced = f"{number[:3]} {number[3:6]}-{number[6:]}"
    assert pay(client, till, 750, member_number=spaced).json()["remaining_cents"] == 10_000
    # Spending every last cent is allowed; one more is not.
    assert pay(client, till, 10_000).json()["remaining_cents"] == 0
    body = refused(pay(client, till, 1), 409, "insufficient_credits")
    assert body["available_cents"] == 0
    assert credits(engine, till.household) == 0
    assert books_clean(engine, till.fund)


# --- Every refusal, with its status, code and extra fields ---------------------------


def test_each_refusal_alone(
    app: FastAPI, client: TestClient, engine: Engine, people: People
) -> None:
    till = open_till(app, client, engine)
    number = till.household.member_number
    refused(
        pay(client, till, member_number=wrong_check_digit(number)), 422, "member_number_invalid"
    )
    refused(pay(client, till, member_number="not a number"), 422, "member_number_invalid")
    refused(pay(client, till, member_number=unknown_number()), 404, "member_unknown")
    wrong = refused(pay(client, till, pin=WRONG_PIN), 403, "pin_incorrect")
    assert wrong["attempts_left"] == 4
    short = refused(pay(client, till, 15_001), 409, "insufficient_credits")
    assert short["available_cents"] == 15_000
    set_household(engine, till.household, status=HouseholdStatus.suspended)
    refused(pay(client, till), 403, "household_inactive")
    set_household(engine, till.household, status=HouseholdStatus.left)
    refused(pay(client, till), 403, "household_inactive")
    set_household(engine, till.household, status=HouseholdStatus.active, pin_hash=None)
    refused(pay(client, till), 403, "pin_not_set")
    # Another fund's household at this outlet (accredited by this fund only).
    other = open_till(app, client, engine)
    refused(
        pay(client, till, member_number=other.household.member_number),
        403,
        "outlet_not_accredited",
    )
    assert payment_count(engine, till) == 0
    assert credits(engine, till.household) == 15_000


@pytest.mark.parametrize("status", [OutletStatus.applicant, OutletStatus.suspended])
def test_an_outlet_not_accredited_takes_no_payment(
    app: FastAPI, client: TestClient, engine: Engine, status: OutletStatus
) -> None:
    till = open_till(app, client, engine, status=status)
    refused(pay(client, till), 403, "outlet_not_accredited")
    assert credits(engine, till.household) == 15_000


def test_refusals_come_in_the_contracts_order(
    app: FastAPI, client: TestClient, engine: Engine
) -> None:
    """An earlier check always wins, so that nothing leaks to a caller who fails it."""
    till = open_till(app, client, engine)
    number = till.household.member_number
    # A wrong check digit wins over a wrong PIN and an absurd amount.
    refused(
        pay(client, till, 999_999, pin=WRONG_PIN, member_number=wrong_check_digit(number)),
        422,
        "member_number_invalid",
    )
    # A non-accredited outlet does not reveal whether a member exists.
    applicant = open_till(app, client, engine, status=OutletStatus.applicant)
    refused(pay(client, applicant, member_number=unknown_number()), 404, "member_unknown")
    # A suspended household at a non-accredited outlet: the outlet is refused first.
    set_household(engine, applicant.household, status=HouseholdStatus.suspended)
    refused(pay(client, applicant, pin=WRONG_PIN), 403, "outlet_not_accredited")
    # A suspended household with a wrong PIN: the status first, and no attempt counted.
    set_household(engine, till.household, status=HouseholdStatus.suspended)
    refused(pay(client, till, 999_999, pin=WRONG_PIN), 403, "household_inactive")
    set_household(engine, till.household, status=HouseholdStatus.active)
    assert refused(pay(client, till, pin=WRONG_PIN), 403, "pin_incorrect")["attempts_left"] == 4
    # A wrong PIN with an amount beyond the credits: the PIN first.
    assert (
        refused(pay(client, till, 999_999, pin=WRONG_PIN), 403, "pin_incorrect")["attempts_left"]
        == 3
    )
    # No PIN set and not enough credits: pin_not_set.
    set_household(engine, applicant.household, status=HouseholdStatus.active, pin_hash=None)
    other = open_till(app, client, engine)
    set_household(engine, other.household, pin_hash=None, pin_salt=None)
    refused(pay(client, other, 999_999), 403, "pin_not_set")
    refused(pay(client, other, 999_999, pin=WRONG_PIN), 403, "pin_not_set")
    # Locked: even the right PIN is refused, and the amount is not looked at.
    set_household(engine, till.household, pin_locked_until=utcnow() + timedelta(minutes=3))
    locked = refused(pay(client, till, 999_999), 423, "pin_locked")
    assert abs(parse(locked["locked_until"]) - (utcnow() + timedelta(minutes=3))) < timedelta(
        seconds=30
    )
    assert credits(engine, till.household) == 15_000
    assert payment_count(engine, till) == 0


# --- The PIN lock ----------------------------------------------------------------------


def test_five_wrong_pins_lock_the_card_for_fifteen_minutes(
    app: FastAPI, client: TestClient, engine: Engine, people: People
) -> None:
    till = open_till(app, client, engine)
    left = [
        refused(pay(client, till, pin=WRONG_PIN), 403, "pin_incorrect")["attempts_left"]
        for _ in range(4)
    ]
    assert left == [4, 3, 2, 1]
    fifth = refused(pay(client, till, pin=WRONG_PIN), 423, "pin_locked")
    until = parse(fifth["locked_until"])
    assert abs(until - (utcnow() + timedelta(minutes=15))) < timedelta(seconds=30)
    # Locked: the right PIN does not open it, wrong ones are not counted any more.
    right = refused(pay(client, till), 423, "pin_locked")
    assert parse(right["locked_until"]) == until
    refused(pay(client, till, pin=WRONG_PIN), 423, "pin_locked")
    assert credits(engine, till.household) == 15_000
    # The fund sees the lock too.
    coordinator = coordinator_of(people, till)
    seen = client.get(f"/api/v1/households/{till.household.id}", headers=coordinator).json()
    assert seen["pin_locked_until"] is not None
    # Only a coordinator unlocks it.
    unlock = f"/api/v1/households/{till.household.id}/pin/unlock"
    assert client.post(unlock, headers=till.headers).status_code == 403
    assert client.post(unlock, headers=coordinator).status_code == 204
    assert pay(client, till, 500).status_code == 201
    # After the unlock a fresh count starts.
    assert refused(pay(client, till, pin=WRONG_PIN), 403, "pin_incorrect")["attempts_left"] == 4


def test_the_lock_ends_by_itself(app: FastAPI, client: TestClient, engine: Engine) -> None:
    till = open_till(app, client, engine)
    for _ in range(4):
        pay(client, till, pin=WRONG_PIN)
    refused(pay(client, till, pin=WRONG_PIN), 423, "pin_locked")
    set_household(engine, till.household, pin_locked_until=utcnow() - timedelta(seconds=1))
    assert pay(client, till, 100).status_code == 201
    # The lock started a fresh count: five more tries before the next one.
    assert refused(pay(client, till, pin=WRONG_PIN), 403, "pin_incorrect")["attempts_left"] == 4


def test_a_right_pin_resets_the_count(app: FastAPI, client: TestClient, engine: Engine) -> None:
    till = open_till(app, client, engine)
    for expected in (4, 3, 2, 1):
        assert (
            refused(pay(client, till, pin=WRONG_PIN), 403, "pin_incorrect")["attempts_left"]
            == expected
        )
    assert pay(client, till, 100).status_code == 201
    for expected in (4, 3, 2, 1):
        assert (
            refused(pay(client, till, pin=WRONG_PIN), 403, "pin_incorrect")["attempts_left"]
            == expected
        )
    assert pay(client, till, 100).status_code == 201
    assert credits(engine, till.household) == 14_800


def test_a_right_pin_resets_the_count_even_when_the_credits_are_short(
    app: FastAPI, client: TestClient, engine: Engine
) -> None:
    till = open_till(app, client, engine)
    for expected in (4, 3, 2, 1):
        assert (
            refused(pay(client, till, pin=WRONG_PIN), 403, "pin_incorrect")["attempts_left"]
            == expected
        )
    short = refused(pay(client, till, 15_001), 409, "insufficient_credits")
    assert short["available_cents"] == 15_000
    # The right PIN counted: the next wrong one starts a new count, it does not lock.
    assert refused(pay(client, till, pin=WRONG_PIN), 403, "pin_incorrect")["attempts_left"] == 4
    # Nothing was paid, and the same key may be used again for the right amount.
    assert credits(engine, till.household) == 15_000
    assert refused(pay(client, till, 15_001, key="short-1"), 409, "insufficient_credits")
    paid = pay(client, till, 15_000, key="short-1")
    assert paid.status_code == 201, paid.text
    assert paid.json()["remaining_cents"] == 0
    assert payment_count(engine, till) == 1


def test_a_retried_wrong_pin_with_the_same_key_is_not_a_server_error(
    app: FastAPI, client: TestClient, engine: Engine
) -> None:
    """A till retries a request whose answer it lost: a wrong PIN is still a wrong PIN."""
    till = open_till(app, client, engine)
    first = refused(pay(client, till, pin=WRONG_PIN, key="retry-1"), 403, "pin_incorrect")
    assert first["attempts_left"] == 4
    again = pay(client, till, pin=WRONG_PIN, key="retry-1")
    assert again.status_code < 500, again.text
    assert again.json()["code"] == "pin_incorrect"
    # The member types the right PIN: the till may keep the key it had.
    paid = pay(client, till, key="retry-1")
    assert paid.status_code == 201, paid.text
    assert paid.json()["remaining_cents"] == 14_900


# --- Idempotency ---------------------------------------------------------------------


def test_idempotency_key_required_replayed_and_conflicting(
    app: FastAPI, client: TestClient, engine: Engine
) -> None:
    till = open_till(app, client, engine)
    refused(pay(client, till, key=None), 400, "idempotency_key_required")
    refused(pay(client, till, key=""), 400, "idempotency_key_required")
    first = pay(client, till, 1_000, key="till-1-ticket-42")
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    replay = pay(client, till, 1_000, key="till-1-ticket-42")
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert payment_count(engine, till) == 1
    assert credits(engine, till.household) == 14_000
    refused(pay(client, till, 2_000, key="till-1-ticket-42"), 409, "idempotency_conflict")
    assert payment_count(engine, till) == 1
    # Keys are scoped to the caller: another terminal's identical key is its own.
    other = open_till(app, client, engine)
    assert pay(client, other, 1_000, key="till-1-ticket-42").status_code == 201


@pytest.mark.parametrize(
    "change",
    [
        {"amount_cents": 0},
        {"amount_cents": -100},
        {"amount_cents": 1_000_001},
        {"amount_cents": "abc"},
        {"amount_cents": [100]},
        {"amount_cents": 1.5},
        {"amount_cents": None},
        {"pin": "12"},
        {"pin": "12345"},
        {"pin": "abcd"},
        {"pin": 2468},
        {"member_number": 12345},
        {"member_number": ""},
        {"member_number": "X" * 41},
        {"reference": "r" * 101},
        {"outlet_id": "not-an-id"},
        {"tip_cents": 100},
        {"household_id": str(uuid.uuid4())},
    ],
)
def test_malformed_bodies_are_validation_errors(
    app: FastAPI, client: TestClient, engine: Engine, change: dict[str, Any]
) -> None:
    till = open_till(app, client, engine)
    body: dict[str, Any] = {
        "member_number": till.household.member_number,
        "amount_cents": 100,
        "pin": PIN,
        **change,
    }
    response = client.post(
        "/api/v1/payments",
        json=body,
        headers={**till.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    problem = refused(response, 422, "validation_error")
    assert problem["errors"]
    assert credits(engine, till.household) == 15_000


@pytest.mark.parametrize("raw", [b"", b"not json", b"[]", b'{"member_number": '])
def test_unparseable_bodies_are_validation_errors(
    app: FastAPI, client: TestClient, engine: Engine, raw: bytes
) -> None:
    till = open_till(app, client, engine)
    response = client.post(
        "/api/v1/payments",
        content=raw,
        headers={
            **till.headers,
            "Idempotency-Key": uuid.uuid4().hex,
            "Content-Type": "application/json",
        },
    )
    refused(response, 422, "validation_error")


# --- Who takes payments ----------------------------------------------------------------


def test_staff_take_payments_at_their_own_outlet(
    app: FastAPI, client: TestClient, engine: Engine, people: People
) -> None:
    till = open_till(app, client, engine)
    other = open_till(app, client, engine)
    cashier = people.as_(("cashier", till.outlet_id))
    paid = pay(client, till, 300, headers=cashier, outlet_id=str(till.outlet_id))
    assert paid.status_code == 201, paid.text
    assert paid.json()["outlet_id"] == str(till.outlet_id)
    # One outlet only: outlet_id may be left out.
    assert pay(client, till, 200, headers=cashier).status_code == 201
    # Not at another outlet.
    refused(pay(client, till, headers=cashier, outlet_id=str(other.outlet_id)), 403, "forbidden")
    elsewhere = people.as_(("cashier", other.outlet_id))
    refused(pay(client, till, headers=elsewhere, outlet_id=str(till.outlet_id)), 403, "forbidden")
    # A terminal pays for its own outlet only.
    refused(pay(client, till, outlet_id=str(other.outlet_id)), 403, "forbidden")
    # A manager of two outlets must say which.
    both = people.as_(("manager", till.outlet_id), ("manager", other.outlet_id))
    refused(pay(client, till, headers=both), 422, "validation_error")
    assert pay(client, till, 100, headers=both, outlet_id=str(till.outlet_id)).status_code == 201
    # Fund staff and members are not tills.
    for headers in (
        people.as_(("coordinator", till.fund.id)),
        people.as_(("treasurer", till.fund.id)),
        people.as_(),
    ):
        refused(pay(client, till, headers=headers), 403, "forbidden")
    refused(pay(client, till, headers={}), 401, "unauthenticated")
    refused(
        pay(client, till, headers={"Authorization": "Bearer not.a.token"}), 401, "unauthenticated"
    )
    assert credits(engine, till.household) == 15_000 - 600


def test_a_revoked_terminal_takes_no_more_payments(
    app: FastAPI, client: TestClient, engine: Engine, people: People
) -> None:
    till = open_till(app, client, engine)
    manager = people.as_(("manager", till.outlet_id))
    made = client.post(
        f"/api/v1/outlets/{till.outlet_id}/terminals", json={"label": "Till 2"}, headers=manager
    )
    assert made.status_code == 201, made.text
    terminal = made.json()
    token = client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": terminal["client_id"],
            "client_secret": terminal["client_secret"],
        },
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert pay(client, till, 100, headers=headers).status_code == 201
    revoked = client.post(
        f"/api/v1/outlets/{till.outlet_id}/terminals/{terminal['client_id']}/revoke",
        headers=manager,
    )
    assert revoked.status_code == 204, revoked.text
    refused(pay(client, till, 100, headers=headers), 401, "unauthenticated")
    # The other terminal still works.
    assert pay(client, till, 100).status_code == 201


# --- Refunds -------------------------------------------------------------------------


def refund(
    client: TestClient,
    headers: dict[str, str],
    payment_id: str,
    amount_cents: int,
    key: str | None = "fresh",
) -> Response:
    sent = dict(headers)
    if key is not None:
        sent["Idempotency-Key"] = uuid.uuid4().hex if key == "fresh" else key
    return client.post(
        f"/api/v1/payments/{payment_id}/refunds",
        json={"amount_cents": amount_cents, "reason": "bruised apples"},
        headers=sent,
    )


def test_refunds_go_back_to_the_household_never_beyond_the_payment(
    app: FastAPI, client: TestClient, engine: Engine, people: People
) -> None:
    till = open_till(app, client, engine)
    other = open_till(app, client, engine)
    payment = pay(client, till, 3_000).json()
    assert credits(engine, till.household) == 12_000
    # Another outlet's terminal or staff may not refund it.
    refused(refund(client, other.headers, payment["id"], 100), 403, "forbidden")
    refused(
        refund(client, people.as_(("cashier", other.outlet_id)), payment["id"], 100),
        403,
        "forbidden",
    )
    refused(
        refund(client, till.headers, payment["id"], 100, key=None), 400, "idempotency_key_required"
    )
    refused(refund(client, till.headers, str(uuid.uuid4()), 100), 404, "not_found")
    first = refund(client, till.headers, payment["id"], 1_000, key="refund-1")
    assert first.status_code == 201, first.text
    assert first.json()["payment_id"] == payment["id"]
    assert first.json()["amount_cents"] == 1_000
    replay = refund(client, till.headers, payment["id"], 1_000, key="refund-1")
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    refused(
        refund(client, till.headers, payment["id"], 999, key="refund-1"),
        409,
        "idempotency_conflict",
    )
    assert credits(engine, till.household) == 13_000
    # Staff of the same outlet may refund too.
    cashier = people.as_(("cashier", till.outlet_id))
    assert refund(client, cashier, payment["id"], 1_500).status_code == 201
    over = refused(refund(client, till.headers, payment["id"], 501), 409, "refund_exceeds_payment")
    assert over["refundable_cents"] == 500
    assert refund(client, till.headers, payment["id"], 500).status_code == 201
    refused(refund(client, till.headers, payment["id"], 1), 409, "refund_exceeds_payment")
    assert credits(engine, till.household) == 15_000
    assert credits(engine, other.household) == 15_000
    for amount in (0, -5, 1_000_001):
        refused(refund(client, till.headers, payment["id"], amount), 422, "validation_error")
    # The outlet is owed nothing for a payment refunded in full.
    balance = client.get(
        f"/api/v1/outlets/{till.outlet_id}/balance",
        params={"fund_id": str(till.fund.id)},
        headers=till.headers,
    )
    assert balance.json()["payable_cents"] == 0
    listed = client.get(f"/api/v1/outlets/{till.outlet_id}/payments", headers=till.headers)
    assert listed.json()["items"][0]["refunded_cents"] == 3_000
    assert books_clean(engine, till.fund)


# --- What an outlet sees ---------------------------------------------------------------


def test_an_outlet_sees_its_payments_and_balance_never_who_paid(
    app: FastAPI, client: TestClient, engine: Engine, people: People
) -> None:
    till = open_till(app, client, engine)
    other = open_till(app, client, engine)
    amounts = [1_100, 2_200, 3_300]
    for amount in amounts:
        assert pay(client, till, amount, reference=f"t-{amount}").status_code == 201
    assert pay(client, other, 999).status_code == 201
    url = f"/api/v1/outlets/{till.outlet_id}/payments"
    for headers in (till.headers, people.as_(("manager", till.outlet_id))):
        listed = client.get(url, headers=headers)
        assert listed.status_code == 200, listed.text
        items = listed.json()["items"]
        assert sorted(item["amount_cents"] for item in items) == amounts
        assert listed.json()["next_cursor"] is None
        text = listed.text
        for item in items:
            assert not set(item) & {
                "household_id",
                "member_number",
                "remaining_cents",
                "balance_cents",
                "given_name",
                "family_name",
                "name",
            }
        assert str(till.household.id) not in text
        assert till.household.member_number not in text
        assert "Test" not in text  # the family name of the helpers' households
    # Newest first, by pages.
    first = client.get(url, params={"limit": 2}, headers=till.headers).json()
    assert [i["amount_cents"] for i in first["items"]] == [3_300, 2_200]
    rest = client.get(
        url, params={"limit": 2, "cursor": first["next_cursor"]}, headers=till.headers
    ).json()
    assert [i["amount_cents"] for i in rest["items"]] == [1_100]
    # Balance per fund.
    balance = client.get(
        f"/api/v1/outlets/{till.outlet_id}/balance",
        params={"fund_id": str(till.fund.id)},
        headers=till.headers,
    )
    assert balance.status_code == 200
    assert balance.json()["payable_cents"] == sum(amounts)
    not_member = client.get(
        f"/api/v1/outlets/{till.outlet_id}/balance",
        params={"fund_id": str(other.fund.id)},
        headers=till.headers,
    )
    assert not_member.status_code == 404
    # Not another outlet's.
    for path in ("payments", f"balance?fund_id={other.fund.id}"):
        response = client.get(f"/api/v1/outlets/{other.outlet_id}/{path}", headers=till.headers)
        refused(response, 403, "forbidden")
    refused(client.get(url), 401, "unauthenticated")
    # A payment's answer: the remaining credits, and nothing else about the household.
    answer = pay(client, till, 100).json()
    assert not set(answer) & {"household_id", "member_number", "name", "persons"}


def test_an_outlets_payments_between_two_instants(
    app: FastAPI, client: TestClient, engine: Engine
) -> None:
    """`from` and `to` bound the list; an instant with no UTC date (the calendar's ends, a
    zone away) is a 422 with its `errors`, never a 500."""
    till = open_till(app, client, engine)
    assert pay(client, till, 700).status_code == 201
    url = f"/api/v1/outlets/{till.outlet_id}/payments"
    around = {"from": "2000-01-01T00:00:00+00:00", "to": "2999-12-31T00:00:00+01:00"}
    assert [
        i["amount_cents"]
        for i in client.get(url, params=around, headers=till.headers).json()["items"]
    ] == [700]
    before = {"to": "2000-01-01T00:00:00Z"}
    assert client.get(url, params=before, headers=till.headers).json()["items"] == []
    for name, value in [
        ("from", "9999-12-31T23:59:59-05:00"),
        ("to", "9999-12-31T23:59:59-05:00"),
        ("from", "0001-01-01T00:00:00+05:00"),
        ("to", "yesterday"),
    ]:
        answer = client.get(url, params={name: value}, headers=till.headers)
        refused(answer, 422, "validation_error")
        assert answer.json()["errors"][0]["loc"] == ["query", name]


def test_a_suspended_outlet_takes_no_more_payments(
    app: FastAPI, client: TestClient, engine: Engine, people: People
) -> None:
    till = open_till(app, client, engine)
    assert pay(client, till, 1_000).status_code == 201
    assert set_outlet_status(client, people, till, "suspended")["status"] == "suspended"
    refused(pay(client, till, 1_000), 403, "outlet_not_accredited")
    # What it is owed stays; refunds of earlier payments are still possible.
    balance = client.get(
        f"/api/v1/outlets/{till.outlet_id}/balance",
        params={"fund_id": str(till.fund.id)},
        headers=till.headers,
    )
    assert balance.json()["payable_cents"] == 1_000
    set_outlet_status(client, people, till, "accredited")
    assert pay(client, till, 1_000).json()["remaining_cents"] == 13_000
    set_outlet_status(client, people, till, "revoked")
    refused(pay(client, till, 1_000), 403, "outlet_not_accredited")
    assert credits(engine, till.household) == 13_000
    assert books_clean(engine, till.fund)


# --- The answer written before the ledger post ------------------------------------------


def test_an_answer_written_before_the_post_is_corrected_when_the_credits_moved(
    app: FastAPI, client: TestClient, engine: Engine
) -> None:
    """The till's answer is written before the ledger post, with the credits read a moment
    before; if they moved in between (here another payment of the household in the same
    transaction), the answer stored for retries is the one the post gives."""
    till = open_till(app, client, engine)
    settings = Settings()
    early: list[service.Receipt] = []
    fingerprint_ = fingerprint("POST", "/api/v1/payments", {"n": 1}, key="test key")

    def receipt_json(receipt: service.Receipt) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(json.dumps(asdict(receipt), default=str))
        return body

    with unit_of_work(engine) as session:

        def work(answer: Answer) -> tuple[int, Any]:
            def before_charge(receipt: service.Receipt) -> None:
                answer(201, receipt_json(receipt))
                early.append(receipt)
                household = session.get(Household, till.household.id)
                assert household is not None
                service.charge_household(
                    session,
                    household=household,
                    standing=service.accredited_standing(session, household, till.outlet_id),
                    amount_cents=500,
                    reference=None,
                    taken_by="client:other-till",
                    now=utcnow(),
                )

            taken = service.take_payment(
                db_session=session,
                outlet_id=till.outlet_id,
                member_number=till.household.member_number,
                amount_cents=100,
                pin=PIN,
                reference=None,
                taken_by="client:test",
                settings=settings,
                before_charge=before_charge,
            )
            return 201, receipt_json(taken.receipt)

        first = run_once_answering_early(
            db_session=session,
            caller="client:test",
            key="k-moved",
            request_fingerprint=fingerprint_,
            work=work,
        )
    assert [receipt.remaining_cents for receipt in early] == [15_000 - 100]
    assert first.body["remaining_cents"] == 15_000 - 500 - 100
    with unit_of_work(engine) as session:
        replay = run_once(
            db_session=session,
            caller="client:test",
            key="k-moved",
            request_fingerprint=fingerprint_,
            work=lambda: pytest.fail("a replay does no work"),
        )
    assert replay.replayed
    assert replay.body == first.body
    assert credits(engine, till.household) == 15_000 - 500 - 100
    assert payment_count(engine, till) == 2
    assert books_clean(engine, till.fund)
