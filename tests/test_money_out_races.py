"""Money out under real parallel writers: a merchant's money moves once, whatever the interleaving.

PostgreSQL only (SQLite has one writer, so nothing races there). Each racer is
a request on the served app from a thread of its own, its transaction on a
pooled connection of its own. A payout run races two confirmations (releases),
an operator's refund after release larger than the payable (it empties the
reserve, then becomes debt), a clawback, and the marketplace's execution report
of the previous payout (failed or executed), all of one merchant, ten rounds:
in six, every racer is first queued behind a gate that holds the merchant's
debt account (the first merchant account all but an executed report lock), so
all of them wait at once; in four, a barrier releases them together. PostgreSQL
does not serve the queue strictly in turn once the row has been updated, so the
order the racers really took the merchant's accounts in is read back from the
ledger. After every round:

- the merchant's paid out + payable + reserve + in flight - debt equals a model
  built from the orders alone (releases less fees, refunds and clawbacks);
- every instruction has its hold and exactly the settlement its state says,
  one `*_instructed` decision, one payout per run and merchant;
- the same requests run one after the other on a SQLite replica, in the order
  the race took them, end with exactly the same balances (the race is
  equivalent to a serial run);
- no answer is a 5xx or a concurrent_conflict, and the ledger checks.

A watcher samples the accounts during the race: debt, payable and reserve never
below zero, in-flight the same on both sides. Two payout runs at once (two
operators, an operator and the scheduler, one scheduled run resumed while it
runs) pay the money once; two reports of one instruction at once are recorded
once, two retries of one failed refund make one new instruction.
"""

from __future__ import annotations

import itertools
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text

from buyerguard.bootstrap import Runtime
from buyerguard.clock import SimulatedClock
from buyerguard.money import Fen, format_fen, parse_yuan
from buyerguard.rulebook import rulebooks
from buyerguard.services import payouts
from buyerguard.services.context import SCHEDULER
from buyerguard.store.db import make_engine
from buyerguard.store.shipment_history import ShipmentHistory
from tests.conftest import Api, assert_ledger_checks, reset_postgres, serving_demo

MERCHANT = "M-yiwu"
MERCHANT_PARTY = f"merchant:{MERCHANT}"
GATE_ACCOUNT = f"{MERCHANT_PARTY}:debt"
TOWELS_AND_CUPS = [
    {"product_id": "P-cups", "quantity": 10},
    {"product_id": "P-towels", "quantity": 2},
]
# The reserve keeps RESERVE_SHARE of the releases of the last 30 days (all of the test's:
# the clock stands still), at most about 1,200.00 here; the payable is empty when a race
# starts. So the refund reaches debt whenever it runs before the failed payout's money
# returns (in every round where the previous payout is reported executed, at least).
RESERVE_SHARE = "0.02"
REFUND_AFTER_RELEASE = "2000.00"
CLAWBACK = "10.00"
WAIT_SECONDS = 30


@pytest.fixture
def racing_rt(postgres_url: str, clock: SimulatedClock, tmp_path: Path) -> Iterator[Runtime]:
    """PostgreSQL with enough pooled connections for every racer, the gate and the watcher."""
    engine = make_engine(postgres_url, pool_size=16, max_overflow=8)
    reset_postgres(engine)
    yield Runtime(engine, clock, rulebooks(), ShipmentHistory(tmp_path / "data"))
    assert_ledger_checks(engine)
    engine.dispose()


# ------------------------------------------------------------------ orders, step by step
def ok(answer: Any, *statuses: int) -> Any:
    assert answer.status_code in (statuses or (200,)), answer.text
    return answer.json()


def signed_order(api: Api, order_id: str, lines: list[dict[str, Any]], shipping: str) -> None:
    """An order of the merchant, paid, shipped and signed: its release waits on confirmation."""
    body = {"id": order_id, "buyer_id": "B-shop", "lines": lines, "shipping": shipping}
    placed = ok(api.post("marketplace", "/v1/orders", body), 201)
    ok(api.post("marketplace", f"/v1/orders/{order_id}/payment", {"amount": placed["total"]}))
    shipment = {"carrier": "SF", "tracking_number": f"SF-{order_id}"}
    ok(api.post("merchant", f"/v1/orders/{order_id}/shipment", shipment))
    ok(api.post("marketplace", f"/v1/orders/{order_id}/signing"))


