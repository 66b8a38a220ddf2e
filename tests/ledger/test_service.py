"""Posting, refusing and reversing transactions through the ledger service."""

import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import Column, Engine, ForeignKey, MetaData, String, Table, Uuid, func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from ssa.db import make_engine
from ssa.funds.models import Fund
from ssa.funds.service import create_fund
from ssa.ledger.check import check_ledger
from ssa.ledger.errors import (
    AccountNotFound,
    AlreadyReversed,
    InsufficientBalance,
    UnbalancedTransaction,
)
from ssa.ledger.models import AccountKind, LedgerPosting, LedgerTransaction, Side, TransactionKind
from ssa.ledger.service import (
    Attached,
    Leg,
    credit,
    debit,
    post_transaction,
    reverse_transaction,
)
from ssa.settings import Settings
from tests.ledger.helpers import account, balance, issue_credits


def test_payment_moves_credits_to_the_outlet(engine: Engine, session: Session, fund: Fund) -> None:
    household = account(session, fund, AccountKind.household_credits, "h1")
    outlet = account(session, fund, AccountKind.outlet_payable, "o1")
    issue_credits(session, fund, household, 15_000)
    posted = post_transaction(
        db_session=session,
        fund_id=fund.id,
        kind=TransactionKind.payment,
        legs=[debit(household, 4_250), credit(outlet, 4_250)],
    )
    session.commit()
    assert posted.balances == {household: 10_750, outlet: 4_250}
    assert balance(engine, household) == 10_750
    assert balance(engine, outlet) == 4_250
    assert all(r.ok for r in check_ledger(db_session=session, fund_id=fund.id))


def test_debit_normal_accounts_grow_with_debits(
    engine: Engine, session: Session, fund: Fund
) -> None:
    bank = account(session, fund, AccountKind.bank)
    income = account(session, fund, AccountKind.contribution_income)
    post_transaction(
        db_session=session,
        fund_id=fund.id,
        kind=TransactionKind.contribution,
        legs=[debit(bank, 2_000), credit(income, 2_000)],
    )
    session.commit()
    assert (balance(engine, bank), balance(engine, income)) == (2_000, 2_000)


@pytest.mark.parametrize(
    "legs",
    [
        [Leg(pytest.importorskip("uuid").uuid4(), Side.debit, 100)],
        "unbalanced",
        "zero",
        "negative",
        "float",
    ],
    ids=["one-leg", "unbalanced", "zero", "negative", "float"],
)
def test_service_refuses_malformed_transactions(session: Session, fund: Fund, legs: object) -> None:
    a = account(session, fund, AccountKind.bank)
    b = account(session, fund, AccountKind.contribution_income)
    shaped = (
        {
            "unbalanced": [debit(a, 100), credit(b, 99)],
            "zero": [debit(a, 0), credit(b, 0)],
            "negative": [debit(a, -5), credit(b, -5)],
            "float": [Leg(a, Side.debit, 1.5), Leg(b, Side.credit, 1.5)],  # type: ignore[arg-type]
        }.get(legs, legs)
        if isinstance(legs, str)
        else legs
    )
    with pytest.raises(UnbalancedTransaction):
        post_transaction(
            db_session=session,
            fund_id=fund.id,
            kind=TransactionKind.transfer,
            legs=shaped,  # type: ignore[arg-type]
        )


def test_overspending_is_refused_with_what_is_available(
    engine: Engine, session: Session, fund: Fund
) -> None:
    household = account(session, fund, AccountKind.household_credits, "h1")
    outlet = account(session, fund, AccountKind.outlet_payable, "o1")
    issue_credits(session, fund, household, 1_000)
    session.commit()
    with pytest.raises(InsufficientBalance) as refused:
        post_transaction(
            db_session=session,
            fund_id=fund.id,
            kind=TransactionKind.payment,
            legs=[debit(household, 1_001), credit(outlet, 1_001)],
        )
    assert refused.value.code == "insufficient_credits"
    assert refused.value.available_cents == 1_000
    session.rollback()
    assert balance(engine, household) == 1_000
    assert balance(engine, outlet) == 0


def test_an_account_of_another_fund_is_refused(
    session: Session, fund: Fund, engine: Engine
) -> None:
    from ssa.funds.service import create_fund

    other = create_fund(db_session=session, slug=f"{fund.slug}-other", name="Other")
    theirs = account(session, other, AccountKind.bank)
    ours = account(session, fund, AccountKind.contribution_income)
    with pytest.raises(AccountNotFound):
        post_transaction(
            db_session=session,
            fund_id=fund.id,
            kind=TransactionKind.contribution,
            legs=[debit(theirs, 100), credit(ours, 100)],
        )


