"""The demo installation (`ssa demo`): its shape, its books, its logins, and a second load."""

import re
from collections import Counter
from collections.abc import Callable, Sequence

import pytest
from fastapi.testclient import TestClient
from schwifty import IBAN
from sqlalchemy import func, text
from sqlmodel import Session, col, select
from stdnum.fr import siret

from ssa.app import create_app
from ssa.db import make_engine, unit_of_work
from ssa.demo import DEMO_FUNDS, HISTORY_MONTHS, MEMBER_PIN, PASSWORD, load_demo
from ssa.funds.models import Fund
from ssa.funds.service import current_period
from ssa.households.direct_debit import collections, sepa_direct_debit
from ssa.households.models import (
    Contribution,
    ContributionMethod,
    ContributionWaiver,
    DirectDebitMandate,
    Household,
    Person,
)
from ssa.households.service import pin_matches
from ssa.issuance import periods
from ssa.issuance.models import HouseholdIssuance, PeriodClose
from ssa.ledger.check import check_ledger
from ssa.ledger.models import LedgerAccount
from ssa.outlets.models import (
    Outlet,
    OutletCategory,
    OutletFund,
    OutletStatus,
    OutletStatusChange,
)
from ssa.payments.models import Payment, Refund
from ssa.reports.history import period_series
from ssa.settings import Settings
from ssa.timeutil import utcnow

pytestmark = pytest.mark.slow

COUNTED = (
    "fund",
    "household",
    "person",
    "contribution",
    "contribution_waiver",
    "household_issuance",
    "ledger_account",
    "ledger_transaction",
    "ledger_posting",
    "user_account",
    "role_grant",
    "audit_entry",
    "outlet",
    "outlet_fund",
    "outlet_status_change",
    "oauth_client",
    "payment",
    "refund",
    "proposal",
    "proposal_voter",
    "ballot",
    "committee_draw",
    "direct_debit_mandate",
)
LOGIN = re.compile(r"^  (\S+@demo\.ssa\.example)\s+(.+)$")
TILL = re.compile(r"^  client_id (till_\w+) client_secret (\S+)$")
TILL_AGAIN = re.compile(r"^  client_id (till_\w+); its client_secret was printed")


