"""Password login: the one check that the token endpoint and the login page both use.

Throttled per account and per address (`ssa.auth.throttle`); an unknown account costs the
same argon2 verification as a known one, and every failure is counted.
"""

from datetime import datetime

from sqlmodel import Session

from ssa.auth import throttle
from ssa.auth.models import User
from ssa.auth.passwords import verify_password
from ssa.auth.service import find_user_by_email
from ssa.settings import Settings


class WrongCredentials(Exception):
    """Wrong email or password, or a disabled account (the caller cannot tell which)."""


class TooManyFailures(Exception):
    """The account or the address failed too often: no try is checked before `until`."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"locked until {until.isoformat()}")
        self.until = until


def authenticate_password(
    *, db_session: Session, email: str, password: str, address: str | None, settings: Settings
) -> User:
    """The active user with this email and password; a failure is counted (and must be
    committed even though the login is refused)."""
    # Refused while slowed or locked, before anything is written; then the account's turn
    # (attempts on one account one after the other), and the same check under it.
    for hold in (False, True):
        if hold:
            throttle.hold_account(db_session, email=email)
        until = throttle.locked_until(db_session, email=email, address=address)
        if until is not None:
            raise TooManyFailures(until)
    user = find_user_by_email(db_session=db_session, email=email)
    ok = verify_password(password, user.password_hash if user else None)
    if user is None or not ok or not user.is_active:
        throttle.record_failure(db_session, email=email, address=address, settings=settings)
        raise WrongCredentials()
    throttle.record_success(db_session, email=email)
    return user
