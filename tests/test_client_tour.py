"""The generated Python client (clients/python): its schema is the app's, and the README tour
runs through it against a live `buyerguard serve` with the figures the curl tour shows."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import httpx
import pytest
from buyerguard_client import AuthenticatedClient
from buyerguard_client.api.after_sales import case_accept, case_pickup, get_case, open_case
from buyerguard_client.api.events import list_events
from buyerguard_client.api.ledger import get_ledger_account
from buyerguard_client.api.money_out import (
    execute_payout,
    get_merchant_balance,
    list_payouts,
    run_payouts,
)
from buyerguard_client.api.orders import (
    confirm_order,
    list_order_decisions,
    pay_order,
    place_order,
    ship_order,
    sign_order,
)
from buyerguard_client.models import (
    CaseActionIn,
    CaseIn,
    Error,
    ExecutionIn,
    OrderIn,
    OrderLineIn,
    PaymentIn,
    PayoutRunIn,
    ShipmentIn,
)
from buyerguard_client.types import Response

from buyerguard.api.app import create_app
from buyerguard.bootstrap import build_runtime

ROOT = Path(__file__).resolve().parents[1]
CLIENT_DIR = ROOT / "clients" / "python"
# Generous: two workers on SQLite answer in milliseconds, but CI machines stall at times.
REQUEST_TIMEOUT_SECONDS = 30.0


def test_committed_schema_is_the_apps_and_the_package_has_every_operation(
    tmp_path: Path,
) -> None:
    """clients/python is generated from the schema of today's code, not yesterday's."""
    committed = json.loads((CLIENT_DIR / "openapi.json").read_text(encoding="utf-8"))
    app = create_app(build_runtime(database_url=f"sqlite:///{tmp_path / 'unused.sqlite3'}"))
    current = json.loads(json.dumps(app.openapi()))
    stale_paths = _differing(committed["paths"], current["paths"])
    stale_schemas = _differing(committed["components"]["schemas"], current["components"]["schemas"])
    if committed != current:  # not `assert ==`: pytest's diff of two large schemas says less
        pytest.fail(
            "clients/python/openapi.json is not the app's schema: run `make client` "
            f"(paths differing: {stale_paths[:10]}; schemas differing: {stale_schemas[:10]})"
        )
    operation_ids = {
        operation["operationId"]
        for methods in committed["paths"].values()
        for operation in methods.values()
    }
    modules = {
        module.stem
        for module in (CLIENT_DIR / "buyerguard_client" / "api").glob("*/*.py")
        if module.stem != "__init__"
    }
    assert modules == operation_ids, (
        "clients/python/buyerguard_client is not generated from openapi.json: run `make client`"
    )


def _differing(committed: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The keys whose values differ between two JSON objects, for a short failure message."""
    return sorted(
        key for key in committed.keys() | current.keys() if committed.get(key) != current.get(key)
    )


