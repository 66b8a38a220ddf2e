"""Doing a caller's request once per `Idempotency-Key`, and answering retries the same.

The key is claimed in the same database transaction as the work it guards, so either
both land or neither does. Two requests with one key at the same moment: the second
waits on the unique key (PostgreSQL) or on the write lock (SQLite), then replays.
"""

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from ssa.idempotency.models import IdempotencyKey
from ssa.problems import Conflict, Problem

MAX_KEY_LENGTH = 255


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"
    title = "Idempotency key reused with another request"


class IdempotencyKeyRequired(Problem):
    status = 400
    code = "idempotency_key_required"
    title = "Idempotency-Key header required"


class IdempotencyKeyInvalid(Problem):
    status = 422
    code = "validation_error"
    title = "Invalid Idempotency-Key"


@dataclass(frozen=True)
class Outcome:
    """The answer to a request: what the work returned, or the stored first answer."""

    status_code: int
    body: Any
    replayed: bool


def fingerprint(*parts: Any, key: str) -> str:
    """A stable digest of what a request asks for (method, path, parsed body...).

    Keyed (HMAC with the server secret): a body may hold a PIN, and an unkeyed hash of a
    4-digit PIN is recovered by trying the 10,000 values.
    """
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    digest_key = hashlib.sha256(f"ssa idempotency v1:{key}".encode()).digest()
    return hmac.new(digest_key, canonical.encode(), hashlib.sha256).hexdigest()


def validate_key(key: str | None, *, required: bool) -> str | None:
    if key is None or key == "":
        if required:
            raise IdempotencyKeyRequired("This request moves money: send an Idempotency-Key.")
        return None
    if len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise IdempotencyKeyInvalid(
            f"An Idempotency-Key is 1 to {MAX_KEY_LENGTH} printable ASCII characters."
        )
    return key


def _find(db_session: Session, caller: str, key: str) -> IdempotencyKey | None:
    return db_session.exec(
        select(IdempotencyKey).where(
            col(IdempotencyKey.caller) == caller, col(IdempotencyKey.key) == key
        )
    ).first()


def _replay(existing: IdempotencyKey, request_fingerprint: str) -> Outcome:
    if existing.request_fingerprint != request_fingerprint:
        raise IdempotencyConflict("This Idempotency-Key was used for another request.")
    assert existing.status_code is not None  # written in the same transaction as the claim
    body = json.loads(existing.response_body) if existing.response_body else None
    return Outcome(status_code=existing.status_code, body=body, replayed=True)


def run_once(
    *,
    db_session: Session,
    caller: str,
    key: str | None,
    request_fingerprint: str,
    work: Callable[[], tuple[int, Any]],
) -> Outcome:
    """Run `work` once for (caller, key); a retry gets the first answer back.

    `work` returns (status code, JSON-able body). Without a key the work just runs.
    A refusal raised by `work` is not stored: the whole transaction rolls back, and a
    retry with the same key tries again.
    """
    if key is None:
        status_code, body = work()
        return Outcome(status_code=status_code, body=body, replayed=False)
    existing = _find(db_session, caller, key)
    if existing is not None:
        return _replay(existing, request_fingerprint)
    claim = IdempotencyKey(caller=caller, key=key, request_fingerprint=request_fingerprint)
    try:
        with db_session.begin_nested():
            db_session.add(claim)
            db_session.flush()
    except IntegrityError:
        # Someone else claimed it and committed while we waited on the unique key.
        existing = _find(db_session, caller, key)
        if existing is None:
            raise
        return _replay(existing, request_fingerprint)
    status_code, body = work()
    claim.status_code = status_code
    claim.response_body = json.dumps(body, default=str)
    db_session.add(claim)
    db_session.flush()
    # Answer exactly what a replay will answer.
    return Outcome(status_code=status_code, body=json.loads(claim.response_body), replayed=False)


def forget_unanswered(*, db_session: Session, caller: str, key: str | None) -> None:
    """Drop a claim that has no answer: after a refusal whose changes are kept (a wrong PIN
    counts), so that a retry with the same key is tried again instead of finding a claim
    without an answer."""
    if key:
        db_session.exec(
            delete(IdempotencyKey).where(
                col(IdempotencyKey.caller) == caller,
                col(IdempotencyKey.key) == key,
                col(IdempotencyKey.status_code).is_(None),
            )
        )
