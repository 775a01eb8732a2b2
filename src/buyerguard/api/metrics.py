"""Prometheus metrics at `/metrics` (prometheus-client).

Counted in each process as things happen: request latency by route template
(bounded labels: never the raw path), ledger transfers by kind, counted
when their transaction commits (a rolled-back command counts nothing), and facts
by kind and outcome with the statements they sent to the database (their round
trips: what a fact costs the API worker and the database most). Read
from the database at scrape time: timers due, overdue and dead-lettered, and how
far each webhook endpoint is behind the feed.

`buyerguard serve` runs several worker processes; it points
`PROMETHEUS_MULTIPROC_DIR` at a fresh directory before they start, and a
scrape of any worker then adds up every worker's counts (multiprocess mode).
Without it (one process, the tests) the process's own registry answers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Connection, Engine, and_, event, func, select
from sqlalchemy.exc import OperationalError

from buyerguard.clock import Clock, ensure_utc
from buyerguard.ledger.book import TRANSFERS_RECORDED
from buyerguard.store.db import read_transaction
from buyerguard.store.tables import decisions, timers, webhook_endpoints

MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
OVERDUE_AFTER = timedelta(minutes=1)  # the scheduler ticks every second: a minute is late
REQUEST_SECONDS = Histogram(
    "buyerguard_http_request_duration_seconds",
    "Time to answer a request, by method, route template and status",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
LEDGER_TRANSFERS = Counter(
    "buyerguard_ledger_transfers", "Ledger transfers committed, by kind", ["kind"]
)

FACTS = Counter("buyerguard_facts", "Facts answered, by kind and outcome", ["kind", "outcome"])
FACT_STATEMENTS = Counter(
    "buyerguard_fact_statements",
    "Statements sent to the database while applying facts (retries included), by kind",
    ["kind"],
)
# The statements of the fact being applied in this thread (None: no fact is).
_STATEMENTS_SENT: ContextVar[list[int] | None] = ContextVar("statements_sent", default=None)


def observe_request(method: str, route: str, status_code: int, seconds: float) -> None:
    """Count one answered request under its route's template (never the raw path)."""
    REQUEST_SECONDS.labels(method, route, str(status_code)).observe(seconds)


def count_committed_transfers(engine: Engine) -> None:
    """Count the transfers a transaction recorded (`ledger.book` notes them on the
    connection) when it commits; forget them when it rolls back."""

    def on_commit(connection: Connection) -> None:
        recorded: dict[str, int] = connection.info.pop(TRANSFERS_RECORDED, {})
        for kind, count in recorded.items():
            LEDGER_TRANSFERS.labels(kind).inc(count)

    def on_rollback(connection: Connection) -> None:
        connection.info.pop(TRANSFERS_RECORDED, None)

    if not event.contains(engine, "commit", on_commit):
        event.listen(engine, "commit", on_commit)
        event.listen(engine, "rollback", on_rollback)


def count_statements(engine: Engine) -> None:
    """Count each statement sent on `engine` to the fact being applied, if any."""

    def on_execute(*_: Any) -> None:
        sent = _STATEMENTS_SENT.get()
        if sent is not None:
            sent[0] += 1

    if not event.contains(engine, "before_cursor_execute", on_execute):
        event.listen(engine, "before_cursor_execute", on_execute)


@dataclass
class FactOutcome:
    """How a fact was answered: `refused` unless the caller says otherwise."""

    outcome: str = "refused"


@contextmanager
def observed_fact(kind: str) -> Iterator[FactOutcome]:
    """Count one fact of `kind` under the outcome the caller sets, and the statements it
    sent (a refusal's too: it cost them)."""
    sent = [0]
    token = _STATEMENTS_SENT.set(sent)
    answered = FactOutcome()
    try:
        yield answered
    finally:
        _STATEMENTS_SENT.reset(token)
        FACTS.labels(kind, answered.outcome).inc()
        FACT_STATEMENTS.labels(kind).inc(sent[0])


class TimerCollector(Collector):
    """Timers and webhook endpoints as the database has them at scrape time."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The database's gauges, and whether it answered: a scrape during an outage still
        carries every worker's counts, with `buyerguard_database_up` 0 instead of the gauges."""
        try:
            gauges = list(self._from_the_database())
        except OperationalError:
            gauges = []
        yield GaugeMetricFamily(
            "buyerguard_database_up",
            "1: the database answered this scrape; 0: it did not",
            1 if gauges else 0,
        )
        yield from gauges

    def _from_the_database(self) -> Iterator[GaugeMetricFamily]:
        now = ensure_utc(self.clock.now())
        pending = timers.c.status == "pending"
        query = select(
            func.count().filter(and_(pending, timers.c.available_at <= now)),
            func.count().filter(and_(pending, timers.c.available_at <= now - OVERDUE_AFTER)),
            func.count().filter(timers.c.status == "failed"),
        )
        with read_transaction(self.engine) as connection:
            due, overdue, dead = connection.execute(query).one()
        yield GaugeMetricFamily("buyerguard_timers_due", "Pending timers that may run now", due)
        yield GaugeMetricFamily(
            "buyerguard_timers_overdue",
            f"Pending timers that could have run more than {OVERDUE_AFTER} ago",
            overdue,
        )
        yield GaugeMetricFamily(
            "buyerguard_timers_dead_lettered", "Timers that failed every attempt", dead
        )
        lag = GaugeMetricFamily(
            "buyerguard_webhook_lag_events",
            "Events on the feed not yet delivered to an endpoint (0: caught up)",
            labels=["endpoint", "state"],
        )
        with read_transaction(self.engine) as connection:
            feed_end = connection.execute(select(func.max(decisions.c.position))).scalar_one()
            for row in connection.execute(
                select(
                    webhook_endpoints.c.id,
                    webhook_endpoints.c.state,
                    webhook_endpoints.c.cursor_position,
                )
            ):
                behind = max(0, int(feed_end or 0) - row.cursor_position)
                lag.add_metric([row.id, row.state], behind)
        yield lag


def exposition(engine: Engine, clock: Clock) -> tuple[bytes, str]:
    """The text exposition of every metric: all workers' counts and the database's gauges."""
    registry: Any
    if os.environ.get(MULTIPROCESS_DIR_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = CollectorRegistry()
        for collector in (REQUEST_SECONDS, LEDGER_TRANSFERS, FACTS, FACT_STATEMENTS):
            registry.register(collector)
    registry.register(TimerCollector(engine, clock))
    return generate_latest(registry), CONTENT_TYPE_LATEST
