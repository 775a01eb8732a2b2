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
import itertools
import json
import os
import random
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx2
import psycopg
from rich.progress import Progress
from rich.table import Table

from buyerguard.progress import progress_bar
from buyerguard.rulebook import rulebook_at
from ingest.api import client, create_parties, fact_statements, send, since, statements_line
from ingest.batches import BATCH_LIMIT, IngestResult, post_facts
from ingest.common import Errors, console, median, yuan
from ingest.prepare import init_pgbench, postgres_settings, postgres_url, template_database
from ingest.processes import (
    Postgres,
    Sampler,
    Server,
    cpu_by_process,
    cpu_cores,
    pgbench_round,
    run_cli,
)
from ingest.world import World

SHANGHAI = ZoneInfo("Asia/Shanghai")
QUICK_REFUND_FROM = datetime(2024, 10, 15, tzinfo=SHANGHAI)  # rulebooks/2024-10-15.toml
EARLY_START = datetime(2024, 10, 1, 9, tzinfo=SHANGHAI)  # pickups before QUICK_REFUND_FROM
LATE_START = datetime(2024, 10, 21, 9, tzinfo=SHANGHAI)  # pickups after it
SPREAD_MINUTES = 12 * 60  # orders start within 12 hours of their flow's start
CUSTOM_MOQ = 10
TARGET_RATIO = 0.5  # case facts/s >= 0.5 x pgbench tps (issue 15)
PASS_NAME = "bench-pass"  # the scheduler pass's name, recorded on the timers it fires
TRIGGERS = ("misprinted", "size_mismatch", "defective", "damaged")

# One slot = 5% of the cases: (flow, variant). Shuffled once per run with the seed.
SLOTS: tuple[tuple[str, int], ...] = (
    *(("return, quick refund", 0),) * 3,
    *(("return, no quick refund", 0),) * 3,
    *(("quality return", 0),) * 4,
    ("refund-only, answered", 0),  # not received: the merchant accepts
    ("refund-only, answered", 1),  # quality: the merchant offers, the buyer takes it
    ("refund-only, timed out", 0),  # not received
    ("refund-only, timed out", 1),  # quality
    ("custom dispute", 0),
    ("custom dispute", 1),
    ("after release", 0),  # clawed back from the merchant's payable
    ("after release", 1),  # paid out first: into debt
    ("escalated and ruled", -1),  # variant by cycle: 0 refused and ruled, 1 empty return
    ("transit claim", 0),
)
FLOWS = tuple(dict.fromkeys(flow for flow, _ in SLOTS))


@dataclass(frozen=True)
class Expect:
    """How a case must end: closed with `outcome`; quick-refunded or not, compensated or not
    (None: either)."""

    outcome: str
    quick: bool | None = None
    compensated: bool | None = None


@dataclass(frozen=True)
class Step:
    fact: dict[str, Any]
    operator: bool = False  # a ruling: sent with the operator's token
    payout: str | None = None  # once this step's tick is applied, pay this merchant out


@dataclass
class Plan:
    """One order and its case, step by step."""

    order_id: str
    case_id: str
    flow: str
    expect: Expect
    steps: list[Step] = field(default_factory=list)


