"""Catalogue v2 through the API, on SQLite and PostgreSQL: tiers, order-line prices, changes
with their history, and the snapshot a sub-order keeps from its payment on."""

from __future__ import annotations

from typing import Any

import pytest

from buyerguard.bootstrap import Runtime
from tests.conftest import Api
from tests.test_api import assert_refused, row_counts

MUGS: dict[str, Any] = {
    "id": "P-mugs",
    "merchant_id": "M-yiwu",
    "title": "Enamel mugs",
    "tiers": [
        {"kind": "spot", "price": "8.00", "moq": 1, "seven_day_returns": True},
        {"kind": "custom", "price": "11.50", "moq": 100},
        {"kind": "made_to_order", "price": "7.20", "moq": 500},
    ],
    "weight_grams": 350,
    "ship_from_region": "330782",
    "shipping_commitment_hours": 48,
}


def mugs(api: Api) -> dict[str, Any]:
    created = api.post("merchant", "/v1/products", MUGS)
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


def place(api: Api, order_id: str, *lines: dict[str, Any], role: str = "marketplace") -> Any:
    body = {"id": order_id, "buyer_id": "B-shop", "lines": list(lines)}
    return api.post(role, "/v1/orders", body)


def pay(api: Api, order_id: str, amount: str, occurred_at: str | None = None) -> dict[str, Any]:
    body = {"amount": amount} | ({"occurred_at": occurred_at} if occurred_at else {})
    answer = api.post("marketplace", f"/v1/orders/{order_id}/payment", body)
    assert answer.status_code == 200, answer.text
    paid: dict[str, Any] = answer.json()
    return paid


def test_a_product_shows_its_tiers_return_class_weight_and_shipping_commitment(api: Api) -> None:
    view = mugs(api)
    assert view["version"] == 1
    assert view["tiers"] == [
        {"kind": "spot", "price": "8.00", "moq": 1, "seven_day_returns": True},
        {"kind": "custom", "price": "11.50", "moq": 100, "seven_day_returns": False},
        {"kind": "made_to_order", "price": "7.20", "moq": 500, "seven_day_returns": False},
    ]
    assert (view["return_class"], view["weight_grams"], view["shipping_commitment_hours"]) == (
        "mandatory",
        350,
        48,
    )
    # the one-tier fields repeat the spot tier, for clients of the shape before tiers
    assert (view["unit_price"], view["tier"], view["moq"]) == ("8.00", "spot", 1)
    assert api.get("buyer", "/v1/products/P-mugs").json() == view


def test_an_order_line_takes_its_tiers_price_unless_the_marketplace_names_one(api: Api) -> None:
    mugs(api)
    placed = place(
        api,
        "O-t",
        {"product_id": "P-mugs", "quantity": 2},  # no tier: spot
        {"product_id": "P-mugs", "quantity": 100, "tier": "custom"},
        {"product_id": "P-mugs", "quantity": 500, "tier": "made_to_order", "unit_price": "7.00"},
    )
    assert placed.status_code == 201, placed.text
    subs = placed.json()["sub_orders"]
    assert [(s["tier"], s["unit_price"]) for s in subs] == [
        ("spot", "8.00"),
        ("custom", "11.50"),
        ("made_to_order", "7.00"),  # the marketplace's price stands
    ]
    by_buyer = place(
        api, "O-b", {"product_id": "P-mugs", "quantity": 100, "tier": "custom"}, role="buyer"
    )
    assert by_buyer.json()["sub_orders"][0]["unit_price"] == "11.50"