@runtime_checkable
class _Model(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


def answer(response: Response[Any], status: int = 200) -> dict[str, Any]:
    """The body of an expected answer, as its wire JSON.

    Where the schema declares a response model `.parsed` is that typed model (so parsing it
    proves the model reads what the server sends) and we take its `to_dict()`; routes without
    one parse to plain JSON. The one place to tighten once every route declares its model.
    """
    assert response.status_code == status, (response.status_code, response.content.decode())
    parsed = response.parsed
    assert not isinstance(parsed, Error), parsed
    if isinstance(parsed, _Model):
        return parsed.to_dict()
    body = json.loads(response.content)
    assert isinstance(body, dict), body
    return body


@pytest.fixture
def clients(live_server: tuple[str, dict[str, str]]) -> Iterator[dict[str, AuthenticatedClient]]:
    """One generated client per demo role, each with that role's bearer token."""
    base, env = live_server
    tokens = json.loads(Path(env["BUYERGUARD_DEMO_TOKENS"]).read_text())
    with ExitStack() as stack:
        yield {
            role: stack.enter_context(
                AuthenticatedClient(
                    base_url=base,
                    token=tokens[role],
                    timeout=httpx.Timeout(REQUEST_TIMEOUT_SECONDS),
                    raise_on_unexpected_status=True,
                )
            )
            for role in ("marketplace", "merchant", "buyer", "operator")
        }


def test_readme_tour_through_the_generated_client(
    clients: dict[str, AuthenticatedClient], live_server: tuple[str, dict[str, str]]
) -> None:
    """The README tour, step by step, through the client: the same figures as the curl tour.

    Routes whose body is optional (signing, confirmation, case actions) get `body=None`: the
    generator's default (UNSET) is sent as JSON and fails in openapi-python-client 0.29.1.
    """
    mkt, merchant, buyer, ops = (
        clients[role] for role in ("marketplace", "merchant", "buyer", "operator")
    )
    order = "tour-client"

    # The order: 10 x 36.00 cups + 2 x 2,500.00 towels, 20.00 shipping; paid in full.
    placed = place_order.sync_detailed(
        client=mkt,
        body=OrderIn(
            id=order,
            buyer_id="B-shop",
            shipping="20.00",
            lines=[
                OrderLineIn(product_id="P-cups", quantity=10),
                OrderLineIn(product_id="P-towels", quantity=2),
            ],
        ),
        idempotency_key=f"place-{order}",
    )
    assert answer(placed, 201)["total"] == "5380.00"
    payment = PaymentIn(amount="5380.00")
    paid = answer(
        pay_order.sync_detailed(order, client=mkt, body=payment, idempotency_key=f"pay-{order}")
    )
    assert paid["state"] == "paid"
    # The key reaches the server: paying again would be refused, a replay is the first answer.
    replayed = pay_order.sync_detailed(
        order, client=mkt, body=payment, idempotency_key=f"pay-{order}"
    )
    assert answer(replayed) == paid

    shipment = ShipmentIn(carrier="SF", tracking_number="SF1234567890", official_logistics=True)
    assert answer(ship_order.sync_detailed(order, client=merchant, body=shipment))["state"] == (
        "shipped"
    )
    assert answer(sign_order.sync_detailed(order, client=mkt, body=None))["state"] == "signed"
    confirmed = answer(confirm_order.sync_detailed(order, client=buyer, body=None))
    assert confirmed["state"] == "confirmed"

    # Fees: 360.00 x 0.6% = 2.16; 5,000.00 x 0.6% = 30.00, capped at 18.00.
    decisions = answer(list_order_decisions.sync_detailed(order, client=merchant))["items"]
    fees = [item for item in decisions if item["kind"] == "fee_charged"]
    assert {fee["subject_id"]: fee["amount"] for fee in fees} == {
        f"{order}-1": "2.16",
        f"{order}-2": "18.00",
    }
    payable = answer(get_ledger_account.sync_detailed("merchant:M-yiwu:payable", client=merchant))
    assert payable["balance"] == "5359.84"
    revenue = answer(get_ledger_account.sync_detailed("platform:fee_revenue", client=ops))
    assert revenue["balance"] == "20.16"
    feed = answer(list_events.sync_detailed(client=mkt, limit=20))["items"]
    assert {event["id"] for event in feed if event["order_id"] == order} == {
        decision["id"] for decision in decisions
    }

    # Money out: a payout run instructs M-yiwu's payable; the marketplace reports it executed.
    run = answer(
        run_payouts.sync_detailed(client=ops, body=PayoutRunIn(merchant_ids=["M-yiwu"])), 201
    )
    assert run["total"] == "5359.84"
    instructed = answer(
        list_payouts.sync_detailed(client=mkt, merchant_id="M-yiwu", state="instructed")
    )["items"]
    payout = instructed[-1]["id"]
    assert instructed[-1]["amount"] == "5359.84"
    executed = execute_payout.sync_detailed(
        payout,
        client=mkt,
        body=ExecutionIn(outcome="executed", reference=f"BANK-{order}"),
        idempotency_key=f"paid-{payout}",
    )
    assert answer(executed)["state"] == "executed"
    balance = answer(get_merchant_balance.sync_detailed("M-yiwu", client=merchant))
    assert (balance["paid_out"], balance["payable"]) == ("5359.84", "0.00")

    # After-sales: a second order of 10 cups comes back as a 7-day no-reason return.
    back = f"{order}-back"
    answer(
        place_order.sync_detailed(
            client=mkt,
            body=OrderIn(
                id=back, buyer_id="B-shop", lines=[OrderLineIn(product_id="P-cups", quantity=10)]
            ),
            idempotency_key=f"place-{back}",
        ),
        201,
    )
    answer(pay_order.sync_detailed(back, client=mkt, body=PaymentIn(amount="360.00")))
    answer(
        ship_order.sync_detailed(
            back, client=merchant, body=ShipmentIn(carrier="SF", tracking_number=f"SF-{back}")
        )
    )
    answer(sign_order.sync_detailed(back, client=mkt, body=None))
    case_id = f"case-{back}"
    opened = open_case.sync_detailed(
        back,
        client=buyer,
        body=CaseIn(
            id=case_id,
            type_="return_no_reason",
            sub_order_id=f"{back}-1",
            reason="changed my mind",
        ),
        idempotency_key=f"case-{back}",
    )
    assert answer(opened, 201)["state"] == "pending"
    assert answer(case_accept.sync_detailed(case_id, client=merchant, body=None))["state"] == (
        "accepted"
    )
    # Doorstep pickup, freight 30.00: the carrier is paid 25.00 (the cap); quick refund 360.00.
    pickup = CaseActionIn(carrier="SF", freight="30.00")
    answer(case_pickup.sync_detailed(case_id, client=mkt, body=pickup))
    case = answer(get_case.sync_detailed(case_id, client=ops))
    assert (case["state"], case["goods"]) == ("accepted", "in_transit")
    assert (case["refunded"], case["quick_refunded"]) == ("360.00", "360.00")
    assert (case["owed"], case["paid"]) == ("385.00", "0.00")
    assert sorted((item["kind"], item["amount"]) for item in case["payments"]) == [
        ("carrier_subsidy", "25.00"),
        ("refund", "360.00"),
    ]

    _, env = live_server
    check = subprocess.run(
        ["buyerguard", "ledger", "check"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "ledger check passed" in check.stdout
