"""The one registry of timer kinds: how each runs, and which lock it takes first.

A kind is a `handler` run inside the timer's claim transaction, or a heavy
`job` run outside it (scheduler.py has the why); a timer about an order or a
case locks that subject before its own row, like every command does (order
row, timer rows, event feed, ledger accounts: docs/architecture.md, "Lock
order"). Later work registers its kinds here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection

from buyerguard.bootstrap import Runtime
from buyerguard.services import (
    badges,
    case_deadlines,
    cases,
    idempotency,
    orders,
    payouts,
    promises,
    shipping_promises,
)
from buyerguard.services.context import Context
from buyerguard.services.timers import DueTimer
from buyerguard.store import repositories

TimerHandler = Callable[[Context, DueTimer], str]
TimerJob = Callable[[Runtime, DueTimer], str]


def _lock_order(connection: Connection, order_id: str) -> None:
    repositories.get_order(connection, order_id, for_update=True)


def _lock_case_order(connection: Connection, case_id: str) -> None:
    """A case's deadline takes the case's locks like every command on it: order, case,
    timers (`services/cases.lock_case`)."""
    cases.lock_case(connection, case_id)


@dataclass(frozen=True)
class TimerKind:
    """How one kind of timer runs: a `handler` inside the claim transaction, or a heavy
    `job` outside it; the subject lock it takes first; for a recurring job, how to keep
    one pending."""

    handler: TimerHandler | None = None
    lock_subject: Callable[[Connection, str], None] | None = None
    keep_scheduled: Callable[[Context], None] | None = None
    job: TimerJob | None = None


TIMER_KINDS: dict[str, TimerKind] = {
    orders.AUTO_CONFIRM: TimerKind(orders.auto_confirm, lock_subject=_lock_order),
    orders.COMPLETE: TimerKind(orders.complete_order, lock_subject=_lock_order),
    shipping_promises.SHIPPING_DEADLINE: TimerKind(
        shipping_promises.on_deadline, lock_subject=_lock_order
    ),
    badges.BADGE_DAILY: TimerKind(badges.daily_badges, keep_scheduled=badges.ensure_daily_timer),
    promises.PROMISES_REBUILD: TimerKind(
        job=promises.scheduled_rebuild, keep_scheduled=promises.ensure_rebuild_timer
    ),
    promises.PROMISES_UPDATE: TimerKind(
        job=promises.scheduled_update, keep_scheduled=promises.ensure_update_timer
    ),
    payouts.PAYOUT_RUN: TimerKind(
        job=payouts.scheduled_run, keep_scheduled=payouts.ensure_payout_timer
    ),
    idempotency.IDEMPOTENCY_EXPIRY: TimerKind(
        job=idempotency.scheduled_expiry, keep_scheduled=idempotency.ensure_expiry_timer
    ),
    **{
        kind: TimerKind(cases.on_deadline, lock_subject=_lock_case_order)
        for kind in case_deadlines.DEADLINES
    },
}
