"""Ingest throughput through the live API on PostgreSQL, alternating with pgbench TPC-B.

One run, `--rounds` alternations (default 3). Once: `pgbench -i -s 10` on its own
database, and a template database (`buyerguard db upgrade`, a marketplace token from
`buyerguard token create`, then 1,000 merchants, 20,000 buyers and their products
through the API). Each round: `pgbench -c 4 -j 2 -T 30` with buyerguard stopped, then
a fresh copy of the template served by `buyerguard serve --workers N`, and

  (a) `POST /v1/facts` batches (≤ 1,000 facts) of whole order lifecycles — place, pay,
      ship, sign, confirm; partial refunds before shipment and cancellations mixed in —
      for `--orders` orders from 20,000 buyers at 1,000 merchants with Zipf(s=1) merchant
      popularity, from several concurrent batch clients (an order's facts stay on one
      client, in order, and often span two batches): facts/s, and its ratio to the
      round's pgbench tps;
  (d) during (a): feed lag — a probe places an order and pays it (single commands) a few
      times a second; a reader tails `GET /v1/events` with the opaque `next_cursor`, as a
      marketplace would, reading every event (a)'s load produces. Lag = when the reader's
      page holding the probe's `escrow_held` arrived minus when the payment's 2xx arrived;
  (b) the single-command API: 1, 2, 4, 8, 16 concurrent clients each running whole
      lifecycles one request per fact: facts/s, p50, p99;
  (c) `POST /v1/orders` open loop at 150 and 200 req/s: p50/p99 from each request's
      scheduled send time, so a stalled client or server is not hidden;

then stops the server and runs `buyerguard ledger check` on that round's database.
Every HTTP 5xx and connection error is counted per part, and `pg_stat_activity` is
sampled four times a second to show where the server waits. Targets are judged on the
medians of the rounds.

    .venv/bin/python benchmarks/ingest_throughput.py [--orders 200000] [--rounds 3] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import psycopg
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from buyerguard.progress import progress_bar

console = Console(width=None if sys.stdout.isatty() else 160)
BATCH_LIMIT = 1000  # POST /v1/facts takes at most this many facts
EVENTS_PAGE = 500  # GET /v1/events limit
READER_IDLE_S = 0.02  # the feed reader's pause after a page that was not full
PROBE_EVERY_S = 0.25  # one feed-lag probe this often during (a)
SAMPLE_EVERY_S = 0.25  # pg_stat_activity sampling
CLIENT_STEPS = (1, 2, 4, 8, 16)
MAX_STEPS = 6  # facts of the longest lifecycle: place, pay, refund a part, ship, sign, confirm
PROBE_PREFIX = "lag"
OPEN_LOOP_RATES = (150, 200)
PROVINCES = ("110000", "310000", "330000", "440000", "320000", "510000", "420000", "370000")
TARGETS = {
    "a": "facts/s >= 1.0 x pgbench tps",
    "b_scaling": "each client step >= 0.90 x the step before",
    "b_4": "4 clients >= 176 facts/s",
    "c": "p99 < 25 ms at 150 req/s",
    "d": "feed lag p99 < 1 s",
    "5xx": "0 HTTP 5xx",
}


# ------------------------------------------------------------------ helpers
def percentile(samples: Sequence[float], share: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


@dataclass
class Errors:
    """What went wrong in one part: HTTP 5xx, connection errors, refusals by code."""

    http_5xx: int = 0
    connection: int = 0
    connection_kinds: Counter[str] = field(default_factory=Counter)  # by exception class
    refused: Counter[str] = field(default_factory=Counter)

    def broken(self, exc: Exception) -> None:
        self.connection += 1
        self.connection_kinds[type(exc).__name__] += 1

    @property
    def server_errors(self) -> int:
        return self.http_5xx + self.connection

    def view(self) -> dict[str, Any]:
        return {
            "http_5xx": self.http_5xx,
            "connection_errors": self.connection,
            "connection_error_kinds": dict(self.connection_kinds),
            "refused": dict(self.refused),
        }


# ------------------------------------------------------------------ the marketplace
@dataclass(frozen=True)
class World:
    merchants: list[str]
    buyers: list[str]
    products: list[list[tuple[str, int]]]  # per merchant: (product id, unit price in fen)
    merchant_cum_weights: list[float]  # Zipf(s=1)

    @classmethod
    def make(cls, merchants: int, buyers: int, per_merchant: int, seed: int) -> World:
        rng = random.Random(seed)
        merchant_ids = [f"M{i:05d}" for i in range(merchants)]
        return cls(
            merchants=merchant_ids,
            buyers=[f"B{i:06d}" for i in range(buyers)],
            products=[
                [
                    (f"P{i:05d}-{j}", rng.randint(5, 500) * 100 + rng.choice((0, 50)))
                    for j in range(per_merchant)
                ]
                for i in range(merchants)
            ],
            merchant_cum_weights=list(itertools.accumulate(1 / (k + 1) for k in range(merchants))),
        )

    def pick_merchant(self, rng: random.Random) -> int:
        return rng.choices(range(len(self.merchants)), cum_weights=self.merchant_cum_weights)[0]

    def order_body(
        self, rng: random.Random, order_id: str | None
    ) -> tuple[dict[str, Any], int, int]:
        """A placement body, its total and its first line's goods, in fen."""
        merchant = self.pick_merchant(rng)
        lines = rng.sample(
            self.products[merchant], rng.randint(1, min(3, len(self.products[merchant])))
        )
        quantities = [rng.randint(1, 5) for _ in lines]
        shipping = rng.choice((0, 0, 800, 1200))
        goods = sum(
            price * quantity for (_, price), quantity in zip(lines, quantities, strict=True)
        )
        body: dict[str, Any] = {
            "buyer_id": rng.choice(self.buyers),
            "lines": [
                {"product_id": product, "quantity": q}
                for (product, _), q in zip(lines, quantities, strict=True)
            ],
            "shipping": yuan(shipping),
        }
        if order_id is not None:
            body["id"] = order_id
        first = lines[0][1] * quantities[0]
        return body, goods + shipping, first


