"""Household endpoints: registration, changes, PINs, and the household's own views."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from ssa.auth.deps import Authorize, DbSession, Principal, fund_path, household_path
from ssa.auth.roles import Role
from ssa.households import service, views
from ssa.households.models import Household, HouseholdStatus
from ssa.households.schemas import (
    AccountOut,
    AllowanceLineOut,
    HouseholdIn,
    HouseholdOut,
    HouseholdPage,
    HouseholdPatch,
    HouseholdSummaryOut,
    PersonOut,
    PinIn,
    TransactionPage,
)
from ssa.idempotency.http import idempotent, idempotent_no_content
from ssa.pagination import Cursor, Limit, decode_cursor, encode_cursor
from ssa.types import PERIOD_PATTERN, BlankIsNone

router = APIRouter(prefix="/api/v1", tags=["households"])

Coordinator = Annotated[Principal, Depends(Authorize(Role.coordinator, on=fund_path))]
HouseholdCoordinator = Annotated[Principal, Depends(Authorize(Role.coordinator, on=household_path))]
MemberOrCoordinator = Annotated[
    Principal, Depends(Authorize(Role.member, Role.coordinator, on=household_path))
]


def household_out(
    db_session: DbSession, household: Household, tokens: dict[uuid.UUID, str] | None = None
) -> HouseholdOut:
    assessment = service.assess_household(db_session, household)
    persons = service.current_persons(db_session, household.id)
    return HouseholdOut(
        id=household.id,
        fund_id=household.fund_id,
        member_number=household.member_number,
        status=household.status,
        allowance_cents=assessment.allowance.total_cents,
        allowance_period=assessment.period,
        allowance_explained=[
            AllowanceLineOut(
                person_id=uuid.UUID(line.person_id),
                share=line.share,
                cents=line.cents,
                child_cents=line.child_cents,
            )
            for line in assessment.allowance.lines
        ],
        contribution_minimum_cents=assessment.minimum_cents,
        contribution_recommended_cents=assessment.recommended_cents,
        chosen_contribution_cents=household.chosen_contribution_cents,
        address=service.address_of(household),
        declared=service.declared_of(household),
        persons=[
            PersonOut(
                id=p.id,
                given_name=p.given_name,
                family_name=p.family_name,
                birth_date=p.birth_date,
                email=p.email,
                user_id=p.user_id,
                invitation_token=(tokens or {}).get(p.id),
            )
            for p in persons
        ],
        pin_set=household.pin_hash is not None,
        pin_locked_until=household.pin_locked_until.isoformat()
        if household.pin_locked_until is not None and service.pin_locked(household)
        else None,
    )


@router.post(
    "/funds/{fund_id}/households",
    status_code=201,
    response_model=HouseholdOut,
    responses={201: {"description": "The household; invitation tokens are null on a replay"}},
)
def register_household(
    fund_id: uuid.UUID,
    body: HouseholdIn,
    request: Request,
    db_session: DbSession,
    principal: Coordinator,
) -> JSONResponse:
    """Register a household (coordinator); persons with an email get an invitation.

    The invitation tokens are shown in this answer only and are never stored in clear: a
    retry with the same Idempotency-Key replays the answer with `invitation_token` null."""

    def work() -> tuple[int, HouseholdOut]:
        household, tokens = service.register(
            db_session=db_session,
            fund_id=fund_id,
            household_in=body,
            actor=principal.actor,
            settings=request.app.state.settings,
            request_id=request.state.request_id,
        )
        return 201, household_out(db_session, household, tokens)

    return idempotent(
        request=request,
        db_session=db_session,
        caller=principal.actor,
        body=body,
        work=work,
        required=False,
        secret_fields={"invitation_token"},
    )


@router.get("/funds/{fund_id}/households", response_model=HouseholdPage)
def list_households(
    fund_id: uuid.UUID,
    db_session: DbSession,
    _principal: Coordinator,
    status: Annotated[HouseholdStatus | None, BlankIsNone] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> HouseholdPage:
    """Search the fund's households (coordinator)."""
    after = decode_cursor(cursor, 1)
    rows = service.list_households(
        db_session=db_session,
        fund_id=fund_id,
        status=status,
        q=q,
        limit=limit + 1,
        after_member_number=str(after[0]) if after else None,
    )
    items = []
    for household in rows[:limit]:
        persons = service.current_persons(db_session, household.id)
        items.append(
            HouseholdSummaryOut(
                id=household.id,
                member_number=household.member_number,
                status=household.status,
                persons=len(persons),
                family_names=sorted({p.family_name for p in persons}),
            )
        )
    next_cursor = encode_cursor(rows[limit - 1].member_number) if len(rows) > limit else None
    return HouseholdPage(items=items, next_cursor=next_cursor)


