"""Small tables of operators' declarations (disruptions, slowdowns): paged, locked by id,
and cached per process until their stamp moves.

A promise lookup must see a declaration on its next call in every API worker, yet
reading the whole table per lookup would cost every lookup. These tables are never
deleted from and a row is only ever closed once (ended, withdrawn), so one cheap
aggregate — rows, closed rows, the newest id — changes with every declaration and every
closing; a worker reloads the rows only when it differs from the one it cached.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy import Column, Connection, Engine, Table, func, select, text, update

from buyerguard.services.context import Context
from buyerguard.services.records import audit

Loaded = TypeVar("Loaded")
Stamp = tuple[int, int, Any]


class StampedCache(Generic[Loaded]):
    """What `load` makes of `table`, cached per database until the table's stamp moves."""

    def __init__(
        self, table: Table, closed: Column[Any], load: Callable[[Connection], Loaded]
    ) -> None:
        self._table = table
        self._closed = closed
        self._load = load
        self._lock = threading.Lock()
        self._cache: weakref.WeakKeyDictionary[Engine, tuple[Stamp, Loaded]] = (
            weakref.WeakKeyDictionary()
        )

    def _stamp(self, connection: Connection) -> Stamp:
        row = connection.execute(
            select(func.count(), func.count(self._closed), func.max(self._table.c.id))
        ).one()
        return int(row[0]), int(row[1]), row[2]

    def get(self, connection: Connection) -> Loaded:
        stamp = self._stamp(connection)
        engine = connection.engine
        with self._lock:
            cached = self._cache.get(engine)
            if cached is not None and cached[0] == stamp:
                return cached[1]
        loaded = self._load(connection)
        with self._lock:
            self._cache[engine] = (stamp, loaded)
        return loaded


def page_by_id(
    connection: Connection, table: Table, after: str | None, limit: int
) -> list[dict[str, Any]]:
    """Rows by id (declaration ids sort by declaration time), `limit` of them after `after`."""
    query = select(table).order_by(table.c.id).limit(limit)
    if after is not None:
        query = query.where(table.c.id > after)
    return [dict(row) for row in connection.execute(query).mappings()]


def locked_row(connection: Connection, table: Table, row_id: str) -> dict[str, Any] | None:
    """The row `row_id`, locked for this transaction on PostgreSQL (SQLite's writer holds the
    whole database), or None."""
    query = select(table).where(table.c.id == row_id)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    found = connection.execute(query).mappings().first()
    return None if found is None else dict(found)


def lock_for_declaring(connection: Connection, table: Table) -> None:
    """Make this transaction the only one declaring into `table` until it ends, on PostgreSQL
    (SQLite's writer holds the whole database): a look for a standing declaration then sees
    every one committed, and no other can be committed before this one is. Lookups only read
    the table, so they never wait for it."""
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"LOCK TABLE {table.name} IN SHARE ROW EXCLUSIVE MODE"))


def close_row(
    ctx: Context, table: Table, row: dict[str, Any], closing: str, command: str
) -> dict[str, Any]:
    """Close a declaration now — `{closing}_at`, `{closing}_by` (ended, withdrawn) — audit
    it as `command`, and return the row as it now stands."""
    now = ctx.now()
    values = {f"{closing}_at": now, f"{closing}_by": ctx.actor.label}
    ctx.connection.execute(update(table).where(table.c.id == row["id"]).values(values))
    audit(ctx, command, row["id"], now)
    return row | values