def _counts(session: Session) -> dict[str, int]:
    return {
        table: int(session.connection().execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
        for table in COUNTED
    }


def test_demo_loads_a_gironde_like_installation_once(
    fresh_database_url: Callable[[], str],
) -> None:
    url = fresh_database_url()
    settings = Settings(database_url=url)
    engine = make_engine(settings)
    try:
        with unit_of_work(engine) as session:
            lines = load_demo(db_session=session, settings=settings)
        period = current_period()
        with Session(engine) as session:
            funds = session.exec(select(Fund)).all()
            assert sorted(f.slug for f in funds) == sorted(f.slug for f in DEMO_FUNDS)
            assert all(f.iban for f in funds)
            households = session.exec(select(func.count()).select_from(Household)).one()
            persons = session.exec(select(func.count()).select_from(Person)).one()
            assert households == 193
            assert 380 <= persons <= 420
            issued = session.exec(
                select(func.count())
                .select_from(HouseholdIssuance)
                .where(col(HouseholdIssuance.period) == period)
            ).one()
            assert 0.9 * households <= issued < households  # most, not those that never paid
            assert all(h.pin_hash for h in session.exec(select(Household)).all())
            _check_outlets(session, funds)
            _check_payments(session, period)
            _check_assembly(session, funds)
            _check_history(session, funds, period)
            _check_direct_debit(session, funds, period)
            results = check_ledger(db_session=session)
            assert all(r.ok for r in results), [r for r in results if not r.ok]
            before = _counts(session)

        logins = {m.group(1): m.group(2) for m in map(LOGIN.match, lines) if m}
        roles = " ".join(logins.values())
        for role in ("administrator", "coordinator", "treasurer", "auditor", "manager", "cashier"):
            assert role in roles
        tills = [m.groups() for m in map(TILL.match, lines) if m]
        assert len(tills) == 1
        client_id, client_secret = tills[0]
        members = {email: what for email, what in logins.items() if what.startswith("member")}
        assert len(members) == 3
        app = create_app(Settings(database_url=url))
        try:
            with TestClient(app, base_url="http://localhost") as client:
                for email in logins:
                    response = client.post(
                        "/api/v1/auth/token",
                        data={"grant_type": "password", "username": email, "password": PASSWORD},
                    )
                    assert response.status_code == 200, (email, response.text)
                    token = response.json()["access_token"]
                    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
                    assert me.status_code == 200
                    if email in members:
                        assert me.json()["household_id"] is not None
                response = client.post(
                    "/api/v1/auth/token",
                    data={
                        "grant_type": "client_credentials",
                        "client_id": client_id,
                        "client_secret": client_secret,
                    },
                )
                assert response.status_code == 200, response.text
                till = {"Authorization": f"Bearer {response.json()['access_token']}"}
                me = client.get("/api/v1/me", headers=till)
                assert me.status_code == 200
                outlet_id = me.json()["outlet_id"]
                payments = client.get(f"/api/v1/outlets/{outlet_id}/payments", headers=till)
                assert payments.status_code == 200
                assert payments.json()["items"]
        finally:
            app.state.engine.dispose()

        with Session(engine) as session:
            for email, what in members.items():
                number = re.search(r"household (\S+)", what)
                assert number is not None
                household = session.exec(
                    select(Household).where(col(Household.member_number) == number.group(1))
                ).one()
                assert pin_matches(settings.secret_key, household, MEMBER_PIN)
                if email.startswith("louis.martin@"):  # the README's: no credits left
                    assert session.get(LedgerAccount, household.account_id).balance_cents == 0
                assert session.exec(
                    select(HouseholdIssuance).where(
                        col(HouseholdIssuance.household_id) == household.id,
                        col(HouseholdIssuance.period) == period,
                    )
                ).first()

        with unit_of_work(engine) as session:
            again = load_demo(db_session=session, settings=settings)
        assert "already there" in again[0]
        assert [line for line in again if LOGIN.match(line)] == [
            line for line in lines if LOGIN.match(line)
        ]
        assert not any(TILL.match(line) or client_secret in line for line in again)
        assert [m.group(1) for m in map(TILL_AGAIN.match, again) if m] == [client_id]
        outlet_lines = [line for line in lines if line.startswith("  outlets of fund ")]
        assert len(outlet_lines) == len(DEMO_FUNDS)
        assert [line for line in again if line.startswith("  outlets of fund ")] == outlet_lines
        votes = [line for line in lines if line.startswith("  assembly of fund ")]
        assert len(votes) == 2 * len(DEMO_FUNDS)
        assert [line for line in again if line.startswith("  assembly of fund ")] == votes
        with Session(engine) as session:
            assert _counts(session) == before
    finally:
        engine.dispose()


def _check_outlets(session: Session, funds: Sequence[Fund]) -> None:
    """Every fund: an accredited outlet of each category, applicants, one suspended."""
    rows = session.exec(
        select(OutletFund.fund_id, OutletFund.status, Outlet.category).join(
            Outlet, col(Outlet.id) == col(OutletFund.outlet_id)
        )
    ).all()
    for fund in funds:
        mine = [
            (str(status), str(category)) for fund_id, status, category in rows if fund_id == fund.id
        ]
        accredited = {category for status, category in mine if status == OutletStatus.accredited}
        assert accredited == {c.value for c in OutletCategory}, fund.slug
        statuses = Counter(status for status, _ in mine)
        assert 2 <= statuses[OutletStatus.applicant] <= 3, fund.slug
        assert statuses[OutletStatus.suspended] == 1, fund.slug
        assert statuses[OutletStatus.accredited] > statuses[OutletStatus.applicant]
    shared = Counter(outlet_id for outlet_id in session.exec(select(OutletFund.outlet_id)).all())
    assert max(shared.values()) == 2  # the market stall of Bordeaux, also at Libourne
    for outlet in session.exec(select(Outlet)).all():
        assert siret.is_valid(outlet.siret), outlet.name
        IBAN(outlet.iban, validate_bban=True)
        assert 44.3 < (outlet.latitude or 0) < 45.3
        assert -0.8 < (outlet.longitude or 0) < 0.0


def _check_payments(session: Session, period: str) -> None:
    """Payments of the period in every fund, only at outlets accredited by the payer's
    fund, of 5 to 60 EUR (up to 120 EUR in the past months), in the period so far or in
    the past months, dated in their month; a few refunds, this month."""
    everything = session.exec(select(Payment)).all()
    opened = periods.shift(period, -HISTORY_MONTHS)
    assert {p.period for p in everything} == {
        periods.shift(opened, back) for back in range(HISTORY_MONTHS + 1)
    }
    assert all(p.created_at <= utcnow() for p in everything)
    assert all(current_period(p.created_at) == p.period for p in everything)
    assert all(500 <= p.amount_cents <= 12000 for p in everything)
    payments = [p for p in everything if p.period == period]
    assert {p.fund_id for p in payments} == set(session.exec(select(Fund.id)).all())
    assert all(500 <= p.amount_cents <= 6000 for p in payments)
    accredited = set(
        session.exec(
            select(OutletFund.outlet_id, OutletFund.fund_id).where(
                col(OutletFund.status) == OutletStatus.accredited
            )
        ).all()
    )
    assert all((p.outlet_id, p.fund_id) in accredited for p in everything)
    payers = {p.household_id for p in payments}
    households = session.exec(select(func.count()).select_from(Household)).one()
    assert 0.6 * households <= len(payers) < households
    refunds = session.exec(select(Refund)).all()
    assert 2 <= len(refunds) <= 3
    assert {session.get(Payment, r.payment_id).period for r in refunds} == {period}  # type: ignore[union-attr]


def _check_direct_debit(session: Session, funds: Sequence[Fund], period: str) -> None:
    """The households that pay by direct debit gave a mandate; the funds can collect: next
    month's file of Bordeaux debits every one of its households under mandate."""
    assert all(f.sepa_creditor_id for f in funds)
    mandated = set(session.exec(select(DirectDebitMandate.household_id)).all())
    paying = set(
        session.exec(
            select(Contribution.household_id).where(
                col(Contribution.method) == ContributionMethod.direct_debit.value
            )
        ).all()
    )
    assert paying
    assert paying <= mandated
    bordeaux = next(f for f in funds if f.slug == "bordeaux")
    following = periods.shift(period, 1)
    found = collections(db_session=session, fund_id=bordeaux.id, period=following)
    in_bordeaux = session.exec(
        select(func.count())
        .select_from(DirectDebitMandate)
        .join(Household, col(Household.id) == col(DirectDebitMandate.household_id))
        .where(col(DirectDebitMandate.fund_id) == bordeaux.id, col(Household.status) == "active")
    ).one()
    assert len(found) == in_bordeaux > 0
    # Producing the file records a run: undone, this check only reads the demo.
    savepoint = session.begin_nested()
    xml = sepa_direct_debit(
        db_session=session,
        fund_id=bordeaux.id,
        period=following,
        collection_date=periods.first_day(following),
    )
    savepoint.rollback()
    assert xml.count(b"<DrctDbtTxInf>") == len(found)


def _check_history(session: Session, funds: Sequence[Fund], period: str) -> None:
    """The funds' past months, as the staff's dashboard reads them: credits issued and
    spent every month since the funds opened, the bank covering what is owed at the end
    of each; contributions every month (a few waived), the months before last closed."""
    opened = periods.shift(period, -HISTORY_MONTHS)
    past = [periods.shift(opened, back) for back in range(HISTORY_MONTHS)]
    for fund in funds:
        points = period_series(
            db_session=session, fund_id=fund.id, count=HISTORY_MONTHS + 2, last=period
        )
        assert points[0].period < opened  # before the fund opened: nothing
        assert points[0].issued_cents == points[0].spent_cents == 0
        lived = points[1:]
        assert [p.period for p in lived] == [*past, period]
        assert all(p.issued_cents > 0 and p.spent_cents > 0 for p in lived), fund.slug
        assert all(p.coverage_ratio is not None and p.coverage_ratio >= 1 for p in lived)
        # More households every month: more credits issued.
        issued = [p.issued_cents for p in lived]
        assert issued[0] < issued[-2] <= issued[-1] * 1.1, fund.slug
        for month in past[:-1]:
            spent = sum(
                session.exec(
                    select(Payment.amount_cents).where(
                        col(Payment.fund_id) == fund.id, col(Payment.period) == month
                    )
                ).all()
            )
            assert spent == next(p.spent_cents for p in lived if p.period == month)
        closes = session.exec(
            select(PeriodClose.period).where(col(PeriodClose.fund_id) == fund.id)
        ).all()
        assert sorted(closes) == past[:-1]  # last month is left for the staff to close
        paid = set(
            session.exec(
                select(Contribution.period).where(col(Contribution.fund_id) == fund.id)
            ).all()
        )
        assert paid == {*past, period}
    twice = session.exec(
        select(Contribution.household_id, Contribution.period)
        .group_by(col(Contribution.household_id), col(Contribution.period))
        .having(func.count() > 1)
    ).all()
    assert not twice  # one contribution per household and month
    waived = session.exec(select(ContributionWaiver.period)).all()
    assert period in waived
    assert any(month in past for month in waived)


def _check_assembly(session: Session, funds: Sequence[Fund]) -> None:
    """Every fund: an open proposal with some votes (tally hidden), and a closed one that
    accredited an outlet, named in the outlet's history; a committee in Haute-Gironde."""
    from ssa.assembly.models import CommitteeDraw, Proposal, ProposalVoter

    for fund in funds:
        proposals = session.exec(select(Proposal).where(col(Proposal.fund_id) == fund.id)).all()
        assert sorted(p.status for p in proposals) == ["closed", "open"], fund.slug
        running = next(p for p in proposals if p.status == "open")
        voted = session.exec(
            select(func.count())
            .select_from(ProposalVoter)
            .where(
                col(ProposalVoter.proposal_id) == running.id,
                col(ProposalVoter.has_voted).is_(True),
            )
        ).one()
        assert 0 < voted < running.eligible_voters
        assert running.yes_count is None
        assert running.roll == ("committee" if fund.slug == "haute-gironde" else "members")
        closed = next(p for p in proposals if p.status == "closed")
        assert closed.result == "adopted"
        assert closed.enacted_at is not None
        standing = session.exec(
            select(OutletFund).where(
                col(OutletFund.outlet_id) == closed.outlet_id,
                col(OutletFund.fund_id) == fund.id,
            )
        ).one()
        assert standing.status == OutletStatus.accredited
        change = session.exec(
            select(OutletStatusChange).where(col(OutletStatusChange.proposal_id) == closed.id)
        ).one()
        assert change.to_status == "accredited"
    draws = session.exec(select(CommitteeDraw)).all()
    assert len(draws) == 1
    assert draws[0].in_force_fund_id is not None
