"""The `Idempotency-Key` header on POST routes: one helper every such route calls."""

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlmodel import Session

from ssa.idempotency.service import (
    Answer,
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
) -> JSONResponse:
    """Run `work` once per (caller, Idempotency-Key); a retry gets the same answer back
    with `Idempotent-Replayed: true`. `required` for every POST that moves money."""
    return idempotent_answering_early(
        request=request,
        db_session=db_session,
        caller=caller,
        body=body,
        work=lambda _answer: work(),
        required=required,
    )


def idempotent_answering_early(
    *,
    request: Request,
    db_session: Session,
    caller: str,
    body: BaseModel | None,
    work: Callable[[Answer], tuple[int, Any]],
    required: bool,
) -> JSONResponse:
    """`idempotent` for work that writes its answer before its last statements (see
    `run_once_answering_early`): `work` gets an `Answer` to call with (status, model)."""
    key = validate_key(request.headers.get("idempotency-key"), required=required)
    request_print = fingerprint(
        request.method,
        request.url.path,
        body.model_dump(mode="json") if body is not None else None,
        key=request.app.state.settings.secret_key,
    )

    def encoded_work(answer: Answer) -> tuple[int, Any]:
        status, payload = work(
            lambda early_status, early: answer(early_status, jsonable_encoder(early))
        )
        return status, jsonable_encoder(payload)

    outcome = run_once_answering_early(
        db_session=db_session,
        caller=caller,
        key=key,
        request_fingerprint=request_print,
        work=encoded_work,
    )
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)
