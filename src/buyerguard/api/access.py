"""Who may call each route, checked before the request body is read.

Every /v1 route declares the roles that may call it (`allow(...)`; the OpenAPI
document shows them as `x-roles`). `GuardedRoute` authenticates the caller and
answers 403 to any other role before FastAPI parses the body, so a caller that
may never act gets the same answer whatever it sends. Which resources an
allowed role sees — its own, and a 404 for another party's — stays with the
services, which check the role again for callers that are not HTTP.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

from buyerguard.api.query_parameters import declared_query, refuse_undeclared
from buyerguard.api.runtime import cached_actor, current_actor
from buyerguard.errors import Forbidden, NotFound
from buyerguard.services.context import Context, Role

ROLES_KEY = "x-roles"
ANY_CALLER = (Role.MARKETPLACE, Role.MERCHANT, Role.BUYER)


def allow(*roles: Role) -> dict[str, Any]:
    """Route keyword arguments naming the roles that may call it (the operator always may)."""
    return {"openapi_extra": {ROLES_KEY: [role.value for role in (Role.OPERATOR, *roles)]}}


def declared_roles(route: APIRoute) -> frozenset[Role]:
    declared = (route.openapi_extra or {}).get(ROLES_KEY)
    if not declared:
        raise RuntimeError(f"route {sorted(route.methods or ())} {route.path} declares no roles")
    return frozenset(Role(role) for role in declared)


def json_answer(content: Any, status_code: int) -> JSONResponse:
    """A view's plain dict as the JSON response, encoded by the json module at once.

    FastAPI would first walk the dict with `jsonable_encoder` (pure Python,
    object by object): a batch's 1,000 results cost the worker more there than
    in their statements. Views build JSON-ready dicts (strings, ints, lists);
    anything else (a set, a date) still goes through `jsonable_encoder`.
    """
    try:
        return JSONResponse(content, status_code=status_code)
    except (TypeError, ValueError):
        return JSONResponse(jsonable_encoder(content), status_code=status_code)


def _answered_as_json(endpoint: Callable[..., Any], status_code: int) -> Callable[..., Any]:
    """`endpoint`, answering a JSON response itself when it returns content, not a Response.

    The wrapper keeps the endpoint's signature (FastAPI reads its parameters
    through `__wrapped__`) and its kind (a plain function still runs in the
    thread pool).
    """

    def answered(result: Any) -> Any:
        return result if isinstance(result, Response) else json_answer(result, status_code)

    if inspect.iscoroutinefunction(endpoint):

        @functools.wraps(endpoint)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            return answered(await endpoint(*args, **kwargs))

        return run_async

    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        return answered(endpoint(*args, **kwargs))

    return run


class GuardedRoute(APIRoute):
    """An APIRoute that authenticates and checks the role before anything else, then the
    names of its query string (query_parameters.py), and
    answers its view's dict as JSON without FastAPI's object walk (`json_answer`)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        status_code = kwargs.get("status_code") or 200
        super().__init__(path, _answered_as_json(endpoint, status_code), **kwargs)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """HEAD is answered wherever GET is (RFC 9110: `curl -I`, uptime probes), without
        being a second operation in the OpenAPI document; the server drops its body
        (request_ids.py)."""
        return super().matches(self._as_get(scope))

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().handle(self._as_get(scope), receive, send)

    def _as_get(self, scope: Scope) -> Scope:
        """A HEAD request's scope as GET's (a copy: the middleware still sees HEAD)."""
        if scope.get("method") == "HEAD" and self.methods and "GET" in self.methods:
            return {**scope, "method": "GET"}
        return scope

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        allowed = declared_roles(self)
        path = self.path
        query = declared_query(self)

        async def guarded(request: Request) -> Response:
            # A token seen in the last seconds needs no database and no thread.
            actor = cached_actor(request)
            if actor is None:
                actor = await run_in_threadpool(current_actor, request)
            if actor.role not in allowed:
                raise Forbidden(
                    "forbidden",
                    f"role {actor.role.value} may not call {request.method} {path}",
                    "authorization",
                )
            refuse_undeclared(request, query)
            return await handler(request)

        return guarded


def require_own_merchant(ctx: Context, merchant_id: str) -> None:
    """A merchant reads only itself: any other merchant is, to it, a merchant that does not
    exist (404, so that ids cannot be probed)."""
    ctx.require_party(
        Role.MERCHANT,
        merchant_id,
        NotFound("merchant_not_found", f"no merchant {merchant_id}", "merchant_id"),
    )
