"""POST /v1/facts: many facts, each as on its own route; one result per fact."""

from __future__ import annotations

from typing import Any

from buyerguard.bootstrap import Runtime
from tests.conftest import Api
from tests.test_api import assert_refused, row_counts
from tests.test_cases_api import case_body, order

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


def test_a_malformed_envelope_is_refused_alone(api: Api, rt: Runtime) -> None:
    """A fact whose envelope is malformed (its body not an object, no key, a bad id) is
    refused in its own result, and never refuses the facts around it (found by a tester:
    the whole batch was answered 422 and nothing in it applied)."""
    batch = [
        placed("O-E"),  # 0 applied
        {"kind": "payment", "order_id": "O-E", "idempotency_key": "pay-O-E", "body": "x"},
        fact("shipment", "ship-O-E", "O-E", carrier="SF", tracking_number="T"),  # 2 skipped
        {"kind": "signing", "order_id": "O-F"},  # 3 refused: no key
        {"kind": "signing", "order_id": "ü" * 3, "idempotency_key": "sign-bad"},  # 4 refused
        {"kind": "case-accept", "case_id": "zz", "idempotency_key": "k2", "body": "x"},
        placed("O-G"),  # 6 applied
    ]
    answer = api.post("marketplace", "/v1/facts", {"facts": batch})
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["outcome"] for r in results] == [
        "applied",
        "refused",
        "skipped",
        "refused",
        "refused",
        "refused",
        "applied",
    ], results
    assert [r["error"]["field"] for r in results if r["outcome"] == "refused"] == [
        "body",
        "idempotency_key",
        "order_id",
        "body",
    ]
    assert all(r["status"] == 422 for r in results if r["outcome"] == "refused")
    assert api.get("operator", "/v1/orders/O-G").json()["state"] == "placed"
    # Facts must be objects: anything else is a malformed request, refused whole.
    before = row_counts(rt)
    assert_refused(
        api.post("marketplace", "/v1/facts", {"facts": [placed("O-H"), 42]}),
        422,
        "type_invalid",
        field="facts[1]",
    )
    assert row_counts(rt) == before


def test_a_refusal_holds_back_the_later_facts_of_its_order_whatever_their_kind(
    api: Api,
) -> None:
    """Skipping follows the order a fact is about: a case action is about its case's order,
    so a refused one holds back the order's later facts, and a refused case opening the
    later actions on that case; ids of orders, cases and instructions are never confused
    (all three found by a tester)."""
    for order_id in ("K-1", "K-2", "K-3"):
        order(api, order_id, "pay", "ship", "sign")
    opened = [
        {
            "kind": "case",
            "order_id": "K-1",
            "idempotency_key": "k1-open",
            "body": {**case_body("K-1", "refund_only_quality", amount="90.00"), "id": "C-K1"},
        },
        {  # a case whose id is another order's
            "kind": "case",
            "order_id": "K-2",
            "idempotency_key": "k2-open",
            "body": {**case_body("K-2", "refund_only_quality", amount="90.00"), "id": "K-3"},
        },
    ]
    results = api.post("marketplace", "/v1/facts", {"facts": opened}).json()["results"]
    assert [r["outcome"] for r in results] == ["applied", "applied"], results
    batch = [
        # 0 refused: an offer above what was asked; 1 and 2 are of the same order: skipped
        {
            "kind": "case-offer",
            "case_id": "C-K1",
            "idempotency_key": "k1-offer",
            "body": {"amount": "500.00"},
        },
        {"kind": "case-accept", "case_id": "C-K1", "idempotency_key": "k1-accept"},
        fact("confirmation", "confirm-K-1", "K-1"),
        # 3 refused (order K-3 is signed, not placed); 4, the case named K-3, is of K-2
        fact("payment", "pay-K-3", "K-3", amount="360.00"),
        {"kind": "case-accept", "case_id": "K-3", "idempotency_key": "k3-accept"},
        # 5 refused: a case on a sub-order the order does not have; 6, an action on the
        # case it would have opened, is skipped, not answered "case not found"
        {
            "kind": "case",
            "order_id": "K-2",
            "idempotency_key": "k2-open-bad",
            "body": {**case_body("K-2", "refund_only_quality", sub="K-2-9"), "id": "C-K3"},
        },
        {"kind": "case-withdraw", "case_id": "C-K3", "idempotency_key": "k3-withdraw"},
    ]
    answer = api.post("marketplace", "/v1/facts", {"facts": batch})
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["outcome"] for r in results] == [
        "refused",
        "skipped",
        "skipped",
        "refused",
        "applied",
        "refused",
        "skipped",
    ], results
    assert [r["order_id"] for r in results] == ["K-1", "K-1", "K-1", "K-3", "K-2", "K-2", "K-2"]
    assert "order K-1" in results[1]["error"]["message"]
    assert api.get("operator", "/v1/orders/K-1").json()["state"] == "signed"
    assert api.get("operator", "/v1/cases/K-3").json()["state"] == "closed"


