"""Small helpers shared by the ledger tests."""

import uuid

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
