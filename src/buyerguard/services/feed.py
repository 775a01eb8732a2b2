"""The event feed: one total, gap-free order of decisions, without a row every command writes.

A command records its decisions with an `ordinal` from a PostgreSQL sequence
(no lock, no shared row) and no feed `position`. One sequencer at a time (a
transaction-scoped advisory lock) gives positions: it notes the last ordinal
issued and which transactions of this database were writing at that moment
(a watermark); once every one of them has ended — at once, or at a later
pass, never by busy-waiting — it numbers every committed, unpositioned
decision with an ordinal up to it, in ordinal order, after the last position.

Why this holds:
- *Gap-free, never twice*: positions are only written by the sequencer, one
  pass at a time, each pass in one transaction after the last position, so a
  reader sees whole passes: `position > cursor` never skips nor repeats.
- *Causal*: an event written after reading another's effect took its ordinal
  after that one committed, so it has the larger ordinal and is positioned in
  the same pass or a later one, after it.
- *No overtaking*: while a transaction that holds an earlier ordinal is in
  flight, later events wait with it (a held payment hides the confirmations
  committed after it until it commits or rolls back), so the feed follows the
  order in which decisions were written. A decision whose transaction had not
  yet been given an id when the pass looked is positioned by a later pass.

We chose this over a single committer that writes every event (which would
funnel all commands through one process) and over ordering by transaction id
(ids are taken at a transaction's first write, not in the order effects are
read, so they are not causal). The cost: a transaction that stays open holds
back the feed behind it — which is why no job may hold one for long.

SQLite has one writer: decisions get their position when written
(the next position, computed in the insert), and there is nothing to sequence.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, select, text

from buyerguard.clock import format_instant
from buyerguard.errors import InvalidInput
from buyerguard.money import format_fen
from buyerguard.store.db import transaction
from buyerguard.store.tables import decisions

FEED_LOCK_KEY = 7_311_688_001  # the advisory lock of the one sequencer at a time
PASS_LIMIT = 50_000  # decisions positioned per statement (a backlog takes several)
CURSOR_MAX_LENGTH = 64


def encode_cursor(position: int) -> str:
    """A cursor a consumer passes back as `after`: opaque to it (today the position)."""
    return str(position)


def decode_cursor(cursor: str | None) -> int:
    """The position after which to read; a string that no page ever gave is refused."""
    if cursor is None or cursor == "":
        return 0
    if (
        len(cursor) > CURSOR_MAX_LENGTH
        or not (cursor.isascii() and cursor.isdigit())
        or encode_cursor(int(cursor)) != cursor  # `007`: no page gives it
    ):
        raise InvalidInput(
            "cursor_malformed", f"after must be a cursor from a page: {cursor[:64]!r}", "after"
        )
    position = int(cursor)
    if position > 2**63 - 1:
        raise InvalidInput("cursor_malformed", "after is beyond any cursor a page gives", "after")
    return position


def feed_end(connection: Connection) -> int:
    """The last position on the feed (0 while it is empty)."""
    return int(connection.execute(select(func.max(decisions.c.position))).scalar_one() or 0)


def check_within_feed(connection: Connection, position: int) -> None:
    """Refuse a position past the feed's end: no page gave it, and reading from it would
    skip every event up to it without a word."""
    end = feed_end(connection)
    if position > end:
        raise InvalidInput(
            "cursor_malformed",
            f"after is beyond the end of the feed (its last cursor is {encode_cursor(end)!r}): "
            "pass back a cursor a page gave",
            "after",
        )


def _issued_ordinal(connection: Connection) -> int:
    row = connection.execute(text("SELECT last_value, is_called FROM decision_ordinal")).one()
    return int(row.last_value) if row.is_called else 0


def _writers_in_flight(connection: Connection) -> list[str]:
    """Transaction ids of this database's other backends that have written something."""
    return [
        str(xid)
        for (xid,) in connection.execute(
            text(
                "SELECT backend_xid::text FROM pg_stat_activity WHERE datname = "
                "current_database() AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
            )
        )
    ]


