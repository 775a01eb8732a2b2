"""One round: pgbench, then the cases' facts through `POST /v1/facts` from concurrent
clients, the scheduler's passes for the deadlines, and the database read back."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
import psycopg
from rich.progress import Progress

from aftersales.plans import (
    FLOWS,
    PASS_NAME,
    SLOTS,
    Expect,
    Plan,
    is_case_fact,
    plan,
    slot_of,
)
from buyerguard.rulebook import rulebook_at
from ingest.api import client, fact_statements, send, since, statements_line
from ingest.batches import BATCH_LIMIT, IngestResult, post_facts
from ingest.common import Errors, console, yuan
from ingest.processes import (
    Postgres,
    cpu_by_process,
    cpu_cores,
    run_cli,
    start_round,
)
from ingest.world import World


@dataclass
class Phase:
    """What the batches did: facts by outcome, applied facts by kind, payout runs, errors."""

    facts: IngestResult = field(default_factory=IngestResult)
    applied_by_kind: Counter[str] = field(default_factory=Counter)
    payout_runs: int = 0
    payout_errors: Errors = field(default_factory=Errors)
    not_sent: int = 0
    cases: dict[str, tuple[str, Expect]] = field(default_factory=dict)  # case id -> flow

    @property
    def case_facts(self) -> int:
        return sum(n for kind, n in self.applied_by_kind.items() if is_case_fact(kind))

    @property
    def all_facts(self) -> int:
        return sum(self.applied_by_kind.values())


def split(facts: list[tuple[str, dict[str, Any]]]) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """A tick's facts in as few batches as the limit allows, of even size."""
    if not facts:
        return
    count = -(-len(facts) // BATCH_LIMIT)
    size = -(-len(facts) // count)
    for start in range(0, len(facts), size):
        yield facts[start : start + size]


async def drive_client(
    plans: Iterator[Plan],
    market: httpx2.AsyncClient,
    operator: httpx2.AsyncClient,
    args: argparse.Namespace,
    phase: Phase,
    progress: Progress,
    task: Any,
) -> None:
    """One client's orders, `args.group` new ones a tick, each order one step a tick; an order
    with a fact refused sends nothing more."""
    flight: list[tuple[Plan, int]] = []
    while True:
        flight += [(p, 0) for p in itertools.islice(plans, args.group)]
        if not flight:
            return
        sends: dict[bool, list[tuple[str, dict[str, Any]]]] = {False: [], True: []}
        payouts: dict[str, str] = {}  # order -> merchant to pay out once the tick applied
        for p, k in flight:
            step = p.steps[k]
            sends[step.operator].append((p.order_id, step.fact))
            if step.payout is not None:
                payouts[p.order_id] = step.payout
        broken: set[str] = set()
        for operator_batch in (False, True):  # a ruling's escalation came a tick before
            for batch in split(sends[operator_batch]):
                facts = [fact for _, fact in batch]
                http = operator if operator_batch else market
                outcomes = await post_facts(http, facts, phase.facts)
                progress.advance(task, len(batch))
                for (order_id, fact), outcome in zip(batch, outcomes, strict=True):
                    if outcome == "applied":
                        phase.applied_by_kind[fact["kind"]] += 1
                    elif outcome != "replayed":
                        broken.add(order_id)
        merchants = sorted({m for order, m in payouts.items() if order not in broken})
        for start in range(0, len(merchants), BATCH_LIMIT):
            chunk = merchants[start : start + BATCH_LIMIT]
            answer = await send(
                operator, phase.payout_errors, "POST", "/v1/payouts/runs", {"merchant_ids": chunk}
            )
            phase.payout_runs += 1
            if answer is None or answer.status_code >= 400:  # their cases would not go to debt
                broken |= {order for order, m in payouts.items() if m in chunk}
        still: list[tuple[Plan, int]] = []
        for p, k in flight:
            if p.order_id in broken:
                phase.not_sent += len(p.steps) - k - 1
                progress.advance(task, len(p.steps) - k - 1)
            elif k + 1 < len(p.steps):
                still.append((p, k + 1))
        flight = still


async def run_batches(
    url: str,
    tokens: dict[str, str],
    world: World,
    args: argparse.Namespace,
    round_no: int,
    progress: Progress,
) -> tuple[Phase, float]:
    """(a): every client's orders through `POST /v1/facts`; returns the phase and its wall
    time."""
    phase = Phase()
    slots = list(SLOTS)
    random.Random(args.seed).shuffle(slots)
    total = sum(length(slot_of(i, args.batch_clients, slots), world) for i in range(args.cases))
    task = progress.add_task(
        f"round {round_no} (a) batches, {args.batch_clients} clients", total=total
    )

    def plans(client_no: int) -> Iterator[Plan]:
        rng = random.Random(f"{args.seed}-{round_no}-{client_no}")
        for i in range(client_no, args.cases, args.batch_clients):
            p = plan(i, world, rng, *slot_of(i, args.batch_clients, slots))
            phase.cases[p.case_id] = (p.flow, p.expect)
            yield p

    clients = args.batch_clients
    async with (
        client(url, tokens["marketplace"], clients) as market,
        client(url, tokens["operator"], clients) as operator,
    ):
        started = time.perf_counter()
        await asyncio.gather(
            *(
                drive_client(plans(c), market, operator, args, phase, progress, task)
                for c in range(clients)
            )
        )
        seconds = time.perf_counter() - started
    return phase, seconds


_LENGTHS: dict[tuple[str, int], int] = {}


def length(slot: tuple[str, int], world: World) -> int:
    """How many facts a flow's lifecycle has (the same for every case of it)."""
    if slot not in _LENGTHS:
        _LENGTHS[slot] = len(plan(0, world, random.Random(0), *slot).steps)
    return _LENGTHS[slot]


def scheduler_pass(env: dict[str, str], settle_until: float) -> dict[str, Any]:
    """(b): once the last facts have settled (`orders.fact_settling_seconds`: an order's
    timers wait that long after its latest fact), `buyerguard scheduler run --once` fires
    every timer due by now, catching up the whole backlog in one tick."""
    waited = max(0.0, settle_until - time.monotonic())
    time.sleep(waited)
    started = time.perf_counter()
    # --json: the counts as numbers (the text summary groups thousands: "fired 3,500 ...").
    done = run_cli(env, "scheduler", "run", "--once", "--json", "--name", PASS_NAME)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"buyerguard scheduler run --once: {done.stderr[-2000:]}")
    summary = json.loads(done.stdout)
    return {
        "waited_s": waited,
        "seconds": seconds,
        "fired": int(summary["fired"]),
        "failed": int(summary["failed"]),
        "timers_per_s": int(summary["fired"]) / seconds if seconds else 0.0,
    }


def settling_seconds() -> int:
    """How long the server holds an order's timers back after a fact (rulebook in force)."""
    return rulebook_at(datetime.now(UTC)).orders.fact_settling_seconds


def read_back(pg: Postgres, database: str, phase: Phase) -> dict[str, Any]:
    """Every case against what its flow must end in; the debt the clawbacks left; the timers
    the pass fired, by kind, and any left due; the orders by state."""
    with psycopg.connect(pg.dsn(database)) as connection:
        rows = connection.execute(
            "SELECT id, state, outcome, quick_refunded_fen, refunded_fen, compensated_fen "
            "FROM cases"
        ).fetchall()
        debt = connection.execute(
            "SELECT purpose, count(*), coalesce(sum(amount_fen), 0) FROM ledger_transfers "
            "WHERE debit_account_id LIKE %s GROUP BY purpose ORDER BY purpose",
            ("merchant:%:debt",),
        ).fetchall()
        fired = connection.execute(
            "SELECT kind, count(*) FROM timers WHERE fired_by = %s GROUP BY kind ORDER BY kind",
            (f"system:{PASS_NAME}",),
        ).fetchall()
        # By kind, state, attempts and error, so a timer left due explains itself.
        left_due_by = connection.execute(
            "SELECT kind, status, attempts, coalesce(left(last_error, 80), ''), count(*) "
            "FROM timers WHERE status IN ('pending', 'running') AND available_at <= now() "
            "GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"
        ).fetchall()
        orders = connection.execute(
            "SELECT state, count(*) FROM orders GROUP BY state ORDER BY state"
        ).fetchall()
    found = {row[0]: row[1:] for row in rows}
    flows: dict[str, Counter[str]] = {flow: Counter() for flow in FLOWS}
    wrong: list[str] = []
    money: Counter[str] = Counter()
    for case_id, (flow, expect) in phase.cases.items():
        tally = flows[flow]
        tally["cases"] += 1
        if case_id not in found:
            tally["missing"] += 1
            continue
        state, outcome, quick, refunded, compensated = found[case_id]
        money["refunded_fen"] += refunded
        money["quick_refunded_fen"] += quick
        money["compensated_fen"] += compensated
        ok = (
            state == "closed"
            and outcome == expect.outcome
            and (expect.quick is None or (quick > 0) == expect.quick)
            and (expect.compensated is None or (compensated > 0) == expect.compensated)
        )
        tally["as expected" if ok else "not as expected"] += 1
        if not ok and len(wrong) < 10:
            wrong.append(
                f"{case_id} ({flow}): {state} {outcome}, quick {yuan(quick)}, "
                f"refunded {yuan(refunded)}, compensated {yuan(compensated)}; expected {expect}"
            )
    return {
        "flows": {flow: dict(tally) for flow, tally in flows.items()},
        "wrong": wrong,
        "money_fen": dict(money),
        "debt": [{"purpose": purpose, "transfers": n, "fen": int(fen)} for purpose, n, fen in debt],
        "timers_fired": {kind: n for kind, n in fired},
        "timers_left_due": sum(row[4] for row in left_due_by),
        "timers_left_due_by": [list(row) for row in left_due_by],
        "orders_by_state": {state: n for state, n in orders},
    }


def run_round(
    round_no: int,
    args: argparse.Namespace,
    pg: Postgres,
    template: str,
    tokens: dict[str, str],
    world: World,
    tmp: Path,
    progress: Progress,
) -> dict[str, Any]:
    started = start_round(args, pg, template, round_no, tmp, progress, scheduler=False)
    figures, database, env = started.figures, started.database, started.env
    server, sampler = started.server, started.sampler
    try:
        sampler.part = "batches"
        pids, before = server.pids(), cpu_by_process()
        counted = fact_statements(server.url)
        phase, seconds = asyncio.run(
            run_batches(server.url, tokens, world, args, round_no, progress)
        )
        figures["statements"] = since(fact_statements(server.url), counted)
        settle_until = time.monotonic() + settling_seconds() + 1
        cores = cpu_cores(before, cpu_by_process(), pids, seconds)
        console.print(f"round {round_no} (a) done in {seconds:.0f} s", style="dim")
        sampler.part = "scheduler pass"
        task = progress.add_task(f"round {round_no} (b) settle, scheduler pass", total=None)
        timers = scheduler_pass(env, settle_until)
        progress.update(task, total=1, completed=1)
        console.print(f"round {round_no} (b) done in {timers['seconds']:.0f} s", style="dim")
    finally:
        sampler.done.set()
        sampler.join()
        server.stop()
    check = run_cli(env, "ledger", "check")
    figures["read_back"] = read_back(pg, database, phase)
    if not args.keep_databases:
        pg.drop(database)
    case_rate = phase.case_facts / seconds if seconds else 0.0
    figures.update(
        seconds=seconds,
        facts_sent=sum(phase.facts.outcomes.values()),
        outcomes=dict(phase.facts.outcomes),
        not_sent=phase.not_sent,
        applied_by_kind=dict(phase.applied_by_kind),
        case_facts=phase.case_facts,
        all_facts=phase.all_facts,
        case_facts_per_s=case_rate,
        all_facts_per_s=phase.all_facts / seconds if seconds else 0.0,
        ratio_to_pgbench=case_rate / figures["pgbench_tps"],
        batches=phase.facts.batches,
        payout_runs=phase.payout_runs,
        refused=dict(phase.facts.errors.refused),
        first_refusals=phase.facts.first_refusals,
        server_errors=phase.facts.errors.server_errors + phase.payout_errors.server_errors,
        errors={"batches": phase.facts.errors.view(), "payouts": phase.payout_errors.view()},
        scheduler_pass=timers,
        ledger_check={
            "exit_status": check.returncode,
            "output": "\n".join(  # without its progress bars
                line for line in (check.stdout + check.stderr).splitlines() if "━" not in line
            ).strip(),
        },
        cpu_cores=cores,
        waits={part: sampler.summary(part) for part in ("batches", "scheduler pass")},
    )
    console.print(
        f"round {round_no}: pgbench {figures['pgbench_tps']:,.0f} tps; "
        f"{case_rate:,.1f} case facts/s; ledger check exit {check.returncode}\n"
        f"  {statements_line(figures['statements'])}"
    )
    return figures
