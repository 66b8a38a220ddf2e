"""Spending by outlet category in the fund report: net of refunds, small groups hidden."""

import csv
import io
import uuid
from datetime import UTC, datetime, time
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from ssa.db import unit_of_work
from ssa.funds.models import Fund
from ssa.funds.service import current_period
from ssa.households.models import Household
from ssa.issuance import periods
from ssa.outlets.models import OutletCategory, OutletStatus
from ssa.outlets.schemas import AddressIn, OutletIn
from ssa.outlets.service import register_outlet, set_status
from ssa.payments import requests
from ssa.payments.service import refund
from ssa.reports.service import MIN_GROUP
from ssa.reports.spending import households_spending_in, spending_by_category
from ssa.timeutil import clock_at
from tests.conftest import People
from tests.issuance.helpers import PREVIOUS, add_household, make_fund
from tests.issuance.test_issuance import issue
from tests.payments.helpers import IBAN, valid_siret


def accredited_outlet(engine: Engine, fund: Fund, category: OutletCategory) -> uuid.UUID:
    with Session(engine, expire_on_commit=False) as session:
        outlet = register_outlet(
            db_session=session,
            outlet_in=OutletIn(
                name=f"{category} {uuid.uuid4().hex[:6]}",
                siret=valid_siret(uuid.uuid4().int),
                iban=IBAN,
                address=AddressIn(line1="1 place du Marché", postcode="33000", city="Bordeaux"),
                category=category,
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
            decision_reference="AG 2026-02",
        )
        session.commit()
        return outlet.id


def spend(engine: Engine, household: Household, outlet_id: uuid.UUID, cents: int) -> uuid.UUID:
    """A payment from the phone, straight through the service."""
    with unit_of_work(engine) as session:
        asked = requests.create_request(
            db_session=session,
            outlet_id=outlet_id,
            amount_cents=cents,
            reference=None,
            created_by="system:test",
        )
        taken = requests.confirm_request(
            db_session=session, request_id=asked.id, household_id=household.id
        )
        return taken.payment.id


def test_categories_of_fewer_than_five_households_are_hidden(
    client: TestClient, engine: Engine, people: People, app: Any
) -> None:
    fund = make_fund(engine)
    households = [add_household(engine, fund) for _ in range(2 * MIN_GROUP + 1)]
    issue(engine, fund)
    market = accredited_outlet(engine, fund, OutletCategory.market_stall)
    bakery = accredited_outlet(engine, fund, OutletCategory.bakery)
    butcher = accredited_outlet(engine, fund, OutletCategory.butcher)

    # Five households at the market (one of them twice), two at the bakery.
    market_payments = [spend(engine, h, market, 1_000) for h in households[:MIN_GROUP]]
    spend(engine, households[0], market, 500)
    spend(engine, households[4], bakery, 300)
    spend(engine, households[10], bakery, 700)
    with unit_of_work(engine) as session:
        refund(
            db_session=session,
            outlet_id=market,
            payment_id=market_payments[1],
            amount_cents=200,
            reason="bruised",
            refunded_by="system:test",
        )

    period = current_period()
    with Session(engine) as session:
        rows = list(spending_by_category(session, fund.id, period))
    assert rows == [("bakery", 2, 1_000), ("market_stall", MIN_GROUP, 5_300)]

    coordinator = people.as_(("coordinator", fund.id))

    def report() -> dict[str, Any]:
        got = client.get(
            f"/api/v1/funds/{fund.id}/report", params={"period": period}, headers=coordinator
        )
        assert got.status_code == 200, got.text
        body: dict[str, Any] = got.json()
        return body

    # The market alone shown would give the bakery's two households away: the total
    # spent less the refunds less the market. So it is held back too.
    first = report()
    assert (first["spent_cents"], first["refunded_cents"]) == (6_500, 200)
    assert first["spending_by_category"] == []

    # Five other households at the butcher's: held back with the bakery (the smallest),
    # the seven households of both cover the difference; the market is shown.
    for household in households[MIN_GROUP : 2 * MIN_GROUP]:
        spend(engine, household, butcher, 400)
    second = report()
    assert second["spent_cents"] == 8_500
    assert second["spending_by_category"] == [
        {"category": "market_stall", "households": MIN_GROUP, "spent_cents": 5_300}
    ]
    with Session(engine) as session:
        assert households_spending_in(session, fund.id, period, ["bakery", "butcher"]) == 7

    # Another fund's spending is not counted here.
    with Session(engine) as session:
        assert list(spending_by_category(session, make_fund(engine).id, period)) == []


def test_the_report_as_csv_has_the_same_figures(
    client: TestClient, engine: Engine, people: People
) -> None:
    fund = make_fund(engine)
    households = [add_household(engine, fund) for _ in range(MIN_GROUP)]
    add_household(engine, fund, paid=())
    issue(engine, fund)
    market = accredited_outlet(engine, fund, OutletCategory.market_stall)
    for household in households:
        spend(engine, household, market, 1_234)
    period = current_period()
    treasurer = people.as_(("treasurer", fund.id))
    base = f"/api/v1/funds/{fund.id}"
    figures = client.get(f"{base}/report", params={"period": period}, headers=treasurer).json()
    answer = client.get(f"{base}/report.csv", params={"period": period}, headers=treasurer)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert f'filename="report-{period}.csv"' in answer.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0] == ["period", "figure", "category", "value"]
    values = {(figure, category): value for _, figure, category, value in rows[1:]}
    assert values["contributions", ""] == "50.00"  # five paid 10 € for this month
    assert values["contributions_due", ""] == "60.00"  # six owe 10 € each
    assert figures["contributions_due_cents"] == 6_000
    assert values["spent", ""] == "61.70"
    assert values["households_active", ""] == "6"
    assert values["spent", "market_stall"] == "61.70"
    assert values["households", "market_stall"] == str(MIN_GROUP)
    for figure, value in figures.items():
        if figure.endswith("_cents"):
            cents = int(value)
            assert values[figure.removesuffix("_cents"), ""] == f"{cents // 100}.{cents % 100:02d}"