def confirmed_order(api: Api, order_id: str, lines: list[dict[str, Any]], shipping: str) -> None:
    signed_order(api, order_id, lines, shipping)
    ok(api.post("buyer", f"/v1/orders/{order_id}/confirmation"))


def run_payouts(api: Api, merchant_ids: list[str] | None = None) -> Any:
    body = None if merchant_ids is None else {"merchant_ids": merchant_ids}
    return api.post("operator", "/v1/payouts/runs", body)


def payout_of(run: dict[str, Any], merchant_id: str = MERCHANT) -> tuple[str | None, Fen]:
    """The payout a run made to the merchant (None: it paid nothing) and its amount."""
    for result in run["results"]:
        if result["merchant_id"] == merchant_id:
            return result["payout_id"], parse_yuan(result["amount"])
    return None, 0


# ------------------------------------------------------------------------- the race
@dataclass
class Racer:
    """One request of the race; `gated` when it must queue on the gate account."""

    name: str
    send: Callable[[], Any]
    statuses: tuple[int, ...]
    gated: bool = True
    answer: Any = None
    error: BaseException | None = None
    thread: threading.Thread | None = field(default=None, repr=False)

    def start(self, barrier: threading.Barrier | None = None, delay: float = 0.0) -> None:
        def run() -> None:
            try:
                if barrier is not None:
                    barrier.wait(timeout=WAIT_SECONDS)
                    time.sleep(delay)
                self.answer = self.send()
            except BaseException as exc:  # reported by `finish`, not lost in a thread
                self.error = exc

        self.thread = threading.Thread(target=run, name=self.name)
        self.thread.start()

    def finish(self) -> Any:
        assert self.thread is not None
        self.thread.join(timeout=WAIT_SECONDS * 2)
        assert not self.thread.is_alive(), f"{self.name} never answered"
        assert self.error is None, f"{self.name}: {self.error!r}"
        assert self.answer.status_code in self.statuses, (self.name, self.answer.text)
        body = self.answer.json()
        assert "concurrent_conflict" not in str(body.get("code", "")), (self.name, body)
        return body


