"""Monthly issuance at scale: one `issue_period` over N households, against a raw insert.

Builds a fresh database (PostgreSQL: `ssa_bench_issuance`, recreated through the
`postgres` maintenance database; SQLite: a temporary file), migrates it, creates a
Gironde fund with a grant that covers everything, and bulk-loads N households of 1 to
6 persons with their credits accounts and their contributions for the previous and
the current period (set-based SQL on PostgreSQL, executemany in chunks on SQLite), so
that every household is eligible. Then it times:

- the baseline: a raw set-based INSERT ... SELECT of the same rows issuance writes
  (one claim per household, one credit posting per household and the expense debit)
  into scratch copies of `household_issuance` and `ledger_posting` (same columns,
  keys and indexes; no triggers, no foreign keys), in one transaction, committed;
- ONE `issue_period` call, the service the API and `ssa issue` use, in a unit of work
  (commit included), with the time of each SQL statement it runs and the peak memory
  (RSS) of this process and of the PostgreSQL backend during the call.

    .venv/bin/python bench/issuance.py --households 100000  # local PostgreSQL
    .venv/bin/python bench/issuance.py --database-url sqlite:// --households 100000

The last line is `issuance households=N seconds=S`.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    Uuid,
    create_engine,
    func,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy import event as sa_event
from sqlalchemy.engine import URL, make_url

BENCH_DATABASE = "ssa_bench_issuance"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# Household sizes, per hundred households: mostly one to three persons (2.1 on average).
SIZE_BOUNDS = ((40, 1), (68, 2), (83, 3), (93, 4), (97, 5), (100, 6))
MAX_ALLOWANCE_CENTS = 15000 + 5 * 7500


# --- Machine and memory ---------------------------------------------------------------


def machine_description() -> dict[str, str]:
    cpu, memory = "unknown", "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "nproc": str(usable),
        "cpu": cpu,
        "memory": memory,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }


def _status_kb(pid: int | str, key: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def reset_peak_rss(pid: int | str = "self") -> bool:
    """Reset the kernel's high-water mark of a process's RSS (Linux: clear_refs 5)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mb(pid: int | str = "self") -> float | None:
    kb = _status_kb(pid, "VmHWM")
    return kb / 1024 if kb is not None else None


def rss_mb(pid: int | str = "self") -> float | None:
    kb = _status_kb(pid, "VmRSS")
    return kb / 1024 if kb is not None else None


# --- Databases ------------------------------------------------------------------------


def _admin_engine(url: URL) -> Engine:
    return create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")


def recreate_pg_database(url: URL) -> URL:
    engine = _admin_engine(url)
    with engine.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{BENCH_DATABASE}"')
    engine.dispose()
    return url.set(database=BENCH_DATABASE)


def drop_pg_database(url: URL) -> None:
    engine = _admin_engine(url)
    with engine.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
    engine.dispose()


def pg_server_info(engine: Engine) -> dict[str, str]:
    names = ["server_version", "shared_buffers", "work_mem", "synchronous_commit", "fsync"]
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT name, setting, unit FROM pg_settings WHERE name = ANY(:names)"),
            {"names": names},
        ).all()
    info = {}
    for name, setting, unit in rows:
        if unit == "8kB":
            info[name] = f"{int(setting) * 8 // 1024} MB"
        elif unit == "kB":
            info[name] = f"{int(setting) // 1024} MB"
        else:
            info[name] = setting
    return info


