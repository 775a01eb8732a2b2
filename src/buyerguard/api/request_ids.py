"""A request id for every request: taken from `X-Request-Id` when the caller sends a usable
one (so a marketplace can follow its own id through our logs), made up otherwise; bound
to every log line written while the request runs, returned as `X-Request-Id`, and put
in every error body. One access line per request, with its status and duration, and its
latency counted under its route's template (api/metrics.py). A HEAD answer goes out
without its body."""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from buyerguard.api.metrics import observe_request
from buyerguard.logs import get_logger

REQUEST_ID_HEADER = "X-Request-Id"
_USABLE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
log = get_logger(__name__)


def current_request_id() -> str | None:
    """The id of the request being served (None outside a request)."""
    value = structlog.contextvars.get_contextvars().get("request_id")
    return value if isinstance(value, str) else None


def new_request_id() -> str:
    return f"req_{secrets.token_hex(12)}"


def error_body(
    code: str,
    message: str,
    field: str | None,
    problems: list[dict[str, str | None]] | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The one error shape: a machine-readable code, a message, the field (the first
    problem), the request's id (the `X-Request-Id` header: what to quote when asking about
    it), and `errors`: every problem found, each with its code, message and field."""
    first: dict[str, str | None] = {"code": code, "message": message, "field": field}
    body: dict[str, Any] = {**first, "request_id": request_id or current_request_id()}
    body["errors"] = problems if problems is not None else [first]
    return body


INTERNAL_ERROR = (
    "internal_error",
    "the server failed on this request (a fault of ours, logged under its request id); "
    "a command was rolled back: send it again with the same Idempotency-Key",
)


class RequestIds:
    """Pure ASGI middleware (no per-request task, unlike BaseHTTPMiddleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        request_id = sent if _USABLE.match(sent) else new_request_id()
        status_code = 500
        answered = False

        head = scope["method"] == "HEAD"

        async def send_with_id(message: Message) -> None:
            nonlocal status_code, answered
            if message["type"] == "http.response.start":
                status_code, answered = message["status"], True
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            elif head and message["type"] == "http.response.body":
                # HEAD is GET without the body (access.GuardedRoute.matches): its headers,
                # Content-Length included, describe the body GET would send.
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        started = time.perf_counter()
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception:
                log.exception("request_failed", method=scope["method"], path=scope["path"])
                if answered:  # the answer is under way: nothing better can be sent
                    raise
                # The error shape, with the id to quote, instead of the server's bare text
                # answer, which carries no X-Request-Id.
                body = error_body(*INTERNAL_ERROR, None, request_id=request_id)
                await JSONResponse(body, status_code=500)(scope, receive, send_with_id)
            finally:
                seconds = time.perf_counter() - started
                route = getattr(scope.get("route"), "path", None) or "unmatched"
                observe_request(scope["method"], route, status_code, seconds)
                log.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status_code,
                    duration_ms=round(seconds * 1000, 1),
                )