def test_order_lines_refuse_an_unknown_tier_and_one_below_its_tiers_moq(
    api: Api, rt: Runtime
) -> None:
    mugs(api)
    before = row_counts(rt)
    line = {"product_id": "P-mugs", "quantity": 99, "tier": "custom"}
    assert_refused(place(api, "O-x", line), 422, "below_moq", "lines[0].quantity")
    assert_refused(
        place(api, "O-x", {"product_id": "P-cables", "quantity": 1, "tier": "custom"}),
        422,
        "tier_unknown",
        "lines[0].tier",
    )
    assert row_counts(rt) == before
    no_spot = {**MUGS, "id": "P-bespoke", "tiers": MUGS["tiers"][1:]}
    del no_spot["shipping_commitment_hours"]
    assert api.post("merchant", "/v1/products", no_spot).status_code == 201
    before = row_counts(rt)
    assert_refused(
        place(api, "O-x", {"product_id": "P-bespoke", "quantity": 500}),
        422,
        "tier_required",
        "lines[0].tier",
    )
    assert row_counts(rt) == before


def test_listing_rules_refuse_with_the_rule_and_write_nothing(api: Api, rt: Runtime) -> None:
    before = row_counts(rt)
    lacking = {**MUGS, "tiers": [{"kind": "spot", "price": "8.00", "moq": 1}]}
    refused = api.post("merchant", "/v1/products", lacking)
    assert_refused(
        refused, 422, "spot_tier_seven_day_returns_required", "tiers[0].seven_day_returns"
    )
    assert "returns.one_piece_spot_tier_required" in refused.json()["message"]
    old_shape = {
        "id": "P-old",
        "merchant_id": "M-yiwu",
        "title": "mugs",
        "unit_price": "12.50",
        "ship_from_region": "330782",
    }
    assert_refused(
        api.post("merchant", "/v1/products", old_shape),
        422,
        "spot_tier_seven_day_returns_required",
        "seven_day_returns_opt_in",
    )
    excluded = {**MUGS, "return_class": "custom_made"}
    assert_refused(
        api.post("merchant", "/v1/products", excluded),
        422,
        "seven_day_returns_excluded_class",
        "tiers[0].seven_day_returns",
    )
    assert_refused(
        api.post("merchant", "/v1/products", {**MUGS, "shipping_commitment_hours": 36}),
        422,
        "shipping_commitment_unknown",
        "shipping_commitment_hours",
    )
    assert row_counts(rt) == before
    optional = {**lacking, "id": "P-fresh", "return_class": "fresh_perishable"}
    assert api.post("merchant", "/v1/products", optional).status_code == 201


@pytest.mark.parametrize(
    ("moq", "occurred_at", "status"),
    [
        (1, "2024-02-01T23:00:00+08:00", 422),
        (2, "2024-02-01T23:00:00+08:00", 201),
        (1, "2024-02-02T00:00:00+08:00", 201),
    ],
)
def test_the_moq_minimum_is_the_rulebooks_when_the_listing_takes_effect(
    api: Api, rt: Runtime, moq: int, occurred_at: str, status: int
) -> None:
    body = {
        **MUGS,
        "tiers": [{"kind": "spot", "price": "8.00", "moq": moq, "seven_day_returns": True}],
        "occurred_at": occurred_at,
    }
    before = row_counts(rt)
    answer = api.post("marketplace", "/v1/products", body)
    if status == 422:
        assert_refused(answer, 422, "moq_below_minimum", "tiers[0].moq")
        assert "rulebook baseline" in answer.json()["message"]
        assert row_counts(rt) == before
    else:
        assert answer.status_code == 201, answer.text
        changes = api.get("marketplace", "/v1/products/P-mugs/changes").json()["items"]
        assert changes[0]["rulebook_id"] == ("baseline" if moq == 2 else "2024-02-02")
        assert "listing.min_order_quantity" in changes[0]["rule_ids"]


