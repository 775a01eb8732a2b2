"""Rows a transaction writes at its end, in one statement per kind, instead of one each.

A command records several rows of one kind as it goes (a confirmation records a fee and a
release per line), each of which used to be its own round trip. `deferred_rows` gives the
current transaction's pending rows of a kind, keyed by id; whoever reads that kind within
the transaction first calls `write_deferred` (records.py does, for decisions), a keyed
command's last statement may take them (`take_deferred`: api/runtime.py), and the unit of
work writes what is left before it commits (`store/db.transaction` and `retrying`, inside
the transaction, so that a refusal or a deadlock in that write rolls back like any other).
An engine event writes anything still pending at a commit that skipped that step — a last
resort that rolls the database transaction back itself if the write fails, since an error
raised from a commit event leaves it open — and before a savepoint starts; a rolled-back
transaction or savepoint drops what it recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, event

Writer = Callable[[Connection, list[dict[str, Any]]], None]
_PENDING = "buyerguard.deferred_writes"  # connection.info: _Pending


@dataclass
class _Pending:
    """What one transaction recorded and has not written: by kind, its writer and rows."""

    transaction: object
    kinds: dict[str, tuple[Writer, dict[str, dict[str, Any]]]] = field(default_factory=dict)


def _current(connection: Connection) -> _Pending | None:
    kept = connection.info.get(_PENDING)
    if isinstance(kept, _Pending) and kept.transaction is connection.get_transaction():
        return kept
    return None


def deferred_rows(connection: Connection, kind: str, writer: Writer) -> dict[str, dict[str, Any]]:
    """The rows of `kind` this transaction has recorded and not written yet, by id (add to
    it); `writer(connection, rows)` writes them, in the order they were added."""
    pending = _current(connection)
    if pending is None:
        transaction = connection.get_transaction()
        if transaction is None:  # nothing would ever write them
            raise RuntimeError(f"{kind} are recorded inside a transaction: begin() first")
        pending = connection.info[_PENDING] = _Pending(transaction)
    entry = pending.kinds.get(kind)
    if entry is None:
        entry = pending.kinds[kind] = (writer, {})
    return entry[1]


def has_deferred(connection: Connection, kind: str) -> bool:
    pending = _current(connection)
    return pending is not None and bool(pending.kinds.get(kind, (None, {}))[1])


def take_deferred(connection: Connection, kind: str) -> list[dict[str, Any]]:
    """The pending rows of `kind`, now the caller's to write (in a statement of its own
    making: a command's last statement carries its decisions)."""
    pending = _current(connection)
    entry = pending.kinds.pop(kind, None) if pending is not None else None
    return list(entry[1].values()) if entry is not None else []


def write_deferred(connection: Connection, kind: str | None = None) -> None:
    """Write the pending rows of `kind` (None: of every kind) now."""
    pending = _current(connection)
    if pending is None:
        return
    for name in list(pending.kinds) if kind is None else [kind]:
        entry = pending.kinds.pop(name, None)
        if entry is not None and entry[1]:
            writer, rows = entry
            writer(connection, list(rows.values()))


def has_any_deferred(connection: Connection) -> bool:
    pending = _current(connection)
    return pending is not None and any(rows for _writer, rows in pending.kinds.values())


def _drop_deferred(connection: Connection, *_args: Any) -> None:
    if connection.invalidated:  # a lost connection: its info goes with it (and reading
        return  # it now would raise in place of the error that lost it)
    connection.info.pop(_PENDING, None)


def _write_before_commit(connection: Connection) -> None:
    """The last resort (see the module's docstring): nothing recorded is lost at a commit."""
    if not has_any_deferred(connection):
        return
    try:
        write_deferred(connection)
    except BaseException:
        # The commit fails: leave no transaction open, and tell the rollback listeners
        # (this module's, the transfer metrics') that it was rolled back — unless the
        # connection itself was lost, which ends its transaction anyway.
        if not connection.invalidated:
            connection.connection.rollback()
            connection.dispatch.rollback(connection)
        raise


def _write_before_savepoint(connection: Connection, _name: str) -> None:
    write_deferred(connection)


# On every engine of the process: a row recorded on any connection is written or dropped.
event.listen(Engine, "commit", _write_before_commit)
event.listen(Engine, "savepoint", _write_before_savepoint)
event.listen(Engine, "rollback", _drop_deferred)
event.listen(Engine, "rollback_savepoint", _drop_deferred)
