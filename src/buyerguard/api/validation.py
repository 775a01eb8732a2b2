"""Validation problems as the API answers them: every problem of a request, each with the
API's own code (not pydantic's) and the JSON path of the field at fault."""

from __future__ import annotations

import typing
from typing import Any

from pydantic_core.core_schema import ErrorType

from buyerguard.errors import InvalidInput


def error_field(location: tuple[Any, ...] | list[Any]) -> str | None:
    """A pydantic error location as the JSON path of the field clients send
    (`lines[0].quantity`); a body that is not JSON at all is `body`."""
    where = list(location)
    if where == ["body"] or (
        where[:1] == ["body"] and len(where) == 2 and isinstance(where[1], int)
    ):
        return "body"  # the body as a whole (a JSON syntax error's offset is not a field)
    path = ""
    for part in where:
        if part in ("body", "query", "path", "header") and not path:
            continue
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or None


# Pydantic's error types as the API's own codes: one code per kind of problem.
_DOMAIN_CODES = {
    "missing": "field_missing",
    "extra_forbidden": "field_unknown",
    "string_pattern_mismatch": "value_malformed",
    "string_too_short": "length_out_of_range",
    "string_too_long": "length_out_of_range",
    "too_short": "length_out_of_range",
    "too_long": "length_out_of_range",
    "greater_than": "out_of_range",
    "greater_than_equal": "out_of_range",
    "less_than": "out_of_range",
    "less_than_equal": "out_of_range",
    "json_invalid": "json_malformed",
    "literal_error": "invalid_choice",
    "enum": "invalid_choice",
}


_PYDANTIC_TYPES = frozenset(typing.get_args(ErrorType))


def domain_code(error_type: str) -> str:
    """The API's code for a validation problem: our validators' own codes as they are,
    pydantic's mapped (a type mismatch of any kind is `type_invalid`)."""
    if error_type in _DOMAIN_CODES:
        return _DOMAIN_CODES[error_type]
    if error_type not in _PYDANTIC_TYPES:
        return error_type or "value_invalid"  # raised by one of our validators
    if error_type.endswith(("_type", "_parsing")) or error_type.startswith("int_from"):
        return "type_invalid"
    return "value_invalid"


def validation_refusal(errors: Any, *, prefix: str | None = None) -> InvalidInput:
    """Every validation problem of a request, as the one refusal shape (422): the first as
    its code, message and field, all of them under `errors`."""
    problems: list[dict[str, str | None]] = []
    for error in errors:
        field = error_field(error.get("loc", ()))
        if prefix:
            field = f"{prefix}.{field}" if field else prefix
        message = str(error.get("msg", "invalid request"))
        code = domain_code(str(error.get("type", "")))
        said = f"{field}: {message}" if field else message
        problems.append({"code": code, "message": said, "field": field})
    first = (
        problems[0] if problems else {"code": "value_invalid", "message": "invalid", "field": None}
    )
    return InvalidInput(
        str(first["code"]), str(first["message"]), first["field"], problems=problems or None
    )
