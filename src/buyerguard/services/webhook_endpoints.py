"""Webhook endpoints an operator registers: where to push the event feed, which kinds,
signed with which secret (Standard Webhooks), and from which feed position.

A new endpoint starts at the feed's current end (history is there to replay, not
pushed by surprise); `replay` moves its cursor; `delete` removes it with its log.
A secret is shown once, when it is made; rotating keeps the previous one signing
beside the new for an overlap.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, insert, select, update

from buyerguard.errors import InvalidInput, NotFound
from buyerguard.services.context import Context
from buyerguard.services.feed import check_within_feed, feed_end
from buyerguard.services.records import audit
from buyerguard.store.tables import webhook_deliveries, webhook_endpoints

ACTIVE, DISABLED = "active", "disabled"
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
MAX_URL_LENGTH = 2_000
MAX_OVERLAP_HOURS = 7 * 24


@dataclass(frozen=True)
class NewEndpoint:
    url: str
    event_kinds: tuple[str, ...] | None  # None: every kind
    description: str


def new_secret() -> str:
    """A random signing key in the Standard Webhooks form (`whsec_` + base64)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _check_url(url: str) -> None:
    """Refuse a URL the dispatcher could never send (urllib would fail on every attempt,
    or fail outside what it counts as a failed delivery)."""
    problem = None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises for a port that is not a number in 0..65535)
    except ValueError as malformed:
        problem = f"malformed: {malformed}"
    else:
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problem = "not an http(s) URL with a host"
        elif not url.isascii() or any(char <= " " or char == "\x7f" for char in url):
            problem = (
                "a space, a control character or a character that is not ASCII "
                "(write the host in its xn-- form and %-encode the rest)"
            )
        elif "@" in parts.netloc:
            problem = "credentials in the URL are not supported (messages are signed)"
    if len(url) > MAX_URL_LENGTH:
        problem = "too long"
    if problem is not None:
        raise InvalidInput(
            "url_invalid",
            f"an endpoint is an http(s) URL of at most {MAX_URL_LENGTH} characters: {problem}",
            "url",
        )


def endpoint_row(ctx: Context, endpoint_id: str, *, for_update: bool = False) -> dict[str, Any]:
    query = select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
    if for_update and ctx.connection.dialect.name == "postgresql":
        query = query.with_for_update()
    row = ctx.connection.execute(query).mappings().first()
    if row is None:
        raise NotFound("endpoint_not_found", f"no webhook endpoint {endpoint_id}", "endpoint_id")
    return dict(row)


def register(ctx: Context, command: NewEndpoint) -> dict[str, Any]:
    """Register an endpoint, delivering from the feed's end onward; returns it with its secret."""
    ctx.require_role("register webhook endpoints")
    _check_url(command.url)
    now = ctx.now()
    endpoint_id = f"we_{secrets.token_hex(8)}"
    row = {
        "id": endpoint_id,
        "url": command.url,
        "description": command.description,
        "event_kinds": list(command.event_kinds) if command.event_kinds is not None else None,
        "secret": new_secret(),
        "previous_secret": None,
        "previous_secret_until": None,
        "cursor_position": feed_end(ctx.connection),
        "state": ACTIVE,
        "failing_since": None,
        "attempts": 0,
        "next_attempt_at": None,
        "lease_until": None,
        "disabled_at": None,
        "disabled_reason": None,
        "created_at": now,
        "created_by": ctx.actor.label,
        "updated_at": now,
    }
    ctx.connection.execute(insert(webhook_endpoints), row)
    audit(
        ctx,
        "register_webhook_endpoint",
        endpoint_id,
        now,
        url=command.url,
        event_kinds=row["event_kinds"],
    )
    return row


def rotate_secret(ctx: Context, endpoint_id: str, overlap: timedelta) -> dict[str, Any]:
    """A new secret; the current one keeps signing beside it for `overlap`."""
    ctx.require_role("rotate webhook secrets")
    if not timedelta(0) <= overlap <= timedelta(hours=MAX_OVERLAP_HOURS):
        raise InvalidInput(
            "overlap_out_of_range",
            f"overlap_hours must lie in 0..{MAX_OVERLAP_HOURS}",
            "overlap_hours",
        )
    row = endpoint_row(ctx, endpoint_id, for_update=True)
    now = ctx.now()
    values = {
        "secret": new_secret(),
        "previous_secret": row["secret"] if overlap else None,
        "previous_secret_until": now + overlap if overlap else None,
        "updated_at": now,
    }
    _update(ctx, endpoint_id, values)
    audit(
        ctx, "rotate_webhook_secret", endpoint_id, now, overlap_hours=overlap // timedelta(hours=1)
    )
    return {**row, **values}


