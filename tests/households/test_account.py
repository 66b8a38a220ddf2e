"""What a household sees of its credits before any issuance."""

import uuid

from fastapi.testclient import TestClient

from ssa.funds.service import current_period
from tests.conftest import People
from tests.households.helpers import (
    adults,
    household_body,
    new_fund,
    period_start,
    person,
    register,
    unique_email,
)


def test_account_and_transactions_after_a_contribution_and_no_issuance(
    client: TestClient, people: People
) -> None:
    fund_id = new_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    persons = [person("Maëlle", "Roux", email=unique_email()), *adults(2, "Roux")]
    household = register(client, fund_id, coordinator, household_body(persons))
    invited = next(p for p in household["persons"] if p.get("user_id"))
    member = people.headers(uuid.UUID(invited["user_id"]))
    posted = client.post(
        f"/api/v1/funds/{fund_id}/contributions",
        json={
            "household_id": household["id"],
            "period": current_period(),
            "amount_cents": household["chosen_contribution_cents"],
            "method": "cash",
            "received_on": str(period_start()),
        },
        headers={**people.as_(("treasurer", fund_id)), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert posted.status_code == 201
    url = f"/api/v1/households/{household['id']}"
    for caller in (member, coordinator):
        account = client.get(f"{url}/account", headers=caller)
        assert account.status_code == 200, account.text
        assert account.json() == {
            "balance_cents": 0,
            "allowance_cents": household["allowance_cents"],
            "period": current_period(),
            "issued_cents": 0,
            "spent_cents": 0,
        }
        assert household["allowance_cents"] == 15000 + 2 * 7500
        for params in ({}, {"period": current_period()}):
            history = client.get(f"{url}/transactions", params=params, headers=caller)
            assert history.status_code == 200
            assert history.json() == {"items": [], "next_cursor": None}
    bad = client.get(f"{url}/transactions", params={"period": "2026-1"}, headers=member)
    assert bad.status_code == 422
    assert bad.json()["code"] == "validation_error"
