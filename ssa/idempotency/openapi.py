"""The `Idempotency-Key` header in the OpenAPI document, on every POST of the API.

Every POST under /api/v1 honours the header (the spec's "accepted on every POST"), so the
document says so in one place rather than on each route: the header parameter, and the
409 `idempotency_conflict` answer. The header is required where the route documents the
400 `idempotency_key_required` answer (`MONEY_RESPONSES`). An operation that describes
the header itself (a vote: accepted, never stored) is left as it is.
"""

from typing import Any

from ssa.idempotency.service import MAX_KEY_LENGTH

API_PREFIX = "/api/v1/"
# The OAuth2 token endpoint is a form post of RFC 6749: no key there.
WITHOUT_KEY = frozenset({"/api/v1/auth/token"})
HEADER = "Idempotency-Key"
CONFLICT = "idempotency_conflict: the key was used for another request"


_HONOURED = {
    required: ("Required: this request moves money. " if required else "")
    + "A retry with the same key and the same body gets the first answer again, with "
    "`Idempotent-Replayed: true`; the same key with another body is refused (409 "
    "idempotency_conflict). Keys are scoped to the caller."
    for required in (False, True)
}


def key_parameter(*, required: bool, description: str) -> dict[str, Any]:
    """The `Idempotency-Key` header parameter of an operation."""
    return {
        "name": HEADER,
        "in": "header",
        "required": required,
        "description": description,
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
    }


def describe_idempotency_keys(openapi: dict[str, Any]) -> dict[str, Any]:
    """Add the header and its answers to `openapi` (in place; twice changes nothing)."""
    for path, operations in openapi.get("paths", {}).items():
        operation = operations.get("post")
        if operation is None or not path.startswith(API_PREFIX) or path in WITHOUT_KEY:
            continue
        parameters: list[dict[str, Any]] = operation.setdefault("parameters", [])
        if any(
            p.get("in") == "header" and p.get("name", "").lower() == HEADER.lower()
            for p in parameters
        ):
            continue
        responses: dict[str, Any] = operation.setdefault("responses", {})
        required = "idempotency_key_required" in responses.get("400", {}).get("description", "")
        parameters.append(key_parameter(required=required, description=_HONOURED[required]))
        conflict = responses.setdefault("409", {"description": CONFLICT})
        if "idempotency_conflict" not in conflict.get("description", ""):
            conflict["description"] = f"{conflict['description']}; {CONFLICT}"
    return openapi
