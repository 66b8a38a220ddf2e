"""Test fixtures: the same tests run on SQLite and on PostgreSQL, on schemas built by Alembic.

PostgreSQL is used when reachable at SSA_TEST_POSTGRES_URL (default: the local server);
with SSA_TEST_REQUIRE_POSTGRES=1 (as in CI) an unreachable server fails the run.
"""

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from ssa import migrations
from ssa.auth import passwords
from ssa.db import make_engine
from ssa.funds.models import Fund
from ssa.funds.service import create_fund
from ssa.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

# Tests hash many passwords: cheap argon2 parameters keep the suite fast (the hashes
# still carry their parameters, so verification is unchanged). Production keeps
# argon2-cffi's defaults.
passwords._hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)

# The app refuses PostgreSQL with the development key; tests use their own.
os.environ.setdefault("SSA_SECRET_KEY", "test-secret-key-not-for-production")

POSTGRES_ADMIN_URL = os.environ.get(
    "SSA_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("SSA_TEST_REQUIRE_POSTGRES") == "1"
ENGINES = ("sqlite", "postgresql")


def _postgres_reachable() -> bool:
    try:
        engine = create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


_POSTGRES_OK: bool | None = None


def postgres_available() -> bool:
    global _POSTGRES_OK
    if _POSTGRES_OK is None:
        _POSTGRES_OK = _postgres_reachable()
        if not _POSTGRES_OK and REQUIRE_POSTGRES:
            pytest.exit(f"PostgreSQL required but unreachable at {POSTGRES_ADMIN_URL}", 3)
    return _POSTGRES_OK


class Databases:
    """Creates empty databases of either engine and drops them at the end of the run."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.postgres_names: list[str] = []
        self.admin: Engine | None = None

    def empty(self, kind: str) -> str:
        if kind == "sqlite":
            return f"sqlite:///{self.tmp / f'ssa-{uuid.uuid4().hex[:12]}.db'}"
        if not postgres_available():
            pytest.skip("PostgreSQL is not reachable")
        if self.admin is None:
            self.admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        name = f"ssa_test_{os.getpid()}_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        self.postgres_names.append(name)
        return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    def migrated(self, kind: str) -> str:
        url = self.empty(kind)
        migrations.upgrade(url)
        return url

    def drop_all(self) -> None:
        if self.admin is None:
            return
        with self.admin.connect() as connection:
            for name in self.postgres_names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    dbs = Databases(tmp_path_factory.mktemp("databases"))
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session", params=ENGINES)
def engine_kind(request: pytest.FixtureRequest) -> str:
    """Which database engine the test runs on: every such test runs on both."""
    kind: str = request.param
    if kind == "postgresql" and not postgres_available():
        pytest.skip("PostgreSQL is not reachable")
    return kind


@pytest.fixture(scope="session")
def database_url(engine_kind: str, databases: Databases) -> str:
    """A migrated database shared by the session's tests; each test works in its own fund."""
    return databases.migrated(engine_kind)


@pytest.fixture
def fresh_database_url(engine_kind: str, databases: Databases) -> Callable[[], str]:
    """Makes new migrated databases of the current engine, for tests that break things."""
    return lambda: databases.migrated(engine_kind)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(Settings(database_url=database_url, database_pool_size=5))
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session; tests commit what they need, and what is left is rolled back."""
    with Session(engine, expire_on_commit=False) as db_session:
        yield db_session
        db_session.rollback()


@pytest.fixture
def fund(engine: Engine) -> Fund:
    """A new fund (committed) with its accounts, so tests never see each other's books."""
    with Session(engine, expire_on_commit=False) as db_session:
        created = create_fund(
            db_session=db_session, slug=f"test-{uuid.uuid4().hex[:10]}", name="Test fund"
        )
        db_session.commit()
        return created


# --- The app, users and tokens -------------------------------------------------------


@pytest.fixture
def app(database_url: str) -> Iterator["FastAPI"]:
    from ssa.app import create_app

    application = create_app(Settings(database_url=database_url))
    yield application
    application.state.engine.dispose()


@pytest.fixture
def client(app: "FastAPI") -> Iterator["TestClient"]:
    from fastapi.testclient import TestClient

    # Each test calls from its own address, so login throttling per address stays per test.
    address = f"192.0.2.{uuid.uuid4().int % 250 + 1}:{uuid.uuid4().int % 60000}"
    host, port = address.split(":")
    with TestClient(
        app, base_url="http://localhost", raise_server_exceptions=False, client=(host, int(port))
    ) as test_client:
        yield test_client


class People:
    """Makes users with roles and bearer headers for them, straight in the database."""

    def __init__(self, app: "FastAPI", engine: Engine) -> None:
        self.app = app
        self.engine = engine

    def user(
        self,
        *grants: tuple[str, uuid.UUID | None],
        password: str = "a long enough password",
        email: str | None = None,
    ) -> uuid.UUID:
        from ssa.auth.roles import Role
        from ssa.auth.service import create_user, grant_role

        with Session(self.engine, expire_on_commit=False) as db_session:
            user = create_user(
                db_session=db_session,
                email=email or f"{uuid.uuid4().hex[:12]}@example.org",
                display_name="Test user",
                password=password,
            )
            for role, scope in grants:
                outlet = Role(role) in (Role.manager, Role.cashier)
                grant_role(
                    db_session=db_session,
                    actor="system:test",
                    user_id=user.id,
                    role=Role(role),
                    fund_id=None if outlet else scope,
                    outlet_id=scope if outlet else None,
                )
            db_session.commit()
            return user.id

    def headers(self, user_id: uuid.UUID) -> dict[str, str]:
        token, _ = self.app.state.token_signer.issue(subject=f"user:{user_id}", roles=[])
        return {"Authorization": f"Bearer {token}"}

    def as_(self, *grants: tuple[str, uuid.UUID | None]) -> dict[str, str]:
        return self.headers(self.user(*grants))


@pytest.fixture
def people(app: "FastAPI", engine: Engine) -> People:
    return People(app, engine)
