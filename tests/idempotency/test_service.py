"""The same key does the work once; another request under the same key is refused."""

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from ssa.db import make_engine, unit_of_work
from ssa.funds.models import Fund
from ssa.idempotency.models import IdempotencyKey
from ssa.idempotency.service import (
    IdempotencyConflict,
    IdempotencyKeyInvalid,
    IdempotencyKeyRequired,
    Outcome,
    fingerprint,
    run_once,
    run_once_answering_early,
    validate_key,
)
from ssa.ledger.models import AccountKind, LedgerTransaction, TransactionKind
from ssa.ledger.service import credit, debit, post_transaction
from ssa.problems import Problem
from ssa.settings import Settings
from tests.ledger.helpers import account, balance


def contribute(engine: Engine, fund: Fund, *, caller: str, key: str, cents: int) -> Outcome:
    with unit_of_work(engine) as session:
        bank = account(session, fund, AccountKind.bank)
        income = account(session, fund, AccountKind.contribution_income)

        def work() -> tuple[int, dict[str, object]]:
            posted = post_transaction(
                db_session=session,
                fund_id=fund.id,
                kind=TransactionKind.contribution,
                legs=[debit(bank, cents), credit(income, cents)],
            )
            return 201, {"transaction_id": posted.transaction_id, "amount_cents": cents}

        return run_once(
            db_session=session,
            caller=caller,
            key=key,
            request_fingerprint=fingerprint(
                "POST", "/contributions", {"amount_cents": cents}, key="test key"
            ),
            work=work,
        )


def transactions(engine: Engine, fund: Fund) -> int:
    with Session(engine) as session:
        return int(
            session.exec(
                select(func.count())
                .select_from(LedgerTransaction)
                .where(col(LedgerTransaction.fund_id) == fund.id)
            ).scalar_one()
        )


def test_a_retry_answers_the_same_and_writes_nothing(engine: Engine, fund: Fund) -> None:
    first = contribute(engine, fund, caller="user:t", key="k-1", cents=1_500)
    again = contribute(engine, fund, caller="user:t", key="k-1", cents=1_500)
    assert not first.replayed
    assert again.replayed
    assert (again.status_code, again.body) == (first.status_code, first.body)
    assert transactions(engine, fund) == 1
    with Session(engine) as session:
        bank = account(session, fund, AccountKind.bank)
    assert balance(engine, bank) == 1_500


def test_the_same_key_with_another_request_is_a_conflict(engine: Engine, fund: Fund) -> None:
    contribute(engine, fund, caller="user:t", key="k-2", cents=1_500)
    with pytest.raises(IdempotencyConflict) as refused:
        contribute(engine, fund, caller="user:t", key="k-2", cents=1_600)
    assert refused.value.status == 409
    assert transactions(engine, fund) == 1


def test_keys_are_scoped_to_the_caller(engine: Engine, fund: Fund) -> None:
    key = uuid.uuid4().hex
    a = contribute(engine, fund, caller="user:a", key=key, cents=100)
    b = contribute(engine, fund, caller="user:b", key=key, cents=100)
    assert not a.replayed
    assert not b.replayed
    assert transactions(engine, fund) == 2


@pytest.mark.slow
def test_concurrent_retries_do_the_work_once(database_url: str, engine: Engine, fund: Fund) -> None:
    wide = make_engine(Settings(database_url=database_url, database_pool_size=24))
    start = threading.Barrier(20)

    def attempt(_: int) -> Outcome:
        start.wait(timeout=30)
        return contribute(wide, fund, caller="user:t", key="k-same", cents=700)

    try:
        with ThreadPoolExecutor(max_workers=20) as pool:
            outcomes = list(pool.map(attempt, range(20)))
    finally:
        wide.dispose()
    assert sum(not o.replayed for o in outcomes) == 1
    assert len({str(o.body) for o in outcomes}) == 1
    assert transactions(engine, fund) == 1


