"""A fund with an accredited outlet, a terminal and a household with credits and a PIN."""

import uuid
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from ssa.funds.models import Fund
from ssa.households.models import Household
from ssa.households.service import set_pin
from ssa.outlets.models import OutletCategory, OutletStatus
from ssa.outlets.schemas import AddressIn, OutletIn
from ssa.outlets.service import create_terminal, register_outlet, set_status
from ssa.settings import Settings
from tests.issuance.helpers import add_household, make_fund
from tests.issuance.test_issuance import issue

IBAN = "FR7630006000011234567890189"
PIN = "2468"


def valid_siret(seed: int) -> str:
    """A valid SIRET made from `seed` (the Luhn check digit computed)."""
    from stdnum import luhn

    siren = f"{seed % 10**8:08d}"
    siren += luhn.calc_check_digit(siren)  # the SIREN is Luhn-valid itself
    body = siren + f"{seed // 10**8 % 10**4:04d}"
    return body + luhn.calc_check_digit(body)


@dataclass
class Till:
    fund: Fund
    outlet_id: uuid.UUID
    household: Household
    headers: dict[str, str]  # the terminal's bearer token

    def pay(self, client: TestClient, amount_cents: int, pin: str = PIN, **extra: object) -> object:
        return client.post(
            "/api/v1/payments",
            json={
                "member_number": self.household.member_number,
                "amount_cents": amount_cents,
                "pin": pin,
                **extra,
            },
            headers={**self.headers, "Idempotency-Key": uuid.uuid4().hex},
        )


def open_till(
    app: FastAPI,
    client: TestClient,
    engine: Engine,
    *,
    status: OutletStatus = OutletStatus.accredited,
) -> Till:
    fund = make_fund(engine)
    household = add_household(engine, fund)
    issue(engine, fund)
    with Session(engine, expire_on_commit=False) as session:
        outlet = register_outlet(
            db_session=session,
            outlet_in=OutletIn(
                name=f"Ferme {uuid.uuid4().hex[:6]}",
                siret=valid_siret(uuid.uuid4().int),
                iban=IBAN,
                address=AddressIn(line1="Marché des Capucins", postcode="33800", city="Bordeaux"),
                category=OutletCategory.market_stall,
                latitude=44.83,
                longitude=-0.57,
            ),
            actor="system:test",
            request_id=None,
        )
        set_status(
            db_session=session,
            fund_id=fund.id,
            outlet_id=outlet.id,
            status=status,
            actor="system:test",
            decision_reference="AG 2026-01",
        )
        client_row, secret = create_terminal(
            db_session=session,
            outlet_id=outlet.id,
            label="Till 1",
            actor="system:test",
            request_id=None,
        )
        hh = session.get(Household, household.id)
        assert hh is not None
        set_pin(db_session=session, household=hh, pin=PIN, settings=Settings(), actor="system:test")
        session.commit()
        outlet_id, client_id = outlet.id, client_row.client_id
    token = client.post(
        "/api/v1/auth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    ).json()["access_token"]
    return Till(
        fund=fund,
        outlet_id=outlet_id,
        household=household,
        headers={"Authorization": f"Bearer {token}"},
    )
