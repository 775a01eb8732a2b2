"""After-sales throughput through the batch path on PostgreSQL, alternating with pgbench TPC-B.

Issue 15's acceptance item: `--cases` cases (default 100,000), each on its own order, sent as
`POST /v1/facts` batches (kinds `order`, `payment`, `shipment`, `signing`, `confirmation`,
`case` and `case-<action>`) from several concurrent clients, with pgbench TPC-B alternated in
the same run. Once: `pgbench -i -s 10` on its own database, and a template database (`buyerguard
db upgrade`, a marketplace and an operator token, then 1,000 merchants, 3,000 products with a
spot tier (7-day returns) and a custom tier, 20,000 buyers through the API). Each of `--rounds`
rounds (default 3): `pgbench -c 4 -j 2 -T 30` with buyerguard stopped, then a fresh copy of the
template served by `buyerguard serve --workers N --no-scheduler`, and

  (a) the batches: every order's lifecycle from placement to its case's end, one step per
      tick (an order's facts stay on one client, in order; a tick's facts go in batches of at
      most 1,000, new orders starting beside older ones' later steps, as in the ingest
      benchmark). Rulings are the operator's: a tick's rulings go in an operator batch after
      its marketplace batches. The mix, per 20 cases:
        3 no-reason returns, official pickup after 2024-10-15: quick refund at the pickup
        3 no-reason returns, official pickup before 2024-10-15: refunded at inspection
        4 quality returns the buyer sends back itself
        2 refund-only after shipment answered by the merchant (not received: accepted;
          quality: an offer the buyer takes)
        2 refund-only after shipment left unanswered: granted on timeout (36 h)
        2 custom disputes (custom tier): refund and the platform's §5 compensation
        2 opened after release (receipt confirmed, escrow released): the refund is clawed
          back from the merchant; for one of the two the merchant was paid out first
          (`POST /v1/payouts/runs` between confirmation and case), so it goes into debt
        1 escalated and ruled (alternately: refused after an offer and ruled for the buyer;
          a quick-refunded return found empty and ruled for the merchant, the platform
          absorbing the quick refund)
        1 transit claim (the merchant's, reported by the marketplace), ruled for the merchant
      Figures: case facts/s (facts of kind `case` or `case-*` applied / the phase's wall
      time), all facts/s, and the ratio of case facts/s to the round's pgbench tps;
  (b) the scheduler pass: once the last facts have settled (an order's timers wait
      `orders.fact_settling_seconds` after its latest fact), `buyerguard scheduler run --once`
      beside the server fires every due timer in one tick — the unanswered cases' 36-hour
      deadlines (granted on timeout), then the orders' auto-confirmations and completions
      (re-armed when their case closed): timers fired, failed, left due, timers/s;

then the server stops, `buyerguard ledger check` runs on the round's database, and every case
is read back and compared with what its flow must end in (state, outcome, quick refund,
compensation), with the debt the clawbacks left. Every HTTP 5xx and connection error is
counted. `pg_stat_activity` is sampled four times a second.

Dates. The served app runs on the real clock, and §4's quick refund is judged by the pickup's
`occurred_at`, so every fact carries a past `occurred_at` on a fixed calendar: the
no-quick-refund returns start on 2024-10-01 (pickups by 2024-10-06), everything else on
2024-10-21. Every deadline a case sets is then already due when it is set, so a server firing
timers while the batches run would race them (the merchant's 24-hour review firing before the
merchant's `accept` arrives a tick later, and the case moving on without it): the server runs
without its scheduler during (a), and the timeouts fire in (b), when the benchmark says so,
through the same `buyerguard scheduler run` a deployment runs beside `serve`. (Unlike order
timers, case deadlines are not held back while facts settle. (a) thus also runs without the
scheduler's once-a-second feed pass.)

    .venv/bin/python benchmarks/aftersales_throughput.py [--cases 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from aftersales.plans import custom_tier_terms
from aftersales.report import report
from aftersales.rounds import run_round
from buyerguard.progress import progress_bar
from ingest.api import create_parties
from ingest.common import console
from ingest.prepare import init_pgbench, postgres_settings, postgres_url, template_database
from ingest.processes import (
    Postgres,
    Server,
)
from ingest.world import World


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--buyers", type=int, default=20_000)
    parser.add_argument("--merchants", type=int, default=1_000)
    parser.add_argument("--products-per-merchant", type=int, default=3)
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="buyerguard serve --workers"
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternations with pgbench")
    parser.add_argument("--pgbench-seconds", type=int, default=30)
    parser.add_argument("--pgbench-scale", type=int, default=10)
    parser.add_argument(
        "--batch-clients", type=int, default=4, help="concurrent POST /v1/facts clients"
    )
    parser.add_argument("--group", type=int, default=200, help="orders a client starts each tick")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument(
        "--database-prefix",
        default="buyerguard_bench_aftersales",
        help="this run's databases are named PREFIX_<pid>_…",
    )
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--keep-databases", action="store_true")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    if args.cases < 1 or args.batch_clients < 1 or args.group < 1:
        parser.error("--cases, --batch-clients and --group are at least 1")
    postgres_url(parser, args)
    return args


def main() -> None:
    args = parse_args()
    if shutil.which("pgbench") is None:
        raise SystemExit("pgbench is not on PATH")
    pg = Postgres(args.postgres)
    settings = postgres_settings(pg)
    tag = f"{args.database_prefix}_{os.getpid()}"
    args.pgbench_db = f"{tag}_pgbench"
    world = World.make(args.merchants, args.buyers, args.products_per_merchant, args.seed)
    console.print(
        f"{args.cases:,} cases, {args.buyers:,} buyers, {args.merchants:,} merchants (Zipf), "
        f"{args.workers} worker(s), {args.batch_clients} batch clients, {args.rounds} round(s)"
    )
    rounds: list[dict[str, Any]] = []
    setup: dict[str, Any] = {}
    try:
        with (
            tempfile.TemporaryDirectory(prefix="bg-aftersales-") as tmp,
            progress_bar(console) as progress,
        ):
            setup["pgbench_init_s"] = init_pgbench(args, pg)
            template = f"{tag}_tpl"
            env, tokens = template_database(
                pg, template, dict(os.environ), ("marketplace", "operator")
            )
            started = time.perf_counter()
            server = Server(env, args.workers, Path(tmp) / "serve-setup.log", scheduler=False)
            try:
                asyncio.run(
                    create_parties(
                        server.url, tokens["marketplace"], world, progress, custom_tier_terms
                    )
                )
            finally:
                server.stop()
            setup["parties_s"] = round(time.perf_counter() - started, 1)
            for round_no in range(1, args.rounds + 1):
                rounds.append(
                    run_round(round_no, args, pg, template, tokens, world, Path(tmp), progress)
                )
    finally:
        if not args.keep_databases:
            pg.drop_all()
    summary = report(rounds, args)
    console.print(f"setup {setup}; pgbench tps per round {[r['pgbench_tps'] for r in rounds]}")
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