def replay_from(ctx: Context, endpoint_id: str, after_position: int) -> dict[str, Any]:
    """Deliver again every event after `after_position` (backward or forward), in order."""
    ctx.require_role("replay webhooks")
    row = endpoint_row(ctx, endpoint_id, for_update=True)
    check_within_feed(ctx.connection, after_position)
    values = {"cursor_position": after_position, "next_attempt_at": None, "updated_at": ctx.now()}
    _update(ctx, endpoint_id, values)
    audit(ctx, "replay_webhook_endpoint", endpoint_id, ctx.now(), after_position=after_position)
    return {**row, **values}


def set_state(ctx: Context, endpoint_id: str, state: str, reason: str | None) -> dict[str, Any]:
    """Enable (its failures forgotten: it is tried at once) or disable an endpoint."""
    ctx.require_role("enable or disable webhook endpoints")
    row = endpoint_row(ctx, endpoint_id, for_update=True)
    now = ctx.now()
    values: dict[str, Any] = {"state": state, "updated_at": now}
    if state == ACTIVE:
        values |= {"failing_since": None, "attempts": 0, "next_attempt_at": None}
        values |= {"disabled_at": None, "disabled_reason": None}
    else:
        values |= {"disabled_at": now, "disabled_reason": reason or f"by {ctx.actor.label}"}
        values |= {"next_attempt_at": None}  # never tried again until enabled
    _update(ctx, endpoint_id, values)
    details = {} if state == ACTIVE else {"reason": reason}
    command = "enable" if state == ACTIVE else "disable"
    audit(ctx, f"{command}_webhook_endpoint", endpoint_id, now, **details)
    return {**row, **values}


def delete_endpoint(ctx: Context, endpoint_id: str) -> dict[str, Any]:
    """Delete an endpoint and its delivery log; returns it as it was. A pass delivering it
    meanwhile lets go of it without a trace (webhook_dispatcher)."""
    ctx.require_role("delete webhook endpoints")
    row = endpoint_row(ctx, endpoint_id, for_update=True)
    ctx.connection.execute(
        delete(webhook_deliveries).where(webhook_deliveries.c.endpoint_id == endpoint_id)
    )
    ctx.connection.execute(delete(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id))
    audit(ctx, "delete_webhook_endpoint", endpoint_id, ctx.now(), url=row["url"])
    return row


def _update(ctx: Context, endpoint_id: str, values: dict[str, Any]) -> None:
    ctx.connection.execute(
        update(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id).values(values)
    )


def list_endpoints(ctx: Context, after: str | None, limit: int) -> list[dict[str, Any]]:
    ctx.require_role("list webhook endpoints")
    query = select(webhook_endpoints).order_by(webhook_endpoints.c.id).limit(limit)
    if after is not None:
        query = query.where(webhook_endpoints.c.id > after)
    return [dict(row) for row in ctx.connection.execute(query).mappings()]


def deliveries(
    ctx: Context, endpoint_id: str, before: int | None, limit: int
) -> list[dict[str, Any]]:
    """An endpoint's delivery attempts, newest first."""
    ctx.require_role("read webhook deliveries")
    endpoint_row(ctx, endpoint_id)
    table = webhook_deliveries.c
    query = select(webhook_deliveries).where(table.endpoint_id == endpoint_id)
    if before is not None:
        query = query.where(table.id < before)
    rows = ctx.connection.execute(query.order_by(table.id.desc()).limit(limit)).mappings()
    return [dict(row) for row in rows]


def signing_secrets(row: dict[str, Any], now: datetime) -> list[str]:
    """The secrets that sign a message now: the current one, and the previous one while
    its overlap lasts."""
    keys = [row["secret"]]
    until = row["previous_secret_until"]
    if row["previous_secret"] and until is not None and now < until:
        keys.append(row["previous_secret"])
    return keys
