"""Every endpoint family against every role, through the real app: who may, who may not.

Each later endpoint family adds a row. "ok" means the request got past authorisation
(any answer but 401 and 403; the bodies sent are valid, so it is a 2xx here).
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from ssa.assembly.committee import draw_committee
from ssa.assembly.models import ProposalKind
from ssa.assembly.schemas import CommitteeDrawIn, ProposalIn
from ssa.assembly.service import open_proposal
from ssa.funds.models import Fund
from ssa.funds.service import create_fund, current_period, fund_today
from ssa.households.mandates import active_mandate, set_mandate
from ssa.households.models import Household, Person
from ssa.households.schemas import HouseholdIn, MandateIn
from ssa.households.service import register
from ssa.outlets.models import OutletCategory, OutletStatus
from ssa.outlets.schemas import AddressIn as OutletAddress
from ssa.outlets.schemas import ApplicationIn, CriterionScore, OutletIn
from ssa.outlets.service import apply, create_terminal, register_outlet, set_status
from ssa.settings import Settings
from tests.conftest import People
from tests.payments.helpers import valid_siret

ROLES = [
    "anonymous",
    "terminal",
    "plain_user",
    "admin",
    "coordinator",
    "other_coordinator",
    "treasurer",
    "auditor",
    "member",
    "other_member",
    "manager",
    "cashier",
]

OK, NO, ANON = "ok", "forbidden", "unauthenticated"
# Got past authorisation, and was then refused for a business reason (a PIN not set...).
PASS = "passes"


COLLECTION_DATE = (fund_today() + timedelta(days=30)).isoformat()


def _policy(fund: Fund) -> dict[str, Any]:
    return {"effective_period": "2099-01"}


# (family, method, path, body) -> expected per role, in ROLES order.
MATRIX: list[tuple[str, str, str, Callable[[Fund], Any] | None, list[str]]] = [
    ("me", "GET", "/api/v1/me", None, [ANON, OK, OK, OK, OK, OK, OK, OK, OK, OK, OK, OK]),
    (
        "users: create",
        "POST",
        "/api/v1/users",
        lambda f: {"email": f"{uuid.uuid4().hex[:10]}@example.org", "display_name": "New"},
        [ANON, NO, NO, OK, OK, OK, NO, NO, NO, NO, NO, NO],
    ),
    (
        "fund roles: grant",
        "POST",
        "/api/v1/funds/{fund_id}/roles",
        "grant",
        [ANON, NO, NO, OK, OK, NO, NO, NO, NO, NO, NO, NO],
    ),
    (
        "audit log",
        "GET",
        "/api/v1/funds/{fund_id}/audit-log",
        None,
        [ANON, NO, NO, NO, OK, NO, NO, OK, NO, NO, NO, NO],
    ),
    (
        "audit log of the instance",
        "GET",
        "/api/v1/audit-log",
        None,
        [ANON, NO, NO, OK, NO, NO, NO, NO, NO, NO, NO, NO],
    ),
    (
        "funds: create",
        "POST",
        "/api/v1/funds",
        lambda f: {
            "slug": f"m-{uuid.uuid4().hex[:10]}",
            "name": "Matrix fund",
            "iban": "FR7630006000011234567890189",
        },
        [ANON, NO, NO, OK, NO, NO, NO, NO, NO, NO, NO, NO],
    ),
    (
        "funds: list",
        "GET",
        "/api/v1/funds",
        None,
        [ANON, OK, OK, OK, OK, OK, OK, OK, OK, OK, OK, OK],
    ),
    (
        "funds: read",
        "GET",
        "/api/v1/funds/{fund_id}",
        None,
        [ANON, OK, OK, OK, OK, OK, OK, OK, OK, OK, OK, OK],
    ),
    (
        "policy: read",
        "GET",
        "/api/v1/funds/{fund_id}/policy",
        None,
        [ANON, OK, OK, OK, OK, OK, OK, OK, OK, OK, OK, OK],
    ),
    (
        "policy: history",
        "GET",
        "/api/v1/funds/{fund_id}/policy/history",
        None,
        [ANON, OK, OK, OK, OK, OK, OK, OK, OK, OK, OK, OK],
    ),
    (
        "policy: change",
        "PUT",
        "/api/v1/funds/{fund_id}/policy",
        "policy",
        [ANON, NO, NO, NO, OK, NO, NO, NO, NO, NO, NO, NO],
    ),
    (
        "households: register",
        "POST",
        "/api/v1/funds/{fund_id}/households",
        "household",
        [ANON, NO, NO, NO, OK, NO, NO, NO, NO, NO, NO, NO],
    ),
    (
        "households: list",
        "GET",
        "/api/v1/funds/{fund_id}/households",
        None,
        [ANON, NO, NO, NO, OK, NO, NO, NO, NO, NO, NO, NO],
    ),
    (
        "household: read",
        "GET",
        "/api/v1/households/{household_id}",
        None,
        [ANON, NO, NO, NO, OK, NO, NO, NO, OK, NO, NO, NO],
    ),
    (
        "household: change",
        "PATCH",
        "/api/v1/households/{household_id}",
        lambda f: {"chosen_contribution_cents": 1_500},
        [ANON, NO, NO, NO, OK, NO, NO, NO, NO, NO, NO, NO],
    ),
    (
        "household: set PIN",
        "PUT",
        "/api/v1/households/{household_id}/pin",
        lambda f: {"pin": "4321"},
        [ANON, NO, NO, NO, OK, NO, NO, NO, OK, NO, NO, NO],
    ),
    (
        "household: unlock PIN",
        "POST",
        "/api/v1/households/{household_id}/pin/unlock",
        None,
        [ANON, NO, NO, NO, OK, NO, NO, NO, NO, NO, NO, NO],
    ),
    (
        "household: account",
        "GET",
        "/api/v1/households/{household_id}/account",
        None,
        [ANON, NO, NO, NO, OK, NO, NO, NO, OK, NO, NO, NO],
    ),
    (
        "household: transactions",
        "GET",
        "/api/v1/households/{household_id}/transactions",
        None,
        [ANON, NO, NO, NO, OK, NO, NO, NO, OK, NO, NO, NO],
    ),
    (
        "household: mandate",
        "GET",
        "/api/v1/households/{household_id}/mandate",
        None,
        # The IBAN: the household's members, the coordinator and the treasurer only.
        [ANON, NO, NO, NO, OK, NO, OK, NO, OK, NO, NO, NO],
    ),
    (
        "household: mandate history",
        "GET",
        "/api/v1/households/{household_id}/mandates",
        None,
        [ANON, NO, NO, NO, OK, NO, OK, NO, OK, NO, NO, NO],
    ),
    (
        "household: give mandate",
        "PUT",
        "/api/v1/households/{household_id}/mandate",
        lambda f: {
            "debtor_name": "Alex Martin",
            "iban": "FR1420041010050500013M02606",
            "signed_on": "2026-01-15",
        },
        # An adult of the household, or the coordinator.
        [ANON, NO, NO, NO, OK, NO, NO, NO, OK, NO, NO, NO],
    ),
    (
        "household: revoke mandate",
        "DELETE",
        "/api/v1/households/{household_id}/mandate",
        "mandate_again",
        [ANON, NO, NO, NO, OK, NO, OK, NO, OK, NO, NO, NO],
    ),
    (
        "contributions: direct-debit file",
        "GET",
        "/api/v1/funds/{fund_id}/contributions/direct-debit.xml"
        f"?period={current_period()}&collection_date={COLLECTION_DATE}",
        None,
        [ANON, NO, NO, NO, NO, NO, OK, NO, NO, NO, NO, NO],
    ),
    (
        "contributions: direct-debit runs",
        "GET",
        "/api/v1/funds/{fund_id}/direct-debit-runs",
        None,
        [ANON, NO, NO, NO, NO, NO, OK, NO, NO, NO, NO, NO],
    ),
    (
        "contributions: cancel a direct-debit run",
        "POST",
        # No such run: the treasurer gets past authorisation, then 404.
        f"/api/v1/funds/{{fund_id}}/direct-debit-runs/{uuid.uuid4()}/cancel",
        None,
        [ANON, NO, NO, NO, NO, NO, PASS, NO, NO, NO, NO, NO],
    ),
    (
        "contributions: a household's month, recorded",
        "GET",
        "/api/v1/funds/{fund_id}/households/{household_id}/contributions"
        f"?period={current_period()}",
        None,
        [ANON, NO, NO, NO, OK, NO, OK, OK, NO, NO, NO, NO],
    ),
    (
        "contributions: correct one",
        "POST",
        # No such contribution: the treasurer gets past authorisation, then 404.
        f"/api/v1/funds/{{fund_id}}/contributions/{uuid.uuid4()}/correction",
        "correction",
        [ANON, NO, NO, NO, NO, NO, PASS, NO, NO, NO, NO, NO],
    ),
    (
        "contributions: a direct debit returned",
        "POST",
        # No such run: the treasurer gets past authorisation, then 404.
        f"/api/v1/funds/{{fund_id}}/direct-debit-runs/{uuid.uuid4()}/returns",
        "debit_returned",
        [ANON, NO, NO, NO, NO, NO, PASS, NO, NO, NO, NO, NO],
    ),
    (
        "contributions: record",
        "POST",
        "/api/v1/funds/{fund_id}/contributions",
        "contribution",
        [ANON, NO, NO, NO, NO, NO, OK, NO, NO, NO, NO, NO],
    ),
    (
        "contributions: statuses",
        "GET",
        "/api/v1/funds/{fund_id}/contributions?period=2026-01",
        None,
        [ANON, NO, NO, NO, OK, NO, OK, OK, NO, NO, NO, NO],
    ),
    (
        "contributions: waive",
        "POST",
        "/api/v1/funds/{fund_id}/contribution-waivers",
        "waiver",
        [ANON, NO, NO, NO, OK, NO, NO, NO, NO, NO, NO, NO],
    ),
    (
        "grants: record",
        "POST",
        "/api/v1/funds/{fund_id}/grants",
        lambda f: {"funder": "Ville", "amount_cents": 100_000, "received_on": "2026-01-05"},
        [ANON, NO, NO, NO, NO, NO, OK, NO, NO, NO, NO, NO],
    ),
    (
        "issuance: run",
        "POST",
        "/api/v1/funds/{fund_id}/issuances",
        lambda f: {"period": current_period(), "dry_run": True},
        [ANON, NO, NO, NO, NO, NO, OK, NO, NO, NO, NO, NO],
    ),
    (
        "period: close",
        "POST",
        "/api/v1/funds/{fund_id}/periods/2020-01/close",
        None,
        [ANON, NO, NO, NO, NO, NO, OK, NO, NO, NO, NO, NO],
    ),
    (
        "report",
        "GET",
        "/api/v1/funds/{fund_id}/report",
        None,
        [ANON, NO, NO, NO, OK, NO, OK, OK, NO, NO, NO, NO],
    ),
    (
        "report as CSV",
        "GET",
        "/api/v1/funds/{fund_id}/report.csv",
        None,
        [ANON, NO, NO, NO, OK, NO, OK, OK, NO, NO, NO, NO],
    ),
    (
        "ledger check",
        "GET",
        "/api/v1/funds/{fund_id}/ledger/check",
        None,
        [ANON, NO, NO, NO, NO, NO, OK, OK, NO, NO, NO, NO],
    ),
    (
        "outlets: register",
        "POST",
        "/api/v1/outlets",
        "outlet",
        [ANON, NO, NO, NO, OK, OK, NO, NO, NO, NO, NO, NO],
    ),
    (
        "outlet: read",
        "GET",
        "/api/v1/outlets/{outlet_id}",
        None,
        [ANON, OK, NO, OK, OK, OK, OK, OK, NO, NO, OK, OK],
    ),
    (
        "outlets: public list",
        "GET",
        "/api/v1/funds/{fund_id}/outlets?status=accredited",
        None,
        [OK, OK, OK, OK, OK, OK, OK, OK, OK, OK, OK, OK],
    ),
    (
        "outlets: GeoJSON",
        "GET",
        "/api/v1/funds/{fund_id}/outlets.geojson",
        None,
        [OK, OK, OK, OK, OK, OK, OK, OK, OK, OK, OK, OK],
    ),
    (
        "outlets: full list",
        "GET",
        "/api/v1/funds/{fund_id}/outlets",
        None,
        [ANON, NO, NO, NO, OK, NO, OK, OK, NO, NO, NO, NO],
    ),
    (
        "outlet: application",
        "POST",
        "/api/v1/funds/{fund_id}/outlets/{outlet_id}/application",
        lambda f: {"criteria": {"local_origin": {"score": 2, "note": "within 50 km"}}},
        [ANON, NO, NO, NO, OK, NO, NO, NO, NO, NO, NO, NO],
    ),
    (
        "outlet: status decision",
        "PUT",
        "/api/v1/funds/{fund_id}/outlets/{outlet_id}/status",
        lambda f: {"status": "accredited", "decision_reference": "AG 2026-03"},
        [ANON, NO, NO, NO, OK, NO, NO, NO, NO, NO, NO, NO],
    ),
    (
        "outlet: status history",
        "GET",
        "/api/v1/funds/{fund_id}/outlets/{outlet_id}/history",
        None,
        [ANON, NO, NO, NO, OK, NO, OK, OK, NO, NO, NO, NO],
    ),
    (
        "outlet: staff",
        "POST",
        "/api/v1/outlets/{outlet_id}/staff",
        "staff",
        [ANON, NO, NO, OK, OK, NO, NO, NO, NO, NO, OK, NO],
    ),
    (
        "outlet: terminals",
        "POST",
        "/api/v1/outlets/{outlet_id}/terminals",
        lambda f: {"label": "Till 2"},
        # A coordinator of another fund may not arm a till of this fund's outlet; the
        # administrator may (as they may name its staff).
        [ANON, NO, NO, OK, OK, NO, NO, NO, NO, NO, OK, NO],
    ),
    (
        "payments: take",
        "POST",
        "/api/v1/payments",
        "payment",
        [ANON, PASS, NO, NO, NO, NO, NO, NO, NO, NO, PASS, PASS],
    ),
    (
        "outlet: payments",
        "GET",
        "/api/v1/outlets/{outlet_id}/payments",
        None,
        [ANON, OK, NO, NO, NO, NO, NO, NO, NO, NO, OK, OK],
    ),
    (
        "outlet: balance",
        "GET",
        "/api/v1/outlets/{outlet_id}/balance?fund_id={fund_id}",
        None,
        [ANON, OK, NO, NO, NO, NO, NO, NO, NO, NO, OK, OK],
    ),
    (
        "proposals: open",
        "POST",
        "/api/v1/funds/{fund_id}/proposals",
        "proposal",
        # A coordinator, or an adult member of an active household of the fund.
        [ANON, NO, NO, NO, OK, NO, NO, NO, OK, OK, NO, NO],
    ),
    (
        "proposals: list",
        "GET",
        "/api/v1/funds/{fund_id}/proposals",
        None,
        [ANON, NO, NO, NO, OK, NO, OK, OK, OK, OK, NO, NO],
    ),
    (
        "proposal: read",
        "GET",
        "/api/v1/proposals/{proposal_id}",
        None,
        [ANON, NO, NO, NO, OK, NO, OK, OK, OK, OK, NO, NO],
    ),
    (
        "proposal: vote",
        "POST",
        "/api/v1/proposals/{proposal_id}/votes",
        lambda f: {"choice": "yes"},
        # Anyone authenticated may try; only the persons on the roll vote (`not_eligible`).
        [ANON, PASS, PASS, PASS, PASS, PASS, PASS, PASS, OK, OK, PASS, PASS],
    ),
    (
        "proposal: close",
        "POST",
        "/api/v1/proposals/{proposal_id}/close",
        None,
        [ANON, NO, NO, NO, OK, NO, NO, NO, NO, NO, NO, NO],
    ),
    (
        "committee: draw",
        "POST",
        "/api/v1/funds/{fund_id}/committee-draws",
        lambda f: {"size": 1, "seed": "matrix"},
        [ANON, NO, NO, NO, OK, NO, NO, NO, NO, NO, NO, NO],
    ),
    (
        "committee: list",
        "GET",
        "/api/v1/funds/{fund_id}/committee-draws",
        None,
        [ANON, NO, NO, NO, OK, NO, OK, OK, OK, OK, NO, NO],
    ),
    (
        "committee: read",
        "GET",
        "/api/v1/committee-draws/{draw_id}",
        None,
        [ANON, NO, NO, NO, OK, NO, OK, OK, OK, OK, NO, NO],
    ),
    (
        "committee: roll",
        "GET",
        "/api/v1/committee-draws/{draw_id}/roll",
        None,
        # Strata tell income bands: the coordinator's only (not the auditor's).
        [ANON, NO, NO, NO, OK, NO, NO, NO, NO, NO, NO, NO],
    ),
    (
        "committee: end",
        "POST",
        "/api/v1/committee-draws/{draw_id}/end",
        None,
        [ANON, NO, NO, NO, OK, NO, NO, NO, NO, NO, NO, NO],
    ),
]


@dataclass
class World:
    """A fund with a household whose person logs in, and a caller for every role."""

    headers: dict[str, dict[str, str]]
    household_id: uuid.UUID
    outlet_id: uuid.UUID
    proposal_id: uuid.UUID
    draw_id: uuid.UUID


@pytest.fixture
def world(client: TestClient, people: People, fund: Fund, engine: Engine) -> World:
    with Session(engine) as session:
        other = create_fund(db_session=session, slug=f"{fund.slug}-o", name="Other fund")
        outlet = register_outlet(
            db_session=session, outlet_in=_outlet_in(), actor="system:test", request_id=None
        )
        set_status(
            db_session=session,
            fund_id=fund.id,
            outlet_id=outlet.id,
            status=OutletStatus.accredited,
            actor="system:test",
            decision_reference="AG",
        )
        terminal, secret = create_terminal(
            db_session=session,
            outlet_id=outlet.id,
            label="Till",
            actor="system:test",
            request_id=None,
        )
        session.commit()
        other_id, terminal_id, outlet_id = other.id, terminal.client_id, outlet.id
    token = client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": terminal_id,
            "client_secret": secret,
        },
    ).json()["access_token"]
    member, other_member = (_household_member(engine, fund_id) for fund_id in (fund.id, fund.id))
    headers = {
        "member": people.headers(member[1]),
        "other_member": people.headers(other_member[1]),
        "anonymous": {},
        "terminal": {"Authorization": f"Bearer {token}"},
        "plain_user": people.as_(),
        "admin": people.as_(("admin", None)),
        "coordinator": people.as_(("coordinator", fund.id)),
        "other_coordinator": people.as_(("coordinator", other_id)),
        "treasurer": people.as_(("treasurer", fund.id)),
        "auditor": people.as_(("auditor", fund.id)),
        "manager": people.as_(("manager", outlet_id)),
        "cashier": people.as_(("cashier", outlet_id)),
    }
    proposal_id, draw_id = _assembly(engine, fund.id, outlet_id)
    _direct_debit(engine, fund.id, member[0])
    return World(
        headers=headers,
        household_id=member[0],
        outlet_id=outlet_id,
        proposal_id=proposal_id,
        draw_id=draw_id,
    )


def _assembly(
    engine: Engine, fund_id: uuid.UUID, outlet_id: uuid.UUID
) -> tuple[uuid.UUID, uuid.UUID]:
    """An open proposal to suspend the outlet (both members on its roll), and a committee."""
    with Session(engine) as session:
        proposal = open_proposal(
            db_session=session,
            fund_id=fund_id,
            proposal_in=ProposalIn(
                kind=ProposalKind.suspend_outlet, outlet_id=outlet_id, title="Suspendre"
            ),
            actor="system:test",
            proposer_person_id=None,
        )
        draw = draw_committee(
            db_session=session,
            fund_id=fund_id,
            draw_in=CommitteeDrawIn(size=1, seed="matrix", in_force=False),
            actor="system:test",
        )
        session.commit()
        return proposal.id, draw.id


def _direct_debit(engine: Engine, fund_id: uuid.UUID, household_id: uuid.UUID) -> None:
    """The fund collects by direct debit, and the member's household gave a mandate."""
    with Session(engine) as session:
        fund = session.get(Fund, fund_id)
        assert fund is not None
        fund.iban = "FR7630006000011234567890189"
        fund.sepa_creditor_id = "FR72ZZZ123456"
        session.add(fund)
        _mandate(session, household_id)
        session.commit()


