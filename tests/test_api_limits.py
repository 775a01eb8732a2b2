"""Inputs beyond what the store can hold are 4xx on both databases alike, and write nothing.

Every case here answered 500 on one database or both before the limits were
declared (issue 10): integers beyond a column, instants beyond the calendar,
over-long strings and NULs that PostgreSQL refuses but SQLite stores, cursors
that are digits only to Unicode.
"""

from __future__ import annotations

from typing import Any

import pytest

from buyerguard.bootstrap import Runtime
from buyerguard.errors import BuyerguardError
from buyerguard.money import MAX_FEN, format_fen
from buyerguard.services import orders
from tests.conftest import Api
from tests.test_api import (
    NEW_BUYER,
    NEW_MERCHANT,
    NEW_PRODUCT,
    ORDER,
    assert_refused,
    row_counts,
)
from tests.test_facts_batch import CUPS, fact

PRODUCT = NEW_PRODUCT
MERCHANT = NEW_MERCHANT
SHIPMENT = {"carrier": "SF", "tracking_number": "SF1", "official_logistics": True}


def one_line(**line: Any) -> dict[str, Any]:
    return {**ORDER, "lines": [{"product_id": "P-cups", "quantity": 10, **line}]}


def paid_order(api: Api) -> None:
    assert api.post("marketplace", "/v1/orders", ORDER).status_code == 201
    paid = api.post("marketplace", "/v1/orders/O-1/payment", {"amount": "5380.00"})
    assert paid.status_code == 200, paid.text


