"""Apply the Alembic migrations shipped inside the package."""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from buyerguard.errors import NotReady
from buyerguard.store.db import make_engine, normalise_url, sqlite_file

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
UPGRADE_LOCK_KEY = 0x6275796572  # "buyer": PostgreSQL advisory lock held while migrating


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest schema (idempotent).

    On SQLite, foreign keys are off while the migrations run, as SQLite asks for
    changes that rebuild a table (a referenced table cannot be dropped and
    renamed back otherwise), and checked in full before the transaction commits.
    """
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    shown = engine.url.render_as_string(hide_password=True)
    file = sqlite_file(engine)
    if file is not None:  # the one command that may create the database, and its directory
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a file in the way, or no permission
            raise _unreachable(shown, f"cannot create {file.parent}: {exc.strerror}") from None
    try:
        connection = engine.connect()
    except OperationalError as exc:
        raise _unreachable(shown, _first_line(exc)) from None
    with connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:  # outside any transaction: SQLite ignores this pragma inside one
            _sqlite_pragma(connection, "PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                if not sqlite:  # a second upgrade waits here, then finds the database at head
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": UPGRADE_LOCK_KEY}
                    )
                _refuse_a_newer_schema(connection, shown)
                config.attributes["connection"] = connection
                try:
                    command.upgrade(config, "head")
                except OperationalError as exc:  # e.g. a read-only file
                    raise _unreachable(shown, _first_line(exc)) from None
                if sqlite:
                    _require_foreign_keys_hold(connection)
        finally:
            if sqlite:
                _sqlite_pragma(connection, "PRAGMA foreign_keys=ON")


def _sqlite_pragma(connection: Connection, pragma: str) -> None:
    """Run a pragma on the driver connection, which is in autocommit between transactions."""
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute(pragma)


def _require_foreign_keys_hold(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"migration left rows whose foreign keys do not hold: {broken[:5]}")


def upgrade_url(url: str) -> None:
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


@functools.cache
def release_heads() -> frozenset[str]:
    """The schema revision(s) this release needs (read once from the migration scripts)."""
    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


@functools.cache
def release_revisions() -> frozenset[str]:
    """Every schema revision this release knows; one outside them was made by a newer release."""
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return frozenset(script.revision for script in scripts.walk_revisions())


def _refuse_a_newer_schema(connection: Connection, shown_url: str) -> None:
    current = set(MigrationContext.configure(connection).get_current_heads())
    unknown = sorted(current - release_revisions())
    if unknown:
        raise NotReady(
            "database_newer",
            f"the database at {shown_url} is at {unknown}, made by a newer buyerguard than this"
            f" one (which goes up to {sorted(release_heads())}): run that release, or restore a"
            " backup made before it",
            "database",
        )


def _first_line(exc: OperationalError) -> str:
    detail = str(exc.orig if exc.orig is not None else exc).strip()
    return detail.splitlines()[0] if detail else "no answer"


def _unreachable(shown_url: str, reason: str) -> NotReady:
    return NotReady(
        "database_unreachable", f"cannot reach the database at {shown_url}: {reason}", "database"
    )


def require_migrated(engine: Engine) -> None:
    """Refuse, in one line, a database that is unreachable or not at this release's schema."""
    url = engine.url.render_as_string(hide_password=True)
    file = sqlite_file(engine)
    if file is not None and not file.exists():  # connecting would create it (and ./var)
        raise NotReady(
            "database_not_migrated",
            f"no database at {file}: run `buyerguard db upgrade` (or set BUYERGUARD_DATABASE_URL)",
            "database",
        )
    try:
        with engine.connect() as connection:
            _refuse_a_newer_schema(connection, url)
            current = set(MigrationContext.configure(connection).get_current_heads())
    except OperationalError as exc:
        raise _unreachable(url, _first_line(exc)) from None
    heads = release_heads()
    if not current:
        raise NotReady(
            "database_not_migrated",
            f"the database at {url} has no schema yet: run `buyerguard db upgrade`",
            "database",
        )
    if current != heads:
        raise NotReady(
            "database_not_at_head",
            f"the database at {url} is at {sorted(current)}, this release needs "
            f"{sorted(heads)}: run `buyerguard db upgrade`",
            "database",
        )