def _mandate(session: Session, household_id: uuid.UUID) -> None:
    set_mandate(
        db_session=session,
        household_id=household_id,
        mandate_in=MandateIn(
            debtor_name="Alex Martin",
            iban="FR1420041010050500013M02606",
            signed_on=date(2026, 1, 15),
        ),
        actor="system:test",
    )


def _applicant(engine: Engine, fund_id: uuid.UUID) -> uuid.UUID:
    """A new outlet that applied to the fund, for a proposal to accredit it."""
    with Session(engine) as session:
        outlet = register_outlet(
            db_session=session, outlet_in=_outlet_in(), actor="system:test", request_id=None
        )
        apply(
            db_session=session,
            fund_id=fund_id,
            outlet_id=outlet.id,
            application=ApplicationIn(criteria={"local_origin": CriterionScore(score=2)}),
            actor="system:test",
            request_id=None,
        )
        session.commit()
        return outlet.id


def _outlet_in() -> OutletIn:
    return OutletIn(
        name=f"Épicerie {uuid.uuid4().hex[:6]}",
        siret=valid_siret(uuid.uuid4().int),
        iban="FR7630006000011234567890189",
        address=OutletAddress(line1="12 cours Victor Hugo", postcode="33000", city="Bordeaux"),
        category=OutletCategory.grocer,
        latitude=44.8378,
        longitude=-0.5792,
    )


