"""The append-only audit log of privileged actions."""
