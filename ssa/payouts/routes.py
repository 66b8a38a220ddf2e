"""Payout endpoints: batches of transfers to outlets, their SEPA file, confirm and cancel."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlmodel import Session

from ssa.auth.deps import Authorize, DbSession, MalformedId, Principal, Scope, fund_path
from ssa.auth.roles import Role
from ssa.idempotency.http import MONEY_RESPONSES, idempotent
from ssa.pagination import Cursor, Limit, decode_position, encode_cursor
from ssa.payouts import service
from ssa.payouts.schemas import PayoutIn, PayoutOut, PayoutPage
from ssa.payouts.sepa import sepa_credit_transfer

router = APIRouter(prefix="/api/v1", tags=["payouts"])

READERS = (Role.treasurer, Role.auditor, Role.coordinator)


def payout_path(request: Request, db_session: Session) -> Scope:
    """The payout in the path, and its fund: 404 when there is none."""
    raw = request.path_params.get("payout_id")
    try:
        payout_id = uuid.UUID(str(raw))
    except ValueError as exc:
        raise MalformedId(
            "`payout_id` is not a valid id.",
            errors=[
                {"loc": ["path", "payout_id"], "msg": "not a valid id", "type": "uuid_parsing"}
            ],
        ) from exc
    payout = service.get_payout(db_session=db_session, payout_id=payout_id)
    return Scope(fund_id=payout.fund_id)


FundTreasurer = Annotated[Principal, Depends(Authorize(Role.treasurer, on=fund_path))]
FundReader = Annotated[Principal, Depends(Authorize(*READERS, on=fund_path))]
PayoutTreasurer = Annotated[Principal, Depends(Authorize(Role.treasurer, on=payout_path))]
PayoutReader = Annotated[Principal, Depends(Authorize(*READERS, on=payout_path))]

CLOSING_RESPONSES: dict[int | str, dict[str, object]] = {
    400: MONEY_RESPONSES[400],
    409: {
        "description": "payout_not_open: the payout is already closed the other way (its "
        "`payout_status`); "
        "insufficient_balance: the bank account does not hold the total"
    },
}


@router.post(
    "/funds/{fund_id}/payouts",
    status_code=201,
    response_model=PayoutOut,
    responses={
        **MONEY_RESPONSES,
        409: {
            "description": "nothing_to_pay: no outlet is owed the minimum; "
            "idempotency_conflict: the key was used for another request"
        },
    },
)
def create_payout(
    fund_id: uuid.UUID,
    request: Request,
    db_session: DbSession,
    principal: FundTreasurer,
    body: PayoutIn | None = None,
) -> JSONResponse:
    """Put what the fund owes every outlet (at least the minimum) in one batch of
    transfers (treasurer; Idempotency-Key)."""
    wanted = body or PayoutIn()

    def work() -> tuple[int, PayoutOut]:
        created = service.create_payout(
            db_session=db_session,
            fund_id=fund_id,
            minimum_cents=wanted.minimum_cents,
            actor=principal.actor,
            request_id=request.state.request_id,
        )
        return 201, PayoutOut.of(created)

    return idempotent(
        request=request,
        db_session=db_session,
        caller=principal.actor,
        body=wanted,
        work=work,
        required=True,
    )


@router.get("/funds/{fund_id}/payouts", response_model=PayoutPage)
def list_payouts(
    fund_id: uuid.UUID,
    db_session: DbSession,
    _principal: FundReader,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PayoutPage:
    """The fund's payout batches, newest first (treasurer, auditor, coordinator)."""
    position = decode_position(cursor)
    found = service.list_payouts(
        db_session=db_session, fund_id=fund_id, limit=limit + 1, before=position
    )
    last = found[limit - 1].payout if len(found) > limit else None
    return PayoutPage(
        items=[PayoutOut.of(x) for x in found[:limit]],
        next_cursor=encode_cursor(last.created_at.isoformat(), last.id) if last else None,
    )


@router.get("/payouts/{payout_id}", response_model=PayoutOut)
def read_payout(payout_id: uuid.UUID, db_session: DbSession, _principal: PayoutReader) -> PayoutOut:
    """One batch and its lines (treasurer, auditor, coordinator)."""
    payout = service.get_payout(db_session=db_session, payout_id=payout_id)
    return PayoutOut.of(service.with_lines(db_session=db_session, payout=payout))


@router.get(
    "/payouts/{payout_id}/sepa.xml",
    response_class=Response,
    responses={
        200: {
            "content": {"application/xml": {}},
            "description": "pain.001.001.03, valid against its ISO 20022 schema",
        },
        409: {"description": "payout_cancelled or fund_iban_missing"},
    },
)
def sepa_file(payout_id: uuid.UUID, db_session: DbSession, _principal: PayoutReader) -> Response:
    """The batch's SEPA credit transfer file, for the fund's bank."""
    payout = service.get_payout(db_session=db_session, payout_id=payout_id)
    xml = sepa_credit_transfer(
        db_session=db_session, found=service.with_lines(db_session=db_session, payout=payout)
    )
    return Response(
        content=xml,
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="payout-{payout.id}.xml"'},
    )


@router.post("/payouts/{payout_id}/confirm", response_model=PayoutOut, responses=CLOSING_RESPONSES)
def confirm_payout(
    payout_id: uuid.UUID, request: Request, db_session: DbSession, principal: PayoutTreasurer
) -> JSONResponse:
    """The bank made the transfers: the euros leave the bank account (treasurer).
    Confirming again answers the same."""

    def work() -> tuple[int, PayoutOut]:
        confirmed = service.confirm_payout(
            db_session=db_session,
            payout_id=payout_id,
            actor=principal.actor,
            request_id=request.state.request_id,
        )
        return 200, PayoutOut.of(confirmed)

    return idempotent(
        request=request,
        db_session=db_session,
        caller=principal.actor,
        body=None,
        work=work,
        required=True,
    )


@router.post("/payouts/{payout_id}/cancel", response_model=PayoutOut, responses=CLOSING_RESPONSES)
def cancel_payout(
    payout_id: uuid.UUID, request: Request, db_session: DbSession, principal: PayoutTreasurer
) -> JSONResponse:
    """The transfers will not be made: the amounts go back to the outlets (treasurer).
    Cancelling again answers the same."""

    def work() -> tuple[int, PayoutOut]:
        cancelled = service.cancel_payout(
            db_session=db_session,
            payout_id=payout_id,
            actor=principal.actor,
            request_id=request.state.request_id,
        )
        return 200, PayoutOut.of(cancelled)

    return idempotent(
        request=request,
        db_session=db_session,
        caller=principal.actor,
        body=None,
        work=work,
        required=True,
    )
