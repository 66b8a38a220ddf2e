"""Outlet endpoints: registration, accreditation per fund, public lists, staff, terminals."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from ssa.auth.deps import (
    Authorize,
    DbSession,
    Forbidden,
    Principal,
    Scope,
    Unauthenticated,
    any_fund,
    fund_path,
    get_optional_principal,
    outlet_in_its_funds,
    outlet_path,
)
from ssa.auth.roles import Role
from ssa.auth.service import grant_role
from ssa.funds.service import get_fund
from ssa.idempotency.http import idempotent, idempotent_no_content
from ssa.outlets import service
from ssa.outlets.models import Outlet, OutletFund, OutletStatus
from ssa.outlets.schemas import (
    AddressIn,
    ApplicationIn,
    FundOutletOut,
    FundOutletPage,
    OutletIn,
    OutletOut,
    StaffIn,
    StaffOut,
    StatusChangeOut,
    StatusChangePage,
    StatusIn,
    TerminalIn,
    TerminalOut,
)
from ssa.pagination import (
    Cursor,
    Limit,
    decode_name_position,
    decode_position,
    encode_cursor,
    encode_position,
)
from ssa.types import BlankIsNone

router = APIRouter(prefix="/api/v1", tags=["outlets"])

AnyCoordinator = Annotated[Principal, Depends(Authorize(Role.coordinator, on=any_fund))]
FundCoordinator = Annotated[Principal, Depends(Authorize(Role.coordinator, on=fund_path))]
# Acting on an outlet: its manager, a coordinator of the funds where it stands (see
# outlet_in_its_funds), or the administrator.
OutletManager = Annotated[
    Principal,
    Depends(Authorize(Role.manager, Role.coordinator, Role.admin, on=outlet_in_its_funds)),
]
OutletReader = Annotated[
    Principal,
    Depends(
        Authorize(
            Role.manager,
            Role.cashier,
            Role.terminal,
            Role.coordinator,
            Role.treasurer,
            Role.auditor,
            Role.admin,
            on=outlet_path,
        )
    ),
]


def outlet_out(db_session: DbSession, outlet: Outlet) -> OutletOut:
    return OutletOut(
        id=outlet.id,
        name=outlet.name,
        siret=outlet.siret,
        iban=outlet.iban,
        bic=outlet.bic,
        address=AddressIn(line1=outlet.address_line1, postcode=outlet.postcode, city=outlet.city),
        category=outlet.category,
        latitude=outlet.latitude,
        longitude=outlet.longitude,
        funds=service.standings(db_session, outlet.id),
    )


def fund_outlet_out(outlet: Outlet, standing: OutletFund, *, public: bool) -> FundOutletOut:
    return FundOutletOut(
        id=outlet.id,
        name=outlet.name,
        category=outlet.category,
        address=AddressIn(line1=outlet.address_line1, postcode=outlet.postcode, city=outlet.city),
        latitude=outlet.latitude,
        longitude=outlet.longitude,
        status=standing.status,
        criteria=None if public else standing.criteria,
    )


@router.post("/outlets", status_code=201, response_model=OutletOut)
def register_outlet(
    body: OutletIn, request: Request, db_session: DbSession, principal: AnyCoordinator
) -> JSONResponse:
    """Register an outlet (a coordinator); SIRET and IBAN are checked."""

    def work() -> tuple[int, OutletOut]:
        outlet = service.register_outlet(
            db_session=db_session,
            outlet_in=body,
            actor=principal.actor,
            request_id=request.state.request_id,
        )
        return 201, outlet_out(db_session, outlet)

    return idempotent(
        request=request,
        db_session=db_session,
        caller=principal.actor,
        body=body,
        work=work,
        required=False,
    )


@router.get("/outlets/{outlet_id}", response_model=OutletOut)
def get_outlet(outlet_id: uuid.UUID, db_session: DbSession, _principal: OutletReader) -> OutletOut:
    """An outlet with its standing in each fund (its staff, fund staff)."""
    return outlet_out(db_session, service.get_outlet(db_session=db_session, outlet_id=outlet_id))


@router.get("/funds/{fund_id}/outlets", response_model=FundOutletPage)
def fund_outlets(
    fund_id: uuid.UUID,
    request: Request,
    db_session: DbSession,
    principal: Annotated[Principal | None, Depends(get_optional_principal)],
    status: Annotated[OutletStatus | None, BlankIsNone] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> FundOutletPage:
    """The fund's outlets; with `status=accredited` this is public (no token needed)."""
    public = status == OutletStatus.accredited
    staff = principal is not None and any(
        principal.has(role, Scope(fund_id=fund_id))
        for role in (Role.coordinator, Role.treasurer, Role.auditor)
    )
    if not public and principal is None:
        raise Unauthenticated()
    if not public and not staff:
        raise Forbidden("Only the fund's staff see outlets other than the accredited ones.")
    get_fund(db_session=db_session, fund_id=fund_id)  # an unknown fund is a 404, not no outlets
    after = decode_name_position(cursor)
    rows = service.fund_outlets(
        db_session=db_session,
        fund_id=fund_id,
        status=status,
        limit=limit + 1,
        after_name=after,
    )
    items = [fund_outlet_out(o, s, public=not staff) for o, s in rows[:limit]]
    next_cursor = (
        encode_cursor(rows[limit - 1][0].name, str(rows[limit - 1][0].id))
        if len(rows) > limit
        else None
    )
    return FundOutletPage(items=items, next_cursor=next_cursor)


