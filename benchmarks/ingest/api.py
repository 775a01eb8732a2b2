"""HTTP clients of the API shared by every part: the client, one counted request, a
bounded pool of jobs, the setup of merchants, buyers and products, the /healthz floor, and the
server's own count of statements per fact (/metrics)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
from rich.progress import Progress

from ingest.common import Errors, percentile, yuan
from ingest.world import World

PROVINCES = ("110000", "310000", "330000", "440000", "320000", "510000", "420000", "370000")


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


def spot_terms(price_fen: int) -> dict[str, Any]:
    """A product's terms in the one-tier form: spot, MOQ 1, one piece at a time in a
    mandatory class, so 7-day returns apply (§2)."""
    return {"unit_price": yuan(price_fen), "seven_day_returns_opt_in": True}


async def create_parties(
    url: str,
    token: str,
    world: World,
    progress: Progress,
    terms: Callable[[int], dict[str, Any]] = spot_terms,
) -> Errors:
    """Merchants, products (their tiers from `terms` of the unit price) and buyers, through
    the API, eight requests at a time."""
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
                    "weight_grams": 500,
                    "ship_from_region": "330782",
                    **terms(price),
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


def fact_statements(url: str) -> dict[str, dict[str, float]]:
    """Per fact kind, the facts the server answered so far (every worker's, multiprocess
    metrics) and the statements they sent to the database: its round trips per fact."""
    totals: dict[str, dict[str, float]] = {}
    for line in httpx2.get(f"{url}/metrics", timeout=30).text.splitlines():
        if line.startswith(("buyerguard_facts_total{", "buyerguard_fact_statements_total{")):
            sample, value = line.rsplit(" ", 1)
            kind = sample.split('kind="', 1)[1].split('"', 1)[0]
            field = "statements" if sample.startswith("buyerguard_fact_statements") else "facts"
            entry = totals.setdefault(kind, {"facts": 0.0, "statements": 0.0})
            entry[field] += float(value)
    for entry in totals.values():
        entry["per_fact"] = entry["statements"] / entry["facts"] if entry["facts"] else 0.0
    return dict(sorted(totals.items()))


def since(
    later: dict[str, dict[str, float]], earlier: dict[str, dict[str, float]]
) -> dict[str, dict[str, float]]:
    """What `fact_statements` counted between two reads."""
    between: dict[str, dict[str, float]] = {}
    for kind, entry in later.items():
        before = earlier.get(kind, {"facts": 0.0, "statements": 0.0})
        facts = entry["facts"] - before["facts"]
        statements = entry["statements"] - before["statements"]
        if facts:
            between[kind] = {
                "facts": facts,
                "statements": statements,
                "per_fact": statements / facts,
            }
    return between


def statements_line(by_kind: dict[str, dict[str, float]]) -> str:
    """`kind n.n` per kind and the mean over all of them, for a round's summary."""
    facts = sum(e["facts"] for e in by_kind.values())
    statements = sum(e["statements"] for e in by_kind.values())
    kinds = ", ".join(f"{kind} {e['per_fact']:.1f}" for kind, e in by_kind.items())
    mean = statements / facts if facts else 0.0
    return f"statements per fact {mean:.1f} ({kinds})"
