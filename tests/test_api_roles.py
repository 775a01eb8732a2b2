"""Every route of /openapi.json × every caller, held to the role table of the docs.

The table between `<!-- roles:start -->` and `<!-- roles:end -->` in
docs/orders-and-ledger.md is the contract: this test reads it, so a route
without a row (or a row without a route) fails, and so does any caller that
gets another answer than its cell says. Each caller acts on fresh resources
of its own, so every allowed call is a real success (2xx), not merely "not
refused".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from buyerguard.bootstrap import Runtime
from buyerguard.clock import SimulatedClock
from buyerguard.services import promises
from buyerguard.services.context import OPERATOR, Role
from buyerguard.services.tokens import create_token, revoke_token
from tests.conftest import Api
from tests.test_api import NEW_BUYER, NEW_MERCHANT, NEW_PRODUCT, assert_refused, row_counts

DOC = Path(__file__).resolve().parents[1] / "docs" / "orders-and-ledger.md"
ROLE_COLUMNS = ("operator", "marketplace", "merchant", "buyer")
CELLS = {"yes", "own", "no", "public"}
# caller -> (its column in the table, whether the probed resource is its own)
PARTY_CALLERS = {
    "operator": ("operator", True),
    "marketplace": ("marketplace", True),
    "merchant": ("merchant", True),
    "other_merchant": ("merchant", False),
    "buyer": ("buyer", True),
    "other_buyer": ("buyer", False),
}
TOKENLESS_CALLERS = {
    "none": "token_missing",
    "revoked": "token_revoked",
    "expired": "token_expired",
}


def role_table() -> dict[str, dict[str, str]]:
    """`METHOD /path` -> {role column: cell}, from the docs."""
    block = DOC.read_text().split("<!-- roles:start -->")[1].split("<!-- roles:end -->")[0]
    rows: dict[str, dict[str, str]] = {}
    for line in [line for line in block.strip().splitlines()[2:] if line.strip()]:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        route = cells[0].strip("`")
        assert route not in rows, f"{route} has two rows"
        values = [cell.split(",")[0].strip() for cell in cells[1:]]
        assert set(values) <= CELLS, f"{route}: unknown cell in {values}"
        rows[route] = dict(zip(ROLE_COLUMNS, values, strict=True))
    return rows


TABLE = role_table()


# ------------------------------------------------------------------ probes
@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: Any = None
    listed_id: str | None = None  # for a list: the owner's item another party must not see
    headers: dict[str, str] | None = None  # besides the caller's token


Probe = Callable[[Api, str], Call]
CUPS_ORDER_FEN = "360.00"  # 10 x 36.00, no shipping


def order(api: Api, tag: str, *steps: str) -> str:
    """A fresh order of B-shop at M-yiwu, moved through `steps` by the marketplace."""
    order_id = f"O-{tag}"
    body = {
        "id": order_id,
        "buyer_id": "B-shop",
        "lines": [{"product_id": "P-cups", "quantity": 10}],
    }
    assert api.post("marketplace", "/v1/orders", body).status_code == 201
    facts = {
        "pay": ("payment", {"amount": CUPS_ORDER_FEN}),
        "ship": ("shipment", {"carrier": "SF", "tracking_number": "SF1"}),
        "sign": ("signing", None),
    }
    for step in steps:
        suffix, fact = facts[step]
        answer = api.post("marketplace", f"/v1/orders/{order_id}/{suffix}", fact)
        assert answer.status_code == 200, answer.text
    return order_id


def released_payout(api: Api, tag: str) -> str:
    """A payout of M-yiwu instructed for a fresh order's release."""
    order_id = order(api, tag, "pay", "ship", "sign")
    answer = api.post("marketplace", f"/v1/orders/{order_id}/confirmation")
    assert answer.status_code == 200, answer.text
    run = api.post("operator", "/v1/payouts/runs", {"merchant_ids": ["M-yiwu"]})
    assert run.status_code == 201, run.text
    payout_id = run.json()["results"][0]["payout_id"]
    assert isinstance(payout_id, str)
    return payout_id


