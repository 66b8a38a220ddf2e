"""Identity endpoints: tokens, invitations, the caller, users and fund roles."""

import uuid
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool

from ssa.auth import service
from ssa.auth.deps import Authorize, CurrentPrincipal, DbSession, Principal, any_fund, fund_path
from ssa.auth.models import OAuthClient, User
from ssa.auth.roles import Role
from ssa.auth.schemas import (
    InvitationAcceptedOut,
    InvitationAcceptIn,
    MeOut,
    RoleGrantIn,
    RoleGrantOut,
    RoleOut,
    TerminalMeOut,
    UserCreatedOut,
    UserIn,
)
from ssa.auth.server import token_response
from ssa.auth.tokens import secret_hash
from ssa.funds.service import get_fund
from ssa.idempotency.http import idempotent

router = APIRouter(prefix="/api/v1", tags=["auth"])

_TOKEN_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {
                            "type": "string",
                            "enum": ["password", "client_credentials", "refresh_token"],
                        },
                        "username": {"type": "string"},
                        "password": {"type": "string"},
                        "client_id": {"type": "string"},
                        "client_secret": {"type": "string"},
                        "refresh_token": {"type": "string"},
                    },
                }
            }
        },
    },
    "responses": {
        "200": {"description": "Tokens (RFC 6749 §5.1)"},
        "400": {"description": "RFC 6749 error: invalid_request, invalid_grant..."},
        "401": {"description": "RFC 6749 error: invalid_client"},
    },
}


def _invalid_request(description: str) -> JSONResponse:
    return JSONResponse(
        {"error": "invalid_request", "error_description": description},
        status_code=400,
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


@router.post("/auth/token", openapi_extra=_TOKEN_FORM, response_model=None)
async def token(request: Request, db_session: DbSession) -> JSONResponse:
    """OAuth2 token endpoint: password, client_credentials and refresh_token grants."""
    body = (await request.body()).decode("utf-8", errors="replace")
    form = parse_qs(body, keep_blank_values=False, max_num_fields=20)
    if "\x00" in body or any("\x00" in v for values in form.values() for v in values):
        return _invalid_request("NUL characters are not allowed.")
    if not form.get("grant_type"):
        # RFC 6749 5.2: a missing required parameter is `invalid_request` (Authlib would
        # answer `unsupported_grant_type`, which is for a grant type it does not know).
        return _invalid_request("grant_type is missing.")
    address = request.client.host if request.client else None
    status, payload, headers = await run_in_threadpool(
        token_response,
        db_session=db_session,
        signer=request.app.state.token_signer,
        settings=request.app.state.settings,
        method=request.method,
        uri=str(request.url),
        headers=request.headers,
        form=form,
        address=address,
    )
    return JSONResponse(payload, status_code=status, headers=headers)


@router.post("/auth/invitations/accept", response_model=InvitationAcceptedOut)
def accept_invitation(
    body: InvitationAcceptIn, request: Request, db_session: DbSession
) -> JSONResponse:
    """Set a password with a one-time invitation token. The caller has no token yet: an
    Idempotency-Key is scoped to the invitation (a retry after a lost answer gets it)."""

    def work() -> tuple[int, InvitationAcceptedOut]:
        user = service.accept_invitation(
            db_session=db_session, token=body.token, password=body.password
        )
        return 200, InvitationAcceptedOut(user_id=user.id, email=user.email)

    return idempotent(
        request=request,
        db_session=db_session,
        caller=f"invitation:{secret_hash(body.token)}",
        body=body,
        work=work,
        required=False,
    )


@router.get("/me", response_model=MeOut | TerminalMeOut)
def me(principal: CurrentPrincipal, db_session: DbSession) -> MeOut | TerminalMeOut:
    """Who the token belongs to, and its roles."""
    if principal.user_id is None:
        terminal = db_session.exec(
            select(OAuthClient).where(col(OAuthClient.client_id) == principal.client_id)
        ).first()
        return TerminalMeOut(
            display_name=terminal.label if terminal is not None else "",
            client_id=principal.client_id or "",
            outlet_id=principal.terminal_outlet_id,
            roles=[RoleOut(role=Role.terminal, outlet_id=principal.terminal_outlet_id)],
        )
    user = db_session.get(User, principal.user_id)
    assert user is not None  # the principal was loaded from it in this transaction
    roles = [RoleOut.model_validate(r) for r in service.roles_claim(db_session, user.id)]
    membership = service.membership_of(db_session=db_session, user_id=user.id)
    return MeOut(
        user_id=user.id,
        email=user.email,
        display_name=user.display_name,
        roles=roles,
        household_id=membership[0] if membership else None,
        person_id=membership[1] if membership else None,
    )


@router.post(
    "/users",
    status_code=201,
    response_model=UserCreatedOut,
    responses={201: {"description": "The user; `invitation_token` is null on a replay"}},
)
def create_user(
    body: UserIn,
    request: Request,
    db_session: DbSession,
    principal: Annotated[Principal, Depends(Authorize(Role.admin, Role.coordinator, on=any_fund))],
) -> JSONResponse:
    """Create a user and a one-time invitation (admin, or a coordinator of any fund).

    The invitation token is shown in this answer only and is never stored in clear: a
    retry with the same Idempotency-Key replays the answer with `invitation_token` null."""

    def work() -> tuple[int, UserCreatedOut]:
        user = service.create_user(
            db_session=db_session, email=body.email, display_name=body.display_name
        )
        invitation = service.invite(
            db_session=db_session, user=user, settings=request.app.state.settings
        )
        service.audit_user_created(
            db_session=db_session,
            actor=principal.actor,
            user=user,
            request_id=request.state.request_id,
        )
        return 201, UserCreatedOut(
            id=user.id,
            email=user.email,
            display_name=user.display_name,
            invitation_token=invitation,
        )

    return idempotent(
        request=request,
        db_session=db_session,
        caller=principal.actor,
        body=body,
        work=work,
        required=False,
        secret_fields={"invitation_token"},
    )


@router.post("/funds/{fund_id}/roles", status_code=201, response_model=RoleGrantOut)
def grant_fund_role(
    fund_id: uuid.UUID,
    body: RoleGrantIn,
    request: Request,
    db_session: DbSession,
    principal: Annotated[Principal, Depends(Authorize(Role.admin, Role.coordinator, on=fund_path))],
) -> JSONResponse:
    """Grant coordinator, treasurer or auditor in a fund (admin, or the fund's coordinator)."""

    def work() -> tuple[int, RoleGrantOut]:
        get_fund(db_session=db_session, fund_id=fund_id)
        grant = service.grant_role(
            db_session=db_session,
            actor=principal.actor,
            user_id=body.user_id,
            role=Role(body.role),
            fund_id=fund_id,
            request_id=request.state.request_id,
        )
        return 201, RoleGrantOut(
            id=grant.id, user_id=grant.user_id, role=grant.role, fund_id=fund_id
        )

    return idempotent(
        request=request,
        db_session=db_session,
        caller=principal.actor,
        body=body,
        work=work,
        required=False,
    )
