"""Who is calling, and may they: the one authorisation dependency every route declares.

A route says which roles may call it and on what resource (a fund, an outlet, the
instance), e.g. ``principal: Principal = Depends(Authorize(Role.coordinator, on=fund_path))``.
Roles are read from the database on every request, so a revoked role stops at once.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import bindparam
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from ssa.auth.models import OAuthClient, RoleGrant, User
from ssa.auth.roles import Role
from ssa.auth.service import membership_of
from ssa.auth.tokens import InvalidToken, TokenSigner
from ssa.db import get_db_session
from ssa.households.models import Household
from ssa.outlets.models import OutletFund
from ssa.problems import InvalidInput, NotFound, Problem

DbSession = Annotated[Session, Depends(get_db_session, scope="function")]


class Unauthenticated(Problem):
    status = 401
    code = "unauthenticated"
    title = "Authentication required"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or "Send a valid bearer token.")


class Forbidden(Problem):
    status = 403
    code = "forbidden"
    title = "Forbidden"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or "Your roles do not allow this.")


class MalformedId(InvalidInput):
    pass


@dataclass(frozen=True)
class Scope:
    """The resource a request acts on, as far as authorisation is concerned."""

    fund_id: uuid.UUID | None = None
    outlet_id: uuid.UUID | None = None
    household_id: uuid.UUID | None = None
    # For actions that are not about one fund (creating a user): any fund will do.
    any_fund: bool = False
    # For an outlet: the funds it stands in; a fund role in any of them counts (in every
    # one of them, with `all_funds`).
    fund_ids: frozenset[uuid.UUID] = frozenset()
    all_funds: bool = False


@dataclass(frozen=True)
class Principal:
    """The caller: a user (with role grants) or a till terminal (an OAuth2 client)."""

    user_id: uuid.UUID | None = None
    client_id: str | None = None
    terminal_outlet_id: uuid.UUID | None = None
    grants: frozenset[tuple[Role, uuid.UUID | None]] = field(default_factory=frozenset)
    household_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)

    @property
    def actor(self) -> str:
        return f"user:{self.user_id}" if self.user_id else f"client:{self.client_id}"

    @property
    def is_admin(self) -> bool:
        return (Role.admin, None) in self.grants

    def has(self, role: Role, scope: Scope) -> bool:
        """Whether this principal holds `role` on the resource `scope`."""
        if role is Role.admin:
            return self.is_admin
        if role is Role.terminal:
            return (
                self.terminal_outlet_id is not None and self.terminal_outlet_id == scope.outlet_id
            )
        if role is Role.member:
            return scope.household_id is not None and scope.household_id in self.household_ids
        if role in (Role.manager, Role.cashier):
            return scope.outlet_id is not None and (role, scope.outlet_id) in self.grants
        if scope.any_fund:
            return bool(self.fund_ids(role))
        if scope.fund_ids:
            held = ((role, fund_id) in self.grants for fund_id in scope.fund_ids)
            return all(held) if scope.all_funds else any(held)
        return scope.fund_id is not None and (role, scope.fund_id) in self.grants

    def fund_ids(self, *roles: Role) -> set[uuid.UUID]:
        return {scope for role, scope in self.grants if role in roles and scope is not None}


def load_principal(db_session: Session, subject: str) -> Principal | None:
    kind, _, ident = subject.partition(":")
    if kind == "user":
        try:
            user_id = uuid.UUID(ident)
        except ValueError:
            return None
        user = db_session.get(User, user_id)
        if user is None or not user.is_active:
            return None
        rows = db_session.exec(
            select(RoleGrant.role, RoleGrant.fund_id, RoleGrant.outlet_id).where(
                col(RoleGrant.user_id) == user_id
            )
        ).all()
        grants = frozenset((Role(role), fund_id or outlet_id) for role, fund_id, outlet_id in rows)
        return Principal(
            user_id=user_id, grants=grants, household_ids=_households_of(db_session, user_id)
        )
    if kind == "client":
        # Every payment at a till comes here: a prebuilt Core statement, not an ORM load.
        client = db_session.connection().execute(_LIVE_CLIENT, {"client_id": ident}).one_or_none()
        if client is None:
            return None
        return Principal(client_id=client.client_id, terminal_outlet_id=client.outlet_id)
    return None


_CLIENTS = OAuthClient.__table__  # type: ignore[attr-defined]
# A terminal that is not revoked: its client id and outlet.
_LIVE_CLIENT = (
    core_select(_CLIENTS.c.client_id, _CLIENTS.c.outlet_id)
    .where(_CLIENTS.c.client_id == bindparam("client_id"))
    .where(_CLIENTS.c.revoked_at.is_(None))
)


def _households_of(db_session: Session, user_id: uuid.UUID) -> frozenset[uuid.UUID]:
    membership = membership_of(db_session=db_session, user_id=user_id)
    return frozenset({membership[0]}) if membership else frozenset()


def get_principal(request: Request, db_session: DbSession) -> Principal:
    """The authenticated caller, or 401 `unauthenticated`."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated()
    signer: TokenSigner = request.app.state.token_signer
    try:
        claims = signer.verify(token.strip())
    except InvalidToken as exc:
        raise Unauthenticated("The token is invalid or expired.") from exc
    principal = load_principal(db_session, claims.subject)
    if principal is None:
        raise Unauthenticated("The token's holder no longer exists or was revoked.")
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def get_optional_principal(request: Request, db_session: DbSession) -> Principal | None:
    """The caller if a bearer token is sent (and valid), None for an anonymous call."""
    if not request.headers.get("authorization"):
        return None
    return get_principal(request, db_session)


