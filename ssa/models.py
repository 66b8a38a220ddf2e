"""Every table, imported in one place for Alembic and the schema tests."""

from ssa.db import metadata
from ssa.funds.models import Fund
from ssa.idempotency.models import IdempotencyKey
from ssa.ledger.models import LedgerAccount, LedgerPosting, LedgerTransaction

__all__ = [
    "Fund",
    "IdempotencyKey",
    "LedgerAccount",
    "LedgerPosting",
    "LedgerTransaction",
    "metadata",
]