def settle(engine: Engine) -> None:
    """Start each measurement from the same state: statistics fresh, no dirty buffers."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
            connection.exec_driver_sql("CHECKPOINT")
        return
    raw = engine.raw_connection()  # outside SQLAlchemy's BEGIN IMMEDIATE
    try:
        raw.driver_connection.execute("ANALYZE")  # type: ignore[union-attr]
        raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
    finally:
        raw.close()


# --- Setting up the fund --------------------------------------------------------------


@dataclass
class Fund:
    id: uuid.UUID
    period: str
    previous: str
    households: int = 0
    persons: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def create_bench_fund(engine: Engine, households: int) -> Fund:
    from ssa.db import unit_of_work
    from ssa.funds.service import create_fund, current_period, fund_today
    from ssa.households.contributions import record_grant
    from ssa.issuance import periods

    period = current_period()
    with unit_of_work(engine) as session:
        fund = create_fund(db_session=session, slug="bench", name="Bench fund", actor="bench")
        record_grant(
            db_session=session,
            fund_id=fund.id,
            funder="Bench funder",
            amount_cents=households * MAX_ALLOWANCE_CENTS + 1,
            received_on=fund_today(),
            reference=None,
            actor="bench",
        )
        return Fund(id=fund.id, period=period, previous=periods.shift(period, -1))


def _size_case(column: str) -> str:
    parts = " ".join(f"WHEN {column} < {bound} THEN {size}" for bound, size in SIZE_BOUNDS)
    return f"CASE {parts} END"


def size_of(n: int) -> int:
    r = (n * 37 + 11) % 100
    return next(size for bound, size in SIZE_BOUNDS if r < bound)


def load_households_postgres(engine: Engine, fund: Fund, n: int) -> None:
    """Households, persons, accounts and two periods of contributions, set-based."""
    params = {
        "fund": fund.id,
        "n": n,
        "joined_on": date.fromisoformat(fund.previous + "-01"),
        "joined_period": fund.previous,
    }
    statements = [
        f"""
        CREATE TEMP TABLE bench_h ON COMMIT DROP AS
        SELECT g AS n, gen_random_uuid() AS household_id, gen_random_uuid() AS account_id,
               {_size_case("(g * 37 + 11) % 100")} AS size
          FROM generate_series(1, :n) AS g
        """,
        """
        INSERT INTO ledger_account (id, fund_id, kind, reference, normal_side, balance_cents,
                                    created_at)
        SELECT account_id, :fund, 'household_credits', household_id::text, 'credit', 0, now()
          FROM bench_h
        """,
        """
        INSERT INTO household (id, fund_id, member_number, status, address_line1, postcode, city,
                               monthly_income_cents, housing_costs_cents, other_fixed_costs_cents,
                               food_budget_cents, chosen_contribution_cents, account_id, joined_on,
                               joined_period, pin_failures, created_at)
        SELECT household_id, :fund, 'BEN' || lpad(n::text, 9, '0'), 'active',
               n || ' rue du Banc', '33000', 'Bordeaux', 90000 + (n % 150) * 1000, 40000, 10000,
               30000, 1000 + (size - 1) * 500, account_id, :joined_on, :joined_period, 0, now()
          FROM bench_h
        """,
        """
        INSERT INTO person (id, household_id, fund_id, given_name, family_name, birth_date,
                            created_at)
        SELECT gen_random_uuid(), household_id, :fund, 'Prénom ' || k, 'Famille ' || n,
               CASE WHEN k <= 2 THEN date '1980-06-15' - (n % 9000)
                    ELSE date '2012-03-01' + (n % 3000) END,
               now()
          FROM bench_h CROSS JOIN LATERAL generate_series(1, size) AS k
        """,
    ]
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement), params)
    for period in (fund.previous, fund.period):
        _contributions_postgres(engine, fund, period)


def _contributions_postgres(engine: Engine, fund: Fund, period: str) -> None:
    """Every household's contribution for `period`: one ledger transaction for them all."""
    with engine.begin() as connection:
        bank, income = (
            connection.execute(
                text(
                    "SELECT id FROM ledger_account WHERE fund_id = :fund AND kind = :kind"
                    " AND reference = ''"
                ),
                {"fund": fund.id, "kind": kind},
            ).scalar_one()
            for kind in ("bank", "contribution_income")
        )
        total = connection.execute(
            text("SELECT sum(chosen_contribution_cents) FROM household WHERE fund_id = :fund"),
            {"fund": fund.id},
        ).scalar_one()
        tx = uuid.uuid4()
        params = {
            "fund": fund.id,
            "tx": tx,
            "bank": bank,
            "income": income,
            "total": int(total),
            "period": period,
            "received": date.fromisoformat(period + "-01"),
        }
        for statement in (
            """
            INSERT INTO ledger_posting (fund_id, transaction_id, account_id, side, amount_cents)
            VALUES (:fund, :tx, :bank, 'debit', :total), (:fund, :tx, :income, 'credit', :total)
            """,
            """
            INSERT INTO ledger_transaction (id, fund_id, kind, period, memo, created_at)
            VALUES (:tx, :fund, 'contribution', :period, 'bench: contributions', now())
            """,
            """
            UPDATE ledger_account SET balance_cents = balance_cents + :total
             WHERE id IN (:bank, :income)
            """,
            """
            INSERT INTO contribution (id, fund_id, household_id, period, amount_cents, method,
                                      received_on, transaction_id, recorded_by, created_at)
            SELECT gen_random_uuid(), :fund, id, :period, chosen_contribution_cents, 'transfer',
                   :received, :tx, 'bench', now()
              FROM household WHERE fund_id = :fund
            """,
        ):
            connection.execute(text(statement), params)


