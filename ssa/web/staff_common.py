"""What the fund staff's pages share: the fund's desk (who may do what there, by the
API's rule), their router, their menu, the labels of the API's codes, and a form's
money-moving work run once per hidden key.

Every page names the roles the matching API route names and checks them with
`Principal.has` on the fund, the API's single rule: a treasurer of one fund sees
nothing of another, and an administrator is not a fund's staff.
"""

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse
from sqlmodel import Session, col, select
from starlette.datastructures import FormData

from ssa.auth.deps import Scope
from ssa.auth.models import RoleGrant, User
from ssa.auth.roles import FUND_ROLES, Role
from ssa.funds.models import Fund
from ssa.funds.service import current_period
from ssa.idempotency.service import Outcome, fingerprint, run_once
from ssa.issuance import periods
from ssa.outlets.models import OutletCategory
from ssa.types import PERIOD_PATTERN
from ssa.web.access import MonthRefused, PageForbidden, PageNotFound, Viewer
from ssa.web.csrf import csrf_protect
from ssa.web.forms import N_, Refused, attempt
from ssa.web.i18n import Texts

STAFF_ROLES = (Role.coordinator, Role.treasurer, Role.auditor)
PAGE_SIZE = 50


async def form_data(request: Request) -> FormData:
    """The posted form with fields named at run time (read once, and kept, by the CSRF
    check), for the synchronous handlers."""
    return await request.form()


PostedForm = Annotated[FormData, Depends(form_data)]


def staff_router() -> APIRouter:
    return APIRouter(
        prefix="/staff",
        include_in_schema=False,
        default_response_class=HTMLResponse,
        dependencies=[Depends(csrf_protect)],
    )


@dataclass(frozen=True)
class MenuItem:
    route: str
    label: str
    roles: tuple[Role, ...]
    key: str


# The staff menu: each entry shown to the roles its API routes allow.
MENU = (
    MenuItem("staff_home", N_("Overview"), STAFF_ROLES, "home"),
    MenuItem("staff_dashboard", N_("Dashboard"), STAFF_ROLES, "dashboard"),
    MenuItem("staff_households", N_("Households"), (Role.coordinator,), "households"),
    MenuItem("staff_contributions", N_("Contributions"), STAFF_ROLES, "contributions"),
    MenuItem("staff_grants", N_("Grants"), STAFF_ROLES, "grants"),
    MenuItem("staff_issuance", N_("Monthly credits"), (Role.treasurer,), "issuance"),
    MenuItem("staff_payouts", N_("Payouts"), STAFF_ROLES, "payouts"),
    MenuItem("staff_outlets", N_("Outlets"), STAFF_ROLES, "outlets"),
    MenuItem("staff_audit", N_("Audit log"), (Role.auditor, Role.coordinator), "audit"),
)


@dataclass(frozen=True)
class Desk:
    """A fund as one of its staff sees it: the fund, the viewer, their roles there."""

    viewer: Viewer
    fund: Fund
    roles: frozenset[Role] = field(default_factory=frozenset)

    def may(self, *roles: Role) -> bool:
        return bool(self.roles & set(roles))

    @property
    def menu(self) -> list[MenuItem]:
        return [item for item in MENU if self.may(*item.roles)]


def staff_funds(db_session: Session, viewer: Viewer) -> list[Fund]:
    """The funds where the viewer holds a fund role."""
    ids = viewer.principal.fund_ids(*FUND_ROLES)
    if not ids:
        return []
    return list(
        db_session.exec(select(Fund).where(col(Fund.id).in_(ids)).order_by(col(Fund.name))).all()
    )


def open_desk(db_session: Session, viewer: Viewer, slug: str, *roles: Role) -> Desk:
    """The fund `slug` if the viewer holds one of `roles` there (404, then 403)."""
    fund = db_session.exec(select(Fund).where(col(Fund.slug) == slug)).first()
    if fund is None:
        raise PageNotFound()
    scope = Scope(fund_id=fund.id)
    held = frozenset(role for role in STAFF_ROLES if viewer.principal.has(role, scope))
    if not held & set(roles):
        raise PageForbidden()
    return Desk(viewer=viewer, fund=fund, roles=held)


