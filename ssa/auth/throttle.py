"""Slowing, then locking, repeated failed password logins per account and per address."""

from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from ssa.auth.models import LoginThrottle
from ssa.settings import Settings
from ssa.timeutil import utcnow

MAX_SLOWDOWN_SECONDS = 60


def _subjects(email: str, address: str | None) -> list[str]:
    subjects = [f"account:{email.strip().lower()}"]
    if address:
        subjects.append(f"address:{address}")
    return subjects


def locked_until(db_session: Session, *, email: str, address: str | None) -> datetime | None:
    """When the account or the address may try again, if it may not now."""
    now = utcnow()
    rows = db_session.exec(
        select(LoginThrottle.locked_until).where(
            col(LoginThrottle.subject).in_(_subjects(email, address))
        )
    ).all()
    waits = [until for until in rows if until is not None and until > now]
    return max(waits) if waits else None


def _row(db_session: Session, subject: str) -> LoginThrottle:
    """The subject's row, created if need be, locked until the end of the transaction:
    the attempts on one account are made one after the other, each seeing the failures
    of those before it (parallel guesses cannot all be checked before any is counted)."""
    query = (
        select(LoginThrottle)
        .where(col(LoginThrottle.subject) == subject)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    row = db_session.exec(query).first()
    if row is not None:
        return row
    try:
        with db_session.begin_nested():
            db_session.add(LoginThrottle(subject=subject))
            db_session.flush()
    except IntegrityError:  # another attempt created it at the same moment
        pass
    return db_session.exec(query).one()


def hold_account(db_session: Session, *, email: str) -> None:
    """Take the account's turn: until this attempt's transaction ends, another attempt on
    the same account waits here (before its throttle check and its password check)."""
    _row(db_session, _subjects(email, None)[0])


def record_failure(
    db_session: Session, *, email: str, address: str | None, settings: Settings
) -> None:
    """Count a failure: after a few, each try waits longer; after many, a long lock."""
    now = utcnow()
    quiet = timedelta(minutes=settings.login_lock_minutes)
    for subject in _subjects(email, address):
        row = _row(db_session, subject)
        if row.last_failure_at is not None and now - row.last_failure_at >= quiet:
            row.failures = 0  # a lock's length without failures: the count starts again
        row.failures += 1
        row.last_failure_at = now
        if subject.startswith("account:"):
            slow_after, lock_after = settings.login_slow_after, settings.login_lock_after
        else:  # an address may be shared (a fund's office, a library): more room
            slow_after, lock_after = settings.address_slow_after, settings.address_lock_after
        if row.failures >= lock_after:
            row.locked_until = now + timedelta(minutes=settings.login_lock_minutes)
        elif row.failures >= slow_after:
            wait = min(2 ** (row.failures - slow_after), MAX_SLOWDOWN_SECONDS)
            row.locked_until = now + timedelta(seconds=wait)
        db_session.add(row)
    db_session.flush()


def record_success(db_session: Session, *, email: str) -> None:
    row = db_session.exec(
        select(LoginThrottle).where(
            col(LoginThrottle.subject) == f"account:{email.strip().lower()}"
        )
    ).first()
    if row is not None:
        row.failures = 0
        row.locked_until = None
        db_session.add(row)
        db_session.flush()


def unlock(db_session: Session, *, email: str) -> bool:
    """Forget an account's failed logins (its lock included); whether there were any."""
    row = db_session.exec(
        select(LoginThrottle).where(col(LoginThrottle.subject) == _subjects(email, None)[0])
    ).first()
    if row is None or (row.failures == 0 and row.locked_until is None):
        return False
    row.failures, row.locked_until = 0, None
    db_session.add(row)
    db_session.flush()
    return True