def _path_uuid(request: Request, name: str) -> uuid.UUID:
    raw = request.path_params.get(name)
    try:
        return uuid.UUID(str(raw))
    except ValueError as exc:
        raise MalformedId(
            f"`{name}` is not a valid id.",
            errors=[{"loc": ["path", name], "msg": "not a valid id", "type": "uuid_parsing"}],
        ) from exc


ScopeResolver = Callable[[Request, Session], Scope]


def instance(_request: Request, _db_session: Session) -> Scope:
    return Scope()


def any_fund(_request: Request, _db_session: Session) -> Scope:
    return Scope(any_fund=True)


def fund_path(request: Request, _db_session: Session) -> Scope:
    return Scope(fund_id=_path_uuid(request, "fund_id"))


def outlet_path(request: Request, _db_session: Session) -> Scope:
    """The outlet in the path; fund roles of any fund count (outlets are businesses that
    any fund may accredit, and their staff-facing data is not personal)."""
    return Scope(outlet_id=_path_uuid(request, "outlet_id"), any_fund=True)


class Authorize:
    """Dependency: the caller must hold one of `roles` on the resource `on` resolves."""

    def __init__(self, *roles: Role, on: ScopeResolver = instance) -> None:
        self.roles = roles
        self.on = on

    def __call__(
        self, request: Request, principal: CurrentPrincipal, db_session: DbSession
    ) -> Principal:
        scope = self.on(request, db_session)
        if any(principal.has(role, scope) for role in self.roles):
            request.state.scope = scope
            return principal
        raise Forbidden()


def outlet_in_its_funds(request: Request, db_session: Session) -> Scope:
    """The outlet in the path, for acting on it (its staff, its tills): a fund role counts
    only if held in every fund that has accredited (or suspended) the outlet, or, while no
    fund has, every fund it applies to; a revoked standing does not count. Its staff and
    tills take payments of each of those funds: a coordinator of another fund, who may file
    the outlet's application there, must not thereby name themselves its manager and refund
    the first fund's payments, nor lock that fund's coordinators out. An outlet of several
    funds is run by its own manager (or by the administrator)."""
    outlet_id = _path_uuid(request, "outlet_id")
    rows = db_session.exec(
        select(OutletFund.fund_id, OutletFund.status).where(col(OutletFund.outlet_id) == outlet_id)
    ).all()
    standing = {"accredited", "suspended"}
    funds = [fund for fund, status in rows if str(status) in standing] or [
        fund for fund, status in rows if str(status) == "applicant"
    ]
    return Scope(outlet_id=outlet_id, fund_ids=frozenset(funds), all_funds=True)


def household_path(request: Request, db_session: Session) -> Scope:
    """The household in the path, and its fund: 404 when there is none."""
    household_id = _path_uuid(request, "household_id")
    household = db_session.get(Household, household_id)
    if household is None:
        raise NotFound("No such household.")
    return Scope(fund_id=household.fund_id, household_id=household.id)
