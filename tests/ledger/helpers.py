"""Small helpers shared by the ledger tests."""

import importlib.util
import uuid
from pathlib import Path
from types import ModuleType

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from ssa.funds.models import Fund
from ssa.ledger.models import AccountKind, LedgerAccount, TransactionKind
from ssa.ledger.service import credit, debit, open_account, post_transaction


def account(session: Session, fund: Fund, kind: AccountKind, reference: str = "") -> uuid.UUID:
    return open_account(db_session=session, fund_id=fund.id, kind=kind, reference=reference).id


def receive_contribution(session: Session, fund: Fund, cents: int) -> None:
    bank = account(session, fund, AccountKind.bank)
    income = account(session, fund, AccountKind.contribution_income)
    post_transaction(
        db_session=session,
        fund_id=fund.id,
        kind=TransactionKind.contribution,
        legs=[debit(bank, cents), credit(income, cents)],
    )


def issue_credits(session: Session, fund: Fund, household_account: uuid.UUID, cents: int) -> None:
    """Issue credits, first receiving as many euros so that the bank covers them."""
    receive_contribution(session, fund, cents)
    expense = account(session, fund, AccountKind.allowance_expense)
    post_transaction(
        db_session=session,
        fund_id=fund.id,
        kind=TransactionKind.issuance,
        legs=[debit(expense, cents), credit(household_account, cents)],
    )


def balance(engine: Engine, account_id: uuid.UUID) -> int:
    with Session(engine) as session:
        return int(
            session.exec(
                select(LedgerAccount.balance_cents).where(col(LedgerAccount.id) == account_id)
            ).one()
        )


def post_function_migration() -> ModuleType:
    """Migration 0008, which creates ssa_post_transaction (PostgreSQL)."""
    path = Path(__file__).resolve().parents[2] / "migrations/versions/0008_ledger_post_function.py"
    spec = importlib.util.spec_from_file_location("ssa_migration_0008", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def unguarded_post_function() -> str:
    """ssa_post_transaction with its balance guard removed: a broken ledger, for the tests
    that must notice one."""
    create: str = post_function_migration().CREATE
    guard = "AND (acc.kind NOT IN ("
    assert create.count(guard) == 1
    return create.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1).replace(
        guard, "AND (true OR acc.kind NOT IN ("
    )
