"""(c) `POST /v1/orders` in an open loop at fixed rates; latency counts from each
request's scheduled send time, so a stalled client or server is not hidden."""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any

import httpx2
from rich.progress import Progress

from ingest.api import client, send
from ingest.common import Errors
from ingest.world import World

OPEN_LOOP_RATES = (150, 200)


@dataclass
class OpenLoopResult:
    rate: int
    sent: int = 0
    ok: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    send_delay_ms: list[float] = field(default_factory=list)
    errors: Errors = field(default_factory=Errors)


async def scheduled_post(
    http: httpx2.AsyncClient, result: OpenLoopResult, body: dict[str, Any], key: str, due: float
) -> None:
    """One open-loop request; its latency counts from when it was due, not when it left."""
    result.send_delay_ms.append((time.perf_counter() - due) * 1000)
    answer = await send(http, result.errors, "POST", "/v1/orders", body, key=key)
    result.latencies_ms.append((time.perf_counter() - due) * 1000)
    if answer is not None and answer.status_code < 300:
        result.ok += 1


async def open_loop(
    url: str,
    token: str,
    world: World,
    args: argparse.Namespace,
    round_no: int,
    progress: Progress,
) -> list[OpenLoopResult]:
    results = []
    for rate in OPEN_LOOP_RATES:
        result = OpenLoopResult(rate)
        count = int(rate * args.open_seconds)
        rng = random.Random(f"open-{round_no}-{rate}")
        bodies = [world.order_body(rng, f"C{rate}-{i}")[0] for i in range(count)]
        task = progress.add_task(f"round {round_no} (c) POST /v1/orders at {rate}/s", total=count)
        async with client(url, token, 1000) as http:
            pending = []
            start = time.perf_counter() + 0.05
            for i, body in enumerate(bodies):
                due = start + i / rate
                if (delay := due - time.perf_counter()) > 0:
                    await asyncio.sleep(delay)
                post = scheduled_post(http, result, body, f"open-{rate}-{i}", due)
                pending.append(asyncio.create_task(post))
                result.sent += 1
                progress.advance(task)
            await asyncio.gather(*pending)
            result.seconds = time.perf_counter() - start
        results.append(result)
        await asyncio.sleep(1)
    return results
