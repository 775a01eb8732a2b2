"""Anxingou merchants move over to buyer protection on 2024-09-13 (policies.md timeline)."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api

MERCHANT = {
    "id": "M-anx",
    "name": "Anxingou only",
    "industry": "toys",
    "origin_region": "330782",
    "services": ["anxingou"],
}
PRODUCT = {
    "id": "P-anx",
    "merchant_id": "M-anx",
    "title": "large toy",
    "unit_price": "10,000.00",
    "ship_from_region": "330782",
    "seven_day_returns_opt_in": True,  # one-piece spot goods of a mandatory class (§2)
}


def settled_order(api: Api, order_id: str, day: str) -> list[dict[str, object]]:
    """Place, pay, ship, sign and confirm an order of 10,000.00 on a Shanghai day."""
    facts: list[tuple[str, dict[str, Any], str]] = [
        (
            "/v1/orders",
            {
                "id": order_id,
                "buyer_id": "B-shop",
                "lines": [{"product_id": "P-anx", "quantity": 1}],
            },
            "10:00",
        ),
        (f"/v1/orders/{order_id}/payment", {"amount": "10000.00"}, "11:00"),
        (f"/v1/orders/{order_id}/shipment", {"carrier": "SF", "tracking_number": "SF9"}, "12:00"),
        (f"/v1/orders/{order_id}/signing", {}, "13:00"),
        (f"/v1/orders/{order_id}/confirmation", {}, "14:00"),
    ]
    for path, body, clock_time in facts:
        answer = api.post(
            "marketplace", path, {**body, "occurred_at": f"{day}T{clock_time}:00+08:00"}
        )
        assert answer.status_code in (200, 201), answer.text
    items: list[dict[str, object]] = api.get(
        "marketplace", f"/v1/orders/{order_id}/decisions"
    ).json()["items"]
    return items


def test_an_anxingou_merchant_pays_the_capped_fee_after_the_switch_and_the_uncapped_before(
    api: Api,
) -> None:
    assert api.post("marketplace", "/v1/merchants", MERCHANT).status_code == 201
    assert api.post("marketplace", "/v1/products", PRODUCT).status_code == 201

    after = settled_order(api, "O-after", "2024-09-20")
    fee = next(d for d in after if d["kind"] == "fee_charged")
    assert fee["amount"] == "18.00"
    assert "fees.services_moved_over" in fee["rule_ids"]  # type: ignore[operator]
    enrolled = [d for d in after if d["kind"] == "service_enrolled"]
    assert len(enrolled) == 1
    assert enrolled[0]["subject_id"] == "M-anx:buyer_protection"
    assert enrolled[0]["rule_ids"] == ["fees.services_moved_over", "fees.required_service"]
    assert enrolled[0]["rulebook_id"] == "2024-09-13"

    before = settled_order(api, "O-before", "2024-09-01")
    fees = [d["amount"] for d in before if d["kind"] == "fee_charged"]
    assert fees == ["60.00"]  # Anxingou's own fee: once, uncapped, nothing twice
    assert not [d for d in before if d["kind"] == "service_enrolled"]

    revenue = api.get("operator", "/v1/ledger/accounts/platform:fee_revenue").json()
    assert revenue["balance"] == "78.00"