BAD_PATCHES = [
    ("merchant", {"merchant_id": "M-shenzhen"}, 422, "product_merchant_immutable", "merchant_id"),
    ("merchant", {"return_class": "dangerous_goods"}, 422, "return_class_unknown", "return_class"),
    (
        "merchant",
        {"tiers": [{"kind": "spot", "price": "8.00", "moq": 0, "seven_day_returns": True}]},
        422,
        "out_of_range",
        "tiers[0].moq",
    ),
    ("merchant", {"weight_grams": -1}, 422, "out_of_range", "weight_grams"),
    ("other_merchant", {"title": "mine now"}, 404, "product_not_found", "product_id"),
    ("buyer", {"title": "mine now"}, 403, "forbidden", "authorization"),
    ("merchant", {}, 422, "patch_empty", None),
    ("merchant", {"title": None}, 422, "null_not_allowed", "title"),
    (
        "merchant",
        {"occurred_at": "2024-01-01T00:00:00+08:00", "title": "x"},
        422,
        "occurred_before_previous_change",
        "occurred_at",
    ),
    (
        "merchant",
        {"tiers": [{"kind": "spot", "price": "8.00"}, {"kind": "spot", "price": "9.00"}]},
        422,
        "tier_duplicate",
        "tiers[1].kind",
    ),
    (
        "merchant",
        {"tiers": [{"kind": "spot", "price": "0.00"}]},
        422,
        "price_not_positive",
        "tiers[0].price",
    ),
]


@pytest.mark.parametrize(("caller", "patch", "status", "code", "field"), BAD_PATCHES)
def test_a_bad_product_change_is_refused_and_writes_nothing(
    api: Api,
    rt: Runtime,
    caller: str,
    patch: dict[str, Any],
    status: int,
    code: str,
    field: str | None,
) -> None:
    mugs(api)
    before = row_counts(rt)
    answer = api.client.patch(
        "/v1/products/P-mugs", json=patch, headers=api.headers(caller, key="k")
    )
    assert_refused(answer, status, code, field)
    assert row_counts(rt) == before
    assert api.get("merchant", "/v1/products/P-mugs").json()["version"] == 1


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({**MUGS, "return_class": "dangerous_goods"}, "return_class_unknown", "return_class"),
        ({**MUGS, "weight_grams": -1}, "out_of_range", "weight_grams"),
        (
            {**MUGS, "tiers": [{"kind": "spot", "price": "1.00", "moq": 0}]},
            "out_of_range",
            "tiers[0].moq",
        ),
        ({**MUGS, "unit_price": "1.00"}, "tiers_ambiguous", "tiers"),
        ({**MUGS, "tiers": []}, "length_out_of_range", "tiers"),
        ({**MUGS, "tiers": [{"kind": "bulk", "price": "1.00"}]}, "invalid_choice", "tiers[0].kind"),
    ],
)
def test_a_bad_new_product_is_refused_and_writes_nothing(
    api: Api, rt: Runtime, body: dict[str, Any], code: str, field: str
) -> None:
    before = row_counts(rt)
    assert_refused(api.post("merchant", "/v1/products", body), 422, code, field)
    assert row_counts(rt) == before


def test_merchants_change_only_through_the_marketplace(api: Api, rt: Runtime) -> None:
    before = row_counts(rt)
    patch = {"services": ["buyer_protection"]}
    for caller, status, code in (("merchant", 403, "forbidden"), ("buyer", 403, "forbidden")):
        answer = api.client.patch("/v1/merchants/M-yiwu", json=patch, headers=api.headers(caller))
        assert_refused(answer, status, code)
    bad = api.client.patch(
        "/v1/merchants/M-yiwu", json={"services": ["gold"]}, headers=api.headers("marketplace")
    )
    assert_refused(bad, 422, "invalid_choice", "services")
    assert row_counts(rt) == before
    changed = api.client.patch(
        "/v1/merchants/M-yiwu", json=patch, headers=api.headers("marketplace")
    )
    assert changed.status_code == 200 and changed.json()["services"] == ["buyer_protection"]
    assert changed.json()["version"] == 2


