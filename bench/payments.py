"""Sustained payments per second through HTTP, against PostgreSQL, with pgbench beside it.

The real thing end to end: `ssa serve --workers 2` in its own process group, till
terminals with OAuth2 client-credential tokens, and a load generator on the same machine
(several processes, each a uvloop event loop with an `aiohttp` client keeping its
connections alive) paying one cent at a time from many households, each request with
its own Idempotency-Key. Then pgbench TPC-B on the same PostgreSQL server, for the ratio.

    .venv/bin/python bench/payments.py --seconds 20
    .venv/bin/python bench/payments.py --seconds 20 --profile /tmp/ssa-profile

With --profile, py-spy samples every server worker during the run (raw collapsed stacks
and an SVG flame graph per worker) and a summary of where the time goes is printed.
The last line is machine-readable:
`payments tps=... p50_ms=... p99_ms=... errors=... pgbench_tps=... ratio=...`.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import uvloop
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/ssa_bench_payments"
PGBENCH_DB = "ssa_pgbench_payments"
PGBENCH_SCALE = 10
SECRET_KEY = "bench-secret-key-not-for-production-0123456789"  # noqa: S105
PIN = "2468"
REGISTER_CHUNK = 250  # households registered per database transaction


# --- Set-up -------------------------------------------------------------------------


def recreate_database(url: URL) -> None:
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()


def build(
    database_url: str, households: int, outlets: int
) -> tuple[list[str], list[tuple[str, str]]]:
    """A migrated database with one fund, `outlets` accredited outlets with one till each
    (two tills when there is one outlet), and `households` households with this month's
    credits and a PIN. Returns the member numbers and the tills' (client_id, client_secret)."""
    os.environ["SSA_SECRET_KEY"] = SECRET_KEY
    from ssa import migrations
    from ssa.db import make_engine, unit_of_work
    from ssa.funds.service import create_fund, current_period, fund_today
    from ssa.households.contributions import record_contribution, record_grant
    from ssa.households.models import ContributionMethod
    from ssa.households.schemas import AddressIn, DeclaredIn, HouseholdIn, PersonIn
    from ssa.households.service import pin_digest, register
    from ssa.issuance import periods
    from ssa.issuance.service import issue_period
    from ssa.outlets.models import OutletCategory, OutletStatus
    from ssa.outlets.schemas import AddressIn as OutletAddress
    from ssa.outlets.schemas import OutletIn
    from ssa.outlets.service import create_terminal, register_outlet, set_status
    from ssa.settings import Settings

    migrations.upgrade(database_url)
    settings = Settings(database_url=database_url, secret_key=SECRET_KEY)
    engine = make_engine(settings)
    this = current_period()
    previous = periods.shift(this, -1)
    with unit_of_work(engine) as session:
        fund = create_fund(db_session=session, slug="bench", name="Bench fund")
        record_grant(
            db_session=session,
            fund_id=fund.id,
            funder="Département",
            amount_cents=households * 20_000,
            received_on=fund_today(),
            reference=None,
            actor="system:bench",
        )
        fund_id = fund.id
    numbers: list[str] = []
    made = 0
    while made < households:
        with unit_of_work(engine) as session:
            for _ in range(min(REGISTER_CHUNK, households - made)):
                household, _tokens = register(
                    db_session=session,
                    fund_id=fund_id,
                    household_in=HouseholdIn(
                        persons=[
                            PersonIn(
                                given_name="Bench",
                                family_name="Member",
                                birth_date=date(1980, 5, 17),
                            )
                        ],
                        address=AddressIn(
                            line1="1 rue du Marché", postcode="33000", city="Bordeaux"
                        ),
                        declared=DeclaredIn(
                            monthly_income_cents=120_000,
                            housing_costs_cents=50_000,
                            other_fixed_costs_cents=10_000,
                            food_budget_cents=30_000,
                        ),
                        chosen_contribution_cents=1_000,
                    ),
                    actor="system:bench",
                    settings=settings,
                    today=periods.first_day(previous),
                )
                for period in (previous, this):
                    record_contribution(
                        db_session=session,
                        fund_id=fund_id,
                        household_id=household.id,
                        period=period,
                        amount_cents=1_000,
                        method=ContributionMethod.transfer,
                        received_on=fund_today(),
                        actor="system:bench",
                    )
                salt = uuid.uuid4().hex
                household.pin_salt = salt
                household.pin_hash = pin_digest(SECRET_KEY, salt, PIN)
                session.add(household)
                numbers.append(household.member_number)
                made += 1
        print(f"  households: {made}/{households}", end="\r", flush=True)
    print()
    with unit_of_work(engine) as session:
        summary = issue_period(db_session=session, fund_id=fund_id, period=this)
        print(
            f"  issued {summary.total_cents / 100:.2f} EUR"
            f" to {summary.households_issued} households"
        )
    tills: list[tuple[str, str]] = []
    with unit_of_work(engine) as session:
        for index in range(outlets):
            outlet = register_outlet(
                db_session=session,
                outlet_in=OutletIn(
                    name=f"Bench outlet {index + 1}",
                    siret=valid_siret(index + 1),
                    iban="FR7630006000011234567890189",
                    address=OutletAddress(line1="Marché", postcode="33000", city="Bordeaux"),
                    category=OutletCategory.grocer,
                ),
                actor="system:bench",
                request_id=None,
            )
            set_status(
                db_session=session,
                fund_id=fund_id,
                outlet_id=outlet.id,
                status=OutletStatus.accredited,
                actor="system:bench",
                decision_reference="bench",
            )
        session.flush()
    with unit_of_work(engine) as session:
        from sqlmodel import select

        from ssa.outlets.models import Outlet

        outlet_ids = [o.id for o in session.exec(select(Outlet).order_by(Outlet.name)).all()]
    with unit_of_work(engine) as session:
        # One till per outlet, and at least two (two terminals at one outlet by default).
        for index in range(max(2, len(outlet_ids))):
            row, secret = create_terminal(
                db_session=session,
                outlet_id=outlet_ids[index % len(outlet_ids)],
                label=f"Till {index + 1}",
                actor="system:bench",
                request_id=None,
            )
            tills.append((row.client_id, secret))
    engine.dispose()
    return numbers, tills


