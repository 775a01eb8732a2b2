"""Engines and transactions for SQLite (default) and PostgreSQL.

SQLite transactions start with BEGIN IMMEDIATE so two writers queue for the
lock instead of failing on upgrade; PostgreSQL takes row locks (`FOR UPDATE`)
where a command reads what it will change. Either way a command runs in one
transaction: state, decisions, postings, timers and audit commit together.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

DATABASE_URL_ENV = "BUYERGUARD_DATABASE_URL"
DEFAULT_SQLITE_PATH = Path("var") / "buyerguard.sqlite3"
READONLY_OPTION = "buyerguard_readonly"
SQLITE_BUSY_TIMEOUT_MS = 30_000  # how long a writer waits for the lock before failing


def database_url() -> str:
    """`$BUYERGUARD_DATABASE_URL`, else the embedded SQLite file under ./var."""
    return os.environ.get(DATABASE_URL_ENV) or f"sqlite:///{DEFAULT_SQLITE_PATH.resolve()}"


def normalise_url(url: str) -> str:
    """Use psycopg 3 for `postgresql://` URLs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """An engine configured for safe concurrent writers on either backend."""
    url = normalise_url(url or database_url())
    if url.startswith("sqlite"):
        path = make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Connection) -> None:
            readonly = connection.get_execution_options().get(READONLY_OPTION, False)
            connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One unit of work: commits on success, rolls back on any exception."""
    with engine.begin() as connection:
        yield connection


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that only reads: on SQLite it does not take the write lock."""
    with engine.connect() as connection:
        connection.execution_options(**{READONLY_OPTION: True})
        with connection.begin():
            yield connection


def is_postgres(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"
