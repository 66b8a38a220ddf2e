"""Engine, sessions and the unit of work: one database transaction per request or command."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import Request
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError, InvalidatePoolError
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection
from sqlmodel import Session, SQLModel

from ssa.problems import Problem
from ssa.settings import Settings

# Stable constraint names, so that migrations can name what they create and drop.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = SQLModel.metadata
metadata.naming_convention = NAMING_CONVENTION


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(settings: Settings) -> Engine:
    """Create the engine; SQLite gets WAL, foreign keys and `BEGIN IMMEDIATE` writes."""
    # Every table mapped before the ORM is used, whatever the entry point (the app, the CLI,
    # a benchmark) imported: the foreign keys between domains name tables by their names.
    import ssa.models  # noqa: F401 (ssa.models imports this module)

    url = settings.database_url
    if is_sqlite(url):
        engine = create_engine(
            url,
            connect_args={
                "check_same_thread": False,
                "timeout": settings.sqlite_busy_timeout_ms / 1000,
            },
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
        )
        _configure_sqlite(engine, settings.sqlite_busy_timeout_ms)
        return engine
    ping_after = settings.database_ping_after_idle_seconds
    engine = create_engine(
        url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        # The most recently used first: under light load the same few connections serve
        # (and need no idle ping); the others age out of use.
        pool_use_lifo=True,
        pool_pre_ping=ping_after <= 0,
    )
    if ping_after > 0:
        _ping_when_idle(engine, ping_after)
    return engine


def _ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Test a pooled connection before use only if it sat idle for `idle_seconds` or more.

    `pool_pre_ping` costs a round trip (and client CPU) on every checkout, that is on
    every request and unit of work. A connection used a moment ago is unlikely to have
    died; one that sat idle may have been closed by the server, a restart or a firewall,
    and is tested as `pool_pre_ping` would. A connection the driver already knows to be
    broken is replaced without a round trip. If the server restarts while connections are
    busy, the first statement that meets a dead one fails, and SQLAlchemy then invalidates
    the whole pool (its disconnect handling), so later checkouts reconnect.
    """
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["ssa_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(
        dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
    ) -> None:
        if getattr(dbapi_connection, "broken", False) or getattr(dbapi_connection, "closed", False):
            raise DisconnectionError("the connection was lost")
        idle_since = record.info.get("ssa_idle_since")
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            # The server went away: the other pooled connections are likely dead too.
            raise InvalidatePoolError("the server did not answer a ping") from exc


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, say when a transaction begins.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_connection: Any, _record: Any) -> None:
        # A COMMIT refused by a deferred foreign key leaves SQLite's transaction open,
        # and the pool skips its reset after a commit attempt: end it here.
        if dbapi_connection.in_transaction:
            dbapi_connection.rollback()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Take the write lock up front: two writers never both read a balance and then
        # fail to upgrade their lock half-way through (SQLITE_BUSY without waiting).
        connection.exec_driver_sql("BEGIN IMMEDIATE")


# Set in the ASGI scope of a HEAD request answered as a GET (ssa.app): it writes nothing.
HEAD_REQUEST = "ssa.head"


@contextmanager
def unit_of_work(engine: Engine, *, writes: bool = True) -> Iterator[Session]:
    """A session whose work is committed once at the end, or rolled back on any error (or
    always, when it `writes` nothing: a HEAD request)."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            if writes:
                session.commit()
            else:
                session.rollback()
        except Problem as problem:
            if problem.keeps_changes:
                session.commit()
            else:
                session.rollback()
            raise
        except BaseException:
            session.rollback()
            raise


def get_db_session(request: Request) -> Iterator[Session]:
    """FastAPI dependency (use with scope="function"): commits before the response is sent."""
    writes = not request.scope.get(HEAD_REQUEST, False)
    with unit_of_work(request.app.state.engine, writes=writes) as session:
        yield session
