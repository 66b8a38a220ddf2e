"""The database itself refuses what would break the books, even when the service is bypassed."""

import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from ssa.funds.models import Fund
from ssa.funds.service import create_fund
from ssa.idempotency.models import IdempotencyKey
from ssa.ledger.errors import InsufficientBalance
from ssa.ledger.models import (
    AccountKind,
    LedgerAccount,
    LedgerPosting,
    LedgerTransaction,
    TransactionKind,
)
from ssa.ledger.service import credit, debit, post_transaction
from tests.ledger.helpers import account, balance, issue_credits

POSTINGS: Table = LedgerPosting.__table__  # type: ignore[assignment]
TRANSACTIONS: Table = LedgerTransaction.__table__  # type: ignore[assignment]
ACCOUNTS: Table = LedgerAccount.__table__  # type: ignore[assignment]


def refused(engine: Engine, work: Callable[[Session], object]) -> None:
    """The work, committed in one transaction, must be refused by the database."""
    with pytest.raises(IntegrityError), Session(engine) as session:
        work(session)
        session.commit()


def raw_transaction(
    session: Session, fund: Fund, legs: list[tuple[uuid.UUID, str, int]], *, seal: bool = True
) -> uuid.UUID:
    transaction_id = uuid.uuid4()
    session.execute(
        insert(POSTINGS),
        [
            {
                "fund_id": fund.id,
                "transaction_id": transaction_id,
                "account_id": a,
                "side": s,
                "amount_cents": c,
            }
            for a, s, c in legs
        ],
    )
    if seal:
        session.execute(
            insert(TRANSACTIONS).values(
                id=transaction_id, fund_id=fund.id, kind="transfer", created_at=fund.created_at
            )
        )
    return transaction_id


@pytest.fixture
def accounts(engine: Engine, fund: Fund) -> dict[str, uuid.UUID]:
    with Session(engine) as session:
        ids = {
            "bank": account(session, fund, AccountKind.bank),
            "income": account(session, fund, AccountKind.contribution_income),
            "household": account(session, fund, AccountKind.household_credits, "h"),
            "outlet": account(session, fund, AccountKind.outlet_payable, "o"),
        }
        issue_credits(session, fund, ids["household"], 5_000)
        session.commit()
    return ids


def test_unbalanced_transaction_is_refused(
    engine: Engine, fund: Fund, accounts: dict[str, uuid.UUID]
) -> None:
    refused(
        engine,
        lambda s: raw_transaction(
            s, fund, [(accounts["bank"], "debit", 100), (accounts["income"], "credit", 90)]
        ),
    )
    refused(engine, lambda s: raw_transaction(s, fund, [(accounts["bank"], "debit", 100)]))


def test_balanced_raw_transaction_is_accepted(
    engine: Engine, fund: Fund, accounts: dict[str, uuid.UUID]
) -> None:
    with Session(engine) as session:
        raw_transaction(
            session, fund, [(accounts["bank"], "debit", 100), (accounts["income"], "credit", 100)]
        )
        session.commit()


def test_postings_without_their_transaction_never_land(
    engine: Engine, fund: Fund, accounts: dict[str, uuid.UUID]
) -> None:
    refused(
        engine,
        lambda s: raw_transaction(
            s,
            fund,
            [(accounts["bank"], "debit", 100), (accounts["income"], "credit", 100)],
            seal=False,
        ),
    )


def test_no_posting_can_be_added_to_a_sealed_transaction(
    engine: Engine, fund: Fund, accounts: dict[str, uuid.UUID]
) -> None:
    with Session(engine) as session:
        transaction_id = raw_transaction(
            session, fund, [(accounts["bank"], "debit", 100), (accounts["income"], "credit", 100)]
        )
        session.commit()
    refused(
        engine,
        lambda s: s.execute(
            insert(POSTINGS),
            [
                {
                    "fund_id": fund.id,
                    "transaction_id": transaction_id,
                    "account_id": accounts["bank"],
                    "side": side,
                    "amount_cents": 5,
                }
                for side in ("debit", "credit")
            ],
        ),
    )


@pytest.mark.parametrize("table", ["posting", "transaction"])
@pytest.mark.parametrize("operation", ["update", "delete"])
def test_postings_and_transactions_are_append_only(
    engine: Engine, fund: Fund, accounts: dict[str, uuid.UUID], table: str, operation: str
) -> None:
    target = POSTINGS if table == "posting" else TRANSACTIONS
    column = "amount_cents" if table == "posting" else "memo"
    value: object = 1 if table == "posting" else "changed"
    statement = (
        update(target).where(target.c.fund_id == fund.id).values({column: value})
        if operation == "update"
        else delete(target).where(target.c.fund_id == fund.id)
    )
    refused(engine, lambda s: s.execute(statement))


