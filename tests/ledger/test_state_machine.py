"""Random sequences of credits, debits, transfers and reversals against a simple model.

After every step the stored balances equal the model's and the ledger's invariants
hold (the idea behind TigerBeetle's simulator). Runs on both engines.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
)
from sqlalchemy import Engine, select, text
from sqlmodel import Session, col

from ssa.db import make_engine, unit_of_work
from ssa.funds.service import create_fund
from ssa.ledger.check import check_ledger
from ssa.ledger.errors import AlreadyReversed, InsufficientBalance
from ssa.ledger.models import (
    NON_NEGATIVE_KINDS,
    NORMAL_SIDE,
    AccountKind,
    LedgerAccount,
    Side,
    TransactionKind,
)
from ssa.ledger.service import Leg, open_account, post_transaction, reverse_transaction
from ssa.settings import Settings
from tests.ledger.helpers import unguarded_post_function

ACCOUNTS = [
    (AccountKind.bank, ""),
    (AccountKind.contribution_income, ""),
    (AccountKind.grant_income, "departement"),
    (AccountKind.allowance_expense, ""),
    (AccountKind.payouts_in_transit, ""),
    *[(AccountKind.household_credits, f"h{i}") for i in range(3)],
    *[(AccountKind.outlet_payable, f"o{i}") for i in range(2)],
]
amounts = st.integers(min_value=1, max_value=20_000)
HOUSEHOLDS = [i for i, (k, _) in enumerate(ACCOUNTS) if k is AccountKind.household_credits]
OUTLETS = [i for i, (k, _) in enumerate(ACCOUNTS) if k is AccountKind.outlet_payable]


@dataclass
class Posted:
    transaction_id: uuid.UUID
    legs: list[tuple[int, Side, int]]
    reversed: bool = field(default=False)


def make_machine(engine: Engine) -> type[RuleBasedStateMachine]:
    class LedgerMachine(RuleBasedStateMachine):
        transactions = Bundle("transactions")

        @initialize()
        def open_books(self) -> None:
            with unit_of_work(engine) as session:
                fund = create_fund(
                    db_session=session, slug=f"sm-{uuid.uuid4().hex[:12]}", name="Model fund"
                )
                self.fund_id = fund.id
                self.ids = [
                    open_account(db_session=session, fund_id=fund.id, kind=k, reference=r).id
                    for k, r in ACCOUNTS
                ]
            self.model = [0] * len(ACCOUNTS)

        # -- the model -----------------------------------------------------------------
        def effect(self, legs: list[tuple[int, Side, int]]) -> list[int] | None:
            """The balances after `legs`, or None when a guarded one would go below zero."""
            after = list(self.model)
            for index, side, cents in legs:
                kind = ACCOUNTS[index][0]
                after[index] += cents if side is NORMAL_SIDE[kind] else -cents
            if any(
                after[i] < 0 and ACCOUNTS[i][0] in NON_NEGATIVE_KINDS for i in range(len(after))
            ):
                return None
            return after

        def post(self, kind: TransactionKind, legs: list[tuple[int, Side, int]]) -> Posted | None:
            expected = self.effect(legs)
            try:
                with unit_of_work(engine) as session:
                    posted = post_transaction(
                        db_session=session,
                        fund_id=self.fund_id,
                        kind=kind,
                        legs=[Leg(self.ids[i], side, cents) for i, side, cents in legs],
                    )
            except InsufficientBalance:
                assert expected is None, "refused although the model says it is covered"
                return None
            assert expected is not None, "accepted although a balance went below zero"
            self.model = expected
            return Posted(posted.transaction_id, legs)

        # -- the rules -----------------------------------------------------------------
        @rule(target=transactions, cents=amounts)
        def receive_contribution(self, cents: int) -> Posted | None:
            return self.post(
                TransactionKind.contribution, [(0, Side.debit, cents), (1, Side.credit, cents)]
            )

        @rule(target=transactions, household=st.sampled_from(HOUSEHOLDS), cents=amounts)
        def credit_household(self, household: int, cents: int) -> Posted | None:
            return self.post(
                TransactionKind.issuance, [(3, Side.debit, cents), (household, Side.credit, cents)]
            )

        @rule(
            target=transactions,
            household=st.sampled_from(HOUSEHOLDS),
            outlet=st.sampled_from(OUTLETS),
            cents=amounts,
        )
        def debit_household(self, household: int, outlet: int, cents: int) -> Posted | None:
            return self.post(
                TransactionKind.payment,
                [(household, Side.debit, cents), (outlet, Side.credit, cents)],
            )

        @rule(
            target=transactions,
            source=st.integers(0, len(ACCOUNTS) - 1),
            destination=st.integers(0, len(ACCOUNTS) - 1),
            cents=amounts,
            split=st.booleans(),
        )
        def transfer(self, source: int, destination: int, cents: int, split: bool) -> Posted | None:
            legs = [(source, Side.debit, cents), (destination, Side.credit, cents)]
            if split and cents > 1:  # three legs, the credit in two parts
                legs = [
                    legs[0],
                    (destination, Side.credit, cents // 2),
                    (destination, Side.credit, cents - cents // 2),
                ]
            return self.post(TransactionKind.transfer, legs)

        @rule(original=consumes(transactions))
        def reverse(self, original: Posted | None) -> None:
            if original is None:
                return
            mirrored = [
                (i, Side.credit if s is Side.debit else Side.debit, c) for i, s, c in original.legs
            ]
            expected = self.effect(mirrored)
            try:
                with unit_of_work(engine) as session:
                    reverse_transaction(
                        db_session=session,
                        fund_id=self.fund_id,
                        transaction_id=original.transaction_id,
                    )
            except InsufficientBalance:
                assert expected is None
                return
            assert expected is not None
            self.model = expected
            with pytest.raises(AlreadyReversed), unit_of_work(engine) as session:
                reverse_transaction(
                    db_session=session, fund_id=self.fund_id, transaction_id=original.transaction_id
                )

        # -- after every step --------------------------------------------------------------
        @invariant()
        def books_match_the_model(self) -> None:
            if not hasattr(self, "fund_id"):
                return
            with Session(engine) as session:
                stored = dict(
                    session.exec(
                        select(LedgerAccount.id, LedgerAccount.balance_cents).where(
                            col(LedgerAccount.fund_id) == self.fund_id
                        )
                    ).all()
                )
                assert [stored[i] for i in self.ids] == self.model
                results = {
                    r.name: r for r in check_ledger(db_session=session, fund_id=self.fund_id)
                }
                session.rollback()
            for name in ("zero_sum", "sealed", "balances", "non_negative", "reversals"):
                assert results[name].ok, results[name].detail

    return LedgerMachine


@pytest.mark.slow
def test_random_operations_keep_the_books_right(engine: Engine) -> None:
    machine = make_machine(engine)
    machine.TestCase.settings = settings(
        max_examples=25,
        stateful_step_count=25,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    machine.TestCase().runTest()


def test_the_model_catches_a_ledger_that_lets_credits_go_negative(
    engine: Engine,
    engine_kind: str,
    fresh_database_url: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The machine must fail when the ledger is wrong: here the balance guard is removed
    (SQLite: from the service's UPDATE; PostgreSQL: from ssa_post_transaction, in a
    database of its own)."""
    from sqlalchemy import bindparam, update

    from ssa.ledger import service

    if engine_kind == "postgresql":
        broken = make_engine(Settings(database_url=fresh_database_url(), database_pool_size=2))
        with broken.begin() as connection:
            connection.execute(text(unguarded_post_function()))
        target = broken
    else:
        accounts = service._ACCOUNTS
        unguarded = (
            update(accounts)
            .where(
                accounts.c.id == bindparam("b_account_id"),
                accounts.c.fund_id == bindparam("b_fund_id"),
            )
            .values(balance_cents=accounts.c.balance_cents + service._DELTA)
            .returning(accounts.c.balance_cents)
        )
        monkeypatch.setattr(service, "_MOVE_BALANCE", unguarded)
        target = engine
    try:
        _run_the_broken_machine(target)
    finally:
        if target is not engine:
            target.dispose()


def _run_the_broken_machine(engine: Engine) -> None:
    machine = make_machine(engine)
    machine.TestCase.settings = settings(
        max_examples=50,
        stateful_step_count=10,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    with pytest.raises(Exception):
        machine.TestCase().runTest()
