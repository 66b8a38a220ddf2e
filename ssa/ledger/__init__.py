"""The double-entry ledger: accounts, balanced append-only transactions, and their checks."""
