"""One scheduler pass leaves nothing due that it could have fired (issue 15's finding).

`buyerguard scheduler run --once` promises: every timer available when the pass
starts, and every timer a firing in the pass arms for an instant the pass has
reached, has fired (or failed with its error recorded) when the pass ends. A
timer that only falls available by the passing of time during the pass waits for
the next one, so a pass ends even while new timers keep falling due.

The after-sales benchmark found 52 timers left due after one pass on PostgreSQL:
an auto-confirmation (or completion) held by an open case is re-armed by the
case's timeout "now", and on a wall clock that is after the instant the pass
started. A `WallClock` here moves on every reading, as the machine's clock does
while a pass runs; the simulated clock the other tests use stands still.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from buyerguard.bootstrap import Runtime
from buyerguard.clock import SimulatedClock
from buyerguard.domain.orders import OrderState
from buyerguard.scheduler import MAX_FIRINGS_PER_PASS, Scheduler
from buyerguard.services import case_opening, orders
from buyerguard.services.context import OPERATOR, Actor, Context, Role
from buyerguard.services.timers import DueTimer, schedule_timer
from buyerguard.store import repositories
from buyerguard.store.case_repository import get_case
from buyerguard.store.tables import timers
from buyerguard.timer_kinds import TIMER_KINDS, TimerKind
from tests.test_order_service import MARKETPLACE, demo, place

__all__ = ["demo"]
BUYER = Actor(Role.BUYER, "B-shop")
PER_FLOW = 4  # orders of each flow in the reproduction


class WallClock(SimulatedClock):
    """A clock that moves on by `step` each time it is read, like the machine's during a
    pass (the scheduler and its handlers read it dozens of times per timer)."""

    def __init__(self, start: datetime, step: timedelta = timedelta(milliseconds=1)) -> None:
        super().__init__(start)
        self.step = step

    def now(self) -> datetime:
        return self.advance(self.step)


@dataclass(frozen=True)
class LeftDue:
    """A timer still due after the pass, as an operator would group them."""

    kind: str
    status: str
    attempts: int
    last_error: str | None
    armed: str  # "before the pass" or "during the pass" (due after the pass started)


def left_due(rt: Runtime, now: datetime, pass_started: datetime) -> Counter[LeftDue]:
    """Timers pending (or running) and available by `now`, grouped."""
    with rt.reading(OPERATOR) as ctx:
        rows = ctx.connection.execute(
            select(timers).where(
                timers.c.status.in_(("pending", "running")), timers.c.available_at <= now
            )
        ).all()
    return Counter(
        LeftDue(
            row.kind,
            row.status,
            row.attempts,
            row.last_error,
            "during the pass" if row.due_at > pass_started else "before the pass",
        )
        for row in rows
    )


def shipped(rt: Runtime, order_id: str, *, sign: bool = True) -> str:
    place(rt, order_id, ("P-cups", 1), shipping="0.00")
    with rt.writing(MARKETPLACE) as ctx:
        orders.pay_order(ctx, order_id, 3600)
        orders.ship_order(ctx, order_id, "sf", f"SF-{order_id}", True)
        if sign:
            orders.sign_order(ctx, order_id)
    return f"{order_id}-1"


def open_case(rt: Runtime, order_id: str, case_type: str, amount_fen: int | None = None) -> str:
    with rt.writing(BUYER) as ctx:
        command = case_opening.OpenCase(
            type=case_type,
            sub_order_id=f"{order_id}-1",
            reason="cracked" if "quality" in case_type else "changed my mind",
            amount_fen=amount_fen,
            case_id=f"case-{order_id}",
        )
        return case_opening.open_case(ctx, order_id, command).id


def order_state(rt: Runtime, order_id: str) -> OrderState:
    with rt.reading(OPERATOR) as ctx:
        return repositories.get_order(ctx.connection, order_id).state


def case_end(rt: Runtime, case_id: str) -> tuple[str, str | None]:
    with rt.reading(OPERATOR) as ctx:
        case = get_case(ctx.connection, case_id)
    return case.state.value, case.outcome.value if case.outcome else None


def test_one_pass_fires_the_steps_a_timeout_re_arms(demo: Runtime, clock: SimulatedClock) -> None:
    """The benchmark's flows in miniature, all due when one pass starts on a moving clock:

    held: signed; a quality refund-only opened on day 9 holds the auto-confirmation (day 10)
      until the merchant's 36 hours run out (day 10.5) and grant it; the timeout re-arms
      the auto-confirmation, whose confirmation arms the completion;
    after release: confirmed at once; a quality refund-only opened on day 7.5 holds the
      completion (the window closes on day 8) until its timeout re-arms it;
    review timed out: a return the merchant never reviews is approved on timeout (day 2)
      and the buyer never hands it over: that deadline, set by the timeout, fell due on
      day 9, before the auto-confirmation, so it closes the case first and the order is
      confirmed as of day 10 (a pass that fired its first batch through before looking
      again fired the auto-confirmation first: held, and re-armed "now" too);
    never arrived: a refund-only on an unsigned order, granted on timeout (control).
    """
    flows = ("held", "after release", "review timed out", "never arrived")
    ids = {flow: [f"{flow[:2].upper()}{n}" for n in range(PER_FLOW)] for flow in flows}
    for order_id in ids["held"] + ids["review timed out"]:
        shipped(demo, order_id)
    for order_id in ids["after release"]:
        shipped(demo, order_id)
        with demo.writing(MARKETPLACE) as ctx:
            orders.confirm_order(ctx, order_id)
    for order_id in ids["never arrived"]:
        shipped(demo, order_id, sign=False)
    clock.advance(timedelta(days=1))
    for order_id in ids["review timed out"]:
        open_case(demo, order_id, "return_no_reason")
    for order_id in ids["never arrived"]:
        open_case(demo, order_id, "refund_only_not_received")
    clock.advance(timedelta(days=6, hours=12))  # day 7.5: the return window closes at day 8
    for order_id in ids["after release"]:
        open_case(demo, order_id, "refund_only_quality", amount_fen=1000)
    clock.advance(timedelta(days=1, hours=12))  # day 9
    for order_id in ids["held"]:
        open_case(demo, order_id, "refund_only_quality", amount_fen=1000)
    clock.advance(timedelta(days=3))  # day 12: every deadline above has passed

    started = clock.now()
    wall = WallClock(started)
    fired = Scheduler(demo.engine, wall, demo.rulebooks, name="pass").tick()

    left = left_due(demo, wall.now(), started)
    assert not left, "left due after one pass:\n" + "\n".join(
        f"{count} x {group}" for group, count in sorted(left.items(), key=str)
    )
    assert not any(item.failed for item in fired)
    for flow in ("held", "after release", "review timed out"):
        assert {order_state(demo, o) for o in ids[flow]} == {OrderState.COMPLETED}, flow
    expected_ends = {
        "held": ("closed", "granted_on_timeout"),
        "after release": ("closed", "granted_on_timeout"),
        "review timed out": ("closed", "closed_on_timeout"),
        "never arrived": ("closed", "granted_on_timeout"),
    }
    for flow, end in expected_ends.items():
        assert {case_end(demo, f"case-{o}") for o in ids[flow]} == {end}, flow
    firings = Counter(item.timer_id for item in fired)
    assert {firings[f"{orders.AUTO_CONFIRM}:{o}"] for o in ids["held"]} == {2}  # held, resumed
    assert {firings[f"{orders.COMPLETE}:{o}"] for o in ids["after release"]} == {2}
    assert {firings[f"{orders.AUTO_CONFIRM}:{o}"] for o in ids["review timed out"]} == {1}
    with demo.reading(OPERATOR) as ctx:
        confirmed = {
            repositories.get_order(ctx.connection, o).confirmed_at for o in ids["review timed out"]
        }
    assert confirmed == {started - timedelta(days=2)}  # signed on day 0, confirmed on day 10


# ------------------------------------------------------- the promise, kind by kind
ARMS = "test.arms"
ARMED = "test.armed"
LATER = "test.later"
AGAIN = "test.again"


def arms(ctx: Context, timer: DueTimer) -> str:
    """Arms one timer for now (due by the time the handler commits) and one for an hour on."""
    schedule_timer(ctx, ARMED, timer.subject_id, ctx.now())
    schedule_timer(ctx, LATER, timer.subject_id, ctx.now() + timedelta(hours=1))
    return "armed two"


def armed(ctx: Context, timer: DueTimer) -> str:
    return f"fired as of {timer.due_at.isoformat()}"


def again(ctx: Context, timer: DueTimer) -> str:
    """A faulty handler that re-arms its own timer for now, every time."""
    schedule_timer(ctx, AGAIN, timer.subject_id, ctx.now())
    return "again"


KINDS = {
    **TIMER_KINDS,
    ARMS: TimerKind(arms),
    ARMED: TimerKind(armed),
    LATER: TimerKind(armed),
    AGAIN: TimerKind(again),
}


def statuses(rt: Runtime) -> dict[str, str]:
    with rt.reading(OPERATOR) as ctx:
        return {row.id: row.status for row in ctx.connection.execute(select(timers))}


def test_a_timer_armed_for_now_by_a_firing_fires_in_the_same_pass(
    rt: Runtime, clock: SimulatedClock
) -> None:
    with rt.writing(OPERATOR) as ctx:
        schedule_timer(ctx, ARMS, "S1", ctx.now())
        # Falls available half a second into the pass, armed by nobody in it: it waits
        # for the next pass, so a pass never chases the clock.
        schedule_timer(ctx, ARMED, "S2", ctx.now() + timedelta(milliseconds=500))
    wall = WallClock(clock.now(), step=timedelta(milliseconds=100))
    fired = Scheduler(rt.engine, wall, rt.rulebooks, kinds=KINDS).tick()
    assert [item.timer_id for item in fired] == [f"{ARMS}:S1", f"{ARMED}:S1"]
    with rt.reading(OPERATOR) as ctx:
        follow_up_fired_at = ctx.connection.execute(
            select(timers.c.fired_at).where(timers.c.id == f"{ARMED}:S1")
        ).scalar_one()
    assert follow_up_fired_at > clock.now() + timedelta(milliseconds=500)  # S2 was available
    assert statuses(rt) == {
        f"{ARMS}:S1": "fired",
        f"{ARMED}:S1": "fired",
        f"{LATER}:S1": "pending",  # an hour on: not due
        f"{ARMED}:S2": "pending",
    }
    clock.set(wall.now())
    assert [
        item.timer_id for item in Scheduler(rt.engine, clock, rt.rulebooks, kinds=KINDS).tick()
    ] == [f"{ARMED}:S2"]


def test_a_handler_that_keeps_re_arming_its_timer_cannot_hold_a_pass(
    rt: Runtime, clock: SimulatedClock
) -> None:
    with rt.writing(OPERATOR) as ctx:
        schedule_timer(ctx, AGAIN, "S1", ctx.now())
    for moving in (False, True):  # the standing clock found it due again; the moving one armed it
        pass_clock = WallClock(clock.now()) if moving else clock
        fired = Scheduler(rt.engine, pass_clock, rt.rulebooks, kinds=KINDS).tick()
        assert [item.outcome for item in fired] == ["again"] * MAX_FIRINGS_PER_PASS
        assert statuses(rt) == {f"{AGAIN}:S1": "pending"}  # for the next pass
        clock.set(pass_clock.now())


def broken_upkeep(ctx: Context) -> None:
    raise RuntimeError("a recurring job that cannot keep its timer")


def test_a_recurring_job_that_cannot_keep_its_timer_holds_up_nothing_else(
    rt: Runtime, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Every recurring job kept its timer in one transaction at the start of a pass: one
    that raised (a bug, a rulebook it could not read) failed the whole pass, so no other
    job was kept scheduled and no timer fired, tick after tick. Each now keeps its own:
    the broken one is logged, the rest of the pass runs."""
    kinds = {"test.broken": TimerKind(armed, keep_scheduled=broken_upkeep), **KINDS}
    with rt.writing(OPERATOR) as ctx:
        schedule_timer(ctx, ARMED, "S1", ctx.now())
    with caplog.at_level("ERROR", logger="buyerguard.scheduler"):
        fired = Scheduler(rt.engine, clock, rt.rulebooks, kinds=kinds, recurring=True).tick()
    assert f"{ARMED}:S1" in [item.timer_id for item in fired]
    assert "could not keep the recurring test.broken scheduled" in caplog.text
    kept = statuses(rt)
    for kind, spec in TIMER_KINDS.items():  # every other recurring job has its timer
        if spec.keep_scheduled is not None:
            assert any(identifier.startswith(f"{kind}:") for identifier in kept), kind