def lifecycle(
    world: World, rng: random.Random, order_id: str, refund_share: float, cancel_share: float
) -> list[dict[str, Any]]:
    """The facts of one order, in order, as `POST /v1/facts` takes them."""
    body, total, first_goods = world.order_body(rng, order_id)
    facts: list[dict[str, Any]] = [{"kind": "order", "body": body}]
    draw = rng.random()
    if draw < cancel_share:
        facts.append({"kind": "cancellation", "order_id": order_id})
    else:
        facts.append({"kind": "payment", "order_id": order_id, "body": {"amount": yuan(total)}})
        if draw < cancel_share + refund_share:
            part = max(1, first_goods // 3)  # a part of the first sub-order
            facts.append(
                {
                    "kind": "refund-before-shipment",
                    "order_id": order_id,
                    "body": {"amounts": {f"{order_id}-1": yuan(part)}},
                }
            )
        facts += [
            {
                "kind": "shipment",
                "order_id": order_id,
                "body": {
                    "carrier": "SF",
                    "tracking_number": f"SF{order_id}",
                    "official_logistics": True,
                },
            },
            {"kind": "signing", "order_id": order_id},
            {"kind": "confirmation", "order_id": order_id},
        ]
    for fact in facts:
        fact["idempotency_key"] = f"{fact['kind']}-{order_id}"
    return facts


def interleaved(orders: Iterator[list[dict[str, Any]]], group: int) -> Iterator[dict[str, Any]]:
    """An order feed as a marketplace sends it: new orders mixed with later facts of older ones.

    Orders start in groups; each tick carries step s of the group started s ticks ago, so an
    order's facts come in order, one step per tick, and usually land in different batches.
    Only the last MAX_STEPS groups are in memory.
    """
    window: deque[list[list[dict[str, Any]]]] = deque(maxlen=MAX_STEPS)
    while True:
        window.appendleft(list(itertools.islice(orders, group)))
        if not any(window):
            return
        for step, started in enumerate(window):
            for facts in started:
                if step < len(facts):
                    yield facts[step]


def expected_facts(orders: int, refund_share: float, cancel_share: float) -> int:
    return round(
        orders * (2 * cancel_share + 6 * refund_share + 5 * (1 - cancel_share - refund_share))
    )


# ------------------------------------------------------------------ processes
@dataclass
class Postgres:
    url: str  # server URL without a database
    owned: list[str] = field(default_factory=list)

    def dsn(self, database: str) -> str:
        return f"{self.url.rstrip('/')}/{database}"

    def admin(self, sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as connection:
            cursor = connection.execute(sql.encode())  # our own literals, no parameters
            return list(cursor.fetchall()) if cursor.description else []

    def create(self, name: str, template: str | None = None) -> None:
        self.drop(name)
        self.admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        self.owned.append(name)

    def drop(self, name: str) -> None:
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def drop_all(self) -> None:
        for name in reversed(self.owned):
            self.drop(name)
        self.owned.clear()


def buyerguard_command() -> list[str]:
    script = Path(sys.executable).with_name("buyerguard")
    return [str(script)] if script.exists() else [sys.executable, "-m", "buyerguard.cli"]


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*buyerguard_command(), *args], env=env, capture_output=True, text=True, check=False
    )


