"""Ledger transfer throughput through the service layer, on SQLite and PostgreSQL.

Each transfer is what a request does: one unit of work (one database transaction) around
`post_transaction(kind=transfer)`, debiting one random household credits account and
crediting another. Writers are separate processes, each with its own engine, so the GIL
does not cap the figure. On the same PostgreSQL server, pgbench TPC-B gives a yardstick.

    .venv/bin/python bench/ledger.py --seconds 10

The last lines are machine-readable (`ledger engine=... writers=... tps=...`,
`pgbench clients=... tps=... ratio=...`).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import random
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.synchronize import Barrier
from pathlib import Path
from queue import Empty
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/ssa_bench"
PGBENCH_DB = "ssa_pgbench"
PGBENCH_SCALE = 10
FUNDING_CENTS = 10_000_000  # per household: far more than a run can move away
MAX_TRANSFER_CENTS = 100
FUNDING_CHUNK = 100  # households credited per issuance transaction
WARMUP_TRANSFERS = 20  # per writer, before the clock starts (not counted)
DISTURBED_CORES = 0.25  # other work on the machine beyond this makes a measurement suspect


# --- Results ------------------------------------------------------------------------


@dataclass
class WriterResult:
    committed: int = 0
    refused: int = 0
    errors: int = 0
    first_error: str = ""
    latencies_s: list[float] = field(default_factory=list)
    started: float = 0.0  # time.monotonic(), system-wide on Linux
    ended: float = 0.0
    cpu_s: float = 0.0


@dataclass
class Measurement:
    engine: str
    writers: int
    committed: int
    refused: int
    errors: int
    wall_s: float
    p50_ms: float
    p99_ms: float
    client_cpu_s: float
    server_cpu_s: float | None  # this database's backends; None for SQLite or remote
    foreign_cpu_s: float  # other databases' backends on the same server
    machine_busy: float  # fraction of all CPUs busy during the window
    other_cores: float  # CPU used meanwhile by anything but the writers and their backends
    first_error: str = ""

    @property
    def tps(self) -> float:
        return self.committed / self.wall_s if self.wall_s else 0.0


@dataclass
class PgbenchResult:
    clients: int
    jobs: int
    transactions: int
    tps: float
    latency_ms: float
    client_cpu_s: float
    server_cpu_s: float | None
    foreign_cpu_s: float
    machine_busy: float
    other_cores: float
    wall_s: float


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, round(fraction * len(sorted_values) + 0.5))
    return sorted_values[min(rank, len(sorted_values)) - 1]


# --- Machine ------------------------------------------------------------------------


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs, from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return (0, 0)
    values = [int(v) for v in fields[:8]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values)
    return (total - idle, total)


def _busy_between(before: tuple[int, int], after: tuple[int, int]) -> float:
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total > 0 else float("nan")


def _other_cores(
    before: tuple[int, int], after: tuple[int, int], wall_s: float, own_cpu_s: float
) -> float:
    """CPU cores busy during the window beyond `own_cpu_s`: other processes, PostgreSQL's
    background processes, the kernel. Large values mean the figures are disturbed."""
    if wall_s <= 0 or after[1] == before[1]:
        return float("nan")
    return max(0.0, (after[0] - before[0]) / _TICKS / wall_s - own_cpu_s / wall_s)


BACKGROUND = "(background)"  # PostgreSQL's own processes, not serving a client
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
# The process title of a client backend: "postgres: [cluster: ]user database host(port) ..."
_BACKEND_TITLE = re.compile(r"^postgres: (?:\S+: )?\S+ (\S+) (?:\S+\(\d+\)|\[local\])")


class BackendCpu:
    """CPU time of the local PostgreSQL server's client backends, by database, from /proc.

    Sampled in a thread, so that backends which exit before the end (pgbench's) count up
    to their last sample. Backends seen when sampling starts count from that point;
    those that appear later count from their start. Background processes (WAL writer,
    checkpointer, autovacuum, the postmaster) are counted apart, under BACKGROUND.
    """

    def __init__(self, interval_s: float = 0.05, rescan_s: float = 0.5) -> None:
        self._interval_s = interval_s
        self._rescan_s = rescan_s
        self._database: dict[int, str] = {}
        self._first: dict[int, int] = {}
        self._last: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.available = Path("/proc/self/stat").exists()

    @staticmethod
    def _ticks(pid: int) -> int | None:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        fields = stat[stat.rindex(")") + 2 :].split()
        return int(fields[11]) + int(fields[12])  # utime + stime

    def _scan(self, baseline: bool) -> None:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) in self._database:
                continue
            try:
                if (entry / "comm").read_text().strip() != "postgres":
                    continue
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except (OSError, UnicodeDecodeError):
                continue
            match = _BACKEND_TITLE.match(title)
            pid = int(entry.name)
            ticks = self._ticks(pid)
            if ticks is not None:
                self._database[pid] = match.group(1) if match else BACKGROUND
                self._first[pid] = ticks if baseline else 0
                self._last[pid] = ticks

    def _sample(self) -> None:
        for pid in self._database:
            ticks = self._ticks(pid)
            if ticks is not None:
                self._last[pid] = ticks

    def _run(self) -> None:
        rescan_at = time.monotonic() + self._rescan_s
        while not self._stop.wait(self._interval_s):
            if time.monotonic() >= rescan_at:
                self._scan(baseline=False)
                rescan_at = time.monotonic() + self._rescan_s
            self._sample()

    def __enter__(self) -> BackendCpu:
        if self.available:
            self._scan(baseline=True)
            self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.available:
            self._stop.set()
            self._thread.join()
            self._scan(baseline=False)
            self._sample()

    def seconds(self, database: str) -> float | None:
        """CPU seconds of the backends of this database (None if /proc is not readable)."""
        if not self.available:
            return None
        pids = [pid for pid, name in self._database.items() if name == database]
        return sum(self._last[pid] - self._first[pid] for pid in pids) / _TICKS

    def others(self, databases: set[str]) -> float:
        """CPU seconds of the backends of every other database: someone else's load."""
        databases = databases | {BACKGROUND}
        pids = [pid for pid, name in self._database.items() if name not in databases]
        return sum(self._last[pid] - self._first[pid] for pid in pids) / _TICKS


def is_local(url: URL) -> bool:
    """Whether the server runs on this machine, so that its CPU time can be read."""
    return url.host in (None, "", "127.0.0.1", "localhost", "::1") or url.host.startswith("/")


def _ssa_package() -> str:
    import ssa

    return str(Path(ssa.__file__).resolve().parent)


def _ssa_version() -> str:
    """Where the measured ssa package is, and its git commit (+ if the tree is edited)."""
    folder = Path(_ssa_package())
    try:
        commit = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        edited = subprocess.run(
            ["git", "-C", str(folder), "status", "--porcelain", "--", "."],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return str(folder)
    return f"{folder} (git {commit}{' + uncommitted changes' if edited else ''})"


def wait_for_idle(max_wait_s: float, busy_below: float = 0.15) -> None:
    """Wait until the machine's CPUs are mostly idle (over one second), at most max_wait_s."""
    deadline = time.monotonic() + max_wait_s
    announced = False
    while True:
        before = _cpu_times()
        time.sleep(1.0)
        busy = _busy_between(before, _cpu_times())
        if not busy >= busy_below:  # also when /proc/stat is unreadable (nan)
            return
        if time.monotonic() >= deadline:
            print(f"    the machine is still {busy:.0%} busy: measuring anyway", flush=True)
            return
        if not announced:
            print(f"    waiting for the machine to be idle ({busy:.0%} busy)...", flush=True)
            announced = True


def machine_description() -> dict[str, str]:
    cpu_model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "nproc": str(usable),
        "cpu": cpu_model,
        "memory": memory,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "ssa": _ssa_version(),
    }


# --- Databases ----------------------------------------------------------------------


def _maintenance_url(url: URL) -> URL:
    return url.set(database="postgres")


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _drop_unless_in_use(connection: Any, database: str) -> None:
    """Drop the database, unless someone is connected to it (another run, say)."""
    users = connection.execute(
        text("SELECT count(*) FROM pg_stat_activity WHERE datname = :name"), {"name": database}
    ).scalar_one()
    if users:
        raise SystemExit(
            f"database {database} has {users} connection(s): another benchmark run? Wait for"
            " it, or give this run another database (--postgres-url)."
        )
    connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {_quote_ident(database)}")


def recreate_pg_database(url: URL, database: str) -> None:
    engine = create_engine(_maintenance_url(url), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        _drop_unless_in_use(connection, database)
        connection.exec_driver_sql(f"CREATE DATABASE {_quote_ident(database)}")
    engine.dispose()


def drop_pg_database(url: URL, database: str) -> None:
    engine = create_engine(_maintenance_url(url), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        _drop_unless_in_use(connection, database)
    engine.dispose()


def pg_server_info(url: URL) -> dict[str, str]:
    engine = create_engine(_maintenance_url(url))
    names = ("server_version", "fsync", "synchronous_commit", "shared_buffers", "max_connections")
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT name, setting, unit FROM pg_settings WHERE name = ANY(:names)"),
            {"names": list(names)},
        ).all()
    engine.dispose()
    info = {}
    for name, setting, unit in rows:
        if unit == "8kB":
            info[name] = f"{int(setting) * 8 // 1024} MB"
        else:
            info[name] = setting
    return info


def pg_checkpoint(url: URL) -> None:
    """Start each measurement with no dirty buffers queued behind it."""
    engine = create_engine(_maintenance_url(url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("CHECKPOINT")
    except Exception as exc:  # not a superuser: measure anyway
        print(f"  (CHECKPOINT refused: {exc.__class__.__name__})")
    finally:
        engine.dispose()


def filesystem_of(path: Path) -> str:
    """The file system holding `path`, from /proc/mounts (e.g. "ext4 on /dev/vda")."""
    best, description = "", "unknown"
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return description
    target = str(path.resolve())
    for line in mounts:
        device, mount_point, kind = line.split()[:3]
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) > len(best):
            best, description = mount_point, f"{kind} on {device}"
    return description


def remove_sqlite_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


# --- Setting up a fund --------------------------------------------------------------


def build_fund(database_url: str, accounts: int) -> tuple[str, list[str]]:
    """Migrate, create a fund, open and fund `accounts` household credits accounts."""
    from ssa.db import make_engine, unit_of_work
    from ssa.funds.service import create_fund
    from ssa.ledger.models import AccountKind, TransactionKind
    from ssa.ledger.service import credit, debit, open_account, post_transaction
    from ssa.migrations import upgrade
    from ssa.settings import Settings

    saved_path = list(sys.path)
    upgrade(database_url)
    # alembic.ini's prepend_sys_path puts the working folder first; the writers inherit
    # sys.path, and must import the same ssa as this process.
    sys.path[:] = saved_path
    engine = make_engine(Settings(database_url=database_url))
    try:
        with unit_of_work(engine) as session:
            fund = create_fund(db_session=session, slug="bench", name="Benchmark fund")
            fund_id = fund.id
            kinds = (
                AccountKind.bank,
                AccountKind.contribution_income,
                AccountKind.allowance_expense,
            )
            bank, income, expense = (
                open_account(db_session=session, fund_id=fund_id, kind=k).id for k in kinds
            )
        household_ids: list[uuid.UUID] = []
        for start in range(0, accounts, FUNDING_CHUNK):
            count = min(FUNDING_CHUNK, accounts - start)
            with unit_of_work(engine) as session:
                chunk = [
                    open_account(
                        db_session=session,
                        fund_id=fund_id,
                        kind=AccountKind.household_credits,
                        reference=f"household-{start + i:06d}",
                    ).id
                    for i in range(count)
                ]
                total = count * FUNDING_CENTS
                # Euros in first, so that the bank covers the credits issued.
                post_transaction(
                    db_session=session,
                    fund_id=fund_id,
                    kind=TransactionKind.contribution,
                    legs=[debit(bank, total), credit(income, total)],
                )
                post_transaction(
                    db_session=session,
                    fund_id=fund_id,
                    kind=TransactionKind.issuance,
                    legs=[debit(expense, total), *(credit(a, FUNDING_CENTS) for a in chunk)],
                )
            household_ids.extend(chunk)
    finally:
        engine.dispose()
    return str(fund_id), [str(a) for a in household_ids]


def check_books(database_url: str, fund_id: str) -> list[str]:
    """The ledger's own invariant check after the run: the names of failed checks."""
    from ssa.db import make_engine, unit_of_work
    from ssa.ledger.check import check_ledger
    from ssa.settings import Settings

    engine = make_engine(Settings(database_url=database_url))
    try:
        with unit_of_work(engine) as session:
            results = check_ledger(db_session=session, fund_id=uuid.UUID(fund_id))
    finally:
        engine.dispose()
    return [f"{r.name}: {r.detail}" for r in results if not r.ok]


# --- Writers ------------------------------------------------------------------------


def writer(
    database_url: str,
    fund_id: str,
    account_ids: list[str],
    seconds: float,
    seed: int,
    barrier: Barrier,
    finished: Barrier,
    results: Any,
    ssa_package: str,
    mode: str = "service",
) -> None:
    """One writer process: its own engine, one unit of work per transfer.

    mode "driver" (a floor, `--floors`): the same transfers as one call of
    `ssa_post_transaction` on a plain psycopg connection (BEGIN, the call, COMMIT), without
    SQLAlchemy's session, pool or the service's Python: what the client costs at least.
    """
    try:
        from sqlalchemy.exc import DBAPIError

        from ssa.db import make_engine, unit_of_work
        from ssa.ledger.errors import InsufficientBalance
        from ssa.ledger.models import TransactionKind
        from ssa.ledger.service import credit, debit, post_transaction
        from ssa.settings import Settings

        if _ssa_package() != ssa_package:
            raise RuntimeError(f"writer imported ssa from {_ssa_package()}, not {ssa_package}")
        rng = random.Random(seed)
        fund = uuid.UUID(fund_id)
        accounts = [uuid.UUID(a) for a in account_ids]
        engine = make_engine(Settings(database_url=database_url))
        result = WriterResult()

        def transfer() -> None:
            source, target = rng.sample(accounts, 2)
            cents = rng.randint(1, MAX_TRANSFER_CENTS)
            with unit_of_work(engine) as session:
                post_transaction(
                    db_session=session,
                    fund_id=fund,
                    kind=TransactionKind.transfer,
                    legs=[debit(source, cents), credit(target, cents)],
                )

        if mode == "driver":
            transfer = _driver_transfer(database_url, fund, accounts, rng)

        for _ in range(WARMUP_TRANSFERS):  # connect, fill the statement caches
            transfer()
    except BaseException:
        results.put(("error", traceback.format_exc()))
        barrier.abort()
        return
    try:
        barrier.wait(timeout=600)
    except threading.BrokenBarrierError:
        return  # another writer failed: the parent reports it

    try:
        cpu_start = time.process_time()
        result.started = start = time.monotonic()
        deadline = start + seconds
        latencies = result.latencies_s
        now = start
        while now < deadline:
            try:
                transfer()
            except InsufficientBalance:
                result.refused += 1
            except DBAPIError as exc:
                result.errors += 1
                if not result.first_error:
                    result.first_error = f"{exc.__class__.__name__}: {exc.orig}"
            else:
                result.committed += 1
                latencies.append(time.monotonic() - now)
            now = time.monotonic()
        result.ended = now
        result.cpu_s = time.process_time() - cpu_start
    except BaseException:
        results.put(("error", traceback.format_exc()))
        return
    results.put(("ok", result))
    with suppress(threading.BrokenBarrierError):
        finished.wait(timeout=600)  # keep the connection until the server's CPU is read
    engine.dispose()


def _driver_transfer(
    database_url: str, fund: uuid.UUID, accounts: list[uuid.UUID], rng: random.Random
) -> Callable[[], None]:
    """The floor: a transfer as BEGIN, one prepared call, COMMIT on a psycopg connection."""
    import psycopg
    from sqlalchemy.exc import DBAPIError

    from ssa.ledger.service import _POST_TRANSACTION_SQL

    url = make_url(database_url)
    connection = psycopg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        dbname=url.database,
    )
    cursor = connection.cursor()

    def transfer() -> None:
        source, target = rng.sample(accounts, 2)
        cents = rng.randint(1, MAX_TRANSFER_CENTS)
        params = (
            uuid.uuid4(),
            fund,
            "transfer",
            None,
            None,
            None,
            datetime.now(UTC),
            "{" + source.hex + "," + target.hex + "}",
            "{debit,credit}",
            "{" + str(cents) + "," + str(cents) + "}",
        )
        try:
            cursor.execute(_POST_TRANSACTION_SQL, params, prepare=True)
            cursor.fetchall()
            connection.commit()
        except psycopg.Error as exc:
            connection.rollback()
            raise DBAPIError(_POST_TRANSACTION_SQL, params, exc) from exc

    return transfer


def _error_from(queue: Any) -> str:
    """The first error a writer reported, if it reported one within a few seconds."""
    try:
        while True:
            status, detail = queue.get(timeout=10)
            if status != "ok":
                return str(detail)
    except Empty:
        return "(no report: see the writers' output above)"


def _collect(queue: Any, processes: list[Any], timeout_s: float) -> list[tuple[str, Any]]:
    """One report per writer; fails if they all exit without one, or on timeout."""
    outcomes: list[tuple[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while len(outcomes) < len(processes):
        try:
            outcomes.append(queue.get(timeout=1.0))
        except Empty:
            if not any(process.is_alive() for process in processes):
                raise RuntimeError("the writers exited without reporting") from None
            if time.monotonic() > deadline:
                raise RuntimeError("the writers did not report in time") from None
    return outcomes


def measure(
    engine_name: str,
    database_url: str,
    fund_id: str,
    account_ids: list[str],
    writers: int,
    seconds: float,
    database: str | None,
    mode: str = "service",
) -> Measurement:
    context = mp.get_context("spawn")
    barrier = context.Barrier(writers + 1)
    finished = context.Barrier(writers + 1)
    queue = context.Queue()
    processes = [
        context.Process(
            target=writer,
            args=(
                database_url,
                fund_id,
                account_ids,
                seconds,
                1000 + i,
                barrier,
                finished,
                queue,
                _ssa_package(),
                mode,
            ),
            name=f"writer-{i}",
            daemon=True,
        )
        for i in range(writers)
    ]
    try:
        for process in processes:
            process.start()
        try:
            barrier.wait(timeout=600)  # every writer is connected and warmed up
        except threading.BrokenBarrierError:
            raise RuntimeError(f"a writer failed while warming up:\n{_error_from(queue)}") from None
        cpu_before = _cpu_times()
        window_start = time.monotonic()
        with BackendCpu() as backends:
            outcomes = _collect(queue, processes, timeout_s=seconds + 300)
        window = time.monotonic() - window_start
        cpu_after = _cpu_times()
        failures = [detail for status, detail in outcomes if status != "ok"]
        if failures:
            raise RuntimeError(f"a writer failed:\n{failures[0]}")
        finished.wait(timeout=60)
        for process in processes:
            process.join(timeout=60)
    finally:
        for process in processes:  # after a failure: nobody is left behind
            if process.is_alive():
                process.kill()
                process.join()
    parts: list[WriterResult] = [detail for _, detail in outcomes]
    latencies = sorted(x for part in parts for x in part.latencies_s)
    wall = max(p.ended for p in parts) - min(p.started for p in parts)
    client_cpu = sum(p.cpu_s for p in parts)
    server_cpu = backends.seconds(database) if database else None
    background_cpu = (backends.seconds(BACKGROUND) or 0.0) if database else 0.0
    return Measurement(
        engine=engine_name if mode == "service" else f"{engine_name} ({mode})",
        writers=writers,
        committed=sum(p.committed for p in parts),
        refused=sum(p.refused for p in parts),
        errors=sum(p.errors for p in parts),
        wall_s=wall,
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        client_cpu_s=client_cpu,
        server_cpu_s=server_cpu,
        foreign_cpu_s=backends.others({database} if database else set()),
        machine_busy=_busy_between(cpu_before, cpu_after),
        other_cores=_other_cores(
            cpu_before, cpu_after, window, client_cpu + (server_cpu or 0) + background_cpu
        ),
        first_error=next((p.first_error for p in parts if p.first_error), ""),
    )


# --- pgbench ------------------------------------------------------------------------


def find_pgbench() -> str:
    found = shutil.which("pgbench")
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"), reverse=True):
        return str(candidate)
    raise SystemExit("pgbench not found on PATH nor in /usr/lib/postgresql/*/bin/")


def _pgbench_env_and_args(url: URL) -> tuple[dict[str, str], list[str]]:
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    args = ["-h", url.host or "127.0.0.1", "-p", str(url.port or 5432)]
    if url.username:
        args += ["-U", url.username]
    return env, args


def pgbench_init(pgbench: str, url: URL) -> None:
    recreate_pg_database(url, PGBENCH_DB)
    env, args = _pgbench_env_and_args(url)
    subprocess.run(
        [pgbench, *args, "-i", "-s", str(PGBENCH_SCALE), "-q", PGBENCH_DB],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )


def pgbench_run(
    pgbench: str,
    url: URL,
    clients: int,
    jobs: int,
    seconds: float,
    database: str = PGBENCH_DB,
    script: Path | None = None,
) -> PgbenchResult:
    env, args = _pgbench_env_and_args(url)
    command = [pgbench, *args, "-c", str(clients), "-j", str(jobs)]
    if script is not None:
        command += ["-M", "prepared", "-f", str(script)]
    command += ["-T", str(max(1, round(seconds))), "-n", database]
    before = _cpu_times()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    with BackendCpu() as backends:
        run = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    wall = time.monotonic() - started
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    after = _cpu_times()
    client_cpu = (children_after.ru_utime - children_before.ru_utime) + (
        children_after.ru_stime - children_before.ru_stime
    )
    server_cpu = backends.seconds(database) if is_local(url) else None
    background_cpu = (backends.seconds(BACKGROUND) or 0.0) if is_local(url) else 0.0
    # PostgreSQL 14+: "(without initial connection time)"; before: "(excluding connections
    # establishing)". Either way, the figure that leaves out connecting.
    tps = re.search(
        r"^tps = ([\d.]+) \((?:without initial connection time|excluding connections"
        r" establishing)\)",
        run.stdout,
        re.MULTILINE,
    )
    latency = re.search(r"^latency average = ([\d.]+) ms", run.stdout, re.MULTILINE)
    done = re.search(r"^number of transactions actually processed: (\d+)", run.stdout, re.M)
    if tps is None:
        raise RuntimeError(f"could not read pgbench's tps from:\n{run.stdout}\n{run.stderr}")
    return PgbenchResult(
        clients=clients,
        jobs=jobs,
        transactions=int(done.group(1)) if done else 0,
        tps=float(tps.group(1)),
        latency_ms=float(latency.group(1)) if latency else float("nan"),
        client_cpu_s=client_cpu,
        server_cpu_s=server_cpu,
        foreign_cpu_s=backends.others({database}) if is_local(url) else 0.0,
        machine_busy=_busy_between(before, after),
        other_cores=_other_cores(
            before, after, wall, client_cpu + (server_cpu or 0) + background_cpu
        ),
        wall_s=wall,
    )


def pgbench_function_script(database_url: str, fund_id: str, account_ids: list[str]) -> Path:
    """A pgbench script making the same transfers by calling `ssa_post_transaction` from C:
    what the server's side of a transfer costs, with almost no client."""
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text("CREATE TABLE bench_account (n integer PRIMARY KEY, id uuid NOT NULL)")
            )
            connection.execute(
                text("INSERT INTO bench_account (n, id) VALUES (:n, :id)"),
                [{"n": n, "id": uuid.UUID(a)} for n, a in enumerate(account_ids, start=1)],
            )
    finally:
        engine.dispose()
    count = len(account_ids)
    lookup = "(SELECT id FROM bench_account WHERE n = :{})"
    script = Path(tempfile.mkdtemp(prefix="ssa-bench-")) / "transfer.sql"
    script.write_text(
        f"\\set a random(1, {count})\n"
        f"\\set b 1 + (:a + random(0, {count - 2})) % {count}\n"
        f"\\set c random(1, {MAX_TRANSFER_CENTS})\n"
        "BEGIN;\n"
        "SELECT count(*) FROM ssa_post_transaction(gen_random_uuid(),"
        f" '{uuid.UUID(fund_id)}', 'transfer', NULL, NULL, NULL, now(),"
        f" ARRAY[{lookup.format('a')}, {lookup.format('b')}], '{{debit,credit}}',"
        " ARRAY[:c, :c]::bigint[]);\n"
        "END;\n"
    )
    return script


# --- Running ------------------------------------------------------------------------


@contextmanager
def sqlite_database(path_arg: str | None, keep: bool) -> Iterator[str]:
    if path_arg:
        path = Path(path_arg).resolve()
        if path.exists():
            raise SystemExit(f"{path} exists: give a path the benchmark may create and remove")
        folder = None
    else:
        folder = Path(tempfile.mkdtemp(prefix="ssa-bench-"))
        path = folder / "ledger.db"
    print(f"\n[sqlite] database file {path} ({filesystem_of(path.parent)})")
    try:
        yield f"sqlite:///{path}"
    finally:
        if not keep:
            remove_sqlite_files(path)
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def postgres_database(url: URL, keep: bool) -> Iterator[str]:
    assert url.database
    recreate_pg_database(url, url.database)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        if not keep:
            drop_pg_database(url, url.database)


def _driver_floor(
    database_url: str, fund_id: str, account_ids: list[str], args: argparse.Namespace, pg_url: URL
) -> Measurement:
    writers = max(args.writers)
    pg_checkpoint(pg_url)
    print(f"  floor: {writers} driver-only writer(s) for {args.seconds:g} s...", flush=True)
    wait_for_idle(args.wait_idle)
    measurement = measure(
        "postgresql",
        database_url,
        fund_id,
        account_ids,
        writers,
        args.seconds,
        database=make_url(database_url).database if is_local(pg_url) else None,
        mode="driver",
    )
    print(f"    {measurement.tps:,.0f} transfers/s, errors {measurement.errors}")
    return measurement


def _server_floor(
    database_url: str, fund_id: str, account_ids: list[str], args: argparse.Namespace, pg_url: URL
) -> PgbenchResult:
    script = pgbench_function_script(database_url, fund_id, account_ids)
    database = make_url(database_url).database
    assert database
    try:
        pg_checkpoint(pg_url)
        print(f"  floor: pgbench -c 8 -j 2 calling ssa_post_transaction for {args.seconds:g} s...")
        wait_for_idle(args.wait_idle)
        result = pgbench_run(find_pgbench(), pg_url, 8, 2, args.seconds, database, script)
        print(f"    {result.tps:,.0f} transfers/s")
        return result
    finally:
        shutil.rmtree(script.parent, ignore_errors=True)


def run_engine(
    engine_name: str,
    database_url: str,
    args: argparse.Namespace,
    pg_url: URL | None,
    floors: list[PgbenchResult],
) -> list[Measurement]:
    print(f"\n[{engine_name}] migrating, opening and funding {args.accounts} accounts...")
    started = time.monotonic()
    fund_id, account_ids = build_fund(database_url, args.accounts)
    print(f"  ready in {time.monotonic() - started:.1f} s")
    measurements = []
    for writers in args.writers:
        if pg_url is not None:
            pg_checkpoint(pg_url)
        print(f"  {writers} writer(s) for {args.seconds:g} s...", flush=True)
        wait_for_idle(args.wait_idle)
        measurement = measure(
            engine_name,
            database_url,
            fund_id,
            account_ids,
            writers,
            args.seconds,
            database=make_url(database_url).database
            if pg_url is not None and is_local(pg_url)
            else None,
        )
        print(
            f"    {measurement.tps:,.0f} transfers/s, p50 {measurement.p50_ms:.2f} ms,"
            f" p99 {measurement.p99_ms:.2f} ms, refused {measurement.refused},"
            f" errors {measurement.errors}"
        )
        if measurement.first_error:
            print(f"    first error: {measurement.first_error}")
        measurements.append(measurement)
    if args.floors and pg_url is not None:
        measurements.append(_driver_floor(database_url, fund_id, account_ids, args, pg_url))
        floors.append(_server_floor(database_url, fund_id, account_ids, args, pg_url))
    failed = check_books(database_url, fund_id)
    print("  books check: " + ("all invariants hold" if not failed else "; ".join(failed)))
    if failed:
        raise SystemExit(f"the ledger check failed on {engine_name}")
    return measurements


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help="database the benchmark creates and drops (default: %(default)s)",
    )
    parser.add_argument(
        "--sqlite-path",
        default=None,
        help="SQLite file to create and remove (default: a temporary file)",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=10.0,
        help="duration of each measurement (default: %(default)s)",
    )
    parser.add_argument(
        "--accounts",
        type=int,
        default=1000,
        help="household credits accounts (default: %(default)s)",
    )
    parser.add_argument(
        "--engines",
        default="sqlite,postgresql",
        help="comma-separated: sqlite, postgresql (default: %(default)s)",
    )
    parser.add_argument(
        "--writers",
        default="1,8",
        help="comma-separated writer process counts (default: %(default)s)",
    )
    parser.add_argument("--no-pgbench", action="store_true", help="skip the pgbench yardstick")
    parser.add_argument(
        "--floors",
        action="store_true",
        help="PostgreSQL: also measure the same transfers without the Python layers, as"
        " floors: the writers calling ssa_post_transaction on plain psycopg connections,"
        " and pgbench (8 clients) calling it from C",
    )
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=60.0,
        help="before each measurement, wait up to this many seconds for the CPUs to be"
        " idle, as other work on the machine disturbs the figures (default: %(default)s)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the databases afterwards, for a look inside"
    )
    args = parser.parse_args(argv)
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = set(args.engines) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"unknown engine(s): {', '.join(sorted(unknown))}")
    args.writers = [int(w) for w in args.writers.split(",")]
    if args.accounts < 2:
        parser.error("--accounts must be at least 2")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    pg_url = make_url(args.postgres_url)
    machine = machine_description()
    if "postgresql" in args.engines:
        machine.update({f"postgresql {k}": v for k, v in pg_server_info(pg_url).items()})
    machine["sqlite pragmas"] = "journal_mode=WAL, synchronous=NORMAL, BEGIN IMMEDIATE"

    measurements: list[Measurement] = []
    pgbench_results: list[PgbenchResult] = []
    floors: list[PgbenchResult] = []
    if "sqlite" in args.engines:
        with sqlite_database(args.sqlite_path, args.keep) as url:
            measurements += run_engine("sqlite", url, args, None, floors)
    if "postgresql" in args.engines:
        with postgres_database(pg_url, args.keep) as url:
            measurements += run_engine("postgresql", url, args, pg_url, floors)
        if not args.no_pgbench:
            pgbench = find_pgbench()
            print(f"\n[pgbench] TPC-B, scale {PGBENCH_SCALE}, database {PGBENCH_DB} ({pgbench})")
            pgbench_init(pgbench, pg_url)
            try:
                for clients, jobs in ((1, 1), (8, 2)):
                    pg_checkpoint(pg_url)
                    print(f"  -c {clients} -j {jobs} -T {args.seconds:g} -n ...", flush=True)
                    wait_for_idle(args.wait_idle)
                    result = pgbench_run(pgbench, pg_url, clients, jobs, args.seconds)
                    print(f"    {result.tps:,.0f} tps, latency {result.latency_ms:.2f} ms")
                    pgbench_results.append(result)
            finally:
                if not args.keep:
                    drop_pg_database(pg_url, PGBENCH_DB)

    report(machine, measurements, pgbench_results, args, floors)
    return 0


