"""Due timers, fired exactly once.

A timer is a row with a due instant. Firing claims the row (`pending` ->
`fired`) and runs its handler in the same transaction: if the handler fails
or the process dies, both roll back and the timer fires on the next tick; if
two schedulers race, the claim succeeds for one of them only. A tick fires
everything due up to now, so a scheduler that was down catches up. Handlers
act as of the timer's due instant, not the moment it fired.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, and_, select, update

from buyerguard.clock import Clock, ensure_utc
from buyerguard.rulebook import RulebookSet
from buyerguard.services import badges, orders, promises
from buyerguard.services.context import SCHEDULER, Actor, Context
from buyerguard.store import repositories
from buyerguard.store.db import read_transaction, transaction
from buyerguard.store.shipment_history import ShipmentHistory
from buyerguard.store.tables import timers

log = logging.getLogger(__name__)

TimerHandler = Callable[[Context, str, datetime], str]
HANDLERS: dict[str, TimerHandler] = {
    orders.AUTO_CONFIRM: orders.auto_confirm,
    orders.COMPLETE: orders.complete_order,
    badges.BADGE_DAILY: badges.daily_badges,
    promises.PROMISES_REBUILD: promises.scheduled_rebuild,
}


# Timers about an order lock the order before their own row, like every command does
# (order row, timer rows, event feed, ledger accounts: docs/architecture.md, "Lock order").
def _lock_order(connection: Connection, order_id: str) -> None:
    repositories.get_order(connection, order_id, for_update=True)


SUBJECT_LOCKS: dict[str, Callable[[Connection, str], None]] = {
    orders.AUTO_CONFIRM: _lock_order,
    orders.COMPLETE: _lock_order,
}


@dataclass(frozen=True)
class FiredTimer:
    timer_id: str
    kind: str
    subject_id: str
    due_at: datetime
    outcome: str


class Scheduler:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        rulebooks: RulebookSet,
        name: str = "scheduler",
        batch_size: int = 200,
        history: ShipmentHistory | None = None,
        recurring: bool = False,
    ) -> None:
        """`recurring` keeps the daily jobs (arrival badge, promise rebuild) scheduled."""
        self.engine = engine
        self.clock = clock
        self.rulebooks = rulebooks
        self.actor = Actor(SCHEDULER.role, name)
        self.batch_size = batch_size
        self.history = history or ShipmentHistory()
        self.recurring = recurring

    def _context(self, connection: Connection) -> Context:
        return Context(connection, self.actor, self.clock, self.rulebooks, self.history)

    def due_timer_ids(self, now: datetime) -> list[str]:
        with read_transaction(self.engine) as connection:
            query = (
                select(timers.c.id)
                .where(and_(timers.c.status == "pending", timers.c.due_at <= now))
                .order_by(timers.c.due_at, timers.c.id)
                .limit(self.batch_size)
            )
            return [row.id for row in connection.execute(query)]

    def fire(self, timer_id: str, now: datetime) -> FiredTimer | None:
        """Claim and run one timer; None when another scheduler got it first."""
        with transaction(self.engine) as connection:
            subject = connection.execute(
                select(timers.c.kind, timers.c.subject_id).where(timers.c.id == timer_id)
            ).first()
            if subject is None:
                return None
            lock_subject = SUBJECT_LOCKS.get(subject.kind)
            if lock_subject is not None:
                lock_subject(connection, subject.subject_id)
            claimed = connection.execute(
                update(timers)
                .where(
                    and_(
                        timers.c.id == timer_id,
                        timers.c.status == "pending",
                        timers.c.due_at <= now,
                    )
                )
                .values(status="fired", fired_at=now, fired_by=self.actor.label)
            )
            if claimed.rowcount != 1:
                return None
            row = connection.execute(select(timers).where(timers.c.id == timer_id)).one()
            ctx = self._context(connection)
            outcome = HANDLERS[row.kind](ctx, row.subject_id, ensure_utc(row.due_at))
            connection.execute(
                update(timers).where(timers.c.id == timer_id).values(outcome=outcome)
            )
            return FiredTimer(row.id, row.kind, row.subject_id, row.due_at, outcome)

    def tick(self) -> list[FiredTimer]:
        """Fire every timer due by now, catching up on any backlog."""
        now = ensure_utc(self.clock.now())
        fired: list[FiredTimer] = []
        if self.recurring:
            with transaction(self.engine) as connection:
                ctx = self._context(connection)
                badges.ensure_daily_timer(ctx)
                promises.ensure_rebuild_timer(ctx)
        while True:
            due = self.due_timer_ids(now)
            if not due:
                return fired
            progressed = False
            for timer_id in due:
                try:
                    result = self.fire(timer_id, now)
                except Exception:
                    log.exception("timer %s failed; it stays pending", timer_id)
                    continue
                if result is not None:
                    fired.append(result)
                    progressed = True
            if not progressed:
                return fired

    def run(self, interval_seconds: float, stop: threading.Event) -> None:
        """Tick until `stop` is set."""
        while not stop.is_set():
            try:
                for item in self.tick():
                    log.info("fired %s: %s", item.timer_id, item.outcome)
            except Exception:
                log.exception("scheduler tick failed")
            stop.wait(interval_seconds)
