"""PostgreSQL: `ssa_post_transaction` (migration 0008), which `post_transaction` calls.

Its refusals come back as the service's exceptions; called with raw SQL, it refuses
what would break the books, and every guard of the tables still applies to what it
writes.
"""

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DataError, IntegrityError
from sqlmodel import Session, col

from ssa.funds.models import Fund
from ssa.funds.service import create_fund
from ssa.ledger.check import check_ledger
from ssa.ledger.errors import AccountNotFound, InsufficientBalance
from ssa.ledger.models import AccountKind, LedgerPosting, LedgerTransaction, TransactionKind
from ssa.ledger.service import credit, debit, post_transaction, reverse_transaction
from tests.ledger.helpers import account, balance, issue_credits

CALL = text(
    "SELECT account_id, balance_cents FROM ssa_post_transaction(:transaction_id, :fund_id,"
    " :kind, NULL, NULL, :reverses_id, now(), CAST(:account_ids AS uuid[]),"
    " CAST(:sides AS text[]), CAST(:amounts AS bigint[]))"
)


@pytest.fixture(autouse=True)
def _postgresql_only(engine_kind: str) -> None:
    if engine_kind != "postgresql":
        pytest.skip("ssa_post_transaction exists on PostgreSQL only")


@pytest.fixture
def accounts(engine: Engine, fund: Fund) -> dict[str, uuid.UUID]:
    with Session(engine) as session:
        ids = {
            "bank": account(session, fund, AccountKind.bank),
            "income": account(session, fund, AccountKind.contribution_income),
            "expense": account(session, fund, AccountKind.allowance_expense),
            "household": account(session, fund, AccountKind.household_credits, "h"),
            "outlet": account(session, fund, AccountKind.outlet_payable, "o"),
        }
        issue_credits(session, fund, ids["household"], 5_000)
        session.commit()
    return ids


def call(
    session: Session,
    fund: Fund,
    legs: list[tuple[uuid.UUID, str, int]],
    *,
    kind: str = "transfer",
    reverses_id: uuid.UUID | None = None,
) -> tuple[uuid.UUID, dict[uuid.UUID, int]]:
    transaction_id = uuid.uuid4()
    rows = session.execute(
        CALL,
        {
            "transaction_id": transaction_id,
            "fund_id": fund.id,
            "kind": kind,
            "reverses_id": reverses_id,
            "account_ids": [a for a, _, _ in legs],
            "sides": [s for _, s, _ in legs],
            "amounts": [c for _, _, c in legs],
        },
    ).all()
    return transaction_id, {a: b for a, b in rows}


def refusal(engine: Engine, fund: Fund, legs: list[tuple[uuid.UUID, str, int]]) -> Any:
    """Call the function with these legs and commit: the database must refuse."""
    with pytest.raises(IntegrityError) as refused, Session(engine) as session:
        call(session, fund, legs)
        session.commit()
    return refused.value.orig


def transactions_of(engine: Engine, fund: Fund) -> int:
    with Session(engine) as session:
        return int(
            session.exec(
                select(func.count())
                .select_from(LedgerTransaction)
                .where(col(LedgerTransaction.fund_id) == fund.id)
            ).scalar_one()
        )


# --- Through the service ---------------------------------------------------------------


def test_the_service_posts_through_the_function(
    engine: Engine, fund: Fund, accounts: dict[str, uuid.UUID]
) -> None:
    with Session(engine) as session:
        posted = post_transaction(
            db_session=session,
            fund_id=fund.id,
            kind=TransactionKind.payment,
            legs=[debit(accounts["household"], 1_200), credit(accounts["outlet"], 1_200)],
            period="2026-11",
            memo="groceries",
        )
        session.commit()
        row = session.get(LedgerTransaction, posted.transaction_id)
        assert row is not None
        assert (row.kind, row.period, row.memo, row.reverses_id) == (
            TransactionKind.payment,
            "2026-11",
            "groceries",
            None,
        )
        postings = session.exec(
            select(LedgerPosting.account_id, LedgerPosting.side, LedgerPosting.amount_cents)
            .where(col(LedgerPosting.transaction_id) == posted.transaction_id)
            .order_by(col(LedgerPosting.id))
        ).all()
    assert [tuple(p) for p in postings] == [
        (accounts["household"], "debit", 1_200),
        (accounts["outlet"], "credit", 1_200),
    ]
    assert posted.balances == {accounts["household"]: 3_800, accounts["outlet"]: 1_200}