class Server:
    """`buyerguard serve --workers N` as a subprocess on a free port, output to a log file."""

    def __init__(self, env: dict[str, str], workers: int, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    *buyerguard_command(),
                    "serve",
                    "--port",
                    str(self.port),
                    "--workers",
                    str(workers),
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(
                    f"buyerguard serve exited {self.process.returncode}:\n{self.tail()}"
                )
            try:
                if httpx2.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx2.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise SystemExit(f"buyerguard serve did not answer /healthz in 60 s:\n{self.tail()}")

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])

    def pids(self) -> set[int]:
        """The serve process and everything under it (workers, scheduler)."""
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                parent = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
        found, todo = set(), [self.process.pid]
        while todo:
            pid = todo.pop()
            found.add(pid)
            todo += children.get(pid, [])
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def cpu_by_process() -> dict[int, tuple[str, float]]:
    """(command name, CPU seconds so far) of every process."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        found[int(entry.name)] = (name, (int(fields[11]) + int(fields[12])) / tick)
    return found


def cpu_cores(
    before: dict[int, tuple[str, float]],
    after: dict[int, tuple[str, float]],
    server: set[int],
    seconds: float,
) -> dict[str, float]:
    """Cores used between two snapshots by the server, PostgreSQL and this benchmark.

    A process that ended in between is not counted (its last CPU seconds are lost)."""
    used = {"server": 0.0, "postgres": 0.0, "benchmark": 0.0}
    for pid, (name, seconds_now) in after.items():
        spent = seconds_now - before.get(pid, (name, 0.0))[1]
        if pid == os.getpid():
            used["benchmark"] += spent
        elif pid in server:
            used["server"] += spent
        elif name.startswith("postgres"):
            used["postgres"] += spent
    return {name: value / seconds for name, value in used.items()}


class Sampler(threading.Thread):
    """Samples `pg_stat_activity` of one database: what its busy backends wait on, per part."""

    def __init__(self, pg: Postgres, database: str) -> None:
        super().__init__(daemon=True)
        self.pg, self.database = pg, database
        self.part = "setup"
        self.samples: dict[str, Counter[str]] = {}
        self.ticks: Counter[str] = Counter()
        self.done = threading.Event()

    def run(self) -> None:
        query = (
            "SELECT state, coalesce(wait_event_type, 'CPU'), coalesce(wait_event, '-') "
            "FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() "
            "AND state IN ('active', 'idle in transaction')"
        )
        with psycopg.connect(self.pg.dsn("postgres"), autocommit=True) as connection:
            while not self.done.wait(SAMPLE_EVERY_S):
                rows = connection.execute(query, (self.database,)).fetchall()
                part = self.part
                self.ticks[part] += 1
                counter = self.samples.setdefault(part, Counter())
                for state, kind, event in rows:
                    label = (
                        "idle in transaction (server-side Python)"
                        if state != "active"
                        else f"{kind}:{event}"
                    )
                    counter[label] += 1

    def summary(self, part: str, top: int = 6) -> dict[str, float]:
        """Average number of backends in each state/wait during the part."""
        ticks = self.ticks[part] or 1
        return {
            label: count / ticks
            for label, count in self.samples.get(part, Counter()).most_common(top)
        }


def pgbench(args: list[str]) -> str:
    done = subprocess.run(["pgbench", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"pgbench {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout + done.stderr


# ------------------------------------------------------------------ HTTP clients
def client(url: str, token: str, connections: int) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(
        base_url=url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=httpx2.Timeout(600.0),
        limits=httpx2.Limits(max_connections=connections, max_keepalive_connections=connections),
    )


async def send(
    http: httpx2.AsyncClient,
    errors: Errors,
    method: str,
    path: str,
    payload: Any = None,
    key: str | None = None,
) -> httpx2.Response | None:
    """One request; a 5xx or a broken connection is counted and answers None."""
    headers = {"Idempotency-Key": key} if key else None
    try:
        response = await http.request(method, path, json=payload, headers=headers)
    except httpx2.TransportError as exc:
        errors.broken(exc)
        return None
    if response.status_code >= 500:
        errors.http_5xx += 1
        return None
    if response.status_code >= 400:
        try:
            code = str(response.json().get("code"))
        except ValueError:
            code = f"http_{response.status_code}"
        errors.refused[code] += 1
    return response


async def pooled(jobs: Iterator[Callable[[], Any]], concurrency: int) -> None:
    """Run coroutine factories with at most `concurrency` at a time."""
    lock = asyncio.Lock()

    async def worker() -> None:
        while True:
            async with lock:
                job = next(jobs, None)
            if job is None:
                return
            await job()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def create_parties(url: str, token: str, world: World, progress: Progress) -> Errors:
    errors = Errors()
    total = len(world.merchants) + len(world.buyers) + sum(map(len, world.products))
    task = progress.add_task("merchants, buyers, products (API)", total=total)
    rng = random.Random(1)
    async with client(url, token, 8) as http:

        def post(path: str, body: dict[str, Any]) -> Callable[[], Any]:
            async def go() -> None:
                answer = await send(http, errors, "POST", path, body, key=f"setup-{body['id']}")
                if answer is None or answer.status_code >= 400:
                    raise SystemExit(f"setup {path} {body['id']}: {answer and answer.text[:300]}")
                progress.advance(task)

            return go

        merchants = (
            post(
                "/v1/merchants",
                {
                    "id": merchant,
                    "name": f"merchant {merchant}",
                    "tier": ("standard", "powerful_merchant", "super_factory")[i % 3],
                    "industry": "daily_goods",
                    "origin_region": "330782",
                },
            )
            for i, merchant in enumerate(world.merchants)
        )
        await pooled(merchants, 8)
        products = (
            post(
                "/v1/products",
                {
                    "id": product,
                    "merchant_id": world.merchants[m],
                    "title": f"product {product}",
                    "unit_price": yuan(price),
                    "weight_grams": 500,
                    "ship_from_region": "330782",
                    # one piece at a time in a mandatory class: 7-day returns (§2)
                    "seven_day_returns_opt_in": True,
                },
            )
            for m, items in enumerate(world.products)
            for product, price in items
        )
        await pooled(products, 8)
        buyers = (
            post(
                "/v1/buyers",
                {
                    "id": buyer,
                    "name": f"buyer {buyer}",
                    "addresses": [
                        {
                            "province_code": (province := rng.choice(PROVINCES)),
                            "city_code": province[:2] + "0100",
                            "district_code": province[:2] + "0102",
                        }
                    ],
                },
            )
            for buyer in world.buyers
        )
        await pooled(buyers, 8)
    return errors


async def http_floor(url: str, token: str, requests: int = 200) -> dict[str, float]:
    """GET /healthz, one after another on one keep-alive connection: the HTTP floor of the
    stack, as in promise_latency.py. A per-request stall here shows in every part."""
    samples = []
    async with client(url, token, 1) as http:
        for _ in range(requests):
            started = time.perf_counter()
            (await http.get("/healthz")).raise_for_status()
            samples.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": percentile(samples, 0.50), "p99_ms": percentile(samples, 0.99)}


# ------------------------------------------------------------------ (a) + (d)
@dataclass
class IngestResult:
    facts: int = 0
    applied: int = 0
    seconds: float = 0.0
    batches: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: Errors = field(default_factory=Errors)

    @property
    def facts_per_s(self) -> float:
        return self.applied / self.seconds if self.seconds else 0.0


@dataclass
class LagResult:
    lags_ms: list[float] = field(default_factory=list)
    probes: int = 0
    unseen: int = 0
    events_read: int = 0
    pages: int = 0
    errors: Errors = field(default_factory=Errors)


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
        answer = await send(http, result.errors, "POST", "/v1/facts", {"facts": batch})
        result.batches += 1
        progress.advance(task, len(batch))
        if answer is None or answer.status_code >= 400:
            result.outcomes["batch failed"] += len(batch)
            for fact in batch:
                broken.add(fact.get("order_id") or fact["body"]["id"])
            continue
        for fact, outcome in zip(batch, answer.json()["results"], strict=True):
            result.outcomes[outcome["outcome"]] += 1
            if outcome["outcome"] == "applied":
                result.applied += 1
            elif outcome["outcome"] in ("refused", "skipped"):
                broken.add(fact.get("order_id") or fact["body"]["id"])
                if outcome["status"] >= 500:
                    result.errors.http_5xx += 1
                else:
                    result.errors.refused[str((outcome["error"] or {}).get("code"))] += 1


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


# ------------------------------------------------------------------ (b)
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


# ------------------------------------------------------------------ (c)
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


# ------------------------------------------------------------------ one round
def run_round(
    round_no: int,
    args: argparse.Namespace,
    pg: Postgres,
    template: str,
    token: str,
    world: World,
    tmp: Path,
    progress: Progress,
) -> dict[str, Any]:
    figures: dict[str, Any] = {"round": round_no}
    task = progress.add_task(
        f"round {round_no} pgbench -c 4 -j 2 -T {args.pgbench_seconds}", total=args.pgbench_seconds
    )
    bench = threading.Thread(
        target=lambda: figures.__setitem__(
            "pgbench",
            pgbench(
                [
                    "-h",
                    args.pg_host,
                    "-p",
                    str(args.pg_port),
                    "-U",
                    args.pg_user,
                    "-c",
                    "4",
                    "-j",
                    "2",
                    "-T",
                    str(args.pgbench_seconds),
                    args.pgbench_db,
                ]
            ),
        )
    )
    started = time.monotonic()
    bench.start()
    while bench.is_alive():
        progress.update(task, completed=min(args.pgbench_seconds, time.monotonic() - started))
        bench.join(0.5)
    progress.update(task, completed=args.pgbench_seconds)
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", figures["pgbench"])
    if match is None:
        raise SystemExit(f"no tps in pgbench output:\n{figures['pgbench']}")
    figures["pgbench_tps"] = float(match.group(1))
    figures["pgbench"] = figures["pgbench"].strip().splitlines()[-3:]

    database = f"{template}_r{round_no}"
    pg.create(database, template)
    env = {**os.environ, "BUYERGUARD_DATABASE_URL": pg.dsn(database)}
    server = Server(env, args.workers, tmp / f"serve-r{round_no}.log")
    sampler = Sampler(pg, database)
    sampler.start()
    cpu: dict[str, dict[str, float]] = {}

    def measured(part: str, run: Callable[[], Any]) -> Any:
        sampler.part = part
        pids = server.pids()
        before, t0 = cpu_by_process(), time.perf_counter()
        value = run()
        after, elapsed = cpu_by_process(), time.perf_counter() - t0
        cpu[part] = cpu_cores(before, after, pids, elapsed)
        sampler.part = "between"
        console.print(f"round {round_no} part {part} done in {elapsed:.0f} s", style="dim")
        return value

    try:
        figures["healthz_keepalive"] = asyncio.run(http_floor(server.url, token))
        ingested, lag = measured(
            "a+d", lambda: asyncio.run(ingest(server.url, token, world, args, round_no, progress))
        )
        steps = measured(
            "b",
            lambda: asyncio.run(
                single_commands(server.url, token, world, args, round_no, progress)
            ),
        )
        loops = measured(
            "c", lambda: asyncio.run(open_loop(server.url, token, world, args, round_no, progress))
        )
    finally:
        sampler.done.set()
        sampler.join()
        server.stop()
    check = run_cli(env, "ledger", "check")
    if not args.keep_databases:
        pg.drop(database)
    figures.update(
        a={
            "facts": ingested.facts,
            "applied": ingested.applied,
            "seconds": ingested.seconds,
            "batches": ingested.batches,
            "facts_per_s": ingested.facts_per_s,
            "ratio_to_pgbench": ingested.facts_per_s / figures["pgbench_tps"],
            "outcomes": dict(ingested.outcomes),
            "errors": ingested.errors.view(),
        },
        d={
            "probes": lag.probes,
            "unseen": lag.unseen,
            "events_read": lag.events_read,
            "pages": lag.pages,
            "p50_ms": percentile(lag.lags_ms, 0.50),
            "p99_ms": percentile(lag.lags_ms, 0.99),
            "max_ms": max(lag.lags_ms, default=float("nan")),
            "errors": lag.errors.view(),
        },
        b=[
            {
                "clients": s.clients,
                "facts": s.facts,
                "seconds": s.seconds,
                "facts_per_s": s.facts_per_s,
                "p50_ms": percentile(s.latencies_ms, 0.50),
                "p99_ms": percentile(s.latencies_ms, 0.99),
                "errors": s.errors.view(),
            }
            for s in steps
        ],
        c=[
            {
                "rate": r.rate,
                "sent": r.sent,
                "ok": r.ok,
                "achieved_per_s": r.ok / r.seconds if r.seconds else 0.0,
                "p50_ms": percentile(r.latencies_ms, 0.50),
                "p99_ms": percentile(r.latencies_ms, 0.99),
                "max_ms": max(r.latencies_ms, default=float("nan")),
                "send_delay_p99_ms": percentile(r.send_delay_ms, 0.99),
                "errors": r.errors.view(),
            }
            for r in loops
        ],
        ledger_check={
            "exit_status": check.returncode,
            "output": (check.stdout + check.stderr).strip(),
        },
        waits={part: sampler.summary(part) for part in ("a+d", "b", "c")},
        cpu_cores=cpu,
    )
    errors = [ingested.errors, lag.errors, *(s.errors for s in steps), *(r.errors for r in loops)]
    figures["server_errors"] = {
        "a": ingested.errors.server_errors,
        "b": sum(s.errors.server_errors for s in steps),
        "c": sum(r.errors.server_errors for r in loops),
        "d": lag.errors.server_errors,
        "total": sum(e.server_errors for e in errors),
    }
    console.print(
        f"round {round_no}: pgbench {figures['pgbench_tps']:,.0f} tps; (a) "
        f"{ingested.facts_per_s:,.0f} facts/s; ledger check exit {check.returncode}"
    )
    return figures


# ------------------------------------------------------------------ report
def verdict(ok: bool) -> str:
    return "[green]PASS[/green]" if ok else "[red]MISS[/red]"


def report(
    rounds: list[dict[str, Any]], args: argparse.Namespace, setup: dict[str, Any]
) -> dict[str, Any]:
    def med(get: Callable[[dict[str, Any]], float]) -> float:
        return median([get(r) for r in rounds])

    def med_of(part: str, index: int, key: str) -> float:
        return median([r[part][index][key] for r in rounds])

    summary: dict[str, Any] = {
        "pgbench_tps": med(lambda r: r["pgbench_tps"]),
        "a_facts_per_s": med(lambda r: r["a"]["facts_per_s"]),
        "a_ratio": med(lambda r: r["a"]["ratio_to_pgbench"]),
        "b": [
            {
                "clients": clients,
                "facts_per_s": med_of("b", i, "facts_per_s"),
                "p50_ms": med_of("b", i, "p50_ms"),
                "p99_ms": med_of("b", i, "p99_ms"),
            }
            for i, clients in enumerate(CLIENT_STEPS)
        ],
        "c": [
            {
                "rate": rate,
                "p50_ms": med_of("c", i, "p50_ms"),
                "p99_ms": med_of("c", i, "p99_ms"),
            }
            for i, rate in enumerate(OPEN_LOOP_RATES)
        ],
        "healthz_keepalive_p50_ms": med(lambda r: r["healthz_keepalive"]["p50_ms"]),
        "d_p50_ms": med(lambda r: r["d"]["p50_ms"]),
        "d_p99_ms": med(lambda r: r["d"]["p99_ms"]),
        "server_errors": sum(r["server_errors"]["total"] for r in rounds),
        "ledger_check_ok": all(r["ledger_check"]["exit_status"] == 0 for r in rounds),
    }
    b = summary["b"]
    ratios = [
        b[i]["facts_per_s"] / b[i - 1]["facts_per_s"] if b[i - 1]["facts_per_s"] else 0.0
        for i in range(1, len(b))
    ]
    c150 = next(c for c in summary["c"] if c["rate"] == 150)
    unseen = sum(r["d"]["unseen"] for r in rounds)
    summary["targets"] = {
        "a": summary["a_ratio"] >= 1.0,
        "b_scaling": all(ratio >= 0.90 for ratio in ratios),
        "b_4": b[CLIENT_STEPS.index(4)]["facts_per_s"] >= 176,
        "c": c150["p99_ms"] < 25,
        "d": summary["d_p99_ms"] < 1000 and unseen == 0,
        "5xx": summary["server_errors"] == 0,
    }

    table = Table(
        "round",
        "pgbench tps",
        "(a) facts/s",
        "ratio",
        "(b) 1/2/4/8/16 facts/s",
        "(c) p99 150/200",
        "(d) lag p50/p99",
        "5xx a/b/c/d",
        "healthz p50",
        "ledger",
        title=f"ingest throughput, {args.orders:,} orders, {args.workers} worker(s)",
    )
    for r in rounds:
        table.add_row(
            str(r["round"]),
            f"{r['pgbench_tps']:,.0f}",
            f"{r['a']['facts_per_s']:,.0f}",
            f"{r['a']['ratio_to_pgbench']:.2f}x",
            " / ".join(f"{s['facts_per_s']:.0f}" for s in r["b"]),
            " / ".join(f"{c['p99_ms']:.0f}" for c in r["c"]) + " ms",
            f"{r['d']['p50_ms']:.0f} / {r['d']['p99_ms']:.0f} ms",
            "/".join(str(r["server_errors"][p]) for p in "abcd"),
            f"{r['healthz_keepalive']['p50_ms']:.1f} ms",
            f"exit {r['ledger_check']['exit_status']}",
        )
    console.print(table)

    steps = Table(
        "clients", "facts/s", "× previous", "p50 ms", "p99 ms", title="(b) single commands, medians"
    )
    for i, s in enumerate(b):
        steps.add_row(
            str(s["clients"]),
            f"{s['facts_per_s']:.0f}",
            f"{ratios[i - 1]:.2f}" if i else "",
            f"{s['p50_ms']:.1f}",
            f"{s['p99_ms']:.1f}",
        )
    console.print(steps)
    for r in rounds:
        a, d = r["a"], r["d"]
        lines = [
            f"round {r['round']}: GET /healthz on one keep-alive connection: "
            f"p50 {r['healthz_keepalive']['p50_ms']:.1f} ms",
            f"  (a) {a['applied']:,} facts applied in {a['seconds']:.0f} s, "
            f"{a['batches']} batches; "
            f"outcomes {a['outcomes']}; refused {a['errors']['refused']}",
            f"  (d) {d['probes']} probes, {d['unseen']} never seen, lag p50 {d['p50_ms']:.0f} ms, "
            f"p99 {d['p99_ms']:.0f} ms, max {d['max_ms']:.0f} ms; {d['events_read']:,} events read",
        ]
        lines += [
            f"  (c) {c['rate']}/s: {c['ok']}/{c['sent']} ok, p50 {c['p50_ms']:.1f} ms, "
            f"p99 {c['p99_ms']:.1f} ms, max {c['max_ms']:.0f} ms, "
            f"send delay p99 {c['send_delay_p99_ms']:.1f} ms; errors {c['errors']}"
            for c in r["c"]
        ]
        lines += [
            f"  cores used in {part}: " + ", ".join(f"{k} {v:.2f}" for k, v in use.items())
            for part, use in r["cpu_cores"].items()
        ]
        lines += [
            f"  backends in {part} (mean per sample): "
            + ", ".join(f"{label} {n:.2f}" for label, n in waits.items())
            for part, waits in r["waits"].items()
        ]
        check = r["ledger_check"]
        lines.append(f"  ledger check, exit {check['exit_status']}: {check['output']}")
        for line in lines:
            console.print(line, markup=False)

    t = summary["targets"]
    four = b[CLIENT_STEPS.index(4)]["facts_per_s"]
    verdicts = [
        (
            f"(a) {summary['a_facts_per_s']:,.0f} facts/s = {summary['a_ratio']:.2f}x pgbench "
            f"{summary['pgbench_tps']:,.0f} tps",
            "a",
        ),
        (f"(b) step ratios {', '.join(f'{x:.2f}' for x in ratios)}", "b_scaling"),
        (f"(b) 4 clients {four:.0f} facts/s", "b_4"),
        (f"(c) p99 {c150['p99_ms']:.1f} ms at 150 req/s", "c"),
        (f"(d) feed lag p99 {summary['d_p99_ms']:.0f} ms, {unseen} probe(s) never seen", "d"),
        (f"HTTP 5xx + connection errors: {summary['server_errors']}", "5xx"),
    ]
    console.print("\n[bold]targets, on the medians of the rounds[/bold]")
    for text, key in verdicts:
        console.print(f"  {text}   (target: {TARGETS[key]}): {verdict(t[key])}")
    console.print(f"  ledger check exit 0 in every round: {verdict(summary['ledger_check_ok'])}")
    summary["peak_rss_mib"] = peak_rss_mib()
    console.print(f"benchmark process peak RSS {summary['peak_rss_mib']:,.0f} MiB; setup {setup}")
    return summary


# ------------------------------------------------------------------ main
def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--buyers", type=int, default=20_000)
    parser.add_argument("--merchants", type=int, default=1_000)
    parser.add_argument("--products-per-merchant", type=int, default=3)
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="buyerguard serve --workers"
    )
    parser.add_argument(
        "--rounds", type=int, help="alternations with pgbench (default 3; 1 with --quick)"
    )
    parser.add_argument("--pgbench-seconds", type=int, default=30)
    parser.add_argument("--pgbench-scale", type=int, default=10)
    parser.add_argument(
        "--batch-clients", type=int, default=4, help="concurrent POST /v1/facts clients"
    )
    parser.add_argument(
        "--group", type=int, default=200, help="orders started together in the interleaved feed"
    )
    parser.add_argument("--refund-share", type=float, default=0.10)
    parser.add_argument("--cancel-share", type=float, default=0.05)
    parser.add_argument(
        "--step-seconds", type=float, default=20.0, help="(b) seconds per client step"
    )
    parser.add_argument("--open-seconds", type=float, default=20.0, help="(c) seconds per rate")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--keep-databases", action="store_true")
    parser.add_argument(
        "--quick", action="store_true", help="small everything: a smoke run of 1-2 minutes"
    )
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    if args.quick:
        args.orders, args.buyers, args.merchants = 300, 200, 50
        args.pgbench_seconds, args.pgbench_scale = 5, 1
        args.step_seconds, args.open_seconds = 2.0, 2.0
    url = re.match(
        r"postgresql://(?P<user>[^@/]+)@(?P<host>[^:/]+):(?P<port>\d+)/?$", args.postgres
    )
    if url is None:
        parser.error("--postgres is postgresql://USER@HOST:PORT")
    args.pg_user, args.pg_host, args.pg_port = url["user"], url["host"], int(url["port"])
    return args


def main() -> None:
    args = parse_args()
    if shutil.which("pgbench") is None:
        raise SystemExit("pgbench is not on PATH")
    pg = Postgres(args.postgres)
    settings = dict(
        pg.admin(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('fsync', 'synchronous_commit', 'server_version', 'max_connections', "
            "'shared_buffers', 'wal_sync_method')"
        )
    )
    console.print(f"PostgreSQL {settings}")
    if settings.get("fsync") != "on":
        console.print("[red]fsync is off: figures are not comparable[/red]")
    tag = f"bg_ingest_{os.getpid()}"
    args.pgbench_db = f"{tag}_pgbench"
    world = World.make(args.merchants, args.buyers, args.products_per_merchant, args.seed)
    top = world.merchant_cum_weights[0] / world.merchant_cum_weights[-1]
    console.print(
        f"{args.orders:,} orders, {args.buyers:,} buyers, {args.merchants:,} merchants "
        f"(Zipf s=1: top merchant {top:.1%} of orders), {args.workers} worker(s), "
        f"{args.rounds} round(s)"
    )
    rounds: list[dict[str, Any]] = []
    setup: dict[str, Any] = {}
    try:
        with (
            tempfile.TemporaryDirectory(prefix="bg-ingest-") as tmp,
            progress_bar(console) as progress,
        ):
            started = time.perf_counter()
            pg.create(args.pgbench_db)
            pgbench(
                [
                    "-h",
                    args.pg_host,
                    "-p",
                    str(args.pg_port),
                    "-U",
                    args.pg_user,
                    "-i",
                    "-q",
                    "-s",
                    str(args.pgbench_scale),
                    args.pgbench_db,
                ]
            )
            setup["pgbench_init_s"] = round(time.perf_counter() - started, 1)
            template = f"{tag}_tpl"
            pg.create(template)
            env = {**os.environ, "BUYERGUARD_DATABASE_URL": pg.dsn(template)}
            for command in (
                ["db", "upgrade"],
                ["token", "create", "--role", "marketplace", "--label", "bench"],
            ):
                done = run_cli(env, *command)
                if done.returncode != 0:
                    raise SystemExit(f"buyerguard {' '.join(command)}: {done.stderr}")
            token = done.stdout.strip().splitlines()[-1]
            started = time.perf_counter()
            server = Server(env, args.workers, Path(tmp) / "serve-setup.log")
            try:
                asyncio.run(create_parties(server.url, token, world, progress))
            finally:
                server.stop()
            setup["parties_s"] = round(time.perf_counter() - started, 1)
            for round_no in range(1, args.rounds + 1):
                rounds.append(
                    run_round(round_no, args, pg, template, token, world, Path(tmp), progress)
                )
    finally:
        if not args.keep_databases:
            pg.drop_all()
    summary = report(rounds, args, setup)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "args": {k: str(v) for k, v in vars(args).items()},
                    "postgres": settings,
                    "setup": setup,
                    "rounds": rounds,
                    "summary": summary,
                },
                indent=2,
                default=str,
            )
            + "\n"
        )
        console.print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
