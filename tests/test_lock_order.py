"""Every command takes its row locks in the documented order (docs/architecture.md).

A statement hook records, per transaction, each table whose rows the
transaction locks (`UPDATE`, `SELECT … FOR UPDATE`, the claiming inserts);
the test then drives every command kind — the API's facts, the catalogue,
and the scheduler's timers — and asserts that no transaction ever takes a
lock that ranks below one it already holds, and that ledger accounts are
taken in account-id order. Two transactions that respect one order can wait
for each other but never deadlock. PostgreSQL only: it is
where row locks exist (SQLite has one writer).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event

from buyerguard.bootstrap import Runtime
from buyerguard.clock import SimulatedClock
from buyerguard.rulebook import rulebooks
from buyerguard.scheduler import Scheduler
from buyerguard.store.db import make_engine
from buyerguard.store.shipment_history import ShipmentHistory
from tests.conftest import assert_ledger_checks, reset_postgres, serving_demo
from tests.test_api import NEW_BUYER, NEW_MERCHANT, NEW_PRODUCT

# The documented order, lowest first; a row of a table not named here is an undocumented lock.
LOCK_ORDER = (
    "idempotency_keys",
    "orders",
    "timers",
    "merchant_badges",
    "ledger_accounts",
    "decisions",  # only the feed sequencer's own transaction (services/feed.py)
)
ORDER_CHILDREN = {"sub_orders": "orders"}  # an order's lines are locked with the order
CLAIMING_INSERTS = {"idempotency_keys", "ledger_accounts"}  # inserts that may wait on a row
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
    """The first lock taken after one of a higher rank, if any (re-taking a held lock is fine)."""
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

        def command(label: str, role: str, path: str, body: Any = None) -> None:
            recorder.label = label
            answer = api.post(role, path, body, key=f"key-{label}")
            assert answer.status_code in (200, 201), (label, answer.text)

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
    for expected in ("pay A", "refund part of C", "confirm A", "cancel D"):
        assert expected in labels
    locked = {table for _, taken in transactions for table in taken}
    assert {"orders", "timers", "ledger_accounts", "decisions"} <= locked
    wrong = [
        (label, problem, taken)
        for label, taken in transactions
        if (problem := out_of_order(taken)) is not None
    ]
    assert wrong == []
