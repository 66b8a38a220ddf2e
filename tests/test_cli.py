"""The `ssa` command's refusals: a line and an exit code, never a traceback."""

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlmodel import Session, col, select

from ssa.auth.models import User
from ssa.cli import main
from ssa.db import make_engine
from ssa.settings import Settings, get_settings


@pytest.fixture
def runner(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("SSA_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def refused(result: Result, exit_code: int) -> str:
    """The output of a command that ended with `exit_code` by itself (no exception)."""
    assert result.exit_code == exit_code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.output


def users_named(database_url: str, email: str) -> int:
    engine = make_engine(Settings(database_url=database_url))
    try:
        with Session(engine) as session:
            return len(session.exec(select(User).where(col(User.email) == email)).all())
    finally:
        engine.dispose()


def test_admin_create_refuses_what_the_api_refuses(runner: CliRunner, database_url: str) -> None:
    for email in ("notanemail", ""):
        args = ["admin", "create", "--email", email, "--password", "long enough pass 42"]
        assert "not an email address" in refused(runner.invoke(main, args), 2)
        assert users_named(database_url, email) == 0
    email = f"admin-{uuid.uuid4().hex[:8]}@example.org"
    weak = runner.invoke(main, ["admin", "create", "--email", email, "--password", "short"])
    assert "password" in refused(weak, 1).lower()
    assert users_named(database_url, email) == 0
    made = runner.invoke(
        main, ["admin", "create", "--email", email, "--password", "a good pass 42"]
    )
    assert made.exit_code == 0, made.output
    again = runner.invoke(
        main, ["admin", "create", "--email", email, "--password", "another pass 42"]
    )
    assert again.exit_code == 0
    assert "an existing user" in again.output  # said, not done silently


def test_a_database_not_migrated_is_said_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSA_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    get_settings.cache_clear()
    try:
        for args in (["ledger", "check"], ["assembly", "close-due"]):
            output = refused(CliRunner().invoke(main, args), 1)
            assert "ssa db upgrade" in output, args
    finally:
        get_settings.cache_clear()


def test_numbers_out_of_range_are_refused(runner: CliRunner) -> None:
    purge = ["idempotency", "purge", "--older-than-hours", "99999999999999999"]
    refused(runner.invoke(main, purge), 2)
    # `serve` in a process of its own: a port out of range used to start a server on
    # another port (99999 wrapped to 34463), which the timeout would stop here.
    for args in (["--port", "99999"], ["--workers", "0"]):
        served = subprocess.run(
            [sys.executable, "-m", "ssa", "serve", *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert served.returncode == 2, served.stderr
        assert "Traceback" not in served.stderr


def test_admin_unlock_lifts_a_login_lock(runner: CliRunner, database_url: str) -> None:
    """Anyone may lock an account by failing its password ten times: the administrator
    lifts the lock (the owner would otherwise wait, or be kept out by one try each time)."""
    from ssa.auth.login import TooManyFailures, WrongCredentials, authenticate_password

    email = f"locked-{uuid.uuid4().hex[:8]}@example.org"
    made = runner.invoke(main, ["admin", "create", "--email", email, "--password", "right pass 42"])
    assert made.exit_code == 0, made.output
    settings = Settings(database_url=database_url)
    engine = make_engine(settings)

    def attempt(password: str) -> str:
        with Session(engine) as session:  # a refused login keeps its failure: committed
            try:
                authenticate_password(
                    db_session=session,
                    email=email,
                    password=password,
                    address=None,
                    settings=settings,
                )
                return "ok"
            except TooManyFailures:
                return "locked"
            except WrongCredentials:
                return "wrong"
            finally:
                session.commit()

    try:
        from sqlalchemy import update

        from ssa.auth.models import LoginThrottle

        for _ in range(10):
            attempt("wrong password")
            with Session(engine) as session:  # no waiting between tries in a test
                session.exec(
                    update(LoginThrottle)
                    .where(col(LoginThrottle.failures) < 10)
                    .values(locked_until=None)
                )  # type: ignore[call-overload]
                session.commit()
        assert attempt("right pass 42") == "locked"
        unlocked = runner.invoke(main, ["admin", "unlock", "--email", email])
        assert unlocked.exit_code == 0, unlocked.output
        assert "unlocked" in unlocked.output
        assert attempt("right pass 42") == "ok"
        again = runner.invoke(main, ["admin", "unlock", "--email", email])
        assert "not locked" in again.output
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("SSA_DATABASE_URL", "bogus://x", "SSA_DATABASE_URL: Can't load plugin"),
        ("SSA_DATABASE_URL", "not a url", "SSA_DATABASE_URL: Could not parse"),
        ("SSA_DATABASE_POOL_SIZE", "many", "SSA_DATABASE_POOL_SIZE: Input should be"),
    ],
)
def test_a_setting_that_cannot_be_used_is_said_so(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, name: str, value: str, said: str
) -> None:
    monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    output = refused(runner.invoke(main, ["ledger", "check"]), 1)
    assert output.startswith(f"configuration error: {said}"), output
