"""Idempotency keys: a retried request does the work once and answers the same."""
