"""Ledger tables: accounts with stored balances, transactions, and their postings.

A posting is one leg: an account, a side (debit or credit) and a positive amount in
cents, so the journal reads like an accountant's without the code. Every transaction's
debits equal its credits; the database refuses anything else (see the initial migration).
"""

import uuid
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from ssa.db import metadata as _metadata  # noqa: F401 (naming convention first)
from ssa.timeutil import utcnow
from ssa.types import UTCDateTime


class AccountKind(StrEnum):
    bank = "bank"
    contribution_income = "contribution_income"
    grant_income = "grant_income"
    allowance_expense = "allowance_expense"
    household_credits = "household_credits"
    outlet_payable = "outlet_payable"
    payouts_in_transit = "payouts_in_transit"


class Side(StrEnum):
    debit = "debit"
    credit = "credit"


class TransactionKind(StrEnum):
    contribution = "contribution"
    grant = "grant"
    issuance = "issuance"
    payment = "payment"
    refund = "refund"
    expiry = "expiry"
    payout_created = "payout_created"
    payout_confirmed = "payout_confirmed"
    payout_cancelled = "payout_cancelled"
    transfer = "transfer"
    reversal = "reversal"


# The side on which an account's balance grows: what the fund holds or spends grows with
# debits; what it owes or earns grows with credits.
NORMAL_SIDE: dict[AccountKind, Side] = {
    AccountKind.bank: Side.debit,
    AccountKind.allowance_expense: Side.debit,
    AccountKind.contribution_income: Side.credit,
    AccountKind.grant_income: Side.credit,
    AccountKind.household_credits: Side.credit,
    AccountKind.outlet_payable: Side.credit,
    AccountKind.payouts_in_transit: Side.credit,
}

# Balances that may never go below zero: what the fund holds, and what it owes.
NON_NEGATIVE_KINDS = frozenset(
    {
        AccountKind.bank,
        AccountKind.household_credits,
        AccountKind.outlet_payable,
        AccountKind.payouts_in_transit,
    }
)


def _sql_list(values: Iterable[StrEnum]) -> str:
    return ", ".join(f"'{v.value}'" for v in sorted(values, key=lambda v: v.value))


_DEBIT_NORMAL = [k for k, s in NORMAL_SIDE.items() if s is Side.debit]


class LedgerAccount(SQLModel, table=True):
    """An account of one fund; `balance_cents` is kept on the account's normal side."""

    __tablename__ = "ledger_account"
    __table_args__ = (
        UniqueConstraint("fund_id", "kind", "reference"),
        # Target of the postings' composite key: a posting's account is in its fund.
        UniqueConstraint("id", "fund_id", name="uq_ledger_account_id_fund"),
        CheckConstraint(f"kind IN ({_sql_list(AccountKind)})", name="kind"),
        CheckConstraint(
            f"(normal_side = 'debit' AND kind IN ({_sql_list(_DEBIT_NORMAL)}))"
            f" OR (normal_side = 'credit' AND kind NOT IN ({_sql_list(_DEBIT_NORMAL)}))",
            name="normal_side",
        ),
        CheckConstraint(
            f"balance_cents >= 0 OR kind NOT IN ({_sql_list(NON_NEGATIVE_KINDS)})",
            name="balance_non_negative",
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    fund_id: uuid.UUID = Field(foreign_key="fund.id", index=True)
    kind: AccountKind = Field(sa_type=String(32))
    # What the account belongs to inside the fund: a household or outlet id, a funder's
    # name for grant income, '' for the fund's single accounts (bank, expense...).
    reference: str = Field(default="", max_length=200)
    normal_side: Side = Field(sa_type=String(6))
    balance_cents: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class LedgerTransaction(SQLModel, table=True):
    """A balanced set of postings, written once, sealed by the insertion of this row."""

    __tablename__ = "ledger_transaction"
    __table_args__ = (
        UniqueConstraint("id", "fund_id", name="uq_ledger_transaction_id_fund"),
        CheckConstraint(f"kind IN ({_sql_list(TransactionKind)})", name="kind"),
        CheckConstraint("(kind = 'reversal') = (reverses_id IS NOT NULL)", name="reversal_link"),
        ForeignKeyConstraint(
            ["reverses_id", "fund_id"],
            ["ledger_transaction.id", "ledger_transaction.fund_id"],
            name="fk_ledger_transaction_reverses",
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    fund_id: uuid.UUID = Field(foreign_key="fund.id", index=True)
    kind: TransactionKind = Field(sa_type=String(32))
    period: str | None = Field(default=None, max_length=7)
    memo: str | None = Field(default=None, max_length=500)
    # A reversal names the transaction it undoes; each is undone at most once.
    reverses_id: uuid.UUID | None = Field(default=None, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class LedgerPosting(SQLModel, table=True):
    """One leg of a transaction: `amount_cents` debited or credited to an account."""

    __tablename__ = "ledger_posting"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint("side IN ('credit', 'debit')", name="side"),
        # Postings are written before their transaction row, which seals them: the key
        # to it is checked at commit, so a posting without its transaction never lands.
        ForeignKeyConstraint(
            ["transaction_id", "fund_id"],
            ["ledger_transaction.id", "ledger_transaction.fund_id"],
            name="fk_ledger_posting_transaction",
            deferrable=True,
            initially="DEFERRED",
        ),
        ForeignKeyConstraint(
            ["account_id", "fund_id"],
            ["ledger_account.id", "ledger_account.fund_id"],
            name="fk_ledger_posting_account",
        ),
        Index("ix_ledger_posting_transaction_id", "transaction_id"),
        Index("ix_ledger_posting_account_id", "account_id"),
    )

    # SQLite only auto-increments an INTEGER primary key.
    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    fund_id: uuid.UUID
    transaction_id: uuid.UUID
    account_id: uuid.UUID
    side: Side = Field(sa_type=String(6))
    amount_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