def lock_waiters(watcher: Connection) -> int:
    waiting = watcher.execute(
        text(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
    ).scalar_one()
    watcher.rollback()
    return int(waiting)


def queue_behind_gate(watcher: Connection, racer: Racer, waiting: int) -> bool:
    """Start `racer` and return once it waits on a row lock (True) or has finished (False)."""
    racer.start()
    assert racer.thread is not None
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if lock_waiters(watcher) > waiting:
            return True
        if not racer.thread.is_alive():
            return False
        time.sleep(0.005)
    pytest.fail(f"{racer.name} neither waited on a lock nor finished")


class Watcher:
    """Samples the merchant's accounts while the race runs (each sample one snapshot)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.samples = 0
        self.breaches: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, name="watcher")

    def run(self) -> None:
        with self.engine.connect() as connection:
            while not self.stop.is_set():
                rows = connection.execute(
                    text(
                        "SELECT purpose, debits_posted_fen, credits_posted_fen, "
                        "debits_pending_fen, credits_pending_fen FROM ledger_accounts "
                        "WHERE party = :party"
                    ),
                    {"party": MERCHANT_PARTY},
                ).all()
                connection.rollback()
                self.samples += 1
                self.breaches += breaches_of({row.purpose: row for row in rows})
                time.sleep(0.002)

    def __enter__(self) -> Watcher:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=WAIT_SECONDS)


def breaches_of(rows: dict[str, Any]) -> list[str]:
    """What one consistent snapshot of the merchant's accounts must never show."""
    found = []
    if (debt := rows.get("debt")) is not None and debt.debits_posted_fen < debt.credits_posted_fen:
        found.append(f"negative debt {debt}")
    for purpose in ("payable", "reserve"):
        row = rows.get(purpose)
        if row is not None and (
            row.credits_posted_fen - row.debits_posted_fen - row.debits_pending_fen < 0
        ):
            found.append(f"overdrawn {purpose} {row}")
    payable, paid_out = rows.get("payable"), rows.get("paid_out")
    in_flight = 0 if payable is None else payable.debits_pending_fen
    arriving = 0 if paid_out is None else paid_out.credits_pending_fen
    if in_flight != arriving:
        found.append(f"in flight {in_flight} leaves the payable, {arriving} reaches paid_out")
    return found


# ------------------------------------------------------------------------ the books
@dataclass(frozen=True)
class MerchantMoney:
    paid_out: Fen
    payable: Fen
    reserve: Fen
    in_flight: Fen
    debt: Fen

    @property
    def total(self) -> Fen:
        return self.paid_out + self.payable + self.reserve + self.in_flight - self.debt


def ledger_money(engine: Engine, merchant_id: str = MERCHANT) -> MerchantMoney:
    """The merchant's money read straight from its ledger accounts."""
    with engine.connect() as connection:
        rows = {
            row.purpose: row
            for row in connection.execute(
                text(
                    "SELECT purpose, debits_posted_fen, credits_posted_fen, debits_pending_fen "
                    "FROM ledger_accounts WHERE party = :party"
                ),
                {"party": f"merchant:{merchant_id}"},
            )
        }

    def net(purpose: str) -> int:
        row = rows.get(purpose)
        return 0 if row is None else int(row.credits_posted_fen - row.debits_posted_fen)

    in_flight = int(rows["payable"].debits_pending_fen) if "payable" in rows else 0
    return MerchantMoney(
        paid_out=net("paid_out"),
        payable=net("payable") - in_flight,
        reserve=net("reserve"),
        in_flight=in_flight,
        debt=-net("debt"),
    )


def api_money(api: Api, merchant_id: str = MERCHANT) -> MerchantMoney:
    shown = ok(api.get("marketplace", f"/v1/merchants/{merchant_id}/balance"))
    names = ("paid_out", "payable", "reserved", "in_flight", "debt")
    money = MerchantMoney(*(parse_yuan(shown[name]) for name in names))
    assert parse_yuan(shown["net_owed"], allow_negative=True) == money.total - money.paid_out
    return money


def modelled_fen(api: Api, order_ids: list[str], clawed_back_fen: Fen) -> Fen:
    """What the merchant has earned, from the orders alone: every released sub-order's goods
    less what was refunded after release and its fee as it stands, released shipping, less
    what was clawed back."""
    total = -clawed_back_fen
    for order_id in order_ids:
        order = ok(api.get("operator", f"/v1/orders/{order_id}"))
        if order["confirmed_at"] is None:
            continue
        total += parse_yuan(order["shipping"])
        for sub in order["sub_orders"]:
            assert not sub["refunded_before_shipment"], sub
            total += parse_yuan(sub["goods"]) - parse_yuan(sub["refunded"])
            total -= parse_yuan(sub["fee"])
    return total


def assert_money_moved_once(engine: Engine) -> dict[str, int]:
    """Every instruction moved its money once: its hold, and exactly the settlement its state
    says; the merchant's in-flight and paid-out amounts are its payouts' sums; one payout
    per run and merchant; one `*_instructed` decision per instruction."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT i.id, i.kind, i.party, i.state, i.amount_fen, i.run_id, i.cut_over, "
                "(SELECT count(*) FROM ledger_transfers t WHERE t.id = 'instruct:' || i.id "
                " AND t.kind = 'pending' AND t.amount_fen = i.amount_fen) AS holds, "
                "(SELECT count(*) FROM ledger_transfers t WHERE t.pending_id = 'instruct:' || i.id"
                " AND t.id = 'execute:' || i.id AND t.kind = 'post_pending') AS executions, "
                "(SELECT count(*) FROM ledger_transfers t WHERE t.pending_id = 'instruct:' || i.id"
                " AND t.id = 'fail:' || i.id AND t.kind = 'void_pending') AS failures, "
                "(SELECT count(*) FROM ledger_transfers t WHERE t.pending_id = 'instruct:' || i.id"
                ") AS settlements, "
                "(SELECT count(*) FROM decisions d WHERE d.subject_id = i.id "
                " AND d.kind = i.kind || '_instructed') AS instructed_decisions "
                "FROM instructions i"
            )
        ).all()
        orphans = connection.execute(
            text(
                "SELECT id FROM ledger_transfers WHERE (id LIKE 'execute:%' OR id LIKE 'fail:%' "
                "OR id LIKE 'instruct:%') AND split_part(id, ':', 2) NOT IN "
                "(SELECT id FROM instructions)"
            )
        ).all()
        per_run = connection.execute(
            text(
                "SELECT run_id, party, count(*) AS n FROM instructions WHERE run_id IS NOT NULL "
                "GROUP BY run_id, party HAVING count(*) > 1"
            )
        ).all()
    assert orphans == [] and per_run == []
    sums = {"instructed": 0, "executed": 0, "failed": 0}
    for row in rows:
        assert not row.cut_over, row
        expected = {
            "instructed": (1, 0, 0, 0),
            "executed": (1, 1, 0, 1),
            "failed": (1, 0, 1, 1),
        }[row.state]
        assert (row.holds, row.executions, row.failures, row.settlements) == expected, row
        assert row.instructed_decisions == 1, row
        if row.kind == "payout" and row.party == MERCHANT_PARTY:
            sums[row.state] += int(row.amount_fen)
    money = ledger_money(engine)
    assert money.in_flight == sums["instructed"]
    assert money.paid_out == sums["executed"]
    return sums


def debt_transfers(engine: Engine) -> tuple[int, int]:
    """(transfers that put money into the merchant's debt, transfers that netted it)."""
    with engine.connect() as connection:
        return (
            int(
                connection.execute(
                    text("SELECT count(*) FROM ledger_transfers WHERE debit_account_id = :debt"),
                    {"debt": GATE_ACCOUNT},
                ).scalar_one()
            ),
            int(
                connection.execute(
                    text("SELECT count(*) FROM ledger_transfers WHERE credit_account_id = :debt"),
                    {"debt": GATE_ACCOUNT},
                ).scalar_one()
            ),
        )


# ---------------------------------------------------------------------- the rounds
# Queue orders for the gated rounds: payout run P, confirmations C1 and C2, refund after
# release R, clawback K, execution report X of the previous payout (failed in odd rounds,
# executed in even ones). An executed report locks paid_out and payable, not debt: it
# passes the gate. Row-lock waiters are not served strictly in turn once the row has been
# updated, so the queue only makes everyone wait at once: the order the racers then took
# the merchant's accounts in is read back from the ledger (`serialization_order`).
GATED_ORDERS = (
    ("P", "C1", "R", "K", "C2", "X"),
    ("R", "K", "P", "C1", "X", "C2"),
    ("C1", "R", "X", "P", "K", "C2"),
    ("X", "P", "R", "C1", "C2", "K"),
    ("K", "X", "C2", "R", "C1", "P"),
    ("R", "P", "X", "K", "C2", "C1"),
)
FREE_ROUNDS = 4  # after the gated ones: everyone released from one barrier, delays rotated


@dataclass(frozen=True)
class Request:
    send: Callable[[], Any]
    statuses: tuple[int, ...]
    gated: bool  # waits on the gate account (locks the merchant's debt first)


@dataclass(frozen=True)
class Round:
    orders: list[str]
    requests: dict[str, Request]
    subjects: dict[str, str]  # the order each order racer moves money of
    previous_payout: str  # the payout X reports on


def prepare_round(api: Api, index: int) -> Round:
    """A big and a small release, then a payout of all but the reserve, so the payable is
    empty and the race's refund must reach the reserve and then debt; two orders signed,
    to be confirmed in the race. Returns the round's racing requests."""
    big, small = f"A{index}", f"B{index}"
    racing = (f"S{index}", f"T{index}")
    confirmed_order(api, big, TOWELS_AND_CUPS, "20.00")
    confirmed_order(api, small, [{"product_id": "P-cups", "quantity": 5}], "0.00")
    for number, order_id in enumerate(racing):
        lines = [{"product_id": "P-cups", "quantity": index + number + 1}]
        signed_order(api, order_id, lines, f"{number + 1}.00")
    previous, previous_fen = payout_of(ok(run_payouts(api, [MERCHANT]), 201))
    assert previous is not None and previous_fen > 0
    assert api_money(api).payable == 0
    report: dict[str, str] = {"outcome": "executed", "reference": f"bank-{index}"}
    if index % 2:
        report = {"outcome": "failed", "reason": "account closed"}

    def adjust(kind: str, order_id: str, sub_order_id: str, amount: str) -> Callable[[], Any]:
        body = {"kind": kind, "sub_order_id": sub_order_id, "amount": amount, "reason": kind}
        path = f"/v1/orders/{order_id}/adjustments"
        return lambda: api.post("operator", path, body, key=f"{kind}-{order_id}")

    def confirm(role: str, order_id: str) -> Callable[[], Any]:
        return lambda: api.post(role, f"/v1/orders/{order_id}/confirmation")

    requests = {
        "P": Request(lambda: run_payouts(api, [MERCHANT]), (201,), True),
        "C1": Request(confirm("buyer", racing[0]), (200,), True),
        "C2": Request(confirm("marketplace", racing[1]), (200,), True),
        "R": Request(adjust("refund", big, f"{big}-2", REFUND_AFTER_RELEASE), (201,), True),
        "K": Request(adjust("clawback", small, f"{small}-1", CLAWBACK), (201,), True),
        "X": Request(
            lambda: api.post("marketplace", f"/v1/payouts/{previous}/execution", report),
            (200,),
            report["outcome"] == "failed",  # a failed payout's money nets debt: it locks it
        ),
    }
    subjects = {"C1": racing[0], "C2": racing[1], "R": big, "K": small}
    return Round([big, small, *racing], requests, subjects, previous)


def last_entry(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(text("SELECT coalesce(max(id), 0) FROM ledger_entries")).scalar_one()
        )


def serialization_order(
    engine: Engine, since: int, played: Round, answers: dict[str, Any]
) -> list[str]:
    """The racers in the order they took the merchant's accounts, from the ledger: each posts
    only while holding the merchant's payable, so the first entry each wrote orders them.
    Every transfer of the race belongs to exactly one racer; only a payout run that found
    nothing to pay leaves none (and is left out: it changed nothing)."""
    run_id = answers["P"]["id"]
    payout_id, _ = payout_of(answers["P"])
    previous = played.previous_payout
    owners = {f"fail:{previous}", f"execute:{previous}", f"net-debt:fail:{previous}"}

    def owner(transfer_id: str, order_id: str | None) -> str:
        for name, subject in played.subjects.items():
            if order_id == subject or transfer_id == f"net-debt:release:{subject}":
                return name
        if transfer_id in owners:
            return "X"
        if transfer_id.startswith((f"reserve:{run_id}:", f"net-debt:{run_id}:")) or (
            transfer_id == f"instruct:{payout_id}"
        ):
            return "P"
        raise AssertionError(f"a transfer of no racer: {transfer_id}")

    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT t.id, t.order_id, min(e.id) AS first FROM ledger_transfers t "
                "JOIN ledger_entries e ON e.transfer_id = t.id WHERE e.id > :since "
                "GROUP BY t.id, t.order_id"
            ),
            {"since": since},
        ).all()
    first: dict[str, int] = {}
    for row in rows:
        name = owner(row.id, row.order_id)
        first[name] = min(first.get(name, row.first), row.first)
    assert set(played.requests) - set(first) <= {"P"}, first
    moved = [
        parse_yuan(result[name], allow_negative=True)
        for result in answers["P"]["results"]
        for name in ("amount", "reserve_moved", "debt_netted")
    ]
    assert ("P" in first) == any(moved), (first, answers["P"])
    return sorted(first, key=first.__getitem__)


