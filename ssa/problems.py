"""The error type every refusal uses, and its single mapping to RFC 9457 problem+json."""

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

logger = logging.getLogger("ssa")

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """A refusal with a stable machine-readable `code` and a sentence for humans."""

    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"
    # A refusal that must still leave a trace (a wrong PIN counts as an attempt): the
    # unit of work commits what was written before it was raised, instead of rolling back.
    keeps_changes: bool = False

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra

    def body(self) -> dict[str, Any]:
        # RFC 9457's members come last: an extra member never replaces them (`status` is
        # the HTTP status, not the state of the thing refused).
        return {
            **self.extra,
            "type": f"https://ssa.example/problems/{self.code.replace('_', '-')}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }


class InvalidInput(Problem):
    """A request the schema let through that a rule refuses in one of its parts: 422
    `validation_error` with an `errors` list, as the schema's own refusals have (`loc`
    names the part: `("query", "cursor")`)."""

    status = 422
    code = "validation_error"
    title = "Validation error"
    loc: tuple[str, ...] = ()

    def __init__(
        self, detail: str | None = None, *, loc: tuple[str, ...] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail, **extra)
        if "errors" not in self.extra:
            where = list(loc if loc is not None else self.loc)
            self.extra["errors"] = [{"loc": where, "msg": self.detail, "type": "value_error"}]


class NotFound(Problem):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(Problem):
    status = 409
    code = "conflict"
    title = "Conflict"


def problem_response(
    status: int, code: str, detail: str, *, title: str | None = None, **extra: Any
) -> JSONResponse:
    body = {
        **extra,
        "type": f"https://ssa.example/problems/{code.replace('_', '-')}",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    return JSONResponse(jsonable_encoder(body), status_code=status, media_type=PROBLEM_JSON)


_HTTP_CODES = {
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


async def _on_problem(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return JSONResponse(
        jsonable_encoder(exc.body()), status_code=exc.status, media_type=PROBLEM_JSON
    )


async def _on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]
    return problem_response(
        422,
        "validation_error",
        "The request is malformed; see `errors`.",
        title="Validation error",
        errors=errors,
    )


async def _on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    response = problem_response(exc.status_code, code, detail)
    if exc.headers:
        response.headers.update(exc.headers)
    if exc.status_code == 405 and (allowed := _allowed_methods(request)):
        response.headers["Allow"] = ", ".join(allowed)
    return response


def _allowed_methods(request: Request) -> list[str]:
    """Every method the path answers (each route names its own: the 405 of the first one
    the path matched named only that route's), HEAD wherever GET."""
    routes = request.app.router.routes
    methods = {
        method
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes
        )
    }
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


async def _on_data_error(request: Request, exc: Exception) -> JSONResponse:
    # The database refused a value the validation let through (a NUL byte in a text,
    # a number out of range): bad input, not a server fault.
    logger.warning(
        "database refused a value on %s %s: %s",
        request.method,
        request.url.path,
        type(getattr(exc, "orig", exc)).__name__,
    )
    return problem_response(
        422,
        "validation_error",
        "A value in the request cannot be stored (for example a NUL character).",
        title="Validation error",
        errors=[],
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        500, "internal_error", "Something went wrong on our side; nothing was changed."
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(DataError, _on_data_error)
    app.add_exception_handler(Exception, _on_unexpected)


# --- The OpenAPI document ------------------------------------------------------------

# Codes answered outside a Problem subclass (validation, HTTP errors, the unexpected).
_OTHER_CODES = {
    "validation_error": (422, "Validation error"),
    "internal_error": (500, "Internal error"),
    # ssa.ledger.errors.InsufficientBalance on a household's credits.
    "insufficient_credits": (409, "Insufficient credits"),
}


def problem_catalogue() -> dict[str, tuple[int, str]]:
    """Every stable `code` the API can answer, with its status and title: the Problem
    subclasses defined by the modules loaded (the app loads every router's), the HTTP
    errors' codes and the others."""
    found: dict[str, tuple[int, str]] = {}
    pending: list[type[Problem]] = [Problem]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls is not Problem:
            found.setdefault(cls.code, (cls.status, cls.title))
    for status, code in _HTTP_CODES.items():
        found.setdefault(code, (status, HTTPStatus(status).phrase))
    for code, (status, title) in _OTHER_CODES.items():
        found.setdefault(code, (status, title))
    return dict(sorted(found.items()))


def describe_problems(openapi: dict[str, Any]) -> dict[str, Any]:
    """Add the problem+json schema, whose `code` lists every stable code (with its status
    in the description), and make it the answer of every error an operation documents
    and of its `default` (in place; twice changes nothing)."""
    catalogue = problem_catalogue()
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = {
        "title": "Problem",
        "description": "RFC 9457 problem details; `code` is stable. Codes:\n\n"
        + "\n".join(
            f"- `{code}` ({status}): {title}" for code, (status, title) in catalogue.items()
        ),
        "type": "object",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "code": {"type": "string", "enum": list(catalogue)},
        },
        "additionalProperties": True,
    }
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in openapi.get("paths", {}).items():
        # The OAuth2 token endpoint answers errors as RFC 6749 says ({"error": ...}).
        if not path.startswith("/api/") or path == "/api/v1/auth/token":
            continue
        for operation in operations.values():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    response["content"] = problem
            responses.setdefault(
                "default",
                {"description": "A refusal (see the Problem schema's codes)", "content": problem},
            )
    return openapi
