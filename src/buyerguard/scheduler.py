"""Due timers, fired exactly once.

A timer is a row with a due instant. Firing claims the row (`pending` ->
`fired`) and runs its handler in the same transaction: if the handler fails
or the process dies, both roll back; a failure is counted and the timer is
tried again after a back-off, then dead-lettered (`failed`) after
`max_attempts`; if two schedulers race, the claim succeeds for one of them
only. A tick fires everything available up to now, so a scheduler that was
down catches up. Handlers act as of the timer's due instant, not the moment
it fired.

One pass (`scheduler run --once` is one) promises: every timer available when
it started, and every timer one of its firings armed for an instant the pass
has reached, has fired or failed with its error recorded when it ends. A
handler arms on the moving clock — an auto-confirmation held by an open case is
re-armed "now" when the case's timeout closes it — so the pass follows the
timers its handlers armed (`FiringContext`); timers that merely fall available
while it runs wait for the next pass, so a pass ends however busy the database.
It fires in order of availability, also when a firing arms a timer due before
the rest of its batch, and it fires one timer at most `MAX_FIRINGS_PER_PASS`
times, so a handler that keeps re-arming its own timer cannot hold it.

A heavy job (the promise rebuild) must not hold a write transaction — every
row it locked and the event feed behind it would wait. Its claim is a short
transaction of its own (`pending` -> `running`, leased until `available_at`);
the job then runs with no transaction open — in a child process when the
scheduler isolates jobs, as `scheduler run` does — and a last short
transaction marks it `fired`. A scheduler that dies mid-job leaves the lease
to run out, and the job is claimed again.
"""

from __future__ import annotations

import heapq
import logging
import multiprocessing
import threading
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, Engine, String, and_, select, update

from buyerguard.bootstrap import Runtime
from buyerguard.clock import Clock, SimulatedClock, ensure_utc
from buyerguard.errors import InvalidInput
from buyerguard.rulebook import RulebookSet
from buyerguard.services.context import SCHEDULER, Actor, Context
from buyerguard.services.feed import advance_feed
from buyerguard.services.timers import FAILED, FIRED, PENDING, RUNNING, DueTimer, FiringContext
from buyerguard.store.db import make_engine, read_transaction, transaction
from buyerguard.store.shipment_history import ShipmentHistory
from buyerguard.store.tables import timers
from buyerguard.timer_kinds import TIMER_KINDS, TimerJob, TimerKind

log = logging.getLogger(__name__)

JOB_LEASE = timedelta(minutes=15)  # a job not finished by then is claimed again
TIMER_MAX_ATTEMPTS = 8  # failed attempts before a timer is dead-lettered
TIMER_RETRY_BASE_SECONDS = 30  # back-off after the first failure, doubling after each
TIMER_RETRY_MAX_SECONDS = 3600
# A timer held by an open matter and re-armed when a timeout closes it fires twice in one
# pass; beyond this it waits for the next pass (a handler re-arming its own timer for now).
MAX_FIRINGS_PER_PASS = 3


@dataclass(frozen=True)
class FiredTimer:
    timer_id: str
    kind: str
    subject_id: str
    due_at: datetime
    outcome: str
    failed: bool = False
    # timers the handler armed, with the instant each falls available (the pass fires them)
    armed: tuple[tuple[str, datetime], ...] = ()


def scheduler_actor(name: str) -> Actor:
    """Who a scheduler fires as. Its label is recorded on every timer it fires
    (`timers.fired_by`): a name too long for that column failed every claim on PostgreSQL
    (SQLite does not check lengths), so it is refused before anything runs."""
    actor = Actor(SCHEDULER.role, name)
    column = timers.c.fired_by.type
    assert isinstance(column, String) and column.length is not None
    longest = column.length - len(actor.label) + len(name)
    if not name.strip() or len(actor.label) > column.length:
        raise InvalidInput(
            "scheduler_name_invalid",
            f"a scheduler's name is 1 to {longest} characters, not only blanks: {name[:20]!r}"
            + ("…" if len(name) > 20 else ""),
            "name",
        )
    return actor


