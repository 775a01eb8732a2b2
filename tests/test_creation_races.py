"""Two creations of one merchant, buyer or product id at once: one is created, the other is
refused `<entity>_exists` naming `id`, on both databases.

Outside tests with real threads on the served app. A gate — a third creation of the id,
its row inserted in a transaction held open — makes both requests arrive while the id is
being taken, then rolls back; so on PostgreSQL both have looked for the id and found none
before either inserts. SQLite has one writer: they queue behind the gate and run in turn.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import Table, insert, literal, select

from buyerguard.bootstrap import Runtime
from buyerguard.store.tables import buyers, merchants, products
from tests.conftest import Api
from tests.races import waiting_on_locks

WAIT_SECONDS = 30
ADDRESS = {"province_code": "440000", "city_code": "440300", "district_code": "440305"}
CREATIONS: dict[str, tuple[str, Table, str, dict[str, Any]]] = {
    "merchant": (
        "/v1/merchants",
        merchants,
        "M-yiwu",
        {"name": "Twin", "tier": "standard", "industry": "general", "origin_region": "330782"},
    ),
    "buyer": ("/v1/buyers", buyers, "B-shop", {"name": "Twin", "addresses": [ADDRESS]}),
    "product": (
        "/v1/products",
        products,
        "P-cables",
        {
            "merchant_id": "M-yiwu",
            "title": "Twin",
            "tiers": [{"kind": "spot", "price": "1.00", "moq": 1, "seven_day_returns": True}],
            "weight_grams": 10,
            "ship_from_region": "330782",
            "return_class": "mandatory",
        },
    ),
}


def settle(rt: Runtime, waiting: int) -> None:
    """Until `waiting` requests wait on the gate (SQLite: a moment, they queue on its lock)."""
    if rt.engine.dialect.name == "sqlite":
        time.sleep(0.5)
        return
    deadline = time.monotonic() + WAIT_SECONDS
    while waiting_on_locks(rt) < waiting:
        assert time.monotonic() < deadline, "the creations never waited on the gate"
        time.sleep(0.05)


@pytest.mark.parametrize("entity", sorted(CREATIONS))
def test_two_creations_of_one_id_at_once_create_it_once_and_say_it_exists(
    entity: str, api: Api, rt: Runtime
) -> None:
    """It used to be `409 concurrent_conflict` (no field) on PostgreSQL for the loser, where
    SQLite, and any creation not at the same instant, said `<entity>_exists` on `id`."""
    path, table, model_id, body = CREATIONS[entity]
    new_id = f"{entity}-twin"
    answers: list[Any] = []

    def create(role: str) -> None:
        answers.append(api.post(role, path, {"id": new_id, **body}))

    threads = [threading.Thread(target=create, args=(role,)) for role in ("marketplace",) * 2]
    with rt.engine.connect() as gate:
        copied = select(
            *(literal(new_id).label("id") if c.name == "id" else c for c in table.c)
        ).where(table.c.id == model_id)
        gate.execute(insert(table).from_select([c.name for c in table.c], copied))
        for thread in threads:
            thread.start()
        settle(rt, 2)
        gate.rollback()
    for thread in threads:
        thread.join(WAIT_SECONDS)
    outcomes = sorted((a.status_code, a.json().get("code"), a.json().get("field")) for a in answers)
    assert outcomes == [(201, None, None), (409, f"{entity}_exists", "id")], outcomes
    with rt.engine.connect() as connection:
        count = select(table.c.id).where(table.c.id == new_id)
        assert len(connection.execute(count).all()) == 1