def _household_member(engine: Engine, fund_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    """A household of the fund whose one person has a login: (household id, user id)."""
    with Session(engine) as session:
        household, _ = register(
            db_session=session,
            fund_id=fund_id,
            household_in=HouseholdIn.model_validate(_household_body(email=True)),
            actor="system:test",
            settings=Settings(),
        )
        person = session.exec(select(Person).where(col(Person.household_id) == household.id)).one()
        session.commit()
        assert person.user_id is not None
        return household.id, person.user_id


def _household_body(email: bool = False) -> dict[str, Any]:
    person: dict[str, Any] = {
        "given_name": "Alex",
        "family_name": "Martin",
        "birth_date": "1985-04-02",
    }
    if email:
        person["email"] = f"{uuid.uuid4().hex[:10]}@example.org"
    return {
        "persons": [person],
        "address": {"line1": "2 place du Marché", "postcode": "33000", "city": "Bordeaux"},
        "declared": {
            "monthly_income_cents": 110_000,
            "housing_costs_cents": 45_000,
            "other_fixed_costs_cents": 8_000,
            "food_budget_cents": 25_000,
        },
        "chosen_contribution_cents": 1_000,
    }


def _body(kind: object, fund: Fund, client: TestClient, world: World, people: People) -> Any:
    if kind == "household":
        return _household_body()
    if kind == "mandate_again":  # each caller revokes a mandate that is there
        with Session(people.engine) as session:
            if active_mandate(db_session=session, household_id=world.household_id) is None:
                _mandate(session, world.household_id)
                session.commit()
        return None
    if kind == "outlet":
        return _outlet_in().model_dump(mode="json")
    if kind == "staff":
        return {"user_id": str(people.user()), "role": "cashier"}
    if kind == "proposal":
        return {
            "kind": "accredit_outlet",
            "outlet_id": str(_applicant(people.engine, fund.id)),
            "title": "Accréditer",
        }
    if kind == "payment":
        with Session(people.engine) as session:
            number = session.get(Household, world.household_id)
            assert number is not None
        return {"member_number": number.member_number, "amount_cents": 100, "pin": "0000"}
    if kind == "contribution":
        return {
            "household_id": str(world.household_id),
            "period": current_period(),
            "amount_cents": 1_000,
            "method": "transfer",
            "received_on": "2026-01-05",
        }
    if kind == "correction":
        return {"reason": "Recorded twice"}
    if kind == "debit_returned":
        return {"household_id": str(world.household_id), "reason": "AM04"}
    if kind == "waiver":
        return {"household_id": str(world.household_id), "period": "2026-01", "reason": "Hardship"}
    if kind == "grant":
        return {"user_id": str(people.user()), "role": "auditor"}
    if kind == "policy":
        admin = world.headers["admin"]
        current = client.get(f"/api/v1/funds/{fund.id}/policy", headers=admin).json()
        return {**{k: v for k, v in current.items() if k != "effective_period"}, **_policy(fund)}
    if callable(kind):
        return kind(fund)
    return None


@pytest.mark.parametrize(
    ("family", "method", "path", "body", "expected"), MATRIX, ids=[m[0] for m in MATRIX]
)
def test_authorization_matrix(
    client: TestClient,
    people: People,
    fund: Fund,
    world: World,
    family: str,
    method: str,
    path: str,
    body: object,
    expected: list[str],
) -> None:
    outcomes = {}
    for role, want in zip(ROLES, expected, strict=True):
        payload = _body(body, fund, client, world, people)
        headers = {**world.headers[role], "Idempotency-Key": uuid.uuid4().hex}
        url = path.format(
            fund_id=fund.id,
            household_id=world.household_id,
            outlet_id=world.outlet_id,
            proposal_id=world.proposal_id,
            draw_id=world.draw_id,
        )
        response = client.request(method, url, json=payload, headers=headers)
        code = response.json().get("code") if response.status_code >= 400 else None
        got = ANON if code == "unauthenticated" else NO if code == "forbidden" else OK
        if got == OK and want == PASS and response.status_code < 500:
            got = PASS  # authorised; refused later for a business reason
        if got != want or (got == OK and response.status_code >= 400):
            outcomes[role] = f"expected {want}, got {response.status_code}: {response.text[:200]}"
        if got in (ANON, NO):
            assert response.headers["content-type"] == "application/problem+json"
            assert response.status_code == (401 if got == ANON else 403)
    assert outcomes == {}, f"{family}: {outcomes}"
