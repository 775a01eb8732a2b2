"""Idempotency keys expire: each is kept `$BUYERGUARD_IDEMPOTENCY_KEY_DAYS` (7) days, then
deleted by an hourly scheduler job, in small batches so that no transaction holds rows long.

A retry within the retention replays the stored answer (api/runtime.py); after it the
same key is a new request. Keys are deleted oldest first, so a job cut short resumes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, tuple_

from buyerguard.bootstrap import Runtime
from buyerguard.clock import format_instant
from buyerguard.services.context import SCHEDULER, Context
from buyerguard.services.timers import DueTimer, ensure_pending_timer
from buyerguard.settings import settings
from buyerguard.store.tables import idempotency_keys

IDEMPOTENCY_EXPIRY = "idempotency.expire"
EXPIRY_INTERVAL = timedelta(hours=1)
EXPIRY_BATCH_ROWS = 2_000  # rows per delete transaction: each commits in milliseconds


def next_expiry_at(after: datetime) -> datetime:
    """The next whole hour after `after` (UTC; an hour is an hour in Shanghai too)."""
    return after.replace(minute=0, second=0, microsecond=0) + EXPIRY_INTERVAL


def ensure_expiry_timer(ctx: Context) -> None:
    """Keep one expiry pass pending (idempotent, race-safe)."""
    ensure_pending_timer(ctx, IDEMPOTENCY_EXPIRY, next_expiry_at(ctx.now()))


def expire_keys(runtime: Runtime, cutoff: datetime) -> int:
    """Delete every key stored before `cutoff`, oldest first, a batch per transaction."""
    table = idempotency_keys.c
    deleted = 0
    while True:
        with runtime.writing(SCHEDULER) as ctx:
            oldest = (
                select(table.principal, table.route, table.key)
                .where(table.created_at < cutoff)
                .order_by(table.created_at)
                .limit(EXPIRY_BATCH_ROWS)
            )
            batch = [tuple(row) for row in ctx.connection.execute(oldest)]
            if batch:
                ctx.connection.execute(
                    delete(idempotency_keys).where(
                        tuple_(table.principal, table.route, table.key).in_(batch)
                    )
                )
        deleted += len(batch)
        if len(batch) < EXPIRY_BATCH_ROWS:
            return deleted


def scheduled_expiry(runtime: Runtime, timer: DueTimer) -> str:
    """Timer job: delete the keys past their retention, then schedule the next pass."""
    days = settings().idempotency_key_days
    cutoff = runtime.clock.now() - timedelta(days=days)  # a late pass keeps none too long
    deleted = expire_keys(runtime, cutoff)
    with runtime.writing(SCHEDULER) as ctx:
        ensure_pending_timer(ctx, IDEMPOTENCY_EXPIRY, next_expiry_at(ctx.now()))
    return f"{deleted} idempotency key(s) stored before {format_instant(cutoff)} expired"