def _settled(connection: Connection, writers: tuple[str, ...]) -> bool:
    """Whether none of `writers` is still running (asked once: a pass never waits)."""
    connection.execute(text("SELECT pg_stat_clear_snapshot()"))  # this transaction's view
    running = connection.execute(
        text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_xid::text = ANY(:writers)"
        ),
        {"writers": list(writers)},
    ).scalar_one()
    return bool(running == 0)


def _position_up_to(connection: Connection, last_ordinal: int) -> int:
    positioned = 0
    while True:
        count = connection.execute(
            text(
                "WITH base AS (SELECT COALESCE(MAX(position), 0) AS last FROM decisions), "
                "next AS (SELECT id, row_number() OVER (ORDER BY ordinal) AS n FROM decisions "
                "WHERE position IS NULL AND ordinal <= :last_ordinal "
                "ORDER BY ordinal LIMIT :limit) "
                "UPDATE decisions SET position = base.last + next.n FROM base, next "
                "WHERE decisions.id = next.id"
            ),
            {"last_ordinal": last_ordinal, "limit": PASS_LIMIT},
        ).rowcount
        positioned += count
        if count < PASS_LIMIT:
            return positioned


@dataclass(frozen=True)
class _Watermark:
    """The last ordinal issued at some moment, and who was writing then: once every
    one of those writers has ended, every decision up to that ordinal has settled."""

    last_ordinal: int
    writers: tuple[str, ...]


# A watermark whose writers were still running at the last pass, per database. Kept
# in the process between passes so that no pass ever busy-waits: the next pass
# (a reader's poll, the scheduler's tick) looks again.
_pending: dict[str, _Watermark] = {}
_pending_guard = threading.Lock()


def advance_feed(engine: Engine) -> int:
    """One sequencer pass; returns how many decisions it positioned.

    Positions everything up to the watermark left by an earlier pass once its
    writers have ended, then everything up to a fresh watermark if nobody was
    writing when it was taken (else that one is left for the next pass). Skips
    when another pass is running: its events will be there when it commits.
    """
    if engine.dialect.name != "postgresql":
        return 0
    key = engine.url.render_as_string(hide_password=True)
    with transaction(engine) as connection:
        locked = connection.execute(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": FEED_LOCK_KEY}
        ).scalar_one()
        if not locked:
            return 0
        fresh = _Watermark(_issued_ordinal(connection), tuple(_writers_in_flight(connection)))
        with _pending_guard:
            earlier = _pending.pop(key, None)
        positioned = 0
        for watermark in (earlier, fresh):
            if watermark is None:
                continue
            if watermark.writers and not _settled(connection, watermark.writers):
                with _pending_guard:
                    _pending.setdefault(key, watermark)  # the earlier one, if it is still open
                break
            positioned += _position_up_to(connection, watermark.last_ordinal)
        return positioned


def event_view(row: dict[str, Any]) -> dict[str, Any]:
    """A decision as the feed (and its webhooks) show it: yuan strings, ISO instants."""
    return {
        "cursor": None if row["position"] is None else encode_cursor(row["position"]),
        "id": row["id"],
        "kind": row["kind"],
        "subject_id": row["subject_id"],
        "sequence": row["sequence"],
        "order_id": row["order_id"],
        "amount": format_fen(row["amount_fen"]),
        "payer": row["payer"],
        "payee": row["payee"],
        "rule_ids": row["rule_ids"],
        "rulebook_id": row["rulebook_id"],
        "explanation": row["explanation"],
        "details": row["details"],
        "occurred_at": format_instant(row["occurred_at"]),
        "recorded_at": format_instant(row["recorded_at"]),
    }


def read_feed(connection: Connection, *, after: int, limit: int) -> list[dict[str, Any]]:
    """Positioned decisions after `after`, in feed order."""
    query = (
        select(decisions)
        .where(decisions.c.position > after)
        .order_by(decisions.c.position)
        .limit(limit)
    )
    return [dict(row) for row in connection.execute(query).mappings()]