def retry_delay(attempts: int) -> timedelta:
    """Back-off after `attempts` failed attempts: 30 s, 60 s, 120 s … at most an hour."""
    seconds = TIMER_RETRY_BASE_SECONDS * 2 ** min(attempts - 1, 20)
    return timedelta(seconds=min(seconds, TIMER_RETRY_MAX_SECONDS))


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
        kinds: dict[str, TimerKind] | None = None,
        max_attempts: int | None = None,
        isolate_jobs: bool = False,
    ) -> None:
        """`recurring` keeps the daily jobs (arrival badge, promise rebuild) scheduled;
        `isolate_jobs` runs heavy jobs in a child process (memory and crashes stay there)."""
        self.engine = engine
        self.clock = clock
        self.rulebooks = rulebooks
        self.actor = scheduler_actor(name)
        self.batch_size = batch_size
        self.history = history or ShipmentHistory()
        self.recurring = recurring
        self.kinds = TIMER_KINDS if kinds is None else kinds
        self.max_attempts = max_attempts or TIMER_MAX_ATTEMPTS
        self.isolate_jobs = isolate_jobs

    def _context(self, connection: Connection) -> Context:
        return Context(connection, self.actor, self.clock, self.rulebooks, self.history)

    def due_timer_ids(self, now: datetime) -> list[str]:
        return [identifier for identifier, _ in self._due_timers(now, ())]

    def _due_timers(self, now: datetime, spent: tuple[str, ...]) -> list[tuple[str, datetime]]:
        """The next batch available by `now`, in order, with the instant each fell
        available; `spent`: timers that fired their most in this pass."""
        with read_transaction(self.engine) as connection:
            query = (
                select(timers.c.id, timers.c.available_at)
                .where(
                    timers.c.status.in_((PENDING, RUNNING)),  # running: its lease ran out
                    timers.c.available_at <= now,
                )
                .order_by(timers.c.available_at, timers.c.id)
                .limit(self.batch_size)
            )
            if spent:
                query = query.where(timers.c.id.not_in(spent))
            return [(row.id, ensure_utc(row.available_at)) for row in connection.execute(query)]

    def fire(self, timer_id: str, now: datetime) -> FiredTimer | None:
        """Claim and run one timer; None when another scheduler got it first.

        A handler that fails rolls its work back; the failure is counted in a
        transaction of its own and the timer waits out a back-off (or is
        dead-lettered), so it never holds up the timers behind it.
        """
        try:
            return self._claim_and_run(timer_id, now)
        except Exception as exc:
            log.exception("timer %s failed", timer_id)
            return self._record_failure(timer_id, now, exc)

    def _claim_and_run(self, timer_id: str, now: datetime) -> FiredTimer | None:
        with transaction(self.engine) as connection:
            subject = connection.execute(
                select(timers.c.kind, timers.c.subject_id).where(timers.c.id == timer_id)
            ).first()
            if subject is None:
                return None
            kind = self.kinds.get(subject.kind)
            if kind is not None and kind.lock_subject is not None:
                kind.lock_subject(connection, subject.subject_id)
            job = kind.job if kind is not None else None
            lease_end = now + JOB_LEASE
            claimed = connection.execute(
                update(timers)
                .where(
                    and_(
                        timers.c.id == timer_id,
                        timers.c.status.in_((PENDING, RUNNING)),
                        timers.c.available_at <= now,
                    )
                )
                .values(
                    status=FIRED if job is None else RUNNING,
                    fired_at=now,
                    fired_by=self.actor.label,
                    **({} if job is None else {"available_at": lease_end}),
                )
            )
            if claimed.rowcount != 1:
                return None
            # Read after the claim: due instant and payload as they are now, under the locks.
            row = connection.execute(select(timers).where(timers.c.id == timer_id)).one()
            if kind is None:
                raise LookupError(f"no handler registered for timer kind {row.kind!r}")
            due = DueTimer(
                row.id, row.kind, row.subject_id, ensure_utc(row.due_at), row.payload, row.attempts
            )
            if job is None:
                assert kind.handler is not None, f"timer kind {row.kind} has neither"
                ctx = FiringContext(
                    connection, self.actor, self.clock, self.rulebooks, self.history
                )
                outcome = kind.handler(ctx, due)
                connection.execute(
                    update(timers).where(timers.c.id == timer_id).values(outcome=outcome)
                )
                armed = tuple(ctx.armed.items())
                return FiredTimer(
                    row.id, row.kind, row.subject_id, due.due_at, outcome, armed=armed
                )
        try:
            outcome = self._run_job(job, due, now)
        except Exception as exc:
            log.exception("timer %s failed", timer_id)
            return self._record_failure(timer_id, now, exc, lease_end=lease_end)
        with transaction(self.engine) as connection:
            finished = connection.execute(
                update(timers)
                .where(
                    timers.c.id == timer_id,
                    timers.c.status == RUNNING,
                    timers.c.fired_by == self.actor.label,
                    timers.c.available_at == lease_end,
                )
                .values(status=FIRED, outcome=outcome)
            )
        if finished.rowcount != 1:
            log.warning("timer %s: the lease ran out before the job ended", timer_id)
        return FiredTimer(due.id, due.kind, due.subject_id, due.due_at, outcome)

    def _run_job(self, job: TimerJob, due: DueTimer, now: datetime) -> str:
        """Run a heavy job with no transaction open: here, or in a child process."""
        if not self.isolate_jobs or self.kinds.get(due.kind) is not TIMER_KINDS.get(due.kind):
            return job(Runtime(self.engine, self.clock, self.rulebooks, self.history), due)
        url = self.engine.url.render_as_string(hide_password=False)
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as child:
            arguments = (url, due, now, self.rulebooks, self.history.root)
            return child.submit(_job_in_child, *arguments).result()

    def _record_failure(
        self, timer_id: str, now: datetime, exc: Exception, *, lease_end: datetime | None = None
    ) -> FiredTimer | None:
        """Count a failed attempt and back the timer off (or dead-letter it). A job's failure
        (`lease_end`) counts only while the timer is still its lease: a job that ran past it
        may have been claimed again by another scheduler, whose claim stands."""
        error = f"{type(exc).__name__}: {exc}"[:2000]
        with transaction(self.engine) as connection:
            query = select(timers).where(
                timers.c.id == timer_id, timers.c.status.in_((PENDING, RUNNING))
            )
            if lease_end is not None:
                query = query.where(
                    timers.c.status == RUNNING,
                    timers.c.fired_by == self.actor.label,
                    timers.c.available_at == lease_end,
                )
            row = connection.execute(query.with_for_update()).first()
            if row is None:
                if lease_end is not None:
                    log.warning("timer %s: the lease ran out before the job failed", timer_id)
                return None
            attempts = row.attempts + 1
            dead = attempts >= self.max_attempts
            connection.execute(
                update(timers)
                .where(timers.c.id == timer_id)
                .values(
                    attempts=attempts,
                    last_error=error,
                    status=FAILED if dead else PENDING,
                    # a back-off never cuts short a subject that is still settling
                    available_at=(
                        row.available_at
                        if dead
                        else max(
                            # a job's lease end is no instant to keep
                            ensure_utc(row.available_at) if row.status == PENDING else now,
                            now + retry_delay(attempts),
                        )
                    ),
                )
            )
        outcome = (
            f"dead-lettered after {attempts} attempts" if dead else f"attempt {attempts} failed"
        )
        return FiredTimer(
            row.id, row.kind, row.subject_id, ensure_utc(row.due_at), f"{outcome}: {error}", True
        )

    def tick(self, stop: threading.Event | None = None) -> list[FiredTimer]:
        """One pass: fire every timer available by now, catching up on any backlog, and
        every timer a firing arms for an instant the pass has reached (module docstring).

        `stop` set ends the pass before its next firing: a backlog of thousands would
        otherwise hold a SIGTERM for minutes. Each firing is its own transaction, so the
        timers not reached stay pending for the next scheduler."""
        now = ensure_utc(self.clock.now())
        fired: list[FiredTimer] = []
        if self.recurring:
            self._keep_recurring_scheduled()
        armed: dict[str, datetime] = {}  # armed by this pass, falling available after `now`
        firings: Counter[str] = Counter()
        while True:
            spent = tuple(sorted(i for i, n in firings.items() if n >= MAX_FIRINGS_PER_PASS))
            queue = [(at, i, now) for i, at in self._due_timers(now, spent)]
            full = len(queue) == self.batch_size  # then timers beyond it are due after its last
            horizon = queue[-1][0] if full else now
            if not full:
                queue += self._reached(armed, spent, {i for _, i, _ in queue})
            if not queue:
                return fired
            heapq.heapify(queue)  # in order of availability, with what the firings arm
            progressed = False
            while queue:
                if stop is not None and stop.is_set():
                    return fired
                _, timer_id, as_of = heapq.heappop(queue)
                if firings[timer_id] >= MAX_FIRINGS_PER_PASS:
                    continue
                armed.pop(timer_id, None)
                firings[timer_id] += 1
                result = self.fire(timer_id, as_of)
                if result is None:
                    continue
                fired.append(result)
                progressed = True  # a failure moved the timer past now, too
                for identifier, available_at in result.armed:
                    armed.pop(identifier, None)
                    if available_at <= horizon:  # due before the rest of the batch
                        heapq.heappush(queue, (available_at, identifier, now))
                    elif available_at > now:
                        armed[identifier] = available_at
                    # else: due after a full batch, the next batch holds it
            if not progressed:
                return fired

    def _keep_recurring_scheduled(self) -> None:
        """Each recurring job keeps one timer pending, each in its own transaction: one that
        cannot (a bug, a rulebook it cannot read) is logged and keeps no other job, nor the
        pass's timers, from running."""
        for name, kind in self.kinds.items():
            if kind.keep_scheduled is None:
                continue
            try:
                with transaction(self.engine) as connection:
                    kind.keep_scheduled(self._context(connection))
            except Exception:
                log.exception("could not keep the recurring %s scheduled; the pass goes on", name)

    def _reached(
        self, armed: dict[str, datetime], spent: tuple[str, ...], batched: set[str]
    ) -> list[tuple[datetime, str, datetime]]:
        """The timers this pass armed that the clock has reached since it started, in order
        of availability, each to be claimed as of that reading of the clock."""
        if not armed:
            return []
        reached = ensure_utc(self.clock.now())
        return sorted(
            (
                (at, identifier, reached)
                for identifier, at in armed.items()
                if at <= reached and identifier not in spent and identifier not in batched
            ),
        )

    def run(self, interval_seconds: float, stop: threading.Event) -> None:
        """Tick until `stop` is set; between ticks, keep the event feed positioned
        (services/feed.py) so consumers see events even when no reader drives it."""
        while not stop.is_set():
            try:
                for item in self.tick(stop):
                    log.info("fired %s: %s", item.timer_id, item.outcome)
                advance_feed(self.engine)
            except Exception:
                log.exception("scheduler tick failed")
            stop.wait(interval_seconds)


def _job_in_child(
    database_url: str,
    timer: DueTimer,
    now: datetime,
    rulebooks: RulebookSet,
    history_root: Path,
) -> str:
    """A heavy job in a process of its own, as of the instant its scheduler fired it."""
    engine = make_engine(database_url)
    try:
        kind = TIMER_KINDS[timer.kind]
        assert kind.job is not None
        runtime = Runtime(engine, SimulatedClock(now), rulebooks, ShipmentHistory(history_root))
        return kind.job(runtime, timer)
    finally:
        engine.dispose()
