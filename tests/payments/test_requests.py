"""Payment requests: the till asks, a member confirms from the phone, once."""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from ssa.db import make_engine, unit_of_work
from ssa.households.models import Household, HouseholdStatus, Person
from ssa.payments import requests
from ssa.payments.models import PaymentRequest
from ssa.settings import Settings
from ssa.timeutil import utcnow
from tests.conftest import People
from tests.issuance.helpers import credits, set_household
from tests.payments.helpers import Till, open_till

CREDITS = 15_000  # what open_till's household was issued


def member_headers(people: People, engine: Engine, household: Household) -> dict[str, str]:
    """A login for one of the household's persons."""
    user_id = people.user()
    with Session(engine) as session:
        person = session.exec(select(Person).where(col(Person.household_id) == household.id)).one()
        person.user_id = user_id
        session.add(person)
        session.commit()
    return people.headers(user_id)


def ask(client: TestClient, till: Till, amount_cents: int, **extra: Any) -> dict[str, Any]:
    response = client.post(
        "/api/v1/payment-requests",
        json={"amount_cents": amount_cents, **extra},
        headers=till.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def confirm(
    client: TestClient, headers: dict[str, str], request_id: str, key: str | None = None
) -> Any:
    return client.post(
        f"/api/v1/payment-requests/{request_id}/confirm",
        headers={**headers, "Idempotency-Key": key or uuid.uuid4().hex},
    )


def payable(client: TestClient, till: Till) -> int:
    response = client.get(
        f"/api/v1/outlets/{till.outlet_id}/balance",
        params={"fund_id": str(till.fund.id)},
        headers=till.headers,
    )
    return int(response.json()["payable_cents"])


def stored_status(engine: Engine, request_id: str) -> str:
    with Session(engine) as session:
        row = session.get(PaymentRequest, uuid.UUID(request_id))
        assert row is not None
        return str(row.status)


def expire(engine: Engine, request_id: str) -> None:
    with Session(engine) as session:
        session.exec(
            update(PaymentRequest)
            .where(col(PaymentRequest.id) == uuid.UUID(request_id))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        session.commit()


def test_request_then_member_confirms_once(
    client: TestClient, engine: Engine, people: People, app: Any
) -> None:
    till = open_till(app, client, engine)
    member = member_headers(people, engine, till.household)
    asked = ask(client, till, 4_250, reference="T-17")

    assert asked["status"] == "pending"
    assert asked["amount_cents"] == 4_250
    assert asked["outlet_id"] == str(till.outlet_id)
    assert asked["outlet_name"].startswith("Ferme ")
    code = asked["code"]
    assert len(code) == 6
    assert set(code) <= set(requests.CODE_ALPHABET)
    assert not set(code) & set("0O1IL")
    svg = asked["qr_svg"]
    assert svg.startswith(("<?xml", "<svg"))
    assert svg.rstrip().endswith("</svg>")
    payload = requests.qr_payload(uuid.UUID(asked["id"]), code)
    assert payload == f"ssa:pay:{asked['id']}:{code}"
    assert svg == requests.qr_svg(payload)  # the picture is of exactly this payload

    # The phone finds it by the code typed at the till (case and spaces do not matter).
    found = client.get(
        "/api/v1/payment-requests",
        params={"code": f" {code[:3].lower()} {code[3:]}"},
        headers=member,
    )
    assert found.status_code == 200, found.text
    assert found.json()["id"] == asked["id"]
    assert found.json()["amount_cents"] == 4_250
    assert "qr_svg" not in found.json()
    seen = client.get(f"/api/v1/payment-requests/{asked['id']}", headers=member)
    assert seen.status_code == 200
    assert seen.json()["outlet_name"] == asked["outlet_name"]
    assert "qr_svg" not in seen.json()

    # Money moves: the Idempotency-Key is required.
    keyless = client.post(f"/api/v1/payment-requests/{asked['id']}/confirm", headers=member)
    assert keyless.status_code == 400
    assert keyless.json()["code"] == "idempotency_key_required"

    paid = confirm(client, member, asked["id"], key="phone-1")
    assert paid.status_code == 201, paid.text
    payment = paid.json()
    assert payment["amount_cents"] == 4_250
    assert payment["remaining_cents"] == CREDITS - 4_250
    assert payment["outlet_id"] == str(till.outlet_id)
    assert payment["fund_id"] == str(till.fund.id)
    assert payment["reference"] == "T-17"
    assert credits(engine, till.household) == CREDITS - 4_250
    assert payable(client, till) == 4_250

    replay = confirm(client, member, asked["id"], key="phone-1")
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == payment

    again = confirm(client, member, asked["id"])
    assert again.status_code == 409
    assert again.json()["code"] == "payment_request_not_pending"
    assert again.json()["status"] == 409  # RFC 9457: the HTTP status
    assert again.json()["request_status"] == "paid"
    assert credits(engine, till.household) == CREDITS - 4_250

    at_till = client.get(f"/api/v1/payment-requests/{asked['id']}", headers=till.headers)
    assert at_till.json()["status"] == "paid"
    assert at_till.json()["payment_id"] == payment["id"]
    gone = client.get("/api/v1/payment-requests", params={"code": code}, headers=member)
    assert gone.status_code == 404

    history = client.get(f"/api/v1/households/{till.household.id}/transactions", headers=member)
    assert history.status_code == 200, history.text
    paid_line = next(item for item in history.json()["items"] if item["kind"] == "payment")
    assert paid_line["amount_cents"] == -4_250
    assert paid_line["outlet_name"] == asked["outlet_name"]
    issued_line = next(item for item in history.json()["items"] if item["kind"] == "issuance")
    assert issued_line["outlet_name"] is None


def test_refund_shows_the_outlet_in_the_history(
    client: TestClient, engine: Engine, people: People, app: Any
) -> None:
    till = open_till(app, client, engine)
    member = member_headers(people, engine, till.household)
    paid: Any = till.pay(client, 1_000)
    assert paid.status_code == 201
    refund = client.post(
        f"/api/v1/payments/{paid.json()['id']}/refunds",
        json={"amount_cents": 300, "reason": "bruised"},
        headers={**till.headers, "Idempotency-Key": "r"},
    )
    assert refund.status_code == 201
    history = client.get(f"/api/v1/households/{till.household.id}/transactions", headers=member)
    names = {item["kind"]: item.get("outlet_name") for item in history.json()["items"]}
    assert names["refund"] == names["payment"]
    assert names["refund"] is not None
    assert names["refund"].startswith("Ferme ")


def test_expired_request_is_marked_and_refused(
    client: TestClient, engine: Engine, people: People, app: Any
) -> None:
    till = open_till(app, client, engine)
    member = member_headers(people, engine, till.household)
    asked = ask(client, till, 500)
    expire(engine, asked["id"])

    late = confirm(client, member, asked["id"])
    assert late.status_code == 409
    assert late.json()["code"] == "payment_request_expired"
    assert stored_status(engine, asked["id"]) == "expired"  # the mark outlives the refusal
    assert credits(engine, till.household) == CREDITS
    again = confirm(client, member, asked["id"])
    assert again.status_code == 409
    assert again.json()["code"] == "payment_request_not_pending"
    assert again.json()["status"] == 409
    assert again.json()["request_status"] == "expired"
    lookup = client.get("/api/v1/payment-requests", params={"code": asked["code"]}, headers=member)
    assert lookup.status_code == 404

    # Reading one whose time ran out marks it too.
    other = ask(client, till, 600)
    expire(engine, other["id"])
    assert stored_status(engine, other["id"]) == "pending"
    read = client.get(f"/api/v1/payment-requests/{other['id']}", headers=till.headers)
    assert read.json()["status"] == "expired"
    assert stored_status(engine, other["id"]) == "expired"


def test_refusals_as_at_the_till(
    client: TestClient, engine: Engine, people: People, app: Any
) -> None:
    till = open_till(app, client, engine)
    member = member_headers(people, engine, till.household)

    too_much = ask(client, till, 20_000)
    refused = confirm(client, member, too_much["id"])
    assert refused.status_code == 409
    assert refused.json()["code"] == "insufficient_credits"
    assert refused.json()["available_cents"] == CREDITS
    assert stored_status(engine, too_much["id"]) == "pending"  # the claim was rolled back

    # A household of another fund, where this outlet is not accredited.
    elsewhere = open_till(app, client, engine)
    stranger = member_headers(people, engine, elsewhere.household)
    asked = ask(client, till, 100)
    foreign = confirm(client, stranger, asked["id"])
    assert foreign.status_code == 403
    assert foreign.json()["code"] == "outlet_not_accredited"
    assert stored_status(engine, asked["id"]) == "pending"
    assert credits(engine, elsewhere.household) == CREDITS

    set_household(engine, till.household, status=HouseholdStatus.suspended.value)
    inactive = confirm(client, member, asked["id"])
    assert inactive.status_code == 403
    assert inactive.json()["code"] == "household_inactive"

    missing = confirm(client, member, str(uuid.uuid4()))
    assert missing.status_code == 404


def test_who_may_ask_see_and_confirm(
    client: TestClient, engine: Engine, people: People, app: Any
) -> None:
    till = open_till(app, client, engine)
    member = member_headers(people, engine, till.household)
    plain = people.as_()
    cashier = people.as_(("cashier", till.outlet_id))

    by_cashier = client.post(
        "/api/v1/payment-requests",
        json={"amount_cents": 700},
        headers={**cashier, "Idempotency-Key": "ask-1"},
    )
    assert by_cashier.status_code == 201, by_cashier.text
    assert by_cashier.json()["outlet_id"] == str(till.outlet_id)
    replayed = client.post(
        "/api/v1/payment-requests",
        json={"amount_cents": 700},
        headers={**cashier, "Idempotency-Key": "ask-1"},
    )
    assert replayed.json()["id"] == by_cashier.json()["id"]
    assert replayed.headers["Idempotent-Replayed"] == "true"

    for outsider in (member, plain):
        asked = client.post("/api/v1/payment-requests", json={"amount_cents": 1}, headers=outsider)
        assert asked.status_code == 403
    other_outlet = client.post(
        "/api/v1/payment-requests",
        json={"amount_cents": 1, "outlet_id": str(uuid.uuid4())},
        headers=till.headers,
    )
    assert other_outlet.status_code == 403

    request_id = by_cashier.json()["id"]
    assert client.get(f"/api/v1/payment-requests/{request_id}", headers=plain).status_code == 403
    assert confirm(client, plain, request_id).status_code == 403
    assert confirm(client, till.headers, request_id).status_code == 403
    code = by_cashier.json()["code"]
    lookup = client.get("/api/v1/payment-requests", params={"code": code}, headers=till.headers)
    assert lookup.status_code == 403
    unknown = client.get(f"/api/v1/payment-requests/{uuid.uuid4()}", headers=member)
    assert unknown.status_code == 404

    # Another member sees what the request is, never who paid it.
    confirm(client, member, request_id)
    other = open_till(app, client, engine)
    onlooker = member_headers(people, engine, other.household)
    seen = client.get(f"/api/v1/payment-requests/{request_id}", headers=onlooker).json()
    assert seen["status"] == "paid"
    assert seen["payment_id"] is None
    assert set(seen) == {
        "id",
        "code",
        "status",
        "amount_cents",
        "reference",
        "outlet_id",
        "outlet_name",
        "expires_at",
        "created_at",
        "payment_id",
    }
    payer = client.get(f"/api/v1/payment-requests/{request_id}", headers=member).json()
    assert payer["payment_id"] is not None


def test_two_confirmations_at_once_pay_once(
    client: TestClient, engine: Engine, database_url: str, app: Any
) -> None:
    till = open_till(app, client, engine)
    asked = ask(client, till, 2_000)
    request_id = uuid.UUID(asked["id"])
    engines = [make_engine(Settings(database_url=database_url, database_pool_size=1)) for _ in "ab"]
    start = threading.Barrier(2)

    def pay(i: int) -> str:
        with engines[i].connect():
            pass  # the connection is open before the start line
        start.wait(timeout=30)
        try:
            with unit_of_work(engines[i]) as session:
                requests.confirm_request(
                    db_session=session, request_id=request_id, household_id=till.household.id
                )
        except requests.PaymentRequestNotPending as refused:
            assert refused.extra["request_status"] == "paid"
            return "refused"
        return "paid"

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            outcomes = sorted(pool.map(pay, range(2)))
    finally:
        for each in engines:
            each.dispose()

    assert outcomes == ["paid", "refused"]
    assert credits(engine, till.household) == CREDITS - 2_000
    assert payable(client, till) == 2_000
    assert stored_status(engine, asked["id"]) == "paid"