@pytest.fixture
def serial_rt(sqlite_template: Path, clock: SimulatedClock, tmp_path: Path) -> Iterator[Runtime]:
    """A replica on SQLite that runs each round's requests one after the other."""
    path = tmp_path / "serial.sqlite3"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield Runtime(engine, clock, rulebooks(), ShipmentHistory(tmp_path / "serial-data"))
    assert_ledger_checks(engine)
    engine.dispose()


@pytest.mark.parametrize("backend", ["postgres"])
def test_payout_run_racing_releases_and_adjustments_moves_money_once(
    backend: str, racing_rt: Runtime, serial_rt: Runtime
) -> None:
    """Every round, gated or free, conserves the merchant's money, settles each instruction
    once and checks, and ends exactly as the same requests run one after the other on a
    replica, in the order the racers took the merchant's accounts."""
    rt = racing_rt
    order_ids: list[str] = []
    clawed_back_fen = 0
    samples = rounds_with_debt = 0
    seen: list[tuple[str, ...]] = []
    rounds: list[tuple[str, ...] | None] = [*GATED_ORDERS, *([None] * FREE_ROUNDS)]
    reserve = {"reserve_share": RESERVE_SHARE}
    with serving_demo(rt) as api, serving_demo(serial_rt) as serial:
        for served in (api, serial):
            headers = served.headers("operator", "reserve")
            put = served.client.put(
                f"/v1/merchants/{MERCHANT}/payout-settings", json=reserve, headers=headers
            )
            assert ok(put)["reserve_share"] == RESERVE_SHARE
        for index, gated_order in enumerate(rounds):
            played = prepare_round(api, index)
            order_ids += played.orders
            since = last_entry(rt.engine)
            racers = {
                name: Racer(name, request.send, request.statuses, request.gated)
                for name, request in played.requests.items()
            }
            with Watcher(rt.engine) as watcher:
                if gated_order is not None:
                    with rt.engine.connect() as gate, rt.engine.connect() as waiters:
                        gate.execute(
                            text("SELECT id FROM ledger_accounts WHERE id = :id FOR UPDATE"),
                            {"id": GATE_ACCOUNT},
                        )
                        waiting = 0
                        for name in gated_order:
                            racer = racers[name]
                            queued = queue_behind_gate(waiters, racer, waiting)
                            assert queued == racer.gated, (gated_order, name)
                            waiting += queued
                        gate.rollback()
                else:
                    barrier = threading.Barrier(len(racers))
                    names = list(racers)
                    for position, name in enumerate(names):
                        delay = ((position + index) % len(names)) * 0.002
                        racers[name].start(barrier, delay)
                answers = {name: racer.finish() for name, racer in racers.items()}
            assert watcher.breaches == []
            samples += watcher.samples
            clawed_back_fen += parse_yuan(CLAWBACK)
            assert answers["X"]["state"] == ("failed" if index % 2 else "executed")
            assert answers["R"]["instruction_id"] is not None
            rounds_with_debt += any(
                answers[name]["taken_from_merchant"]["debt"] != "0.00" for name in "RK"
            )
            model = modelled_fen(api, order_ids, clawed_back_fen)
            money = ledger_money(rt.engine)
            assert money.total == model, (index, gated_order, money, model)
            assert api_money(api) == money
            assert min(money.payable, money.reserve, money.in_flight, money.debt) >= 0, money
            assert_money_moved_once(rt.engine)
            assert_ledger_checks(rt.engine)
            # The same requests, one after the other in the order the race took them.
            order = serialization_order(rt.engine, since, played, answers)
            seen.append(tuple(order))
            replayed = prepare_round(serial, index)
            for name in order:
                request = replayed.requests[name]
                ok(request.send(), *request.statuses)
            assert api_money(serial) == money, (index, gated_order, order)
            assert modelled_fen(serial, order_ids, clawed_back_fen) == model
    assert rounds_with_debt >= len(rounds) // 2, "too few rounds drove the merchant into debt"
    debts, netted = debt_transfers(rt.engine)
    assert debts >= rounds_with_debt and netted >= 1, "debt was never netted"
    assert samples > 0
    assert len(set(seen)) >= 3, seen  # the rounds really interleaved differently