@pytest.mark.parametrize(
    ("key", "required", "error"),
    [
        (None, True, IdempotencyKeyRequired),
        ("", True, IdempotencyKeyRequired),
        ("x" * 256, False, IdempotencyKeyInvalid),
        ("clé", False, IdempotencyKeyInvalid),
        ("a\nb", False, IdempotencyKeyInvalid),
    ],
)
def test_keys_are_validated(key: str | None, required: bool, error: type[Exception]) -> None:
    with pytest.raises(error) as refused:
        validate_key(key, required=required)
    if isinstance(refused.value, IdempotencyKeyInvalid):  # a 422 names the header in `errors`
        (where,) = refused.value.body()["errors"]
        assert where["loc"] == ["header", "idempotency-key"]


def test_a_good_key_or_an_optional_missing_one_passes() -> None:
    assert validate_key("3f1c-payment-17", required=True) == "3f1c-payment-17"
    assert validate_key(None, required=False) is None


def test_fingerprints_are_keyed_so_a_pin_cannot_be_recovered() -> None:
    body = {"member_number": "BOR0000017", "amount_cents": 500, "pin": "2468"}
    stored = fingerprint("POST", "/api/v1/payments", body, key="server secret")
    assert stored == fingerprint("POST", "/api/v1/payments", body, key="server secret")
    assert stored != fingerprint("POST", "/api/v1/payments", body, key="another secret")
    # Without the key, trying the 10,000 PINs finds nothing.
    guesses = {
        fingerprint("POST", "/api/v1/payments", {**body, "pin": f"{n:04d}"}, key="")
        for n in range(10_000)
    }
    assert stored not in guesses


class _KeptRefusal(Problem):
    status = 403
    code = "kept_refusal"
    title = "A refusal whose changes are kept"
    keeps_changes = True


def test_a_refusal_that_keeps_its_changes_never_keeps_an_early_answer(
    engine: Engine, fund: Fund
) -> None:
    """Work that wrote its answer early, then refused in a way whose changes are committed
    (as a wrong PIN is counted): the key keeps no answer, and a retry does the work."""
    runs: list[str] = []

    def attempt(refuse: bool) -> Outcome:
        with unit_of_work(engine) as session:

            def work(answer: Callable[[int, Any], None]) -> tuple[int, Any]:
                runs.append("run")
                answer(201, {"paid": True})
                if refuse:
                    raise _KeptRefusal("refused after answering early")
                return 201, {"paid": True}

            return run_once_answering_early(
                db_session=session,
                caller="till:1",
                key="early-1",
                request_fingerprint="same",
                work=work,
            )

    with pytest.raises(_KeptRefusal):
        attempt(refuse=True)
    with Session(engine) as session:
        kept = session.execute(
            select(func.count())
            .select_from(IdempotencyKey)
            .where(col(IdempotencyKey.key) == "early-1")
        ).scalar_one()
    assert kept == 0
    again = attempt(refuse=False)
    assert (again.status_code, again.body, again.replayed) == (201, {"paid": True}, False)
    assert runs == ["run", "run"]


def test_old_keys_are_forgotten_by_the_cli_and_recent_ones_kept(
    database_url: str, engine: Engine
) -> None:
    """`ssa idempotency purge`: keys older than the retention are deleted (their answers may
    hold personal data); a retry after that is a new request. Recent keys stay."""
    import os
    import subprocess
    import sys
    from datetime import timedelta

    from ssa.timeutil import utcnow

    caller = f"user:{uuid.uuid4()}"
    with Session(engine) as session:
        for key, age in (("old", timedelta(hours=200)), ("recent", timedelta(hours=2))):
            session.add(
                IdempotencyKey(
                    caller=caller,
                    key=key,
                    request_fingerprint="f" * 64,
                    status_code=201,
                    response_body='{"persons": []}',
                    created_at=utcnow() - age,
                )
            )
        session.commit()
    purged = subprocess.run(
        [sys.executable, "-m", "ssa", "idempotency", "purge", "--older-than-hours", "168"],
        env={**os.environ, "SSA_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert purged.returncode == 0, purged.stderr
    assert "forgot" in purged.stdout
    with Session(engine) as session:
        left = session.exec(
            select(IdempotencyKey.key).where(col(IdempotencyKey.caller) == caller)
        ).all()
    assert [key for (key,) in left] == ["recent"]
