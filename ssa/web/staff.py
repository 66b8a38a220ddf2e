"""The fund staff's pages (coordinator, treasurer, auditor): the fund chooser, each
fund's overview, and its audit log. The other areas have their own modules, all listed
in `ROUTERS`: households and contributions (`staff_households`), monthly credits, period
close and payouts (`staff_books`), outlets (`staff_outlets`) and the dashboard.
"""

import json
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from ssa.audit.service import list_entries
from ssa.auth.deps import DbSession
from ssa.auth.roles import Role
from ssa.funds.service import current_period
from ssa.pagination import decode_position, encode_position
from ssa.reports.service import period_report
from ssa.web import dashboard, staff_books, staff_households, staff_outlets
from ssa.web.access import CurrentViewer
from ssa.web.forms import Refused, attempt
from ssa.web.i18n import texts_for
from ssa.web.render import render
from ssa.web.staff_common import (
    AUDIT_ACTIONS,
    PAGE_SIZE,
    ROLES,
    STAFF_ROLES,
    label,
    open_desk,
    page_context,
    staff_funds,
    staff_names,
    staff_router,
)

router = staff_router()


@router.get("", name="staff_funds")
def funds(request: Request, db_session: DbSession, viewer: CurrentViewer) -> Response:
    """The funds where the viewer is staff: straight to it when there is one."""
    found = staff_funds(db_session, viewer)
    if len(found) == 1:
        return RedirectResponse(
            request.app.url_path_for("staff_home", slug=found[0].slug), status_code=303
        )
    return render(request, "staff/funds.html", {"viewer": viewer, "funds": found})


@router.get("/{slug}", name="staff_home")
def home(slug: str, request: Request, db_session: DbSession, viewer: CurrentViewer) -> Response:
    """The fund at a glance (the report's figures of this month) and where to go."""
    desk = open_desk(db_session, viewer, slug, *STAFF_ROLES)
    t = texts_for(request)
    report = period_report(db_session=db_session, fund_id=desk.fund.id, period=current_period())
    roles = ", ".join(label(t, ROLES, role) for role in STAFF_ROLES if role in desk.roles)
    return render(
        request,
        "staff/home.html",
        page_context(
            desk,
            "home",
            report=report,
            roles=roles,
            coverage=dashboard.ratio(t, report.coverage_ratio),
            runway=dashboard.months(t, report.runway_periods),
            Role=Role,
        ),
    )


@router.get("/{slug}/audit", name="staff_audit")
def audit(
    slug: str, request: Request, db_session: DbSession, viewer: CurrentViewer, cursor: str = ""
) -> Response:
    """Privileged actions in the fund, newest first (auditor, coordinator: the API's rule)."""
    t = texts_for(request)
    desk = open_desk(db_session, viewer, slug, Role.auditor, Role.coordinator)

    def page() -> list[Any]:
        return list_entries(
            db_session=db_session,
            fund_id=desk.fund.id,
            limit=PAGE_SIZE + 1,
            before=decode_position(cursor or None),
        )

    entries = attempt(db_session, page)
    if isinstance(entries, Refused):  # a cursor this page did not give: from the start
        cursor = ""
        entries = attempt(db_session, page)
        assert not isinstance(entries, Refused)
    shown = entries[:PAGE_SIZE]
    names = staff_names(db_session, desk.fund.id, [e.actor for e in shown])
    rows = [
        {
            "when": entry.created_at,
            "who": names.get(entry.actor, entry.actor),
            "what": label(t, AUDIT_ACTIONS, entry.action),
            "action": entry.action,
            "target": f"{entry.target_type} {entry.target_id}",
            "before": _compact(entry.before),
            "after": _compact(entry.after),
        }
        for entry in shown
    ]
    last = shown[-1] if len(entries) > PAGE_SIZE else None
    return render(
        request,
        "staff/audit.html",
        page_context(
            desk,
            "audit",
            rows=rows,
            next_cursor=encode_position(last.created_at, last.id) if last else None,
            first_page=not cursor,
        ),
    )


def _compact(raw: str | None) -> str:
    """The before/after of an entry on one line ('status: active')."""
    if not raw:
        return ""
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_scalar(v)}" for k, v in value.items())
    return _scalar(value)


def _scalar(value: Any) -> str:
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "—" if value is None else str(value)


ROUTERS = (
    router,
    dashboard.router,
    staff_households.router,
    staff_books.router,
    staff_outlets.router,
)