def test_accounts_cannot_change_kind_or_be_deleted(
    engine: Engine, fund: Fund, accounts: dict[str, uuid.UUID]
) -> None:
    refused(
        engine,
        lambda s: s.execute(
            update(ACCOUNTS).where(ACCOUNTS.c.id == accounts["income"]).values(kind="grant_income")
        ),
    )
    refused(
        engine, lambda s: s.execute(delete(ACCOUNTS).where(ACCOUNTS.c.id == accounts["income"]))
    )


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("id", lambda fund, other: uuid.uuid4()),
        ("fund_id", lambda fund, other: other.id),
        ("kind", lambda fund, other: AccountKind.payouts_in_transit.value),
        ("reference", lambda fund, other: "another outlet"),
        ("normal_side", lambda fund, other: "debit"),
    ],
)
def test_an_accounts_fixed_columns_cannot_change(
    engine: Engine,
    fund: Fund,
    accounts: dict[str, uuid.UUID],
    column: str,
    value: Callable[[Fund, Fund], object],
) -> None:
    """Each fixed column, set alone, is refused by the guard itself (its message), not by
    a key or a CHECK; the outlet's account has no postings, so no foreign key objects."""
    with Session(engine) as session:
        other = create_fund(
            db_session=session, slug=f"other-{uuid.uuid4().hex[:8]}", name="Other fund"
        )
        session.commit()
        session.refresh(other)
    statement = (
        update(ACCOUNTS)
        .where(ACCOUNTS.c.id == accounts["outlet"])
        .values({column: value(fund, other)})
    )
    with (
        pytest.raises(IntegrityError, match="only the balance may change"),
        Session(engine) as session,
    ):
        session.execute(statement)
        session.commit()


def test_an_update_naming_a_fixed_column_with_its_own_value_is_accepted(
    engine: Engine, fund: Fund, accounts: dict[str, uuid.UUID]
) -> None:
    with Session(engine) as session:
        session.execute(
            update(ACCOUNTS)
            .where(ACCOUNTS.c.id == accounts["outlet"])
            .values(kind=AccountKind.outlet_payable.value, balance_cents=ACCOUNTS.c.balance_cents)
        )
        session.commit()
        kind = session.execute(
            select(ACCOUNTS.c.kind).where(ACCOUNTS.c.id == accounts["outlet"])
        ).scalar_one()
    assert kind == AccountKind.outlet_payable.value


@pytest.mark.parametrize("kind", ["household", "outlet", "bank"])
def test_guarded_balances_cannot_go_below_zero(
    engine: Engine, fund: Fund, accounts: dict[str, uuid.UUID], kind: str
) -> None:
    refused(
        engine,
        lambda s: s.execute(
            update(ACCOUNTS).where(ACCOUNTS.c.id == accounts[kind]).values(balance_cents=-1)
        ),
    )


def test_a_posting_on_another_funds_account_is_refused(
    engine: Engine, fund: Fund, accounts: dict[str, uuid.UUID]
) -> None:
    with Session(engine) as session:
        other = create_fund(db_session=session, slug=f"{fund.slug}-x", name="Other")
        session.commit()
        theirs = account(session, other, AccountKind.bank)
        session.commit()
    refused(
        engine,
        lambda s: raw_transaction(
            s, fund, [(theirs, "debit", 100), (accounts["income"], "credit", 100)]
        ),
    )


def test_idempotency_keys_are_unique_per_caller(engine: Engine) -> None:
    key = uuid.uuid4().hex
    with Session(engine) as session:
        session.add(IdempotencyKey(caller="user:a", key=key, request_fingerprint="x"))
        session.add(IdempotencyKey(caller="user:b", key=key, request_fingerprint="x"))
        session.commit()
    refused(
        engine,
        lambda s: s.add(IdempotencyKey(caller="user:a", key=key, request_fingerprint="y")),
    )


def test_the_service_maps_a_refusal_without_partial_writes(
    engine: Engine, fund: Fund, accounts: dict[str, uuid.UUID]
) -> None:
    """A refused post leaves nothing behind once the unit of work rolls back."""
    with Session(engine) as session:
        before = session.execute(
            select(TRANSACTIONS.c.id).where(TRANSACTIONS.c.fund_id == fund.id)
        ).all()
        with pytest.raises(InsufficientBalance):
            post_transaction(
                db_session=session,
                fund_id=fund.id,
                kind=TransactionKind.payment,
                legs=[debit(accounts["household"], 5_001), credit(accounts["outlet"], 5_001)],
            )
        session.rollback()
        after = session.execute(
            select(TRANSACTIONS.c.id).where(col(TRANSACTIONS.c.fund_id) == fund.id)
        ).all()
    assert before == after
    assert balance(engine, accounts["household"]) == 5_000
    assert balance(engine, accounts["outlet"]) == 0