# (what, role, path, body, id): a creation whose id is dots only
DOTS_ONLY: list[tuple[str, str, str, dict[str, Any], str]] = [
    ("order", "marketplace", "/v1/orders", ORDER, ".."),
    ("order", "buyer", "/v1/orders", ORDER, "."),
    ("merchant", "operator", "/v1/merchants", MERCHANT, "."),
    ("product", "merchant", "/v1/products", PRODUCT, ".."),
    ("buyer", "marketplace", "/v1/buyers", NEW_BUYER, "..."),
]
POSTS: list[tuple[str, str, str, Any, int, str, str | None]] = [
    # (case, role, path, body, status, code, field)
    (
        "quantity 1e20",
        "marketplace",
        "/v1/orders",
        one_line(quantity=10**20),
        422,
        "out_of_range",
        "lines[0].quantity",
    ),
    (
        "quantity 2**63",
        "marketplace",
        "/v1/orders",
        one_line(quantity=2**63),
        422,
        "out_of_range",
        "lines[0].quantity",
    ),
    (
        "quantity 2**31",
        "marketplace",
        "/v1/orders",
        one_line(quantity=2**31),
        422,
        "out_of_range",
        "lines[0].quantity",
    ),
    (
        "price x quantity beyond BIGINT",
        "marketplace",
        "/v1/orders",
        one_line(quantity=2, unit_price=format_fen(MAX_FEN)),
        422,
        "amount_too_large",
        "lines[0]",
    ),
    (
        "goods + shipping beyond BIGINT",
        "marketplace",
        "/v1/orders",
        {**one_line(quantity=1, unit_price=format_fen(MAX_FEN)), "shipping": "1.00"},
        422,
        "amount_too_large",
        "shipping",
    ),
    (
        "address_index 1e20",
        "marketplace",
        "/v1/orders",
        {**ORDER, "address_index": 10**20},
        422,
        "out_of_range",
        "address_index",
    ),
    (
        "occurred_at year 1",
        "marketplace",
        "/v1/orders",
        {**ORDER, "occurred_at": "0001-01-01T00:00:00+08:00"},
        422,
        "instant_out_of_range",
        "occurred_at",
    ),
    (
        "occurred_at year 9999",
        "marketplace",
        "/v1/orders",
        {**ORDER, "occurred_at": "9999-12-31T23:59:59-14:00"},
        422,
        "instant_out_of_range",
        "occurred_at",
    ),
    (
        "occurred_at a JSON number",
        "marketplace",
        "/v1/orders",
        {**ORDER, "occurred_at": 1729389600},
        422,
        "instant_not_a_string",
        "occurred_at",
    ),
    (
        "occurred_at a numeric string",
        "marketplace",
        "/v1/orders",
        {**ORDER, "occurred_at": "1729389600"},
        422,
        "instant_malformed",
        "occurred_at",
    ),
    (
        "occurred_at a bare date",
        "marketplace",
        "/v1/orders",
        {**ORDER, "occurred_at": "2024-10-20"},
        422,
        "instant_malformed",
        "occurred_at",
    ),
    (
        "order id 300 characters",
        "marketplace",
        "/v1/orders",
        {**ORDER, "id": "O" * 300},
        422,
        "length_out_of_range",
        "id",
    ),
    (
        "buyer id with NUL",
        "marketplace",
        "/v1/orders",
        {**ORDER, "buyer_id": "B-\u0000"},
        422,
        "value_malformed",
        "buyer_id",
    ),
    (
        "product id with NUL",
        "marketplace",
        "/v1/orders",
        {**ORDER, "lines": [{"product_id": "P-cups\u0000", "quantity": 10}]},
        422,
        "value_malformed",
        "lines[0].product_id",
    ),
    (
        "weight 1e20",
        "merchant",
        "/v1/products",
        {**PRODUCT, "weight_grams": 10**20},
        422,
        "out_of_range",
        "weight_grams",
    ),
    (
        "moq 1e20",
        "merchant",
        "/v1/products",
        {**PRODUCT, "moq": 10**20},
        422,
        "out_of_range",
        "moq",
    ),
    (
        "title with NUL",
        "merchant",
        "/v1/products",
        {**PRODUCT, "title": "mug\u0000s"},
        422,
        "value_malformed",
        "title",
    ),
    (
        "title 10 MB",
        "merchant",
        "/v1/products",
        {**PRODUCT, "title": "x" * 10_000_000},
        422,
        "length_out_of_range",
        "title",
    ),
    (
        "price 30 digits",
        "merchant",
        "/v1/products",
        {**PRODUCT, "unit_price": "9" * 30},
        422,
        "amount_too_large",
        "unit_price",
    ),
    (
        "industry 100 characters",
        "marketplace",
        "/v1/merchants",
        {**MERCHANT, "industry": "t" * 100},
        422,
        "length_out_of_range",
        "industry",
    ),
    (
        "name 10 MB",
        "marketplace",
        "/v1/merchants",
        {**MERCHANT, "name": "n" * 10_000_000},
        422,
        "length_out_of_range",
        "name",
    ),
    (
        "name with NUL",
        "marketplace",
        "/v1/merchants",
        {**MERCHANT, "name": "a\u0000b"},
        422,
        "value_malformed",
        "name",
    ),
    (
        "service 300 characters",
        "marketplace",
        "/v1/merchants",
        {**MERCHANT, "services": ["s" * 300]},
        422,
        "length_out_of_range",
        "services[0]",
    ),
    (
        "address detail with NUL",
        "marketplace",
        "/v1/buyers",
        {
            "id": "B-new",
            "name": "shop",
            "addresses": [
                {
                    "province_code": "440000",
                    "city_code": "440300",
                    "district_code": "440305",
                    "detail": "\u0000",
                }
            ],
        },
        422,
        "value_malformed",
        "addresses[0].detail",
    ),
    (
        "district 300 characters",
        "marketplace",
        "/v1/buyers",
        {
            "id": "B-new",
            "name": "shop",
            "addresses": [
                {"province_code": "440000", "city_code": "440300", "district_code": "4" * 300}
            ],
        },
        422,
        "length_out_of_range",
        "addresses[0].district_code",
    ),
    # An id of dots only was stored, and could not be read back: `.` and `..` are a URL's
    # dot-segments, which clients remove (the generated client asked `GET /v1/orders` for
    # order `.`, and `GET /v1` for `..`).
    *(
        (f"{what} id {dots}", role, path, {**body, "id": dots}, 422, "value_malformed", "id")
        for what, role, path, body, dots in DOTS_ONLY
    ),
]


