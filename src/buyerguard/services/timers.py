"""Timers: deadlines that move, carry a payload, fail safely and are dead-lettered.

One row per (kind, subject). A timer acts as of its `due_at`, and runs from
its `available_at`: never before it is due, never while facts about its
subject are still arriving (`orders.fact_settling_seconds` after the last
one), and, after a failed attempt, only once its back-off has passed. A
cancelled, fired or dead-lettered timer can be scheduled again for the same
subject. The scheduler (scheduler.py) claims and fires them; a handler runs in a
`FiringContext`, which notes the timers it arms so the same pass fires the ones
already due (a held auto-confirmation re-armed "now" when a case's timeout
closes the case).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, case, select, union_all, update
from sqlalchemy.exc import IntegrityError

from buyerguard.clock import ensure_utc
from buyerguard.errors import Conflict, InvalidInput, NotFound
from buyerguard.services.context import Context
from buyerguard.services.records import audit
from buyerguard.store.db import insert_if_absent
from buyerguard.store.deferred_writes import write_deferred
from buyerguard.store.tables import timers

PENDING, FIRED, CANCELLED, FAILED = "pending", "fired", "cancelled", "failed"
RUNNING = "running"  # a heavy job claimed under a lease (scheduler.py), until it ends
TIMER_STATES = (PENDING, RUNNING, FIRED, CANCELLED, FAILED)
# Every state, for the help of `timers list --state` and the API's descriptions.
TIMER_STATES_TEXT = f"{', '.join(TIMER_STATES[:-1])} or {TIMER_STATES[-1]}"


# Built once: commands run these on every fact (parameters, not inlined values).
_TIMER_STATUS = select(timers.c.status).where(timers.c.id == bindparam("timer_id"))
_TIMER_UPDATE = update(timers).where(timers.c.id == bindparam("timer_id"))
_TIMER_CANCEL = (
    update(timers)
    .where(timers.c.id == bindparam("timer_id"), timers.c.status == PENDING)
    .values(status=CANCELLED)
)


@dataclass(frozen=True)
class DueTimer:
    """What a timer's handler is told: which timer, about what, due when, with what payload."""

    id: str
    kind: str
    subject_id: str
    due_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0


@dataclass
class FiringContext(Context):
    """The context a timer's handler runs in (scheduler.py): it notes every timer the
    handler arms, with the instant that timer falls available, so the pass that fired
    the handler can fire the ones it has reached instead of leaving them for the next."""

    armed: dict[str, datetime] = field(default_factory=dict)


def _note_armed(ctx: Context, identifier: str, available_at: datetime | None) -> None:
    """Tell a firing pass about a timer armed (or, with None, cancelled) by its handler."""
    if not isinstance(ctx, FiringContext):
        return
    if available_at is None:
        ctx.armed.pop(identifier, None)
    else:
        ctx.armed[identifier] = ensure_utc(available_at)


def timer_id(kind: str, subject_id: str) -> str:
    return f"{kind}:{subject_id}"


def schedule_timer(
    ctx: Context,
    kind: str,
    subject_id: str,
    due_at: datetime,
    payload: dict[str, Any] | None = None,
    not_before: datetime | None = None,
) -> str:
    """Schedule the (kind, subject) timer; one that already ran or was cancelled is re-armed.

    It runs from `due_at`, or from `not_before` when that is later (its subject
    is still settling). A pending one is refused (`timer_exists`): move it with
    `reschedule_timer`.
    """
    identifier = timer_id(kind, subject_id)
    available_at = max(due_at, not_before) if not_before else due_at
    values = {
        "due_at": due_at,
        "available_at": available_at,
        "status": PENDING,
        "payload": payload or {},
        "attempts": 0,
        "last_error": None,
        "fired_at": None,
        "fired_by": None,
        "outcome": None,
    }
    row = {"id": identifier, "kind": kind, "subject_id": subject_id, "created_at": ctx.now()}
    # Most timers are new: insert first (one round trip), look at the one in the way after.
    if insert_if_absent(ctx.connection, timers, {**row, **values}, timers.c.id).first() is None:
        existing = ctx.connection.execute(_TIMER_STATUS, {"timer_id": identifier}).one()
        if existing.status in (PENDING, RUNNING):
            raise Conflict(
                "timer_exists", f"timer {identifier} is already {existing.status}", "timer"
            )
        ctx.connection.execute(_TIMER_UPDATE, {"timer_id": identifier, **values})
    _note_armed(ctx, identifier, available_at)
    return identifier


