"""Issuance, period close and the report through the HTTP API and the CLI."""

import os
import subprocess
import sys

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.conftest import People
from tests.issuance.helpers import NEXT, PREVIOUS, THIS, add_household, make_fund


def test_issue_close_and_report_over_http(
    client: TestClient, people: People, engine: Engine
) -> None:
    fund = make_fund(engine, rollover="capped", rollover_cap_cents=10_000)
    for _ in range(5):
        add_household(engine, fund)
    unpaid = add_household(engine, fund, paid=())
    treasurer = people.as_(("treasurer", fund.id))
    base = f"/api/v1/funds/{fund.id}"

    dry = client.post(
        f"{base}/issuances", json={"period": THIS, "dry_run": True}, headers=treasurer
    )
    assert dry.status_code == 200, dry.text
    assert dry.json()["households_issued"] == 5
    assert dry.json()["skipped"] == [
        {"household_id": str(unpaid.id), "reason": "contribution_unpaid"}
    ]

    issued = client.post(f"{base}/issuances", json={"period": THIS}, headers=treasurer)
    assert issued.status_code == 201
    assert issued.json()["total_cents"] == 75_000
    nothing = client.post(f"{base}/issuances", json={"period": THIS}, headers=treasurer)
    assert nothing.status_code == 200
    assert nothing.json()["households_issued"] == 0

    report = client.get(f"{base}/report", params={"period": THIS}, headers=treasurer).json()
    assert report["issued_cents"] == 75_000
    assert report["outstanding_credits_cents"] == 75_000
    assert report["households_active"] == 6
    assert report["contributions_cents"] == 5 * 1_000
    assert report["contributions_due_cents"] == 6 * 1_000  # the sixth has not paid
    assert report["grants_cents"] == 10_000_000
    assert report["bank_cents"] == 10_000_000 + 5 * 2 * 1_000  # two periods paid by five
    assert report["coverage_ratio"] == round(report["bank_cents"] / 75_000, 4)
    assert report["runway_periods"] == round((report["bank_cents"] - 75_000) / 75_000, 2)

    # This month is spent until its last day: it cannot be closed yet. Last month can
    # (issued late here: the households joined then), leaving this month's credits.
    early = client.post(f"{base}/periods/{THIS}/close", headers=treasurer)
    assert early.status_code == 409
    assert early.json()["code"] == "period_not_closable"
    late = client.post(f"{base}/issuances", json={"period": PREVIOUS}, headers=treasurer)
    # All six: the unpaid household is still within the grace for last month.
    assert late.json()["total_cents"] == 90_000
    closed = client.post(f"{base}/periods/{PREVIOUS}/close", headers=treasurer)
    assert closed.status_code == 200
    assert closed.json() == {
        "period": PREVIOUS,
        # Five hold 30,000, 15,000 of them this month's; the sixth 15,000; 10,000 kept.
        "expired_cents": 30_000,
        "households": 6,
        "already_closed": False,
    }
    again = client.post(f"{base}/periods/{PREVIOUS}/close", headers=treasurer)
    assert again.json()["already_closed"]
    refused = client.post(f"{base}/issuances", json={"period": PREVIOUS}, headers=treasurer)
    assert refused.status_code == 409
    assert refused.json()["code"] == "period_not_issuable"
    after = client.get(f"{base}/report", params={"period": PREVIOUS}, headers=treasurer).json()
    assert after["expired_cents"] == 30_000
    check = client.get(f"{base}/ledger/check", headers=treasurer).json()
    assert check["ok"], check


def test_bad_issuance_requests(client: TestClient, people: People, engine: Engine) -> None:
    fund = make_fund(engine)
    treasurer = people.as_(("treasurer", fund.id))
    base = f"/api/v1/funds/{fund.id}"
    for body in [{"period": "2026-13"}, {"period": "26-11"}, {}, {"period": THIS, "extra": 1}]:
        response = client.post(f"{base}/issuances", json=body, headers=treasurer)
        assert response.status_code == 422, body
        assert response.json()["code"] == "validation_error"
    assert client.post(f"{base}/periods/2026-00/close", headers=treasurer).status_code == 422
    # Months of no fund's years (their neighbours are not dates: 500s before): refused.
    household = add_household(engine, fund)
    for far in ("0000-01", "0001-01", "1999-12", "9999-12"):
        for response in (
            client.get(f"{base}/report", params={"period": far}, headers=treasurer),
            client.get(f"{base}/report.csv", params={"period": far}, headers=treasurer),
            client.post(
                f"{base}/issuances", json={"period": far, "dry_run": True}, headers=treasurer
            ),
            client.post(f"{base}/periods/{far}/close", headers=treasurer),
            client.post(
                f"{base}/contributions",
                json={
                    "household_id": str(household.id),
                    "period": far,
                    "amount_cents": 100,
                    "method": "cash",
                    "received_on": "2026-01-05",
                },
                headers={**treasurer, "Idempotency-Key": f"far-{far}"},
            ),
        ):
            assert response.status_code == 422, (far, response.request.url, response.text)
            assert response.json()["code"] == "validation_error"
    assert (
        client.post(f"{base}/periods/{NEXT}/close", headers=treasurer).json()["code"]
        == "period_not_closable"
    )


def test_the_cli_issues_like_the_api(database_url: str, engine: Engine) -> None:
    fund = make_fund(engine)
    add_household(engine, fund)
    add_household(engine, fund, paid=())
    env = {**os.environ, "SSA_DATABASE_URL": database_url}

    def ssa(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ssa", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    dry = ssa("issue", "--fund", fund.slug, "--period", THIS, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would issue 150.00 EUR to 1 households" in dry.stdout
    assert "skipped 1: contribution_unpaid" in dry.stdout
    real = ssa("issue", "--fund", fund.slug, "--period", THIS)
    assert "issued 150.00 EUR to 1 households" in real.stdout
    again = ssa("issue", "--fund", fund.slug, "--period", THIS)
    assert "issued 0.00 EUR to 0 households" in again.stdout
    assert "skipped 1: already_issued" in again.stdout
    early = ssa("close-period", "--fund", fund.slug, "--period", THIS)
    assert early.returncode != 0
    assert "has not ended yet" in early.stdout + early.stderr
    closed = ssa("close-period", "--fund", fund.slug, "--period", PREVIOUS)
    assert closed.returncode == 0
    assert "closed" in closed.stdout
    bad = ssa("issue", "--fund", fund.slug, "--period", "2026-13")
    assert bad.returncode == 2
    far = ssa("issue", "--fund", fund.slug, "--period", "0000-01", "--dry-run")
    assert far.returncode == 2
    assert "Traceback" not in far.stderr
    unknown = ssa("issue", "--fund", "nowhere", "--period", THIS)
    assert unknown.returncode == 2
