"""Every table, imported in one place for Alembic and the schema tests."""

from ssa.audit.models import AuditEntry
from ssa.auth.models import Invitation, LoginThrottle, OAuthClient, RefreshToken, RoleGrant, User
from ssa.db import metadata
from ssa.funds.models import Fund, FundPolicy
from ssa.idempotency.models import IdempotencyKey
from ssa.ledger.models import LedgerAccount, LedgerPosting, LedgerTransaction

__all__ = [
    "AuditEntry",
    "Fund",
    "FundPolicy",
    "IdempotencyKey",
    "Invitation",
    "LedgerAccount",
    "LedgerPosting",
    "LedgerTransaction",
    "LoginThrottle",
    "OAuthClient",
    "RefreshToken",
    "RoleGrant",
    "User",
    "metadata",
]
