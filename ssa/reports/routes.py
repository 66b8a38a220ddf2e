"""The fund report and the ledger check, for fund staff."""

import uuid
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel

from ssa.auth.deps import Authorize, DbSession, Principal, fund_path
from ssa.auth.roles import Role
from ssa.funds.service import current_period
from ssa.ledger.check import check_ledger
from ssa.reports.export import report_csv
from ssa.reports.service import period_report
from ssa.types import PERIOD_PATTERN

router = APIRouter(prefix="/api/v1/funds/{fund_id}", tags=["reports"])

Staff = Annotated[
    Principal, Depends(Authorize(Role.coordinator, Role.treasurer, Role.auditor, on=fund_path))
]
Books = Annotated[Principal, Depends(Authorize(Role.treasurer, Role.auditor, on=fund_path))]


class ReportOut(BaseModel):
    period: str
    households_active: int
    persons: int
    contributions_cents: int
    contributions_due_cents: int
    grants_cents: int
    issued_cents: int
    spent_cents: int
    refunded_cents: int
    expired_cents: int
    paid_out_cents: int
    outstanding_credits_cents: int
    outlet_payables_cents: int
    bank_cents: int
    coverage_ratio: float | None
    runway_periods: float | None
    spending_by_category: list[dict[str, Any]]


class CheckOut(BaseModel):
    name: str
    ok: bool
    detail: str


class LedgerCheckOut(BaseModel):
    ok: bool
    checks: list[CheckOut]


@router.get("/report", response_model=ReportOut)
def report(
    fund_id: uuid.UUID,
    db_session: DbSession,
    _principal: Staff,
    period: Annotated[str | None, Query(pattern=PERIOD_PATTERN)] = None,
) -> ReportOut:
    """The period's figures (default: this month); balances, coverage and runway at the
    end of a past month, as of now for this one."""
    figures = period_report(
        db_session=db_session, fund_id=fund_id, period=period or current_period()
    )
    return ReportOut.model_validate(asdict(figures))


@router.get(
    "/report.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "The report, as CSV"}},
)
def report_as_csv(
    fund_id: uuid.UUID,
    db_session: DbSession,
    _principal: Staff,
    period: Annotated[str | None, Query(pattern=PERIOD_PATTERN)] = None,
) -> Response:
    """The same figures as `/report`, one per line, amounts in euros."""
    period = period or current_period()
    figures = period_report(db_session=db_session, fund_id=fund_id, period=period)
    return Response(
        content=report_csv(figures),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="report-{period}.csv"'},
    )


@router.get("/ledger/check", response_model=LedgerCheckOut)
def ledger_check(fund_id: uuid.UUID, db_session: DbSession, _principal: Books) -> LedgerCheckOut:
    """Recompute the fund's books from the postings (treasurer, auditor)."""
    results = check_ledger(db_session=db_session, fund_id=fund_id)
    return LedgerCheckOut(
        ok=all(r.ok for r in results),
        checks=[CheckOut(name=r.name, ok=r.ok, detail=r.detail) for r in results],
    )