def load_households_sqlite(engine: Engine, fund: Fund, n: int, chunk: int) -> None:
    """The same rows as on PostgreSQL, built in Python and inserted with executemany."""
    from ssa.households.models import Contribution, Household, Person
    from ssa.ledger.models import LedgerAccount, LedgerPosting, LedgerTransaction
    from ssa.timeutil import utcnow

    joined_on = date.fromisoformat(fund.previous + "-01")
    created = utcnow()
    with engine.begin() as connection:
        bank, income = (
            connection.execute(
                select(LedgerAccount.id).where(  # type: ignore[call-overload]
                    LedgerAccount.fund_id == fund.id,
                    LedgerAccount.kind == kind,
                    LedgerAccount.reference == "",
                )
            ).scalar_one()
            for kind in ("bank", "contribution_income")
        )
        txs = {period: uuid.uuid4() for period in (fund.previous, fund.period)}
        total = sum(1000 + (size_of(i) - 1) * 500 for i in range(1, n + 1))
        for period, tx in txs.items():
            connection.execute(
                insert(LedgerPosting.__table__),  # type: ignore[attr-defined]
                [
                    {
                        "fund_id": fund.id,
                        "transaction_id": tx,
                        "account_id": bank,
                        "side": "debit",
                        "amount_cents": total,
                    },
                    {
                        "fund_id": fund.id,
                        "transaction_id": tx,
                        "account_id": income,
                        "side": "credit",
                        "amount_cents": total,
                    },
                ],
            )
            connection.execute(
                insert(LedgerTransaction.__table__).values(  # type: ignore[attr-defined]
                    id=tx,
                    fund_id=fund.id,
                    kind="contribution",
                    period=period,
                    memo="bench: contributions",
                    created_at=created,
                )
            )
        connection.execute(
            text(
                "UPDATE ledger_account SET balance_cents = balance_cents + :total"
                " WHERE id IN (:bank, :income)"
            ),
            {"total": 2 * total, "bank": bank.hex, "income": income.hex},
        )
        for start in range(1, n + 1, chunk):
            accounts, households, persons, contributions = [], [], [], []
            for i in range(start, min(n + 1, start + chunk)):
                size = size_of(i)
                household_id, account_id = uuid.uuid4(), uuid.uuid4()
                accounts.append(
                    {
                        "id": account_id,
                        "fund_id": fund.id,
                        "kind": "household_credits",
                        "reference": str(household_id),
                        "normal_side": "credit",
                        "balance_cents": 0,
                        "created_at": created,
                    }
                )
                due = 1000 + (size - 1) * 500
                households.append(
                    {
                        "id": household_id,
                        "fund_id": fund.id,
                        "member_number": f"BEN{i:09d}",
                        "status": "active",
                        "address_line1": f"{i} rue du Banc",
                        "postcode": "33000",
                        "city": "Bordeaux",
                        "monthly_income_cents": 90000 + (i % 150) * 1000,
                        "housing_costs_cents": 40000,
                        "other_fixed_costs_cents": 10000,
                        "food_budget_cents": 30000,
                        "chosen_contribution_cents": due,
                        "account_id": account_id,
                        "joined_on": joined_on,
                        "joined_period": fund.previous,
                        "pin_failures": 0,
                        "created_at": created,
                    }
                )
                for k in range(1, size + 1):
                    born = (
                        date(1980, 6, 15) - timedelta(days=i % 9000)
                        if k <= 2
                        else date(2012, 3, 1) + timedelta(days=i % 3000)
                    )
                    persons.append(
                        {
                            "id": uuid.uuid4(),
                            "household_id": household_id,
                            "fund_id": fund.id,
                            "given_name": f"Prénom {k}",
                            "family_name": f"Famille {i}",
                            "birth_date": born,
                            "created_at": created,
                        }
                    )
                for period, tx in txs.items():
                    contributions.append(
                        {
                            "id": uuid.uuid4(),
                            "fund_id": fund.id,
                            "household_id": household_id,
                            "period": period,
                            "amount_cents": due,
                            "method": "transfer",
                            "received_on": date.fromisoformat(period + "-01"),
                            "transaction_id": tx,
                            "recorded_by": "bench",
                            "created_at": created,
                        }
                    )
            for model, rows in (
                (LedgerAccount, accounts),
                (Household, households),
                (Person, persons),
                (Contribution, contributions),
            ):
                connection.execute(insert(model.__table__), rows)  # type: ignore[attr-defined]