def slot_of(index: int, clients: int, slots: list[tuple[str, int]]) -> tuple[str, int]:
    """The flow and variant of case `index`: each client walks the 20 slots in turn, so every
    client sends the same mix."""
    position = index // clients
    flow, variant = slots[position % len(slots)]
    if variant < 0:
        variant = (position // len(slots)) % 2
    return flow, variant


class Lifecycle:
    """Builds one order's facts on its own calendar: `at(hours)` after the order's start."""

    def __init__(self, order_id: str, start: datetime) -> None:
        self.order_id, self.start = order_id, start
        self.case_id = f"{order_id}-K"
        self.steps: list[Step] = []

    def at(self, hours: float) -> str:
        return (self.start + timedelta(hours=hours)).isoformat()

    def order_fact(
        self,
        kind: str,
        hours: float,
        body: dict[str, Any] | None = None,
        payout: str | None = None,
    ) -> None:
        fact = {"kind": kind, "body": {**(body or {}), "occurred_at": self.at(hours)}}
        if kind != "order":
            fact["order_id"] = self.order_id
        fact["idempotency_key"] = f"{kind}-{self.order_id}"
        self.steps.append(Step(fact, payout=payout))

    def open_case(self, hours: float, body: dict[str, Any]) -> None:
        fact = {
            "kind": "case",
            "order_id": self.order_id,
            "idempotency_key": f"case-{self.order_id}",
            "body": {
                "id": self.case_id,
                "sub_order_id": f"{self.order_id}-1",
                **body,
                "occurred_at": self.at(hours),
            },
        }
        self.steps.append(Step(fact))

    def act(
        self, action: str, hours: float, body: dict[str, Any] | None = None, operator: bool = False
    ) -> None:
        """A case action; the same action twice in one case gets its own key."""
        count = sum(s.fact["kind"] == f"case-{action}" for s in self.steps)
        fact = {
            "kind": f"case-{action}",
            "case_id": self.case_id,
            "idempotency_key": f"case-{action}-{self.case_id}" + (f"-{count}" if count else ""),
            "body": {**(body or {}), "occurred_at": self.at(hours)},
        }
        self.steps.append(Step(fact, operator=operator))


def plan(index: int, world: World, rng: random.Random, flow: str, variant: int) -> Plan:
    """The lifecycle of case `index`: placement to the case's end, as the marketplace reports
    it, on the calendar its flow needs (module docstring)."""
    order_id = f"A{index:07d}"
    base = EARLY_START if flow == "return, no quick refund" else LATE_START
    life = Lifecycle(order_id, base + timedelta(minutes=rng.randrange(SPREAD_MINUTES)))
    merchant = world.pick_merchant(rng)
    product, price = rng.choice(world.products[merchant])
    custom = flow == "custom dispute"
    quantity = rng.randint(CUSTOM_MOQ, 2 * CUSTOM_MOQ) if custom else rng.randint(1, 4)
    goods = (price * 5 // 4 if custom else price) * quantity
    shipping = rng.choice((0, 0, 800, 1200))
    line: dict[str, Any] = {"product_id": product, "quantity": quantity}
    if custom:
        line["tier"] = "custom"
    body = {"id": order_id, "buyer_id": rng.choice(world.buyers), "lines": [line]}
    life.order_fact("order", 0, {**body, "shipping": yuan(shipping)})
    life.order_fact("payment", 0.1, {"amount": yuan(goods + shipping)})
    life.order_fact(
        "shipment",
        24,
        {"carrier": "SF", "tracking_number": f"SF{order_id}", "official_logistics": True},
    )
    evidence = [{"uri": f"https://files.example.com/{order_id}/photo-1.jpg", "note": "photo"}]
    expect = Expect("agreed")
    if flow in ("return, quick refund", "return, no quick refund") or (
        flow == "escalated and ruled" and variant == 1
    ):
        empty = flow == "escalated and ruled"
        life.order_fact("signing", 72)
        life.open_case(96, {"type": "return_no_reason", "reason": "changed my mind"})
        life.act("accept", 98)
        life.act("handover", 99, {"official_logistics": True})
        freight = rng.choice((1200, 1800, 2500, 3000, 4000))  # capped at 25.00 mostly
        life.act("pickup", 102, {"carrier": "SF", "freight": yuan(freight)})
        quick = life.start + timedelta(hours=102) >= QUICK_REFUND_FROM  # §4 judges the pickup
        assert quick == (flow != "return, no quick refund"), f"{order_id}: pickup on a wrong day"
        life.act("arrival", 126)
        if empty:
            life.act("inspection", 128, {"result": "wrong_or_empty", "evidence": evidence})
            ruling = {"result": "merchant", "note": "the parcel arrived empty"}
            life.act("ruling", 140, ruling, operator=True)
            expect = Expect("ruled_for_merchant", quick=True)
        else:
            life.act("inspection", 128, {"result": "ok"})
            expect = Expect("agreed", quick=flow == "return, quick refund")
    elif flow == "quality return":
        life.order_fact("signing", 72)
        life.open_case(120, {"type": "return_quality", "reason": "arrived chipped"})
        life.act("accept", 122)
        life.act("handover", 124, {"carrier": "YTO", "tracking_number": f"YT{order_id}"})
        life.act("arrival", 168)
        life.act("inspection", 171, {"result": "ok"})
        expect = Expect("agreed", quick=False)
    elif flow in ("refund-only, answered", "refund-only, timed out"):
        answered = flow == "refund-only, answered"
        if variant == 0:  # never arrived: before signing
            life.open_case(144, {"type": "refund_only_not_received", "reason": "tracking stopped"})
            if answered:
                life.act("accept", 148)
        else:  # received with a quality problem: part of the goods asked back
            life.order_fact("signing", 72)
            asked = max(2, goods // 2)
            life.open_case(
                120,
                {
                    "type": "refund_only_quality",
                    "reason": "half of them cracked",
                    "amount": yuan(asked),
                    "evidence": evidence,
                },
            )
            if answered:
                life.act("offer", 123, {"amount": yuan(asked // 2)})
                life.act("accept", 126)  # the buyer (the marketplace for it) takes the offer
        expect = Expect("agreed" if answered else "granted_on_timeout")
    elif flow == "custom dispute":
        life.order_fact("signing", 72)
        life.open_case(
            120,
            {
                "type": "custom_dispute",
                "trigger": TRIGGERS[index % len(TRIGGERS)],
                "reason": "not as ordered",
                "amount": yuan(max(1, goods // 3)),
                "evidence": evidence,
            },
        )
        life.act("accept", 124)
        expect = Expect("agreed", compensated=True)
    elif flow == "after release":
        life.order_fact("signing", 72)
        payout = world.merchants[merchant] if variant == 1 else None
        life.order_fact("confirmation", 96, payout=payout)
        asked = goods if variant == 1 else max(1, goods // 2)
        life.open_case(
            144, {"type": "refund_only_quality", "reason": "faulty", "amount": yuan(asked)}
        )
        life.act("accept", 148)
    elif flow == "escalated and ruled":  # variant 0: refused after an offer, ruled for the buyer
        life.order_fact("signing", 72)
        life.open_case(120, {"type": "refund_only_quality", "reason": "wrong colour"})
        asked = goods
        life.act("offer", 122, {"amount": yuan(max(1, asked // 3))})
        life.act("decline", 125)  # the buyer declines the offer
        life.act("decline", 128)  # the merchant refuses
        life.act("escalate", 130, {"evidence": evidence})
        ruling = {"result": "buyer", "amount": yuan(max(1, asked * 2 // 3)), "note": "photos"}
        life.act("ruling", 150, ruling, operator=True)
        expect = Expect("ruled_for_buyer")
    elif flow == "transit claim":
        life.open_case(72, {"type": "transit_claim", "reason": "the truck burnt out"})
        ruling = {"result": "merchant", "note": "carrier's accident report"}
        life.act("ruling", 96, ruling, operator=True)
        expect = Expect("ruled_for_merchant", compensated=True)
    else:
        raise ValueError(flow)
    return Plan(order_id, life.case_id, flow, expect, life.steps)


def custom_tier_terms(price_fen: int) -> dict[str, Any]:
    """Every product: a spot tier with 7-day returns, and a custom tier (MOQ 10, +25%)."""
    return {
        "tiers": [
            {"kind": "spot", "price": yuan(price_fen), "moq": 1, "seven_day_returns": True},
            {"kind": "custom", "price": yuan(price_fen * 5 // 4), "moq": CUSTOM_MOQ},
        ]
    }


def is_case_fact(kind: str) -> bool:
    return kind == "case" or kind.startswith("case-")


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
    figures: dict[str, Any] = {"round": round_no}
    figures["pgbench_tps"], figures["pgbench"] = pgbench_round(args, round_no, progress)
    database = f"{template}_r{round_no}"
    pg.create(database, template)
    env = {**os.environ, "BUYERGUARD_DATABASE_URL": pg.dsn(database)}
    server = Server(env, args.workers, tmp / f"serve-r{round_no}.log", scheduler=False)
    sampler = Sampler(pg, database)
    sampler.start()
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
