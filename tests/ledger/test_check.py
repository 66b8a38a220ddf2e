"""`ssa ledger check` finds books that were corrupted behind the ledger's back."""

import os
import subprocess
import sys
import uuid

import pytest
from sqlalchemy import Engine, insert, text, update
from sqlmodel import Session

from ssa.db import make_engine
from ssa.funds.models import Fund
from ssa.funds.service import create_fund
from ssa.ledger.models import AccountKind, LedgerAccount, LedgerPosting, LedgerTransaction
from ssa.settings import Settings
from tests.ledger.helpers import account, issue_credits


def ledger_check(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ssa", "ledger", "check", *args],
        env={**os.environ, "SSA_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def books(fresh_database_url: object) -> tuple[str, Engine, Fund, uuid.UUID]:
    url = fresh_database_url()  # type: ignore[operator]
    engine = make_engine(Settings(database_url=url))
    with Session(engine, expire_on_commit=False) as session:
        fund = create_fund(db_session=session, slug="gironde", name="Gironde")
        household = account(session, fund, AccountKind.household_credits, "h")
        issue_credits(session, fund, household, 15_000)
        session.commit()
    return url, engine, fund, household


def test_clean_books_pass(books: tuple[str, Engine, Fund, uuid.UUID]) -> None:
    url, engine, _, _ = books
    result = ledger_check(url, "--fund", "gironde")
    engine.dispose()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout
    assert "ok   balances" in result.stdout


def test_a_corrupted_balance_is_caught(books: tuple[str, Engine, Fund, uuid.UUID]) -> None:
    url, engine, _, household = books
    accounts = LedgerAccount.__table__
    with Session(engine) as session:
        session.execute(
            update(accounts).where(accounts.c.id == household).values(balance_cents=15_001)  # type: ignore[attr-defined]
        )
        session.commit()
    engine.dispose()
    result = ledger_check(url)
    assert result.returncode == 1
    assert "FAIL balances: 1 accounts" in result.stdout
    assert str(household) in result.stdout
    assert "FAIL coverage" in result.stdout  # 150.01 € owed, 150.00 € held


def test_an_unbalanced_transaction_written_with_guards_off_is_caught(
    books: tuple[str, Engine, Fund, uuid.UUID],
) -> None:
    url, engine, fund, household = books
    transaction_id = uuid.uuid4()
    with Session(engine) as session:
        if engine.dialect.name == "postgresql":
            session.execute(text("SET session_replication_role = replica"))
        else:
            session.execute(text("DROP TRIGGER ledger_transaction_balanced"))
        session.execute(
            insert(LedgerPosting.__table__).values(  # type: ignore[arg-type]
                fund_id=fund.id,
                transaction_id=transaction_id,
                account_id=household,
                side="credit",
                amount_cents=500,
            )
        )
        session.execute(
            insert(LedgerTransaction.__table__).values(  # type: ignore[arg-type]
                id=transaction_id, fund_id=fund.id, kind="transfer", created_at=fund.created_at
            )
        )
        session.commit()
    engine.dispose()
    result = ledger_check(url, "--fund", "gironde")
    assert result.returncode == 1
    assert "FAIL zero_sum" in result.stdout
    assert str(transaction_id) in result.stdout
    assert "FAIL balances" in result.stdout  # the posting moved no stored balance


def test_an_unknown_fund_is_said(books: tuple[str, Engine, Fund, uuid.UUID]) -> None:
    url, engine, _, _ = books
    engine.dispose()
    result = ledger_check(url, "--fund", "nowhere")
    assert result.returncode == 2
    assert "no fund 'nowhere'" in result.stderr
