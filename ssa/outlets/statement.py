"""An outlet's statement (CSV) of its payments and refunds: amounts, never who paid."""

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from ssa.ledger.models import LedgerTransaction
from ssa.payments.models import Payment, Refund
from ssa.payments.views import payable

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


# What a spreadsheet would read as a formula at the start of a cell (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text_cell(text: str) -> str:
    """Free text typed at the till (a reference, a refund's reason) as a CSV cell that a
    spreadsheet shows as text: one that would start a formula gets a leading quote."""
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


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
                text_cell(line.reference or ""),
                text_cell(line.reason or ""),
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