def _per_tx_ms(cpu_s: float | None, transactions: int) -> str:
    return f"{cpu_s / transactions * 1000:.2f}" if cpu_s is not None and transactions else "-"


def _cores(cpu_s: float, wall_s: float) -> float:
    return cpu_s / wall_s if wall_s else 0.0


def report(
    machine: dict[str, str],
    measurements: list[Measurement],
    pgbench_results: list[PgbenchResult],
    args: argparse.Namespace,
    floors: list[PgbenchResult] | None = None,
) -> None:
    print("\nMachine")
    width = max(len(k) for k in machine)
    for key, value in machine.items():
        print(f"  {key:<{width}}  {value}")

    print(f"\nLedger transfers ({args.accounts} accounts, {args.seconds:g} s per measurement)")
    header = (
        f"  {'engine':<11} {'writers':>7} {'tps':>8} {'p50 ms':>8} {'p99 ms':>8}"
        f" {'committed':>9} {'refused':>7} {'errors':>6}"
        f" {'client CPU':>10} {'server CPU':>10} {'CPU busy':>8} {'other':>6}"
    )
    print(header)
    print("  " + "-" * (len(header) - 2))
    for m in measurements:
        print(
            f"  {m.engine:<11} {m.writers:>7} {m.tps:>8,.0f} {m.p50_ms:>8.2f} {m.p99_ms:>8.2f}"
            f" {m.committed:>9} {m.refused:>7} {m.errors:>6}"
            f" {_per_tx_ms(m.client_cpu_s, m.committed):>10}"
            f" {_per_tx_ms(m.server_cpu_s, m.committed):>10} {m.machine_busy:>8.0%}"
            f" {m.other_cores:>6.2f}"
        )

    by_writers = {m.writers: m for m in measurements if m.engine == "postgresql"}
    for floor in floors or []:
        print(
            f"  {'pgbench fn':<11} {floor.clients:>7} {floor.tps:>8,.0f}"
            f" {floor.latency_ms:>8.2f} {'-':>8} {floor.transactions:>9} {0:>7} {0:>6}"
            f" {_per_tx_ms(floor.client_cpu_s, floor.transactions):>10}"
            f" {_per_tx_ms(floor.server_cpu_s, floor.transactions):>10}"
            f" {floor.machine_busy:>8.0%} {floor.other_cores:>6.2f}"
        )
    if floors:
        print(
            "  (postgresql (driver): the same transfers on plain psycopg connections, no"
            " SQLAlchemy, no service;\n   pgbench fn: pgbench calling ssa_post_transaction,"
            " a C client; p50 column: average latency)"
        )
    if pgbench_results:
        print("\npgbench TPC-B on the same server")
        header = (
            f"  {'clients':>7} {'jobs':>4} {'tps':>8} {'latency ms':>10}"
            f" {'client CPU':>10} {'server CPU':>10} {'CPU busy':>8} {'other':>6}"
            f" {'ssa tps':>8} {'ratio':>6}"
        )
        print(header)
        print("  " + "-" * (len(header) - 2))
        for r in pgbench_results:
            ssa = by_writers.get(r.clients)
            ratio = f"{ssa.tps / r.tps:>6.2f}" if ssa else f"{'-':>6}"
            ssa_tps = f"{ssa.tps:>8,.0f}" if ssa else f"{'-':>8}"
            print(
                f"  {r.clients:>7} {r.jobs:>4} {r.tps:>8,.0f} {r.latency_ms:>10.2f}"
                f" {_per_tx_ms(r.client_cpu_s, r.transactions):>10}"
                f" {_per_tx_ms(r.server_cpu_s, r.transactions):>10}"
                f" {r.machine_busy:>8.0%} {r.other_cores:>6.2f}"
                f" {ssa_tps} {ratio}"
            )
        eight = next((r for r in pgbench_results if r.clients == 8), None)
        if eight is not None and 8 in by_writers:
            target_ratio = by_writers[8].tps / eight.tps
            verdict = "met" if target_ratio >= 0.5 else "NOT met"
            print(
                f"  target: ssa (8 writers) >= 0.5 x pgbench (-c 8): {target_ratio:.2f}, {verdict}"
            )
    print(
        "\n  client CPU: CPU ms per committed transaction in the writer processes (pgbench);"
        "\n  server CPU: CPU ms per committed transaction in the PostgreSQL backends serving"
        "\n  them (local server only; WAL writer, checkpointer and autovacuum not counted);"
        "\n  CPU busy: share of all the machine's CPUs busy during the measurement;"
        "\n  other: CPU cores busy meanwhile with anything else than the clients, their"
        "\n  backends and PostgreSQL's background processes: other programs, other"
        "\n  databases, the kernel's interrupt work."
    )
    disturbed = [m.other_cores for m in measurements] + [r.other_cores for r in pgbench_results]
    if any(cores >= DISTURBED_CORES for cores in disturbed):
        print(
            f"  WARNING: {sum(c >= DISTURBED_CORES for c in disturbed)} measurement(s) shared"
            f" the machine with other work (other >= {DISTURBED_CORES}): their figures are"
            " low;\n  run again when the machine is otherwise idle."
        )

    print()
    for m in measurements:
        print(
            f"ledger engine={m.engine} writers={m.writers} tps={m.tps:.1f}"
            f" p50_ms={m.p50_ms:.3f} p99_ms={m.p99_ms:.3f} committed={m.committed}"
            f" refused={m.refused} errors={m.errors} seconds={m.wall_s:.2f}"
            f" client_cpu_ms={_per_tx_ms(m.client_cpu_s, m.committed)}"
            f" server_cpu_ms={_per_tx_ms(m.server_cpu_s, m.committed)}"
            f" cpu_busy={m.machine_busy:.2f} other_cores={m.other_cores:.2f}"
            f" other_db_cores={_cores(m.foreign_cpu_s, m.wall_s):.2f}"
        )
    eight_tps = next((r.tps for r in pgbench_results if r.clients == 8), None)
    for floor in floors or []:
        ratio = f" ratio={floor.tps / eight_tps:.3f}" if eight_tps else ""
        print(
            f"floor name=pgbench-function clients={floor.clients} tps={floor.tps:.1f}{ratio}"
            f" client_cpu_ms={_per_tx_ms(floor.client_cpu_s, floor.transactions)}"
            f" server_cpu_ms={_per_tx_ms(floor.server_cpu_s, floor.transactions)}"
            f" other_cores={floor.other_cores:.2f}"
        )
    for m in measurements:
        if m.engine == "postgresql (driver)":
            ratio = f" ratio={m.tps / eight_tps:.3f}" if eight_tps else ""
            print(f"floor name=driver writers={m.writers} tps={m.tps:.1f}{ratio}")
    for r in pgbench_results:
        ssa = by_writers.get(r.clients)
        ratio = f" ratio={ssa.tps / r.tps:.3f}" if ssa else ""
        print(
            f"pgbench clients={r.clients} jobs={r.jobs} tps={r.tps:.1f}{ratio}"
            f" latency_ms={r.latency_ms:.3f}"
            f" client_cpu_ms={_per_tx_ms(r.client_cpu_s, r.transactions)}"
            f" server_cpu_ms={_per_tx_ms(r.server_cpu_s, r.transactions)}"
            f" cpu_busy={r.machine_busy:.2f} other_cores={r.other_cores:.2f}"
            f" other_db_cores={_cores(r.foreign_cpu_s, r.wall_s):.2f}"
        )


if __name__ == "__main__":
    sys.exit(main())