def test_reversal_writes_the_opposite_and_links_the_two(
    engine: Engine, session: Session, fund: Fund
) -> None:
    household = account(session, fund, AccountKind.household_credits, "h1")
    outlet = account(session, fund, AccountKind.outlet_payable, "o1")
    issue_credits(session, fund, household, 5_000)
    payment = post_transaction(
        db_session=session,
        fund_id=fund.id,
        kind=TransactionKind.payment,
        legs=[debit(household, 1_200), credit(outlet, 1_200)],
    )
    reversal = reverse_transaction(
        db_session=session,
        fund_id=fund.id,
        transaction_id=payment.transaction_id,
        memo="till error",
    )
    session.commit()
    assert balance(engine, household) == 5_000
    assert balance(engine, outlet) == 0
    row = session.get(LedgerTransaction, reversal.transaction_id)
    assert row is not None
    assert row.reverses_id == payment.transaction_id
    assert row.kind == TransactionKind.reversal
    sides = session.exec(
        select(LedgerPosting.account_id, LedgerPosting.side, LedgerPosting.amount_cents).where(
            col(LedgerPosting.transaction_id) == reversal.transaction_id
        )
    ).all()
    assert sorted((a, s, c) for a, s, c in sides) == sorted(
        [(household, "credit", 1_200), (outlet, "debit", 1_200)]
    )
    with pytest.raises(AlreadyReversed):
        reverse_transaction(
            db_session=session, fund_id=fund.id, transaction_id=payment.transaction_id
        )
    session.rollback()
    assert all(r.ok for r in check_ledger(db_session=session, fund_id=fund.id))


def test_a_reversal_that_would_overspend_is_refused(
    engine: Engine, session: Session, fund: Fund
) -> None:
    household = account(session, fund, AccountKind.household_credits, "h1")
    outlet = account(session, fund, AccountKind.outlet_payable, "o1")
    expense = account(session, fund, AccountKind.allowance_expense)
    issued = post_transaction(
        db_session=session,
        fund_id=fund.id,
        kind=TransactionKind.issuance,
        legs=[debit(expense, 1_000), credit(household, 1_000)],
    )
    post_transaction(
        db_session=session,
        fund_id=fund.id,
        kind=TransactionKind.payment,
        legs=[debit(household, 600), credit(outlet, 600)],
    )
    session.commit()
    # Taking back the whole issuance would leave the household at -400.
    with pytest.raises(InsufficientBalance):
        reverse_transaction(
            db_session=session, fund_id=fund.id, transaction_id=issued.transaction_id
        )
    session.rollback()
    assert balance(engine, household) == 400
    count = session.exec(
        select(func.count())
        .select_from(LedgerTransaction)
        .where(col(LedgerTransaction.fund_id) == fund.id)
    ).scalar_one()
    assert count == 2


def _probe_table() -> Table:
    """A table of rows that name a ledger transaction, as a payment or a refund does."""
    metadata = MetaData()
    Table("ledger_transaction", metadata, Column("id", Uuid(), primary_key=True))
    return Table(
        "attachment_probe",
        metadata,
        Column("id", Uuid(), primary_key=True),
        Column("note", String(20), nullable=False),
        Column("transaction_id", Uuid(), ForeignKey("ledger_transaction.id"), nullable=False),
    )


def test_an_attached_row_is_written_with_its_transaction_or_not_at_all(
    fresh_database_url: Callable[[], str],
) -> None:
    engine = make_engine(Settings(database_url=fresh_database_url()))
    probe = _probe_table()
    probe.create(engine)
    try:
        with Session(engine, expire_on_commit=False) as session:
            fund = create_fund(db_session=session, slug="attach", name="Attach")
            household = account(session, fund, AccountKind.household_credits, "h1")
            outlet = account(session, fund, AccountKind.outlet_payable, "o1")
            issue_credits(session, fund, household, 1_000)
            session.commit()

            def pay(cents: int, row_id: uuid.UUID, note: str) -> uuid.UUID:
                posted = post_transaction(
                    db_session=session,
                    fund_id=fund.id,
                    kind=TransactionKind.payment,
                    legs=[debit(household, cents), credit(outlet, cents)],
                    attached=Attached(probe, {"id": row_id, "note": note}),
                )
                session.commit()
                return posted.transaction_id

            first = uuid.uuid4()
            transaction_id = pay(400, first, "first")
            rows = session.connection().execute(select(probe)).all()
            assert [(r.id, r.note, r.transaction_id) for r in rows] == [
                (first, "first", transaction_id)
            ]
            # Refused by the ledger: neither the transaction nor the row.
            with pytest.raises(InsufficientBalance):
                pay(700, uuid.uuid4(), "too much")
            session.rollback()
            # The row refused (its key is taken): neither the row nor the transaction.
            with pytest.raises(IntegrityError):
                pay(100, first, "again")
            session.rollback()
            count = select(func.count()).select_from(probe)
            assert session.connection().execute(count).scalar_one() == 1
            session.rollback()
            assert balance(engine, household) == 600
            assert all(r.ok for r in check_ledger(db_session=session, fund_id=fund.id))
    finally:
        engine.dispose()
