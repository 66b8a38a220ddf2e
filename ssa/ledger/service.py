"""Posting and reversing ledger transactions; opening accounts.

Services never commit: the caller's unit of work does. When a service raises, the
caller's database transaction must be rolled back (the request's unit of work does).
"""

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from psycopg import sql as pgsql
from sqlalchemy import (
    BigInteger,
    Connection,
    Table,
    Uuid,
    bindparam,
    case,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.sql.type_api import _BindProcessorType
from sqlmodel import Session, col
from sqlmodel import select as orm_select

from ssa.ledger.errors import (
    AccountNotFound,
    AlreadyReversed,
    InsufficientBalance,
    TransactionNotFound,
    UnbalancedTransaction,
)
from ssa.ledger.models import (
    NON_NEGATIVE_KINDS,
    NORMAL_SIDE,
    AccountKind,
    LedgerAccount,
    LedgerPosting,
    LedgerTransaction,
    Side,
    TransactionKind,
)
from ssa.timeutil import utcnow

# The fund's single accounts, opened with the fund.
FUND_ACCOUNT_KINDS = (
    AccountKind.bank,
    AccountKind.contribution_income,
    AccountKind.allowance_expense,
    AccountKind.payouts_in_transit,
)


@dataclass(frozen=True)
class Attached:
    """A row of another table that names the transaction in its `transaction_id` (a
    payment, a refund), written with it: in the same statement on PostgreSQL, so that it
    costs no round trip while the transaction's rows are locked; right after it on
    SQLite. `values` name every column but `transaction_id` (no column default is
    applied on PostgreSQL), and go through the columns' types as any insert's do."""

    table: Table
    values: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Leg:
    """One leg of a transaction to post."""

    account_id: uuid.UUID
    side: Side
    amount_cents: int


def debit(account_id: uuid.UUID, amount_cents: int) -> Leg:
    return Leg(account_id, Side.debit, amount_cents)


def credit(account_id: uuid.UUID, amount_cents: int) -> Leg:
    return Leg(account_id, Side.credit, amount_cents)


@dataclass(frozen=True, slots=True)
class Posted:
    """A posted transaction and the balances it left on the accounts it touched."""

    transaction_id: uuid.UUID
    balances: dict[uuid.UUID, int]


def open_account(
    *, db_session: Session, fund_id: uuid.UUID, kind: AccountKind, reference: str = ""
) -> LedgerAccount:
    """Return the fund's account of this kind and reference, opening it if needed."""
    account = db_session.exec(
        orm_select(LedgerAccount).where(
            col(LedgerAccount.fund_id) == fund_id,
            col(LedgerAccount.kind) == kind,
            col(LedgerAccount.reference) == reference,
        )
    ).one_or_none()
    if account is None:
        account = LedgerAccount(
            fund_id=fund_id, kind=kind, reference=reference, normal_side=NORMAL_SIDE[kind]
        )
        db_session.add(account)
        db_session.flush()
    return account


def open_fund_accounts(*, db_session: Session, fund_id: uuid.UUID) -> dict[AccountKind, uuid.UUID]:
    return {
        kind: open_account(db_session=db_session, fund_id=fund_id, kind=kind).id
        for kind in FUND_ACCOUNT_KINDS
    }


def _check_legs(legs: Sequence[Leg]) -> None:
    if len(legs) < 2:
        raise UnbalancedTransaction("A transaction needs at least two postings.")
    for leg in legs:
        if type(leg.amount_cents) is not int or leg.amount_cents <= 0:
            raise UnbalancedTransaction("Every posting is a positive whole number of cents.")
    debits = sum(leg.amount_cents for leg in legs if leg.side is Side.debit)
    credits = sum(leg.amount_cents for leg in legs if leg.side is Side.credit)
    if debits != credits:
        raise UnbalancedTransaction(
            f"Debits ({debits} cents) and credits ({credits} cents) differ."
        )


_ACCOUNTS: Table = LedgerAccount.__table__  # type: ignore[attr-defined]
_POSTINGS: Table = LedgerPosting.__table__  # type: ignore[attr-defined]
_TRANSACTIONS: Table = LedgerTransaction.__table__  # type: ignore[attr-defined]

# Built once: the hot path binds values and reuses the compiled statement (Core, not the
# ORM, which would add its own bookkeeping to every call).
_NET_DEBIT = bindparam("net_debit", type_=BigInteger())
_DELTA = case((_ACCOUNTS.c.normal_side == Side.debit.value, _NET_DEBIT), else_=-_NET_DEBIT)
_MOVE_BALANCE = (
    update(_ACCOUNTS)
    .where(
        _ACCOUNTS.c.id == bindparam("b_account_id", type_=Uuid()),
        _ACCOUNTS.c.fund_id == bindparam("b_fund_id", type_=Uuid()),
        or_(
            _ACCOUNTS.c.kind.not_in(sorted(k.value for k in NON_NEGATIVE_KINDS)),
            _ACCOUNTS.c.balance_cents + _DELTA >= 0,
        ),
    )
    .values(balance_cents=_ACCOUNTS.c.balance_cents + _DELTA)
    .returning(_ACCOUNTS.c.balance_cents)
)

_INSERT_POSTINGS = insert(_POSTINGS)
# PostgreSQL: ssa_post_transaction (migration 0008), sent straight to psycopg (see
# _post_in_one_statement). The legs go as array literals: psycopg dumps a str in C, a
# list element by element in Python.
_POST_TRANSACTION_SQL = (
    "SELECT account_id, balance_cents FROM ssa_post_transaction("
    "%s, %s, %s, %s, %s, %s, %s, %s::uuid[], %s::text[], %s::bigint[])"
)
_CURSOR_KEY = "ssa_post_transaction_cursor"
# What ssa_post_transaction raises (migration 0008).
_SQLSTATE_INSUFFICIENT = "23L01"
_SQLSTATE_NOT_IN_FUND = "23L02"
_INSERT_TRANSACTION = insert(_TRANSACTIONS)


def _apply_to_balance(
    db_session: Session, *, fund_id: uuid.UUID, account_id: uuid.UUID, net_debit_cents: int
) -> int:
    """Move one stored balance, refusing atomically to take a guarded one below zero.

    The conditional UPDATE locks the row (PostgreSQL) inside the write transaction
    (SQLite: BEGIN IMMEDIATE), so concurrent debits are serialised and each sees the
    balance the previous one left.
    """
    connection = db_session.connection()
    new_balance = connection.execute(
        _MOVE_BALANCE,
        {"b_account_id": account_id, "b_fund_id": fund_id, "net_debit": net_debit_cents},
    ).scalar_one_or_none()
    if new_balance is not None:
        return int(new_balance)
    row = connection.execute(
        select(_ACCOUNTS.c.kind, _ACCOUNTS.c.balance_cents).where(
            _ACCOUNTS.c.id == account_id, _ACCOUNTS.c.fund_id == fund_id
        )
    ).one_or_none()
    if row is None:
        raise AccountNotFound(f"Account {account_id} is not in this fund.")
    kind, available = row
    raise InsufficientBalance(
        account_id=account_id, kind=AccountKind(kind), available_cents=int(available)
    )


def post_transaction(
    *,
    db_session: Session,
    fund_id: uuid.UUID,
    kind: TransactionKind,
    legs: Sequence[Leg],
    period: str | None = None,
    memo: str | None = None,
    reverses_id: uuid.UUID | None = None,
    attached: Attached | None = None,
) -> Posted:
    """Post a balanced transaction: move the balances, write the postings, then seal;
    and the `attached` row, if any (see `Attached`).

    Balances are moved in account-id order so that two transactions touching the same
    accounts always lock them in the same order and cannot deadlock. On PostgreSQL the
    whole of it is one call of `ssa_post_transaction` (one round trip); SQLite runs the
    statements one by one. Either way a refusal (`InsufficientBalance`,
    `AccountNotFound`) leaves the caller's transaction to be rolled back.
    """
    _check_legs(legs)
    connection = db_session.connection()
    if connection.dialect.name == "postgresql":
        return _post_in_one_statement(
            connection,
            fund_id=fund_id,
            kind=kind,
            legs=legs,
            period=period,
            memo=memo,
            reverses_id=reverses_id,
            attached=attached,
        )
    net_debits: dict[uuid.UUID, int] = {}
    for leg in legs:
        signed = leg.amount_cents if leg.side is Side.debit else -leg.amount_cents
        net_debits[leg.account_id] = net_debits.get(leg.account_id, 0) + signed
    balances = {
        account_id: _apply_to_balance(
            db_session,
            fund_id=fund_id,
            account_id=account_id,
            net_debit_cents=net_debits[account_id],
        )
        for account_id in sorted(net_debits)
    }
    transaction_id = uuid.uuid4()
    db_session.connection().execute(
        _INSERT_POSTINGS,
        [
            {
                "fund_id": fund_id,
                "transaction_id": transaction_id,
                "account_id": leg.account_id,
                "side": leg.side.value,
                "amount_cents": leg.amount_cents,
            }
            for leg in legs
        ],
    )
    seal_transaction(
        db_session=db_session,
        fund_id=fund_id,
        transaction_id=transaction_id,
        kind=kind,
        period=period,
        memo=memo,
        reverses_id=reverses_id,
    )
    if attached is not None:
        db_session.connection().execute(
            insert(attached.table).values({**attached.values, "transaction_id": transaction_id})
        )
    return Posted(transaction_id=transaction_id, balances=balances)


def _post_in_one_statement(
    connection: Connection,
    *,
    fund_id: uuid.UUID,
    kind: TransactionKind,
    legs: Sequence[Leg],
    period: str | None,
    memo: str | None,
    reverses_id: uuid.UUID | None,
    attached: Attached | None,
) -> Posted:
    """PostgreSQL: the same work in one round trip, by `ssa_post_transaction` (migration
    0008), with the same guards; its refusals become the same exceptions. An attached
    row is inserted by the same statement (its key to the transaction is checked at the
    statement's end, when the function has written the transaction).

    The call goes to the session's psycopg connection directly, inside the session's
    transaction (SQLAlchemy's execution context, result and parameter processing cost
    as much client CPU as the rest of a transfer). Other database errors come back as
    SQLAlchemy's exceptions, as from any statement; a lost connection is invalidated.
    """
    transaction_id = uuid.uuid4()
    params = (
        transaction_id,
        fund_id,
        kind.value,
        period,
        memo,
        reverses_id,
        utcnow(),
        # .hex: only UUIDs make it into the literal (32 hex digits, which uuid_in reads).
        "{" + ",".join([leg.account_id.hex for leg in legs]) + "}",
        "{" + ",".join([leg.side.value for leg in legs]) + "}",
        "{" + ",".join([str(leg.amount_cents) for leg in legs]) + "}",  # ints (_check_legs)
    )
    sql = _POST_TRANSACTION_SQL
    dialect = connection.dialect
    if attached is not None:
        sql, processors = _with_attached(attached.table, tuple(attached.values), dialect)
        values = [
            value if process is None else process(value)
            for process, value in zip(processors, attached.values.values(), strict=True)
        ]
        params = (*values, transaction_id, *params)
    pooled = connection.connection
    driver_connection = pooled.driver_connection
    try:
        # One cursor per connection, kept with it in the pool (its `info` is cleared
        # when the connection is invalidated): a new psycopg cursor per call costs more
        # than the call's own Python work.
        cursor = pooled.info.get(_CURSOR_KEY)
        if cursor is None or cursor.closed:
            cursor = pooled.info[_CURSOR_KEY] = driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(sql, params, prepare=True)
        rows = cursor.fetchall()
    except dialect.loaded_dbapi.Error as exc:
        refusal = _ledger_refusal(exc)
        if refusal is not None:
            raise refusal from exc
        invalidated = dialect.is_disconnect(exc, driver_connection, None)
        if invalidated:
            connection.invalidate(exc)
        raise DBAPIError.instance(
            sql,
            params,
            exc,
            dialect.loaded_dbapi.Error,
            connection_invalidated=invalidated,
            dialect=dialect,
        ) from exc
    return Posted(transaction_id=transaction_id, balances={a: int(b) for a, b in rows})


@cache
def _with_attached(
    table: Table, columns: tuple[str, ...], dialect: Dialect
) -> tuple[str, list[_BindProcessorType[Any] | None]]:
    """The call of `ssa_post_transaction` preceded by the insert of an attached row, and
    each column's conversion of its value (as SQLAlchemy would apply it: an aware time
    required, and so on)."""
    names = (*columns, "transaction_id")
    insert_row = pgsql.SQL("WITH attached AS (INSERT INTO {} ({}) VALUES ({})) ").format(
        pgsql.Identifier(table.name),
        pgsql.SQL(", ").join(pgsql.Identifier(name) for name in names),
        pgsql.SQL(", ").join(pgsql.Placeholder() for _ in names),
    )
    processors = [table.c[name].type.bind_processor(dialect) for name in columns]
    return insert_row.as_string() + _POST_TRANSACTION_SQL, processors


def _ledger_refusal(exc: Exception) -> AccountNotFound | InsufficientBalance | None:
    """The service's exception for a refusal raised by `ssa_post_transaction`, if it is one.

    Its unbalanced-legs refusal (23L03) is not mapped: `_check_legs` refuses those first.
    """
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate not in (_SQLSTATE_INSUFFICIENT, _SQLSTATE_NOT_IN_FUND):
        return None
    detail = json.loads(exc.diag.message_detail)  # type: ignore[attr-defined]
    account_id = uuid.UUID(detail["account_id"])
    if sqlstate == _SQLSTATE_NOT_IN_FUND:
        return AccountNotFound(f"Account {account_id} is not in this fund.")
    return InsufficientBalance(
        account_id=account_id,
        kind=AccountKind(detail["kind"]),
        available_cents=int(detail["available_cents"]),
    )


def seal_transaction(
    *,
    db_session: Session,
    fund_id: uuid.UUID,
    transaction_id: uuid.UUID,
    kind: TransactionKind,
    period: str | None = None,
    memo: str | None = None,
    reverses_id: uuid.UUID | None = None,
) -> None:
    """Insert the transaction row, which seals its postings: the database checks their sum
    here (SQLite) or at commit (PostgreSQL), and refuses any later posting to it."""
    db_session.connection().execute(
        _INSERT_TRANSACTION,
        {
            "id": transaction_id,
            "fund_id": fund_id,
            "kind": kind.value,
            "period": period,
            "memo": memo,
            "reverses_id": reverses_id,
            "created_at": utcnow(),
        },
    )


def apply_postings_to_balances(*, db_session: Session, transaction_id: uuid.UUID) -> None:
    """Move the stored balances by a transaction's postings in one set-based UPDATE.

    For bulk transactions written with INSERT ... SELECT (issuance, expiry), where every
    posting is on a distinct account; the CHECK constraint still refuses a balance
    that would go below zero.
    """
    # Core, not the ORM: the ORM would return and track every updated row.
    db_session.connection().execute(
        update(LedgerAccount)
        .where(
            col(LedgerAccount.id) == col(LedgerPosting.account_id),
            col(LedgerPosting.transaction_id) == transaction_id,
        )
        .values(
            balance_cents=col(LedgerAccount.balance_cents)
            + case(
                (
                    col(LedgerPosting.side) == col(LedgerAccount.normal_side),
                    col(LedgerPosting.amount_cents),
                ),
                else_=-col(LedgerPosting.amount_cents),
            )
        )
    )


def reverse_transaction(
    *,
    db_session: Session,
    fund_id: uuid.UUID,
    transaction_id: uuid.UUID,
    memo: str | None = None,
) -> Posted:
    """Write the opposite of a transaction and link the two; each is reversed once."""
    original = db_session.get(LedgerTransaction, transaction_id)
    if original is None or original.fund_id != fund_id:
        raise TransactionNotFound(f"Transaction {transaction_id} is not in this fund.")
    already = db_session.exec(
        orm_select(LedgerTransaction.id).where(col(LedgerTransaction.reverses_id) == transaction_id)
    ).first()
    if already is not None:
        raise AlreadyReversed(reversal_id=str(already))
    postings = db_session.exec(
        orm_select(LedgerPosting)
        .where(col(LedgerPosting.transaction_id) == transaction_id)
        .order_by(col(LedgerPosting.id))
    ).all()
    legs = [
        Leg(
            p.account_id,
            Side.credit if p.side == Side.debit else Side.debit,
            p.amount_cents,
        )
        for p in postings
    ]
    try:
        with db_session.begin_nested():
            return post_transaction(
                db_session=db_session,
                fund_id=fund_id,
                kind=TransactionKind.reversal,
                legs=legs,
                period=original.period,
                memo=memo,
                reverses_id=transaction_id,
            )
    except IntegrityError as exc:
        # Two reversals of one transaction at the same moment: the unique link refuses one.
        if "reverses_id" in str(exc.orig):
            raise AlreadyReversed() from exc
        raise
