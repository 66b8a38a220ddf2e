"""What a household sees of its credits before any issuance."""

import uuid

from fastapi.testclient import TestClient

from ssa.funds.service import current_period
from ssa.issuance import periods
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


def test_a_change_of_composition_applies_from_the_next_month_not_yet_issued(
    client: TestClient, people: People
) -> None:
    """This month was issued for one person: the account says so after a second moves
    in, and the household's allowance (explained) is next month's."""
    fund_id = new_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    treasurer = {**people.as_(("treasurer", fund_id)), "Idempotency-Key": str(uuid.uuid4())}
    household = register(client, fund_id, coordinator, household_body(adults(1, "Roux")))
    assert (household["allowance_cents"], household["allowance_period"]) == (
        15000,
        current_period(),
    )
    paid = client.post(
        f"/api/v1/funds/{fund_id}/contributions",
        json={
            "household_id": household["id"],
            "period": current_period(),
            "amount_cents": household["chosen_contribution_cents"],
            "method": "cash",
            "received_on": str(period_start()),
        },
        headers=treasurer,
    )
    assert paid.status_code == 201, paid.text
    grant = {"funder": "Ville", "amount_cents": 1_000_000, "received_on": str(period_start())}
    client.post(
        f"/api/v1/funds/{fund_id}/grants",
        json=grant,
        headers={**treasurer, "Idempotency-Key": str(uuid.uuid4())},
    )
    issued = client.post(
        f"/api/v1/funds/{fund_id}/issuances",
        json={"period": current_period()},
        headers={**treasurer, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert issued.json()["households_issued"] == 1, issued.text
    url = f"/api/v1/households/{household['id']}"
    first = household["persons"][0]
    changed = client.patch(
        url,
        json={
            "persons": [
                {
                    "id": first["id"],
                    "given_name": first["given_name"],
                    "family_name": first["family_name"],
                    "birth_date": first["birth_date"],
                },
                person("Louis", "Roux"),
            ]
        },
        headers=coordinator,
    )
    assert changed.status_code == 200, changed.text
    next_month = periods.shift(current_period(), 1)
    assert (changed.json()["allowance_cents"], changed.json()["allowance_period"]) == (
        22500,
        next_month,
    )
    account = client.get(f"{url}/account", headers=coordinator).json()
    assert (account["allowance_cents"], account["issued_cents"]) == (15000, 15000)