@router.get("/funds/{fund_id}/outlets.geojson")
def fund_outlets_geojson(fund_id: uuid.UUID, db_session: DbSession) -> JSONResponse:
    """The accredited outlets as GeoJSON, for maps (public)."""
    get_fund(db_session=db_session, fund_id=fund_id)
    rows = service.fund_outlets(
        db_session=db_session,
        fund_id=fund_id,
        status=OutletStatus.accredited,
        limit=10_000,
        after_name=None,
    )
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [outlet.longitude, outlet.latitude]},
            "properties": {
                "id": str(outlet.id),
                "name": outlet.name,
                "category": outlet.category,
                "address": f"{outlet.address_line1}, {outlet.postcode} {outlet.city}",
            },
        }
        for outlet, _ in rows
        if outlet.latitude is not None and outlet.longitude is not None
    ]
    return JSONResponse(
        {"type": "FeatureCollection", "features": features},
        media_type="application/geo+json",
    )


@router.post(
    "/funds/{fund_id}/outlets/{outlet_id}/application",
    status_code=201,
    response_model=FundOutletOut,
)
def apply(
    fund_id: uuid.UUID,
    outlet_id: uuid.UUID,
    body: ApplicationIn,
    request: Request,
    db_session: DbSession,
    principal: FundCoordinator,
) -> JSONResponse:
    """File the outlet's application to the fund, scored on the fund's criteria."""

    def work() -> tuple[int, FundOutletOut]:
        standing = service.apply(
            db_session=db_session,
            fund_id=fund_id,
            outlet_id=outlet_id,
            application=body,
            actor=principal.actor,
            request_id=request.state.request_id,
        )
        outlet = service.get_outlet(db_session=db_session, outlet_id=outlet_id)
        return 201, fund_outlet_out(outlet, standing, public=False)

    return idempotent(
        request=request,
        db_session=db_session,
        caller=principal.actor,
        body=body,
        work=work,
        required=False,
    )


@router.put("/funds/{fund_id}/outlets/{outlet_id}/status", response_model=FundOutletOut)
def set_status(
    fund_id: uuid.UUID,
    outlet_id: uuid.UUID,
    body: StatusIn,
    request: Request,
    db_session: DbSession,
    principal: FundCoordinator,
) -> FundOutletOut:
    """Record an assembly decision taken in a meeting (the minutes' reference is kept)."""
    standing = service.set_status(
        db_session=db_session,
        fund_id=fund_id,
        outlet_id=outlet_id,
        status=body.status,
        actor=principal.actor,
        decision_reference=body.decision_reference,
        request_id=request.state.request_id,
    )
    outlet = service.get_outlet(db_session=db_session, outlet_id=outlet_id)
    return fund_outlet_out(outlet, standing, public=False)