def test_a_category_with_refunds_only_is_held_back_too(
    client: TestClient, engine: Engine, people: People
) -> None:
    """A refund this month of last month's payment at the butcher's: the butcher's is a
    category of one household this month, so the market cannot be shown beside it (the
    total less the market would be that household's refund)."""
    fund = make_fund(engine)
    households = [add_household(engine, fund) for _ in range(MIN_GROUP)]
    issue(engine, fund, PREVIOUS)
    issue(engine, fund)
    market = accredited_outlet(engine, fund, OutletCategory.market_stall)
    butcher = accredited_outlet(engine, fund, OutletCategory.butcher)
    with clock_at(datetime.combine(periods.first_day(PREVIOUS), time(12), tzinfo=UTC)):
        last_month = spend(engine, households[0], butcher, 2_000)
    for household in households:
        spend(engine, household, market, 1_000)
    with unit_of_work(engine) as session:
        refund(
            db_session=session,
            outlet_id=butcher,
            payment_id=last_month,
            amount_cents=777,
            reason="not fresh",
            refunded_by="system:test",
        )
    period = current_period()
    with Session(engine) as session:
        rows = list(spending_by_category(session, fund.id, period))
    assert rows == [("butcher", 1, -777), ("market_stall", MIN_GROUP, 5_000)]
    treasurer = people.as_(("treasurer", fund.id))
    report = client.get(
        f"/api/v1/funds/{fund.id}/report", params={"period": period}, headers=treasurer
    ).json()
    assert report["refunded_cents"] == 777
    assert report["spending_by_category"] == []


def test_a_past_months_report_gives_its_books_at_its_end(
    client: TestClient, engine: Engine, people: People
) -> None:
    """Last month's report: what was owed and held when last month ended (this month's
    credits, grant and contribution not yet there), not today's balances."""
    fund = make_fund(engine)  # its grant is this month's
    add_household(engine, fund)  # paid 10 EUR last month and 10 EUR this month
    issue(engine, fund, PREVIOUS)
    issue(engine, fund)
    treasurer = people.as_(("treasurer", fund.id))

    def report(period: str) -> dict[str, Any]:
        got = client.get(
            f"/api/v1/funds/{fund.id}/report", params={"period": period}, headers=treasurer
        )
        assert got.status_code == 200, got.text
        body: dict[str, Any] = got.json()
        return body

    now, then = report(current_period()), report(PREVIOUS)
    assert (now["outstanding_credits_cents"], now["bank_cents"]) == (30_000, 10_002_000)
    assert (then["outstanding_credits_cents"], then["bank_cents"]) == (15_000, 1_000)
    assert then["coverage_ratio"] == round(1_000 / 15_000, 4)
    assert then["issued_cents"] == 15_000
