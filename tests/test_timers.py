"""Timers v2: payloads, re-arming, back-off and dead letters, and late facts that win.

Each scenario of issue 12 on both databases: a failing handler is retried with
back-off and dead-lettered; failing timers at the head of the queue never
block a due one; a cancelled timer is scheduled again; `timers retry` re-arms
a dead letter; a confirmation reported late beats the automatic one while
the order's facts settle, and loses with 409 `superseded_by_timer` after.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from buyerguard.bootstrap import Runtime
from buyerguard.clock import SimulatedClock, format_instant
from buyerguard.errors import Conflict
from buyerguard.scheduler import Scheduler, retry_delay
from buyerguard.services.context import OPERATOR, Context
from buyerguard.services.timers import (
    TIMER_STATES,
    DueTimer,
    cancel_timer,
    list_timers,
    reschedule_timer,
    retry_timer,
    schedule_timer,
    settle_subject,
)
from buyerguard.store.tables import timers
from buyerguard.timer_kinds import TIMER_KINDS, TimerKind
from tests.conftest import Api

FLAKY = "test.flaky"


def timer_row(rt: Runtime, identifier: str) -> Any:
    with rt.reading(OPERATOR) as ctx:
        return ctx.connection.execute(select(timers).where(timers.c.id == identifier)).one()


def failing(ctx: Context, timer: DueTimer) -> str:
    raise RuntimeError(f"cannot handle {timer.subject_id}")


def echo(ctx: Context, timer: DueTimer) -> str:
    return f"handled {timer.subject_id} with {timer.payload}"


KINDS = {**TIMER_KINDS, FLAKY: TimerKind(failing), "test.echo": TimerKind(echo)}


def test_a_failing_timer_backs_off_then_is_dead_lettered_and_can_be_retried(
    rt: Runtime, clock: SimulatedClock
) -> None:
    with rt.writing(OPERATOR) as ctx:
        schedule_timer(ctx, FLAKY, "S1", ctx.now(), payload={"case": 7})
    scheduler = Scheduler(rt.engine, clock, rt.rulebooks, kinds=KINDS, max_attempts=3)
    first = scheduler.tick()
    assert [(item.timer_id, item.failed) for item in first] == [(f"{FLAKY}:S1", True)]
    row = timer_row(rt, f"{FLAKY}:S1")
    assert (row.status, row.attempts) == ("pending", 1)
    assert "cannot handle S1" in row.last_error
    assert scheduler.tick() == []  # backing off
    clock.advance(retry_delay(1) - timedelta(seconds=1))
    assert scheduler.tick() == []
    clock.advance(timedelta(seconds=1))
    assert [item.failed for item in scheduler.tick()] == [True]
    assert retry_delay(2) == 2 * retry_delay(1)
    clock.advance(retry_delay(2))
    assert "dead-lettered after 3 attempts" in scheduler.tick()[0].outcome
    assert timer_row(rt, f"{FLAKY}:S1").status == "failed"
    clock.advance(timedelta(days=30))
    assert scheduler.tick() == []  # a dead letter never runs again by itself
    with rt.reading(OPERATOR) as ctx:
        dead = list_timers(ctx.connection, state="failed", after=None, limit=10)
    assert [row["id"] for row in dead] == [f"{FLAKY}:S1"]
    with rt.writing(OPERATOR) as ctx:
        retry_timer(ctx, f"{FLAKY}:S1")
        with pytest.raises(Exception) as refused:
            retry_timer(ctx, f"{FLAKY}:S1")
    assert getattr(refused.value, "code", None) == "timer_not_failed"
    healed = {**KINDS, FLAKY: TimerKind(echo)}
    fired = Scheduler(rt.engine, clock, rt.rulebooks, kinds=healed).tick()
    assert [item.outcome for item in fired] == ["handled S1 with {'case': 7}"]


def test_failing_timers_at_the_head_never_block_a_due_one(
    rt: Runtime, clock: SimulatedClock
) -> None:
    with rt.writing(OPERATOR) as ctx:
        early = ctx.now() - timedelta(hours=1)
        schedule_timer(ctx, FLAKY, "A", early)
        schedule_timer(ctx, FLAKY, "B", early)
        schedule_timer(ctx, "test.echo", "C", ctx.now())
    scheduler = Scheduler(rt.engine, clock, rt.rulebooks, kinds=KINDS, batch_size=2)
    fired = scheduler.tick()
    assert [(item.subject_id, item.failed) for item in fired] == [
        ("A", True),
        ("B", True),
        ("C", False),
    ]


def test_a_timer_is_rescheduled_cancelled_and_scheduled_again(
    rt: Runtime, clock: SimulatedClock
) -> None:
    scheduler = Scheduler(rt.engine, clock, rt.rulebooks, kinds=KINDS)
    with rt.writing(OPERATOR) as ctx:
        schedule_timer(ctx, "test.echo", "S", ctx.now() + timedelta(hours=1))
        with pytest.raises(Conflict) as pending:
            schedule_timer(ctx, "test.echo", "S", ctx.now())
        reschedule_timer(ctx, "test.echo", "S", ctx.now() + timedelta(hours=2))
    assert pending.value.code == "timer_exists"
    clock.advance(timedelta(hours=1))
    assert scheduler.tick() == []  # moved to two hours
    with rt.writing(OPERATOR) as ctx:
        cancel_timer(ctx, "test.echo", "S", "no longer needed")
        schedule_timer(ctx, "test.echo", "S", ctx.now(), payload={"again": True})
    fired = scheduler.tick()
    assert [item.outcome for item in fired] == ["handled S with {'again': True}"]
    assert timer_row(rt, "test.echo:S").created_at == clock.now() - timedelta(hours=1)


def test_a_timer_of_an_unknown_kind_fails_and_is_dead_lettered(
    rt: Runtime, clock: SimulatedClock
) -> None:
    with rt.writing(OPERATOR) as ctx:
        schedule_timer(ctx, "test.nobody", "S", ctx.now())
    scheduler = Scheduler(rt.engine, clock, rt.rulebooks, kinds=KINDS, max_attempts=1)
    assert "no handler registered" in scheduler.tick()[0].outcome
    assert timer_row(rt, "test.nobody:S").status == "failed"


# ------------------------------------------------------------------ late facts
def reported(api: Api, path: str, occurred_at: str, body: dict[str, Any] | None = None) -> Any:
    return api.post("marketplace", path, {**(body or {}), "occurred_at": occurred_at})


def signed_twenty_days_ago(api: Api, order_id: str, now: datetime) -> None:
    """Facts reported now about an order placed 22 days ago and signed 20 days ago."""
    day = timedelta(days=1)
    lines = [{"product_id": "P-cups", "quantity": 10}]
    placed = {"id": order_id, "buyer_id": "B-shop", "lines": lines}
    assert reported(api, "/v1/orders", format_instant(now - 22 * day), placed).status_code == 201
    for path, body, ago in (
        ("payment", {"amount": "360.00"}, 21.5),
        ("shipment", {"carrier": "SF", "tracking_number": "SF1"}, 21),
        ("signing", None, 20),
    ):
        when = format_instant(now - ago * day)
        answer = reported(api, f"/v1/orders/{order_id}/{path}", when, body)
        assert answer.status_code == 200, answer.text


def test_a_late_confirmation_wins_while_the_facts_settle(
    api: Api, rt: Runtime, clock: SimulatedClock
) -> None:
    """Signing reported dated 20 days ago, then 2.5 s later the confirmation dated 15 days
    ago: the automatic confirmation (due at day 10, i.e. in the past) must not win."""
    now, day = clock.now(), timedelta(days=1)
    signed_twenty_days_ago(api, "O-late", now)
    scheduler = Scheduler(rt.engine, clock, rt.rulebooks)
    clock.advance(timedelta(seconds=2.5))
    assert scheduler.tick() == []  # due ten days ago, but the order's facts are settling
    confirmed_at = now - 15 * day
    answer = reported(api, "/v1/orders/O-late/confirmation", format_instant(confirmed_at))
    assert answer.status_code == 200, answer.text
    assert answer.json()["confirmed_at"] == format_instant(confirmed_at)
    decisions = api.get("marketplace", "/v1/orders/O-late/decisions").json()["items"]
    dated = {d["kind"]: d["occurred_at"] for d in decisions}
    assert dated["escrow_released"] == dated["fee_charged"] == format_instant(confirmed_at)
    assert "receipt_auto_confirmed" not in dated
    assert timer_row(rt, "order.auto_confirm:O-late").status == "cancelled"


def test_a_confirmation_after_the_facts_settled_is_superseded_by_the_timer(
    api: Api, rt: Runtime, clock: SimulatedClock
) -> None:
    now, day = clock.now(), timedelta(days=1)
    signed_twenty_days_ago(api, "O-slow", now)
    settling = timedelta(seconds=rt.rulebooks.at(now).orders.fact_settling_seconds)
    clock.advance(settling)
    fired = Scheduler(rt.engine, clock, rt.rulebooks).tick()
    assert [item.kind for item in fired] == ["order.auto_confirm", "order.complete"]
    late = reported(api, "/v1/orders/O-slow/confirmation", format_instant(now - 15 * day))
    assert late.status_code == 409
    assert late.json()["code"] == "superseded_by_timer"
    assert "receipt_auto_confirmed:O-slow" in late.json()["message"]


def test_the_dead_letters_are_listed_for_the_operator(
    api: Api, rt: Runtime, clock: SimulatedClock
) -> None:
    with rt.writing(OPERATOR) as ctx:
        schedule_timer(ctx, FLAKY, "S9", ctx.now(), payload={"n": 1})
    Scheduler(rt.engine, clock, rt.rulebooks, kinds=KINDS, max_attempts=1).tick()
    listed = api.get("operator", "/v1/timers?state=failed").json()
    assert [item["id"] for item in listed["items"]] == [f"{FLAKY}:S9"]
    item = listed["items"][0]
    assert item["state"] == "failed" and item["attempts"] == 1 and item["payload"] == {"n": 1}
    assert "cannot handle S9" in item["last_error"]
    bad = api.get("operator", "/v1/timers?state=zombie")
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_choice"
    assert api.get("marketplace", "/v1/timers").status_code == 403


def test_a_timer_moved_earlier_runs_earlier(rt: Runtime, clock: SimulatedClock) -> None:
    with rt.writing(OPERATOR) as ctx:
        schedule_timer(ctx, "test.echo", "E", ctx.now() + timedelta(hours=5))
        reschedule_timer(ctx, "test.echo", "E", ctx.now() + timedelta(hours=1))
    clock.advance(timedelta(hours=2))
    fired = Scheduler(rt.engine, clock, rt.rulebooks, kinds=KINDS).tick()
    assert [item.subject_id for item in fired] == ["E"]


def test_a_failed_attempt_never_cuts_a_settling_subject_short(
    rt: Runtime, clock: SimulatedClock
) -> None:
    """A fact about the subject commits while an attempt is failing: recording the failure
    keeps the later of the back-off and the subject's settling (found in review)."""
    with rt.writing(OPERATOR) as ctx:
        schedule_timer(ctx, FLAKY, "S", ctx.now())
    scheduler = Scheduler(rt.engine, clock, rt.rulebooks, kinds=KINDS)
    with rt.writing(OPERATOR) as ctx:  # the concurrent fact: S settles for an hour
        settle_subject(ctx, "S", timedelta(hours=1))
    failure = scheduler._record_failure(f"{FLAKY}:S", clock.now(), RuntimeError("boom"))
    assert failure is not None and failure.failed
    row = timer_row(rt, f"{FLAKY}:S")
    assert (row.attempts, row.available_at) == (1, clock.now() + timedelta(hours=1))


def test_every_timer_state_is_named_where_the_state_is_described(api: Api) -> None:
    """`running` (a heavy job under its lease) is accepted by `state=` and shown as a timer's
    state, yet `GET /v1/timers`, the `Timer` schema and `timers list --state` named only
    pending, fired, cancelled and failed (found by a tester): they name every state."""
    import typer

    from buyerguard.cli import app

    document = api.client.get("/openapi.json").json()
    (query,) = [
        item
        for item in document["paths"]["/v1/timers"]["get"]["parameters"]
        if item["name"] == "state"
    ]
    shown = document["components"]["schemas"]["Timer"]["properties"]["state"]
    command: Any = typer.main.get_command(app)  # the groups are Typer's, not click's
    (option,) = [
        item for item in command.commands["timers"].commands["list"].params if item.name == "state"
    ]
    for described in (query["description"], shown["description"], option.help or ""):
        assert all(state in described for state in TIMER_STATES), described
