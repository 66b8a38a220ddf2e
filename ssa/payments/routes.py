"""Payment endpoints: at the till, refunds, and the outlet's own views."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from ssa.auth.deps import Authorize, CurrentPrincipal, DbSession, Forbidden, Principal, outlet_path
from ssa.auth.roles import Role
from ssa.funds.service import current_period
from ssa.idempotency.http import MONEY_RESPONSES, idempotent, idempotent_answering_early
from ssa.idempotency.service import Answer, forget_unanswered
from ssa.outlets.statement import statement_csv
from ssa.payments import service, views
from ssa.payments.schemas import (
    BalanceOut,
    OutletPaymentPage,
    PaymentIn,
    PaymentOut,
    RefundIn,
    RefundOut,
)
from ssa.problems import Problem
from ssa.types import PERIOD_PATTERN, Instant

router = APIRouter(prefix="/api/v1", tags=["payments"])

OutletStaff = Annotated[
    Principal, Depends(Authorize(Role.manager, Role.cashier, Role.terminal, on=outlet_path))
]


class OutletRequired(Problem):
    status = 422
    code = "validation_error"
    title = "Say at which outlet"


def till_outlet(principal: Principal, requested: uuid.UUID | None) -> uuid.UUID:
    """The outlet a payment is taken at: the terminal's, or one the staff member works at."""
    if principal.terminal_outlet_id is not None:
        if requested is not None and requested != principal.terminal_outlet_id:
            raise Forbidden("A terminal takes payments for its own outlet only.")
        return principal.terminal_outlet_id
    outlets = {scope for role, scope in principal.grants if role in (Role.manager, Role.cashier)}
    if not outlets:
        raise Forbidden("Only an outlet's terminals and staff take payments.")
    if requested is None:
        if len(outlets) != 1:
            raise OutletRequired(
                "You work at several outlets: send `outlet_id`.",
                errors=[{"loc": ["body", "outlet_id"], "msg": "required", "type": "missing"}],
            )
        (only,) = outlets
        assert only is not None
        return only
    if requested not in outlets:
        raise Forbidden("You do not take payments at this outlet.")
    return requested


def payment_out(receipt: service.Receipt) -> PaymentOut:
    return PaymentOut(
        id=receipt.id,
        outlet_id=receipt.outlet_id,
        fund_id=receipt.fund_id,
        amount_cents=receipt.amount_cents,
        remaining_cents=receipt.remaining_cents,
        reference=receipt.reference,
        created_at=receipt.created_at,
    )


# The till's refusals, checked in this order so that nothing leaks (API.md).
PAYMENT_REFUSALS: dict[int | str, dict[str, Any]] = {
    **MONEY_RESPONSES,
    422: {"description": "validation_error; member_number_invalid (check digit or format)"},
    404: {"description": "member_unknown: no such member number"},
    403: {
        "description": "outlet_not_accredited (by the household's fund); household_inactive;"
        " pin_not_set; pin_incorrect (with `attempts_left`); forbidden"
    },
    423: {"description": "pin_locked (with `locked_until`)"},
    409: {
        "description": "insufficient_credits (with `available_cents`); "
        + str(MONEY_RESPONSES[409]["description"])
    },
}


@router.post("/payments", status_code=201, response_model=PaymentOut, responses=PAYMENT_REFUSALS)
def take_payment(
    body: PaymentIn, request: Request, db_session: DbSession, principal: CurrentPrincipal
) -> JSONResponse:
    """Take a payment at the till (a terminal, or the outlet's staff; Idempotency-Key)."""
    outlet_id = till_outlet(principal, body.outlet_id)

    def work(answer: Answer) -> tuple[int, PaymentOut]:
        taken = service.take_payment(
            db_session=db_session,
            outlet_id=outlet_id,
            member_number=body.member_number,
            amount_cents=body.amount_cents,
            pin=body.pin,
            reference=body.reference,
            taken_by=principal.actor,
            settings=request.app.state.settings,
            # The answer is written before the ledger post locks the outlet's payable.
            before_charge=lambda receipt: answer(201, payment_out(receipt)),
        )
        return 201, payment_out(taken.receipt)

    try:
        return idempotent_answering_early(
            request=request,
            db_session=db_session,
            caller=principal.actor,
            body=body,
            work=work,
            required=True,
        )
    except Problem as problem:
        if problem.keeps_changes:
            # A wrong PIN is committed so that it counts; the key's claim must not be, or a
            # retry with the same key would find a claim without an answer.
            forget_unanswered(
                db_session=db_session,
                caller=principal.actor,
                key=request.headers.get("idempotency-key"),
            )
        raise


@router.post(
    "/payments/{payment_id}/refunds",
    status_code=201,
    response_model=RefundOut,
    responses=MONEY_RESPONSES,
)
def refund(
    payment_id: uuid.UUID,
    body: RefundIn,
    request: Request,
    db_session: DbSession,
    principal: CurrentPrincipal,
) -> JSONResponse:
    """Give credits back to the household that paid (the same outlet's staff or terminal)."""
    outlet_id = views.outlet_of_payment(db_session, payment_id)
    if not any(
        principal.has(role, views.scope(outlet_id))
        for role in (Role.manager, Role.cashier, Role.terminal)
    ):
        raise Forbidden("Only the outlet that took the payment refunds it.")

    def work() -> tuple[int, RefundOut]:
        row = service.refund(
            db_session=db_session,
            outlet_id=outlet_id,
            payment_id=payment_id,
            amount_cents=body.amount_cents,
            reason=body.reason,
            refunded_by=principal.actor,
        )
        return 201, RefundOut.model_validate(row, from_attributes=True)

    return idempotent(
        request=request,
        db_session=db_session,
        caller=principal.actor,
        body=body,
        work=work,
        required=True,
    )


@router.get("/outlets/{outlet_id}/payments", response_model=OutletPaymentPage)
def outlet_payments(
    outlet_id: uuid.UUID,
    db_session: DbSession,
    _principal: OutletStaff,
    from_: Annotated[Instant | None, Query(alias="from")] = None,
    to: Instant | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> OutletPaymentPage:
    """The payments taken at this outlet, newest first: amounts, never who paid."""
    return views.outlet_payments(
        db_session=db_session, outlet_id=outlet_id, start=from_, end=to, limit=limit, cursor=cursor
    )


@router.get("/outlets/{outlet_id}/balance", response_model=BalanceOut)
def outlet_balance(
    outlet_id: uuid.UUID, fund_id: uuid.UUID, db_session: DbSession, _principal: OutletStaff
) -> BalanceOut:
    """What the fund owes the outlet."""
    return BalanceOut(
        outlet_id=outlet_id,
        fund_id=fund_id,
        payable_cents=views.payable(db_session, outlet_id, fund_id),
    )


@router.get(
    "/outlets/{outlet_id}/statement.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "The statement, as CSV"}},
)
def outlet_statement(
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
