"""Contention between clients is never a 500: retried inside the command, else 503 + Retry-After.

Real locks on real databases: a PostgreSQL deadlock that the command loses
and survives by retrying, and a lock held past every try (SQLite's one
writer, PostgreSQL's lock_timeout) that answers 503 and writes nothing.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from buyerguard.api.runtime import execute_command
from buyerguard.bootstrap import CommandSlots, Runtime
from buyerguard.clock import SimulatedClock
from buyerguard.errors import Busy
from buyerguard.rulebook import rulebooks
from buyerguard.services.context import OPERATOR, Context
from buyerguard.store.db import make_engine
from buyerguard.store.shipment_history import ShipmentHistory
from tests.conftest import Api, assert_ledger_checks, reset_postgres, serving_demo
from tests.test_api import ORDER, assert_refused, row_counts

PAYMENT = {"amount": "5380.00"}


@pytest.fixture
def postgres_rt(postgres_url: str, clock: SimulatedClock, tmp_path: Path) -> Iterator[Runtime]:
    """PostgreSQL only: SQLite has one writer, so no deadlock can form there."""
    engine = make_engine(postgres_url)
    reset_postgres(engine)
    yield Runtime(engine, clock, rulebooks(), ShipmentHistory(tmp_path / "data"))
    assert_ledger_checks(engine)
    engine.dispose()


@pytest.mark.parametrize("backend", ["postgres"])
def test_a_deadlocked_payment_is_retried_and_succeeds(backend: str, postgres_rt: Runtime) -> None:
    """The payment locks its order, then waits on the merchant's escrow account that
    another transaction is creating; that transaction then asks for the order: a real
    deadlock, which PostgreSQL breaks by aborting the payment (it waited first). The
    command retries and succeeds."""
    with serving_demo(postgres_rt) as api:
        deadlock_a_payment(api, postgres_rt)


def deadlock_a_payment(api: Api, rt: Runtime) -> None:
    assert api.post("marketplace", "/v1/orders", ORDER).status_code == 201
    answers: list[Any] = []
    with rt.engine.connect() as other, rt.engine.connect() as watcher:
        other.execute(text("SET deadlock_timeout = '10s'"))  # the payment detects it first
        other_pid = other.execute(text("SELECT pg_backend_pid()")).scalar_one()
        other.execute(
            text(
                "INSERT INTO ledger_accounts VALUES ('merchant:M-yiwu:escrow', 'merchant:M-yiwu', "
                "'escrow', true, false, 0, 0, 0, 0, now())"
            )
        )
        payer = threading.Thread(
            target=lambda: answers.append(
                api.post("marketplace", "/v1/orders/O-1/payment", PAYMENT, key="pay")
            )
        )
        payer.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            waiting = watcher.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND pid <> :pid AND datname = current_database()"
                ),
                {"pid": other_pid},
            ).scalar_one()
            watcher.rollback()
            if waiting:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the payment never waited on the escrow account being created")
        # Closes the cycle; returns once PostgreSQL has aborted the payment's first try.
        other.execute(text("SELECT id FROM orders WHERE id = 'O-1' FOR UPDATE"))
        other.rollback()
        payer.join(timeout=30)
    assert len(answers) == 1
    assert answers[0].status_code == 200, answers[0].text
    assert answers[0].json()["state"] == "paid"
    kinds = [item["kind"] for item in api.get("marketplace", "/v1/events").json()["items"]]
    assert kinds == ["escrow_held", "escrow_held"]


@pytest.fixture
def impatient_api(
    engine: Engine, clock: SimulatedClock, tmp_path: Path
) -> Iterator[tuple[Api, Runtime]]:
    """The app on an engine that gives up on a held lock after 50 ms."""
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "sqlite":
        impatient = make_engine(url, sqlite_busy_timeout_ms=50)
    else:
        impatient = make_engine(url, connect_args={"options": "-c lock_timeout=50"})
    rt = Runtime(impatient, clock, rulebooks(), ShipmentHistory(tmp_path / "data"))
    with serving_demo(rt) as api:
        yield api, rt
    impatient.dispose()


def test_a_lock_held_past_every_try_is_503_with_retry_after(
    impatient_api: tuple[Api, Runtime], engine: Engine
) -> None:
    api, rt = impatient_api
    assert api.post("marketplace", "/v1/orders", ORDER).status_code == 201
    before = row_counts(rt)
    if engine.dialect.name == "sqlite":
        holder = sqlite3.connect(rt.engine.url.database or "", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # SQLite's one write lock, held throughout
        release = holder.rollback
    else:
        connection = engine.connect()
        connection.execute(text("SELECT id FROM orders WHERE id = 'O-1' FOR UPDATE"))

        def release() -> None:
            connection.rollback()
            connection.close()

    try:
        busy = api.post("marketplace", "/v1/orders/O-1/payment", PAYMENT, key="pay")
        assert_refused(busy, 503, "database_busy")
        assert busy.headers["Retry-After"] == "1"
    finally:
        release()
    assert row_counts(rt) == before
    # Nothing was stored under the key: the same request now goes through.
    again = api.post("marketplace", "/v1/orders/O-1/payment", PAYMENT, key="pay")
    assert again.status_code == 200, again.text
    assert "idempotent-replayed" not in again.headers


def deadlocks_so_far(engine: Engine) -> int:
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_stat_clear_snapshot()"))
        return int(
            connection.execute(
                text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
            ).scalar_one()
        )


@pytest.mark.parametrize("backend", ["postgres"])
def test_payments_and_confirmations_at_once_never_deadlock(
    backend: str, postgres_rt: Runtime
) -> None:
    """Payments and confirmations of different orders, sent in pairs at the same instant,
    all succeed without PostgreSQL ever detecting a deadlock: every command takes its
    order row, then all its ledger accounts in id order (a probe once found payment
    taking escrow before the feed row, confirmation the feed row before escrow)."""
    pairs = 12
    line = [{"product_id": "P-cups", "quantity": 1}]
    with serving_demo(postgres_rt) as api:
        for index in range(pairs):
            for name in (f"A{index}", f"B{index}"):
                placed = {"id": name, "buyer_id": "B-shop", "lines": line}
                assert api.post("marketplace", "/v1/orders", placed).status_code == 201
            facts: tuple[tuple[str, Any], ...] = (
                ("payment", {"amount": "36.00"}),
                ("shipment", {"carrier": "SF", "tracking_number": "T1"}),
                ("signing", None),
            )
            for suffix, body in facts:
                answer = api.post("marketplace", f"/v1/orders/B{index}/{suffix}", body)
                assert answer.status_code == 200, answer.text
        before = deadlocks_so_far(postgres_rt.engine)
        statuses: list[int] = []

        def send(path: str, body: Any, barrier: threading.Barrier) -> None:
            barrier.wait(timeout=30)
            statuses.append(api.post("marketplace", path, body).status_code)

        for index in range(pairs):
            barrier = threading.Barrier(2)
            threads = [
                threading.Thread(
                    target=send, args=(f"/v1/orders/A{index}/payment", {"amount": "36.00"}, barrier)
                ),
                threading.Thread(
                    target=send, args=(f"/v1/orders/B{index}/confirmation", None, barrier)
                ),
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
    assert statuses == [200] * (2 * pairs)
    time.sleep(1.5)  # backends publish their counters at most once a second
    assert deadlocks_so_far(postgres_rt.engine) == before


def test_an_exhausted_connection_pool_is_503_not_500(
    engine: Engine, clock: SimulatedClock, tmp_path: Path
) -> None:
    """Every pooled connection held by other work: the caller is told to retry."""
    url = engine.url.render_as_string(hide_password=False)
    small = make_engine(url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    rt = Runtime(small, clock, rulebooks(), ShipmentHistory(tmp_path / "data"))
    with serving_demo(rt) as api:
        held = small.connect()
        try:
            busy = api.get("marketplace", "/v1/orders")
            assert_refused(busy, 503, "database_busy")
            assert busy.headers["Retry-After"] == "1"
        finally:
            held.close()
        assert api.get("marketplace", "/v1/orders").status_code == 200
    small.dispose()


@pytest.mark.parametrize("backend", ["postgres"])
def test_eight_threads_paying_confirming_refunding_cancelling_all_succeed(
    backend: str, postgres_rt: Runtime
) -> None:
    """Eight clients at once, each on orders of its own: every request succeeds
    (no 5xx, no concurrent_conflict, no 503) and the ledger checks afterwards."""
    threads_count, rounds = 8, 6
    line = [{"product_id": "P-cups", "quantity": 1}]
    kinds = ("pay", "confirm", "refund", "cancel")
    with serving_demo(postgres_rt) as api:
        work: list[list[tuple[str, Any]]] = []
        for worker in range(threads_count):
            kind = kinds[worker % len(kinds)]
            calls = []
            for index in range(rounds):
                order_id = f"W{worker}-{index}"
                placed = {"id": order_id, "buyer_id": "B-shop", "lines": line}
                assert api.post("marketplace", "/v1/orders", placed).status_code == 201
                steps: list[tuple[str, Any]] = []
                if kind in ("confirm", "refund"):
                    steps.append(("payment", {"amount": "36.00"}))
                if kind == "confirm":
                    steps += [
                        ("shipment", {"carrier": "SF", "tracking_number": "T"}),
                        ("signing", None),
                    ]
                for suffix, body in steps:
                    answer = api.post("marketplace", f"/v1/orders/{order_id}/{suffix}", body)
                    assert answer.status_code == 200, answer.text
                final = {
                    "pay": ("payment", {"amount": "36.00"}),
                    "confirm": ("confirmation", None),
                    "refund": ("refund-before-shipment", None),
                    "cancel": ("cancellation", None),
                }[kind]
                calls.append((f"/v1/orders/{order_id}/{final[0]}", final[1]))
            work.append(calls)
        barrier = threading.Barrier(threads_count)
        statuses: list[tuple[int, str]] = []

        def client(calls: list[tuple[str, Any]]) -> None:
            barrier.wait(timeout=30)
            for path, body in calls:
                answer = api.post("marketplace", path, body)
                statuses.append((answer.status_code, answer.text[:200]))

        threads = [threading.Thread(target=client, args=(calls,)) for calls in work]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert len(statuses) == threads_count * rounds
    assert [status for status in statuses if status[0] != 200] == []


@pytest.mark.parametrize("backend", ["postgres"])
@pytest.mark.parametrize(("limit", "concurrent"), [(1, False), (2, True)])
def test_commands_beyond_the_limit_wait_before_their_transaction(
    limit: int, concurrent: bool, backend: str, postgres_rt: Runtime
) -> None:
    """With `commands_per_worker` 1 a second command does not start while the first is in
    its transaction; with 2 it does (PostgreSQL: SQLite's one writer would queue it anyway)."""
    rt = replace(postgres_rt, command_slots=CommandSlots(limit))
    first_started, release, second_started = (threading.Event() for _ in range(3))

    def first(ctx: Context) -> tuple[int, Any]:
        ctx.connection.execute(text("SELECT 1"))  # its transaction is open
        first_started.set()
        assert release.wait(10)
        return 200, {}

    def second(_ctx: Context) -> tuple[int, Any]:
        second_started.set()
        return 200, {}

    threads = [
        threading.Thread(target=execute_command, args=(rt, OPERATOR, "POST /t", None, None, run))
        for run in (first, second)
    ]
    threads[0].start()
    assert first_started.wait(10)
    threads[1].start()
    try:
        assert second_started.wait(1.0) is concurrent
    finally:
        release.set()
        for thread in threads:
            thread.join(10)
    assert second_started.is_set() and not any(thread.is_alive() for thread in threads)


@pytest.mark.parametrize("backend", ["postgres"])
def test_a_command_that_finds_no_place_in_time_is_busy_and_writes_nothing(
    backend: str, postgres_rt: Runtime
) -> None:
    rt = replace(postgres_rt, command_slots=CommandSlots(1, wait_seconds=0.2))
    started, release = threading.Event(), threading.Event()

    def held(ctx: Context) -> tuple[int, Any]:
        ctx.connection.execute(text("SELECT 1"))
        started.set()
        assert release.wait(10)
        return 200, {}

    def never(_ctx: Context) -> tuple[int, Any]:
        raise AssertionError("ran without a place")

    holder = threading.Thread(
        target=execute_command, args=(rt, OPERATOR, "POST /t", None, None, held)
    )
    holder.start()
    try:
        assert started.wait(10)
        with pytest.raises(Busy) as refused:
            execute_command(rt, OPERATOR, "POST /t", "k-1", None, never)
        assert (refused.value.code, refused.value.status_code) == ("worker_busy", 503)
    finally:
        release.set()
        holder.join(10)
    with rt.reading(OPERATOR) as ctx:
        keys = ctx.connection.execute(text("SELECT count(*) FROM idempotency_keys"))
        assert keys.scalar_one() == 0
