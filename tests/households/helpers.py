"""Building blocks of the households tests: funds through the API, household bodies, dates."""

import uuid
from datetime import date
from typing import Any

from fastapi.testclient import TestClient

from ssa.funds.service import current_period
from tests.conftest import People

VALID_IBAN = "FR7630006000011234567890189"

# The Damm quasigroup (Damm 2004), written out here so the tests do not trust the code
# they check.
DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)


def damm_valid(digits: str) -> bool:
    interim = 0
    for digit in digits:
        interim = DAMM[interim][int(digit)]
    return interim == 0


def period_start() -> date:
    year, month = current_period().split("-")
    return date(int(year), int(month), 1)


def previous_period() -> str:
    start = period_start()
    return f"{start.year - 1}-12" if start.month == 1 else f"{start.year}-{start.month - 1:02d}"


def years_before(day: date, years: int) -> date:
    """The same day `years` earlier (the first of a month always exists)."""
    return day.replace(year=day.year - years)


def new_fund(client: TestClient, people: People, preset: str = "gironde") -> uuid.UUID:
    """A fund made by an administrator through the API, with the preset's policy."""
    response = client.post(
        "/api/v1/funds",
        json={
            "slug": f"hh-{uuid.uuid4().hex[:10]}",
            "name": "Households test fund",
            "iban": VALID_IBAN,
            "preset": preset,
        },
        headers=people.as_(("admin", None)),
    )
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["id"])


def person(
    given: str = "Camille",
    family: str = "Martin",
    born: date | str = "1980-05-17",
    email: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"given_name": given, "family_name": family, "birth_date": str(born)}
    if email is not None:
        body["email"] = email
    return body


def adults(count: int, family: str = "Martin") -> list[dict[str, Any]]:
    return [person(f"Adult{i}", family, f"{1970 + i}-03-0{1 + i % 9}") for i in range(count)]


def declared(
    income: int = 150000, housing: int = 50000, other: int = 10000, food: int = 40000
) -> dict[str, int]:
    return {
        "monthly_income_cents": income,
        "housing_costs_cents": housing,
        "other_fixed_costs_cents": other,
        "food_budget_cents": food,
    }


def household_body(
    persons: list[dict[str, Any]] | None = None,
    chosen: int = 5000,
    resources: dict[str, int] | None = None,
) -> dict[str, Any]:
    return {
        "persons": persons if persons is not None else [person()],
        "address": {"line1": "12 rue des Lilas", "postcode": "33000", "city": "Bordeaux"},
        "declared": resources if resources is not None else declared(),
        "chosen_contribution_cents": chosen,
    }


def register(
    client: TestClient,
    fund_id: uuid.UUID,
    coordinator: dict[str, str],
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/funds/{fund_id}/households",
        json=body if body is not None else household_body(),
        headers=coordinator,
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def unique_email() -> str:
    return f"person-{uuid.uuid4().hex[:12]}@example.org"


def new_outlet(client: TestClient, coordinator: dict[str, str]) -> uuid.UUID:
    """An outlet registered through the API (staff grants and terminals must name one)."""
    from tests.payments.helpers import valid_siret

    response = client.post(
        "/api/v1/outlets",
        json={
            "name": f"Épicerie {uuid.uuid4().hex[:6]}",
            "siret": valid_siret(uuid.uuid4().int),
            "iban": VALID_IBAN,
            "address": {"line1": "Place du Marché", "postcode": "33500", "city": "Libourne"},
            "category": "grocer",
        },
        headers=coordinator,
    )
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["id"])
