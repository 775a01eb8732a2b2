"""Every list pages its rows in code-point order on both databases.

SQLite compares text byte by byte (code points, for UTF-8); PostgreSQL compares by the
database's collation, which in a natural-language locale ignores case and punctuation
("a1" < "A1" < "a-2"). The PostgreSQL database here is made in such a locale (en-US:
ICU's, else the C library's), as a deployment's may be, and must list and page exactly
as SQLite does.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    Date,
    Engine,
    Integer,
    Table,
    create_engine,
    insert,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from buyerguard.bootstrap import Runtime
from buyerguard.clock import SimulatedClock
from buyerguard.ledger.balances import list_accounts
from buyerguard.rulebook import rulebooks
from buyerguard.services.context import Actor, Role
from buyerguard.services.declared_tables import page_by_id
from buyerguard.services.instructions import list_instructions
from buyerguard.services.payouts import _candidates as payout_candidates
from buyerguard.services.timers import list_timers
from buyerguard.services.webhook_endpoints import list_endpoints
from buyerguard.store.case_repository import list_cases
from buyerguard.store.catalogue import list_products
from buyerguard.store.columns import UtcDateTime
from buyerguard.store.db import make_engine, normalise_url
from buyerguard.store.migrate import upgrade
from buyerguard.store.repositories import list_orders
from buyerguard.store.shipment_history import ShipmentHistory
from buyerguard.store.tables import (
    cases,
    instructions,
    ledger_accounts,
    logistics_disruptions,
    logistics_slowdowns,
    orders,
    product_tiers,
    products,
    timers,
    webhook_endpoints,
)

# Case, punctuation and a letter beyond ASCII: the keys a natural-language collation reorders.
IDS = ("a-2", "A1", "a1", "b", "_x", "Z", "é", "a.3", "B", "a10", "a9")
NOW = datetime(2024, 10, 20, 2, 0, tzinfo=UTC)
KNOWN = {  # the values the tables' checks allow
    ("timers", "status"): "pending",
    ("webhook_endpoints", "state"): "active",
    ("instructions", "state"): "instructed",
}
PAGE = 3


def _value(table: Table, name: str) -> Any:
    """A value for a required column of no interest here (the checks' known states)."""
    if (table.name, name) in KNOWN:
        return KNOWN[table.name, name]
    kind = table.c[name].type
    if isinstance(kind, JSON):
        return {}
    if isinstance(kind, Boolean):
        return False
    if isinstance(kind, Date):
        return date(2024, 10, 20)
    if isinstance(kind, Integer):  # BigInteger too: amounts and prices must be positive
        return 1
    if isinstance(kind, UtcDateTime):
        return NOW
    return "x"


def _insert(connection: Connection, table: Table, **given: Any) -> None:
    """A row of `table` with `given` values and filler for every other required column;
    the rows its foreign keys name are inserted first when missing."""
    row = dict(given)
    for column in table.columns:
        if column.name in row or column.nullable or column.default is not None:
            continue
        if column.autoincrement is True or (
            column.primary_key and isinstance(column.type, Integer)
        ):
            continue
        row[column.name] = _value(table, column.name)
    for column in table.columns:
        for key in column.foreign_keys:
            parent, value = key.column.table, row.get(column.name)
            assert isinstance(parent, Table)
            found = select(key.column).where(key.column == value)
            if value is not None and connection.execute(found).first() is None:
                _insert(connection, parent, **{key.column.name: value})
    connection.execute(insert(table), row)


def _fill(connection: Connection) -> None:
    for key in IDS:
        _insert(connection, orders, id=key, buyer_id="buyer", merchant_id="merchant")
        _insert(
            connection,
            cases,
            id=key,
            order_id="order",
            sub_order_id=key,
            type="return_quality",
            state="closed",
            goods="with_buyer",
        )
        _insert(connection, timers, id=key)
        _insert(connection, instructions, id=key)
        _insert(
            connection,
            products,
            id=key,
            merchant_id="merchant",
            ship_from_region="330782",
            return_class="mandatory",
            one_piece_forms=[],
        )
        _insert(connection, product_tiers, product_id=key, kind="spot", position=0)
        _insert(connection, webhook_endpoints, id=key)
        _insert(connection, logistics_disruptions, id=key)
        _insert(connection, logistics_slowdowns, id=key)
        _insert(
            connection,
            ledger_accounts,
            id=f"merchant:{key}:payable",
            party=f"merchant:{key}",
            purpose="payable",
            credits_posted_fen=100,
            debits_posted_fen=0,
            debits_pending_fen=0,
            credits_pending_fen=0,
        )


Page = Callable[[Runtime, str | None, int], list[str]]


def _webhooks(rt: Runtime, after: str | None, limit: int) -> list[str]:
    with rt.reading(Actor(Role.OPERATOR)) as ctx:
        return [row["id"] for row in list_endpoints(ctx, after, limit)]


def _read(rt: Runtime, read: Callable[[Connection], list[str]]) -> list[str]:
    with rt.engine.connect() as connection:
        return read(connection)


LISTS: dict[str, Page] = {
    "orders": lambda rt, after, limit: _read(
        rt, lambda c: list_orders(c, merchant_id=None, buyer_id=None, after=after, limit=limit)
    ),
    "cases": lambda rt, after, limit: _read(
        rt, lambda c: [case.id for case in list_cases(c, after=after, limit=limit)]
    ),
    "timers": lambda rt, after, limit: _read(
        rt, lambda c: [r["id"] for r in list_timers(c, state=None, after=after, limit=limit)]
    ),
    "instructions": lambda rt, after, limit: _read(
        rt, lambda c: [r["id"] for r in list_instructions(c, now=NOW, after=after, limit=limit)]
    ),
    "products": lambda rt, after, limit: _read(
        rt, lambda c: [p.id for p, _ in list_products(c, None, after, limit)]
    ),
    "accounts": lambda rt, after, limit: _read(
        rt,
        lambda c: [
            a.balance.account_id for a in list_accounts(c, party=None, after=after, limit=limit)
        ],
    ),
    "disruptions": lambda rt, after, limit: _read(
        rt, lambda c: [r["id"] for r in page_by_id(c, logistics_disruptions, after, limit)]
    ),
    "slowdowns": lambda rt, after, limit: _read(
        rt, lambda c: [r["id"] for r in page_by_id(c, logistics_slowdowns, after, limit)]
    ),
    "webhook endpoints": _webhooks,
}


# A language's collation: ICU en-US (PostgreSQL 15+), else the C library's en_US.UTF-8.
LANGUAGE_LOCALES = (
    "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'",
    "LC_COLLATE 'en_US.UTF-8' LC_CTYPE 'en_US.UTF-8'",
)


@contextmanager
def _language_database(base_url: str) -> Iterator[str]:
    """A database of its own in an en-US collation (case and punctuation ignored)."""
    base = make_url(normalise_url(base_url))
    made = base.set(database=f"{base.database}_en_us")
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    problems = []
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{made.database}"'))
        for locale in LANGUAGE_LOCALES:
            try:
                create = f'CREATE DATABASE "{made.database}" TEMPLATE template0 {locale}'
                connection.execute(text(create))
                break
            except DBAPIError as refused:
                problems.append(str(refused.orig).strip())
        else:
            admin.dispose()
            pytest.skip(f"this PostgreSQL has no en-US collation: {'; '.join(problems)}")
    yield made.render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{made.database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def listed(
    sqlite_template: Path, postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Runtime]]:
    """The same rows in SQLite and in a PostgreSQL database of a natural-language locale."""
    path = tmp_path_factory.mktemp("order") / "order.sqlite3"
    shutil.copy(sqlite_template, path)
    with _language_database(postgres_url) as language_url:
        runtimes: dict[str, Runtime] = {}
        for name, url in (("sqlite", f"sqlite:///{path}"), ("postgres", language_url)):
            engine: Engine = make_engine(url)
            if name == "postgres":
                upgrade(engine)
            with engine.begin() as connection:
                _fill(connection)
            history = ShipmentHistory(tmp_path_factory.mktemp(name))
            runtimes[name] = Runtime(engine, SimulatedClock(NOW), rulebooks(), history)
        yield runtimes
        for runtime in runtimes.values():
            runtime.engine.dispose()


def _pages(rt: Runtime, page: Page) -> list[list[str]]:
    pages, after = [], None
    while chunk := page(rt, after, PAGE):
        pages.append(chunk)
        after = chunk[-1]
    return pages


@pytest.mark.parametrize("name", sorted(LISTS))
def test_a_list_pages_in_code_point_order_alike_on_both_databases(
    listed: dict[str, Runtime], name: str
) -> None:
    sqlite, postgres = (_pages(listed[db], LISTS[name]) for db in ("sqlite", "postgres"))
    everything = [key for chunk in sqlite for key in chunk]
    assert everything == sorted(everything) and len(everything) >= len(IDS)
    assert postgres == sqlite


def test_a_payout_run_takes_merchants_in_code_point_order_alike(
    listed: dict[str, Runtime],
) -> None:
    found = {db: _read(rt, lambda c: payout_candidates(c, None)) for db, rt in listed.items()}
    assert found["sqlite"] == sorted(IDS)
    assert found["postgres"] == found["sqlite"]
