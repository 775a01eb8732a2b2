"""One round: pgbench with buyerguard stopped, then a fresh database served and parts
(a)+(d), (b) and (c) measured with CPU and wait sampling, then `buyerguard ledger check`."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.progress import Progress

from ingest.api import fact_statements, http_floor, since, statements_line
from ingest.batches import ingest
from ingest.common import console, percentile
from ingest.open_loop import open_loop
from ingest.processes import (
    Postgres,
    cpu_by_process,
    cpu_cores,
    run_cli,
    start_round,
)
from ingest.single_commands import single_commands
from ingest.world import World


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
    started = start_round(args, pg, template, round_no, tmp, progress)
    figures, database, env = started.figures, started.database, started.env
    server, sampler = started.server, started.sampler
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
        counted = fact_statements(server.url)
        ingested, lag = measured(
            "a+d", lambda: asyncio.run(ingest(server.url, token, world, args, round_no, progress))
        )
        figures["statements_a"] = since(fact_statements(server.url), counted)
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
        f"{ingested.facts_per_s:,.0f} facts/s; ledger check exit {check.returncode}\n"
        f"  (a) {statements_line(figures['statements_a'])}"
    )
    return figures