@router.get("/funds/{fund_id}/outlets/{outlet_id}/history", response_model=StatusChangePage)
def status_history(
    fund_id: uuid.UUID,
    outlet_id: uuid.UUID,
    db_session: DbSession,
    _principal: Annotated[
        Principal, Depends(Authorize(Role.coordinator, Role.treasurer, Role.auditor, on=fund_path))
    ],
    limit: Limit = 50,
    cursor: Cursor = None,
) -> StatusChangePage:
    """Every status the outlet had in the fund, and the decision behind each, oldest first."""
    changes = service.history(
        db_session=db_session,
        fund_id=fund_id,
        outlet_id=outlet_id,
        limit=limit + 1,
        after=decode_position(cursor),
    )
    last = changes[limit - 1] if len(changes) > limit else None
    return StatusChangePage(
        items=[
            StatusChangeOut.model_validate(change, from_attributes=True)
            for change in changes[:limit]
        ],
        next_cursor=encode_position(last.created_at, last.id) if last else None,
    )


@router.post("/outlets/{outlet_id}/staff", status_code=201, response_model=StaffOut)
def add_staff(
    outlet_id: uuid.UUID,
    body: StaffIn,
    request: Request,
    db_session: DbSession,
    principal: Annotated[
        Principal,
        Depends(Authorize(Role.manager, Role.coordinator, Role.admin, on=outlet_in_its_funds)),
    ],
) -> JSONResponse:
    """Make a user a manager or cashier of the outlet (its manager, a coordinator of a fund
    where it stands, or the administrator: the first manager has to come from somewhere)."""

    def work() -> tuple[int, StaffOut]:
        service.get_outlet(db_session=db_session, outlet_id=outlet_id)
        grant = grant_role(
            db_session=db_session,
            actor=principal.actor,
            user_id=body.user_id,
            role=Role(body.role),
            outlet_id=outlet_id,
            request_id=request.state.request_id,
        )
        return 201, StaffOut(
            id=grant.id, user_id=grant.user_id, role=grant.role, outlet_id=outlet_id
        )

    return idempotent(
        request=request,
        db_session=db_session,
        caller=principal.actor,
        body=body,
        work=work,
        required=False,
    )


@router.post(
    "/outlets/{outlet_id}/terminals",
    status_code=201,
    response_model=TerminalOut,
    responses={
        201: {"description": "The terminal's credentials; `client_secret` is null on a replay"}
    },
)
def create_terminal(
    outlet_id: uuid.UUID,
    body: TerminalIn,
    request: Request,
    db_session: DbSession,
    principal: OutletManager,
) -> JSONResponse:
    """A till terminal's client credentials: the secret is shown this once.

    It is never stored in clear: a retry with the same Idempotency-Key replays the answer
    with `client_secret` null (revoke that terminal and create another if it was lost)."""

    def work() -> tuple[int, TerminalOut]:
        client, secret = service.create_terminal(
            db_session=db_session,
            outlet_id=outlet_id,
            label=body.label,
            actor=principal.actor,
            request_id=request.state.request_id,
        )
        return 201, TerminalOut(
            client_id=client.client_id,
            client_secret=secret,
            label=client.label,
            outlet_id=outlet_id,
        )

    return idempotent(
        request=request,
        db_session=db_session,
        caller=principal.actor,
        body=body,
        work=work,
        required=False,
        secret_fields={"client_secret"},
    )


@router.post(
    "/outlets/{outlet_id}/terminals/{client_id}/revoke", status_code=204, response_class=Response
)
def revoke_terminal(
    outlet_id: uuid.UUID,
    client_id: str,
    request: Request,
    db_session: DbSession,
    principal: OutletManager,
) -> Response:
    """Revoke a terminal: its tokens stop working at once."""

    def work() -> None:
        service.revoke_terminal(
            db_session=db_session,
            outlet_id=outlet_id,
            client_id=client_id,
            actor=principal.actor,
            request_id=request.state.request_id,
        )

    return idempotent_no_content(
        request=request,
        db_session=db_session,
        caller=principal.actor,
        body=None,
        work=work,
        required=False,
    )