@pytest.mark.parametrize(
    ("case", "role", "path", "body", "status", "code", "field"),
    POSTS,
    ids=[case[0] for case in POSTS],
)
def test_bad_creations_are_4xx_and_write_nothing(
    api: Api,
    rt: Runtime,
    case: str,
    role: str,
    path: str,
    body: Any,
    status: int,
    code: str,
    field: str | None,
) -> None:
    before = row_counts(rt)
    assert_refused(api.post(role, path, body, key=f"k-{case}"), status, code, field)
    assert row_counts(rt) == before


def test_an_id_of_dots_only_is_refused_however_it_is_chosen(api: Api, rt: Runtime) -> None:
    """The envelope of a batch names the order it places, and a service names a case: dots
    only are refused there too. An id holding dots among other characters is any id."""
    before = row_counts(rt)
    batch = [fact("order", "place-dots", "..", buyer_id="B-shop", lines=CUPS)]
    result = api.post("marketplace", "/v1/facts", {"facts": batch}).json()["results"][0]
    assert (result["outcome"], result["error"]["code"]) == ("refused", "value_malformed")
    with pytest.raises(BuyerguardError) as refused:
        orders.new_id("case", ".", "case_id")
    assert (refused.value.code, refused.value.field) == ("id_malformed", "case_id")
    assert row_counts(rt) == before
    for merchant_id in (".M", "M.", "M..2", "-", "_"):
        created = api.post("operator", "/v1/merchants", {**MERCHANT, "id": merchant_id})
        assert created.status_code == 201, created.text
        assert api.get("operator", f"/v1/merchants/{merchant_id}").json()["id"] == merchant_id


FACTS: list[tuple[str, str, str, Any, str, str]] = [
    (
        "tracking number 300 characters",
        "merchant",
        "/v1/orders/O-1/shipment",
        {**SHIPMENT, "tracking_number": "S" * 300},
        "length_out_of_range",
        "tracking_number",
    ),
    (
        "carrier with NUL",
        "merchant",
        "/v1/orders/O-1/shipment",
        {**SHIPMENT, "carrier": "S\u0000F"},
        "value_malformed",
        "carrier",
    ),
    (
        "shipped in year 1",
        "merchant",
        "/v1/orders/O-1/shipment",
        {**SHIPMENT, "occurred_at": "0001-01-01T00:00:00+08:00"},
        "instant_out_of_range",
        "occurred_at",
    ),
    (
        "signed as a JSON number",
        "marketplace",
        "/v1/orders/O-1/signing",
        {"occurred_at": 1729389600.5},
        "instant_not_a_string",
        "occurred_at",
    ),
    (
        "sub-order id 300 characters",
        "marketplace",
        "/v1/orders/O-1/refund-before-shipment",
        {"sub_order_ids": ["O" * 300]},
        "length_out_of_range",
        "sub_order_ids[0]",
    ),
    (
        "sub-order id with NUL",
        "marketplace",
        "/v1/orders/O-1/refund-before-shipment",
        {"sub_order_ids": ["O-1-1\u0000"]},
        "value_malformed",
        "sub_order_ids[0]",
    ),
]


@pytest.mark.parametrize(
    ("case", "role", "path", "body", "code", "field"), FACTS, ids=[case[0] for case in FACTS]
)
def test_bad_facts_are_422_and_write_nothing(
    api: Api, rt: Runtime, case: str, role: str, path: str, body: Any, code: str, field: str
) -> None:
    paid_order(api)
    before = row_counts(rt)
    assert_refused(api.post(role, path, body, key=f"k-{case}"), 422, code, field)
    assert row_counts(rt) == before