def refund_instruction(api: Api, tag: str, *, failed: bool = False) -> str:
    """The refund instruction of a fresh order refunded before shipment (failed, if asked)."""
    order_id = order(api, tag, "pay")
    answer = api.post("marketplace", f"/v1/orders/{order_id}/refund-before-shipment")
    assert answer.status_code == 200, answer.text
    decisions = api.get("marketplace", f"/v1/orders/{order_id}/decisions").json()["items"]
    (instruction_id,) = [d["subject_id"] for d in decisions if d["kind"] == "refund_instructed"]
    if failed:
        report = {"outcome": "failed", "reason": "account closed"}
        answer = api.post("marketplace", f"/v1/instructions/{instruction_id}/execution", report)
        assert answer.status_code == 200, answer.text
    assert isinstance(instruction_id, str)
    return instruction_id


# A case moves to each stage by the marketplace's facts: (action, body) in order.
CASE_STAGES: dict[str, tuple[tuple[str, dict[str, Any] | None], ...]] = {
    "pending": (),
    "negotiating": (("offer", {"amount": "10.00"}),),
    # the buyer turned an offer down: pending again, and the merchant may now refuse
    "negotiated": (("offer", {"amount": "10.00"}), ("decline", None)),
    "escalated": (("offer", {"amount": "10.00"}), ("escalate", None)),
    "complained": (("complain", None),),
    "approved": (("accept", None),),
    "sent": (("accept", None), ("handover", {"carrier": "SF", "tracking_number": "RT1"})),
    "arrived": (
        ("accept", None),
        ("handover", {"carrier": "SF", "tracking_number": "RT1"}),
        ("arrival", None),
    ),
}
RETURN_STAGES = frozenset({"approved", "sent", "arrived"})


