"""After-sales cases end to end through the API: a return picked up and quick-refunded,
a refund-only granted when the merchant stays silent, and a refusal ruled by the platform."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from buyerguard.bootstrap import Runtime
from buyerguard.clock import SimulatedClock
from buyerguard.ledger.balances import balance
from buyerguard.scheduler import Scheduler
from buyerguard.services.context import OPERATOR
from tests.conftest import Api

CUPS = "360.00"  # 10 x 36.00, no shipping


def signed_order(api: Api, order_id: str) -> str:
    body = {
        "id": order_id,
        "buyer_id": "B-shop",
        "lines": [{"product_id": "P-cups", "quantity": 10}],
    }
    assert api.post("marketplace", "/v1/orders", body).status_code == 201
    for suffix, fact in (
        ("payment", {"amount": CUPS}),
        ("shipment", {"carrier": "SF", "tracking_number": f"SF-{order_id}"}),
        ("signing", None),
    ):
        answer = api.post("marketplace", f"/v1/orders/{order_id}/{suffix}", fact)
        assert answer.status_code == 200, answer.text
    return f"{order_id}-1"


def act(api: Api, role: str, case_id: str, action: str, body: Any = None) -> dict[str, Any]:
    answer = api.post(role, f"/v1/cases/{case_id}/{action}", body)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def tick(rt: Runtime) -> list[str]:
    return [item.outcome for item in Scheduler(rt.engine, rt.clock, rt.rulebooks).tick()]


def owed_to(rt: Runtime, account_id: str) -> int:
    with rt.reading(OPERATOR) as ctx:
        return balance(ctx.connection, account_id).credit_balance_fen


def test_a_return_picked_up_is_refunded_at_once_and_the_carrier_subsidised(
    api: Api, rt: Runtime, clock: SimulatedClock
) -> None:
    sub = signed_order(api, "R-1")
    opened = api.post(
        "buyer",
        "/v1/orders/R-1/cases",
        {"type": "return_no_reason", "sub_order_id": sub, "reason": "changed my mind"},
    )
    assert opened.status_code == 201, opened.text
    case = opened.json()
    assert (case["state"], case["goods"], case["requested"]) == ("pending", "with_buyer", CUPS)
    assert act(api, "merchant", case["id"], "accept")["state"] == "accepted"
    assert act(api, "buyer", case["id"], "handover", {"official_logistics": True})["goods"] == (
        "awaiting_pickup"
    )
    picked = act(api, "marketplace", case["id"], "pickup", {"carrier": "SF", "freight": "30.00"})
    assert (picked["goods"], picked["quick_refunded"], picked["refunded"]) == (
        "in_transit",
        CUPS,
        CUPS,
    )
    assert owed_to(rt, "carrier:SF:payable") == 2500  # min(30.00, the 25.00 cap)
    act(api, "merchant", case["id"], "arrival")
    done = act(api, "merchant", case["id"], "inspection", {"result": "ok"})
    assert (done["state"], done["outcome"], done["refunded"]) == ("closed", "agreed", CUPS)
    detail = api.get("buyer", f"/v1/cases/{case['id']}").json()
    kinds = [decision["kind"] for decision in detail["decisions"]]
    assert kinds[:3] == ["return_eligibility", "case_opened", "deadline_set"]
    assert "case_quick_refunded" in kinds and kinds[-1] == "case_closed"
    paid = {(row["kind"], row["party"], row["amount"], row["state"]) for row in detail["payments"]}
    assert paid == {
        ("carrier_subsidy", "carrier:SF", "25.00", "instructed"),
        ("refund", "buyer:B-shop", CUPS, "instructed"),
    }
    assert (detail["owed"], detail["paid"]) == ("385.00", "0.00")
    # The buyer is owed its refund by instruction; nothing was released to the merchant.
    assert owed_to(rt, "buyer:B-shop:payable") == 36000
    clock.advance(timedelta(days=11))
    tick(rt)
    order = api.get("marketplace", "/v1/orders/R-1").json()
    assert order["state"] == "completed"  # confirmed at signing + 10 days, its window long over
    assert owed_to(rt, "merchant:M-yiwu:payable") == 0  # all of it was refunded


def test_a_silent_merchant_grants_a_refund_only_and_the_order_waits_for_it(
    api: Api, rt: Runtime, clock: SimulatedClock
) -> None:
    sub = signed_order(api, "R-2")
    case = api.post(
        "buyer",
        "/v1/orders/R-2/cases",
        {
            "type": "refund_only_quality",
            "sub_order_id": sub,
            "amount": "100.00",
            "reason": "cracked",
        },
    ).json()
    clock.advance(timedelta(hours=35, minutes=59))
    assert not any("case" in outcome for outcome in tick(rt))
    clock.advance(timedelta(minutes=1))
    outcomes = tick(rt)
    assert any(outcome.startswith("case.merchant_answer") for outcome in outcomes), outcomes
    closed = api.get("buyer", f"/v1/cases/{case['id']}").json()
    assert (closed["state"], closed["outcome"], closed["refunded"]) == (
        "closed",
        "granted_on_timeout",
        "100.00",
    )


def test_a_refusal_comes_after_an_offer_and_the_platform_rules(
    api: Api, rt: Runtime, clock: SimulatedClock
) -> None:
    sub = signed_order(api, "R-3")
    case = api.post(
        "buyer",
        "/v1/orders/R-3/cases",
        {"type": "refund_only_quality", "sub_order_id": sub, "reason": "wrong colour"},
    ).json()
    refused = api.post("merchant", f"/v1/cases/{case['id']}/decline")
    assert refused.status_code == 409 and refused.json()["code"] == "refusal_before_negotiation"
    assert act(api, "merchant", case["id"], "offer", {"amount": "50.00"})["state"] == "negotiating"
    assert act(api, "buyer", case["id"], "decline")["state"] == "pending"
    assert act(api, "merchant", case["id"], "decline")["state"] == "refused"
    assert act(api, "buyer", case["id"], "escalate")["state"] == "escalated"
    ruled = act(
        api,
        "operator",
        case["id"],
        "ruling",
        {"result": "buyer", "amount": "200.00", "note": "photos show the wrong colour"},
    )
    assert (ruled["state"], ruled["outcome"], ruled["refunded"]) == (
        "closed",
        "ruled_for_buyer",
        "200.00",
    )
    again = api.post(
        "buyer",
        "/v1/orders/R-3/cases",
        {
            "type": "refund_only_quality",
            "sub_order_id": sub,
            "reason": "more",
            "amount": "170.00",
        },
    )
    assert again.status_code == 422 and again.json()["code"] == "refund_exceeds_remaining"


def test_a_sub_order_refunded_whole_has_nothing_left_to_ask(api: Api) -> None:
    """docs/aftersales.md: nothing left to ask is `409 refund_already_asked` — also when the
    sub-order was refunded whole (it answered `amount_not_positive` or
    `refund_exceeds_remaining`, found by the cases state machine)."""
    sub = signed_order(api, "R-9")
    case = api.post(
        "buyer",
        "/v1/orders/R-9/cases",
        {"type": "refund_only_quality", "sub_order_id": sub, "reason": "broken"},
    ).json()
    accepted = act(api, "merchant", case["id"], "accept")
    assert accepted["refunded"] == accepted["requested"] != "0.00", accepted
    for amount in ({}, {"amount": "1.00"}, {"amount": "0.00"}):
        again = api.post(
            "buyer",
            "/v1/orders/R-9/cases",
            {"type": "return_quality", "sub_order_id": sub, "reason": "still broken", **amount},
        )
        assert again.status_code == 409, again.text
        assert (again.json()["code"], again.json()["field"]) == ("refund_already_asked", "amount")
