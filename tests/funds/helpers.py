"""Tokens for the funds tests, made without the token endpoint: a user, a role, a JWT."""

import uuid

from fastapi import FastAPI
from sqlmodel import Session

from ssa.auth.roles import Role
from ssa.auth.service import create_user, grant_role

VALID_IBAN = "FR76 3000 6000 0112 3456 7890 189"
VALID_BIC = "AGRIFRPP"


def headers_for(
    app: FastAPI, role: Role | None = None, fund_id: uuid.UUID | None = None
) -> dict[str, str]:
    """An Authorization header for a new user holding `role` (on `fund_id` for fund roles)."""
    with Session(app.state.engine, expire_on_commit=False) as db_session:
        user = create_user(
            db_session=db_session,
            email=f"user-{uuid.uuid4().hex[:12]}@example.org",
            display_name="Test user",
        )
        if role is not None:
            grant_role(
                db_session=db_session, actor="system", user_id=user.id, role=role, fund_id=fund_id
            )
        db_session.commit()
    token, _ = app.state.token_signer.issue(subject=f"user:{user.id}", roles=[])
    return {"Authorization": f"Bearer {token}"}


def new_slug(prefix: str = "fund") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
