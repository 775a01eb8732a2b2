"""The rounds' figures against issue 15's targets, printed as tables."""

from __future__ import annotations

import argparse
from typing import Any

from rich.table import Table

from aftersales.plans import FLOWS, TARGET_RATIO
from ingest.common import console, median


def verdict(ok: bool) -> str:
    return "[green]PASS[/green]" if ok else "[red]MISS[/red]"


def report(rounds: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    """The per-round table, the outcomes by flow, and the targets judged on the medians."""
    table = Table(
        "round",
        "pgbench tps",
        "case facts/s",
        "all facts/s",
        "ratio",
        "facts applied (case)",
        "s",
        "5xx + conn.",
        "pass: timers, s",
        "ledger",
        title=f"after-sales throughput, {args.cases:,} cases, {args.workers} worker(s)",
    )
    for r in rounds:
        table.add_row(
            str(r["round"]),
            f"{r['pgbench_tps']:,.0f}",
            f"{r['case_facts_per_s']:,.1f}",
            f"{r['all_facts_per_s']:,.1f}",
            f"{r['ratio_to_pgbench']:.4f}x",
            f"{r['all_facts']:,} ({r['case_facts']:,})",
            f"{r['seconds']:.0f}",
            str(r["server_errors"]),
            f"{r['scheduler_pass']['fired']:,}, {r['scheduler_pass']['seconds']:.0f}",
            f"exit {r['ledger_check']['exit_status']}",
        )
    console.print(table)
    flows = Table("flow", "cases", "as expected", "not", "missing", title="cases read back")
    last = rounds[-1]["read_back"]
    for flow in FLOWS:
        tally = last["flows"][flow]
        flows.add_row(
            flow,
            f"{tally.get('cases', 0):,}",
            f"{tally.get('as expected', 0):,}",
            str(tally.get("not as expected", 0)),
            str(tally.get("missing", 0)),
        )
    console.print(flows)
    for r in rounds:
        back, timers = r["read_back"], r["scheduler_pass"]
        lines = [
            f"round {r['round']}: {r['batches']} batches, {r['payout_runs']} payout runs; "
            f"outcomes {r['outcomes']}; not sent {r['not_sent']}; refused {r['refused']}",
            f"  applied by kind {r['applied_by_kind']}",
            f"  (b) waited {timers['waited_s']:.0f} s for the last facts to settle, then fired "
            f"{timers['fired']:,} timers in {timers['seconds']:.1f} s "
            f"({timers['timers_per_s']:,.0f}/s), {timers['failed']} failed, "
            f"{back['timers_left_due']} left due {back['timers_left_due_by'] or ''}; "
            f"by kind {back['timers_fired']}",
            f"  orders by state {back['orders_by_state']}",
            f"  money (fen) {back['money_fen']}; into merchant debt {back['debt']}",
            "  cores used in the batches: "
            + ", ".join(f"{k} {v:.2f}" for k, v in r["cpu_cores"].items()),
        ]
        lines += [
            f"  backends in {part} (mean per sample): "
            + ", ".join(f"{label} {n:.2f}" for label, n in waits.items())
            for part, waits in r["waits"].items()
        ]
        lines += [f"  refused: {line}" for line in r["first_refusals"]]
        lines += [f"  not as expected: {line}" for line in back["wrong"]]
        check = r["ledger_check"]
        lines.append(f"  ledger check, exit {check['exit_status']}: {check['output']}")
        for line in lines:
            console.print(line, markup=False)

    def med(key: str) -> float:
        return median([r[key] for r in rounds])

    unexpected = sum(
        tally.get("not as expected", 0) + tally.get("missing", 0)
        for r in rounds
        for tally in r["read_back"]["flows"].values()
    )
    summary: dict[str, Any] = {
        "pgbench_tps": med("pgbench_tps"),
        "case_facts_per_s": med("case_facts_per_s"),
        "all_facts_per_s": med("all_facts_per_s"),
        "ratio": med("ratio_to_pgbench"),
        "server_errors": sum(r["server_errors"] for r in rounds),
        "pass_failures": sum(r["scheduler_pass"]["failed"] for r in rounds),
        "timers_left_due": sum(r["read_back"]["timers_left_due"] or 0 for r in rounds),
        "not_applied": sum(
            sum(n for kind, n in r["outcomes"].items() if kind != "applied") + r["not_sent"]
            for r in rounds
        ),
        "unexpected_cases": unexpected,
        "ledger_check_ok": all(r["ledger_check"]["exit_status"] == 0 for r in rounds),
    }
    console.print("\n[bold]targets, on the medians of the rounds[/bold]")
    checks = [
        (
            f"{summary['case_facts_per_s']:,.1f} case facts/s = {summary['ratio']:.4f}x pgbench "
            f"{summary['pgbench_tps']:,.0f} tps (all facts {summary['all_facts_per_s']:,.1f}/s)"
            f"   (target: >= {TARGET_RATIO}x)",
            summary["ratio"] >= TARGET_RATIO,
        ),
        (
            f"HTTP 5xx + connection errors: {summary['server_errors']}   (target: 0)",
            summary["server_errors"] == 0,
        ),
        (
            f"every fact applied: {summary['not_applied']} not; every case ended as its flow "
            f"must: {summary['unexpected_cases']} not",
            summary["not_applied"] == summary["unexpected_cases"] == 0,
        ),
        (
            f"scheduler pass: {summary['pass_failures']} timer(s) failed, "
            f"{summary['timers_left_due']} left due",
            summary["pass_failures"] == summary["timers_left_due"] == 0,
        ),
        ("ledger check exit 0 in every round", summary["ledger_check_ok"]),
    ]
    for text, ok in checks:
        console.print(f"  {text}: {verdict(ok)}")
    return summary
