"""Every command takes its row locks in the documented order (docs/architecture.md).

A statement hook records, per transaction, each table whose rows the
transaction locks (`UPDATE`, `SELECT … FOR UPDATE`, the claiming inserts);
the test then drives every command kind — the API's facts, the catalogue,
the scheduler's timers, and money out (adjustments of each kind, execution
reports, retries, payout runs on demand and scheduled, payout settings) — and
asserts that no transaction ever takes a lock that ranks below one it already
holds, that the locks of a transaction of their own come alone, and that
ledger accounts are taken in account-id order. Two transactions that respect
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
from buyerguard.money import parse_yuan
from buyerguard.rulebook import rulebooks
from buyerguard.scheduler import Scheduler
from buyerguard.store.db import make_engine
from buyerguard.store.shipment_history import ShipmentHistory
from tests.conftest import Api, assert_ledger_checks, reset_postgres, serving_demo
from tests.test_api import NEW_BUYER, NEW_MERCHANT, NEW_PRODUCT

# The documented order, lowest first; a row of a table not named here is an undocumented lock.
LOCK_ORDER = (
    "idempotency_keys",
    "merchant_payout_settings",  # PUT /v1/merchants/{id}/payout-settings, after its key only
    "orders",
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
ORDER_CHILDREN = {"sub_orders": "orders"}  # an order's lines are locked with the order
# Inserts that may wait on a row: another transaction inserting the same key.
CLAIMING_INSERTS = {
    "idempotency_keys",
    "ledger_accounts",
    "merchant_payout_settings",
    "payout_runs",
}
_UPDATE = re.compile(r"\bupdate\s+(\w+)\s+set\b", re.IGNORECASE)  # also `WITH … UPDATE`
_INSERT = re.compile(r"^\s*insert\s+into\s+(\w+)", re.IGNORECASE)
_LOCKING_SELECT = re.compile(r"\bfrom\s+(\w+)\b.*\bfor\s+update\b", re.IGNORECASE | re.DOTALL)


def locked_table(statement: str) -> str | None:
    if (
        (match := _UPDATE.search(statement))
        or ((match := _INSERT.match(statement)) and match.group(1) in CLAIMING_INSERTS)
        or (match := _LOCKING_SELECT.search(statement))
    ):
        table = match.group(1)
    else:
        return None
    return ORDER_CHILDREN.get(table, table)


class LockRecorder:
    """Per transaction, the tables locked, in the order the locks were taken."""

    def __init__(self) -> None:
        self.open: dict[int, list[str]] = {}
        self.accounts: dict[int, list[str]] = {}
        self.finished: list[tuple[str, list[str]]] = []
        self.account_orders: list[tuple[str, list[str]]] = []
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
            parameters = args[2] if isinstance(args[2], dict) else {}
            for name, value in parameters.items():
                account_id = name == "id" or name.startswith("id_")
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
    or a lock of its own transaction taken with others."""
    for table, allowed in ONLY_WITH.items():
        if table in taken and not set(taken) <= allowed:
            return f"{table} with {sorted(set(taken) - allowed)}"
    held: set[str] = set()
    highest = -1
    for table in taken:
        assert table in LOCK_ORDER, f"undocumented lock on {table}: add it to the lock order"
        if table in held:
            continue
        rank = LOCK_ORDER.index(table)
        if rank < highest:
            return f"{table} after {LOCK_ORDER[highest]}"
        held.add(table)
        highest = rank
    return None


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

        def tick(label: str, advance: timedelta) -> None:
            recorder.label = label
            clock.advance(advance)
            scheduler.tick()

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
        recorder.label = "read the feed"
        assert api.get("marketplace", "/v1/events").status_code == 200
    assert states == {"A": "completed", "B": "completed"}
    accounts_out_of_order = [
        (label, taken) for label, taken in recorder.account_orders if taken != sorted(taken)
    ]
    assert accounts_out_of_order == []
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
    wrong = [
        (label, problem, taken)
        for label, taken in transactions
        if (problem := out_of_order(taken)) is not None
    ]
    assert wrong == []


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
    tick: Callable[[str, timedelta], None],
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
