"""An outlet's statement (CSV) of its payments and refunds, and outlet names in histories.

Neither shows who paid: an outlet never sees a household's identity, and a household
sees only the name of the outlet where it paid.
"""

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from sqlmodel import Session, col, select

from ssa.auth.deps import Authorize, DbSession, Principal, outlet_path
from ssa.auth.roles import Role
from ssa.funds.service import current_period
from ssa.households.views import OUTLET_NAMERS
from ssa.ledger.models import LedgerTransaction
from ssa.outlets.models import Outlet
from ssa.payments.models import Payment, Refund
from ssa.payments.views import payable
from ssa.types import PERIOD_PATTERN

COLUMNS = (
    "date",
    "kind",
    "payment_id",
    "refund_id",
    "reference",
    "reason",
    "amount_eur",
    "running_total_eur",
)


@dataclass(frozen=True)
class StatementLine:
    created_at: datetime
    kind: str  # payment | refund
    payment_id: uuid.UUID
    refund_id: uuid.UUID | None
    reference: str | None
    reason: str | None
    amount_cents: int  # signed from the outlet's side: a refund is negative


def euros(cents: int) -> str:
    """Cents as euros with two decimals and a point, e.g. -1250 -> "-12.50"."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def statement_lines(
    *, db_session: Session, outlet_id: uuid.UUID, fund_id: uuid.UUID, period: str
) -> list[StatementLine]:
    """The period's payments and refunds at this outlet in this fund, oldest first."""
    payments = db_session.exec(
        select(Payment).where(
            col(Payment.outlet_id) == outlet_id,
            col(Payment.fund_id) == fund_id,
            col(Payment.period) == period,
        )
    ).all()
    # A refund belongs to the period of its own ledger transaction, as in the fund report.
    refunds = db_session.exec(
        select(Refund, Payment.reference)
        .join(Payment, col(Payment.id) == col(Refund.payment_id))
        .join(LedgerTransaction, col(LedgerTransaction.id) == col(Refund.transaction_id))
        .where(
            col(Refund.outlet_id) == outlet_id,
            col(Refund.fund_id) == fund_id,
            col(LedgerTransaction.period) == period,
        )
    ).all()
    lines = [
        StatementLine(p.created_at, "payment", p.id, None, p.reference, None, p.amount_cents)
        for p in payments
    ] + [
        StatementLine(r.created_at, "refund", r.payment_id, r.id, ref, r.reason, -r.amount_cents)
        for r, ref in refunds
    ]
    lines.sort(
        key=lambda line: (line.created_at, line.kind, str(line.refund_id or line.payment_id))
    )
    return lines


def statement_csv(
    *, db_session: Session, outlet_id: uuid.UUID, fund_id: uuid.UUID, period: str
) -> str:
    """One line per payment and refund, then the totals and what the fund owes now."""
    owed_now = payable(db_session, outlet_id, fund_id)  # 404 when the fund does not know it
    lines = statement_lines(
        db_session=db_session, outlet_id=outlet_id, fund_id=fund_id, period=period
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    running = 0
    for line in lines:
        running += line.amount_cents
        writer.writerow(
            (
                line.created_at.isoformat(),
                line.kind,
                line.payment_id,
                line.refund_id or "",
                line.reference or "",
                line.reason or "",
                euros(line.amount_cents),
                euros(running),
            )
        )
    paid = sum(line.amount_cents for line in lines if line.kind == "payment")
    refunded = sum(line.amount_cents for line in lines if line.kind == "refund")
    for label, cents in (
        ("total_payments", paid),
        ("total_refunds", refunded),
        ("net", paid + refunded),
        ("payable_now", owed_now),
    ):
        writer.writerow((period, label, "", "", "", "", euros(cents), ""))
    return out.getvalue()


def outlet_names(db_session: Session, transaction_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The outlet of each payment or refund transaction among `transaction_ids`."""
    if not transaction_ids:
        return {}
    names: dict[uuid.UUID, str] = {}
    for table in (Payment, Refund):
        rows = db_session.exec(
            select(table.transaction_id, Outlet.name)
            .join(Outlet, col(Outlet.id) == col(table.outlet_id))
            .where(col(table.transaction_id).in_(transaction_ids))
        ).all()
        names.update({tx_id: name for tx_id, name in rows})
    return names


OUTLET_NAMERS.append(outlet_names)


# --- The endpoint (kept here while the outlets' routes are being written) ---------------

router = APIRouter(tags=["outlets"])

OutletStaff = Annotated[
    Principal, Depends(Authorize(Role.manager, Role.cashier, Role.terminal, on=outlet_path))
]


@router.get(
    "/outlets/{outlet_id}/statement.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "The statement, as CSV"}},
)
def statement(
    outlet_id: uuid.UUID,
    fund_id: uuid.UUID,
    db_session: DbSession,
    _principal: OutletStaff,
    period: Annotated[str | None, Query(pattern=PERIOD_PATTERN)] = None,
) -> Response:
    """The outlet's payments and refunds in a fund for a period (default: this month)."""
    period = period or current_period()
    text = statement_csv(db_session=db_session, outlet_id=outlet_id, fund_id=fund_id, period=period)
    filename = f"statement-{outlet_id}-{period}.csv"
    return Response(
        content=text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
