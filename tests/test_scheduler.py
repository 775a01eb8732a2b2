"""Timers fire exactly once: on time, with two schedulers, after a crash, after downtime."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from buyerguard.bootstrap import Runtime
from buyerguard.clock import SimulatedClock
from buyerguard.domain.orders import ConfirmedBy, OrderState
from buyerguard.scheduler import FiredTimer, Scheduler, retry_delay
from buyerguard.services import orders
from buyerguard.services.context import OPERATOR, Context
from buyerguard.services.records import order_decisions
from buyerguard.services.timers import DueTimer
from buyerguard.store import repositories
from buyerguard.store.tables import decisions, timers
from buyerguard.timer_kinds import TIMER_KINDS
from tests.test_order_service import MARKETPLACE, demo, place

__all__ = ["demo"]
TEN_DAYS = timedelta(days=10)


def signed_order(rt: Runtime, order_id: str) -> None:
    place(rt, order_id, ("P-cups", 1), shipping="0.00")
    with rt.writing(MARKETPLACE) as ctx:
        orders.pay_order(ctx, order_id, 3600)
        orders.ship_order(ctx, order_id, "sf", f"SF-{order_id}", True)
        orders.sign_order(ctx, order_id)


def state(rt: Runtime, order_id: str) -> OrderState:
    with rt.reading(OPERATOR) as ctx:
        return repositories.get_order(ctx.connection, order_id).state


def auto_confirmations(rt: Runtime) -> list[str]:
    with rt.reading(OPERATOR) as ctx:
        kinds = ctx.connection.execute(
            select(decisions.c.subject_id)
            .where(decisions.c.kind == "receipt_auto_confirmed")
            .order_by(decisions.c.ordinal)
        )
        return [subject_id for (subject_id,) in kinds]


def test_signed_order_is_confirmed_ten_days_later_once(
    demo: Runtime, clock: SimulatedClock
) -> None:
    signed_order(demo, "O1")
    signed_at = clock.now()
    scheduler = Scheduler(demo.engine, clock, demo.rulebooks)
    clock.advance(TEN_DAYS - timedelta(seconds=1))
    assert scheduler.tick() == []
    assert state(demo, "O1") is OrderState.SIGNED
    clock.advance(timedelta(seconds=1))
    fired = scheduler.tick()
    assert [(item.kind, item.outcome) for item in fired] == [
        (orders.AUTO_CONFIRM, "confirmed"),
        (orders.COMPLETE, "completed"),  # the 7-day return window closed before day 10
    ]
    with demo.reading(OPERATOR) as ctx:
        order = repositories.get_order(ctx.connection, "O1")
    assert order.confirmed_at == signed_at + TEN_DAYS
    assert order.confirmed_by is ConfirmedBy.AUTOMATIC
    assert order.state is OrderState.COMPLETED
    clock.advance(TEN_DAYS)
    assert scheduler.tick() == []
    assert auto_confirmations(demo) == ["O1"]


def test_scheduler_down_past_due_catches_up_as_of_due_instant(
    demo: Runtime, clock: SimulatedClock
) -> None:
    signed_order(demo, "O1")
    due = clock.now() + TEN_DAYS
    clock.advance(timedelta(days=45))  # the scheduler was down for weeks
    Scheduler(demo.engine, clock, demo.rulebooks).tick()
    with demo.reading(OPERATOR) as ctx:
        order = repositories.get_order(ctx.connection, "O1")
        rows = order_decisions(ctx.connection, "O1")
    assert order.state is OrderState.COMPLETED
    assert order.confirmed_at == due and order.completed_at == due
    assert all(row["occurred_at"] == due for row in rows if row["kind"] == "fee_charged")


def test_two_schedulers_fire_each_timer_once(demo: Runtime, clock: SimulatedClock) -> None:
    order_ids = [f"O{index}" for index in range(12)]
    for order_id in order_ids:
        signed_order(demo, order_id)
    clock.advance(TEN_DAYS)
    results: dict[str, list[FiredTimer]] = {}
    barrier = threading.Barrier(2)

    def run(name: str) -> None:
        scheduler = Scheduler(demo.engine, clock, demo.rulebooks, name=name)
        barrier.wait()
        results[name] = scheduler.tick()

    threads = [threading.Thread(target=run, args=(name,)) for name in ("alpha", "beta")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    fired = [item.timer_id for batch in results.values() for item in batch]
    assert sorted(fired) == sorted(
        [f"{orders.AUTO_CONFIRM}:{o}" for o in order_ids]
        + [f"{orders.COMPLETE}:{o}" for o in order_ids]
    )
    assert sorted(auto_confirmations(demo)) == sorted(order_ids)
    with demo.reading(OPERATOR) as ctx:
        statuses = {
            row.status
            for row in ctx.connection.execute(select(timers))
            if row.kind in (orders.AUTO_CONFIRM, orders.COMPLETE)
        }
    assert statuses == {"fired"}  # (the shipping promises were cancelled: shipped in time)


def test_a_crash_mid_timer_rolls_back_and_fires_again(
    demo: Runtime, clock: SimulatedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    signed_order(demo, "O1")
    clock.advance(TEN_DAYS)
    real = TIMER_KINDS[orders.AUTO_CONFIRM]
    handler = real.handler
    assert handler is not None

    def crash_after_work(ctx: Context, timer: DueTimer) -> str:
        handler(ctx, timer)
        raise RuntimeError("process died before commit")

    monkeypatch.setitem(TIMER_KINDS, orders.AUTO_CONFIRM, replace(real, handler=crash_after_work))
    failed = Scheduler(demo.engine, clock, demo.rulebooks).tick()
    assert [(item.kind, item.failed) for item in failed] == [(orders.AUTO_CONFIRM, True)]
    assert state(demo, "O1") is OrderState.SIGNED
    assert auto_confirmations(demo) == []
    monkeypatch.setitem(TIMER_KINDS, orders.AUTO_CONFIRM, real)
    restarted = Scheduler(demo.engine, clock, demo.rulebooks, name="restarted")
    assert restarted.tick() == []  # it waits out its back-off
    clock.advance(retry_delay(1))
    restarted.tick()
    assert state(demo, "O1") is OrderState.COMPLETED
    assert auto_confirmations(demo) == ["O1"]


def test_buyer_confirmation_cancels_the_timer(demo: Runtime, clock: SimulatedClock) -> None:
    signed_order(demo, "O1")
    with demo.writing(MARKETPLACE) as ctx:
        orders.confirm_order(ctx, "O1")
    clock.advance(TEN_DAYS)
    fired = Scheduler(demo.engine, clock, demo.rulebooks).tick()
    assert [item.kind for item in fired] == [orders.COMPLETE]
    assert auto_confirmations(demo) == []
    with demo.reading(OPERATOR) as ctx:
        row = ctx.connection.execute(
            select(timers).where(timers.c.id == f"{orders.AUTO_CONFIRM}:O1")
        ).one()
    assert row.status == "cancelled"


def test_completion_waits_for_the_return_window(demo: Runtime, clock: SimulatedClock) -> None:
    signed_order(demo, "O1")  # signed 2024-10-20 10:00 Shanghai
    with demo.writing(MARKETPLACE) as ctx:
        orders.confirm_order(ctx, "O1")
    scheduler = Scheduler(demo.engine, clock, demo.rulebooks)
    clock.set(clock.now().replace(day=27, hour=15, minute=59, second=59))  # 10-27 23:59:59 local
    assert scheduler.tick() == []
    clock.advance(timedelta(seconds=1))  # 10-28 00:00 Shanghai: the window has closed
    assert [item.outcome for item in scheduler.tick()] == ["completed"]