READS: list[tuple[str, str, int, str, str | None]] = [
    ("/v1/orders/%00", "operator", 422, "value_malformed", "order_id"),
    (f"/v1/orders/{'O' * 300}", "operator", 422, "length_out_of_range", "order_id"),
    (f"/v1/orders/{'O' * 300}/decisions", "operator", 422, "length_out_of_range", "order_id"),
    ("/v1/merchants/M%00", "operator", 422, "value_malformed", "merchant_id"),
    ("/v1/products/%00", "operator", 422, "value_malformed", "product_id"),
    ("/v1/buyers/%00", "operator", 422, "value_malformed", "buyer_id"),
    ("/v1/ledger/accounts/%00", "operator", 422, "value_malformed", "account_id"),
    ("/v1/ledger/accounts/platform:nothing", "operator", 404, "account_not_found", "account_id"),
    ("/v1/events?after=99999999999999999999999", "marketplace", 422, "cursor_malformed", "after"),
    ("/v1/events?after=%C2%B2", "marketplace", 422, "cursor_malformed", "after"),
    ("/v1/events?after=%EF%BC%91%EF%BC%92", "marketplace", 422, "cursor_malformed", "after"),
    ("/v1/events?after=-1", "marketplace", 422, "cursor_malformed", "after"),
    ("/v1/events?after=00", "marketplace", 422, "cursor_malformed", "after"),  # no page gives it
    ("/v1/events?after=%2B0", "marketplace", 422, "cursor_malformed", "after"),
    ("/v1/orders?after=%00", "operator", 422, "value_malformed", "after"),
    (f"/v1/products?after={'P' * 300}", "operator", 422, "length_out_of_range", "after"),
    (
        "/v1/promises?product_id=P-cups&destination=440305&paid_at=0001-01-01T00:00:00%2B08:00",
        "buyer",
        422,
        "instant_out_of_range",
        "paid_at",
    ),
    (
        "/v1/promises?product_id=P-cups&destination=440305&paid_at=9999-12-31T23:59:59-14:00",
        "buyer",
        422,
        "instant_out_of_range",
        "paid_at",
    ),
    (
        "/v1/promises?product_id=P%00&destination=440305",
        "buyer",
        422,
        "value_malformed",
        "product_id",
    ),
    (
        f"/v1/promises?product_id=P-cups&destination={'4' * 300}",
        "buyer",
        422,
        "length_out_of_range",
        "destination",
    ),
    (
        "/v1/promises?product_id=P-cups&destination=440305&carrier=S%00F",
        "buyer",
        422,
        "value_malformed",
        "carrier",
    ),
    ("/v1/merchants/M-yiwu/badge", "buyer", 403, "forbidden", "authorization"),
    # An empty instant is not one: it was read as no filter (every audit record, every case)
    # or as now (the promise for a payment this instant).
    (
        "/v1/promises?product_id=P-cups&destination=440305&paid_at=",
        "buyer",
        422,
        "length_out_of_range",
        "paid_at",
    ),
    ("/v1/audit?since=", "operator", 422, "length_out_of_range", "since"),
    ("/v1/audit?until=", "operator", 422, "length_out_of_range", "until"),
    ("/v1/cases?deadline_before=", "operator", 422, "length_out_of_range", "deadline_before"),
]


@pytest.mark.parametrize(("path", "role", "status", "code", "field"), READS)
def test_bad_reads_are_4xx(
    api: Api, rt: Runtime, path: str, role: str, status: int, code: str, field: str | None
) -> None:
    before = row_counts(rt)
    assert_refused(api.get(role, path), status, code, field)
    assert row_counts(rt) == before


