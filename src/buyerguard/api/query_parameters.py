"""The query string a route takes, and the refusal of anything else in it.

A list route filters by its query (`GET /v1/cases?state=open`). Starlette hands the
route every name sent, and FastAPI reads the ones declared and drops the rest, so
`?stat=open` (misspelt) listed every case and `?limit=1&limit=500` took the last value,
without a word: the caller could not tell that its filter was never applied. A route
that declares query parameters therefore refuses a name it does not declare
(`parameter_unknown`) and a single-valued one sent twice (`parameter_repeated`). A
route that declares none (a read of one order, `/healthz`) filters nothing, so a query
string there changes nothing and is left alone (cache-busters, probes).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from buyerguard.errors import InvalidInput

_SEQUENCES = (list, tuple, set, frozenset)


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def _takes_many(annotation: object) -> bool:
    """Whether a parameter's type is a list (`?region=a&region=b`), optional or not."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_takes_many(arg) for arg in typing.get_args(annotation))
    if origin is typing.Annotated:
        return _takes_many(typing.get_args(annotation)[0])
    return origin in _SEQUENCES or annotation in _SEQUENCES


def declared_query(route: APIRoute) -> dict[str, bool]:
    """The query parameters `route` declares (its dependencies' too), by the name sent,
    each with whether it may be repeated."""
    return {
        field.alias: _takes_many(field.field_info.annotation)
        for dependant in _dependants(route.dependant)
        for field in dependant.query_params
    }


def refuse_undeclared(request: Request, declared: dict[str, bool]) -> None:
    """Refuse a query name `declared` lacks, and a single-valued one sent more than once."""
    if not declared:
        return
    for name in request.query_params:
        if name not in declared:
            taken = ", ".join(sorted(declared))
            raise InvalidInput(
                "parameter_unknown",
                f"this route takes no query parameter {name!r}; it takes: {taken}",
                name,
            )
        if not declared[name] and len(request.query_params.getlist(name)) > 1:
            raise InvalidInput(
                "parameter_repeated",
                f"query parameter {name!r} takes one value and was sent more than once",
                name,
            )
