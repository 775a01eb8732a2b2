"""The /v1 webhook endpoints (operator only): register, list, read, rotate the secret,
replay from a cursor, enable or disable, delete, and each endpoint's delivery log."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import Field, StrictInt

from buyerguard.api.access import GuardedRoute, allow
from buyerguard.api.answers import answers
from buyerguard.api.case_answers import (
    WebhookDeliveryPage,
    WebhookEndpoint,
    WebhookEndpointPage,
    WebhookEndpointWithSecret,
)
from buyerguard.api.params import CallerDep, IdCursor, Limit, id_path, page
from buyerguard.api.runtime import run_command, runtime
from buyerguard.api.schemas import CHOICE_PATTERN, MAX_INT32, Body, text_field
from buyerguard.api.views import instant
from buyerguard.services import webhook_endpoints as endpoints
from buyerguard.services.context import Context
from buyerguard.services.feed import advance_feed, decode_cursor, encode_cursor

router = APIRouter(prefix="/v1", route_class=GuardedRoute)  # app.py includes it (routes.ROUTERS)
EndpointId = Annotated[str, id_path("webhook endpoint id")]
EventKind = Annotated[str, Field(min_length=1, max_length=48, pattern=CHOICE_PATTERN)]


class EndpointIn(Body):
    url: Annotated[str, text_field(endpoints.MAX_URL_LENGTH, min_length=1)] = Field(
        description="where to POST each event (http or https)",
        examples=["https://marketplace.example/hooks/buyerguard"],
    )
    event_kinds: list[EventKind] | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="deliver only these event kinds (left out: every kind)",
        examples=[["escrow_held", "case_opened"]],
    )
    description: Annotated[str, text_field(200)] = Field(
        default="", description="a note for operators"
    )


class RotateIn(Body):
    overlap_hours: StrictInt = Field(
        default=24,
        ge=0,
        le=endpoints.MAX_OVERLAP_HOURS,
        description="hours the previous secret keeps signing beside the new one",
    )


class ReplayIn(Body):
    after: Annotated[str, Field(max_length=64)] = Field(
        description="an event cursor: every event after it is delivered again, in order "
        '("0": from the start of the feed)',
        examples=["0"],
    )


class DisableIn(Body):
    reason: Annotated[str, text_field(200)] = Field(
        default="", description="why, shown on the endpoint"
    )


def endpoint_view(row: dict[str, Any], *, with_secret: bool = False) -> dict[str, Any]:
    """An endpoint as the API shows it; its secret only when it was just made."""
    view = {
        "id": row["id"],
        "url": row["url"],
        "description": row["description"],
        "event_kinds": row["event_kinds"],
        "state": row["state"],
        "cursor": encode_cursor(row["cursor_position"]),
        "failing_since": instant(row["failing_since"]),
        "attempts": row["attempts"],
        "next_attempt_at": instant(row["next_attempt_at"]),
        "disabled_at": instant(row["disabled_at"]),
        "disabled_reason": row["disabled_reason"],
        "previous_secret_until": instant(row["previous_secret_until"]),
        "created_at": instant(row["created_at"]),
        "created_by": row["created_by"],
    }
    return view | {"secret": row["secret"]} if with_secret else view


def delivery_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "event_id": row["event_id"],
        "cursor": encode_cursor(row["position"]),
        "attempt": row["attempt"],
        "outcome": row["outcome"],
        "status_code": row["status_code"],
        "error": row["error"],
        "duration_ms": row["duration_ms"],
        "attempted_at": instant(row["attempted_at"]),
    }


@router.post(
    "/webhook-endpoints",
    status_code=201,
    tags=["webhooks"],
    **answers(WebhookEndpointWithSecret, 201),
    **allow(),
)
def register_webhook_endpoint(
    body: EndpointIn, request: Request, caller: CallerDep
) -> JSONResponse:
    """Register an endpoint; events are delivered from now on. The signing secret is in this
    answer only (Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`)."""
    command = endpoints.NewEndpoint(
        body.url, tuple(body.event_kinds) if body.event_kinds else None, body.description
    )

    def handle(ctx: Context) -> tuple[int, Any]:
        return 201, endpoint_view(endpoints.register(ctx, command), with_secret=True)

    advance_feed(runtime(request).engine)  # "from now on": after what has committed so far
    return run_command(request, caller, body, handle)


@router.get("/webhook-endpoints", tags=["webhooks"], **answers(WebhookEndpointPage), **allow())
def list_webhook_endpoints(
    request: Request, caller: CallerDep, after: IdCursor = None, limit: Limit = 50
) -> dict[str, Any]:
    """The registered endpoints, with state, cursor and failures; never a secret."""
    with runtime(request).reading(caller) as ctx:
        rows = endpoints.list_endpoints(ctx, after, limit + 1)
    return page([endpoint_view(row) for row in rows], limit)


@router.get(
    "/webhook-endpoints/{endpoint_id}", tags=["webhooks"], **answers(WebhookEndpoint), **allow()
)
def get_webhook_endpoint(
    endpoint_id: EndpointId, request: Request, caller: CallerDep
) -> dict[str, Any]:
    """One endpoint: where it stands in the feed, its failures, why it was disabled."""
    with runtime(request).reading(caller) as ctx:
        ctx.require_role("read webhook endpoints")
        return endpoint_view(endpoints.endpoint_row(ctx, endpoint_id))


@router.post(
    "/webhook-endpoints/{endpoint_id}/rotate-secret",
    tags=["webhooks"],
    **answers(WebhookEndpointWithSecret),
    **allow(),
)
def rotate_webhook_secret(
    endpoint_id: EndpointId, request: Request, caller: CallerDep, body: RotateIn | None = None
) -> JSONResponse:
    """A new secret, shown in this answer only; the previous one keeps signing beside it for
    `overlap_hours` (every message carries both signatures meanwhile)."""
    overlap = timedelta(hours=(body or RotateIn()).overlap_hours)

    def handle(ctx: Context) -> tuple[int, Any]:
        row = endpoints.rotate_secret(ctx, endpoint_id, overlap)
        return 200, endpoint_view(row, with_secret=True)

    return run_command(request, caller, body, handle)


@router.post(
    "/webhook-endpoints/{endpoint_id}/replay",
    tags=["webhooks"],
    **answers(WebhookEndpoint),
    **allow(),
)
def replay_webhook_endpoint(
    endpoint_id: EndpointId, body: ReplayIn, request: Request, caller: CallerDep
) -> JSONResponse:
    """Deliver again every event after a cursor (in order, each with its own `webhook-id`)."""
    position = decode_cursor(body.after)

    def handle(ctx: Context) -> tuple[int, Any]:
        return 200, endpoint_view(endpoints.replay_from(ctx, endpoint_id, position))

    return run_command(request, caller, body, handle)


@router.post(
    "/webhook-endpoints/{endpoint_id}/enable",
    tags=["webhooks"],
    **answers(WebhookEndpoint),
    **allow(),
)
def enable_webhook_endpoint(
    endpoint_id: EndpointId, request: Request, caller: CallerDep
) -> JSONResponse:
    """Deliver again (a disabled endpoint resumes where it stopped, its failures forgotten)."""

    def handle(ctx: Context) -> tuple[int, Any]:
        return 200, endpoint_view(endpoints.set_state(ctx, endpoint_id, endpoints.ACTIVE, None))

    return run_command(request, caller, None, handle)


@router.post(
    "/webhook-endpoints/{endpoint_id}/disable",
    tags=["webhooks"],
    **answers(WebhookEndpoint),
    **allow(),
)
def disable_webhook_endpoint(
    endpoint_id: EndpointId, request: Request, caller: CallerDep, body: DisableIn | None = None
) -> JSONResponse:
    """Stop delivering (the cursor stays: enabling resumes from it)."""
    reason = body.reason if body is not None else ""

    def handle(ctx: Context) -> tuple[int, Any]:
        row = endpoints.set_state(ctx, endpoint_id, endpoints.DISABLED, reason or None)
        return 200, endpoint_view(row)

    return run_command(request, caller, body, handle)


@router.post(
    "/webhook-endpoints/{endpoint_id}/delete",
    tags=["webhooks"],
    **answers(WebhookEndpoint),
    **allow(),
)
def delete_webhook_endpoint(
    endpoint_id: EndpointId, request: Request, caller: CallerDep
) -> JSONResponse:
    """Delete the endpoint and its delivery log; nothing more is sent to it (a pass under
    way ends its batch unrecorded). Answers the endpoint as it was; disable it to keep it."""

    def handle(ctx: Context) -> tuple[int, Any]:
        return 200, endpoint_view(endpoints.delete_endpoint(ctx, endpoint_id))

    return run_command(request, caller, None, handle)


@router.get(
    "/webhook-endpoints/{endpoint_id}/deliveries",
    tags=["webhooks"],
    **answers(WebhookDeliveryPage),
    **allow(),
)
def list_webhook_deliveries(
    endpoint_id: EndpointId,
    request: Request,
    caller: CallerDep,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_INT32, description="`next_cursor` of the previous page")
    ] = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    """Every delivery attempt, newest first."""
    with runtime(request).reading(caller) as ctx:
        rows = endpoints.deliveries(ctx, endpoint_id, before, limit + 1)
    return page([delivery_view(row) for row in rows], limit)