def count_rows(engine: Engine, fund: Fund) -> None:
    with engine.connect() as connection:
        fund.households = connection.execute(text("SELECT count(*) FROM household")).scalar_one()
        fund.persons = connection.execute(text("SELECT count(*) FROM person")).scalar_one()
        fund.extra["contributions"] = connection.execute(
            text("SELECT count(*) FROM contribution")
        ).scalar_one()


# --- Measurements ---------------------------------------------------------------------


@dataclass
class Statement:
    sql: str
    seconds: float
    rows: int


@contextmanager
def statement_timer(engine: Engine) -> Iterator[list[Statement]]:
    """Time every SQL statement the engine runs inside the block."""
    timings: list[Statement] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        started = conn.info["bench_started"].pop()
        rows = cursor.rowcount if cursor.rowcount is not None else -1
        timings.append(Statement(" ".join(statement.split()), time.perf_counter() - started, rows))

    sa_event.listen(engine, "before_cursor_execute", before)
    sa_event.listen(engine, "after_cursor_execute", after)
    try:
        yield timings
    finally:
        sa_event.remove(engine, "before_cursor_execute", before)
        sa_event.remove(engine, "after_cursor_execute", after)


def scratch_tables(engine: Engine) -> tuple[Table, Table]:
    """Copies of household_issuance and ledger_posting: same columns, keys, checks and
    indexes; no foreign keys, no triggers."""
    metadata = MetaData()
    claims = Table(
        "scratch_household_issuance",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("fund_id", Uuid, nullable=False),
        Column("household_id", Uuid, nullable=False),
        Column("period", String(7), nullable=False),
        Column("amount_cents", BigInteger, nullable=False),
        Column("transaction_id", Uuid, nullable=False, index=True),
        UniqueConstraint("household_id", "period"),
        CheckConstraint("amount_cents > 0"),
        Index("ix_scratch_household_issuance_fund_period", "fund_id", "period"),
    )
    postings = Table(
        "scratch_ledger_posting",
        metadata,
        Column(
            "id",
            BigInteger().with_variant(Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        Column("fund_id", Uuid, nullable=False),
        Column("transaction_id", Uuid, nullable=False, index=True),
        Column("account_id", Uuid, nullable=False, index=True),
        Column("side", String(6), nullable=False),
        Column("amount_cents", BigInteger, nullable=False),
        CheckConstraint("amount_cents > 0"),
        CheckConstraint("side IN ('credit', 'debit')"),
    )
    metadata.drop_all(engine)
    metadata.create_all(engine)
    return claims, postings


def raw_insert(engine: Engine, fund: Fund) -> tuple[float, dict[str, float]]:
    """The baseline: the rows an issuance writes, as plain set-based INSERT ... SELECT."""
    from ssa.households.models import Household, Person

    claims, postings = scratch_tables(engine)
    settle(engine)
    tx = uuid.uuid4()
    persons = (
        select(Person.household_id, func.count().label("persons"))  # type: ignore[call-overload]
        .where(Person.fund_id == fund.id, Person.left_on.is_(None))  # type: ignore[union-attr]
        .group_by(Person.household_id)
        .subquery()
    )
    parts: dict[str, float] = {}
    started = time.perf_counter()
    with engine.begin() as connection:
        mark = time.perf_counter()
        connection.execute(
            insert(claims).from_select(
                ["fund_id", "household_id", "period", "amount_cents", "transaction_id"],
                select(
                    Household.fund_id,  # type: ignore[call-overload]
                    Household.id,
                    literal(fund.period),
                    15000 + (persons.c.persons - 1) * 7500,
                    literal(tx),
                )
                .join(persons, persons.c.household_id == Household.id)
                .where(Household.fund_id == fund.id),
            )
        )
        parts["insert claims"] = time.perf_counter() - mark
        mark = time.perf_counter()
        connection.execute(
            insert(postings).from_select(
                ["fund_id", "transaction_id", "account_id", "side", "amount_cents"],
                select(
                    claims.c.fund_id,
                    claims.c.transaction_id,
                    Household.account_id,  # type: ignore[arg-type]
                    literal("credit"),
                    claims.c.amount_cents,
                )
                .join(Household, Household.id == claims.c.household_id)  # type: ignore[arg-type]
                .where(claims.c.transaction_id == tx),
            )
        )
        connection.execute(
            insert(postings).values(
                fund_id=fund.id,
                transaction_id=tx,
                account_id=uuid.uuid4(),
                side="debit",
                amount_cents=select(func.sum(claims.c.amount_cents)).scalar_subquery(),
            )
        )
        parts["insert postings"] = time.perf_counter() - mark
        mark = time.perf_counter()
    parts["commit"] = time.perf_counter() - mark
    seconds = time.perf_counter() - started
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE {postings.name}"))
        connection.execute(text(f"DROP TABLE {claims.name}"))
    return seconds, parts


@dataclass
class IssuanceRun:
    seconds: float
    households_issued: int
    total_cents: int
    skipped: int
    statements: list[Statement]
    commit_seconds: float
    rss_before_mb: float | None
    peak_rss_mb: float | None
    peak_reset: bool
    backend_peak_mb: float | None


def run_issuance(engine: Engine, fund: Fund) -> IssuanceRun:
    from ssa.db import unit_of_work
    from ssa.issuance.service import issue_period

    settle(engine)
    backend_pid = None
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:  # the pooled connection the run will reuse
            backend_pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        reset_peak_rss(backend_pid)
    before = rss_mb()
    reset = reset_peak_rss()
    with statement_timer(engine) as statements:
        started = time.perf_counter()
        with unit_of_work(engine) as session:
            summary = issue_period(
                db_session=session, fund_id=fund.id, period=fund.period, actor="bench"
            )
            committing = time.perf_counter()
        ended = time.perf_counter()
    return IssuanceRun(
        seconds=ended - started,
        households_issued=summary.households_issued,
        total_cents=summary.total_cents,
        skipped=len(summary.skipped),
        statements=statements,
        commit_seconds=ended - committing,
        rss_before_mb=before,
        peak_rss_mb=peak_rss_mb(),
        peak_reset=reset,
        backend_peak_mb=peak_rss_mb(backend_pid) if backend_pid else None,
    )


# --- Main -----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument(
        "--chunk", type=int, default=20_000, help="rows per executemany batch (SQLite setup)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    from ssa import migrations
    from ssa.db import make_engine
    from ssa.settings import Settings

    given = make_url(args.database_url)
    postgres = given.get_backend_name() == "postgresql"
    sqlite_path: Path | None = None
    if postgres:
        url = recreate_pg_database(given)
    else:
        handle, name = tempfile.mkstemp(prefix="ssa-bench-issuance-", suffix=".db")
        os.close(handle)
        sqlite_path = Path(name)
        url = make_url(f"sqlite:///{sqlite_path}")
    url_text = url.render_as_string(hide_password=False)
    engine = make_engine(Settings(database_url=url_text, database_pool_size=1))
    try:
        print("machine:", ", ".join(f"{k}={v}" for k, v in machine_description().items()))
        if postgres:
            info = pg_server_info(engine)
            print("postgresql:", ", ".join(f"{k}={v}" for k, v in info.items()))
        print(f"database: {url.render_as_string(hide_password=True)}")
        migrations.upgrade(url_text)

        started = time.perf_counter()
        fund = create_bench_fund(engine, args.households)
        if postgres:
            load_households_postgres(engine, fund, args.households)
        else:
            load_households_sqlite(engine, fund, args.households, args.chunk)
        count_rows(engine, fund)
        print(
            f"setup: {fund.households} households, {fund.persons} persons,"
            f" {fund.extra['contributions']} contributions"
            f" ({fund.previous} and {fund.period}) in {time.perf_counter() - started:.1f} s"
        )

        raw_seconds, parts = raw_insert(engine, fund)
        print(
            f"raw insert (baseline): {raw_seconds:.2f} s ("
            + ", ".join(f"{k} {v:.2f} s" for k, v in parts.items())
            + ")"
        )

        run = run_issuance(engine, fund)
        assert run.households_issued == args.households, run
        print(
            f"issue_period: {run.households_issued} households issued,"
            f" {run.total_cents / 100:,.2f} EUR, {run.skipped} skipped, {run.seconds:.2f} s"
            f" (commit {run.commit_seconds:.2f} s)"
        )
        print("  statements (seconds, rows):")
        for statement in sorted(run.statements, key=lambda s: -s.seconds)[:8]:
            print(f"    {statement.seconds:8.3f} {statement.rows:>9}  {statement.sql[:110]}")
            if "RETURNING" in statement.sql:
                print(
                    "             returns rows: ..."
                    + statement.sql[statement.sql.index("RETURNING") :]
                )
        rest = sum(s.seconds for s in run.statements)
        print(f"    {rest:8.3f}  all {len(run.statements)} statements")
        ratio = run.seconds / raw_seconds if raw_seconds else float("nan")
        peak = run.peak_rss_mb
        verdict = "met" if ratio <= 1.5 else "NOT met"
        print(f"ratio to raw insert: {ratio:.2f} (target <= 1.5: {verdict})")
        print(
            f"memory: this process RSS {run.rss_before_mb:.0f} MB before, peak {peak:.0f} MB during"
            f" the run{'' if run.peak_reset else ' (peak since start: clear_refs refused)'}"
            f" (target < 500 MB: {'met' if peak is not None and peak < 500 else 'NOT met'})"
            + (
                f"; PostgreSQL backend peak RSS {run.backend_peak_mb:.0f} MB"
                " (shared buffers it touched included)"
                if run.backend_peak_mb is not None
                else ""
            )
        )
        print(f"issuance households={args.households} seconds={run.seconds:.2f}")
    finally:
        engine.dispose()
        if not args.keep:
            if postgres:
                drop_pg_database(given)
            elif sqlite_path is not None:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{sqlite_path}{suffix}").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