def test_insufficient_credits_map_to_the_service_refusal(
    engine: Engine, fund: Fund, accounts: dict[str, uuid.UUID]
) -> None:
    before = transactions_of(engine, fund)
    with Session(engine) as session, pytest.raises(InsufficientBalance) as refused:
        post_transaction(
            db_session=session,
            fund_id=fund.id,
            kind=TransactionKind.payment,
            legs=[debit(accounts["household"], 5_001), credit(accounts["outlet"], 5_001)],
        )
    assert refused.value.code == "insufficient_credits"
    assert refused.value.account_id == accounts["household"]
    assert refused.value.kind is AccountKind.household_credits
    assert refused.value.available_cents == 5_000
    assert refused.value.body()["available_cents"] == 5_000
    assert balance(engine, accounts["household"]) == 5_000
    assert balance(engine, accounts["outlet"]) == 0
    assert transactions_of(engine, fund) == before


def test_a_guarded_fund_account_is_refused_with_its_kind(
    engine: Engine, fund: Fund, accounts: dict[str, uuid.UUID]
) -> None:
    """The bank holds 5,000 (the contribution behind the credits): it cannot pay 5,001."""
    with Session(engine) as session, pytest.raises(InsufficientBalance) as refused:
        post_transaction(
            db_session=session,
            fund_id=fund.id,
            kind=TransactionKind.transfer,
            legs=[debit(accounts["income"], 5_001), credit(accounts["bank"], 5_001)],
        )
    assert refused.value.code == "insufficient_balance"
    assert refused.value.kind is AccountKind.bank
    assert refused.value.account_id == accounts["bank"]
    assert refused.value.available_cents == 5_000


@pytest.mark.parametrize("whose", ["another fund's", "nobody's"])
def test_an_account_outside_the_fund_maps_to_account_not_found(
    engine: Engine, fund: Fund, accounts: dict[str, uuid.UUID], whose: str
) -> None:
    before = transactions_of(engine, fund)
    with Session(engine) as session:
        if whose == "nobody's":
            stranger = uuid.uuid4()
        else:
            other = create_fund(db_session=session, slug=f"{fund.slug}-o", name="Other")
            stranger = account(session, other, AccountKind.bank)
            session.commit()
        with pytest.raises(AccountNotFound) as refused:
            post_transaction(
                db_session=session,
                fund_id=fund.id,
                kind=TransactionKind.contribution,
                legs=[debit(stranger, 100), credit(accounts["income"], 100)],
            )
        session.rollback()
    assert str(stranger) in str(refused.value)
    assert transactions_of(engine, fund) == before


def test_a_refusal_in_a_reversal_rolls_back_to_its_savepoint(
    engine: Engine, fund: Fund, accounts: dict[str, uuid.UUID]
) -> None:
    """reverse_transaction posts inside a savepoint: the session stays usable after."""
    with Session(engine) as session:
        post_transaction(
            db_session=session,
            fund_id=fund.id,
            kind=TransactionKind.contribution,
            legs=[debit(accounts["bank"], 1_000), credit(accounts["income"], 1_000)],
        )
        issued = post_transaction(
            db_session=session,
            fund_id=fund.id,
            kind=TransactionKind.issuance,
            legs=[debit(accounts["expense"], 1_000), credit(accounts["household"], 1_000)],
        )
        post_transaction(
            db_session=session,
            fund_id=fund.id,
            kind=TransactionKind.payment,
            legs=[debit(accounts["household"], 5_600), credit(accounts["outlet"], 5_600)],
        )
        session.commit()
        with pytest.raises(InsufficientBalance) as refused:
            reverse_transaction(
                db_session=session, fund_id=fund.id, transaction_id=issued.transaction_id
            )
        assert refused.value.available_cents == 400
        assert session.execute(text("SELECT 1")).scalar_one() == 1
        session.rollback()
        failed = [r for r in check_ledger(db_session=session, fund_id=fund.id) if not r.ok]
        assert failed == []


