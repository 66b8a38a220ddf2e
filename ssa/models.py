"""Every table, imported in one place for Alembic and the schema tests."""

from ssa.assembly.models import Ballot, CommitteeDraw, Proposal, ProposalVoter
from ssa.audit.models import AuditEntry
from ssa.auth.models import Invitation, LoginThrottle, OAuthClient, RefreshToken, RoleGrant, User
from ssa.db import metadata
from ssa.funds.models import Fund, FundPolicy
from ssa.households.models import (
    Contribution,
    ContributionChange,
    ContributionWaiver,
    DirectDebitMandate,
    DirectDebitRun,
    DirectDebitRunLine,
    Household,
    MemberNumberCounter,
    Person,
)
from ssa.idempotency.models import IdempotencyKey
from ssa.issuance.models import HouseholdIssuance, PeriodClose
from ssa.ledger.models import LedgerAccount, LedgerPosting, LedgerTransaction
from ssa.outlets.models import Outlet, OutletFund, OutletStatusChange
from ssa.payments.models import Payment, PaymentRequest, Refund
from ssa.payouts.models import Payout, PayoutLine

__all__ = [
    "AuditEntry",
    "Ballot",
    "CommitteeDraw",
    "Contribution",
    "ContributionChange",
    "ContributionWaiver",
    "DirectDebitMandate",
    "DirectDebitRun",
    "DirectDebitRunLine",
    "Fund",
    "FundPolicy",
    "Household",
    "HouseholdIssuance",
    "IdempotencyKey",
    "Invitation",
    "LedgerAccount",
    "LedgerPosting",
    "LedgerTransaction",
    "LoginThrottle",
    "MemberNumberCounter",
    "OAuthClient",
    "Outlet",
    "OutletFund",
    "OutletStatusChange",
    "Payment",
    "PaymentRequest",
    "Payout",
    "PayoutLine",
    "PeriodClose",
    "Person",
    "Proposal",
    "ProposalVoter",
    "RefreshToken",
    "Refund",
    "RoleGrant",
    "User",
    "metadata",
]
