"""How many statements the busiest facts send to PostgreSQL: each is a round trip and
most of a fact's CPU (docs/benchmarks.md, "Statements per fact"). A budget that grows
means a slower engine for every marketplace; lower it when a change saves one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, event

from tests.conftest import Api
from tests.test_cases_flow import signed_order

ONE_LINE = {
    "buyer_id": "B-shop",
    "lines": [{"product_id": "P-cups", "quantity": 10}],
    "shipping": "12.00",
}
THREE_LINES = {
    "buyer_id": "B-shop",
    "lines": [
        {"product_id": "P-cups", "quantity": 10},
        {"product_id": "P-towels", "quantity": 2},
        {"product_id": "P-cups", "quantity": 5},
    ],
    "shipping": "20.00",
}
TOTALS = {"one": "372.00", "three": "5,560.00"}
# Statements of each fact, keyed, on a one-line order with shipping of a product with a
# shipping commitment (its timer armed at payment, settled at shipment).
BUDGET = {"order": 5, "payment": 9, "shipment": 6, "signing": 6, "confirmation": 12}


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def lifecycle(api: Api, order_id: str, body: dict[str, Any], total: str) -> dict[str, list[str]]:
    """Each fact of the order's life, sent alone with its key; the statements each sent."""
    engine = api.client.app.state.runtime.engine  # type: ignore[attr-defined]
    facts: list[tuple[str, str, dict[str, Any] | None]] = [
        ("order", "/v1/orders", {"id": order_id, **body}),
        ("payment", f"/v1/orders/{order_id}/payment", {"amount": total}),
        ("shipment", f"/v1/orders/{order_id}/shipment", {"carrier": "SF", "tracking_number": "1"}),
        ("signing", f"/v1/orders/{order_id}/signing", None),
        ("confirmation", f"/v1/orders/{order_id}/confirmation", None),
    ]
    sent = {}
    for kind, path, fact in facts:
        with statements(engine) as seen:
            answer = api.post("marketplace", path, fact, key=f"{kind}-{order_id}")
        assert answer.status_code in (200, 201), answer.text
        sent[kind] = list(seen)
    return sent


@pytest.fixture
def postgres_api(api: Api) -> Api:
    if api.client.app.state.runtime.engine.dialect.name != "postgresql":  # type: ignore[attr-defined]
        pytest.skip("round trips are PostgreSQL's cost (SQLite runs in process)")
    return api


def test_each_fact_of_an_order_stays_within_its_statement_budget(postgres_api: Api) -> None:
    lifecycle(postgres_api, "W-1", ONE_LINE, TOTALS["one"])  # first use: accounts created
    sent = lifecycle(postgres_api, "W-2", ONE_LINE, TOTALS["one"])
    assert {kind: len(seen) for kind, seen in sent.items()} == BUDGET


def test_a_confirmation_reads_every_hold_it_releases_at_once(postgres_api: Api) -> None:
    """Three lines and shipping: four holds, read in one statement, and the confirmation's
    decisions (a fee and a release per line, the shipping's release) written in one."""
    sent = lifecycle(postgres_api, "W-3", THREE_LINES, TOTALS["three"])["confirmation"]
    hold_reads = [s for s in sent if s.lstrip().startswith("SELECT ledger_transfers.")]
    decision_writes = [s for s in sent if "INSERT INTO decisions" in s]
    assert (len(hold_reads), len(decision_writes)) == (1, 1), "\n".join(sent)


def test_a_confirmation_posts_all_its_transfers_in_one_statement(postgres_api: Api) -> None:
    """Three lines and shipping: a release, a refundable balance and a fee per line and the
    shipping's release — ten transfers, one statement (`ledger.book.record_later`)."""
    sent = lifecycle(postgres_api, "W-4", THREE_LINES, TOTALS["three"])["confirmation"]
    postings = [s for s in sent if "INSERT INTO ledger_transfers" in s]
    assert len(postings) == 1, "\n".join(sent)


# A no-reason return picked up (quick-refunded: a carrier's subsidy and a buyer's refund,
# each instructed), then inspected ok; every action keyed, as a marketplace sends them.
CASE_BUDGET = {
    "open": 10,
    "accept": 11,
    "handover": 8,
    "pickup": 27,
    "arrival": 11,
    "inspection": 12,
}


def returned_case(api: Api, order_id: str) -> dict[str, int]:
    engine = api.client.app.state.runtime.engine  # type: ignore[attr-defined]
    sub_order_id = signed_order(api, order_id)
    opening = {
        "id": f"case-{order_id}",  # a marketplace names its cases: checked in the same read
        "type": "return_no_reason",
        "sub_order_id": sub_order_id,
        "reason": "too many",
    }
    with statements(engine) as seen:
        opened = api.post("buyer", f"/v1/orders/{order_id}/cases", opening, key=f"open-{order_id}")
    assert opened.status_code == 201, opened.text
    sent = {"open": len(seen)}
    case_id = opened.json()["id"]
    actions: list[tuple[str, str, dict[str, Any] | None]] = [
        ("merchant", "accept", None),
        ("buyer", "handover", {"official_logistics": True}),
        ("marketplace", "pickup", {"carrier": "SF", "freight": "30.00"}),
        ("merchant", "arrival", None),
        ("merchant", "inspection", {"result": "ok"}),
    ]
    for role, action, fact in actions:
        with statements(engine) as seen:
            answer = api.post(
                role, f"/v1/cases/{case_id}/{action}", fact, key=f"{action}-{order_id}"
            )
        assert answer.status_code == 200, answer.text
        sent[action] = len(seen)
    return sent


def test_each_fact_of_a_returned_case_stays_within_its_statement_budget(
    postgres_api: Api,
) -> None:
    returned_case(postgres_api, "C-1")  # first use: accounts created
    assert returned_case(postgres_api, "C-2") == CASE_BUDGET
