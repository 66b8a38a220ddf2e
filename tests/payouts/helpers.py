"""A fund whose outlets are owed what members spent there, for payout tests."""

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from ssa.db import unit_of_work
from ssa.funds.models import Fund
from ssa.households.models import Household
from ssa.households.service import set_pin
from ssa.ledger.check import check_ledger
from ssa.ledger.models import AccountKind, LedgerAccount
from ssa.outlets.models import OutletCategory, OutletStatus
from ssa.outlets.schemas import AddressIn, OutletIn
from ssa.outlets.service import register_outlet, set_status
from ssa.payments.service import take_payment
from ssa.settings import Settings
from tests.issuance.helpers import ADULT, add_household, make_fund
from tests.issuance.test_issuance import issue
from tests.payments.helpers import valid_siret

FUND_IBAN = "FR1420041010050500013M02606"
FUND_BIC = "PSSTFRPPPAR"
# Valid IBANs of several SEPA countries, one per outlet in turn.
OUTLET_IBANS = [
    "FR7630006000011234567890189",
    "DE89370400440532013000",
    "BE68539007547034",
    "NL91ABNA0417164300",
    "FR7630001007941234567890185",
]
PIN = "1357"


@dataclass
class Books:
    fund: Fund
    outlets: list[uuid.UUID]  # in the order of the amounts asked for
    payables: dict[uuid.UUID, uuid.UUID]  # outlet id -> its payable account in the fund


def fund_owing(
    engine: Engine,
    owed: list[int],
    *,
    fund_iban: str | None = FUND_IBAN,
    fund_bic: str | None = FUND_BIC,
    outlet_bic: str | None = None,
    **fund_options: Any,
) -> Books:
    """A fund whose i-th outlet is owed `owed[i]` cents, spent by a four-adult household
    (37 500 cents of credits)."""
    assert sum(owed) <= 37_500
    fund = make_fund(engine, **fund_options)
    with Session(engine) as session:
        session.exec(
            update(Fund).where(col(Fund.id) == fund.id).values(iban=fund_iban, bic=fund_bic)  # type: ignore[call-overload]
        )
        session.commit()
    fund.iban, fund.bic = fund_iban, fund_bic
    household = add_household(engine, fund, [ADULT] * 4)
    issue(engine, fund)
    settings = Settings()
    outlets: list[uuid.UUID] = []
    payables: dict[uuid.UUID, uuid.UUID] = {}
    with unit_of_work(engine) as session:
        hh = session.get(Household, household.id)
        assert hh is not None
        set_pin(db_session=session, household=hh, pin=PIN, settings=settings, actor="system:test")
        for i, amount in enumerate(owed):
            outlet = register_outlet(
                db_session=session,
                outlet_in=OutletIn(
                    name=f"Épicerie n°{i} {uuid.uuid4().hex[:4]}",
                    siret=valid_siret(uuid.uuid4().int),
                    iban=OUTLET_IBANS[i % len(OUTLET_IBANS)],
                    bic=outlet_bic,
                    address=AddressIn(line1="1 place du Marché", postcode="33000", city="Bordeaux"),
                    category=OutletCategory.grocer,
                ),
                actor="system:test",
                request_id=None,
            )
            standing = set_status(
                db_session=session,
                fund_id=fund.id,
                outlet_id=outlet.id,
                status=OutletStatus.accredited,
                actor="system:test",
                decision_reference="AG 2026-02",
            )
            outlets.append(outlet.id)
            payables[outlet.id] = standing.payable_account_id
            if amount:
                take_payment(
                    db_session=session,
                    outlet_id=outlet.id,
                    member_number=household.member_number,
                    amount_cents=amount,
                    pin=PIN,
                    reference=None,
                    taken_by="system:test",
                    settings=settings,
                )
    return Books(fund=fund, outlets=outlets, payables=payables)


def balance(engine: Engine, account_id: uuid.UUID) -> int:
    with Session(engine) as session:
        return int(
            session.exec(
                select(LedgerAccount.balance_cents).where(col(LedgerAccount.id) == account_id)
            ).one()
        )


def fund_balance(engine: Engine, fund: Fund, kind: AccountKind) -> int:
    with Session(engine) as session:
        return int(
            session.exec(
                select(LedgerAccount.balance_cents).where(
                    col(LedgerAccount.fund_id) == fund.id,
                    col(LedgerAccount.kind) == kind,
                    col(LedgerAccount.reference) == "",
                )
            ).one()
        )


def payable(engine: Engine, books: Books, outlet_id: uuid.UUID) -> int:
    return balance(engine, books.payables[outlet_id])


def books_clean(engine: Engine, fund: Fund) -> list[str]:
    """The names of the failed ledger checks (none when the books are clean)."""
    with Session(engine) as session:
        return [r.name for r in check_ledger(db_session=session, fund_id=fund.id) if not r.ok]
