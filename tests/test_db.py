"""The engine's pool on PostgreSQL: connections idle for a while are tested before use."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from ssa.db import make_engine, unit_of_work
from ssa.settings import Settings


@pytest.fixture
def postgres_url(engine_kind: str, database_url: str) -> str:
    if engine_kind != "postgresql":
        pytest.skip("the idle ping is for PostgreSQL's pool")
    return database_url


def backend_pid(engine: Engine) -> int:
    with unit_of_work(engine) as session:
        return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def terminate(url: str, pid: int) -> None:
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        admin.dispose()
    time.sleep(0.2)  # let the backend go


def test_a_connection_idle_past_the_threshold_is_tested_and_replaced(postgres_url: str) -> None:
    engine = make_engine(
        Settings(
            database_url=postgres_url, database_pool_size=1, database_ping_after_idle_seconds=0.3
        )
    )
    try:
        first = backend_pid(engine)
        terminate(postgres_url, first)
        time.sleep(0.3)
        assert backend_pid(engine) != first  # pinged, found dead, replaced: no error
    finally:
        engine.dispose()


def test_a_recently_used_connection_is_not_pinged_and_a_dead_one_fails_once(
    postgres_url: str,
) -> None:
    """The trade-off: no round trip per checkout, but a connection that died while in
    recent use fails its first statement; the pool is then invalidated, and the next unit
    of work reconnects."""
    engine = make_engine(
        Settings(
            database_url=postgres_url, database_pool_size=2, database_ping_after_idle_seconds=60
        )
    )
    try:
        first = backend_pid(engine)
        terminate(postgres_url, first)
        with pytest.raises(OperationalError) as failed, unit_of_work(engine) as session:
            session.execute(text("SELECT 1"))
        assert failed.value.connection_invalidated
        assert backend_pid(engine) != first
    finally:
        engine.dispose()


def test_zero_pings_every_checkout_as_pool_pre_ping(postgres_url: str) -> None:
    engine = make_engine(
        Settings(
            database_url=postgres_url, database_pool_size=1, database_ping_after_idle_seconds=0
        )
    )
    try:
        first = backend_pid(engine)
        terminate(postgres_url, first)
        assert backend_pid(engine) != first
    finally:
        engine.dispose()


def test_an_engine_maps_every_table_whatever_the_entry_point_imported(tmp_path: Path) -> None:
    """A command that imports only some domains (`ssa demo` did) still resolves the foreign
    keys between domains: making an engine maps every table. Run in a fresh interpreter,
    where nothing else has imported the models."""
    code = (
        "from ssa.db import make_engine\n"
        "from ssa.settings import Settings\n"
        "from ssa.outlets.models import OutletStatusChange\n"
        f"make_engine(Settings(database_url='sqlite:///{tmp_path / 'x.db'}'))\n"
        "(key,) = OutletStatusChange.__table__.c.proposal_id.foreign_keys\n"
        "print(key.column.table.name)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "proposal"
