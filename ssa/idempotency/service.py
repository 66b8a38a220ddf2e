"""Doing a caller's request once per `Idempotency-Key`, and answering retries the same.

The key is claimed in the same database transaction as the work it guards, so either
both land or neither does. Two requests with one key at the same moment: the second
waits on the unique key (PostgreSQL) or on the write lock (SQLite), then replays.
"""

import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from ssa.idempotency.models import IdempotencyKey
from ssa.problems import Conflict, InvalidInput, Problem
from ssa.timeutil import utcnow

MAX_KEY_LENGTH = 255


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"
    title = "Idempotency key reused with another request"


class IdempotencyKeyRequired(Problem):
    status = 400
    code = "idempotency_key_required"
    title = "Idempotency-Key header required"


class IdempotencyKeyInvalid(InvalidInput):
    title = "Invalid Idempotency-Key"
    loc = ("header", "idempotency-key")


def purge(*, db_session: Session, older_than: datetime) -> int:
    """Forget the keys used before `older_than` (a retry after that is a new request):
    their answers may hold personal data (a household's registration), kept no longer
    than retries need. Returns how many were deleted."""
    deleted = db_session.connection().execute(
        delete(IdempotencyKey).where(col(IdempotencyKey.created_at) < older_than)
    )
    return int(deleted.rowcount)


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


_KEYS = IdempotencyKey.__table__  # type: ignore[attr-defined]
_ANSWER = (
    update(_KEYS)
    .where(_KEYS.c.id == bindparam("claim_id"))
    .values(status_code=bindparam("status_code"), response_body=bindparam("response_body"))
)


def _claim_statement(dialect: str) -> Any:
    """`INSERT ... ON CONFLICT (caller, key) DO NOTHING RETURNING id`, as the dialect
    spells it: one statement claims a new key, or finds that it is taken."""
    make = postgresql_insert if dialect == "postgresql" else sqlite_insert
    return (
        make(_KEYS)
        .values(
            id=bindparam("id"),
            caller=bindparam("caller"),
            key=bindparam("key"),
            request_fingerprint=bindparam("request_fingerprint"),
            created_at=bindparam("created_at"),
        )
        .on_conflict_do_nothing(index_elements=["caller", "key"])
        .returning(_KEYS.c.id)
    )


_CLAIMS = {dialect: _claim_statement(dialect) for dialect in ("postgresql", "sqlite")}


@dataclass(frozen=True)
class Claim:
    """A key claimed in the current transaction, whose answer is not written yet."""

    id: uuid.UUID


# What a piece of work may call to write its answer before its last statements (see
# `run_once_answering_early`).
Answer = Callable[[int, Any], None]


def claim(
    *, db_session: Session, caller: str, key: str, request_fingerprint: str
) -> Claim | Outcome:
    """Claim (caller, key) for this transaction, or the first answer if it is taken.

    One statement: an insert that does nothing when the key exists. A request holding the
    same key in a transaction not yet committed makes it wait (the unique key on
    PostgreSQL, the write lock on SQLite); then the key is found committed (its answer is
    replayed) or free again (rolled back: it is claimed).
    """
    connection = db_session.connection()
    statement = _CLAIMS[connection.dialect.name]
    for _ in range(2):
        claimed = connection.execute(
            statement,
            {
                "id": uuid.uuid4(),
                "caller": caller,
                "key": key,
                "request_fingerprint": request_fingerprint,
                "created_at": utcnow(),
            },
        ).scalar_one_or_none()
        if claimed is not None:
            return Claim(id=claimed)
        existing = _find(db_session, caller, key)
        if existing is not None:
            return _replay(existing, request_fingerprint)
        # Taken when we tried, gone when we looked (its unanswered claim was dropped after
        # a counted refusal): try once more.
    raise RuntimeError(f"Idempotency key {key!r} could not be claimed")


def answer(*, db_session: Session, claim: Claim, status_code: int, body: Any) -> Outcome:
    """Write the answer a retry will get, and return exactly that answer."""
    response_body = json.dumps(body, default=str)
    db_session.connection().execute(
        _ANSWER,
        {"claim_id": claim.id, "status_code": status_code, "response_body": response_body},
    )
    return Outcome(status_code=status_code, body=json.loads(response_body), replayed=False)


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
    return run_once_answering_early(
        db_session=db_session,
        caller=caller,
        key=key,
        request_fingerprint=request_fingerprint,
        work=lambda _answer: work(),
    )


def run_once_answering_early(
    *,
    db_session: Session,
    caller: str,
    key: str | None,
    request_fingerprint: str,
    work: Callable[[Answer], tuple[int, Any]],
) -> Outcome:
    """`run_once` for work that may write its answer before its last statements (a
    payment writes it before the ledger post, so that the rows the post locks are held
    for as few statements as possible). `work` gets an `Answer` it may call any number of
    times; what it returns is the answer in the end, written again only if it differs
    from the last one it gave."""
    if key is None:
        status_code, body = work(lambda _status, _body: None)
        return Outcome(status_code=status_code, body=body, replayed=False)
    claimed = claim(
        db_session=db_session, caller=caller, key=key, request_fingerprint=request_fingerprint
    )
    if isinstance(claimed, Outcome):
        return claimed
    given: list[Outcome] = []

    def answer_early(status_code: int, body: Any) -> None:
        given.append(
            answer(db_session=db_session, claim=claimed, status_code=status_code, body=body)
        )

    try:
        status_code, body = work(answer_early)
    except Problem as problem:
        if problem.keeps_changes:
            # The refusal's own changes are committed (a wrong PIN counts); its claim, and
            # any answer it wrote early, must not be, or a retry would replay that answer.
            db_session.connection().execute(delete(_KEYS).where(_KEYS.c.id == claimed.id))
        raise
    final = json.loads(json.dumps(body, default=str))
    if given and (given[-1].status_code, given[-1].body) == (status_code, final):
        return given[-1]
    return answer(db_session=db_session, claim=claimed, status_code=status_code, body=body)


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