def reschedule_timer(
    ctx: Context,
    kind: str,
    subject_id: str,
    due_at: datetime,
    not_before: datetime | None = None,
) -> None:
    """Move a pending timer, earlier or later; it runs from `due_at`, or from `not_before`
    when that is later (its subject is still settling)."""
    identifier = timer_id(kind, subject_id)
    available_at = max(due_at, not_before) if not_before else due_at
    moved = ctx.connection.execute(
        update(timers)
        .where(and_(timers.c.id == identifier, timers.c.status == PENDING))
        .values(due_at=due_at, available_at=available_at)
    )
    if moved.rowcount != 1:
        raise NotFound("timer_not_pending", f"no pending timer {identifier}", "timer")
    _note_armed(ctx, identifier, available_at)


def cancel_timer(ctx: Context, kind: str, subject_id: str, reason: str) -> None:
    identifier = timer_id(kind, subject_id)
    ctx.connection.execute(_TIMER_CANCEL, {"timer_id": identifier, "outcome": reason})
    _note_armed(ctx, identifier, None)


def cancel_timers_of(ctx: Context, subject_id: str, kinds: Iterable[str], reason: str) -> None:
    """Cancel the subject's pending timers of these kinds in one statement (a running one
    is being fired: it is left to its handler, as `cancel_timer` leaves it)."""
    cancelled = ctx.connection.execute(
        _TIMERS_CANCEL_OF,
        {"timer_subject": subject_id, "timer_kinds": sorted(kinds), "outcome": reason},
    ).scalars()
    for identifier in cancelled:
        _note_armed(ctx, identifier, None)


def _later(column: Any, instant: Any) -> Any:
    return case((column < instant, instant), else_=column)


def settle_and_read(ctx: Context, subject_id: str, settling: timedelta) -> list[dict[str, Any]]:
    """`settle_subject`, answering the subject's pending and running timers as they now
    are: on PostgreSQL in the same round trip."""
    until = ctx.now() + settling
    parameters = {"timer_subject": subject_id, "settles_at": until}
    if ctx.connection.dialect.name == "postgresql":
        rows = ctx.connection.execute(_TIMERS_SETTLE_AND_READ, parameters).mappings()
        return [dict(row) for row in rows]
    ctx.connection.execute(_TIMERS_SETTLE, parameters)
    return pending_timers_of(ctx.connection, subject_id)


def settle_subject(ctx: Context, subject_id: str, settling: timedelta) -> datetime:
    """A fact about `subject_id` just arrived: its pending timers wait until it settles.

    A marketplace may report facts late and in bursts (signing dated 20 days ago,
    then the buyer's confirmation dated 15 days ago); a timer that fell due in
    between must not overtake them. Returns the instant the subject settles.
    """
    until = ctx.now() + settling
    ctx.connection.execute(_TIMERS_SETTLE, {"timer_subject": subject_id, "settles_at": until})
    return until


_LOCK_TIMERS_OF = (
    select(timers.c.id)
    .where(timers.c.subject_id.in_(bindparam("timer_subjects", expanding=True)))
    .order_by(timers.c.id)
    .with_for_update()
)
_PENDING_TIMERS_OF = select(timers).where(
    timers.c.subject_id == bindparam("timer_subject"), timers.c.status.in_((PENDING, RUNNING))
)
_TIMERS_SETTLE = (
    update(timers)
    .where(timers.c.subject_id == bindparam("timer_subject"), timers.c.status == PENDING)
    .values(
        available_at=_later(
            timers.c.available_at, bindparam("settles_at", type_=timers.c.available_at.type)
        )
    )
)