def test_every_change_is_kept_with_who_when_and_what(api: Api) -> None:
    mugs(api)
    patch = {"title": "Enamel mugs, blue", "shipping_commitment_hours": 24}
    answer = api.client.patch("/v1/products/P-mugs", json=patch, headers=api.headers("merchant"))
    assert answer.status_code == 200 and answer.json()["version"] == 2
    same = api.client.patch("/v1/products/P-mugs", json=patch, headers=api.headers("merchant"))
    assert same.json()["version"] == 2  # nothing differs: no new version
    items = api.get("merchant", "/v1/products/P-mugs/changes").json()["items"]
    assert [item["version"] for item in items] == [1, 2]
    assert items[1]["actor"] == "merchant:M-yiwu"
    assert items[1]["changes"] == {
        "title": {"from": "Enamel mugs", "to": "Enamel mugs, blue"},
        "shipping_commitment_hours": {"from": 48, "to": 24},
    }
    assert items[1]["occurred_at"] == items[1]["recorded_at"] == "2024-10-20T02:00:00Z"
    assert items[1]["terms"]["tiers"][0]["price"] == "8.00"
    assert_refused(
        api.get("other_merchant", "/v1/products/P-mugs/changes"), 404, "product_not_found"
    )
    merchant = api.get("marketplace", "/v1/merchants/M-yiwu/changes").json()["items"]
    assert merchant[0]["version"] == 1 and merchant[0]["changes"] == {}


def test_later_edits_leave_a_paid_sub_orders_snapshot_unchanged(api: Api) -> None:
    mugs(api)
    placed = place(api, "O-s", {"product_id": "P-mugs", "quantity": 3})
    assert placed.json()["sub_orders"][0]["terms_at_payment"] is None
    paid = pay(api, "O-s", "24.00")
    snapshot = paid["sub_orders"][0]["terms_at_payment"]
    assert snapshot == {
        "source": "payment",
        "as_of": "2024-10-20T02:00:00Z",
        "rulebook_id": "2024-10-15",
        "product_version": 1,
        "merchant_version": 1,
        "tier": {"kind": "spot", "price": "8.00", "moq": 1, "seven_day_returns": True},
        "return_class": "mandatory",
        "return_terms": {
            "class_kind": "mandatory",
            "seven_day_returns": True,
            "rule_id": "returns.no_reason_mandatory",
        },
        "shipping_commitment_hours": 48,
        "merchant_services": ["buyer_protection", "seven_day_returns"],
    }
    edits = {
        "tiers": [{"kind": "spot", "price": "9.00", "moq": 2, "seven_day_returns": False}],
        "return_class": "fresh_perishable",
        "shipping_commitment_hours": 72,
    }
    edited = api.client.patch("/v1/products/P-mugs", json=edits, headers=api.headers("merchant"))
    assert edited.status_code == 200, edited.text
    services = {"services": ["anxingou"]}
    changed = api.client.patch(
        "/v1/merchants/M-yiwu", json=services, headers=api.headers("marketplace")
    )
    assert changed.status_code == 200
    after = api.get("marketplace", "/v1/orders/O-s").json()
    assert after["sub_orders"][0]["terms_at_payment"] == snapshot