def valid_siret(seed: int) -> str:
    from stdnum import luhn

    siren = f"{seed:08d}"
    siren += luhn.calc_check_digit(siren)
    body = siren + "0001"
    return body + luhn.calc_check_digit(body)


# --- The server ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_server(database_url: str, workers: int, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SSA_DATABASE_URL": database_url,
        "SSA_SECRET_KEY": SECRET_KEY,
        "SSA_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "ssa", "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            raise SystemExit("the server stopped while starting")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise SystemExit("the server did not get ready in 120 s (migrations at head?)")
        time.sleep(0.2)


def worker_pids(server_pid: int) -> list[int]:
    """The uvicorn worker processes (children of the supervisor)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        cmdline = (entry / "cmdline").read_bytes()
        if parent == server_pid and b"multiprocessing" in cmdline:
            found.append(int(entry.name))
    return sorted(found) or [server_pid]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes used so far (those gone count for nothing)."""
    return sum(seconds for pid in pids if (seconds := cpu_of(pid)) is not None)


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy so far (all processes, from /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


# --- The load -----------------------------------------------------------------------


@dataclass
class LoadResult:
    ok: int = 0
    errors: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    first_error: str = ""
    cpu_s: float = 0.0  # the load processes' own CPU time in the measured window


def load_process(
    base: str,
    tokens: list[str],
    numbers: list[str],
    concurrency: int,
    warmup_s: float,
    seconds: float,
    start_at: float,
    seed: int,
    queue: Any,
) -> None:
    # uvloop and aiohttp's C parser: the load generator shares the machine with the server
    # and should take as little of it as it can (httpx took ~2 ms of CPU per request).
    result = uvloop.run(
        _load(base, tokens, numbers, concurrency, warmup_s, seconds, start_at, seed)
    )
    queue.put(result)


async def _load(
    base: str,
    tokens: list[str],
    numbers: list[str],
    concurrency: int,
    warmup_s: float,
    seconds: float,
    start_at: float,
    seed: int,
) -> LoadResult:
    rng = random.Random(seed)
    result = LoadResult()
    measure_from = start_at + warmup_s
    stop_at = measure_from + seconds
    prefix = uuid.uuid4().hex[:12]
    counter = 0
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    url = f"{base}/api/v1/payments"
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        while time.time() < start_at:
            await asyncio.sleep(0.01)

        async def payer(slot: int) -> None:
            nonlocal counter
            authorization = f"Bearer {tokens[slot % len(tokens)]}"
            while True:
                began = time.time()
                if began >= stop_at:
                    return
                clock_began = time.perf_counter()
                counter += 1
                body = {"member_number": rng.choice(numbers), "amount_cents": 1, "pin": PIN}
                headers = {"Authorization": authorization, "Idempotency-Key": f"{prefix}-{counter}"}
                try:
                    async with http.post(url, json=body, headers=headers) as answer:
                        status = answer.status
                        detail = await answer.text() if status != 201 else ""
                        if status == 201:
                            await answer.read()
                except Exception as exc:
                    status, detail = 0, f"{type(exc).__name__}: {exc}"
                took_ms = (time.perf_counter() - clock_began) * 1000
                ended = time.time()
                if began < measure_from or ended > stop_at:
                    continue  # warm-up, or finished after the window: not counted
                result.statuses[str(status)] += 1
                if status == 201:
                    result.ok += 1
                    result.latencies_ms.append(took_ms)
                else:
                    result.errors += 1
                    result.first_error = result.first_error or f"{status} {detail[:300]}"

        async def clock() -> None:
            await asyncio.sleep(max(0.0, measure_from - time.time()))
            began = time.process_time()
            await asyncio.sleep(max(0.0, stop_at - time.time()))
            result.cpu_s = time.process_time() - began

        await asyncio.gather(clock(), *(payer(slot) for slot in range(concurrency)))
    return result


def run_load(
    base: str,
    tokens: list[str],
    numbers: list[str],
    processes: int,
    concurrency: int,
    warmup_s: float,
    seconds: float,
) -> LoadResult:
    context = mp.get_context("fork")
    queue = context.Queue()
    start_at = time.time() + 1.0
    workers = [
        context.Process(
            target=load_process,
            args=(base, tokens, numbers, concurrency, warmup_s, seconds, start_at, seed, queue),
        )
        for seed in range(processes)
    ]
    for worker in workers:
        worker.start()
    total = LoadResult()
    for _ in workers:
        part: LoadResult = queue.get(timeout=warmup_s + seconds + 120)
        total.ok += part.ok
        total.errors += part.errors
        total.statuses.update(part.statuses)
        total.latencies_ms.extend(part.latencies_ms)
        total.first_error = total.first_error or part.first_error
        total.cpu_s += part.cpu_s
    for worker in workers:
        worker.join()
    return total


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def backend_pids(database_url: str) -> list[int]:
    """The PostgreSQL backends serving the bench's database (the server's connections)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return list(
                connection.execute(
                    text(
                        "SELECT pid FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).scalars()
            )
    finally:
        engine.dispose()


def cpu_of(pid: int) -> float | None:
    """User + system CPU seconds of one process so far, None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


class CpuWindow(threading.Thread):
    """The workers', their PostgreSQL backends' and the machine's CPU time during the
    measured window (a backend that exits meanwhile is left out: its time is lost)."""

    def __init__(self, pids: list[int], database_url: str, delay: float, seconds: float) -> None:
        super().__init__(daemon=True)
        self.pids, self.delay, self.seconds = pids, delay, seconds
        self.database_url = database_url
        self.workers_cpu = 0.0
        self.postgres_cpu = 0.0
        self.machine_busy = 0.0

    def run(self) -> None:
        time.sleep(self.delay)
        backends = backend_pids(self.database_url)
        before = {pid: cpu_of(pid) for pid in backends}
        workers, busy = cpu_seconds(self.pids), machine_busy_seconds()
        time.sleep(self.seconds)
        self.workers_cpu = cpu_seconds(self.pids) - workers
        self.machine_busy = machine_busy_seconds() - busy
        after = {pid: cpu_of(pid) for pid in backends}
        measured = [
            end - start
            for pid, start in before.items()
            if start is not None and (end := after[pid]) is not None
        ]
        # Not on this machine (no /proc entry): not measured.
        self.postgres_cpu = sum(measured) if measured else float("nan")


# --- pgbench ------------------------------------------------------------------------


def find_pgbench() -> str:
    found = shutil.which("pgbench")
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"), reverse=True):
        return str(candidate)
    raise SystemExit("pgbench not found")


def pgbench(url: URL, seconds: float, clients: int, jobs: int) -> float:
    binary = find_pgbench()
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = url.password
    args = [
        "-h",
        url.host or "127.0.0.1",
        "-p",
        str(url.port or 5432),
        "-U",
        url.username or "postgres",
    ]
    recreate_database(url.set(database=PGBENCH_DB))
    subprocess.run(
        [binary, *args, "-i", "-s", str(PGBENCH_SCALE), "-q", PGBENCH_DB],
        env=env,
        check=True,
        capture_output=True,
    )
    run = subprocess.run(
        [binary, *args, "-c", str(clients), "-j", str(jobs), "-T", str(int(seconds)), PGBENCH_DB],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    match = re.search(r"tps = ([0-9.]+)", run.stdout)
    if match is None:
        raise RuntimeError(run.stdout + run.stderr)
    return float(match.group(1))


# --- Profile ------------------------------------------------------------------------


def start_profilers(
    pids: list[int], seconds: float, directory: Path, gil_only: bool = False
) -> list[subprocess.Popen[bytes]]:
    """One py-spy sampler per worker, writing collapsed stacks (flamegraph.pl's input).
    `gil_only`: only the thread holding the GIL is sampled (where Python CPU goes)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    directory.mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(
            [
                spy,
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(int(seconds)),
                "--rate",
                "200",
                "--format",
                "raw",
                "--nonblocking",
                *(["--gil"] if gil_only else []),
                "-o",
                str(directory / f"worker-{pid}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in pids
    ]


def summarise_profile(directory: Path, top: int = 25) -> list[str]:
    """Inclusive share of samples per frame (function and file), from collapsed stacks."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for raw in directory.glob("worker-*.txt"):
        for line in raw.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not count_text.isdigit():
                continue
            count = int(count_text)
            frames = [_short(frame) for frame in stack.split(";")]
            total += count
            for frame in set(frames):
                inclusive[frame] += count
            own[frames[-1]] += count
    if not total:
        return ["no samples"]
    lines = [f"samples: {total}", "inclusive (share of all samples):"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in inclusive.most_common(top)]
    lines += ["self:"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    return lines


def _short(frame: str) -> str:
    # "function (path/to/module.py:123)" -> "function (module path from site-packages)"
    match = re.match(r"(.*) \((.*?):\d+\)$", frame)
    if not match:
        return frame
    function, path = match.groups()
    for marker in ("site-packages/", "/main/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{function} ({path})"


# --- Main ---------------------------------------------------------------------------


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()},"
        f" Python {platform.python_version()}"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--url", default=os.environ.get("SSA_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    )
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--households", type=int, default=2_000)
    parser.add_argument(
        "--outlets",
        type=int,
        default=1,
        help="accredited outlets, one till each (two at a single outlet)",
    )
    parser.add_argument("--workers", type=int, default=2, help="ssa serve --workers")
    parser.add_argument("--load-processes", type=int, default=2)
    parser.add_argument(
        "--concurrency", type=int, default=16, help="requests in flight per load process"
    )
    parser.add_argument("--pgbench-clients", type=int, default=8)
    parser.add_argument("--pgbench-jobs", type=int, default=2)
    parser.add_argument("--no-pgbench", action="store_true")
    parser.add_argument(
        "--profile", type=Path, default=None, help="py-spy the workers into this directory"
    )
    parser.add_argument(
        "--profile-gil",
        action="store_true",
        help="with --profile: sample only the thread holding the GIL (Python CPU)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = make_url(args.url)
    print(f"machine: {machine()}")
    print(
        f"[setup] {args.households} households, {args.outlets} outlet(s),"
        f" {max(2, args.outlets)} tills, database {url.database}"
    )
    began = time.monotonic()
    recreate_database(url)
    database_url = url.render_as_string(hide_password=False)
    numbers, tills = build(database_url, args.households, args.outlets)
    print(f"  set up in {time.monotonic() - began:.1f} s")
    port = free_port()
    server = start_server(database_url, args.workers, port)
    base = f"http://127.0.0.1:{port}"
    try:
        tokens = []
        for client_id, secret in tills:
            answer = httpx.post(
                f"{base}/api/v1/auth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": client_id,
                    "client_secret": secret,
                },
                timeout=30,
            )
            answer.raise_for_status()
            tokens.append(answer.json()["access_token"])
        profilers: list[subprocess.Popen[bytes]] = []
        if args.profile is not None:
            pids = worker_pids(server.pid)
            print(f"[profile] py-spy on workers {pids} into {args.profile}")
            # Start sampling when the warm-up ends (1 s start delay + warm-up).
            delay = 1.0 + args.warmup

            def later() -> None:
                time.sleep(delay)
                profilers.extend(
                    start_profilers(pids, args.seconds, args.profile, gil_only=args.profile_gil)
                )

            threading.Thread(target=later, daemon=True).start()
        print(
            f"[payments] ssa serve --workers {args.workers}; {args.load_processes} load processes"
            f" x {args.concurrency} in flight;"
            f" {args.seconds:.0f} s after {args.warmup:.0f} s warm-up"
        )
        pids = worker_pids(server.pid)
        window = CpuWindow(pids, database_url, delay=1.0 + args.warmup, seconds=args.seconds)
        window.start()
        load = run_load(
            base, tokens, numbers, args.load_processes, args.concurrency, args.warmup, args.seconds
        )
        window.join()
        for profiler in profilers:
            profiler.wait(timeout=60)
    finally:
        stop_server(server)
    tps = load.ok / args.seconds
    p50 = percentile(load.latencies_ms, 0.50)
    p99 = percentile(load.latencies_ms, 0.99)
    print(f"  ok={load.ok} errors={load.errors} statuses={dict(load.statuses)}")
    if load.first_error:
        print(f"  first error: {load.first_error}")
    print(f"  {tps:.0f} payments/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    if load.ok:
        print(
            f"  server workers' CPU: {1000 * window.workers_cpu / load.ok:.2f} ms per payment"
            f" ({window.workers_cpu / args.seconds:.2f} cores);"
            f" whole machine busy {window.machine_busy / args.seconds:.2f} of"
            f" {os.cpu_count()} cores (other users included)"
        )
        print(
            f"  PostgreSQL's CPU: {1000 * window.postgres_cpu / load.ok:.2f} ms per payment;"
            f" the load generator's: {1000 * load.cpu_s / load.ok:.2f} ms per payment"
        )
    check = subprocess.run(
        [sys.executable, "-m", "ssa", "ledger", "check"],
        env={**os.environ, "SSA_DATABASE_URL": database_url, "SSA_SECRET_KEY": SECRET_KEY},
        capture_output=True,
        text=True,
        check=False,
    )
    print(f"  ledger check: {'clean' if check.returncode == 0 else 'FAILED'}")
    if check.returncode != 0:
        print(check.stdout + check.stderr)
    if args.profile is not None:
        print("[profile]")
        for line in summarise_profile(args.profile):
            print(line)
    pg_tps = float("nan")
    if not args.no_pgbench:
        print(
            f"[pgbench] TPC-B scale {PGBENCH_SCALE}, -c {args.pgbench_clients}"
            f" -j {args.pgbench_jobs}, {args.seconds:.0f} s"
        )
        pg_tps = pgbench(url, args.seconds, args.pgbench_clients, args.pgbench_jobs)
        print(f"  {pg_tps:.0f} tps")
    if not args.keep:
        admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for name in (url.database, PGBENCH_DB):
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    ratio = tps / pg_tps if pg_tps == pg_tps and pg_tps else float("nan")
    print(
        f"payments tps={tps:.0f} p50_ms={p50:.1f} p99_ms={p99:.1f} errors={load.errors}"
        f" pgbench_tps={pg_tps:.0f} ratio={ratio:.2f}"
    )
    return 0 if load.errors == 0 and check.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