def test_a_key_that_is_not_ascii_is_one_key_alone_and_in_a_batch(api: Api) -> None:
    """A fact paid in a batch under `付款-O-U` and then alone with the header
    `Idempotency-Key: 付款-O-U` (its UTF-8 bytes) replays: the header was read as Latin-1
    text, another key, so the payment alone was answered `409 illegal_transition` and a
    retry after a batch could never replay (found by a tester). The other way round too."""

    def keyed(key: bytes) -> dict[bytes, bytes]:  # the header's bytes as sent
        return {
            b"Authorization": f"Bearer {api.tokens['marketplace']}".encode(),
            b"Idempotency-Key": key,
        }

    for order_id, key in (("O-U", "付款-O-U"), ("O-V", "pay-O-V-é")):
        assert api.post("marketplace", "/v1/orders", placed(order_id)["body"]).status_code == 201
        batch = [fact("payment", key, order_id, amount="360.00")]
        result = api.post("marketplace", "/v1/facts", {"facts": batch}).json()["results"][0]
        assert result["outcome"] == "applied"
        alone = api.client.post(
            f"/v1/orders/{order_id}/payment",
            json={"amount": "360.00"},
            headers=keyed(key.encode()),
        )
        assert alone.status_code == 200, alone.text
        assert alone.headers["Idempotent-Replayed"] == "true"
        assert alone.json() == result["response"]
    assert api.post("marketplace", "/v1/orders", placed("O-W")["body"]).status_code == 201
    alone = api.client.post(
        "/v1/orders/O-W/payment",
        json={"amount": "360.00"},
        headers=keyed("付款-O-W".encode()),
    )
    assert alone.status_code == 200 and "Idempotent-Replayed" not in alone.headers
    batch = [fact("payment", "付款-O-W", "O-W", amount="360.00")]
    result = api.post("marketplace", "/v1/facts", {"facts": batch}).json()["results"][0]
    assert result["outcome"] == "replayed"
    # Bytes that are not UTF-8 are still one key, retry after retry.
    assert api.post("marketplace", "/v1/orders", placed("O-X")["body"]).status_code == 201
    latin = keyed("pay-O-X-\xe9".encode("latin-1"))
    for replayed in (None, "true"):
        alone = api.client.post("/v1/orders/O-X/payment", json={"amount": "360.00"}, headers=latin)
        assert alone.status_code == 200, alone.text
        assert alone.headers.get("Idempotent-Replayed") == replayed


def test_an_order_fact_places_its_order_under_the_envelopes_order_id(api: Api) -> None:
    """An `order` fact naming its order in the envelope (`order_id`, as every other fact of
    it does) but not in its body was placed under a new random id, and every later fact of
    the batch naming `order_id` was refused `order_not_found`. The envelope's id is the
    order's when the body names none; two ids that differ are refused, and hold back the
    order's later facts."""
    named = fact("order", "place-O-env", "O-env", buyer_id="B-shop", lines=CUPS)
    batch = [
        named,
        fact("payment", "pay-O-env", "O-env", amount="360.00"),
        fact("order", "place-O-two", "O-two", id="O-other", buyer_id="B-shop", lines=CUPS),
        fact("payment", "pay-O-two", "O-two", amount="360.00"),
        fact("order", "place-O-same", "O-same", id="O-same", buyer_id="B-shop", lines=CUPS),
    ]
    results = api.post("marketplace", "/v1/facts", {"facts": batch}).json()["results"]
    assert [r["outcome"] for r in results] == [
        "applied",
        "applied",
        "refused",
        "skipped",
        "applied",
    ]
    assert results[0]["response"]["id"] == "O-env" and results[0]["order_id"] == "O-env"
    assert results[1]["response"]["state"] == "paid"
    assert results[2]["error"]["code"] == "order_id_mismatch"
    assert results[2]["error"]["field"] == "order_id"
    assert api.get("marketplace", "/v1/orders/O-other").status_code == 404
    again = api.post("marketplace", "/v1/facts", {"facts": [named]}).json()["results"]
    assert [r["outcome"] for r in again] == ["replayed"]
