"""Contributions, hardship waivers and grants: idempotent, in the report, per household status."""

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from ssa.funds.service import current_period
from ssa.households.models import Contribution, Household
from ssa.ledger.check import check_ledger
from tests.conftest import People
from tests.households.helpers import (
    new_fund,
    period_start,
    previous_period,
    register,
)


def contribution(
    household_id: str, amount: int = 2500, period: str | None = None
) -> dict[str, Any]:
    return {
        "household_id": household_id,
        "period": period or current_period(),
        "amount_cents": amount,
        "method": "transfer",
        "received_on": str(period_start()),
    }


def report(
    client: TestClient, fund_id: uuid.UUID, treasurer: dict[str, str], period: str
) -> dict[str, Any]:
    response = client.get(
        f"/api/v1/funds/{fund_id}/report", params={"period": period}, headers=treasurer
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def contributions_of(engine: Engine, household_id: str) -> int:
    with Session(engine) as db_session:
        return db_session.exec(
            select(func.count()).where(col(Contribution.household_id) == uuid.UUID(household_id))
        ).one()


def keyed(headers: dict[str, str]) -> dict[str, str]:
    """`headers` with a fresh Idempotency-Key."""
    return {**headers, "Idempotency-Key": f"k-{uuid.uuid4()}"}


def test_a_contribution_is_idempotent_and_fills_the_bank(
    client: TestClient, people: People, engine: Engine
) -> None:
    fund_id = new_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    treasurer = people.as_(("treasurer", fund_id))
    household = register(client, fund_id, coordinator)
    url = f"/api/v1/funds/{fund_id}/contributions"
    period = current_period()
    before = report(client, fund_id, treasurer, period)

    keyless = client.post(url, json=contribution(household["id"]), headers=treasurer)
    assert keyless.status_code == 400
    assert keyless.json()["code"] == "idempotency_key_required"
    assert contributions_of(engine, household["id"]) == 0

    key = {**treasurer, "Idempotency-Key": f"contribution-{uuid.uuid4()}"}
    first = client.post(url, json=contribution(household["id"]), headers=key)
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    recorded = first.json()
    assert recorded["household_id"] == household["id"]
    assert recorded["amount_cents"] == 2500
    assert recorded["period"] == period
    assert recorded["method"] == "transfer"

    replay = client.post(url, json=contribution(household["id"]), headers=key)
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == recorded
    assert contributions_of(engine, household["id"]) == 1

    conflict = client.post(url, json=contribution(household["id"], amount=2600), headers=key)
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "idempotency_conflict"
    assert contributions_of(engine, household["id"]) == 1

    after = report(client, fund_id, treasurer, period)
    assert after["contributions_cents"] == before["contributions_cents"] + 2500
    assert after["bank_cents"] == before["bank_cents"] + 2500

    second = client.post(
        url,
        json=contribution(household["id"], amount=1000),
        headers={**treasurer, "Idempotency-Key": f"contribution-{uuid.uuid4()}"},
    )
    assert second.status_code == 201
    assert report(client, fund_id, treasurer, period)["bank_cents"] == before["bank_cents"] + 3500


def test_contributions_are_for_the_treasurer_and_the_funds_households(
    client: TestClient, people: People
) -> None:
    fund_id = new_fund(client, people)
    other_fund = new_fund(client, people)
    treasurer = people.as_(("treasurer", fund_id))
    stranger = register(client, other_fund, people.as_(("coordinator", other_fund)))
    url = f"/api/v1/funds/{fund_id}/contributions"

    def post(body: dict[str, Any], headers: dict[str, str]) -> Any:
        return client.post(
            url, json=body, headers={**headers, "Idempotency-Key": f"k-{uuid.uuid4()}"}
        )

    foreign = post(contribution(stranger["id"]), treasurer)
    assert foreign.status_code == 404
    assert foreign.json()["code"] == "not_found"
    assert post(contribution(str(uuid.uuid4())), treasurer).status_code == 404
    own = register(client, fund_id, people.as_(("coordinator", fund_id)))
    for grants in [("coordinator", fund_id), ("auditor", fund_id), ("treasurer", other_fund)]:
        assert post(contribution(own["id"]), people.as_(grants)).status_code == 403
    for bad in (
        contribution(own["id"], amount=0),
        contribution(own["id"], amount=-100),
        contribution(own["id"], period="2026-13"),
        contribution(own["id"], period="٢٠٢٦-01"),
        {**contribution(own["id"]), "method": "bitcoin"},
        {**contribution(own["id"]), "received_on": "yesterday"},
    ):
        refused = post(bad, treasurer)
        assert refused.status_code == 422, bad
        assert refused.json()["code"] == "validation_error"


def backdate(engine: Engine, household_id: str, period: str) -> None:
    """Make the household a member since the first day of `period`."""
    year, month = (int(x) for x in period.split("-"))
    with Session(engine) as db_session:
        household = db_session.get(Household, uuid.UUID(household_id))
        assert household is not None
        household.joined_on = household.joined_on.replace(year=year, month=month, day=1)
        household.joined_period = period
        db_session.add(household)
        db_session.commit()


def test_statuses_paid_due_late_and_waived(
    client: TestClient, people: People, engine: Engine
) -> None:
    fund_id = new_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    treasurer = people.as_(("treasurer", fund_id))
    this, last = current_period(), previous_period()
    paid, due, waived, partly = (register(client, fund_id, coordinator) for _ in range(4))
    newcomer = register(client, fund_id, coordinator)  # joined this month
    for household in (paid, due, waived, partly):
        backdate(engine, household["id"], last)
    for period in (this, last):
        posted = client.post(
            f"/api/v1/funds/{fund_id}/contributions",
            json=contribution(paid["id"], amount=paid["chosen_contribution_cents"], period=period),
            headers={**treasurer, "Idempotency-Key": f"k-{uuid.uuid4()}"},
        )
        assert posted.status_code == 201
    posted = client.post(
        f"/api/v1/funds/{fund_id}/contributions",
        json=contribution(partly["id"], amount=1000, period=last),
        headers={**treasurer, "Idempotency-Key": f"k-{uuid.uuid4()}"},
    )
    assert posted.status_code == 201
    waivers = f"/api/v1/funds/{fund_id}/contribution-waivers"
    waiver = {"household_id": waived["id"], "period": last, "reason": "Loss of employment"}
    assert client.post(waivers, json=waiver, headers=treasurer).status_code == 403
    granted = client.post(waivers, json=waiver, headers=coordinator)
    assert granted.status_code == 201, granted.text
    assert granted.json()["period"] == last
    again = client.post(waivers, json=waiver, headers=coordinator)
    assert again.status_code == 409
    assert again.json()["code"] == "waiver_exists"

    def statuses(period: str) -> dict[str, tuple[str, int, int]]:
        response = client.get(
            f"/api/v1/funds/{fund_id}/contributions", params={"period": period}, headers=treasurer
        )
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["next_cursor"] is None
        return {
            i["household_id"]: (i["status"], i["due_cents"], i["paid_cents"]) for i in page["items"]
        }

    chosen = paid["chosen_contribution_cents"]
    now = statuses(this)
    assert now[paid["id"]] == ("paid", chosen, chosen)
    assert now[due["id"]] == ("due", chosen, 0)
    assert now[waived["id"]][0] == "due"  # the waiver is for last month only
    assert now[newcomer["id"]] == ("due", chosen, 0)
    before = statuses(last)
    assert before[paid["id"]][0] == "paid"
    assert before[due["id"]] == ("late", chosen, 0)
    assert before[partly["id"]] == ("late", chosen, 1000)
    assert before[waived["id"]][0] == "waived"
    assert newcomer["id"] not in before  # not a member yet last month

    other_fund = new_fund(client, people)
    stranger = register(client, other_fund, people.as_(("coordinator", other_fund)))
    foreign = client.post(
        waivers,
        json={"household_id": stranger["id"], "period": last, "reason": "hardship"},
        headers=coordinator,
    )
    assert foreign.status_code == 404


def test_grants_are_idempotent_and_reported(client: TestClient, people: People) -> None:
    fund_id = new_fund(client, people)
    treasurer = people.as_(("treasurer", fund_id))
    period = current_period()
    before = report(client, fund_id, treasurer, period)
    url = f"/api/v1/funds/{fund_id}/grants"
    body = {
        "funder": "Département de la Gironde",
        "amount_cents": 1_000_000,
        "received_on": str(period_start()),
        "reference": "CD33-2026-001",
    }
    assert client.post(url, json=body, headers=treasurer).json()["code"] == (
        "idempotency_key_required"
    )
    key = {**treasurer, "Idempotency-Key": f"grant-{uuid.uuid4()}"}
    first = client.post(url, json=body, headers=key)
    assert first.status_code == 201, first.text
    replay = client.post(url, json=body, headers=key)
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    conflict = client.post(url, json={**body, "amount_cents": 999}, headers=key)
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "idempotency_conflict"
    city = client.post(
        url,
        json={
            "funder": "Ville de Bordeaux",
            "amount_cents": 250_000,
            "received_on": body["received_on"],
        },
        headers={**treasurer, "Idempotency-Key": f"grant-{uuid.uuid4()}"},
    )
    assert city.status_code == 201
    after = report(client, fund_id, treasurer, period)
    assert after["grants_cents"] == before["grants_cents"] + 1_250_000
    assert after["bank_cents"] == before["bank_cents"] + 1_250_000
    assert after["contributions_cents"] == before["contributions_cents"]
    coordinator = people.as_(("coordinator", fund_id))
    refused = client.post(
        url, json=body, headers={**coordinator, "Idempotency-Key": f"grant-{uuid.uuid4()}"}
    )
    assert refused.status_code == 403


def test_a_blank_funder_is_refused(client: TestClient, people: People) -> None:
    fund_id = new_fund(client, people)
    treasurer = people.as_(("treasurer", fund_id))
    response = client.post(
        f"/api/v1/funds/{fund_id}/grants",
        json={"funder": "    ", "amount_cents": 100, "received_on": "2026-01-05"},
        headers={**treasurer, "Idempotency-Key": "blank"},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


def test_a_contribution_recorded_by_mistake_is_corrected_once(
    client: TestClient, people: People, engine: Engine
) -> None:
    fund_id = new_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    treasurer = people.as_(("treasurer", fund_id))
    household = register(client, fund_id, coordinator)
    other = register(client, fund_id, coordinator)
    period = current_period()
    url = f"/api/v1/funds/{fund_id}/contributions"

    def paid_cents(household_id: str) -> int:
        rows = client.get(url, params={"period": period}, headers=treasurer).json()["items"]
        found: int = next(r["paid_cents"] for r in rows if r["household_id"] == household_id)
        return found

    before = report(client, fund_id, treasurer, period)
    # Recorded for the wrong household.
    wrong = client.post(url, json=contribution(other["id"]), headers=keyed(treasurer)).json()
    assert paid_cents(other["id"]) == 2500
    correct_url = f"{url}/{wrong['id']}/correction"
    reason = {"reason": "Recorded for the wrong household"}

    problem = client.post(correct_url, json=reason, headers=keyed(coordinator))
    assert problem.status_code == 403
    keyless = client.post(correct_url, json=reason, headers=treasurer)
    assert keyless.json()["code"] == "idempotency_key_required"
    unknown = client.post(f"{url}/{uuid.uuid4()}/correction", json=reason, headers=keyed(treasurer))
    assert (unknown.status_code, unknown.json()["code"]) == (404, "contribution_not_found")
    empty = client.post(correct_url, json={"reason": " "}, headers=keyed(treasurer))
    assert empty.status_code == 422

    key = keyed(treasurer)
    corrected = client.post(correct_url, json=reason, headers=key)
    assert corrected.status_code == 201, corrected.text
    body = corrected.json()
    assert (body["amount_cents"], body["corrects_id"], body["period"]) == (
        -2500,
        wrong["id"],
        period,
    )
    assert body["correction_reason"] == reason["reason"]
    replay = client.post(correct_url, json=reason, headers=key)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == body
    # Once: again, or the correction itself, is refused.
    for target in (wrong["id"], body["id"]):
        again = client.post(f"{url}/{target}/correction", json=reason, headers=keyed(treasurer))
        assert (again.status_code, again.json()["code"]) == (409, "contribution_already_corrected")

    # The month's records, as staff read them: the contribution, corrected, and its
    # correction.
    records_url = f"/api/v1/funds/{fund_id}/households/{other['id']}/contributions"
    for reader in (treasurer, coordinator, people.as_(("auditor", fund_id))):
        listed = client.get(records_url, params={"period": period}, headers=reader)
        assert listed.status_code == 200, listed.text
        assert [(r["id"], r["amount_cents"], r["corrected"]) for r in listed.json()["items"]] == [
            (wrong["id"], 2500, True),
            (body["id"], -2500, False),
        ]
    elsewhere = new_fund(client, people)
    hidden = client.get(
        f"/api/v1/funds/{elsewhere}/households/{other['id']}/contributions",
        params={"period": period},
        headers=people.as_(("treasurer", elsewhere)),
    )
    assert hidden.status_code == 404

    # The period is owed again, the bank and the report as before, the books clean.
    assert paid_cents(other["id"]) == 0
    after = report(client, fund_id, treasurer, period)
    assert after["contributions_cents"] == before["contributions_cents"]
    assert after["bank_cents"] == before["bank_cents"]
    with Session(engine) as session:
        assert all(r.ok for r in check_ledger(db_session=session, fund_id=fund_id))

    # The right one, recorded as usual.
    right = client.post(url, json=contribution(household["id"]), headers=keyed(treasurer))
    assert right.status_code == 201
    assert (paid_cents(household["id"]), paid_cents(other["id"])) == (2500, 0)
    final = report(client, fund_id, treasurer, period)
    assert final["contributions_cents"] == before["contributions_cents"] + 2500


def test_a_correction_records_the_right_contribution_in_the_same_transaction(
    client: TestClient, people: People, engine: Engine
) -> None:
    fund_id = new_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    treasurer = people.as_(("treasurer", fund_id))
    household = register(client, fund_id, coordinator)
    other = register(client, fund_id, coordinator)
    period = current_period()
    url = f"/api/v1/funds/{fund_id}/contributions"

    before = report(client, fund_id, treasurer, period)
    typo = client.post(
        url, json=contribution(household["id"], amount=25_00), headers=keyed(treasurer)
    )
    wrong = typo.json()
    # 25.00 typed for 20.00, and it was the other household's: one request.
    body = {
        "reason": "Amount and household typed wrong",
        "replacement": contribution(other["id"], amount=20_00),
    }
    # A replacement for a household of another fund: refused, nothing written.
    elsewhere = new_fund(client, people)
    stranger = register(client, elsewhere, people.as_(("coordinator", elsewhere)))
    refused = client.post(
        f"{url}/{wrong['id']}/correction",
        json={**body, "replacement": contribution(stranger["id"])},
        headers=keyed(treasurer),
    )
    assert refused.status_code == 404, refused.text
    assert report(client, fund_id, treasurer, period)["contributions_cents"] == (
        before["contributions_cents"] + 25_00
    )

    answer = client.post(f"{url}/{wrong['id']}/correction", json=body, headers=keyed(treasurer))
    assert answer.status_code == 201, answer.text
    corrected = answer.json()
    assert (corrected["amount_cents"], corrected["corrects_id"]) == (-25_00, wrong["id"])
    replacement = corrected["replacement"]
    assert (replacement["household_id"], replacement["amount_cents"]) == (other["id"], 20_00)
    after = report(client, fund_id, treasurer, period)
    assert after["contributions_cents"] == before["contributions_cents"] + 20_00
    assert after["bank_cents"] == before["bank_cents"] + 20_00
    rows = client.get(url, params={"period": period}, headers=treasurer).json()["items"]
    paid = {r["household_id"]: r["paid_cents"] for r in rows}
    assert (paid[household["id"]], paid[other["id"]]) == (0, 20_00)
    with Session(engine) as session:
        assert all(r.ok for r in check_ledger(db_session=session, fund_id=fund_id))


def test_a_contribution_received_on_a_day_to_come_or_for_a_far_month_is_refused(
    client: TestClient, people: People, engine: Engine
) -> None:
    """Euros booked to 9999-12 or received in 2099 would make the months' figures stop
    matching the bank: refused, and nothing written."""
    from datetime import timedelta

    from ssa.funds.service import fund_today
    from ssa.issuance import periods

    fund_id = new_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    treasurer = people.as_(("treasurer", fund_id))
    household = register(client, fund_id, coordinator)
    url = f"/api/v1/funds/{fund_id}/contributions"
    tomorrow = str(fund_today() + timedelta(days=1))
    year_ahead = periods.shift(current_period(), 12)
    refusals = [
        ("received_on", {**contribution(household["id"]), "received_on": tomorrow}),
        ("received_on", {**contribution(household["id"]), "received_on": "1999-12-31"}),
        ("period", contribution(household["id"], period=periods.shift(year_ahead, 1))),
    ]
    for field, body in refusals:
        refused = client.post(url, json=body, headers=keyed(treasurer))
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "validation_error"
        assert refused.json()["errors"][0]["loc"] == ["body", field]
    assert contributions_of(engine, household["id"]) == 0
    today = {**contribution(household["id"], period=year_ahead), "received_on": str(fund_today())}
    assert client.post(url, json=today, headers=keyed(treasurer)).status_code == 201
    # A waiver, likewise, is for a month at most a year ahead.
    waivers = f"/api/v1/funds/{fund_id}/contribution-waivers"
    far = {"household_id": household["id"], "reason": "illness"}
    refused = client.post(
        waivers, json={**far, "period": periods.shift(year_ahead, 1)}, headers=coordinator
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["loc"] == ["body", "period"]
    within = client.post(waivers, json={**far, "period": year_ahead}, headers=coordinator)
    assert within.status_code == 201, within.text


def test_a_grant_received_on_a_day_to_come_is_refused(client: TestClient, people: People) -> None:
    """A grant is booked to the month it was received: one dated 2099 would show in that
    month's report and in no month the bank saw it."""
    from datetime import timedelta

    from ssa.funds.service import fund_today

    fund_id = new_fund(client, people)
    treasurer = people.as_(("treasurer", fund_id))
    url = f"/api/v1/funds/{fund_id}/grants"
    body = {"funder": "Région", "amount_cents": 100_000, "reference": None}
    tomorrow = str(fund_today() + timedelta(days=1))
    for day in (tomorrow, "0001-01-01", "1999-12-31"):  # no month a report can name
        refused = client.post(url, json={**body, "received_on": day}, headers=keyed(treasurer))
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["loc"] == ["body", "received_on"]
    later = report(client, fund_id, treasurer, tomorrow[:7])
    assert later["grants_cents"] == 0
    today = {**body, "received_on": str(fund_today())}
    assert client.post(url, json=today, headers=keyed(treasurer)).status_code == 201
