"""Every command takes its row locks in the documented order (docs/architecture.md).

A statement hook records, per transaction, each table whose rows the
transaction locks (`UPDATE`, `SELECT … FOR UPDATE`, the claiming inserts);
the test then drives every command kind — the API's facts, the catalogue,
the scheduler's timers, money out (adjustments of each kind, execution
reports, retries, payout runs on demand and scheduled, payout settings) and
after-sales cases (every case type opened, every action, every deadline's
timeout) — and asserts that no transaction ever takes a lock that ranks below
one it already holds, that an order's children (its sub-orders, its cases) are
locked only while the order is, that the locks of a transaction of their own
come alone, and that ledger accounts are taken in account-id order. Two transactions that respect
one order can wait for each other but never deadlock. PostgreSQL only: it is
where row locks exist (SQLite has one writer).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event

from buyerguard.bootstrap import Runtime
from buyerguard.clock import SimulatedClock
from buyerguard.domain.cases import ACTIONS, CaseType
from buyerguard.money import parse_yuan
from buyerguard.rulebook import rulebooks
from buyerguard.scheduler import FiredTimer, Scheduler
from buyerguard.services.case_deadlines import DEADLINES
from buyerguard.store.db import make_engine
from buyerguard.store.shipment_history import ShipmentHistory
from tests.conftest import Api, assert_ledger_checks, reset_postgres, serving_demo
from tests.test_api import NEW_BUYER, NEW_MERCHANT, NEW_PRODUCT

# The documented order, lowest first; a row of a table not named here is an undocumented lock.
LOCK_ORDER = (
    "idempotency_keys",
    "merchant_payout_settings",  # PUT /v1/merchants/{id}/payout-settings, after its key only
    "orders",  # and its children, ORDER_CHILDREN: sub-orders and cases
    "timers",
    "merchant_badges",
    "instructions",  # execution reports and retries (services/instructions.py)
    "ledger_accounts",
    "decisions",  # only the feed sequencer's own transaction (services/feed.py)
    "payout_runs",  # only a payout run's own start and finish (services/payouts.py)
)
# Locks whose transaction may hold nothing else (but these).
ONLY_WITH = {
    "decisions": {"decisions"},
    "payout_runs": {"payout_runs"},
    "merchant_payout_settings": {"idempotency_keys", "merchant_payout_settings"},
}
# An order's lines and its after-sales cases are locked only while the order is (a case's
# command or deadline locks the order first): they rank with it, wherever they come after it.
ORDER_CHILDREN = {"sub_orders": "orders", "cases": "orders"}
# Inserts that may wait on a row: another transaction inserting the same key (a new case:
# another open case of its type on its sub-order, `uq_cases_open_per_type`).
CLAIMING_INSERTS = {
    "cases",
    "idempotency_keys",
    "ledger_accounts",
    "merchant_payout_settings",
    "payout_runs",
}
# also `WITH … UPDATE`, and an aliased one (`UPDATE ledger_accounts AS a SET`: a command's
# transfers posted together, ledger/postings.py)
_UPDATE = re.compile(r"\bupdate\s+(\w+)(?:\s+as\s+\w+)?\s+set\b", re.IGNORECASE)
# The statement's own INSERT, after any `WITH … (…)` (a new case comes with its transitions)
_INSERT = re.compile(r"^\s*(?:with\b.*\)\s*)?insert\s+into\s+(\w+)", re.IGNORECASE | re.DOTALL)
_LOCKING_SELECT = re.compile(r"\bfrom\s+(\w+)\b.*\bfor\s+update\b", re.IGNORECASE | re.DOTALL)
_PARENTHESISED = re.compile(r"\([^()]*\)")


def outer_statement(statement: str) -> str:
    """The statement without anything in parentheses: a subquery's FROM is not what a
    `SELECT … FOR UPDATE` locks (a case is read with its latest transition)."""
    while (shorter := _PARENTHESISED.sub(" ", statement)) != statement:
        statement = shorter
    return statement


def locked_table(statement: str) -> str | None:
    if (
        (match := _UPDATE.search(statement))
        or ((match := _INSERT.match(statement)) and match.group(1) in CLAIMING_INSERTS)
        or (match := _LOCKING_SELECT.search(outer_statement(statement)))
    ):
        table = match.group(1)
    else:
        return None
    return table


class LockRecorder:
    """Per transaction, the tables locked, in the order the locks were taken."""

    def __init__(self) -> None:
        self.open: dict[int, list[str]] = {}
        self.accounts: dict[int, list[str]] = {}
        self.finished: list[tuple[str, list[str]]] = []
        self.account_orders: list[tuple[str, list[str]]] = []
        # Accounts a command's transfers posted together (ledger/postings.py) moved
        # without having locked them first: that UPDATE would take them in join order.
        self.unlocked: list[tuple[str, list[str]]] = []
        self.label = "setup"

    def attach(self, engine: Any) -> None:
        event.listen(engine, "begin", self.on_begin)
        event.listen(engine, "before_cursor_execute", self.on_statement)
        event.listen(engine, "commit", self.on_end)
        event.listen(engine, "rollback", self.on_end)

    def on_begin(self, connection: Connection) -> None:
        self.open[id(connection)] = []
        self.accounts[id(connection)] = []

    def on_statement(self, connection: Connection, *args: Any) -> None:
        table = locked_table(args[1])
        if table is not None and id(connection) in self.open:
            self.open[id(connection)].append(table)
        if table == "ledger_accounts" and id(connection) in self.accounts:
            seen = self.accounts[id(connection)]
            moved = args[2].get("leg_account_ids") if isinstance(args[2], dict) else None
            if moved is not None and (missing := sorted(set(moved) - set(seen))):
                self.unlocked.append((self.label, missing))
            rows = args[2] if isinstance(args[2], list) else [args[2]]  # executemany: a list
            for parameters in rows:
                for name, value in (parameters if isinstance(parameters, dict) else {}).items():
                    account_id = name in ("id", "account_id") or name.startswith("id_")
                    if account_id and isinstance(value, str) and value not in seen:
                        seen.append(value)

    def on_end(self, connection: Connection) -> None:
        taken = self.open.pop(id(connection), [])
        accounts = self.accounts.pop(id(connection), [])
        if taken:
            self.finished.append((self.label, taken))
        if accounts:
            self.account_orders.append((self.label, accounts))

    def take(self) -> list[tuple[str, list[str]]]:
        done, self.finished = self.finished, []
        return done


def out_of_order(taken: list[str]) -> str | None:
    """The first lock taken after one of a higher rank, if any (re-taking a held lock is fine),
    a child of an order locked before the order, or a lock of its own transaction taken
    with others."""
    for table, allowed in ONLY_WITH.items():
        if table in taken and not set(taken) <= allowed:
            return f"{table} with {sorted(set(taken) - allowed)}"
    held: set[str] = set()
    highest = -1
    for table in taken:
        parent = ORDER_CHILDREN.get(table)
        if parent is not None:
            if parent not in held:
                return f"{table} before its {parent}"
            continue
        assert table in LOCK_ORDER, f"undocumented lock on {table}: add it to the lock order"
        if table in held:
            continue
        rank = LOCK_ORDER.index(table)
        if rank < highest:
            return f"{table} after {LOCK_ORDER[highest]}"
        held.add(table)
        highest = rank
    return None


def squeezed(taken: list[str]) -> str:
    """The locks of a transaction in words, repeats of one table counted."""
    runs: list[list[Any]] = []
    for table in taken:
        if runs and runs[-1][0] == table:
            runs[-1][1] += 1
        else:
            runs.append([table, 1])
    return " > ".join(table if count == 1 else f"{table} x{count}" for table, count in runs)


@pytest.fixture
def recorded(
    postgres_url: str, clock: SimulatedClock, tmp_path: Path
) -> Iterator[tuple[Runtime, LockRecorder]]:
    engine = make_engine(postgres_url)
    reset_postgres(engine)
    recorder = LockRecorder()
    recorder.attach(engine)
    yield Runtime(engine, clock, rulebooks(), ShipmentHistory(tmp_path / "data")), recorder
    assert_ledger_checks(engine)
    engine.dispose()


@pytest.mark.parametrize("backend", ["postgres"])
def test_every_command_kind_locks_in_the_documented_order(
    backend: str, recorded: tuple[Runtime, LockRecorder], clock: SimulatedClock
) -> None:
    rt, recorder = recorded
    scheduler = Scheduler(rt.engine, clock, rt.rulebooks, history=rt.history, recurring=True)
    two_lines = [
        {"product_id": "P-cups", "quantity": 10},
        {"product_id": "P-towels", "quantity": 2},
    ]
    with serving_demo(rt) as api:

        def command(label: str, role: str, path: str, body: Any = None) -> Any:
            recorder.label = label
            answer = api.post(role, path, body, key=f"key-{label}")
            assert answer.status_code in (200, 201), (label, answer.text)
            return answer.json()

        def tick(label: str, advance: timedelta) -> list[FiredTimer]:
            recorder.label = label
            clock.advance(advance)
            fired = scheduler.tick()
            assert not any(timer.failed for timer in fired), fired
            return fired

        for name in ("A", "B", "C", "D"):
            body = {"id": name, "buyer_id": "B-shop", "lines": two_lines, "shipping": "20.00"}
            command(f"place {name}", "buyer" if name == "D" else "marketplace", "/v1/orders", body)
        for name in ("A", "B", "C"):
            command(
                f"pay {name}", "marketplace", f"/v1/orders/{name}/payment", {"amount": "5380.00"}
            )
        command("cancel D", "buyer", "/v1/orders/D/cancellation")
        command(
            "refund part of C",
            "buyer",
            "/v1/orders/C/refund-before-shipment",
            {"sub_order_ids": ["C-1"]},
        )
        command("refund the rest of C", "marketplace", "/v1/orders/C/refund-before-shipment")
        shipment = {"carrier": "SF", "tracking_number": "SF1", "official_logistics": True}
        for name in ("A", "B"):
            command(f"ship {name}", "merchant", f"/v1/orders/{name}/shipment", shipment)
            command(f"sign {name}", "marketplace", f"/v1/orders/{name}/signing")
        command("confirm A", "buyer", "/v1/orders/A/confirmation")
        tick("auto-confirm B, badges, promise rebuild", timedelta(days=10, hours=1))
        tick("complete A and B", timedelta(days=8))
        command("create merchant", "marketplace", "/v1/merchants", NEW_MERCHANT)
        command("create buyer", "marketplace", "/v1/buyers", NEW_BUYER)
        command("create product", "merchant", "/v1/products", NEW_PRODUCT)
        states = {name: api.get("operator", f"/v1/orders/{name}").json()["state"] for name in "AB"}
        money_out(api, command, tick, recorder)
        case_labels = after_sales(command, tick)
        recorder.label = "read the feed"
        assert api.get("marketplace", "/v1/events").status_code == 200
    assert states == {"A": "completed", "B": "completed"}
    assert any(len(taken) >= 3 for _, taken in recorder.account_orders)
    transactions = recorder.take()
    labels = {label for label, _ in transactions}
    for expected in ("pay A", "refund part of C", "confirm A", "cancel D", *MONEY_OUT_COMMANDS):
        assert expected in labels
    locked = {table for _, taken in transactions for table in taken}
    assert {"orders", "timers", "ledger_accounts", "decisions"} <= locked
    assert {"instructions", "merchant_payout_settings", "payout_runs"} <= locked
    by_label: dict[str, set[str]] = {}
    for label, taken in transactions:
        by_label.setdefault(label, set()).update(taken)
    for label in ("payout executed", "payout failed", "refund executed", "retry the refund"):
        assert {"instructions", "ledger_accounts"} <= by_label[label], label
    for label in ("payout run", "scheduled payout run"):
        assert {"payout_runs", "ledger_accounts"} <= by_label[label], label
    for label in case_labels:  # every case command and timeout locks its order, then its case
        assert {"orders", "cases"} <= by_label[label], (label, by_label[label])
    wrong = [
        f"{label}: {problem} ({squeezed(taken)})"
        for label, taken in transactions
        if (problem := out_of_order(taken)) is not None
    ]
    wrong += [
        f"{label}: ledger accounts out of id order ({', '.join(taken)})"
        for label, taken in recorder.account_orders
        if taken != sorted(taken)
    ]
    wrong += [
        f"{label}: ledger accounts moved without being locked first ({', '.join(ids)})"
        for label, ids in recorder.unlocked
    ]
    assert wrong == [], "locks out of the documented order:\n" + "\n".join(wrong)


# Every money-out command kind the test drives, by the label its locks are recorded under.
MONEY_OUT_COMMANDS = (
    "payout settings",
    "payout run",
    "payout executed",
    "payout failed",
    "adjust: refund after release",
    "adjust: clawback",
    "adjust: compensation by the platform",
    "adjust: compensation by the merchant",
    "adjust: refund before shipment",
    "adjust: refund after shipment, before release",
    "refund executed",
    "refund failed",
    "retry the refund",
    "scheduled payout run",
)


def money_out(
    api: Api,
    command: Callable[[str, str, str, Any], Any],
    tick: Callable[[str, timedelta], object],
    recorder: LockRecorder,
) -> None:
    """Drive every money-out command on orders of their own, in an order that reaches each
    path that locks: debt from a refund after release, netted when a payout fails."""
    lines = [
        {"product_id": "P-cups", "quantity": 10},
        {"product_id": "P-towels", "quantity": 2},
    ]
    shipment = {"carrier": "SF", "tracking_number": "SF2"}
    for name in ("E", "F", "G", "H", "I"):
        body = {"id": name, "buyer_id": "B-shop", "lines": lines, "shipping": "20.00"}
        command(f"place {name}", "marketplace", "/v1/orders", body)
        command(f"pay {name}", "marketplace", f"/v1/orders/{name}/payment", {"amount": "5380.00"})
    for name in ("E", "F", "H", "I"):
        command(f"ship {name}", "merchant", f"/v1/orders/{name}/shipment", shipment)
    for name in ("E", "F", "I"):
        command(f"sign {name}", "marketplace", f"/v1/orders/{name}/signing", None)
    for name in ("E", "F"):
        command(f"confirm {name}", "buyer", f"/v1/orders/{name}/confirmation", None)

    recorder.label = "payout settings"
    answer = api.client.put(
        "/v1/merchants/M-yiwu/payout-settings",
        json={"reserve_share": "0.10"},
        headers=api.headers("operator", "key-payout settings"),
    )
    assert answer.status_code == 200, answer.text

    def payout(label: str) -> str:
        run = command(label, "operator", "/v1/payouts/runs", {"merchant_ids": ["M-yiwu"]})
        payout_id = run["results"][0]["payout_id"]
        assert isinstance(payout_id, str), run
        return payout_id

    def adjust(label: str, order_id: str, body: dict[str, str]) -> Any:
        return command(label, "operator", f"/v1/orders/{order_id}/adjustments", body)

    def report(label: str, path: str, outcome: str) -> None:
        body = {"outcome": outcome}
        body |= {"reason": "account closed"} if outcome == "failed" else {"reference": "b1"}
        assert command(label, "marketplace", path, body)["state"] == outcome

    def debt() -> int:
        return parse_yuan(api.get("marketplace", "/v1/merchants/M-yiwu/balance").json()["debt"])

    first = payout("payout run")
    report("payout executed", f"/v1/payouts/{first}/execution", "executed")
    refund = {"kind": "refund", "reason": "wet towels"}
    released = {**refund, "sub_order_id": "E-2", "amount": "4000.00"}  # beyond the reserve
    taken = adjust("adjust: refund after release", "E", released)["taken_from_merchant"]
    assert taken["debt"] != "0.00", taken
    clawback = {"kind": "clawback", "sub_order_id": "E-1", "amount": "10.00", "reason": "late"}
    assert adjust("adjust: clawback", "E", clawback)["taken_from_merchant"]["debt"] == "10.00"
    compensation = {"kind": "compensation", "amount": "5.00", "reason": "late"}
    adjust("adjust: compensation by the platform", "F", {**compensation, "sub_order_id": "F-1"})
    by_merchant = {**compensation, "sub_order_id": "F-2", "borne_by": "merchant"}
    adjust("adjust: compensation by the merchant", "F", by_merchant)
    command("confirm I", "buyer", "/v1/orders/I/confirmation", None)
    assert debt() == 0  # the release netted it
    second = payout("payout run 2")
    released = {**refund, "sub_order_id": "I-2", "amount": "4000.00"}
    adjust("adjust: refund after release 2", "I", released)
    owed = debt()
    report("payout failed", f"/v1/payouts/{second}/execution", "failed")
    assert 0 < debt() < owed  # the failed payout's money netted part of it
    before = {**refund, "sub_order_id": "G-1", "amount": "100.00"}
    paid_back = adjust("adjust: refund before shipment", "G", before)["instruction_id"]
    report("refund executed", f"/v1/instructions/{paid_back}/execution", "executed")
    shipped = {**refund, "sub_order_id": "H-1", "amount": "50.00"}
    returned = adjust("adjust: refund after shipment, before release", "H", shipped)
    failed = returned["instruction_id"]
    report("refund failed", f"/v1/instructions/{failed}/execution", "failed")
    retried = command("retry the refund", "marketplace", f"/v1/instructions/{failed}/retry", None)
    assert retried["retry_of"] == failed
    command("sign H", "marketplace", "/v1/orders/H/signing", None)
    command("confirm H", "buyer", "/v1/orders/H/confirmation", None)  # money for the next run
    assert debt() == 0
    tick("scheduled payout run", timedelta(days=1))


# ------------------------------------------------------------------------ after-sales
CUPS = [{"product_id": "P-cups", "quantity": 10}]  # 360.00


def after_sales(
    command: Callable[[str, str, str, Any], Any],
    tick: Callable[[str, timedelta], list[FiredTimer]],
) -> list[str]:
    """Open every case type, take every action and let every deadline run out, each on an
    order of its own (two released first, so refunds and a quick refund come back from the
    merchant); returns the labels of the case commands and of the ticks that timed a case
    out. Fails when a case type, an action or a deadline kind was left undriven."""
    opened: set[str] = set()
    acted: set[str] = set()
    timed_out: set[str] = set()
    labels: list[str] = []

    def order(order_id: str, lines: list[dict[str, Any]] = CUPS, *, confirm: bool = False) -> None:
        body = {"id": order_id, "buyer_id": "B-shop", "lines": lines}
        total = command(f"place {order_id}", "marketplace", "/v1/orders", body)["total"]
        command(
            f"pay {order_id}", "marketplace", f"/v1/orders/{order_id}/payment", {"amount": total}
        )
        shipment = {"carrier": "SF", "tracking_number": f"SF-{order_id}"}
        command(f"ship {order_id}", "merchant", f"/v1/orders/{order_id}/shipment", shipment)
        command(f"sign {order_id}", "marketplace", f"/v1/orders/{order_id}/signing", None)
        if confirm:
            command(f"confirm {order_id}", "buyer", f"/v1/orders/{order_id}/confirmation", None)

    def open_case(order_id: str, role: str, case_type: str, **fields: str) -> str:
        label = f"open {case_type} on {order_id}"
        body = {
            "id": f"{order_id}-C",
            "type": case_type,
            "sub_order_id": f"{order_id}-1",
            "reason": "after-sales",
            **fields,
        }
        case = command(label, role, f"/v1/orders/{order_id}/cases", body)
        opened.add(case_type)
        labels.append(label)
        return str(case["id"])

    def act(case_id: str, role: str, action: str, body: Any = None) -> Any:
        label = f"{role}: {action} {case_id}"
        answer = command(label, role, f"/v1/cases/{case_id}/{action}", body)
        acted.add(action)
        labels.append(label)
        return answer

    def time_out(label: str, advance: timedelta, *kinds: str) -> None:
        fired = {
            timer.kind
            for timer in tick(label, advance)
            if timer.kind in DEADLINES and not timer.outcome.startswith("skipped")
        }
        assert set(kinds) <= fired, (label, fired)
        timed_out.update(fired)
        labels.append(label)

    for order_id in ("K1", "K2", "K3", "K4", "K5", "K6", "K7", "K8", "K11", "K14"):
        order(order_id)
    order("K9", [{"product_id": "P-cups", "quantity": 100, "tier": "custom"}])
    order("K10", [{"product_id": "P-towels", "quantity": 2}])
    for order_id in ("K12", "K13"):
        order(order_id, confirm=True)  # released: refunds come back from the merchant

    complained = open_case("K1", "buyer", "refund_only_quality")
    act(complained, "buyer", "complain", {"note": "no answer"})
    act(complained, "operator", "expedite")  # the merchant's 36 hours become 12
    refused = open_case("K2", "buyer", "refund_only_not_received", amount="100.00")
    act(refused, "merchant", "offer", {"amount": "50.00"})
    act(refused, "buyer", "decline")
    act(refused, "merchant", "decline")  # refused after a round: the buyer may escalate
    unreviewed = open_case("K3", "buyer", "return_no_reason")
    never_sent = open_case("K4", "buyer", "return_quality")
    act(never_sent, "merchant", "accept")
    unanswered = open_case("K5", "buyer", "refund_only_quality")
    act(unanswered, "merchant", "offer", {"amount": "100.00"})
    uninspected = open_case("K6", "buyer", "return_no_reason")
    act(uninspected, "marketplace", "accept")
    act(uninspected, "buyer", "handover", {"carrier": "YTO", "tracking_number": "YT-K6"})
    act(uninspected, "marketplace", "arrival")
    unruled = open_case("K7", "buyer", "refund_only_quality")
    act(unruled, "merchant", "offer", {"amount": "10.00"})
    act(unruled, "buyer", "escalate")
    act(open_case("K8", "buyer", "refund_only_quality"), "buyer", "withdraw")
    custom = open_case("K9", "buyer", "custom_dispute", trigger="misprinted", amount="1000.00")
    act(custom, "merchant", "accept")  # refunded, and compensated by the platform
    claim = open_case("K10", "merchant", "transit_claim")
    act(claim, "operator", "ruling", {"result": "merchant", "note": "police report"})
    open_case("K11", "marketplace", "false_shipment")
    released = open_case("K12", "buyer", "refund_only_quality", amount="200.00")
    act(released, "merchant", "accept")  # a refund after release, from the merchant
    quick = open_case("K13", "buyer", "return_no_reason")
    act(quick, "merchant", "accept")
    act(quick, "buyer", "handover", {"official_logistics": True})
    # The pickup quick-refunds (after release: from the merchant) and pays the carrier.
    act(quick, "marketplace", "pickup", {"carrier": "ZTO", "freight": "30.00"})
    act(quick, "merchant", "arrival")
    act(quick, "merchant", "inspection", {"result": "ok"})
    ruled = open_case("K14", "buyer", "refund_only_quality")
    act(ruled, "merchant", "offer", {"amount": "10.00"})
    act(ruled, "merchant", "escalate")
    act(ruled, "operator", "ruling", {"result": "buyer", "amount": "100.00", "note": "photos"})

    time_out("case deadlines at 12 h", timedelta(hours=12, minutes=1), "case.merchant_answer")
    time_out("case deadlines at 24 h", timedelta(hours=12), "case.merchant_review")
    act(unreviewed, "marketplace", "handover", {"official_logistics": True})
    act(unreviewed, "marketplace", "pickup", {"carrier": "SF", "freight": "18.00"})
    act(unreviewed, "merchant", "arrival")
    act(unreviewed, "merchant", "inspection", {"result": "wrong_or_empty"})
    act(unreviewed, "operator", "ruling", {"result": "merchant", "note": "an empty box"})
    time_out("case deadlines at 48 h", timedelta(hours=24), "case.offer_response")
    time_out("case deadlines at 72 h", timedelta(hours=24), "case.ruling")
    time_out(
        "case deadlines at 7 days",
        timedelta(days=4, hours=1),
        "case.escalation_window",
        "case.handover",
        "case.inspection",
    )
    # Closed cases let their orders confirm and release (the held auto-confirmation).
    tick("auto-confirm after cases", timedelta(days=4))
    assert opened == set(CaseType), f"case types never opened: {set(CaseType) - opened}"
    assert set(ACTIONS) <= acted, f"case actions never driven: {set(ACTIONS) - acted}"
    assert set(DEADLINES) <= timed_out, f"deadlines never timed out: {set(DEADLINES) - timed_out}"
    return labels
