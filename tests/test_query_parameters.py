"""A route that takes query parameters refuses one it does not know, and one sent twice.

Found from outside: `GET /v1/cases?stat=open` (a misspelt `state`) listed every case, and
`?limit=1&limit=500` took the last value without a word — an operator reading the answer
could not tell that the filter was never applied. Every route is tried, not a sample.
"""

from __future__ import annotations

import re

from fastapi.routing import APIRoute

from buyerguard.api.query_parameters import declared_query
from buyerguard.api.routes import ROUTERS
from buyerguard.bootstrap import Runtime
from tests.conftest import Api
from tests.test_api import assert_refused, row_counts


def _get_routes() -> list[tuple[str, dict[str, bool]]]:
    """Every GET route of the API, with the query parameters it declares."""
    return [
        (route.path, declared_query(route))
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute) and "GET" in (route.methods or set())
    ]


ROUTES = _get_routes()
WITH_QUERY = [(path, query) for path, query in ROUTES if query]
WITHOUT_QUERY = [path for path, query in ROUTES if not query]


def _filled(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "X-1", path)


def test_the_routes_with_query_parameters_are_found() -> None:
    paths = {path for path, _ in WITH_QUERY}
    assert {"/v1/orders", "/v1/cases", "/v1/events", "/v1/audit"} <= paths
    assert dict(WITH_QUERY)["/v1/cases"].keys() >= {"state", "limit", "after"}


def test_every_route_refuses_an_unknown_or_repeated_query_parameter(api: Api, rt: Runtime) -> None:
    """Each route with query parameters, in one client (a fixture per route costs minutes)."""
    before = row_counts(rt)
    for path, query in WITH_QUERY:
        unknown = api.get("operator", f"{_filled(path)}?not_a_parameter=1")
        assert_refused(unknown, 422, "parameter_unknown", "not_a_parameter")
        for name in query:  # the message says what the route does take
            assert name in unknown.json()["message"], path
        name = next(name for name, many in query.items() if not many)
        repeated = api.get("operator", f"{_filled(path)}?{name}=1&{name}=2")
        assert_refused(repeated, 422, "parameter_repeated", name)
    assert row_counts(rt) == before


def test_a_misspelt_filter_no_longer_lists_everything(api: Api) -> None:
    assert_refused(api.get("operator", "/v1/cases?stat=pending"), 422, "parameter_unknown", "stat")
    assert api.get("operator", "/v1/cases?state=pending").status_code == 200


def test_the_caller_is_checked_before_the_query(api: Api) -> None:
    """Who may call comes first: no token is 401, a role that may not call is 403."""
    unauthenticated = api.client.get("/v1/cases?stat=pending")
    assert_refused(unauthenticated, 401, "token_missing")
    assert_refused(api.get("buyer", "/v1/audit?stat=1"), 403, "forbidden")


def test_a_route_without_query_parameters_ignores_a_query_string(api: Api) -> None:
    """A cache-buster on a route that filters nothing changes nothing, so it is not refused."""
    assert WITHOUT_QUERY
    for path in [*WITHOUT_QUERY, "/healthz", "/readyz"]:
        response = api.get("operator", f"{_filled(path)}?_=1700000000")
        code = response.json().get("code") if response.status_code >= 400 else None
        assert code not in ("parameter_unknown", "parameter_repeated"), (path, response.text)
