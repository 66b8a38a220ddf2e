"""Users, invitations, role grants and the tokens handed to a logged-in user."""

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, col, select

from ssa.audit.service import record
from ssa.auth.models import Invitation, RefreshToken, RoleGrant, User
from ssa.auth.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, hash_password
from ssa.auth.roles import Role
from ssa.auth.tokens import TokenSigner, new_secret, secret_hash
from ssa.households.models import Person
from ssa.problems import Conflict, NotFound, Problem
from ssa.settings import Settings
from ssa.timeutil import utcnow


class EmailTaken(Conflict):
    code = "email_taken"
    title = "A user with this email exists already"


class UserNotFound(NotFound):
    title = "No such user"


class InvitationInvalid(Problem):
    status = 400
    code = "invitation_invalid"
    title = "This invitation is unknown, used or expired"


class PasswordTooWeak(Problem):
    status = 422
    code = "password_too_weak"
    title = "Password too weak"


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(*, db_session: Session, email: str) -> User | None:
    return db_session.exec(select(User).where(col(User.email) == normalise_email(email))).first()


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH or len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordTooWeak(
            f"A password has {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters."
        )


def create_user(
    *, db_session: Session, email: str, display_name: str, password: str | None = None
) -> User:
    if find_user_by_email(db_session=db_session, email=email) is not None:
        raise EmailTaken()
    user = User(email=normalise_email(email), display_name=display_name.strip())
    if password is not None:
        check_password_strength(password)
        user.password_hash = hash_password(password)
        user.password_changed_at = utcnow()
    db_session.add(user)
    db_session.flush()
    return user


def invite(*, db_session: Session, user: User, settings: Settings) -> str:
    """A one-time invitation token for `user` (only its hash is stored)."""
    token = new_secret()
    db_session.add(
        Invitation(
            user_id=user.id,
            token_hash=secret_hash(token),
            expires_at=utcnow() + timedelta(days=settings.invitation_days),
        )
    )
    db_session.flush()
    return token


def accept_invitation(*, db_session: Session, token: str, password: str) -> User:
    """Set the invited user's password; the invitation cannot be used again."""
    invitation = db_session.exec(
        select(Invitation).where(col(Invitation.token_hash) == secret_hash(token))
    ).first()
    if invitation is None or invitation.used_at is not None or invitation.expires_at <= utcnow():
        raise InvitationInvalid()
    check_password_strength(password)
    user = db_session.get(User, invitation.user_id)
    if user is None:
        raise InvitationInvalid()
    invitation.used_at = utcnow()
    set_password(db_session=db_session, user=user, password=password)
    db_session.add(invitation)
    db_session.flush()
    return user


def set_password(*, db_session: Session, user: User, password: str) -> None:
    """Change a password; every refresh token of the user is revoked with it."""
    check_password_strength(password)
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    db_session.add(user)
    revoke_refresh_tokens(db_session=db_session, user_id=user.id)


def revoke_refresh_tokens(*, db_session: Session, user_id: uuid.UUID) -> None:
    for token in db_session.exec(
        select(RefreshToken).where(
            col(RefreshToken.user_id) == user_id, col(RefreshToken.revoked_at).is_(None)
        )
    ).all():
        token.revoked_at = utcnow()
        db_session.add(token)
    db_session.flush()


def roles_claim(db_session: Session, user_id: uuid.UUID) -> list[dict[str, str]]:
    """The user's roles as carried in access tokens and /me: ids and roles only."""
    claim = []
    for grant in db_session.exec(select(RoleGrant).where(col(RoleGrant.user_id) == user_id)).all():
        entry = {"role": grant.role}
        if grant.fund_id is not None:
            entry["fund_id"] = str(grant.fund_id)
        if grant.outlet_id is not None:
            entry["outlet_id"] = str(grant.outlet_id)
        claim.append(entry)
    return claim


def grant_role(
    *,
    db_session: Session,
    actor: str,
    user_id: uuid.UUID,
    role: Role,
    fund_id: uuid.UUID | None = None,
    outlet_id: uuid.UUID | None = None,
    request_id: str | None = None,
) -> RoleGrant:
    """Grant a role (idempotent: granting a held role returns the existing grant)."""
    if db_session.get(User, user_id) is None:
        raise UserNotFound()
    existing = db_session.exec(
        select(RoleGrant).where(
            col(RoleGrant.user_id) == user_id,
            col(RoleGrant.role) == role.value,
            col(RoleGrant.fund_id) == fund_id if fund_id else col(RoleGrant.fund_id).is_(None),
            col(RoleGrant.outlet_id) == outlet_id
            if outlet_id
            else col(RoleGrant.outlet_id).is_(None),
        )
    ).first()
    if existing is not None:
        return existing
    grant = RoleGrant(user_id=user_id, role=role.value, fund_id=fund_id, outlet_id=outlet_id)
    db_session.add(grant)
    db_session.flush()
    record(
        db_session=db_session,
        actor=actor,
        action="role.grant",
        target_type="user",
        target_id=user_id,
        fund_id=fund_id,
        after={"role": role.value, "fund_id": fund_id, "outlet_id": outlet_id},
        request_id=request_id,
    )
    return grant


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    expires_in: int
    refresh_token: str


def issue_refresh_token(
    *,
    db_session: Session,
    user_id: uuid.UUID,
    settings: Settings,
    family_id: uuid.UUID | None = None,
) -> str:
    token = new_secret()
    db_session.add(
        RefreshToken(
            token_hash=secret_hash(token),
            family_id=family_id or uuid.uuid4(),
            user_id=user_id,
            expires_at=utcnow() + timedelta(days=settings.refresh_token_days),
        )
    )
    db_session.flush()
    return token


def issue_tokens_for_user(
    *, db_session: Session, user: User, signer: TokenSigner, settings: Settings
) -> IssuedTokens:
    """An access token and a new refresh token for a user who just logged in."""
    access, expires_in = signer.issue(
        subject=f"user:{user.id}", roles=roles_claim(db_session, user.id)
    )
    refresh = issue_refresh_token(db_session=db_session, user_id=user.id, settings=settings)
    return IssuedTokens(access_token=access, expires_in=expires_in, refresh_token=refresh)


def audit_user_created(
    *, db_session: Session, actor: str, user: User, request_id: str | None
) -> None:
    record(
        db_session=db_session,
        actor=actor,
        action="user.create",
        target_type="user",
        target_id=user.id,
        after={"email": user.email},  # the log holds no names (docs/architecture.md)
        request_id=request_id,
    )


def membership_of(*, db_session: Session, user_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID] | None:
    """(household id, person id) of the person this user is, if any."""
    row = db_session.exec(
        select(Person.household_id, Person.id).where(
            col(Person.user_id) == user_id, col(Person.left_on).is_(None)
        )
    ).first()
    return (row[0], row[1]) if row else None
