"""Refusals raised by the ledger."""

import uuid
from typing import Any

from ssa.ledger.models import AccountKind
from ssa.problems import Conflict, NotFound, Problem


class UnbalancedTransaction(Problem):
    status = 422
    code = "unbalanced_transaction"
    title = "The transaction does not balance"


class AccountNotFound(NotFound):
    title = "No such account in this fund"


class TransactionNotFound(NotFound):
    title = "No such transaction in this fund"


class AlreadyReversed(Conflict):
    code = "already_reversed"
    title = "This transaction has already been reversed"


class InsufficientBalance(Conflict):
    """An account that may not go below zero does not hold enough."""

    code = "insufficient_balance"
    title = "Insufficient balance"

    def __init__(
        self, *, account_id: uuid.UUID, kind: AccountKind, available_cents: int, **extra: Any
    ) -> None:
        if kind is AccountKind.household_credits:
            self.code = "insufficient_credits"
            self.title = "Insufficient credits"
        super().__init__(
            f"The amount is above what the account holds ({available_cents} cents).",
            available_cents=available_cents,
            **extra,
        )
        self.account_id = account_id
        self.kind = kind
        self.available_cents = available_cents
