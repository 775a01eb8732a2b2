"""The report: the per-round table, the medians judged against the targets, and the JSON
file of figures; kept apart so what is printed and written is in one place."""

from __future__ import annotations

import argparse
import json
import resource
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.table import Table

from ingest.common import console, median
from ingest.open_loop import OPEN_LOOP_RATES
from ingest.single_commands import CLIENT_STEPS

TARGETS = {
    "a": "facts/s >= 1.0 x pgbench tps",
    "b_scaling": "each client step >= 0.90 x the step before",
    "b_4": "4 clients >= 176 facts/s",
    "c": "p99 < 25 ms at 150 req/s",
    "d": "feed lag p99 < 1 s",
    "5xx": "0 HTTP 5xx",
}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


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


def write_figures(
    path: Path,
    args: argparse.Namespace,
    settings: dict[str, Any],
    setup: dict[str, Any],
    rounds: list[dict[str, Any]],
    summary: dict[str, Any],
) -> None:
    """The run's arguments, PostgreSQL settings, setup times, rounds and summary as JSON."""
    path.write_text(
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
    console.print(f"figures written to {path}")