# ------------------------------------------------------------- two payout runs at once
def operator_run(api: Api) -> Callable[[], Any]:
    return lambda: run_payouts(api, [MERCHANT])


def everyone_run(api: Api) -> Callable[[], Any]:
    return lambda: run_payouts(api)


class ScheduledRun:
    """The scheduler's run (the service, as the timer job calls it), shaped as an answer."""

    def __init__(self, rt: Runtime, run_id: str) -> None:
        self.rt, self.run_id = rt, run_id
        self.status_code = 201

    def __call__(self) -> ScheduledRun:
        self.summary = payouts.run_payouts(
            self.rt, SCHEDULER, payouts.SCHEDULED, self.rt.clock.now(), run_id=self.run_id
        )
        return self

    def json(self) -> dict[str, Any]:
        results = [
            {
                "merchant_id": result.merchant_id,
                "payout_id": result.instruction_id,
                "amount": format_fen(result.amount_fen),
            }
            for result in self.summary["results"]
        ]
        return {"results": results, "id": self.summary["id"]}


@pytest.mark.parametrize("backend", ["postgres"])
def test_two_payout_runs_at_once_pay_the_merchant_once(backend: str, racing_rt: Runtime) -> None:
    """Two operators' runs, an operator's run and the scheduler's, and one scheduled run
    resumed while it still runs (the same run id twice): whichever reaches the merchant's
    accounts first pays everything payable, the other finds nothing left to pay."""
    rt = racing_rt
    order_ids: list[str] = []
    with serving_demo(rt) as api:
        pairings: list[tuple[str, Callable[[int], tuple[Callable[[], Any], ...]]]] = [
            ("two operator runs", lambda _: (operator_run(api), everyone_run(api))),
            (
                "operator and scheduler",
                lambda n: (operator_run(api), ScheduledRun(rt, f"run-sched-{n}")),
            ),
            (
                "one scheduled run twice",
                lambda n: (ScheduledRun(rt, f"run-twice-{n}"), ScheduledRun(rt, f"run-twice-{n}")),
            ),
        ]
        modes = ("first ahead", "second ahead", "barrier", "barrier")
        for number, ((label, make), mode) in enumerate(itertools.product(pairings, modes)):
            order_id = f"O{number}"
            confirmed_order(
                api, order_id, [{"product_id": "P-cups", "quantity": number + 2}], "0.00"
            )
            order_ids.append(order_id)
            owed = ledger_money(rt.engine)
            assert owed.payable > 0 and owed.debt == 0
            first, second = make(number)
            racers = [Racer("run 1", first, (201,)), Racer("run 2", second, (201,))]
            if mode == "barrier":
                barrier = threading.Barrier(2)
                for racer in racers:
                    racer.start(barrier)
            else:
                queued = racers if mode == "first ahead" else racers[::-1]
                with rt.engine.connect() as gate, rt.engine.connect() as waiters:
                    gate.execute(
                        text("SELECT id FROM ledger_accounts WHERE id = :id FOR UPDATE"),
                        {"id": GATE_ACCOUNT},
                    )
                    assert queue_behind_gate(waiters, queued[0], 0)
                    assert queue_behind_gate(waiters, queued[1], 1)
                    gate.rollback()
            made = [payout_of(racer.finish()) for racer in racers]
            paid = {payout_id: amount for payout_id, amount in made if payout_id is not None}
            assert list(paid.values()) == [owed.payable], (label, mode, made)
            after = ledger_money(rt.engine)
            assert after.payable == 0 and after.in_flight == owed.in_flight + owed.payable
            assert after.total == modelled_fen(api, order_ids, 0)
            with rt.engine.connect() as connection:
                payouts_made = connection.execute(
                    text("SELECT count(*) FROM instructions WHERE kind = 'payout'")
                ).scalar_one()
            assert payouts_made == number + 1, (label, mode)
            assert_money_moved_once(rt.engine)
    assert_ledger_checks(rt.engine)