# One statement: the pending timers settled (their new rows) and the running ones as they
# are (a statement's own UPDATE is invisible to its other parts, so pending rows come only
# from the UPDATE's answer and are not read twice).
_SETTLED = _TIMERS_SETTLE.returning(*timers.c).cte("settled")
_TIMERS_SETTLE_AND_READ = union_all(
    select(*_SETTLED.c),
    select(timers).where(
        timers.c.subject_id == bindparam("timer_subject"), timers.c.status == RUNNING
    ),
)
_TIMERS_CANCEL_OF = (
    update(timers)
    .where(
        timers.c.subject_id == bindparam("timer_subject"),
        timers.c.kind.in_(bindparam("timer_kinds", expanding=True)),
        timers.c.status == PENDING,
    )
    .values(status=CANCELLED, outcome=bindparam("outcome"))
    .returning(timers.c.id)
)


def ensure_pending_timer(ctx: Context, kind: str, due_at: datetime) -> None:
    """Schedule a recurring job's timer unless one of that kind is pending (race-safe).

    Two schedulers starting together may both try; the timer id is unique per
    due instant, so the second insert fails and is ignored.
    """
    pending = ctx.connection.execute(
        select(timers.c.id).where(timers.c.kind == kind, timers.c.status == PENDING)
    ).first()
    if pending is not None:
        return
    # What the command recorded goes first, outside the try: its refusal is not this one's.
    write_deferred(ctx.connection)
    try:
        with ctx.connection.begin_nested():
            schedule_timer(ctx, kind, due_at.isoformat(), due_at)
    except (IntegrityError, Conflict):
        pass  # another scheduler scheduled the same instant first


def lock_timers_of(connection: Connection, subject_ids: tuple[str, ...]) -> None:
    """Lock the timer rows of these subjects, in id order (PostgreSQL; SQLite has one
    writer): a command that will cancel or arm them after moving money takes them first."""
    if connection.dialect.name != "postgresql":
        return
    connection.execute(_LOCK_TIMERS_OF, {"timer_subjects": list(subject_ids)})


def pending_timers_of(connection: Connection, subject_id: str) -> list[dict[str, Any]]:
    """The pending (or running) timers about one subject."""
    rows = connection.execute(_PENDING_TIMERS_OF, {"timer_subject": subject_id}).mappings()
    return [dict(row) for row in rows]


def list_timers(
    connection: Connection, *, state: str | None, after: str | None, limit: int
) -> list[dict[str, Any]]:
    """Timers by id, optionally of one state (`failed`: the dead letters)."""
    if state is not None and state not in TIMER_STATES:
        raise InvalidInput(
            "invalid_choice", f"state must be one of {', '.join(TIMER_STATES)}: {state!r}", "state"
        )
    query = select(timers).order_by(timers.c.id).limit(limit)
    if state is not None:
        query = query.where(timers.c.status == state)
    if after:
        query = query.where(timers.c.id > after)
    return [dict(row) for row in connection.execute(query).mappings()]


def retry_timer(ctx: Context, identifier: str) -> None:
    """Re-arm a dead-lettered timer: pending again now, its attempts counted from zero."""
    rearmed = ctx.connection.execute(
        update(timers)
        .where(and_(timers.c.id == identifier, timers.c.status == FAILED))
        .values(status=PENDING, attempts=0, available_at=ctx.now(), last_error=None)
    )
    if rearmed.rowcount != 1:
        raise NotFound("timer_not_failed", f"no dead-lettered timer {identifier}", "timer_id")
    audit(ctx, "retry_timer", identifier, ctx.now())