def page_context(desk: Desk, active: str, **values: Any) -> dict[str, Any]:
    return {"viewer": desk.viewer, "desk": desk, "fund": desk.fund, "active": active, **values}


def staff_names(db_session: Session, fund_id: uuid.UUID, actors: list[str]) -> dict[str, str]:
    """Names of the actors who are this fund's staff; anyone else stays an id (a member's
    name is not for an auditor to read)."""
    ids = set()
    for actor in actors:
        kind, _, raw = actor.partition(":")
        if kind == "user":
            try:
                ids.add(uuid.UUID(raw))
            except ValueError:
                continue
    if not ids:
        return {}
    staff = db_session.exec(
        select(User.id, User.display_name)
        .join(RoleGrant, col(RoleGrant.user_id) == col(User.id))
        .where(col(User.id).in_(ids), col(RoleGrant.fund_id) == fund_id)
    ).all()
    return {f"user:{user_id}": name for user_id, name in staff}


# --- Periods ---------------------------------------------------------------------

_PERIOD = re.compile(PERIOD_PATTERN)


def valid_period(text: str) -> bool:
    return bool(_PERIOD.match(text))


def recent_periods(back: int = 12, ahead: int = 0) -> list[str]:
    """This month, `ahead` months after it and `back` before it, newest first."""
    now = current_period()
    return [periods.shift(now, offset) for offset in range(ahead, -back - 1, -1)]


def chosen_period(text: str, choices: list[str], *, offered_only: bool = False) -> str:
    """The period asked for if it is one offered, else this month when none is asked for
    (or, unless `offered_only`, a well-formed month outside the choices). A malformed one
    (`2026-13`) is refused (`MonthRefused`, 400), never answered for another month; with
    `offered_only`, so is a month not offered (404)."""
    if text in choices or not text:
        return text or current_period()
    if not valid_period(text):
        raise MonthRefused(text, 400)
    if offered_only:
        raise MonthRefused(text, 404)
    return current_period()


# --- Work that moves money, once per form --------------------------------------------


def once(
    request: Request,
    db_session: Session,
    viewer: Viewer,
    form_key: str,
    api_path: str,
    body: dict[str, Any] | None,
    work: Callable[[], tuple[int, Any]],
) -> Outcome | Refused:
    """Run `work` once for this form's key, as the API's Idempotency-Key does for
    `POST api_path` with `body`: a double submit or a reload replays the first answer;
    a refusal undoes everything, the key's claim with it, so the form can be sent again."""

    def encoded() -> tuple[int, Any]:
        status, payload = work()
        return status, jsonable_encoder(payload)

    return attempt(
        db_session,
        lambda: run_once(
            db_session=db_session,
            caller=viewer.principal.actor,
            key=f"web:{form_key}",
            request_fingerprint=fingerprint(
                "POST", api_path, body, key=request.app.state.settings.secret_key
            ),
            work=encoded,
        ),
    )


# --- The API's codes in words ---------------------------------------------------------