@router.get("/households/{household_id}", response_model=HouseholdOut)
def get_household(
    household_id: uuid.UUID, db_session: DbSession, _principal: MemberOrCoordinator
) -> HouseholdOut:
    """A household with its persons and declared resources (its members, the coordinator)."""
    return household_out(
        db_session, service.get_household(db_session=db_session, household_id=household_id)
    )


@router.patch("/households/{household_id}", response_model=HouseholdOut)
def patch_household(
    household_id: uuid.UUID,
    body: HouseholdPatch,
    request: Request,
    db_session: DbSession,
    principal: HouseholdCoordinator,
) -> HouseholdOut:
    """Change persons, address, resources, contribution or status (coordinator)."""
    household = service.get_household(db_session=db_session, household_id=household_id)
    tokens = service.update(
        db_session=db_session,
        household=household,
        patch=body,
        actor=principal.actor,
        settings=request.app.state.settings,
        request_id=request.state.request_id,
    )
    return household_out(db_session, household, tokens)


@router.put("/households/{household_id}/pin", status_code=204, response_class=Response)
def set_pin(
    household_id: uuid.UUID,
    body: PinIn,
    request: Request,
    db_session: DbSession,
    principal: MemberOrCoordinator,
) -> Response:
    """Choose the 4-digit PIN typed at the till (a member of the household, or the coordinator)."""
    household = service.get_household(db_session=db_session, household_id=household_id)
    service.set_pin(
        db_session=db_session,
        household=household,
        pin=body.pin,
        settings=request.app.state.settings,
        actor=principal.actor,
        request_id=request.state.request_id,
    )
    return Response(status_code=204)


@router.post("/households/{household_id}/pin/unlock", status_code=204, response_class=Response)
def unlock_pin(
    household_id: uuid.UUID,
    request: Request,
    db_session: DbSession,
    principal: HouseholdCoordinator,
) -> Response:
    """Unlock a card locked by wrong PINs (coordinator)."""

    def work() -> None:
        household = service.get_household(db_session=db_session, household_id=household_id)
        service.unlock_pin(
            db_session=db_session,
            household=household,
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


@router.get("/households/{household_id}/account", response_model=AccountOut)
def account(
    household_id: uuid.UUID, db_session: DbSession, _principal: MemberOrCoordinator
) -> AccountOut:
    """Credits now, this period's allowance, and what was issued and spent this period."""
    household = service.get_household(db_session=db_session, household_id=household_id)
    return views.account(db_session=db_session, household=household)


@router.get("/households/{household_id}/transactions", response_model=TransactionPage)
def transactions(
    household_id: uuid.UUID,
    db_session: DbSession,
    _principal: MemberOrCoordinator,
    period: Annotated[str | None, Query(pattern=PERIOD_PATTERN)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> TransactionPage:
    """The household's history, newest first; amounts signed from the household's side."""
    household = service.get_household(db_session=db_session, household_id=household_id)
    return views.transactions(
        db_session=db_session, household=household, period=period, limit=limit, cursor=cursor
    )
