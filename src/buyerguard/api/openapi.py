"""The OpenAPI document, told the truth: how to authenticate, the `Idempotency-Key` every
POST takes, and the one error shape each route can answer with (not FastAPI's default
422 body, which the API never sends).

FastAPI builds the document from the routes; this adds what the routes cannot say
themselves, from what they declare (`x-roles`: a token is needed; the method and
the path: which refusals can happen).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from buyerguard.api.access import ROLES_KEY
from buyerguard.api.runtime import MAX_KEY_LENGTH

BEARER = "bearer"
PROBLEM: dict[str, Any] = {
    "type": "object",
    "required": ["code", "message", "field"],
    "properties": {
        "code": {"type": "string", "description": "machine-readable, e.g. order_not_found"},
        "message": {"type": "string", "description": "for people"},
        "field": {
            "type": ["string", "null"],
            "description": "JSON path of the field at fault, e.g. lines[0].quantity",
        },
    },
}
ERROR: dict[str, Any] = {
    "type": "object",
    "description": "Every refusal: the first problem, the request's id, and every problem.",
    "required": ["code", "message", "field", "request_id", "errors"],
    "properties": {
        **PROBLEM["properties"],
        "request_id": {"type": ["string", "null"], "description": "the X-Request-Id header"},
        "errors": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/Problem"},
            "description": "every problem found, the first one repeated",
        },
    },
}
REFUSALS = {
    "401": ("no token, or an unknown, expired or revoked one", "token_missing", "authorization"),
    "403": ("the caller's role may not call this route", "forbidden", "authorization"),
    "404": (
        "something the path, the query or the body names does not exist, or is another party's",
        "order_not_found",
        "order_id",
    ),
    "409": (
        "it contradicts the current state, or the key was used with another body",
        "illegal_transition",
        None,
    ),
    "422": (
        "a value is malformed or out of range (every problem is listed)",
        "out_of_range",
        "lines[0].quantity",
    ),
    "503": (
        "the database is busy or not ready: nothing was written, send it again",
        "database_busy",
        None,
    ),
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Send the same key again with the same body to get the first answer back "
    "(`Idempotent-Replayed: true`) instead of acting twice; kept 7 days.",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
}


# A batch carries a key per fact, in its body (`facts[i].idempotency_key`), and no header.
KEYS_IN_BODY = frozenset({"/v1/facts"})


def _refusals(method: str, path: str, guarded: bool, has_input: bool) -> list[str]:
    statuses = ["401", "403"] if guarded else []
    if guarded:  # what the path or the body names (a buyer, a product, a merchant…) may not exist
        statuses.append("404")
    if method != "get":
        statuses.append("409")
    if has_input:
        statuses.append("422")
    if guarded or path == "/readyz":
        statuses.append("503")
    return statuses


def _error_response(status: str) -> dict[str, Any]:
    why, code, field = REFUSALS[status]
    first = {"code": code, "message": f"example: {why}", "field": field}
    example = {**first, "request_id": "req_5b14432291bfb435d0bcacf5", "errors": [first]}
    return {
        "description": why,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/Error"},
                "example": example,
            }
        },
    }


def truthful_openapi(app: FastAPI) -> dict[str, Any]:
    """The document FastAPI generates, completed (built once, then cached on the app)."""
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas["Problem"] = PROBLEM
    schemas["Error"] = ERROR
    components["securitySchemes"] = {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "description": "a token from `buyerguard token create` (or `buyerguard demo load`)",
        }
    }
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            guarded = ROLES_KEY in operation
            if guarded:
                operation["security"] = [{BEARER: []}]
            parameters = operation.setdefault("parameters", [])
            if method == "post" and path not in KEYS_IN_BODY:
                parameters.append(IDEMPOTENCY_KEY)
            has_input = bool(parameters) or "requestBody" in operation
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for status in _refusals(method, path, guarded, has_input):
                responses[status] = _error_response(status)
            if not parameters:
                operation.pop("parameters")
    app.openapi_schema = document
    return document
