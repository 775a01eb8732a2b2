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
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from buyerguard.progress import progress_bar
from ingest.api import create_parties
from ingest.common import console
from ingest.prepare import init_pgbench, postgres_settings, postgres_url, template_database
from ingest.processes import Postgres, Server
from ingest.report import report, write_figures
from ingest.rounds import run_round
from ingest.world import World


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
    postgres_url(parser, args)
    return args


def main() -> None:
    args = parse_args()
    if shutil.which("pgbench") is None:
        raise SystemExit("pgbench is not on PATH")
    pg = Postgres(args.postgres)
    settings = postgres_settings(pg)
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
            setup["pgbench_init_s"] = init_pgbench(args, pg)
            template = f"{tag}_tpl"
            env, tokens = template_database(pg, template, dict(os.environ), ("marketplace",))
            token = tokens["marketplace"]
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
        write_figures(args.json, args, settings, setup, rounds, summary)


if __name__ == "__main__":
    main()