def webhook_endpoint(api: Api, tag: str) -> str:
    """A fresh endpoint, registered by the operator (its URL is never called here)."""
    answer = api.post(
        "operator", "/v1/webhook-endpoints", {"url": f"http://127.0.0.1:9/{tag}"}, key=f"we-{tag}"
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def disruption_body(api: Api, tag: str) -> dict[str, object]:
    """A disruption of SF in Guangdong: an order shipped by SF first, so the carrier is known."""
    order(api, f"dis-{tag}", "pay", "ship")
    return {
        "carrier": "SF",
        "regions": ["440000"],
        "from": "2024-10-20T00:00:00+08:00",
        "until": "2024-10-27T00:00:00+08:00",
        "expected_extra_days": 2,
        "reason": f"probe {tag}",
    }


def slowdown_body(tag: str) -> dict[str, object]:
    """A slowdown of its own name: the same name and days twice is refused while one stands."""
    return {
        "name": f"Double 11 peak {tag}",
        "first_day": "2024-11-11",
        "last_day": "2024-11-14",
        "reason": "parcel volumes triple",
    }


def slowdown(api: Api, tag: str) -> str:
    """A fresh slowdown, declared by the operator."""
    answer = api.post("operator", "/v1/logistics/slowdowns", slowdown_body(tag), key=f"slow-{tag}")
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def disruption(api: Api, tag: str) -> str:
    """A fresh disruption, declared by the operator."""
    answer = api.post(
        "operator", "/v1/logistics/disruptions", disruption_body(api, tag), key=f"dis-{tag}"
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def case_at(api: Api, tag: str, stage: str) -> str:
    """A fresh case on a fresh signed order of B-shop at M-yiwu, moved to `stage`."""
    order_id = order(api, f"case-{tag}", "pay", "ship", "sign")
    case_id = f"C-{tag}"
    body = {
        "id": case_id,
        "type": "return_no_reason" if stage in RETURN_STAGES else "refund_only_quality",
        "sub_order_id": f"{order_id}-1",
        "reason": "probe",
    }
    answer = api.post("marketplace", f"/v1/orders/{order_id}/cases", body)
    assert answer.status_code == 201, answer.text
    for action, fact in CASE_STAGES[stage]:
        answer = api.post("marketplace", f"/v1/cases/{case_id}/{action}", fact)
        assert answer.status_code == 200, answer.text
    return case_id


def case_action(
    action: str, stage: str, body: Any = None, *, buyer_stage: str | None = None
) -> Probe:
    """A probe of `POST /v1/cases/{id}/{action}` on a case at `stage` — at `buyer_stage`
    for a buyer, where the move is the buyer's (accepting or declining an offer)."""

    def probe(api: Api, tag: str) -> Call:
        chosen = buyer_stage if buyer_stage and tag.endswith("buyer") else stage
        return Call("POST", f"/v1/cases/{case_at(api, tag, chosen)}/{action}", body)

    return probe


def withdrawn_case(api: Api, tag: str) -> Call:
    """Withdrawing is the claimant's: a merchant withdraws its transit claim, anyone else a
    buyer's pending case."""
    if not tag.endswith("merchant"):
        return Call("POST", f"/v1/cases/{case_at(api, tag, 'pending')}/withdraw")
    order_id = order(api, f"case-{tag}", "pay", "ship")
    body = {
        "id": f"C-{tag}",
        "type": "transit_claim",
        "sub_order_id": f"{order_id}-1",
        "reason": "probe",
    }
    answer = api.post("merchant", f"/v1/orders/{order_id}/cases", body)
    assert answer.status_code == 201, answer.text
    return Call("POST", f"/v1/cases/C-{tag}/withdraw")


def opened_case(api: Api, tag: str) -> Call:
    """A new case on a fresh signed order: a merchant's is a transit claim, anyone else's a
    quality refund-only."""
    order_id = order(api, tag, "pay", "ship", "sign")
    case_type = "transit_claim" if tag.endswith("merchant") else "refund_only_quality"
    body = {"type": case_type, "sub_order_id": f"{order_id}-1", "reason": "probe"}
    return Call("POST", f"/v1/orders/{order_id}/cases", body)


PROBES: dict[str, Probe] = {
    "GET /healthz": lambda api, tag: Call("GET", "/healthz"),
    "GET /readyz": lambda api, tag: Call("GET", "/readyz"),
    "POST /v1/merchants": lambda api, tag: Call(
        "POST", "/v1/merchants", {**NEW_MERCHANT, "id": f"M-{tag}"}
    ),
    "GET /v1/merchants/{merchant_id}": lambda api, tag: Call("GET", "/v1/merchants/M-yiwu"),
    "GET /v1/merchants/{merchant_id}/badge": lambda api, tag: Call(
        "GET", "/v1/merchants/M-yiwu/badge"
    ),
    "PATCH /v1/merchants/{merchant_id}": lambda api, tag: Call(
        "PATCH", "/v1/merchants/M-yiwu", {"name": f"Yiwu {tag}"}
    ),
    "GET /v1/merchants/{merchant_id}/changes": lambda api, tag: Call(
        "GET", "/v1/merchants/M-yiwu/changes"
    ),
    "PATCH /v1/products/{product_id}": lambda api, tag: Call(
        "PATCH", "/v1/products/P-cups", {"title": f"cups {tag}"}
    ),
    "GET /v1/products/{product_id}/changes": lambda api, tag: Call(
        "GET", "/v1/products/P-cups/changes"
    ),
    "POST /v1/buyers": lambda api, tag: Call("POST", "/v1/buyers", {**NEW_BUYER, "id": f"B-{tag}"}),
    "GET /v1/buyers/{buyer_id}": lambda api, tag: Call("GET", "/v1/buyers/B-shop"),
    "POST /v1/products": lambda api, tag: Call(
        "POST", "/v1/products", {**NEW_PRODUCT, "id": f"P-{tag}"}
    ),
    "GET /v1/products": lambda api, tag: Call("GET", "/v1/products", listed_id="P-cups"),
    "GET /v1/products/{product_id}": lambda api, tag: Call("GET", "/v1/products/P-cups"),
    "POST /v1/orders": lambda api, tag: Call(
        "POST",
        "/v1/orders",
        {
            "id": f"O-{tag}",
            "buyer_id": "B-shop",
            "lines": [{"product_id": "P-cups", "quantity": 10}],
        },
    ),
    "GET /v1/orders": lambda api, tag: Call("GET", "/v1/orders", listed_id=order(api, tag)),
    "GET /v1/orders/{order_id}": lambda api, tag: Call("GET", f"/v1/orders/{order(api, tag)}"),
    "GET /v1/orders/{order_id}/decisions": lambda api, tag: Call(
        "GET", f"/v1/orders/{order(api, tag, 'pay')}/decisions"
    ),
    "POST /v1/orders/{order_id}/payment": lambda api, tag: Call(
        "POST", f"/v1/orders/{order(api, tag)}/payment", {"amount": CUPS_ORDER_FEN}
    ),
    "POST /v1/orders/{order_id}/shipment": lambda api, tag: Call(
        "POST",
        f"/v1/orders/{order(api, tag, 'pay')}/shipment",
        {"carrier": "SF", "tracking_number": "SF1"},
    ),
    "POST /v1/orders/{order_id}/signing": lambda api, tag: Call(
        "POST", f"/v1/orders/{order(api, tag, 'pay', 'ship')}/signing"
    ),
    "POST /v1/orders/{order_id}/confirmation": lambda api, tag: Call(
        "POST", f"/v1/orders/{order(api, tag, 'pay', 'ship', 'sign')}/confirmation"
    ),
    "POST /v1/orders/{order_id}/cancellation": lambda api, tag: Call(
        "POST", f"/v1/orders/{order(api, tag)}/cancellation"
    ),
    "POST /v1/orders/{order_id}/refund-before-shipment": lambda api, tag: Call(
        "POST", f"/v1/orders/{order(api, tag, 'pay')}/refund-before-shipment"
    ),
    "POST /v1/facts": lambda api, tag: Call(
        "POST",
        "/v1/facts",
        {
            "facts": [
                {
                    "kind": "payment",
                    "order_id": order(api, tag),
                    "idempotency_key": f"pay-{tag}",
                    "body": {"amount": CUPS_ORDER_FEN},
                }
            ]
        },
    ),
    "GET /v1/promises": lambda api, tag: Call(
        "GET", "/v1/promises?product_id=P-cups&destination=440305"
    ),
    "GET /v1/events": lambda api, tag: Call("GET", "/v1/events"),
    "GET /v1/timers": lambda api, tag: Call("GET", "/v1/timers?state=failed"),
    "POST /v1/webhook-endpoints": lambda api, tag: Call(
        "POST", "/v1/webhook-endpoints", {"url": f"http://127.0.0.1:9/{tag}"}
    ),
    "GET /v1/webhook-endpoints": lambda api, tag: Call("GET", "/v1/webhook-endpoints"),
    "POST /v1/logistics/disruptions": lambda api, tag: Call(
        "POST", "/v1/logistics/disruptions", disruption_body(api, tag)
    ),
    "GET /v1/logistics/disruptions": lambda api, tag: Call("GET", "/v1/logistics/disruptions"),
    "POST /v1/logistics/slowdowns": lambda api, tag: Call(
        "POST", "/v1/logistics/slowdowns", slowdown_body(tag)
    ),
    "GET /v1/logistics/slowdowns": lambda api, tag: Call("GET", "/v1/logistics/slowdowns"),
    "POST /v1/logistics/slowdowns/{slowdown_id}/withdraw": lambda api, tag: Call(
        "POST", f"/v1/logistics/slowdowns/{slowdown(api, tag)}/withdraw"
    ),
    "POST /v1/logistics/disruptions/{disruption_id}/end": lambda api, tag: Call(
        "POST", f"/v1/logistics/disruptions/{disruption(api, tag)}/end"
    ),
    "GET /v1/webhook-endpoints/{endpoint_id}": lambda api, tag: Call(
        "GET", f"/v1/webhook-endpoints/{webhook_endpoint(api, tag)}"
    ),
    "POST /v1/webhook-endpoints/{endpoint_id}/rotate-secret": lambda api, tag: Call(
        "POST", f"/v1/webhook-endpoints/{webhook_endpoint(api, tag)}/rotate-secret"
    ),
    "POST /v1/webhook-endpoints/{endpoint_id}/replay": lambda api, tag: Call(
        "POST", f"/v1/webhook-endpoints/{webhook_endpoint(api, tag)}/replay", {"after": "0"}
    ),
    "POST /v1/webhook-endpoints/{endpoint_id}/enable": lambda api, tag: Call(
        "POST", f"/v1/webhook-endpoints/{webhook_endpoint(api, tag)}/enable"
    ),
    "POST /v1/webhook-endpoints/{endpoint_id}/disable": lambda api, tag: Call(
        "POST", f"/v1/webhook-endpoints/{webhook_endpoint(api, tag)}/disable"
    ),
    "POST /v1/webhook-endpoints/{endpoint_id}/delete": lambda api, tag: Call(
        "POST", f"/v1/webhook-endpoints/{webhook_endpoint(api, tag)}/delete"
    ),
    "GET /v1/webhook-endpoints/{endpoint_id}/deliveries": lambda api, tag: Call(
        "GET", f"/v1/webhook-endpoints/{webhook_endpoint(api, tag)}/deliveries"
    ),
    "GET /v1/audit": lambda api, tag: Call("GET", f"/v1/audit?subject={order(api, tag)}"),
    # A paid order first, so that the merchant's accounts exist to be read.
    "GET /v1/ledger/accounts": lambda api, tag: (
        order(api, tag, "pay"),
        Call(
            "GET", "/v1/ledger/accounts?party=merchant:M-yiwu", listed_id="merchant:M-yiwu:escrow"
        ),
    )[1],
    "GET /v1/ledger/accounts/{account_id}": lambda api, tag: (
        order(api, tag, "pay"),
        Call("GET", "/v1/ledger/accounts/merchant:M-yiwu:payable"),
    )[1],
    "POST /v1/orders/{order_id}/adjustments": lambda api, tag: Call(
        "POST",
        f"/v1/orders/{(paid := order(api, tag, 'pay'))}/adjustments",
        {"kind": "refund", "sub_order_id": f"{paid}-1", "amount": "1.00", "reason": "probe"},
        headers={"Idempotency-Key": f"adjust-{tag}"},
    ),
    "GET /v1/merchants/{merchant_id}/balance": lambda api, tag: Call(
        "GET", "/v1/merchants/M-yiwu/balance"
    ),
    "GET /v1/merchants/{merchant_id}/statements/{month}": lambda api, tag: Call(
        "GET", "/v1/merchants/M-yiwu/statements/2024-10"
    ),
    "PUT /v1/merchants/{merchant_id}/payout-settings": lambda api, tag: Call(
        "PUT", "/v1/merchants/M-yiwu/payout-settings", {"reserve_share": "0.10"}
    ),
    "POST /v1/payouts/runs": lambda api, tag: Call(
        "POST", "/v1/payouts/runs", {"merchant_ids": ["M-yiwu"]}
    ),
    "GET /v1/payouts": lambda api, tag: Call(
        "GET", "/v1/payouts", listed_id=released_payout(api, tag)
    ),
    "GET /v1/payouts/{payout_id}": lambda api, tag: Call(
        "GET", f"/v1/payouts/{released_payout(api, tag)}"
    ),
    "POST /v1/payouts/{payout_id}/execution": lambda api, tag: Call(
        "POST", f"/v1/payouts/{released_payout(api, tag)}/execution", {"outcome": "executed"}
    ),
    "GET /v1/instructions": lambda api, tag: Call("GET", "/v1/instructions?state=instructed"),
    "GET /v1/instructions/{instruction_id}": lambda api, tag: Call(
        "GET", f"/v1/instructions/{refund_instruction(api, tag)}"
    ),
    "POST /v1/instructions/{instruction_id}/execution": lambda api, tag: Call(
        "POST",
        f"/v1/instructions/{refund_instruction(api, tag)}/execution",
        {"outcome": "executed"},
    ),
    "POST /v1/instructions/{instruction_id}/retry": lambda api, tag: Call(
        "POST", f"/v1/instructions/{refund_instruction(api, tag, failed=True)}/retry"
    ),
    "POST /v1/orders/{order_id}/cases": opened_case,
    "GET /v1/cases/{case_id}": lambda api, tag: Call(
        "GET", f"/v1/cases/{case_at(api, tag, 'pending')}"
    ),
    "GET /v1/cases": lambda api, tag: Call(
        "GET", "/v1/cases", listed_id=case_at(api, tag, "pending")
    ),
    "POST /v1/cases/{case_id}/accept": case_action("accept", "pending", buyer_stage="negotiating"),
    "POST /v1/cases/{case_id}/offer": case_action("offer", "pending", {"amount": "5.00"}),
    "POST /v1/cases/{case_id}/decline": case_action(
        "decline", "negotiated", buyer_stage="negotiating"
    ),
    "POST /v1/cases/{case_id}/handover": case_action(
        "handover", "approved", {"carrier": "SF", "tracking_number": "RT1"}
    ),
    "POST /v1/cases/{case_id}/pickup": case_action(
        "pickup", "approved", {"carrier": "SF", "freight": "12.00"}
    ),
    "POST /v1/cases/{case_id}/arrival": case_action("arrival", "sent"),
    "POST /v1/cases/{case_id}/inspection": case_action("inspection", "arrived", {"result": "ok"}),
    "POST /v1/cases/{case_id}/escalate": case_action("escalate", "negotiating"),
    "POST /v1/cases/{case_id}/ruling": case_action(
        "ruling", "escalated", {"result": "buyer", "note": "probe"}
    ),
    "POST /v1/cases/{case_id}/complain": case_action("complain", "pending"),
    "POST /v1/cases/{case_id}/expedite": case_action("expedite", "complained"),
    "POST /v1/cases/{case_id}/withdraw": withdrawn_case,
}


# ------------------------------------------------------------------ callers
def tokenless_headers(api: Api, rt: Runtime, clock: SimulatedClock) -> dict[str, dict[str, str]]:
    """Headers of a caller with no token, a revoked one and an expired one."""
    with rt.writing(OPERATOR) as ctx:
        revoked = create_token(ctx, Role.MARKETPLACE, None)
        revoke_token(ctx, revoked.token_id)
        expiring = create_token(
            ctx,
            Role.OPERATOR,
            None,
            expires_at=ctx.now() + timedelta(seconds=1),
        )
    clock.advance(timedelta(seconds=2))
    return {
        "none": {},
        "revoked": {"Authorization": f"Bearer {revoked.secret}"},
        "expired": {"Authorization": f"Bearer {expiring.secret}"},
    }


def send(api: Api, headers: dict[str, str], call: Call) -> Any:
    headers = {**headers, **(call.headers or {})}
    return api.client.request(call.method, call.path, json=call.body, headers=headers)


def check_party_caller(api: Api, caller: str, cell: str, call: Call, route: str) -> None:
    column, owns = PARTY_CALLERS[caller]
    answer = send(api, api.headers(caller), call)
    where = f"{caller} {call.method} {call.path}: cell {cell!r}"
    if cell == "no":
        assert answer.status_code == 403, f"{where} -> {answer.status_code} {answer.text}"
        assert answer.json()["code"] == "forbidden"
        # The route as the table and the schema name it, /v1 included, for every router.
        assert answer.json()["message"] == f"role {column} may not call {route}", where
        return
    if cell == "own" and not owns and call.listed_id is None:
        assert answer.status_code == 404, f"{where} -> {answer.status_code} {answer.text}"
        assert answer.json()["code"].endswith("_not_found"), answer.text
        return
    assert 200 <= answer.status_code < 300, f"{where} -> {answer.status_code} {answer.text}"
    if call.listed_id is not None:
        listed = {item.get("id", item.get("account_id")) for item in answer.json()["items"]}
        assert (call.listed_id in listed) == (owns or cell != "own"), f"{where}: {listed}"


# ------------------------------------------------------------------- tests
@pytest.mark.parametrize("route", sorted(TABLE))
def test_every_caller_gets_what_the_role_table_says(
    api: Api, rt: Runtime, clock: SimulatedClock, route: str
) -> None:
    assert route in PROBES, f"{route}: add a probe for it to tests/test_api_roles.py"
    with rt.writing(OPERATOR) as ctx:
        promises.build(ctx, ctx.now())  # GET /v1/promises needs a published table
    row = TABLE[route]
    for caller, (column, _) in PARTY_CALLERS.items():
        call = PROBES[route](api, caller.replace("_", "-"))
        check_party_caller(api, caller, row[column], call, route)
    for caller, headers in tokenless_headers(api, rt, clock).items():
        call = PROBES[route](api, f"anon-{caller}")
        before = row_counts(rt)
        answer = send(api, headers, call)
        if row["operator"] == "public":
            assert 200 <= answer.status_code < 300, answer.text
        else:
            assert_refused(answer, 401, TOKENLESS_CALLERS[caller], "authorization")
            assert row_counts(rt) == before


def test_the_table_names_every_route_and_each_route_declares_its_roles(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    routes = {
        f"{method.upper()} {path}": operation
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    }
    assert set(routes) == set(TABLE), "routes and the role table of the docs differ"
    for route, operation in routes.items():
        row = TABLE[route]
        if row["operator"] == "public":
            assert "x-roles" not in operation
            continue
        allowed = {column for column, cell in row.items() if cell in ("yes", "own")}
        assert set(operation["x-roles"]) == allowed, route
