"""The outlet's CSV statement: its payments and refunds of a period, totals, no one's name."""

import csv
import io
import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from ssa.funds.service import current_period
from ssa.households.models import Person
from ssa.outlets.statement import COLUMNS, euros, text_cell
from tests.conftest import People
from tests.payments.helpers import open_till


def test_euros() -> None:
    assert [euros(c) for c in (0, 5, 100, 4_250, -250, -1_000_001)] == [
        "0.00",
        "0.05",
        "1.00",
        "42.50",
        "-2.50",
        "-10000.01",
    ]


def test_statement_lists_payments_and_refunds_with_totals(
    client: TestClient, engine: Engine, people: People, app: Any
) -> None:
    till = open_till(app, client, engine)
    first: Any = till.pay(client, 4_250, reference="T-1")
    second: Any = till.pay(client, 1_000)
    assert (first.status_code, second.status_code) == (201, 201)
    refund = client.post(
        f"/api/v1/payments/{first.json()['id']}/refunds",
        json={"amount_cents": 250, "reason": "bruised apples"},
        headers={**till.headers, "Idempotency-Key": "r1"},
    )
    assert refund.status_code == 201
    period = current_period()

    manager = people.as_(("manager", till.outlet_id))
    response = client.get(
        f"/api/v1/outlets/{till.outlet_id}/statement.csv",
        params={"fund_id": str(till.fund.id), "period": period},
        headers=manager,
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert f"{period}.csv" in response.headers["content-disposition"]

    rows = list(csv.reader(io.StringIO(response.text)))
    assert tuple(rows[0]) == COLUMNS
    lines, totals = rows[1:4], rows[4:]
    assert [(r[1], r[2], r[3], r[4], r[5], r[6], r[7]) for r in lines] == [
        ("payment", first.json()["id"], "", "T-1", "", "42.50", "42.50"),
        ("payment", second.json()["id"], "", "", "", "10.00", "52.50"),
        (
            "refund",
            first.json()["id"],
            refund.json()["id"],
            "T-1",
            "bruised apples",
            "-2.50",
            "50.00",
        ),
    ]
    assert {r[1]: r[6] for r in totals} == {
        "total_payments": "52.50",
        "total_refunds": "-2.50",
        "net": "50.00",
        "payable_now": "50.00",
    }

    # Nothing that says who paid.
    with Session(engine) as session:
        persons = session.exec(
            select(Person).where(col(Person.household_id) == till.household.id)
        ).all()
    for secret in [
        str(till.household.id),
        till.household.member_number,
        str(till.household.account_id),
        *(p.given_name for p in persons),
        *(p.family_name for p in persons),
    ]:
        assert secret not in response.text

    # Another month is empty but for the totals; the terminal may read it too.
    empty = client.get(
        f"/api/v1/outlets/{till.outlet_id}/statement.csv",
        params={"fund_id": str(till.fund.id), "period": "2001-01"},
        headers=till.headers,
    )
    assert empty.status_code == 200
    empty_rows = list(csv.reader(io.StringIO(empty.text)))
    assert [r[1] for r in empty_rows[1:]] == [
        "total_payments",
        "total_refunds",
        "net",
        "payable_now",
    ]
    assert empty_rows[3][6] == "0.00"


def test_statement_is_for_the_outlet_only(
    client: TestClient, engine: Engine, people: People, app: Any
) -> None:
    till = open_till(app, client, engine)
    url = f"/api/v1/outlets/{till.outlet_id}/statement.csv"
    params = {"fund_id": str(till.fund.id)}
    assert client.get(url, params=params).status_code == 401
    assert client.get(url, params=params, headers=people.as_()).status_code == 403
    coordinator = people.as_(("coordinator", till.fund.id))
    assert client.get(url, params=params, headers=coordinator).status_code == 403
    unknown_fund = client.get(url, params={"fund_id": str(uuid.uuid4())}, headers=till.headers)
    assert unknown_fund.status_code == 404
    bad_period = client.get(url, params={**params, "period": "2026-13"}, headers=till.headers)
    assert bad_period.status_code == 422


def test_text_typed_at_the_till_never_becomes_a_formula(
    client: TestClient, engine: Engine, people: People, app: Any
) -> None:
    """A reference or a reason opened in the treasurer's spreadsheet stays text."""
    till = open_till(app, client, engine)
    paid: Any = till.pay(client, 500, reference='=HYPERLINK("http://evil.example","x")')
    assert paid.status_code == 201, paid.text
    refund = client.post(
        f"/api/v1/payments/{paid.json()['id']}/refunds",
        json={"amount_cents": 100, "reason": "@SUM(1+1)"},
        headers={**till.headers, "Idempotency-Key": "r-formula"},
    )
    assert refund.status_code == 201, refund.text
    manager = people.as_(("manager", till.outlet_id))
    response = client.get(
        f"/api/v1/outlets/{till.outlet_id}/statement.csv",
        params={"fund_id": str(till.fund.id), "period": current_period()},
        headers=manager,
    )
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[1][4] == """'=HYPERLINK("http://evil.example","x")"""
    assert rows[2][5] == "'@SUM(1+1)"
    assert text_cell("T-1") == "T-1"
    assert text_cell("-1") == "'-1"
