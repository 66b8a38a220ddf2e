"""Who is looking at a page, and may they: the web session, read as the API reads tokens.

The session cookie holds only the user id (`ssa.auth.oidc.start_session`, used by both
logins); roles and household are read from the database on every request
(`load_principal`, the API's own), and pages check them with `Principal.has`, the API's
single rule, on the same scopes as the API routes.
"""

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from ssa.auth.deps import DbSession, Principal, Scope, load_principal
from ssa.auth.models import User
from ssa.auth.oidc import SESSION_USER, session_outlived
from ssa.auth.roles import FUND_ROLES, Role


class LoginRequired(Exception):
    """No web session: the visitor is sent to the login page, then back to `next`."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class PageForbidden(Exception):
    """Logged in, but this page is not theirs."""


class PageNotFound(Exception):
    """No such thing among what the visitor may see."""


class MonthRefused(Exception):
    """A month in the address that is not one (`2026-13`: 400), or that the page does not
    offer (404): refused in words, never answered for another month."""

    def __init__(self, period: str, status: int) -> None:
        super().__init__(period)
        self.period = period
        self.status = status


@dataclass(frozen=True)
class Viewer:
    """The logged-in person: their user, roles and household."""

    user: User
    principal: Principal

    @property
    def household_id(self) -> uuid.UUID | None:
        return next(iter(self.principal.household_ids), None)

    @property
    def till_outlet_ids(self) -> list[uuid.UUID]:
        """The outlets where this person takes payments (as cashier or manager)."""
        return sorted(
            {
                scope
                for role, scope in self.principal.grants
                if role in (Role.cashier, Role.manager) and scope is not None
            },
            key=str,
        )

    @property
    def fund_staff(self) -> bool:
        return bool(self.principal.fund_ids(*FUND_ROLES)) or self.principal.is_admin

    def works_at(self, outlet_id: uuid.UUID) -> bool:
        """The API's rule for an outlet's staff views (payments, refunds)."""
        scope = Scope(outlet_id=outlet_id)
        return any(self.principal.has(role, scope) for role in (Role.manager, Role.cashier))

    def home_path(self) -> str:
        """Where this person lands after login: their household, else their till, else
        the fund staff's pages."""
        if self.household_id is not None:
            return "/me"
        if self.till_outlet_ids:
            return "/till"
        if self.principal.fund_ids(*FUND_ROLES):
            return "/staff"
        return "/"


def optional_viewer(request: Request, db_session: DbSession) -> Viewer | None:
    raw = request.session.get(SESSION_USER)
    if not raw:
        return None
    principal = load_principal(db_session, f"user:{raw}")
    if principal is None or principal.user_id is None:
        request.session.pop(SESSION_USER, None)  # a removed or disabled user
        return None
    user = db_session.get(User, principal.user_id)
    assert user is not None  # load_principal found it active in this transaction
    if session_outlived(request, user):  # the password changed since: log in again
        request.session.clear()
        return None
    return Viewer(user=user, principal=principal)


def require_viewer(
    request: Request, viewer: Annotated[Viewer | None, Depends(optional_viewer)]
) -> Viewer:
    if viewer is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        # After the login, back to the page asked for (a form's target cannot be re-sent).
        raise LoginRequired(path if request.method == "GET" else "/")
    return viewer


def require_member(viewer: Annotated[Viewer, Depends(require_viewer)]) -> Viewer:
    """A person of a household (the API's `member` role on their own household)."""
    household_id = viewer.household_id
    if household_id is None or not viewer.principal.has(
        Role.member, Scope(household_id=household_id)
    ):
        raise PageForbidden()
    return viewer


OptionalViewer = Annotated[Viewer | None, Depends(optional_viewer)]
CurrentViewer = Annotated[Viewer, Depends(require_viewer)]
Member = Annotated[Viewer, Depends(require_member)]
