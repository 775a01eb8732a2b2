"""Idempotency keys are kept `idempotency_key_days` (7), then expire: an hourly scheduler
job deletes them in batches, and the same key is then a new request."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from buyerguard.bootstrap import Runtime
from buyerguard.clock import SimulatedClock
from buyerguard.scheduler import Scheduler
from buyerguard.services.context import OPERATOR
from buyerguard.services.idempotency import (
    EXPIRY_BATCH_ROWS,
    IDEMPOTENCY_EXPIRY,
    expire_keys,
)
from buyerguard.store.tables import idempotency_keys
from buyerguard.timer_kinds import TIMER_KINDS
from tests.conftest import Api

ORDER = {"id": "O-key", "buyer_id": "B-shop", "lines": [{"product_id": "P-cups", "quantity": 10}]}


def expiry_scheduler(rt: Runtime) -> Scheduler:
    """The real scheduler, keeping and running only the expiry job."""
    kinds = {IDEMPOTENCY_EXPIRY: TIMER_KINDS[IDEMPOTENCY_EXPIRY]}
    return Scheduler(rt.engine, rt.clock, rt.rulebooks, recurring=True, kinds=kinds)


def stored_keys(rt: Runtime) -> int:
    with rt.reading(OPERATOR) as ctx:
        return int(
            ctx.connection.execute(select(func.count()).select_from(idempotency_keys)).scalar_one()
        )


def test_a_key_replays_for_seven_days_then_is_a_new_request(
    api: Api, rt: Runtime, clock: SimulatedClock
) -> None:
    first = api.post("marketplace", "/v1/orders", ORDER, key="place-O-key")
    assert first.status_code == 201
    scheduler = expiry_scheduler(rt)
    scheduler.tick()  # arms the hourly pass
    clock.advance(timedelta(days=6, hours=23))
    assert any("expired" in fired.outcome for fired in scheduler.tick())
    replay = api.post("marketplace", "/v1/orders", ORDER, key="place-O-key")
    assert replay.status_code == 201 and replay.headers.get("Idempotent-Replayed") == "true"
    clock.advance(timedelta(hours=2))  # past 7 days, and past the next whole hour
    outcomes = [fired.outcome for fired in scheduler.tick()]
    assert outcomes and outcomes[-1].startswith("1 idempotency key(s)"), outcomes
    again = api.post("marketplace", "/v1/orders", ORDER, key="place-O-key")
    assert again.status_code == 409 and again.json()["code"] == "order_exists"


def key_row(key: str, created_at: datetime) -> dict[str, object]:
    return {
        "principal": "marketplace",
        "route": "POST /v1/orders",
        "key": key,
        "request_hash": "0" * 64,
        "status_code": 201,
        "response_body": "{}",
        "created_at": created_at,
    }


@pytest.mark.parametrize("old_rows", [0, 1, EXPIRY_BATCH_ROWS + 7])
def test_expiry_deletes_every_old_key_in_batches_and_keeps_new_ones(
    rt: Runtime, clock: SimulatedClock, old_rows: int
) -> None:
    now = clock.now()
    old = [key_row(f"old-{n}", now - timedelta(days=8, seconds=n)) for n in range(old_rows)]
    new = [key_row(f"new-{n}", now - timedelta(days=7) + timedelta(seconds=n)) for n in range(3)]
    with rt.writing(OPERATOR) as ctx:
        ctx.connection.execute(insert(idempotency_keys), old + new)
    assert expire_keys(rt, now - timedelta(days=7)) == old_rows
    assert stored_keys(rt) == len(new)  # the one stored exactly at the cutoff stays
