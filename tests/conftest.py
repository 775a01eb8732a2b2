"""Shared fixtures: real SQLite and real PostgreSQL, a simulated clock, an API client.

Database tests take the `engine` fixture, parametrised over both backends.
PostgreSQL runs when BUYERGUARD_TEST_POSTGRES_URL is set and is skipped, with
a plain reason, when it is not; with BUYERGUARD_REQUIRE_POSTGRES=1 (CI) a
missing or unreachable PostgreSQL fails the run instead. After every database
test the ledger is checked: a test that leaves it unbalanced fails.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from buyerguard.api.app import create_app
from buyerguard.bootstrap import Runtime
from buyerguard.clock import SimulatedClock, parse_instant
from buyerguard.ledger.check import check_ledger
from buyerguard.ledger.postings import DEFERRED_TRANSFERS
from buyerguard.rulebook import rulebooks
from buyerguard.services.context import OPERATOR, Role
from buyerguard.services.records import DECISIONS
from buyerguard.services.tokens import create_token
from buyerguard.store.db import make_engine, normalise_url, read_transaction
from buyerguard.store.deferred_writes import has_any_deferred, has_deferred
from buyerguard.store.migrate import upgrade
from buyerguard.store.shipment_history import ShipmentHistory
from buyerguard.store.tables import metadata
from tests.schema_conformance import checked_client

pytest_plugins = ["tests.live_server"]

POSTGRES_URL_ENV = "BUYERGUARD_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_ENV = "BUYERGUARD_REQUIRE_POSTGRES"
START = "2024-10-20T10:00:00+08:00"


def pytest_report_header() -> str:
    url = os.environ.get(POSTGRES_URL_ENV)
    if url:
        return f"PostgreSQL tests: ON ({make_url(url).render_as_string(hide_password=True)})"
    return f"PostgreSQL tests: SKIPPED ({POSTGRES_URL_ENV} is not set)"


_POSTGRES_OUTCOMES: dict[str, int] = {"passed": 0, "failed": 0, "skipped": 0}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Count PostgreSQL-backed tests so the run can say plainly what happened to them."""
    if "postgres" not in report.nodeid.rsplit("[", 1)[-1]:
        return
    if report.when == "call" or report.outcome != "passed":
        _POSTGRES_OUTCOMES[report.outcome] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    counts = _POSTGRES_OUTCOMES
    terminalreporter.write_line(
        f"PostgreSQL tests: {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['skipped']} skipped"
        + ("" if os.environ.get(POSTGRES_URL_ENV) else f" ({POSTGRES_URL_ENV} is not set)")
    )


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is faster)."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of this test session's own (dropped at the end), so runs can overlap."""
    url = os.environ.get(POSTGRES_URL_ENV)
    if not url:
        if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
            pytest.fail(f"{POSTGRES_URL_ENV} must be set when {REQUIRE_POSTGRES_ENV}=1")
        pytest.skip(f"PostgreSQL tests skipped: {POSTGRES_URL_ENV} is not set")
    parsed = make_url(normalise_url(url))
    parsed = parsed.set(database=f"{parsed.database or 'buyerguard_test'}_{os.getpid()}")
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}"'))
            connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    except Exception as exc:
        admin.dispose()
        if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
            pytest.fail(f"PostgreSQL unreachable at {url}: {exc}")
        pytest.skip(f"PostgreSQL tests skipped: unreachable ({exc})")
    engine = make_engine(parsed.render_as_string(hide_password=False))
    upgrade(engine)
    engine.dispose()
    yield parsed.render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


_READS_DECISIONS = re.compile(r"\bdecisions\b")


@event.listens_for(Engine, "before_cursor_execute")
def _no_read_past_pending_decisions(  # type: ignore[no-untyped-def]
    connection, _cursor, statement, _parameters, _context, _executemany
) -> None:
    """Every test checks that no statement touches `decisions` while this transaction holds
    decisions it has recorded but not yet written (store/deferred_writes.py): it would miss
    them. A reader calls `records.write_pending_decisions` first."""
    if has_deferred(connection, DECISIONS) and _READS_DECISIONS.search(statement):
        raise AssertionError(f"reads decisions past pending ones: {statement[:200]}")


_READS_LEDGER = re.compile(r"\bledger_(transfers|entries)\b|\b(FROM|UPDATE) ledger_accounts\b")


