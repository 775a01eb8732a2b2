"""The event feed: one total, gap-free order without a row every command writes.

On PostgreSQL a command records decisions without a feed position; the
sequencer (services/feed.py) positions them once every writer before them has
ended. These tests hold a payment just before its commit and show that other
orders' commands go on, that a reader sees none of what committed after the
held payment until it ends, and that every event is then seen exactly once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import Connection, Engine, event, select

from buyerguard.bootstrap import Runtime
from buyerguard.clock import SimulatedClock
from buyerguard.errors import Conflict
from buyerguard.ledger.accounts import part_of
from buyerguard.rulebook import rulebooks
from buyerguard.store.db import make_engine, read_transaction
from buyerguard.store.shipment_history import ShipmentHistory
from buyerguard.store.tables import decisions
from tests.conftest import Api, assert_ledger_checks, reset_postgres, serving_demo
from tests.test_api import assert_refused

HELD, OTHER_PAYMENT, CONFIRMED = "H1", "H2", "H3"  # rail clearing parts 8, 2, 4: all apart


@pytest.fixture
def postgres_rt(postgres_url: str, clock: SimulatedClock, tmp_path: Path) -> Iterator[Runtime]:
    engine = make_engine(postgres_url)
    reset_postgres(engine)
    yield Runtime(engine, clock, rulebooks(), ShipmentHistory(tmp_path / "data"))
    assert_ledger_checks(engine)
    engine.dispose()


class CommitGate:
    """Holds the transaction that posts `payment:{order_id}` just before its commit."""

    def __init__(self, engine: Engine, order_id: str) -> None:
        self.transfer_id = f"payment:{order_id}"
        self.marked: set[int] = set()
        self.reached = threading.Event()
        self.release = threading.Event()
        self.roll_back = False
        event.listen(engine, "before_cursor_execute", self._on_statement)
        event.listen(engine, "commit", self._on_commit)

    def _on_statement(self, connection: Connection, *args: Any) -> None:
        parameters = args[2] if isinstance(args[2], dict) else {}
        # The transfer's id: `id` in a plain insert (SQLite), among `ids` in PostgreSQL's
        # statement of a command's transfers (ledger/postings.py)
        posted = {parameters.get("id"), *parameters.get("ids", ())}
        if "INSERT INTO ledger_transfers" in args[1] and self.transfer_id in posted:
            self.marked.add(id(connection))

    def _on_commit(self, connection: Connection) -> None:
        if id(connection) not in self.marked:
            return
        self.marked.discard(id(connection))
        self.reached.set()
        assert self.release.wait(timeout=60), "the test never released the held payment"
        if self.roll_back:
            raise Conflict("held_and_rolled_back", "the test rolled this payment back", None)


def place(api: Api, order_id: str, product_id: str, quantity: int) -> str:
    line = {"product_id": product_id, "quantity": quantity}
    body = {"id": order_id, "buyer_id": "B-shop", "lines": [line]}
    placed = api.post("marketplace", "/v1/orders", body)
    assert placed.status_code == 201, placed.text
    return str(placed.json()["total"])


def read_all(api: Api, after: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """Every event after `after`, page by page, and the cursor to go on from."""
    items: list[dict[str, Any]] = []
    while True:
        query = "limit=2" if after is None else f"limit=2&{urlencode({'after': after})}"
        page = api.get("marketplace", f"/v1/events?{query}")
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        if not page.json()["items"]:
            return items, after
        after = page.json()["next_cursor"]


def written_ids(engine: Engine, *order_ids: str) -> set[str]:
    with read_transaction(engine) as connection:
        query = select(decisions.c.id).where(decisions.c.order_id.in_(order_ids))
        return set(connection.execute(query).scalars())


@pytest.mark.parametrize("outcome", ["commit", "rollback"])
def test_a_held_payment_blocks_no_one_and_hides_what_follows_until_it_ends(
    outcome: str, postgres_rt: Runtime
) -> None:
    assert len({part_of(HELD), part_of(OTHER_PAYMENT), part_of(CONFIRMED)}) == 3
    engine = postgres_rt.engine
    with serving_demo(postgres_rt) as api:
        held_total = place(api, HELD, "P-cups", 10)  # M-yiwu
        other_total = place(api, OTHER_PAYMENT, "P-cables", 1)  # M-shenzhen
        confirmed_total = place(api, CONFIRMED, "P-cables", 2)  # M-shenzhen
        for suffix, body in (
            ("payment", {"amount": confirmed_total}),
            ("shipment", {"carrier": "SF", "tracking_number": "T3"}),
            ("signing", None),
        ):
            answer = api.post("marketplace", f"/v1/orders/{CONFIRMED}/{suffix}", body)
            assert answer.status_code == 200, answer.text
        seen_before, cursor = read_all(api, None)
        assert seen_before, "the setup's own events are on the feed"

        gate = CommitGate(engine, HELD)
        gate.roll_back = outcome == "rollback"
        held_answer: list[Any] = []
        payer = threading.Thread(
            target=lambda: held_answer.append(
                api.post("marketplace", f"/v1/orders/{HELD}/payment", {"amount": held_total})
            )
        )
        payer.start()
        try:
            assert gate.reached.wait(timeout=30), "the held payment never reached its commit"
            started = time.monotonic()
            paid = api.post(
                "marketplace", f"/v1/orders/{OTHER_PAYMENT}/payment", {"amount": other_total}
            )
            confirmed = api.post("marketplace", f"/v1/orders/{CONFIRMED}/confirmation")
            elapsed_seconds = time.monotonic() - started
            assert paid.status_code == 200, paid.text
            assert confirmed.status_code == 200, confirmed.text
            assert elapsed_seconds < 2, f"other orders waited {elapsed_seconds:.2f}s"
            hidden, _ = read_all(api, cursor)
            assert hidden == [], "events committed after the held payment were shown early"
        finally:
            gate.release.set()
            payer.join(timeout=60)
        if outcome == "commit":
            assert held_answer[0].status_code == 200, held_answer[0].text
        else:
            assert_refused(held_answer[0], 409, "held_and_rolled_back")

        after_release, _ = read_all(api, cursor)
        ids = [item["id"] for item in after_release]
        assert len(ids) == len(set(ids)), "an event was shown twice"
        expected = written_ids(engine, OTHER_PAYMENT, CONFIRMED) - {
            item["id"] for item in seen_before
        }
        if outcome == "commit":
            expected |= written_ids(engine, HELD)
        assert set(ids) == expected
        if outcome == "rollback":
            assert written_ids(engine, HELD) == set()
        again, _ = read_all(api, cursor)
        assert [item["id"] for item in again] == ids, "the feed reads the same every time"


def test_cursors_are_opaque_strings_and_malformed_ones_are_refused(api: Api) -> None:
    assert api.get("marketplace", "/v1/events").json() == {
        "items": [],
        "next_cursor": None,
        "has_more": False,
    }
    for bad in ("abc", "-1", "1.5", "9" * 30, " 1"):
        answer = api.get("marketplace", f"/v1/events?{urlencode({'after': bad})}")
        assert_refused(answer, 422, "cursor_malformed", "after")
    too_long = api.get("marketplace", f"/v1/events?after={'1' * 65}")
    assert_refused(too_long, 422, "length_out_of_range", "after")