# ------------------------------------------------- reports and retries of one instruction
def sender(api: Api, path: str, body: object = None) -> Callable[[], Any]:
    """The marketplace's request, to send from a racer's thread."""
    return lambda: api.post("marketplace", path, body)


@pytest.mark.parametrize("backend", ["postgres"])
def test_reports_and_retries_of_one_instruction_at_once_settle_it_once(
    backend: str, racing_rt: Runtime
) -> None:
    """Two execution reports of one refund with different outcomes, sent at once: one is
    recorded, the other refused (an outcome is final), never a 5xx or a concurrent_conflict.
    Two retries of one failed refund at once: one new instruction, answered to both."""
    rt = racing_rt
    refunded_fen = 0
    with serving_demo(rt) as api:
        for number in range(4):
            order_id = f"R{number}"
            body = {"id": order_id, "buyer_id": "B-shop", "lines": TOWELS_AND_CUPS}
            placed = ok(api.post("marketplace", "/v1/orders", body), 201)
            ok(
                api.post(
                    "marketplace", f"/v1/orders/{order_id}/payment", {"amount": placed["total"]}
                )
            )
            made = []
            for part in ("1", "2"):
                adjustment = {
                    "kind": "refund",
                    "sub_order_id": f"{order_id}-{part}",
                    "amount": "10.00",
                    "reason": "short delivery",
                }
                path = f"/v1/orders/{order_id}/adjustments"
                answer = api.post("operator", path, adjustment, key=f"{order_id}-{part}")
                made.append(ok(answer, 201)["instruction_id"])
                refunded_fen += parse_yuan("10.00")
            reported, failed = made
            outcomes = [{"outcome": "executed"}, {"outcome": "failed", "reason": "card closed"}]
            if number % 2:
                outcomes.reverse()
            path = f"/v1/instructions/{reported}/execution"
            reports = [
                Racer(f"report {body['outcome']}", sender(api, path, body), (200, 409))
                for body in outcomes
            ]
            barrier = threading.Barrier(len(reports))
            for position, racer in enumerate(reports):
                racer.start(barrier, position * 0.001 * number)
            answers = [racer.finish() for racer in reports]
            codes = sorted(racer.answer.status_code for racer in reports)
            assert codes == [200, 409], answers
            refused = next(a for a in answers if "code" in a)
            assert refused["code"] == "instruction_already_reported"
            state = next(a["state"] for a in answers if "state" in a)
            shown = ok(api.get("marketplace", f"/v1/instructions/{reported}"))
            assert shown["state"] == state

            ok(
                api.post(
                    "marketplace",
                    f"/v1/instructions/{failed}/execution",
                    {"outcome": "failed", "reason": "card closed"},
                )
            )
            retry = sender(api, f"/v1/instructions/{failed}/retry")
            retries = [Racer(f"retry {n}", retry, (201,)) for n in range(2)]
            barrier = threading.Barrier(len(retries))
            for racer in retries:
                racer.start(barrier)
            retried = {racer.finish()["id"] for racer in retries}
            with rt.engine.connect() as connection:
                made_again = connection.execute(
                    text("SELECT id FROM instructions WHERE retry_of = :failed"),
                    {"failed": failed},
                ).all()
            assert [row.id for row in made_again] == list(retried), retried
            assert_money_moved_once(rt.engine)
            assert_ledger_checks(rt.engine)
    # The buyer's refunds, each paid or owed once: owed + in flight + paid = refunded.
    with rt.engine.connect() as connection:
        rows = {
            row.purpose: row
            for row in connection.execute(
                text(
                    "SELECT purpose, credits_posted_fen - debits_posted_fen AS net "
                    "FROM ledger_accounts WHERE party = 'buyer:B-shop'"
                )
            )
        }
    assert rows["payable"].net + rows["paid_out"].net == refunded_fen