def test_other_database_errors_come_back_as_sqlalchemys(
    engine: Engine, fund: Fund, accounts: dict[str, uuid.UUID]
) -> None:
    """The call bypasses SQLAlchemy's execution: its other errors are still SQLAlchemy's
    (the API answers a DataError with a 422; a second reversal of one transaction is an
    IntegrityError naming reverses_id, which reverse_transaction turns into a 409)."""
    legs = [debit(accounts["bank"], 10), credit(accounts["income"], 10)]
    with Session(engine) as session, pytest.raises(DataError):
        post_transaction(
            db_session=session,
            fund_id=fund.id,
            kind=TransactionKind.contribution,
            legs=legs,
            memo="nul \x00 byte",
        )
    with Session(engine) as session:
        original = post_transaction(
            db_session=session, fund_id=fund.id, kind=TransactionKind.contribution, legs=legs
        )
        session.commit()
        reversal = {
            "db_session": session,
            "fund_id": fund.id,
            "kind": TransactionKind.reversal,
            "legs": [credit(accounts["bank"], 10), debit(accounts["income"], 10)],
            "reverses_id": original.transaction_id,
        }
        post_transaction(**reversal)  # type: ignore[arg-type]
        with pytest.raises(IntegrityError) as twice:
            post_transaction(**reversal)  # type: ignore[arg-type]
        session.rollback()
    assert "reverses_id" in str(twice.value.orig)


# --- Raw SQL: the database refuses on its own --------------------------------------------


def test_a_raw_call_posts_seals_and_returns_the_balances(
    engine: Engine, fund: Fund, accounts: dict[str, uuid.UUID]
) -> None:
    with Session(engine) as session:
        transaction_id, balances = call(
            session,
            fund,
            [(accounts["household"], "debit", 300), (accounts["outlet"], "credit", 300)],
            kind="payment",
        )
        session.commit()
        assert balances == {accounts["household"]: 4_700, accounts["outlet"]: 300}
        assert session.get(LedgerTransaction, transaction_id) is not None
        assert all(r.ok for r in check_ledger(db_session=session, fund_id=fund.id))
    # Sealed: no posting can be added to it afterwards.
    with pytest.raises(IntegrityError), Session(engine) as session:
        session.execute(
            text(
                "INSERT INTO ledger_posting (fund_id, transaction_id, account_id, side,"
                " amount_cents) VALUES (:f, :t, :a, 'debit', 5), (:f, :t, :b, 'credit', 5)"
            ),
            {"f": fund.id, "t": transaction_id, "a": accounts["bank"], "b": accounts["income"]},
        )
        session.commit()


@pytest.mark.parametrize(
    ("shape", "sqlstate"),
    [
        ("unbalanced", "23L03"),
        ("one leg", "23L03"),
        ("unequal arrays", "23L03"),
        ("no legs", "23L03"),
        ("unknown side", "23514"),  # the postings' CHECK on side
    ],
)
def test_a_raw_call_with_malformed_legs_is_refused(
    engine: Engine, fund: Fund, accounts: dict[str, uuid.UUID], shape: str, sqlstate: str
) -> None:
    bank, income = accounts["bank"], accounts["income"]
    before = transactions_of(engine, fund)
    with pytest.raises(IntegrityError) as refused, Session(engine) as session:
        legs: dict[str, Any] = {
            "unbalanced": ([bank, income], ["debit", "credit"], [100, 90]),
            "one leg": ([bank], ["debit"], [100]),
            "unequal arrays": ([bank, income], ["debit", "credit"], [100]),
            "unknown side": ([bank, income, income], ["debit", "credit", "both"], [100, 100, 5]),
            "no legs": ([], [], []),
        }
        account_ids, sides, amounts = legs[shape]
        session.execute(
            CALL,
            {
                "transaction_id": uuid.uuid4(),
                "fund_id": fund.id,
                "kind": "transfer",
                "reverses_id": None,
                "account_ids": account_ids,
                "sides": sides,
                "amounts": amounts,
            },
        )
        session.commit()
    assert refused.value.orig.sqlstate == sqlstate  # type: ignore[union-attr]
    assert transactions_of(engine, fund) == before