def test_a_backdated_payment_sees_the_terms_in_force_at_its_own_occurred_at(api: Api) -> None:
    listed = "2024-10-18T10:00:00+08:00"
    merchant = {
        "id": "M-b",
        "name": "Backdated",
        "industry": "daily_goods",
        "origin_region": "330782",
        "services": ["buyer_protection", "seven_day_returns"],
        "occurred_at": listed,
    }
    assert api.post("marketplace", "/v1/merchants", merchant).status_code == 201
    product = {**MUGS, "id": "P-b", "merchant_id": "M-b", "occurred_at": listed}
    assert api.post("marketplace", "/v1/products", product).status_code == 201
    for order_id in ("O-early", "O-late"):
        line = {"product_id": "P-b", "quantity": 1}
        body = {"id": order_id, "buyer_id": "B-shop", "lines": [line]}
        body["occurred_at"] = "2024-10-19T10:00:00+08:00"
        assert api.post("marketplace", "/v1/orders", body).status_code == 201
    # both changes arrive now, dated yesterday 12:00
    when = "2024-10-19T12:00:00+08:00"
    patch = {"shipping_commitment_hours": 24, "occurred_at": when}
    answer = api.client.patch("/v1/products/P-b", json=patch, headers=api.headers("marketplace"))
    assert answer.status_code == 200, answer.text
    services = {"services": ["buyer_protection"], "occurred_at": when}
    answer = api.client.patch(
        "/v1/merchants/M-b", json=services, headers=api.headers("marketplace")
    )
    assert answer.status_code == 200, answer.text
    early = pay(api, "O-early", "8.00", "2024-10-19T11:00:00+08:00")["sub_orders"][0]
    late = pay(api, "O-late", "8.00", "2024-10-19T13:00:00+08:00")["sub_orders"][0]
    early_terms, late_terms = early["terms_at_payment"], late["terms_at_payment"]
    assert early_terms["shipping_commitment_hours"] == 48
    assert early_terms["merchant_services"] == ["buyer_protection", "seven_day_returns"]
    assert (early_terms["product_version"], early_terms["merchant_version"]) == (1, 1)
    assert late_terms["shipping_commitment_hours"] == 24
    assert late_terms["merchant_services"] == ["buyer_protection"]
    assert (late_terms["product_version"], late_terms["merchant_version"]) == (2, 2)
    # a change reported after a payment, though dated before it, leaves its snapshot alone
    later = {"shipping_commitment_hours": 72, "occurred_at": "2024-10-19T12:30:00+08:00"}
    answer = api.client.patch("/v1/products/P-b", json=later, headers=api.headers("marketplace"))
    assert answer.status_code == 200, answer.text
    kept = api.get("marketplace", "/v1/orders/O-late").json()["sub_orders"][0]
    assert kept["terms_at_payment"] == late_terms


BLANK = " \t "


@pytest.mark.parametrize(
    ("method", "path", "body", "code", "field"),
    [
        ("post", "/v1/merchants", {"id": "M-new", "name": BLANK}, "name_missing", "name"),
        ("patch", "/v1/merchants/M-yiwu", {"name": BLANK}, "name_missing", "name"),
        ("post", "/v1/buyers", {"id": "B-new", "name": BLANK}, "name_missing", "name"),
        ("post", "/v1/products", {**MUGS, "title": BLANK}, "title_missing", "title"),
        ("patch", "/v1/products/P-cups", {"title": BLANK}, "title_missing", "title"),
    ],
)
def test_a_blank_name_or_title_is_refused_and_writes_nothing(
    api: Api, rt: Runtime, method: str, path: str, body: dict[str, Any], code: str, field: str
) -> None:
    """A name of spaces names nothing: refused like a slowdown's blank name (name_missing)."""
    full = {"tier": "standard", "industry": "daily_goods", "origin_region": "330782"}
    if path == "/v1/merchants":
        body = {**full, **body}
    if path == "/v1/buyers":
        address = {"province_code": "110000", "city_code": "110100", "district_code": "110102"}
        body = {**body, "addresses": [address]}
    before = row_counts(rt)
    answer = api.client.request(
        method.upper(), path, json=body, headers=api.headers("marketplace", key="blank")
    )
    assert_refused(answer, 422, code, field)
    assert row_counts(rt) == before


@pytest.mark.parametrize("path", ["/v1/merchants/M-nobody", "/v1/products/P-nobody"])
def test_an_empty_patch_of_what_does_not_exist_is_404_as_any_patch_of_it(
    api: Api, rt: Runtime, path: str
) -> None:
    """`PATCH /v1/merchants/M-nobody {}` answered 422 patch_empty where the same of a
    product, and any non-empty patch of either, answers 404: what is named is found first."""
    before = row_counts(rt)
    entity = path.split("/")[2].removesuffix("s")
    response = api.client.patch(path, json={}, headers=api.headers("marketplace"))
    assert_refused(response, 404, f"{entity}_not_found")
    assert row_counts(rt) == before
