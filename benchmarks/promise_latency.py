"""Promise lookups through the live API: latency percentiles (target p99 <= 5 ms).

Builds a synthetic marketplace in a temporary directory — products in the
SQL store, a shipment history imported through `shipments import`, a promise
table from `eta build` — starts `buyerguard serve` as a separate process, and
times sequential GET /v1/promises requests over one keep-alive connection
from this process. The baseline, timed the same way on the same connection,
is GET /healthz: the HTTP floor of the stack, so the ratio is the cost of a
promise lookup over an empty request.

    .venv/bin/python benchmarks/promise_latency.py [--requests 5000] [--parcels 1000000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.progress import track

from buyerguard.analytics.shipments import SHIPMENT_FACTS_SCHEMA
from buyerguard.bootstrap import build_runtime
from buyerguard.clock import format_instant, parse_instant
from buyerguard.domain.catalog import Product, Tier, TierKind
from buyerguard.domain.regions import PROVINCE_PREFIXES
from buyerguard.services import catalog, promises
from buyerguard.services.context import OPERATOR
from buyerguard.store.migrate import upgrade

console = Console()
AS_OF = "2024-10-20T00:00:00+08:00"


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def districts(rng: random.Random, count: int) -> list[str]:
    provinces = sorted(p for p in PROVINCE_PREFIXES if p not in ("71", "81", "82"))
    return [
        f"{rng.choice(provinces)}{rng.randint(1, 11):02d}{rng.randint(1, 9):02d}"
        for _ in range(count)
    ]


def write_history(path: Path, products: list[Product], parcels: int, seed: int) -> None:
    """`parcels` deliveries over 30 days on each product's few destinations."""
    rng = np.random.default_rng(seed)
    as_of = parse_instant(AS_OF)
    start_us = int((as_of - timedelta(days=30)).timestamp() * 1_000_000)
    choice = rng.integers(0, len(products), parcels)
    destinations = np.array(districts(random.Random(seed), 2_000))
    product_ids = np.array([p.id for p in products])
    merchants = np.array([p.merchant_id for p in products])
    origins = np.array([p.ship_from_region for p in products])
    destination = destinations[(choice * 7 + rng.integers(0, 5, parcels)) % len(destinations)]
    paid_us = start_us + rng.integers(0, 30 * 86_400_000_000, parcels)
    delay_us = (rng.gamma(2.0, 0.7, parcels) * 86_400_000_000).astype(np.int64)
    signed_us = paid_us + delay_us
    in_transit = signed_us >= int(as_of.timestamp() * 1_000_000)
    ts = pa.timestamp("us", tz="UTC")
    table = pa.table(
        {
            "order_id": pa.array([f"B{i}" for i in range(parcels)]),
            "merchant_id": merchants[choice],
            "product_id": product_ids[choice],
            "industry": pa.array(["daily_goods"] * parcels),
            "carrier": pa.array(["SF"] * parcels),
            "official_logistics": pa.array([True] * parcels),
            "origin_region": origins[choice],
            "destination_region": destination,
            "origin_city": pa.array([o[:4] + "00" for o in origins[choice]]),
            "origin_province": pa.array([o[:2] + "0000" for o in origins[choice]]),
            "destination_province": pa.array([d[:2] + "0000" for d in destination]),
            "paid_at": pa.array(paid_us, ts),
            "shipped_at": pa.array(paid_us + 3_600_000_000, ts),
            "signed_at": pa.array(signed_us, ts, mask=in_transit),
            "refunded_before_shipment": pa.array([False] * parcels),
        },
        schema=SHIPMENT_FACTS_SCHEMA,
    )
    pq.write_table(table, path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def time_requests(
    connection: http.client.HTTPConnection, paths: list[str], token: str, label: str
) -> list[float]:
    headers = {"Authorization": f"Bearer {token}"}
    samples = []
    for path in track(paths, description=label, console=console, transient=True):
        started = time.perf_counter()
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        samples.append((time.perf_counter() - started) * 1000)
        if response.status != 200:
            raise SystemExit(f"{path}: {response.status} {body[:200]!r}")
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--parcels", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="bg-latency-") as tmp:
        root = Path(tmp)
        env = {
            **os.environ,
            "BUYERGUARD_DATABASE_URL": f"sqlite:///{root / 'bench.sqlite3'}",
            "BUYERGUARD_DATA_DIR": str(root / "data"),
            "BUYERGUARD_DEMO_TOKENS": str(root / "tokens.json"),
        }
        os.environ.update(env)
        rt = build_runtime()
        upgrade(rt.engine)
        subprocess.run(
            [sys.executable, "-m", "buyerguard.cli", "demo", "load"],
            env=env,
            check=True,
            capture_output=True,
        )
        origins = districts(rng, 300)
        products = [
            Product(
                f"P-{i:05d}",
                "M-yiwu",
                f"product {i}",
                (Tier(TierKind.SPOT, 1000 + i, 1, seven_day_returns=True),),
                500,
                origins[i % len(origins)],
            )
            for i in range(args.products)
        ]
        with rt.writing(OPERATOR) as ctx:
            for product in products:
                catalog.create_product(ctx, product)
        history = root / "history.parquet"
        write_history(history, products, args.parcels, args.seed)
        started = time.perf_counter()
        rt.history.import_file(history, now=parse_instant(AS_OF))
        imported_s = time.perf_counter() - started
        started = time.perf_counter()
        with rt.reading(OPERATOR) as ctx:
            built = promises.build(ctx, parse_instant(AS_OF))
        built_s = time.perf_counter() - started
        console.print(
            f"history: {args.parcels:,} parcels imported in {imported_s:.1f} s; promise table "
            f"{built['routes']:,} routes built in {built_s:.1f} s"
        )
        token = json.loads((root / "tokens.json").read_text())["buyer"]
        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "buyerguard.api.serve:app",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env=env,
        )
        try:
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            destinations = districts(random.Random(args.seed), 2_000)
            paid = format_instant(parse_instant("2024-10-20T09:30:00+08:00")).replace("+", "%2B")
            paths = [
                f"/v1/promises?product_id={rng.choice(products).id}"
                f"&destination={rng.choice(destinations)}&paid_at={paid}"
                for _ in range(args.requests)
            ]
            time_requests(connection, paths[:200], token, "warm-up")
            lookups = time_requests(connection, paths, token, "promise lookups")
            floor = time_requests(connection, ["/healthz"] * args.requests, token, "healthz")
        finally:
            server.terminate()
            server.wait(timeout=10)
    p99, floor_p99 = percentile(lookups, 0.99), percentile(floor, 0.99)
    console.print(
        f"GET /v1/promises x {args.requests:,}: p50 {percentile(lookups, 0.50):.2f} ms, "
        f"p95 {percentile(lookups, 0.95):.2f} ms, p99 {p99:.2f} ms, max {max(lookups):.2f} ms, "
        f"{1000 * len(lookups) / sum(lookups):,.0f} req/s"
    )
    console.print(
        f"baseline GET /healthz: p50 {percentile(floor, 0.50):.2f} ms, p99 {floor_p99:.2f} ms; "
        f"ratio p99 lookup/healthz = {p99 / floor_p99:.2f}"
    )
    console.print(f"target p99 <= 5 ms: {'MET' if p99 <= 5 else 'MISSED'}")


if __name__ == "__main__":
    main()
