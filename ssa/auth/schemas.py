"""What the identity endpoints take and return."""

import uuid

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from ssa.auth.passwords import MAX_PASSWORD_LENGTH


class RoleOut(BaseModel):
    role: str
    fund_id: uuid.UUID | None = None
    outlet_id: uuid.UUID | None = None


class MeOut(BaseModel):
    user_id: uuid.UUID
    email: str
    display_name: str
    roles: list[RoleOut]
    household_id: uuid.UUID | None = None
    person_id: uuid.UUID | None = None


class TerminalMeOut(BaseModel):
    """A till terminal's token: the contract's members too, `user_id` and `email` null (a
    terminal is no person) and `display_name` its label."""

    user_id: None = None
    email: None = None
    display_name: str
    client_id: str
    outlet_id: uuid.UUID | None
    roles: list[RoleOut]


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    display_name: str = Field(min_length=1, max_length=200)


class UserCreatedOut(BaseModel):
    id: uuid.UUID
    email: str
    display_name: str
    # Shown once: null when the answer is replayed for the same Idempotency-Key.
    invitation_token: str | None


class InvitationAcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


class InvitationAcceptedOut(BaseModel):
    user_id: uuid.UUID
    email: str


class RoleGrantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: uuid.UUID
    role: str = Field(pattern="^(coordinator|treasurer|auditor)$")


class RoleGrantOut(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    role: str
    fund_id: uuid.UUID
