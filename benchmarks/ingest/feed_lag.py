"""(d) Feed lag during (a): a prober places and pays orders a few times a second while a
reader tails `GET /v1/events`; lag = the reader's page with the probe's `escrow_held`
minus the payment's 2xx."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from dataclasses import dataclass, field
from typing import Any

import httpx2

from ingest.api import send
from ingest.common import Errors, yuan
from ingest.world import World

EVENTS_PAGE = 500  # GET /v1/events limit
READER_IDLE_S = 0.02  # the feed reader's pause after a page that was not full
PROBE_EVERY_S = 0.25  # one feed-lag probe this often during (a)
PROBE_PREFIX = "lag"


@dataclass
class LagResult:
    lags_ms: list[float] = field(default_factory=list)
    probes: int = 0
    unseen: int = 0
    events_read: int = 0
    pages: int = 0
    errors: Errors = field(default_factory=Errors)


async def feed_reader(
    http: httpx2.AsyncClient,
    waiting: dict[str, float],
    seen: dict[str, float],
    lag: LagResult,
    probes_done: asyncio.Event,
) -> None:
    """Tail the whole feed with the opaque `next_cursor`; note when each probe's event shows."""
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": EVENTS_PAGE}
        if cursor is not None:
            params["after"] = cursor
        try:
            response = await http.get("/v1/events", params=params)
        except httpx2.TransportError as exc:
            lag.errors.broken(exc)
            await asyncio.sleep(READER_IDLE_S)
            continue
        arrived = time.perf_counter()
        if response.status_code >= 500:
            lag.errors.http_5xx += 1
            await asyncio.sleep(READER_IDLE_S)
            continue
        if response.status_code >= 400:
            raise SystemExit(f"GET /v1/events: {response.status_code} {response.text[:300]}")
        page = response.json()
        lag.pages += 1
        lag.events_read += len(page["items"])
        for item in page["items"]:
            order = item["order_id"] or ""
            if item["kind"] == "escrow_held" and order.startswith(PROBE_PREFIX):
                seen.setdefault(order, arrived)  # may arrive before the payment's answer does
        cursor = page["next_cursor"] if page["next_cursor"] is not None else cursor
        if len(page["items"]) < EVENTS_PAGE:
            if probes_done.is_set() and all(order in seen for order in waiting):
                return
            await asyncio.sleep(READER_IDLE_S)


async def prober(
    http: httpx2.AsyncClient,
    world: World,
    round_no: int,
    waiting: dict[str, float],
    lag: LagResult,
    stop: asyncio.Event,
) -> None:
    """Place an order and pay it, one command each; the payment's 2xx is the commit instant."""
    rng = random.Random(1000 + round_no)
    for n in itertools.count():
        if stop.is_set():
            return
        started = time.perf_counter()
        order_id = f"{PROBE_PREFIX}{n:06d}"
        body, total, _ = world.order_body(rng, order_id)
        placed = await send(http, lag.errors, "POST", "/v1/orders", body, key=f"order-{order_id}")
        if placed is not None and placed.status_code < 300:
            paid = await send(
                http,
                lag.errors,
                "POST",
                f"/v1/orders/{order_id}/payment",
                {"amount": yuan(total)},
                key=f"payment-{order_id}",
            )
            if paid is not None and paid.status_code < 300:
                waiting[order_id] = time.perf_counter()
                lag.probes += 1
        await asyncio.sleep(max(0.0, PROBE_EVERY_S - (time.perf_counter() - started)))
