"""What the stateful machines share (tests/test_stateful_orders.py and
tests/test_stateful_cases.py): the harness a machine is bound to, a database wiped and
seeded with the demo marketplace for each example, and the weighted choices they draw."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, delete, select, text

from buyerguard.bootstrap import Runtime
from buyerguard.clock import SimulatedClock, parse_instant
from buyerguard.demo import ensure_demo_catalog
from buyerguard.ledger.check import check_ledger
from buyerguard.services.context import OPERATOR, Role
from buyerguard.services.tokens import create_token
from buyerguard.store.db import transaction
from buyerguard.store.tables import ledger_accounts, metadata
from tests.conftest import START

FUZZ_ENV = "BUYERGUARD_FUZZ"


def machine_settings(examples: int, steps: int) -> settings:
    """A machine's sizes: the CI ones given, or those `BUYERGUARD_FUZZ=EXAMPLESxSTEPS` names
    (e.g. `400x60`) for a long hunt, so a long run needs no edit of the test."""
    wanted = os.environ.get(FUZZ_ENV, "").strip()
    if wanted:
        sizes = re.fullmatch(r"([1-9][0-9]*)x([1-9][0-9]*)", wanted)
        if sizes is None:
            raise ValueError(f"{FUZZ_ENV}={wanted!r}: expected EXAMPLESxSTEPS, e.g. 400x60")
        examples, steps = int(sizes[1]), int(sizes[2])
    return settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@dataclass
class Harness:
    rt: Runtime
    clock: SimulatedClock
    client: TestClient
    start: datetime = field(default_factory=lambda: parse_instant(START))


def wipe_and_seed(rt: Runtime, callers: Iterable[tuple[str, Role, str | None]]) -> dict[str, str]:
    """Empty every table, reload the demo marketplace and issue a token per caller
    (name, role, party)."""
    engine: Engine = rt.engine
    with transaction(engine) as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(table.name for table in metadata.sorted_tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(metadata.sorted_tables):
                connection.execute(delete(table))
    with rt.writing(OPERATOR) as ctx:
        ensure_demo_catalog(ctx)
        return {name: create_token(ctx, role, party).secret for name, role, party in callers}


def often(data: st.DataObject, label: str) -> bool:
    """True three times in four (shrinks towards False)."""
    return data.draw(st.integers(0, 3), label=label) > 0


def rarely(data: st.DataObject, label: str) -> bool:
    """True about one time in eight (shrinks towards False; Hypothesis favours the bounds,
    so not a bound)."""
    return data.draw(st.integers(0, 7), label=label) == 3


def instant(value: str | None) -> datetime | None:
    """An instant the API answered (None stays None)."""
    return parse_instant(value) if value else None


@dataclass
class Sent:
    """A POST a machine sent with an Idempotency-Key, and what it answered (its `command`
    is the machine's own command type)."""

    command: Any
    key: str
    status: int
    payload: dict[str, Any]

    @property
    def stored(self) -> bool:
        """Only a request that succeeded is stored under its key (a refusal stores nothing)."""
        return self.status < 400


def checked_ledger_columns(connection: Connection) -> dict[str, list[int]]:
    """Check the ledger (a breach fails the step), then every account's four balance columns:
    debits and credits, posted and pending."""
    report = check_ledger(connection)
    assert report.ok, report.breaches
    return {
        row.id: [
            row.debits_posted_fen,
            row.credits_posted_fen,
            row.debits_pending_fen,
            row.credits_pending_fen,
        ]
        for row in connection.execute(select(ledger_accounts))
    }
