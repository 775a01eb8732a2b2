"""The HTTP API: roles, tokens, idempotency keys, and every bad input a 4xx that writes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from buyerguard.bootstrap import Runtime
from buyerguard.clock import SimulatedClock
from buyerguard.services.context import OPERATOR, Role
from buyerguard.services.tokens import create_token, revoke_token
from buyerguard.store.tables import metadata
from tests.conftest import Api

ORDER = {
    "id": "O-1",
    "buyer_id": "B-shop",
    "lines": [{"product_id": "P-cups", "quantity": 10}, {"product_id": "P-towels", "quantity": 2}],
    "shipping": "20.00",
}
NEW_MERCHANT = {"id": "M-new", "name": "n", "industry": "toys", "origin_region": "330782"}
NEW_BUYER = {
    "id": "B-new",
    "name": "shop",
    "addresses": [{"province_code": "440000", "city_code": "440300", "district_code": "440305"}],
}
NEW_PRODUCT = {
    "id": "P-new",
    "merchant_id": "M-yiwu",
    "title": "mugs",
    "unit_price": "12.50",
    "ship_from_region": "330782",
    "seven_day_returns_opt_in": True,  # one-piece spot goods of a mandatory class (§2)
}


def row_counts(rt: Runtime) -> dict[str, int]:
    with rt.reading(OPERATOR) as ctx:
        return {
            table.name: int(
                ctx.connection.execute(select(func.count()).select_from(table)).scalar_one()
            )
            for table in metadata.sorted_tables
        }


def assert_refused(response: Any, status: int, code: str, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message", "field", "request_id", "errors"}
    assert body["request_id"] == response.headers["X-Request-Id"]
    assert body["errors"][0] == {name: body[name] for name in ("code", "message", "field")}
    assert body["code"] == code, body
    assert body["message"]
    if field is not None:
        assert body["field"] == field, body


def test_tour_places_pays_ships_signs_confirms(api: Api) -> None:
    assert api.post("marketplace", "/v1/orders", ORDER, key="place").status_code == 201
    paid = api.post("marketplace", "/v1/orders/O-1/payment", {"amount": "5,380.00"}, key="pay")
    assert paid.json()["state"] == "paid"
    shipment = {"carrier": "sf", "tracking_number": "SF1", "official_logistics": True}
    assert api.post("merchant", "/v1/orders/O-1/shipment", shipment).json()["state"] == "shipped"
    assert api.post("marketplace", "/v1/orders/O-1/signing").json()["state"] == "signed"
    confirmed = api.post("buyer", "/v1/orders/O-1/confirmation").json()
    assert confirmed["state"] == "confirmed"
    assert [sub["fee"] for sub in confirmed["sub_orders"]] == ["2.16", "18.00"]
    payable = api.get("merchant", "/v1/ledger/accounts/merchant:M-yiwu:payable").json()
    assert payable["balance"] == "5359.84"
    fees = api.get("operator", "/v1/ledger/accounts/platform:fee_revenue").json()
    assert fees["balance"] == "20.16"
    history = api.get("buyer", "/v1/orders/O-1").json()["history"]
    assert [step["to_state"] for step in history] == ["paid", "shipped", "signed", "confirmed"]
    decisions = api.get("merchant", "/v1/orders/O-1/decisions").json()["items"]
    fee = next(d for d in decisions if d["kind"] == "fee_charged" and d["amount"] == "18.00")
    assert fee["rule_ids"] == [
        "fees.rate",
        "fees.required_service",
        "fees.cap_enabled",
        "fees.cap_yuan",
    ]
    assert fee["rulebook_id"] == "2024-10-15"


def test_event_feed_pages_in_commit_order(api: Api) -> None:
    api.post("marketplace", "/v1/orders", ORDER)
    api.post("marketplace", "/v1/orders/O-1/payment", {"amount": "5380.00"})
    first = api.get("marketplace", "/v1/events?limit=1").json()
    assert [item["kind"] for item in first["items"]] == ["escrow_held"] and first["has_more"]
    rest = api.get("marketplace", f"/v1/events?after={first['next_cursor']}").json()
    assert [item["cursor"] for item in rest["items"]] == ["2"] and not rest["has_more"]
    empty = api.get("marketplace", f"/v1/events?after={rest['next_cursor']}").json()
    assert empty == {"items": [], "next_cursor": "2", "has_more": False}
    assert_refused(api.get("marketplace", "/v1/events?after=abc"), 422, "cursor_malformed")
    assert_refused(api.get("buyer", "/v1/events"), 403, "forbidden")


def test_idempotency_key_replays_and_refuses_a_different_body(api: Api, rt: Runtime) -> None:
    first = api.post("marketplace", "/v1/orders", ORDER, key="k1")
    again = api.post("marketplace", "/v1/orders", ORDER, key="k1")
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    before = row_counts(rt)
    changed = {**ORDER, "shipping": "21.00"}
    assert_refused(
        api.post("marketplace", "/v1/orders", changed, key="k1"),
        409,
        "idempotency_key_reused",
        "Idempotency-Key",
    )
    assert row_counts(rt) == before
    # keys are scoped to the caller and route: the buyer's k1 is another key
    other = api.post("buyer", "/v1/orders", {**ORDER, "id": "O-2"}, key="k1")
    assert other.status_code == 201


def test_refused_request_stores_no_key(api: Api) -> None:
    bad = api.post("marketplace", "/v1/orders", {**ORDER, "shipping": 20}, key="k2")
    assert_refused(bad, 422, "amount_not_a_string", "shipping")
    good = api.post("marketplace", "/v1/orders", ORDER, key="k2")
    assert good.status_code == 201


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"amount": 5380}, "amount_not_a_string", "amount"),
        ({"amount": 5380.0}, "amount_not_a_string", "amount"),
        ({"amount": "5380.001"}, "amount_too_precise", "amount"),
        ({"amount": "-5380.00"}, "amount_negative", "amount"),
        ({"amount": "NaN"}, "amount_malformed", "amount"),
        ({"amount": "5380.00", "tip": "1"}, "field_unknown", "tip"),
        ({}, "field_missing", "amount"),
        (
            {"amount": "5380.00", "occurred_at": "2024-10-20T10:00:00"},
            "instant_without_offset",
            "occurred_at",
        ),
    ],
)
def test_bad_payment_bodies_are_refused_and_write_nothing(
    api: Api, rt: Runtime, body: dict[str, Any], code: str, field: str
) -> None:
    api.post("marketplace", "/v1/orders", ORDER)
    before = row_counts(rt)
    assert_refused(
        api.post("marketplace", "/v1/orders/O-1/payment", body, key="p"), 422, code, field
    )
    assert row_counts(rt) == before


def test_malformed_json_is_a_4xx(api: Api) -> None:
    response = api.client.post(
        "/v1/orders",
        content=b"{not json",
        headers={**api.headers("marketplace"), "content-type": "application/json"},
    )
    assert_refused(response, 422, "json_malformed")


def test_unknown_ids_answer_404(api: Api, rt: Runtime) -> None:
    before = row_counts(rt)
    assert_refused(api.get("operator", "/v1/orders/nope"), 404, "order_not_found", "order_id")
    assert_refused(
        api.post("marketplace", "/v1/orders/nope/payment", {"amount": "1.00"}),
        404,
        "order_not_found",
    )
    unknown_product = {**ORDER, "lines": [{"product_id": "P-none", "quantity": 1}]}
    assert_refused(api.post("marketplace", "/v1/orders", unknown_product), 404, "product_not_found")
    assert_refused(
        api.post("marketplace", "/v1/orders", {**ORDER, "buyer_id": "B-x"}), 404, "buyer_not_found"
    )
    assert_refused(api.get("operator", "/v1/nowhere"), 404, "not_found")
    assert row_counts(rt) == before


def test_illegal_and_out_of_order_transitions_are_409(api: Api, rt: Runtime) -> None:
    api.post("marketplace", "/v1/orders", ORDER)
    before = row_counts(rt)
    assert_refused(
        api.post("marketplace", "/v1/orders/O-1/signing"), 409, "illegal_transition", "state"
    )
    shipment = {"carrier": "sf", "tracking_number": "SF1"}
    refused = api.post("marketplace", "/v1/orders/O-1/shipment", shipment)
    assert_refused(refused, 409, "illegal_transition")
    assert "placed" in refused.json()["message"] and "ship" in refused.json()["message"]
    assert row_counts(rt) == before
    api.post("marketplace", "/v1/orders/O-1/payment", {"amount": "5380.00"})
    assert_refused(
        api.post("marketplace", "/v1/orders/O-1/payment", {"amount": "5380.00"}),
        409,
        "illegal_transition",
    )


def test_merchants_and_buyers_see_only_their_own(api: Api, rt: Runtime) -> None:
    api.post("marketplace", "/v1/orders", ORDER)
    api.post("marketplace", "/v1/orders/O-1/payment", {"amount": "5380.00"})
    before = row_counts(rt)
    shipment = {"carrier": "sf", "tracking_number": "SF1"}
    assert_refused(
        api.post("other_merchant", "/v1/orders/O-1/shipment", shipment), 404, "order_not_found"
    )
    assert_refused(api.get("other_buyer", "/v1/orders/O-1"), 404, "order_not_found")
    assert_refused(api.get("other_merchant", "/v1/orders/O-1/decisions"), 404, "order_not_found")
    assert_refused(
        api.get("other_merchant", "/v1/ledger/accounts/merchant:M-yiwu:payable"),
        404,
        "account_not_found",
    )
    assert api.get("other_buyer", "/v1/orders").json()["items"] == []
    assert [o["id"] for o in api.get("merchant", "/v1/orders").json()["items"]] == ["O-1"]
    assert_refused(api.post("buyer", "/v1/orders/O-1/shipment", shipment), 403, "forbidden")
    assert_refused(
        api.post("merchant", "/v1/orders/O-1/payment", {"amount": "1.00"}), 403, "forbidden"
    )
    assert row_counts(rt) == before


def test_tokens_missing_unknown_expired_and_revoked(
    api: Api, rt: Runtime, clock: SimulatedClock
) -> None:
    assert_refused(api.client.get("/v1/orders"), 401, "token_missing")
    assert_refused(
        api.client.get("/v1/orders", headers={"Authorization": "Bearer bg_nope"}),
        401,
        "token_unknown",
    )
    with rt.writing(OPERATOR) as ctx:
        short = create_token(
            ctx,
            Role.MARKETPLACE,
            None,
            expires_at=ctx.now() + timedelta(hours=1),
        )
        revoked = create_token(ctx, Role.MARKETPLACE, None)
        revoke_token(ctx, revoked.token_id)
    assert (
        api.client.get(
            "/v1/orders", headers={"Authorization": f"Bearer {short.secret}"}
        ).status_code
        == 200
    )
    clock.advance(timedelta(hours=1))
    before = row_counts(rt)
    expired = api.client.post(
        "/v1/orders", json=ORDER, headers={"Authorization": f"Bearer {short.secret}"}
    )
    assert_refused(expired, 401, "token_expired")
    gone = api.client.post(
        "/v1/orders", json=ORDER, headers={"Authorization": f"Bearer {revoked.secret}"}
    )
    assert_refused(gone, 401, "token_revoked")
    assert row_counts(rt) == before


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"origin_region": "999999"}, "region_malformed", "origin_region"),
        ({"origin_region": "33078"}, "region_malformed", "origin_region"),
        ({"origin_region": "BR-SP"}, "region_malformed", "origin_region"),  # not GB/T 2260
        ({"origin_region": "33078a"}, "region_malformed", "origin_region"),
        ({"tier": "gold"}, "invalid_choice", "tier"),
        ({"services": ["teleport"]}, "invalid_choice", "services"),
        ({"id": "has space"}, "value_malformed", "id"),
    ],
)
def test_bad_merchants_are_refused(
    api: Api, rt: Runtime, change: dict[str, Any], code: str, field: str
) -> None:
    body = {"id": "M-new", "name": "n", "industry": "toys", "origin_region": "330782", **change}
    before = row_counts(rt)
    assert_refused(api.post("operator", "/v1/merchants", body), 422, code, field)
    assert row_counts(rt) == before


def test_product_listing_rules(api: Api) -> None:
    product = NEW_PRODUCT
    assert_refused(
        api.post("merchant", "/v1/products", {**product, "unit_price": 12.5}),
        422,
        "amount_not_a_string",
    )
    assert_refused(api.post("other_merchant", "/v1/products", product), 404, "merchant_not_found")
    created = api.post("merchant", "/v1/products", product, key="p")
    assert created.status_code == 201 and created.json()["unit_price"] == "12.50"
    assert_refused(api.post("merchant", "/v1/products", product), 409, "product_exists", "id")


def test_buyer_address_codes_must_nest(api: Api) -> None:
    body = {
        "id": "B-new",
        "name": "shop",
        "addresses": [
            {"province_code": "440000", "city_code": "330100", "district_code": "330106"}
        ],
    }
    assert_refused(api.post("marketplace", "/v1/buyers", body), 422, "region_mismatch", "city_code")


def test_a_region_code_that_is_not_digits_is_region_malformed_on_every_route(api: Api) -> None:
    """The docs' code for a region that is not one, not `value_malformed` (the schema's
    pattern): every field taking a GB/T 2260 code answers it alike."""
    address = {"province_code": "440000", "city_code": "440300", "district_code": "BR-SP"}
    buyer = {"id": "B-new", "name": "shop", "addresses": [address]}
    assert_refused(
        api.post("marketplace", "/v1/buyers", buyer),
        422,
        "region_malformed",
        "addresses[0].district_code",
    )
    product = {**NEW_PRODUCT, "ship_from_region": "BR-SP"}
    assert_refused(
        api.post("merchant", "/v1/products", product), 422, "region_malformed", "ship_from_region"
    )
    patched = api.client.patch(
        "/v1/merchants/M-yiwu", json={"origin_region": "BR-SP"}, headers=api.headers("operator")
    )
    assert_refused(patched, 422, "region_malformed", "origin_region")


def test_a_region_malformed_message_names_the_value_it_refused(api: Api) -> None:
    """The message said `not a GB/T 2260 code: {value!r}`, the placeholder unfilled (pydantic
    fills `{value}` only): it names the value, as the domain's own refusal does."""
    lookup = api.get("marketplace", "/v1/promises?product_id=P-cups&destination=BR-SP")
    assert_refused(lookup, 422, "region_malformed", "destination")
    assert lookup.json()["message"] == "destination: not a GB/T 2260 code: 'BR-SP'"
    product = {**NEW_PRODUCT, "ship_from_region": "33-782"}
    created = api.post("merchant", "/v1/products", product)
    assert_refused(created, 422, "region_malformed", "ship_from_region")
    assert created.json()["message"] == "ship_from_region: not a GB/T 2260 code: '33-782'"


