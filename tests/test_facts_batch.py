"""POST /v1/facts: many facts, each as on its own route; one result per fact."""

from __future__ import annotations

from typing import Any

from buyerguard.bootstrap import Runtime
from tests.conftest import Api
from tests.test_api import assert_refused, row_counts

CUPS = [{"product_id": "P-cups", "quantity": 10}]  # 360.00


def fact(kind: str, key: str, order_id: str | None = None, **body: Any) -> dict[str, Any]:
    envelope: dict[str, Any] = {"kind": kind, "idempotency_key": key, "body": body}
    if order_id is not None:
        envelope["order_id"] = order_id
    return envelope


def placed(order_id: str) -> dict[str, Any]:
    return fact("order", f"place-{order_id}", id=order_id, buyer_id="B-shop", lines=CUPS)


def test_a_mixed_batch_gives_each_fact_its_own_result(api: Api, rt: Runtime) -> None:
    # Paid alone first, with a key: the batch's same fact replays that answer.
    assert (
        api.post("marketplace", "/v1/orders", placed("O-A")["body"], key="place-O-A").status_code
        == 201
    )
    alone = api.post("marketplace", "/v1/orders/O-A/payment", {"amount": "360.00"}, key="pay-O-A")
    assert alone.status_code == 200
    batch = [
        placed("O-A"),  # 0 replayed (same key, same body, same route)
        fact("payment", "pay-O-A", "O-A", amount="360.00"),  # 1 replayed
        placed("O-B"),  # 2 applied
        fact("payment", "pay-O-B", "O-B", amount="1.00"),  # 3 refused: amount_mismatch
        fact("shipment", "ship-O-B", "O-B", carrier="SF", tracking_number="T"),  # 4 skipped
        placed("O-C"),  # 5 applied: another order goes on
        fact("payment", "pay-O-C", "O-C", amount="360.00"),  # 6 applied
        fact("payment", "pay-O-D", "O-D", amount=360),  # 7 refused: body.amount
        fact("teleport", "x", "O-Z"),  # 8 refused: unknown kind
        fact("signing", "sign-none"),  # 9 refused: no order_id
        fact("shipment", "ship-O-C", "O-C", carrier="SF", tracking_number="T"),  # 10 applied
    ]
    answer = api.post("marketplace", "/v1/facts", {"facts": batch})
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["outcome"] for r in results] == [
        "replayed",
        "replayed",
        "applied",
        "refused",
        "skipped",
        "applied",
        "applied",
        "refused",
        "refused",
        "refused",
        "applied",
    ]
    assert results[1]["response"] == alone.json()
    assert results[3]["error"]["code"] == "amount_mismatch" and results[3]["status"] == 422
    assert results[4]["error"]["code"] == "skipped_after_refusal"
    assert results[7]["error"] == {
        "code": "amount_not_a_string",
        "message": results[7]["error"]["message"],
        "field": "body.amount",
    }
    assert results[8]["error"]["code"] == "invalid_choice"
    assert results[9]["error"]["code"] == "order_id_missing"
    assert results[10]["response"]["state"] == "shipped"
    counts = {key: answer.json()[key] for key in ("applied", "replayed", "skipped", "refused")}
    assert counts == {"applied": 4, "replayed": 2, "skipped": 1, "refused": 4}
    states = {
        o: api.get("operator", f"/v1/orders/{o}").json()["state"] for o in ("O-A", "O-B", "O-C")
    }
    assert states == {"O-A": "paid", "O-B": "placed", "O-C": "shipped"}

    # The whole batch again: everything that was stored replays, nothing moves twice.
    before = row_counts(rt)
    again = api.post("marketplace", "/v1/facts", {"facts": batch}).json()
    assert [r["outcome"] for r in again["results"]][:3] == ["replayed", "replayed", "replayed"]
    assert again["applied"] == 0 and again["replayed"] == 6
    assert row_counts(rt) == before


def test_a_batch_is_bounded_and_for_the_marketplace(api: Api, rt: Runtime) -> None:
    before = row_counts(rt)
    too_many = {"facts": [placed(f"O-{n}") for n in range(1001)]}
    assert_refused(
        api.post("marketplace", "/v1/facts", too_many), 422, "length_out_of_range", "facts"
    )
    assert_refused(
        api.post("marketplace", "/v1/facts", {"facts": []}), 422, "length_out_of_range", "facts"
    )
    assert_refused(api.post("buyer", "/v1/facts", {"facts": [placed("O-X")]}), 403, "forbidden")
    assert row_counts(rt) == before


def fact_metrics(api: Api) -> dict[str, float]:
    """The fact counters as /metrics exposes them, by sample name and labels."""
    samples = {}
    for line in api.client.get("/metrics").text.splitlines():
        if line.startswith(("buyerguard_facts_total", "buyerguard_fact_statements_total")):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def test_each_fact_is_counted_by_outcome_with_the_statements_it_sent(api: Api) -> None:
    before = fact_metrics(api)
    batch = [
        placed("O-M"),  # applied
        placed("O-M"),  # replayed
        fact("payment", "pay-O-none", "O-none", amount="360.00"),  # refused: no such order
    ]
    results = api.post("marketplace", "/v1/facts", {"facts": batch}).json()["results"]
    assert [r["outcome"] for r in results] == ["applied", "replayed", "refused"]
    alone = api.post("marketplace", "/v1/orders/O-M/payment", {"amount": "360.00"}, key="pay")
    assert alone.status_code == 200
    after = fact_metrics(api)

    def added(sample: str) -> float:
        return after.get(sample, 0.0) - before.get(sample, 0.0)

    for kind, outcome in [
        ("order", "applied"),
        ("order", "replayed"),
        ("payment", "refused"),
        ("payment", "applied"),
    ]:
        assert added(f'buyerguard_facts_total{{kind="{kind}",outcome="{outcome}"}}') == 1
    # Each sent at least its key's claim and one statement of its own; a payment far more.
    assert added('buyerguard_fact_statements_total{kind="order"}') >= 4
    assert added('buyerguard_fact_statements_total{kind="payment"}') >= 6
