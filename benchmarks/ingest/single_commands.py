"""(b) The single-command API: 1, 2, 4, 8, 16 concurrent clients each running whole
lifecycles one request per fact, to see how facts/s and latency scale with clients."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import time
from dataclasses import dataclass, field
from typing import Any

import httpx2
from rich.progress import Progress

from ingest.api import client, send
from ingest.common import Errors
from ingest.world import World, lifecycle

CLIENT_STEPS = (1, 2, 4, 8, 16)


@dataclass
class StepResult:
    clients: int
    facts: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    errors: Errors = field(default_factory=Errors)

    @property
    def facts_per_s(self) -> float:
        return self.facts / self.seconds if self.seconds else 0.0


async def single_commands(
    url: str, token: str, world: World, args: argparse.Namespace, round_no: int, progress: Progress
) -> list[StepResult]:
    steps = []
    for clients in CLIENT_STEPS:
        step = StepResult(clients)
        task = progress.add_task(
            f"round {round_no} (b) {clients:>2} single-command client(s)", total=args.step_seconds
        )
        deadline = time.perf_counter() + args.step_seconds

        async def one_client(
            http: httpx2.AsyncClient, n: int, step: StepResult = step, deadline: float = deadline
        ) -> None:
            rng = random.Random(f"{round_no}-{step.clients}-{n}")
            for k in itertools.count():
                order_id = f"S{step.clients}-{n}-{k}"
                for fact in lifecycle(world, rng, order_id, args.refund_share, args.cancel_share):
                    if time.perf_counter() >= deadline:
                        return
                    kind = fact["kind"]
                    path = "/v1/orders" if kind == "order" else f"/v1/orders/{order_id}/{kind}"
                    started = time.perf_counter()
                    answer = await send(
                        http,
                        step.errors,
                        "POST",
                        path,
                        fact.get("body"),
                        key=fact["idempotency_key"],
                    )
                    step.latencies_ms.append((time.perf_counter() - started) * 1000)
                    if answer is None or answer.status_code >= 400:
                        break  # this order is done for; start the next
                    step.facts += 1

        async def tick(task: Any = task, deadline: float = deadline) -> None:
            while (left := deadline - time.perf_counter()) > 0:
                progress.update(task, completed=args.step_seconds - left)
                await asyncio.sleep(0.5)
            progress.update(task, completed=args.step_seconds)

        async with client(url, token, clients) as http:
            started = time.perf_counter()
            await asyncio.gather(tick(), *(one_client(http, n) for n in range(clients)))
            step.seconds = time.perf_counter() - started
        steps.append(step)
    return steps