def test_docs_work_offline(api: Api) -> None:
    page = api.client.get("/docs")
    assert page.status_code == 200
    assert "/static/swagger/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    bundle = api.client.get("/static/swagger/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    assert "isOAS31" in bundle.text  # Swagger UI 5: renders the OpenAPI 3.1 FastAPI emits
    assert api.client.get("/openapi.json").json()["info"]["title"] == "buyerguard"
    assert api.client.get("/healthz").json()["status"] == "ok"


def test_concurrent_requests_with_one_key_run_once(api: Api, rt: Runtime) -> None:
    """Both answers are the first one; the order is paid once (also under PostgreSQL locks)."""
    import threading

    api.post("marketplace", "/v1/orders", ORDER)
    barrier = threading.Barrier(4)
    answers: list[Any] = []

    def pay() -> None:
        barrier.wait()
        answers.append(
            api.post("marketplace", "/v1/orders/O-1/payment", {"amount": "5380.00"}, key="same")
        )

    threads = [threading.Thread(target=pay) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [answer.status_code for answer in answers] == [200] * 4
    assert len({answer.text for answer in answers}) == 1
    assert sum(answer.headers.get("Idempotent-Replayed") == "true" for answer in answers) == 3
    assert len(api.get("marketplace", "/v1/events").json()["items"]) == 2


def test_zero_unit_price_and_empty_refund_list_are_refused(api: Api, rt: Runtime) -> None:
    zero = {**ORDER, "lines": [{"product_id": "P-cups", "quantity": 1, "unit_price": "0.00"}]}
    assert_refused(api.post("marketplace", "/v1/orders", zero), 422, "price_not_positive")
    api.post("marketplace", "/v1/orders", ORDER)
    api.post("marketplace", "/v1/orders/O-1/payment", {"amount": "5380.00"})
    before = row_counts(rt)
    empty = api.post("marketplace", "/v1/orders/O-1/refund-before-shipment", {"sub_order_ids": []})
    assert_refused(empty, 422, "sub_order_ids_empty", "sub_order_ids")
    # An empty `amounts` is refused the same way, its message naming amounts (it told the
    # caller to leave sub_order_ids out, a field it had not sent).
    empty = api.post("marketplace", "/v1/orders/O-1/refund-before-shipment", {"amounts": {}})
    assert_refused(empty, 422, "sub_order_ids_empty", "amounts")
    assert empty.json()["message"] == (
        "name at least one sub-order, or leave amounts out to refund them all"
    )
    assert row_counts(rt) == before


@pytest.mark.parametrize("cache_seconds", [0.0, 2.0])
def test_a_revoked_token_stops_working_within_the_token_cache(
    rt: Runtime, clock: SimulatedClock, cache_seconds: float
) -> None:
    """A worker keeps an accepted token `token_cache_seconds` of real time: revoked after
    use, it still works until then (never with 0) and is refused after; expiry is checked on
    every request, cached or not."""
    import time

    from buyerguard.api.app import create_app
    from tests.schema_conformance import checked_client

    with rt.writing(OPERATOR) as ctx:
        kept = create_token(ctx, Role.OPERATOR, None)
        short = create_token(
            ctx,
            Role.OPERATOR,
            None,
            expires_at=ctx.now() + timedelta(hours=1),
        )
    with checked_client(create_app(rt, token_cache_seconds=cache_seconds)) as client:

        def status(secret: str) -> int:
            answer = client.get("/v1/orders", headers={"Authorization": f"Bearer {secret}"})
            return answer.status_code

        before_kept = time.monotonic()  # the entry is kept from within the next request
        assert status(kept.secret) == 200 and status(short.secret) == 200
        after_kept = time.monotonic()
        with rt.writing(OPERATOR) as ctx:
            revoke_token(ctx, kept.token_id)
        revoked_answer = status(kept.secret)
        if not cache_seconds:
            assert revoked_answer == 401
        elif time.monotonic() - before_kept < cache_seconds:  # certainly still kept
            assert revoked_answer == 200
        time.sleep(max(0.0, after_kept + cache_seconds - time.monotonic()))  # certainly gone
        assert status(kept.secret) == 401
        clock.advance(timedelta(hours=1))
        expired = client.get("/v1/orders", headers={"Authorization": f"Bearer {short.secret}"})
        assert_refused(expired, 401, "token_expired")
