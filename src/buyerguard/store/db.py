"""Engines and transactions for SQLite (default) and PostgreSQL.

SQLite transactions start with BEGIN IMMEDIATE so two writers queue for the
lock instead of failing on upgrade; PostgreSQL takes row locks (`FOR UPDATE`)
where a command reads what it will change. Either way a command runs in one
transaction: state, decisions, postings, timers and audit commit together.
"""

from __future__ import annotations

import functools
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    Column,
    Connection,
    CursorResult,
    Engine,
    FromClause,
    Insert,
    Table,
    Update,
    bindparam,
    create_engine,
    event,
    insert,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from buyerguard.errors import Busy, Conflict
from buyerguard.settings import settings
from buyerguard.store.deferred_writes import write_deferred

READONLY_OPTION = "buyerguard_readonly"
SQLITE_BUSY_TIMEOUT_MS = 30_000  # how long a writer waits for the lock before failing
# PostgreSQL states that mean "another transaction was in the way; the same work may
# succeed now": deadlock_detected, serialization_failure, lock_not_available.
CONTENTION_SQLSTATES = frozenset({"40P01", "40001", "55P03"})
COMMAND_ATTEMPTS = 5  # a unit of work is tried at most this often under contention
RETRY_BASE_DELAY_SECONDS = 0.02  # full jitter: sleep U(0, base * 2**attempt) between tries
T = TypeVar("T")


def database_url() -> str:
    """`$BUYERGUARD_DATABASE_URL`, else the embedded SQLite file under ./var."""
    return settings().effective_database_url


