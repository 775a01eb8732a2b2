"""One Idempotency-Key sent twice at once runs once, on both databases.

Outside tests with real threads on the served app (the `api` fixture: TestClient, each
request its own transaction on a pooled connection of its own). A payout run commits
merchant by merchant, so its key cannot be claimed inside one transaction as a single
command's is (api/runtime.execute_long_command): the twin of a run still running must
neither run as well nor be refused after paying someone.

A gate holds what the first run must wait for (PostgreSQL: both merchants' payable
accounts; SQLite: its one write lock), so the second arrives while the first is still
running, whichever interleaving follows once it opens.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import text

from buyerguard.bootstrap import Runtime
from tests.conftest import Api
from tests.races import waiting_on_locks

MERCHANTS = ("M-yiwu", "M-shenzhen")
PRODUCT_OF = {"M-yiwu": "P-cups", "M-shenzhen": "P-cables"}
WAIT_SECONDS = 30


def earned(api: Api, merchant_id: str, order_id: str) -> None:
    """An order of the merchant's, confirmed: its money is payable."""
    lines = [{"product_id": PRODUCT_OF[merchant_id], "quantity": 1}]
    placed = api.post(
        "marketplace", "/v1/orders", {"id": order_id, "buyer_id": "B-shop", "lines": lines}
    )
    assert placed.status_code == 201, placed.text
    steps: tuple[tuple[str, Any], ...] = (
        ("payment", {"amount": placed.json()["total"]}),
        ("shipment", {"carrier": "SF", "tracking_number": f"SF-{order_id}"}),
        ("signing", None),
        ("confirmation", None),
    )
    for step, body in steps:
        answer = api.post("marketplace", f"/v1/orders/{order_id}/{step}", body)
        assert answer.status_code == 200, answer.text


def payouts_of(rt: Runtime) -> dict[str, int]:
    """Payout instructions per merchant, and the runs that were started (`runs`)."""
    with rt.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT party, count(*) FROM instructions WHERE kind = 'payout' GROUP BY party")
        ).all()
        runs = connection.execute(text("SELECT count(*) FROM payout_runs")).scalar_one()
    return {str(party): int(count) for party, count in rows} | {"runs": int(runs)}


@contextmanager
def gate(rt: Runtime) -> Iterator[Callable[[int, list[threading.Thread]], None]]:
    """Hold what a payout run must wait for; yields `settle(n, threads)`: returns once `n`
    requests wait on the gate, every thread has answered, or a moment has passed (a twin
    waiting for the first's answer waits on no lock); SQLite: after a moment."""
    if rt.engine.dialect.name == "sqlite":
        holder = sqlite3.connect(rt.engine.url.database or "", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")

        def settle(_waiting: int, _threads: list[threading.Thread]) -> None:
            time.sleep(0.5)

        try:
            yield settle
        finally:
            holder.rollback()
            holder.close()
        return
    connection = rt.engine.connect()
    connection.execute(
        text("SELECT id FROM ledger_accounts WHERE id = ANY(:ids) ORDER BY id FOR UPDATE"),
        {"ids": sorted(f"merchant:{merchant}:payable" for merchant in MERCHANTS)},
    )

    def settle_postgres(waiting: int, threads: list[threading.Thread]) -> None:
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            if waiting_on_locks(rt) >= waiting or not any(t.is_alive() for t in threads):
                return
            time.sleep(0.05)

    try:
        yield settle_postgres
    finally:
        connection.rollback()
        connection.close()


def sent(
    api: Api, body: dict[str, Any], key: str, answers: dict[str, Any], name: str
) -> threading.Thread:
    def send() -> None:
        answers[name] = api.client.post(
            "/v1/payouts/runs", json=body, headers=api.headers("operator", key)
        )

    thread = threading.Thread(target=send)
    thread.start()
    return thread


def race_two_runs(
    api: Api, rt: Runtime, bodies: tuple[dict[str, Any], dict[str, Any]]
) -> dict[str, Any]:
    """The first run waits at the gate; the second, with the same key, is sent meanwhile."""
    answers: dict[str, Any] = {}
    with gate(rt) as settle:
        first = sent(api, bodies[0], "run-1", answers, "first")
        settle(1, [first])
        assert first.is_alive(), "the first run did not wait at the gate"
        second = sent(api, bodies[1], "run-1", answers, "second")
        settle(2, [second])
    for thread in (first, second):
        thread.join(WAIT_SECONDS)
        assert not thread.is_alive()
    return answers


def test_a_run_and_its_twin_with_another_body_pay_only_the_answered_merchants(
    api: Api, rt: Runtime
) -> None:
    """Two runs with one key and different merchants, the second sent while the first runs:
    one pays its merchant (201), the other is refused `idempotency_key_reused` and pays
    nobody. It used to pass the key check before the first had stored its answer, pay its
    merchant, and then be refused: a 409 whose payout went out anyway."""
    for merchant in MERCHANTS:
        earned(api, merchant, f"O-{merchant}")
    bodies = ({"merchant_ids": ["M-yiwu"]}, {"merchant_ids": ["M-shenzhen"]})
    answers = race_two_runs(api, rt, bodies)
    statuses = sorted(answer.status_code for answer in answers.values())
    assert statuses == [201, 409], [answer.text for answer in answers.values()]
    winner = next(answer for answer in answers.values() if answer.status_code == 201)
    loser = next(answer for answer in answers.values() if answer.status_code == 409)
    assert loser.json()["code"] == "idempotency_key_reused"
    paid = {result["merchant_id"] for result in winner.json()["results"] if result["payout_id"]}
    assert len(paid) == 1
    assert payouts_of(rt) == {f"merchant:{merchant}": 1 for merchant in paid} | {"runs": 1}


def test_a_run_and_its_twin_with_the_same_body_run_once(api: Api, rt: Runtime) -> None:
    """The twin waits for the first run and replays its answer: one run, one payout per
    merchant, the same answer twice. Both used to run (two runs recorded), the second
    answering with the first's answer whatever it had paid itself."""
    for merchant in MERCHANTS:
        earned(api, merchant, f"O-{merchant}")
    body = {"merchant_ids": list(MERCHANTS)}
    answers = race_two_runs(api, rt, (body, body))
    assert [answers[name].status_code for name in ("first", "second")] == [201, 201]
    assert answers["first"].json() == answers["second"].json()
    replayed = [name for name, answer in answers.items() if "idempotent-replayed" in answer.headers]
    assert len(replayed) == 1
    assert payouts_of(rt) == {f"merchant:{merchant}": 1 for merchant in MERCHANTS} | {"runs": 1}
