"""Partial refunds before shipment: sequenced decisions and transfers, holds settled in part."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from buyerguard.bootstrap import Runtime
from buyerguard.services.context import OPERATOR
from buyerguard.store.tables import ledger_transfers
from tests.conftest import Api
from tests.test_api import ORDER, assert_refused, row_counts


def transfers(rt: Runtime, order_id: str) -> dict[str, tuple[str, int]]:
    with rt.reading(OPERATOR) as ctx:
        rows = ctx.connection.execute(
            select(
                ledger_transfers.c.id, ledger_transfers.c.kind, ledger_transfers.c.amount_fen
            ).where(ledger_transfers.c.order_id == order_id)
        ).all()
    return {row.id: (row.kind, row.amount_fen) for row in rows}


def refund(api: Api, body: dict[str, Any], order_id: str = "O-1") -> Any:
    return api.post("buyer", f"/v1/orders/{order_id}/refund-before-shipment", body)


def test_two_partial_refunds_then_confirmation(api: Api, rt: Runtime) -> None:
    assert api.post("marketplace", "/v1/orders", ORDER).status_code == 201
    assert (
        api.post("marketplace", "/v1/orders/O-1/payment", {"amount": "5380.00"}).status_code == 200
    )
    first = refund(api, {"amounts": {"O-1-2": "1,000.00"}})
    assert first.status_code == 200, first.text
    second = refund(api, {"amounts": {"O-1-2": "500.00"}})
    assert second.status_code == 200, second.text
    towels = second.json()["sub_orders"][1]
    assert (towels["goods"], towels["refunded"], second.json()["state"]) == (
        "5000.00",
        "1500.00",
        "paid",
    )
    moved = transfers(rt, "O-1")
    assert moved["void:O-1-2"] == ("void_pending", 500_000)
    assert moved["refund:O-1-2"] == ("posted", 100_000)
    assert moved["hold:O-1-2:2"] == ("pending", 400_000)
    assert moved["void:O-1-2:2"] == ("void_pending", 400_000)
    assert moved["refund:O-1-2:2"] == ("posted", 50_000)
    assert moved["hold:O-1-2:3"] == ("pending", 350_000)
    decisions = api.get("marketplace", "/v1/orders/O-1/decisions").json()["items"]
    refunds = [
        (d["id"], d["amount"], d["sequence"]) for d in decisions if d["kind"] == "refund_due"
    ]
    assert refunds == [("refund_due:O-1-2", "1000.00", 1), ("refund_due:O-1-2:2", "500.00", 2)]

    before = row_counts(rt)
    too_much = refund(api, {"amounts": {"O-1-2": "3500.01"}})
    assert_refused(too_much, 422, "refund_exceeds_remaining", "amounts")
    assert_refused(refund(api, {"amounts": {"O-1-2": "0.00"}}), 422, "amount_not_positive")
    both = refund(api, {"amounts": {"O-1-2": "1.00"}, "sub_order_ids": ["O-1-1"]})
    assert_refused(both, 422, "refund_ambiguous", "amounts")
    assert row_counts(rt) == before

    shipment = {"carrier": "SF", "tracking_number": "SF1"}
    assert api.post("merchant", "/v1/orders/O-1/shipment", shipment).status_code == 200
    assert api.post("marketplace", "/v1/orders/O-1/signing").status_code == 200
    confirmed = api.post("buyer", "/v1/orders/O-1/confirmation").json()
    assert [sub["fee"] for sub in confirmed["sub_orders"]] == ["2.16", "18.00"]  # 21.00 capped
    assert transfers(rt, "O-1")["release:O-1-2"] == ("post_pending", 350_000)
    payable = api.get("merchant", "/v1/ledger/accounts/merchant:M-yiwu:payable").json()
    assert payable["balance"] == "3859.84"  # 360 + 3500 + 20 shipping - 2.16 - 18.00
    released = [
        d
        for d in api.get("marketplace", "/v1/orders/O-1/decisions").json()["items"]
        if d["kind"] == "escrow_released"
    ]
    assert [d["amount"] for d in released] == ["360.00", "3500.00"]


def test_a_part_then_the_rest_refunds_the_sub_order_and_then_the_order(
    api: Api, rt: Runtime
) -> None:
    assert api.post("marketplace", "/v1/orders", ORDER).status_code == 201
    assert (
        api.post("marketplace", "/v1/orders/O-1/payment", {"amount": "5380.00"}).status_code == 200
    )
    assert refund(api, {"amounts": {"O-1-2": "4999.99"}}).status_code == 200
    rest = refund(api, {"sub_order_ids": ["O-1-2"]})
    assert rest.status_code == 200, rest.text
    assert rest.json()["sub_orders"][1]["refunded_before_shipment"] is True
    assert transfers(rt, "O-1")["refund:O-1-2:2"] == ("posted", 1)
    assert "hold:O-1-2:3" not in transfers(rt, "O-1")
    # The field is the one the request named it in (it said sub_order_ids of an amounts).
    assert_refused(refund(api, {"amounts": {"O-1-2": "0.01"}}), 409, "already_refunded", "amounts")
    assert_refused(
        refund(api, {"sub_order_ids": ["O-1-2"]}), 409, "already_refunded", "sub_order_ids"
    )
    last = refund(api, {"amounts": {"O-1-1": "360.00"}})
    assert last.json()["state"] == "refunded"
    kinds = [d["kind"] for d in api.get("marketplace", "/v1/orders/O-1/decisions").json()["items"]]
    assert kinds.count("refund_due") == 3 and "shipping_refund_due" in kinds
    escrow = api.get("operator", "/v1/ledger/accounts/merchant:M-yiwu:escrow").json()
    assert escrow["balance"] == "0.00"


def test_no_fact_may_be_dated_before_a_refund(api: Api, rt: Runtime, clock: Any) -> None:
    """A refund is one of the order's facts: a later refund or the shipment cannot be
    dated before it (found in review: both were checked against the payment only)."""
    from datetime import timedelta

    from buyerguard.clock import format_instant

    now = clock.now()

    def at(hours_ago: float) -> str:
        return format_instant(now - timedelta(hours=hours_ago))

    placed = {**ORDER, "occurred_at": at(5)}
    assert api.post("marketplace", "/v1/orders", placed).status_code == 201
    paid = {"amount": "5380.00", "occurred_at": at(4)}
    assert api.post("marketplace", "/v1/orders/O-1/payment", paid).status_code == 200
    first = refund(api, {"amounts": {"O-1-2": "100.00"}, "occurred_at": at(1)})
    assert first.status_code == 200
    before = row_counts(rt)
    earlier = refund(api, {"amounts": {"O-1-2": "100.00"}, "occurred_at": at(3)})
    assert_refused(earlier, 422, "occurred_before_previous_fact", "occurred_at")
    shipment = {"carrier": "SF", "tracking_number": "1", "occurred_at": at(2)}
    shipped = api.post("merchant", "/v1/orders/O-1/shipment", shipment)
    assert_refused(shipped, 422, "occurred_before_previous_fact", "occurred_at")
    unknown = refund(api, {"amounts": {"O-1-9": "1.00"}})
    assert_refused(unknown, 422, "unknown_sub_order", "amounts")
    assert row_counts(rt) == before


def test_an_order_of_many_lines_keeps_every_sub_orders_change(api: Api, rt: Runtime) -> None:
    """Past `SUBS_IN_ONE_STATEMENT` changed sub-orders, PostgreSQL writes them apart from the
    order's UPDATE (compiling one UPDATE per sub-order in it took seconds for 300 lines,
    found by a tester): each sub-order still keeps its terms, its refund and its fee."""
    from buyerguard.store.repositories import SUBS_IN_ONE_STATEMENT

    lines = SUBS_IN_ONE_STATEMENT * 2 + 1
    order = {
        "id": "O-M",
        "buyer_id": "B-shop",
        "lines": [{"product_id": "P-cups", "quantity": 1}] * lines,
    }
    assert api.post("marketplace", "/v1/orders", order).status_code == 201
    paid = api.post("marketplace", "/v1/orders/O-M/payment", {"amount": f"{36 * lines}.00"})
    assert paid.status_code == 200, paid.text
    parts = {f"O-M-{n}": "1.00" for n in range(1, lines + 1, 2)}  # every other one
    assert refund(api, {"amounts": parts}, "O-M").status_code == 200
    for step, body in (("shipment", {"carrier": "SF", "tracking_number": "T"}), ("signing", {})):
        assert api.post("marketplace", f"/v1/orders/O-M/{step}", body).status_code == 200
    assert api.post("marketplace", "/v1/orders/O-M/confirmation", {}).status_code == 200
    stored = api.get("operator", "/v1/orders/O-M").json()["sub_orders"]
    assert [sub["refunded"] for sub in stored] == [
        "1.00" if sub["id"] in parts else "0.00" for sub in stored
    ]
    assert all(sub["terms_at_payment"]["source"] == "payment" for sub in stored)
    assert [sub["fee"] for sub in stored] == [
        "0.21" if sub["id"] in parts else "0.22" for sub in stored
    ]
