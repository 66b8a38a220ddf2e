"""A payment at the till, end to end through the API."""

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.payments.helpers import open_till


def test_pay_refund_and_refusals(app: FastAPI, client: TestClient, engine: Engine) -> None:
    till = open_till(app, client, engine)
    paid = till.pay(client, 4_250)
    assert paid.status_code == 201, paid.text
    assert paid.json()["remaining_cents"] == 15_000 - 4_250
    wrong = till.pay(client, 100, pin="0000")
    assert wrong.status_code == 403
    assert wrong.json()["code"] == "pin_incorrect"
    assert wrong.json()["attempts_left"] == 4
    too_much = till.pay(client, 20_000)
    assert too_much.status_code == 409
    assert too_much.json()["code"] == "insufficient_credits"
    assert too_much.json()["available_cents"] == 10_750
    refund = client.post(
        f"/api/v1/payments/{paid.json()['id']}/refunds",
        json={"amount_cents": 250, "reason": "bruised apples"},
        headers={**till.headers, "Idempotency-Key": "r1"},
    )
    assert refund.status_code == 201, refund.text
    over = client.post(
        f"/api/v1/payments/{paid.json()['id']}/refunds",
        json={"amount_cents": 4_001, "reason": "too much"},
        headers={**till.headers, "Idempotency-Key": "r2"},
    )
    assert over.status_code == 409
    assert over.json()["code"] == "refund_exceeds_payment"
    balance = client.get(
        f"/api/v1/outlets/{till.outlet_id}/balance",
        params={"fund_id": str(till.fund.id)},
        headers=till.headers,
    )
    assert balance.json()["payable_cents"] == 4_000
