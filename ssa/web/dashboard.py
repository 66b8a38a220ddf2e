"""The fund's dashboard (coordinator, treasurer, auditor: the fund report's readers): the
report's figures of this month, and charts drawn on the server over the last months:
coverage ratio and runway, credits issued and spent, and spending by outlet category
(categories where fewer than five households spent are left out, as in the report).
"""

from typing import Any

from babel.dates import format_date
from babel.numbers import format_compact_currency, format_decimal
from fastapi import APIRouter, Request
from fastapi.responses import Response

from ssa.auth.deps import DbSession
from ssa.funds.service import current_period
from ssa.issuance import periods
from ssa.reports.export import report_csv
from ssa.reports.history import period_series
from ssa.reports.service import MIN_GROUP, period_report
from ssa.web import charts
from ssa.web.access import CurrentViewer
from ssa.web.i18n import Texts, texts_for
from ssa.web.render import render
from ssa.web.staff_common import (
    STAFF_ROLES,
    category_label,
    chosen_period,
    open_desk,
    page_context,
    recent_periods,
    staff_router,
)

router: APIRouter = staff_router()

SPANS = (6, 12, 24)
DEFAULT_SPAN = 6


def short_period(t: Texts, period: str) -> str:
    """'2026-11' as a chart's axis writes it: 'nov. 26', 'nov 26', 'Nov 26'."""
    return str(format_date(periods.first_day(period), "LLL yy", locale=t.language))


def axis_money(t: Texts, cents: float) -> str:
    return str(format_compact_currency(cents / 100, "EUR", locale=t.language, fraction_digits=1))


def ratio(t: Texts, value: float | None) -> str:
    return "—" if value is None else str(format_decimal(value, format="0.00", locale=t.language))


def months(t: Texts, value: float | None) -> str:
    if value is None:
        return "—"
    return t.gettext(
        "%(months)s months", months=format_decimal(value, format="0.0", locale=t.language)
    )


@router.get("/{slug}/dashboard", name="staff_dashboard")
def dashboard(
    slug: str,
    request: Request,
    db_session: DbSession,
    viewer: CurrentViewer,
    span: int = DEFAULT_SPAN,
    period: str = "",
) -> Response:
    t = texts_for(request)
    desk = open_desk(db_session, viewer, slug, *STAFF_ROLES)
    span = span if span in SPANS else DEFAULT_SPAN
    now = current_period()
    report = period_report(db_session=db_session, fund_id=desk.fund.id, period=now)
    series = period_series(db_session=db_session, fund_id=desk.fund.id, last=now, count=span)
    labels = [short_period(t, point.period) for point in series]
    first, last = t.period(series[0].period), t.period(series[-1].period)
    coverage_values = [point.coverage_ratio for point in series]
    runway_values = [point.runway_periods for point in series]
    coverage_chart = charts.line_chart(
        chart_id="chart-coverage",
        title=t.gettext("Coverage ratio, %(first)s to %(last)s", first=first, last=last),
        description=t.gettext(
            "Euros in the bank for each euro the fund owes, at the end of each month; at 1 or"
            " more every credit is covered. Latest: %(value)s.",
            value=ratio(t, coverage_values[-1]),
        ),
        labels=labels,
        series=[charts.Series(t.gettext("Coverage ratio"), coverage_values)],
        value_text=lambda v: ratio(t, v),
        reference=1.0,
    )
    runway_chart = charts.line_chart(
        chart_id="chart-runway",
        title=t.gettext("Runway, %(first)s to %(last)s", first=first, last=last),
        description=t.gettext(
            "How many more months of credits the euros held beyond what is owed would pay,"
            " at the end of each month. Latest: %(value)s.",
            value=months(t, runway_values[-1]),
        ),
        labels=labels,
        series=[charts.Series(t.gettext("Runway"), runway_values)],
        value_text=lambda v: str(format_decimal(v, format="0.#", locale=t.language)),
    )
    # Spent is net of refunds everywhere on the page, as spending by category is: one month
    # showed two different "spent" figures (payments alone here, less refunds below).
    issued_name = t.gettext("Credits issued")
    spent_name = t.gettext("Credits spent, net of refunds")
    flows_chart = charts.bar_chart(
        chart_id="chart-flows",
        title=t.gettext("Credits issued and spent, %(first)s to %(last)s", first=first, last=last),
        description=t.gettext(
            "For each month, the credits issued to households and the credits they spent at"
            " outlets, net of refunds. This month: %(issued)s issued, %(spent)s spent.",
            issued=t.money(series[-1].issued_cents),
            spent=t.money(series[-1].spent_cents - series[-1].refunded_cents),
        ),
        labels=labels,
        series=[
            charts.Series(issued_name, [p.issued_cents for p in series]),
            charts.Series(spent_name, [p.spent_cents - p.refunded_cents for p in series]),
        ],
        value_text=lambda v: axis_money(t, v),
    )
    choices = recent_periods(back=span - 1)
    chosen = chosen_period(period, choices)
    spending = (
        report
        if chosen == now
        else period_report(db_session=db_session, fund_id=desk.fund.id, period=chosen)
    ).spending_by_category
    categories = sorted(spending, key=lambda c: (-int(c["spent_cents"]), str(c["category"])))
    category_rows = [
        {
            "label": category_label(t, c["category"]),
            "spent_cents": int(c["spent_cents"]),
            "households": int(c["households"]),
        }
        for c in categories
    ]
    spending_chart = (
        charts.horizontal_bar_chart(
            chart_id="chart-categories",
            title=t.gettext("Spending by outlet category, %(period)s", period=t.period(chosen)),
            description=t.gettext(
                "Credits spent in each category of outlet during the month, net of refunds,"
                " largest first."
            ),
            labels=[category_label(t, c["category"]) for c in categories],
            values=[int(c["spent_cents"]) for c in categories],
            value_text=lambda v: t.money(int(v)),
        )
        if category_rows
        else None
    )
    points: list[dict[str, Any]] = [
        {
            "period": point.period,
            "issued_cents": point.issued_cents,
            "paid_cents": point.spent_cents,
            "refunded_cents": point.refunded_cents,
            "spent_cents": point.spent_cents - point.refunded_cents,
            "coverage": ratio(t, point.coverage_ratio),
            "runway": months(t, point.runway_periods),
        }
        for point in series
    ]
    return render(
        request,
        "staff/dashboard.html",
        page_context(
            desk,
            "dashboard",
            report=report,
            coverage=ratio(t, report.coverage_ratio),
            runway=months(t, report.runway_periods),
            span=span,
            spans=SPANS,
            points=points,
            coverage_chart=coverage_chart,
            runway_chart=runway_chart,
            flows_chart=flows_chart,
            spending_chart=spending_chart,
            category_rows=category_rows,
            category_period=chosen,
            category_choices=choices,
            min_group=MIN_GROUP,
        ),
    )


@router.get("/{slug}/report.csv", name="staff_report_csv")
def report_csv_download(
    slug: str, request: Request, db_session: DbSession, viewer: CurrentViewer, period: str = ""
) -> Response:
    """The month's report as CSV (the API's `report.csv`), for the fund's staff."""
    desk = open_desk(db_session, viewer, slug, *STAFF_ROLES)
    # A download says its month only in its name: a month not offered is refused too.
    chosen = chosen_period(period, recent_periods(back=max(SPANS) - 1), offered_only=True)
    figures = period_report(db_session=db_session, fund_id=desk.fund.id, period=chosen)
    return Response(
        content=report_csv(figures),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="report-{chosen}.csv"'},
    )
