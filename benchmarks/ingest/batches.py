"""(a) Batch ingestion: `POST /v1/facts` batches of interleaved order lifecycles from
several concurrent clients, with (d)'s prober and feed reader running alongside."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
from rich.progress import Progress

from ingest.api import client, send
from ingest.common import Errors
from ingest.feed_lag import LagResult, feed_reader, prober
from ingest.world import World, expected_facts, interleaved, lifecycle

BATCH_LIMIT = 1000  # POST /v1/facts takes at most this many facts
REFUSALS_KEPT = 10  # refusals kept word for word, to show what went wrong


@dataclass
class IngestResult:
    facts: int = 0
    applied: int = 0
    seconds: float = 0.0
    batches: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: Errors = field(default_factory=Errors)
    first_refusals: list[str] = field(default_factory=list)  # "kind: code: message"

    @property
    def facts_per_s(self) -> float:
        return self.applied / self.seconds if self.seconds else 0.0


async def post_facts(
    http: httpx2.AsyncClient, batch: list[dict[str, Any]], result: IngestResult
) -> list[str]:
    """POST one batch and tally it into `result`; returns each fact's outcome (`applied`,
    `replayed`, `refused`, `skipped`, or `batch failed` when the request itself failed)."""
    answer = await send(http, result.errors, "POST", "/v1/facts", {"facts": batch})
    result.batches += 1
    if answer is None or answer.status_code >= 400:
        result.outcomes["batch failed"] += len(batch)
        return ["batch failed"] * len(batch)
    outcomes = []
    for fact, outcome in zip(batch, answer.json()["results"], strict=True):
        kind = outcome["outcome"]
        result.outcomes[kind] += 1
        outcomes.append(kind)
        if kind == "applied":
            result.applied += 1
        elif kind in ("refused", "skipped"):
            if outcome["status"] >= 500:
                result.errors.http_5xx += 1
                continue
            error = outcome["error"] or {}
            result.errors.refused[str(error.get("code"))] += 1
            if kind == "refused" and len(result.first_refusals) < REFUSALS_KEPT:
                result.first_refusals.append(
                    f"{fact['kind']}: {error.get('code')}: {error.get('message')}"
                )
    return outcomes


async def batch_client(
    http: httpx2.AsyncClient,
    feed: Iterator[dict[str, Any]],
    result: IngestResult,
    progress: Progress,
    task: Any,
) -> None:
    broken: set[str] = set()  # orders with a refused fact: their later facts are not sent
    while True:
        batch: list[dict[str, Any]] = []
        for fact in feed:
            order = fact.get("order_id") or fact["body"]["id"]
            if order in broken:
                result.outcomes["not sent (order refused earlier)"] += 1
                progress.advance(task)
                continue
            batch.append(fact)
            if len(batch) == BATCH_LIMIT:
                break
        if not batch:
            return
        outcomes = await post_facts(http, batch, result)
        progress.advance(task, len(batch))
        for fact, outcome in zip(batch, outcomes, strict=True):
            if outcome not in ("applied", "replayed"):
                broken.add(fact.get("order_id") or fact["body"]["id"])


async def ingest(
    url: str, token: str, world: World, args: argparse.Namespace, round_no: int, progress: Progress
) -> tuple[IngestResult, LagResult]:
    def feed(client_no: int) -> Iterator[dict[str, Any]]:
        """This client's orders (every batch_clients-th), made as they are sent."""
        rng = random.Random(f"{args.seed}-{round_no}-{client_no}")
        orders = (
            lifecycle(world, rng, f"O{i:07d}", args.refund_share, args.cancel_share)
            for i in range(client_no, args.orders, args.batch_clients)
        )
        return interleaved(orders, args.group)

    result, lag = IngestResult(), LagResult()
    estimate = expected_facts(args.orders, args.refund_share, args.cancel_share)
    task = progress.add_task(
        f"round {round_no} (a) batches, {args.batch_clients} clients", total=estimate
    )
    waiting: dict[str, float] = {}
    seen: dict[str, float] = {}
    stop, probes_done = asyncio.Event(), asyncio.Event()
    async with client(url, token, args.batch_clients) as batches, client(url, token, 4) as side:
        reader = asyncio.create_task(feed_reader(side, waiting, seen, lag, probes_done))
        probe = asyncio.create_task(prober(side, world, round_no, waiting, lag, stop))
        started = time.perf_counter()
        await asyncio.gather(
            *(
                batch_client(batches, feed(c), result, progress, task)
                for c in range(args.batch_clients)
            )
        )
        result.seconds = time.perf_counter() - started
        result.facts = int(progress.tasks[task].completed)
        progress.update(task, total=result.facts)
        stop.set()  # the prober first: its last payment may still be in flight
        await probe
        probes_done.set()
        with contextlib.suppress(TimeoutError):  # unseen probes are counted below
            await asyncio.wait_for(reader, timeout=120)
    for order, committed in waiting.items():
        if order in seen:
            lag.lags_ms.append(max(0.0, seen[order] - committed) * 1000)
        else:
            lag.unseen += 1
    return result, lag
