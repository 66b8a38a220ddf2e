"""A fund with voters who log in, outlets that applied to it, and calls to the assembly API."""

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from ssa.assembly.models import Proposal
from ssa.funds.models import Fund
from ssa.funds.service import fund_today
from ssa.households.models import Household, Person
from ssa.households.schemas import AddressIn, DeclaredIn, HouseholdIn, PersonIn
from ssa.households.service import register
from ssa.outlets.models import OutletCategory, OutletStatus
from ssa.outlets.schemas import AddressIn as OutletAddress
from ssa.outlets.schemas import ApplicationIn, CriterionScore, OutletIn
from ssa.outlets.service import apply, register_outlet, set_status
from ssa.settings import Settings
from ssa.timeutil import utcnow
from tests.conftest import People
from tests.issuance.helpers import make_fund
from tests.payments.helpers import IBAN, valid_siret

ADULT = date(1980, 5, 17)


def years_ago(years: int, days: int = 0) -> date:
    today = fund_today()
    return today.replace(year=today.year - years) - timedelta(days=days)


@dataclass
class Voter:
    person_id: uuid.UUID
    user_id: uuid.UUID
    household_id: uuid.UUID
    headers: dict[str, str] = field(default_factory=dict)


def household(
    engine: Engine,
    fund: Fund,
    births: list[date] | None = None,
    *,
    income_cents: int = 120_000,
    logins: bool = True,
) -> list[Person]:
    """A household of the fund; with `logins`, every person has an email (and a user)."""
    births = births or [ADULT]
    with Session(engine, expire_on_commit=False) as session:
        made, _ = register(
            db_session=session,
            fund_id=fund.id,
            household_in=HouseholdIn(
                persons=[
                    PersonIn(
                        given_name=f"P{i}",
                        family_name="Votant",
                        birth_date=b,
                        email=f"{uuid.uuid4().hex[:12]}@example.org" if logins else None,
                    )
                    for i, b in enumerate(births)
                ],
                address=AddressIn(line1="1 rue du Marché", postcode="33000", city="Bordeaux"),
                declared=DeclaredIn(
                    monthly_income_cents=income_cents,
                    housing_costs_cents=50_000,
                    other_fixed_costs_cents=10_000,
                    food_budget_cents=30_000,
                ),
                chosen_contribution_cents=1_000 + 500 * (len(births) - 1),
            ),
            actor="system:test",
            settings=Settings(),
        )
        persons = list(
            session.exec(
                select(Person)
                .where(col(Person.household_id) == made.id)
                .order_by(col(Person.birth_date))
            ).all()
        )
        session.commit()
        return persons


def voter(engine: Engine, fund: Fund, people: People, birth: date = ADULT) -> Voter:
    """A one-person household of the fund whose person logs in."""
    (person,) = household(engine, fund, [birth])
    assert person.user_id is not None
    return Voter(person.id, person.user_id, person.household_id, people.headers(person.user_id))


def voters(engine: Engine, fund: Fund, people: People, count: int) -> list[Voter]:
    return [voter(engine, fund, people) for _ in range(count)]


def outlet(engine: Engine, fund: Fund, status: OutletStatus = OutletStatus.applicant) -> uuid.UUID:
    """An outlet that applied to the fund (scored on two of its criteria), with `status`."""
    with Session(engine, expire_on_commit=False) as session:
        made = register_outlet(
            db_session=session,
            outlet_in=OutletIn(
                name=f"AMAP {uuid.uuid4().hex[:6]}",
                siret=valid_siret(uuid.uuid4().int),
                iban=IBAN,
                address=OutletAddress(line1="Place du Marché", postcode="33000", city="Bordeaux"),
                category=OutletCategory.cooperative,
                latitude=44.84,
                longitude=-0.58,
            ),
            actor="system:test",
            request_id=None,
        )
        apply(
            db_session=session,
            fund_id=fund.id,
            outlet_id=made.id,
            application=ApplicationIn(
                criteria={
                    "local_origin": CriterionScore(score=3, note="within 50 km"),
                    "price_transparency": CriterionScore(score=2, note="prices shown"),
                }
            ),
            actor="system:test",
            request_id=None,
        )
        if status is not OutletStatus.applicant:
            if status is not OutletStatus.accredited:
                set_status(
                    db_session=session,
                    fund_id=fund.id,
                    outlet_id=made.id,
                    status=OutletStatus.accredited,
                    actor="system:test",
                    decision_reference="AG",
                )
            set_status(
                db_session=session,
                fund_id=fund.id,
                outlet_id=made.id,
                status=status,
                actor="system:test",
                decision_reference="AG",
            )
        session.commit()
        return made.id


def assembly_fund(engine: Engine, **policy: Any) -> Fund:
    """A gironde fund (quorum 20 %, approval 50 %, secret ballot) with `policy` changes."""
    return make_fund(engine, **policy)


def propose(
    client: TestClient,
    headers: dict[str, str],
    fund: Fund,
    outlet_id: uuid.UUID,
    kind: str = "accredit_outlet",
    **extra: Any,
) -> Any:
    return client.post(
        f"/api/v1/funds/{fund.id}/proposals",
        json={"kind": kind, "outlet_id": str(outlet_id), "title": "Accréditer l'AMAP", **extra},
        headers=headers,
    )


def opened(
    client: TestClient,
    headers: dict[str, str],
    fund: Fund,
    outlet_id: uuid.UUID,
    kind: str = "accredit_outlet",
    **extra: Any,
) -> dict[str, Any]:
    response = propose(client, headers, fund, outlet_id, kind, **extra)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def vote(client: TestClient, who: Voter | dict[str, str], proposal_id: str, choice: str) -> Any:
    headers = who.headers if isinstance(who, Voter) else who
    return client.post(
        f"/api/v1/proposals/{proposal_id}/votes", json={"choice": choice}, headers=headers
    )


def voted(client: TestClient, who: Voter, proposal_id: str, choice: str) -> dict[str, Any]:
    response = vote(client, who, proposal_id, choice)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def close(client: TestClient, headers: dict[str, str], proposal_id: str) -> dict[str, Any]:
    response = client.post(f"/api/v1/proposals/{proposal_id}/close", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def end_window(engine: Engine, proposal_id: str | uuid.UUID, ago: timedelta | None = None) -> None:
    """Move the proposal's window into the past (as if its days had gone by)."""
    with Session(engine) as session:
        proposal = session.get(Proposal, uuid.UUID(str(proposal_id)))
        assert proposal is not None
        closes_at = utcnow() - (ago or timedelta(seconds=1))
        opens_at = min(proposal.opens_at, closes_at - timedelta(days=1))
        session.exec(
            update(Proposal)  # type: ignore[call-overload]
            .where(col(Proposal.id) == proposal.id)
            .values(opens_at=opens_at, closes_at=closes_at)
        )
        session.commit()


def set_household_status(engine: Engine, household_id: uuid.UUID, status: str) -> None:
    with Session(engine) as session:
        session.exec(
            update(Household)  # type: ignore[call-overload]
            .where(col(Household.id) == household_id)
            .values(status=status)
        )
        session.commit()


def at(moment: datetime) -> str:
    return moment.isoformat()