def normalise_url(url: str) -> str:
    """Use psycopg 3 for `postgresql://` URLs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


# A server that takes the connection but never answers (a hung host, a proxy in front of a
# dead database) is given up on after this, so a request or `/readyz` answers instead of
# holding its worker thread, and shutdown is not held up behind it.
POSTGRES_CONNECT_TIMEOUT_SECONDS = 10


def make_engine(
    url: str | None = None, *, sqlite_busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS, **kwargs: Any
) -> Engine:
    """An engine configured for safe concurrent writers on either backend."""
    url = normalise_url(url or database_url())
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": sqlite_busy_timeout_ms / 1000}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={sqlite_busy_timeout_ms}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Connection) -> None:
            readonly = connection.get_execution_options().get(READONLY_OPTION, False)
            connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

        return engine
    connect_args = {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_SECONDS}
    connect_args |= kwargs.pop("connect_args", {})
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One unit of work: commits on success, rolls back on any exception. What it recorded
    to write at its end (store/deferred_writes.py) is written before the commit."""
    with engine.begin() as connection:
        yield connection
        write_deferred(connection)


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that only reads: on SQLite it does not take the write lock."""
    with engine.connect() as connection:
        connection.execution_options(**{READONLY_OPTION: True})
        with connection.begin():
            yield connection


def sqlite_file(engine: Engine) -> Path | None:
    """The file of a SQLite database (None: PostgreSQL, or SQLite in memory)."""
    path = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
    return Path(path) if path and path != ":memory:" else None


def is_contention(exc: BaseException) -> bool:
    """A failure caused only by other transactions: the same work may succeed if tried again."""
    if not isinstance(exc, DBAPIError):
        return False
    if getattr(exc.orig, "sqlstate", None) in CONTENTION_SQLSTATES:
        return True
    return isinstance(exc.orig, sqlite3.OperationalError) and "locked" in str(exc.orig)


def retrying(
    engine: Engine, work: Callable[[Connection], T], connection: Connection | None = None
) -> T:
    """Run `work` in one transaction, again (bounded, with jitter) when contention aborts it.

    Every try starts from a clean rollback, so a retried command does its whole
    work again, idempotency claim included. When contention outlasts the tries
    the caller gets `Busy` (503, retry later) and nothing was written. With
    `connection` (one the caller holds for many commands, as a batch does), each
    try is a transaction on it instead of on a connection checked out for it.
    """
    for attempt in range(COMMAND_ATTEMPTS):
        try:
            if connection is not None:
                with connection.begin():
                    result = work(connection)
                    write_deferred(connection)
                    return result
            with transaction(engine) as checked_out:
                return work(checked_out)
        except DBAPIError as exc:
            if not is_contention(exc):
                raise
            if attempt == COMMAND_ATTEMPTS - 1:
                raise Busy(
                    "database_busy",
                    f"other transactions kept this one from finishing ({COMMAND_ATTEMPTS} tries); "
                    "nothing was written: send it again",
                    None,
                ) from exc
            time.sleep(random.uniform(0, RETRY_BASE_DELAY_SECONDS * 2**attempt))
    raise AssertionError("unreachable")  # pragma: no cover


def per_transaction(connection: Connection, key: str) -> dict[Any, Any]:
    """A dict kept on `connection` for its current transaction only: another transaction
    on the same pooled connection starts with an empty one (what one transaction loaded or
    locked says nothing about the next), and so does a savepoint (rolled back, it undoes
    its locks and rows)."""
    current = connection.get_nested_transaction() or connection.get_transaction()
    kept = connection.info.get(key)
    if kept is None or kept[0] is not current:
        kept = (current, {})
        connection.info[key] = kept
    memo: dict[Any, Any] = kept[1]
    return memo


def is_postgres(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


@functools.cache
def ignoring_insert(
    dialect_name: str, table: Table, returning: Column[Any] | None = None
) -> Insert:
    """`INSERT … ON CONFLICT DO NOTHING` into `table`, built once per dialect.

    Executed with the row as parameters (a dict, or a list for many rows), so a
    hot path does not build, and key for the statement cache, a new statement
    with its values inlined on every call.
    """
    dialect_insert = postgresql_insert if dialect_name == "postgresql" else sqlite_insert
    statement = dialect_insert(table).on_conflict_do_nothing()
    return statement.returning(returning) if returning is not None else statement


def insert_if_absent(
    connection: Connection,
    table: Table,
    values: dict[str, Any] | list[dict[str, Any]],
    returning: Column[Any] | None = None,
) -> CursorResult[Any]:
    """`INSERT … ON CONFLICT DO NOTHING` on either database: a row whose key is taken is
    skipped, never an error (a concurrent inserter is waited for, then skipped).

    With `returning`, the result has a row for each row inserted (the driver's
    rowcount is not reliable for this statement).
    """
    statement = ignoring_insert(connection.dialect.name, table, returning)
    return connection.execute(statement, values)


def insert_new(connection: Connection, table: Table, values: dict[str, Any], entity: str) -> None:
    """Insert a new row under its chosen `id`; `409 <entity>_exists` if the id is taken.

    The insert finds out itself (`insert_if_absent`: a creator of the same id still in its
    transaction is waited for, then skipped), never a look before it: two creations at once
    both looked, found nothing, and the second's insert then failed on the key (`409
    concurrent_conflict` on PostgreSQL, where SQLite's one writer said `<entity>_exists`).
    """
    if insert_if_absent(connection, table, values, returning=table.c.id).first() is None:
        raise Conflict(f"{entity}_exists", f"{entity} {values['id']} already exists", "id")


def numbered_rows_insert(
    table: Table,
    columns: list[Column[Any]],
    count: int,
    prefix: str,
    gate: FromClause | None = None,
) -> Insert:
    """An INSERT of `count` rows given as parameters `<prefix><i>_<column>`, for a statement
    that writes them with others in one round trip (a data-modifying `WITH` on PostgreSQL).
    INSERT … SELECT, not a multi-row VALUES, which SQLAlchemy compiles anew on every call.
    With `gate`, each row is selected from it: no row is written if the gate has none."""
    rows = []
    for index in range(count):
        row = select(*(bindparam(f"{prefix}{index}_{c.name}", type_=c.type) for c in columns))
        rows.append(row.select_from(gate) if gate is not None else row)
    return insert(table).from_select([column.name for column in columns], union_all(*rows))


Write = TypeVar("Write", Insert, Update)


def carrying_rows(statement: Write, table: Table, count: int, prefix: str) -> Write:
    """`statement` (PostgreSQL) with `count` new rows of `table` inserted in the same round
    trip, as a data-modifying `WITH`; `table` numbers its own ids. Parameters
    `<prefix><i>_<column>` (`numbered_parameters`): never a column name of the statement's
    own table, which an UPDATE would also SET. An order's or a case's transitions."""
    columns = [column for column in table.c if column.name != "id"]
    new = numbered_rows_insert(table, columns, count, prefix)
    return statement.add_cte(new.cte(f"{prefix}_rows"))


def numbered_parameters(rows: list[dict[str, Any]], prefix: str) -> dict[str, Any]:
    """The parameters of `numbered_rows_insert` for these rows."""
    return {
        f"{prefix}{index}_{name}": value
        for index, row in enumerate(rows)
        for name, value in row.items()
    }