def test_a_cursor_of_ascii_digits_still_pages(api: Api) -> None:
    paid_order(api)
    page = api.get("marketplace", "/v1/events?after=1").json()
    assert [item["cursor"] for item in page["items"]] == ["2"]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/v1/orders", {"GET", "HEAD", "POST"}),
        # routes of the included routers too (found by a tester: `Allow` was empty)
        ("DELETE", "/v1/orders/O-1/cases", {"POST"}),
        ("DELETE", "/v1/cases/C-1", {"GET", "HEAD"}),
        ("GET", "/v1/cases/C-1/accept", {"POST"}),
        ("DELETE", "/v1/products", {"GET", "HEAD", "POST"}),
        ("PUT", "/v1/logistics/disruptions", {"GET", "HEAD", "POST"}),
        ("DELETE", "/v1/logistics/slowdowns", {"GET", "HEAD", "POST"}),
    ],
)
def test_method_not_allowed_names_the_allowed_methods(
    api: Api, method: str, path: str, allowed: set[str]
) -> None:
    response = api.client.request(method, path, headers=api.headers("operator"))
    assert_refused(response, 405, "method_not_allowed")
    assert set(response.headers["allow"].replace(" ", "").split(",")) == allowed


def test_latency_is_counted_under_the_full_route_template(api: Api) -> None:
    """A route of a nested router was counted without /v1 (`/logistics/slowdowns`)."""
    from prometheus_client import REGISTRY

    labels = {"method": "GET", "route": "/v1/logistics/slowdowns", "status": "200"}
    name = "buyerguard_http_request_duration_seconds_count"
    before = REGISTRY.get_sample_value(name, labels) or 0
    assert api.get("operator", "/v1/logistics/slowdowns").status_code == 200
    assert REGISTRY.get_sample_value(name, labels) == before + 1


def test_a_buyer_order_takes_catalogue_prices_only(api: Api, rt: Runtime) -> None:
    before = row_counts(rt)
    cheap = api.post("buyer", "/v1/orders", one_line(unit_price="0.01"), key="cheap")
    assert_refused(cheap, 403, "unit_price_forbidden", "lines[0].unit_price")
    assert row_counts(rt) == before
    placed = api.post("buyer", "/v1/orders", one_line(), key="fair")
    assert placed.status_code == 201
    assert placed.json()["sub_orders"][0]["unit_price"] == "36.00"


@pytest.mark.parametrize(
    ("role", "path", "body"),
    [
        ("buyer", "/v1/buyers", {"bad": "body"}),
        ("buyer", "/v1/merchants", None),
        ("merchant", "/v1/buyers", {"id": 7}),
        ("buyer", "/v1/products", {"unit_price": 1}),
        ("merchant", "/v1/orders/O-1/payment", {"amount": 5}),
        ("buyer", "/v1/orders/O-1/signing", {"occurred_at": 5}),
    ],
)
def test_the_role_is_checked_before_the_body(
    api: Api, rt: Runtime, role: str, path: str, body: Any
) -> None:
    before = row_counts(rt)
    assert_refused(api.post(role, path, body), 403, "forbidden", "authorization")
    malformed = api.client.post(
        path,
        content=b"{not json",
        headers={**api.headers(role), "content-type": "application/json"},
    )
    assert_refused(malformed, 403, "forbidden", "authorization")
    assert_refused(api.client.post(path, content=b"{not json"), 401, "token_missing")
    assert row_counts(rt) == before


def test_every_get_route_answers_head_as_get_without_a_body(api: Api) -> None:
    """`curl -I` and uptime probes send HEAD; every route answered 405 (RFC 9110: a
    general-purpose server supports GET and HEAD). Same status and headers, no body."""
    import re

    from fastapi.routing import APIRoute

    from buyerguard.api.routes import ROUTERS

    paths = [
        re.sub(r"\{[^}]+\}", "O-1", route.path)
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute) and "GET" in (route.methods or set())
    ]
    paid_order(api)
    for path in paths:
        get = api.get("operator", path)
        head = api.client.head(path, headers=api.headers("operator"))
        assert head.status_code == get.status_code, (path, head.status_code, head.text)
        assert head.content == b"", path
        assert head.headers["content-type"] == get.headers["content-type"], path
    document = api.client.get("/openapi.json").json()
    assert not [path for path, ops in document["paths"].items() if "head" in ops]
