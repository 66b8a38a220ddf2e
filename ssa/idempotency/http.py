"""The `Idempotency-Key` header on POST routes: one helper every such route calls."""

from collections.abc import Callable, Collection
from typing import Any

from fastapi import Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlmodel import Session

from ssa.idempotency.service import (
    Answer,
    Outcome,
    fingerprint,
    run_once_answering_early,
    validate_key,
)

# Documented answers of a POST that moves money, for the OpenAPI description.
MONEY_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "idempotency_key_required: send an Idempotency-Key header"},
    409: {"description": "idempotency_conflict: the key was used for another request"},
}


def idempotent(
    *,
    request: Request,
    db_session: Session,
    caller: str,
    body: BaseModel | None,
    work: Callable[[], tuple[int, Any]],
    required: bool,
    secret_fields: Collection[str] = (),
) -> JSONResponse:
    """Run `work` once per (caller, Idempotency-Key); a retry gets the same answer back
    with `Idempotent-Replayed: true`. `required` for every POST that moves money.

    `secret_fields`: names of fields holding a secret shown once (a client secret, an
    invitation token), at any depth of the answer. The first answer carries them; the
    stored one has them null, and so has a replay: a secret is never kept in clear."""
    return idempotent_answering_early(
        request=request,
        db_session=db_session,
        caller=caller,
        body=body,
        work=lambda _answer: work(),
        required=required,
        secret_fields=secret_fields,
    )


def idempotent_no_content(
    *,
    request: Request,
    db_session: Session,
    caller: str,
    body: BaseModel | None,
    work: Callable[[], object],
    required: bool,
) -> Response:
    """`idempotent` for a route that answers 204 No Content: `work` is done once."""

    def done() -> tuple[int, None]:
        work()
        return 204, None

    outcome = _run(
        request=request,
        db_session=db_session,
        caller=caller,
        body=body,
        work=lambda _answer: done(),
        required=required,
        secret_fields=(),
    )
    return Response(status_code=outcome.status_code, headers=_headers(outcome))


def idempotent_answering_early(
    *,
    request: Request,
    db_session: Session,
    caller: str,
    body: BaseModel | None,
    work: Callable[[Answer], tuple[int, Any]],
    required: bool,
    secret_fields: Collection[str] = (),
) -> JSONResponse:
    """`idempotent` for work that writes its answer before its last statements (see
    `run_once_answering_early`): `work` gets an `Answer` to call with (status, model)."""
    outcome = _run(
        request=request,
        db_session=db_session,
        caller=caller,
        body=body,
        work=work,
        required=required,
        secret_fields=secret_fields,
    )
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=_headers(outcome))


def _headers(outcome: Outcome) -> dict[str, str]:
    return {"Idempotent-Replayed": "true"} if outcome.replayed else {}


def _run(
    *,
    request: Request,
    db_session: Session,
    caller: str,
    body: BaseModel | None,
    work: Callable[[Answer], tuple[int, Any]],
    required: bool,
    secret_fields: Collection[str],
) -> Outcome:
    key = validate_key(request.headers.get("idempotency-key"), required=required)
    request_print = fingerprint(
        request.method,
        request.url.path,
        body.model_dump(mode="json") if body is not None else None,
        key=request.app.state.settings.secret_key,
    )
    shown: list[Any] = []  # the answer with its secrets, for this first request only

    def encoded_work(answer: Answer) -> tuple[int, Any]:
        status, payload = work(
            lambda early_status, early: answer(
                early_status, without(jsonable_encoder(early), secret_fields)
            )
        )
        encoded = jsonable_encoder(payload)
        shown.append(encoded)
        return status, without(encoded, secret_fields)

    outcome = run_once_answering_early(
        db_session=db_session,
        caller=caller,
        key=key,
        request_fingerprint=request_print,
        work=encoded_work,
    )
    if secret_fields and not outcome.replayed:
        return Outcome(status_code=outcome.status_code, body=shown[-1], replayed=False)
    return outcome


def without(value: Any, secret_fields: Collection[str]) -> Any:
    """`value` (JSON-able) with the fields named in `secret_fields` null, at any depth."""
    if not secret_fields:
        return value
    if isinstance(value, dict):
        return {
            name: None if name in secret_fields else without(item, secret_fields)
            for name, item in value.items()
        }
    if isinstance(value, list):
        return [without(item, secret_fields) for item in value]
    return value