def test_a_raw_call_that_overspends_is_refused_with_what_is_available(
    engine: Engine, fund: Fund, accounts: dict[str, uuid.UUID]
) -> None:
    orig = refusal(
        engine,
        fund,
        [(accounts["household"], "debit", 5_001), (accounts["outlet"], "credit", 5_001)],
    )
    assert orig.sqlstate == "23L01"
    assert json.loads(orig.diag.message_detail) == {
        "account_id": str(accounts["household"]),
        "kind": "household_credits",
        "available_cents": 5_000,
    }
    assert balance(engine, accounts["household"]) == 5_000


def test_a_raw_call_on_another_funds_account_is_refused(
    engine: Engine, fund: Fund, accounts: dict[str, uuid.UUID]
) -> None:
    with Session(engine) as session:
        other = create_fund(db_session=session, slug=f"{fund.slug}-x", name="Other")
        theirs = account(session, other, AccountKind.bank)
        session.commit()
    orig = refusal(engine, fund, [(theirs, "debit", 100), (accounts["income"], "credit", 100)])
    assert orig.sqlstate == "23L02"
    assert json.loads(orig.diag.message_detail) == {"account_id": str(theirs)}
    assert balance(engine, theirs) == 0


def test_the_tables_guards_still_apply_to_what_the_function_writes(
    engine: Engine, fund: Fund, accounts: dict[str, uuid.UUID]
) -> None:
    """Negative amounts that balance pass the function's own checks: the postings' CHECK
    refuses them. A reversal without its link: the transactions' CHECK refuses it."""
    before = transactions_of(engine, fund)
    negative = refusal(
        engine, fund, [(accounts["bank"], "debit", -5), (accounts["income"], "credit", -5)]
    )
    assert negative.sqlstate == "23514"  # check_violation
    with pytest.raises(IntegrityError) as refused, Session(engine) as session:
        call(
            session,
            fund,
            [(accounts["income"], "debit", 5), (accounts["bank"], "credit", 5)],
            kind="reversal",
        )
        session.commit()
    assert refused.value.orig.sqlstate == "23514"  # type: ignore[union-attr]
    assert transactions_of(engine, fund) == before


def test_the_function_runs_with_the_callers_rights(engine: Engine) -> None:
    with Session(engine) as session:
        definer, language = session.execute(
            text(
                "SELECT p.prosecdef, l.lanname FROM pg_proc p JOIN pg_language l"
                " ON l.oid = p.prolang WHERE p.proname = 'ssa_post_transaction'"
            )
        ).one()
    assert (definer, language) == (False, "plpgsql")


def test_created_at_is_stored_as_given(
    engine: Engine, fund: Fund, accounts: dict[str, uuid.UUID]
) -> None:
    moment = datetime(2026, 11, 29, 12, 30, tzinfo=UTC)
    with Session(engine) as session:
        transaction_id = uuid.uuid4()
        session.execute(
            text(
                "SELECT * FROM ssa_post_transaction(:t, :f, 'transfer', '2026-11', 'm', NULL,"
                " :at, CAST(:a AS uuid[]), CAST(:s AS text[]), CAST(:c AS bigint[]))"
            ),
            {
                "t": transaction_id,
                "f": fund.id,
                "at": moment,
                "a": [accounts["bank"], accounts["income"]],
                "s": ["debit", "credit"],
                "c": [7, 7],
            },
        )
        session.commit()
        row = session.get(LedgerTransaction, transaction_id)
        assert row is not None
        assert row.created_at == moment