@event.listens_for(Engine, "before_cursor_execute")
def _no_read_past_pending_transfers(  # type: ignore[no-untyped-def]
    connection, _cursor, statement, _parameters, _context, _executemany
) -> None:
    """Every test checks that no statement reads or moves the ledger while this transaction
    holds transfers recorded for later (`ledger.book.record_later`): it would miss them. A
    reader calls `ledger.postings.write_deferred_transfers` first."""
    if has_deferred(connection, DEFERRED_TRANSFERS) and _READS_LEDGER.search(statement):
        raise AssertionError(f"reads the ledger past pending transfers: {statement[:200]}")


LAST_RESORT_ALLOWED = "buyerguard.test_last_resort_allowed"  # connection.info flag


@event.listens_for(Engine, "commit", insert=True)
def _nothing_left_for_the_last_resort(connection) -> None:  # type: ignore[no-untyped-def]
    """Every unit of work writes its deferred rows inside its transaction
    (store/db.transaction, retrying); the commit event's last resort is for paths that
    forget, and every test fails if one does (a test of the last resort itself opts out)."""
    if has_any_deferred(connection) and not connection.info.get(LAST_RESORT_ALLOWED):
        raise AssertionError("a commit found deferred rows its unit of work did not write")


def reset_postgres(engine: Engine) -> None:
    names = ", ".join(table.name for table in metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty database on each backend; the ledger must check after the test."""
    if request.param == "sqlite":
        path = tmp_path / "test.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        db = make_engine(f"sqlite:///{path}")
    else:
        db = make_engine(request.getfixturevalue("postgres_url"))
        reset_postgres(db)
    yield db
    assert_ledger_checks(db)
    db.dispose()


def assert_ledger_checks(engine: Engine) -> None:
    with read_transaction(engine) as connection:
        report = check_ledger(connection)
    assert report.ok, "ledger check failed after test:\n" + "\n".join(report.breaches)


@pytest.fixture(params=["sqlite", "postgres"])
def blank_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all, on each backend (for migrations and refusals)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'blank.sqlite3'}"
        return
    base = make_url(normalise_url(request.getfixturevalue("postgres_url")))
    blank = base.set(database=f"{base.database}_blank")
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{blank.database}"'))
        connection.execute(text(f'CREATE DATABASE "{blank.database}"'))
    yield blank.render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{blank.database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(parse_instant(START))


@pytest.fixture
def rt(engine: Engine, clock: SimulatedClock, tmp_path: Path) -> Runtime:
    return Runtime(engine, clock, rulebooks(), ShipmentHistory(tmp_path / "data"))


def at(text_instant: str) -> datetime:
    """Tests write instants as ISO strings with offsets."""
    return parse_instant(text_instant)


class Api:
    """A TestClient with a token per role for the demo-shaped fixtures."""

    def __init__(self, client: TestClient, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens

    def headers(self, role: str, key: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    def post(self, role: str, path: str, body: object = None, key: str | None = None):  # type: ignore[no-untyped-def]
        return self.client.post(path, json=body, headers=self.headers(role, key))

    def get(self, role: str, path: str):  # type: ignore[no-untyped-def]
        return self.client.get(path, headers=self.headers(role))


DEMO_CALLERS = (
    ("operator", Role.OPERATOR, None),
    ("marketplace", Role.MARKETPLACE, None),
    ("merchant", Role.MERCHANT, "M-yiwu"),
    ("other_merchant", Role.MERCHANT, "M-shenzhen"),
    ("buyer", Role.BUYER, "B-shop"),
    ("other_buyer", Role.BUYER, "B-chain"),
)


@contextmanager
def serving_demo(rt: Runtime) -> Iterator[Api]:
    """The app on `rt`'s database, with the demo marketplace and a token per caller."""
    from buyerguard.demo import ensure_demo_catalog

    with rt.writing(OPERATOR) as ctx:
        ensure_demo_catalog(ctx)
        tokens = {name: create_token(ctx, role, party).secret for name, role, party in DEMO_CALLERS}
    with checked_client(create_app(rt)) as client:
        yield Api(client, tokens)


@pytest.fixture
def api(rt: Runtime) -> Iterator[Api]:
    """The app on the test database, with the demo marketplace and a token per role."""
    with serving_demo(rt) as served:
        yield served