ROLES = {
    "coordinator": N_("coordinator"),
    "treasurer": N_("treasurer"),
    "auditor": N_("auditor"),
}
HOUSEHOLD_STATUSES = {
    "active": N_("Active"),
    "suspended": N_("Suspended"),
    "left": N_("Left the fund"),
}
CONTRIBUTION_STATUSES = {
    "paid": N_("Paid"),
    "due": N_("Due"),
    "late": N_("Late"),
    "waived": N_("Waived"),
}
CONTRIBUTION_METHODS = {
    "transfer": N_("Bank transfer"),
    "cash": N_("Cash"),
    "card": N_("Card"),
    "direct_debit": N_("Direct debit"),
}
SKIP_REASONS = {
    "already_issued": N_("Already issued for this month"),
    "suspended": N_("Household suspended"),
    "dormant": N_("No spending for several months (dormant)"),
    "contribution_unpaid": N_("Contributions unpaid beyond the grace period"),
    "below_minimum": N_("Amount below the minimum issued (late joiner)"),
}
PAYOUT_STATUSES = {
    "created": N_("Waiting for the bank"),
    "confirmed": N_("Paid by the bank"),
    "cancelled": N_("Cancelled"),
}
OUTLET_STATUSES = {
    "applicant": N_("Applicant"),
    "accredited": N_("Accredited"),
    "suspended": N_("Suspended"),
    "revoked": N_("Revoked"),
}
ROLLOVERS = {
    "full": N_("Unspent credits are all kept for the next months."),
    "none": N_("Unspent credits return to the fund at the close."),
    "capped": N_("Unspent credits above %(cap)s a household return to the fund at the close."),
}
CRITERIA = {
    "accessibility": N_("Accessibility"),
    "working_conditions": N_("Working conditions"),
    "local_origin": N_("Local origin"),
    "price_transparency": N_("Price transparency"),
    "sustainable_practices": N_("Sustainable practices"),
}
AUDIT_ACTIONS = {
    "committee.draw": N_("Committee drawn by lot"),
    "committee.end": N_("Committee ended"),
    "contribution.correct": N_("Contribution corrected"),
    "contribution.record": N_("Contribution recorded"),
    "contribution.waive": N_("Contribution waived"),
    "direct_debit_run.cancel": N_("Direct-debit file cancelled"),
    "direct_debit_run.create": N_("Direct-debit file produced"),
    "direct_debit_run.return": N_("Direct debit returned by the bank"),
    "fund.create": N_("Fund created"),
    "grant.record": N_("Grant recorded"),
    "household.pin.set": N_("PIN chosen"),
    "household.pin.unlock": N_("Card unlocked"),
    "household.register": N_("Household registered"),
    "household.update": N_("Household changed"),
    "mandate.amend": N_("Direct-debit mandate amended"),
    "mandate.create": N_("Direct-debit mandate given"),
    "mandate.revoke": N_("Direct-debit mandate revoked"),
    "issuance.run": N_("Monthly credits issued"),
    "outlet.apply": N_("Outlet application filed"),
    "outlet.register": N_("Outlet registered"),
    "outlet.status": N_("Outlet status changed"),
    "payout.cancel": N_("Payout cancelled"),
    "payout.confirm": N_("Payout confirmed"),
    "payout.create": N_("Payout batch created"),
    "period.close": N_("Period closed"),
    "policy.update": N_("Policy changed"),
    "proposal.close": N_("Vote closed"),
    "proposal.enact": N_("Assembly decision applied"),
    "proposal.not_enacted": N_("Assembly decision not applied"),
    "proposal.open": N_("Vote opened"),
    "proposal.vote": N_("Vote cast"),
    "role.grant": N_("Role granted"),
    "terminal.create": N_("Till terminal created"),
    "terminal.revoke": N_("Till terminal revoked"),
    "user.create": N_("User created"),
}


def label(t: Texts, labels: dict[str, str], code: object) -> str:
    """The words for an API code, in the visitor's language (the code if unknown)."""
    text = str(code.value if hasattr(code, "value") else code)
    found = labels.get(text)
    return t.gettext(found) if found else text


def category_label(t: Texts, code: object) -> str:
    """An outlet category in words, as the public list of outlets names it."""
    from ssa.web.public import CATEGORIES

    text = str(code.value if hasattr(code, "value") else code)
    known = OutletCategory(text) if text in OutletCategory.__members__ else OutletCategory.other
    return t.gettext(CATEGORIES[known])


def short_id(value: uuid.UUID | str) -> str:
    return str(value)[:8]
