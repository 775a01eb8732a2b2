"""Order facts, one registry for the single routes and the batch (`POST /v1/facts`).

Each kind names the route that takes it alone, the body it takes, and how it
is applied. A fact sent alone or in a batch is the same command: the same
checks, the same answer, and an `Idempotency-Key` scoped to that route, so a
retried batch replays what a single request stored and the other way round.
Later work (payout reports, after-sales case facts) registers its kinds here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from buyerguard.api import views
from buyerguard.api.runtime import Answer, execute_command
from buyerguard.api.schemas import (
    FactIn,
    OrderIn,
    PaymentIn,
    RefundIn,
    ShipmentIn,
    validation_refusal,
)
from buyerguard.bootstrap import Runtime
from buyerguard.errors import BuyerguardError, Forbidden, InvalidInput
from buyerguard.money import parse_yuan
from buyerguard.services import orders
from buyerguard.services.context import Actor, Context, Role

Apply = Callable[[Context, Any, Any], Any]  # (context, order id or None, validated body)


def _place(ctx: Context, _order_id: str | None, body: OrderIn) -> Any:
    if ctx.actor.role is Role.BUYER:
        for index, line in enumerate(body.lines):
            if line.unit_price is not None:
                raise Forbidden(
                    "unit_price_forbidden",
                    "a buyer's order takes catalogue prices: only the marketplace sets unit_price",
                    f"lines[{index}].unit_price",
                )
    command = orders.PlaceOrder(
        buyer_id=body.buyer_id,
        lines=tuple(
            orders.OrderLine(
                product_id=line.product_id,
                quantity=line.quantity,
                unit_price_fen=(
                    parse_yuan(line.unit_price, field=f"lines[{index}].unit_price")
                    if line.unit_price is not None
                    else None
                ),
                tier=line.tier,
            )
            for index, line in enumerate(body.lines)
        ),
        shipping_fen=parse_yuan(body.shipping, field="shipping"),
        address_index=body.address_index,
        order_id=body.id,
        occurred_at=body.occurred_at,
    )
    return views.order_view(orders.place_order(ctx, command))


def _pay(ctx: Context, order_id: str, body: PaymentIn) -> Any:
    amount_fen = parse_yuan(body.amount, field="amount")
    return views.order_view(orders.pay_order(ctx, order_id, amount_fen, body.occurred_at))


def _ship(ctx: Context, order_id: str, body: ShipmentIn) -> Any:
    shipped = orders.ship_order(
        ctx, order_id, body.carrier, body.tracking_number, body.official_logistics, body.occurred_at
    )
    return views.order_view(shipped)


def _refund(ctx: Context, order_id: str, body: RefundIn) -> Any:
    amounts_fen = (
        {
            sub_id: parse_yuan(amount, field=f"amounts.{sub_id}")
            for sub_id, amount in body.amounts.items()
        }
        if body.amounts is not None
        else None
    )
    refunded = orders.refund_before_shipment(
        ctx, order_id, body.sub_order_ids, body.occurred_at, amounts_fen
    )
    return views.order_view(refunded)


def _simple(action: Callable[..., Any]) -> Apply:
    def apply(ctx: Context, order_id: str | None, body: FactIn) -> Any:
        return views.order_view(action(ctx, order_id, body.occurred_at))

    return apply


@dataclass(frozen=True)
class FactKind:
    """One kind of order fact: its own route, body, answer status and how it applies."""

    path: str  # the route that takes it alone; `{order_id}` where it names an order
    body: type[BaseModel]
    apply: Apply
    status_code: int = 200

    def route(self, order_id: str | None) -> str:
        return f"POST {self.path.replace('{order_id}', order_id or '')}"


FACT_KINDS: dict[str, FactKind] = {
    "order": FactKind("/v1/orders", OrderIn, _place, 201),
    "payment": FactKind("/v1/orders/{order_id}/payment", PaymentIn, _pay),
    "shipment": FactKind("/v1/orders/{order_id}/shipment", ShipmentIn, _ship),
    "signing": FactKind("/v1/orders/{order_id}/signing", FactIn, _simple(orders.sign_order)),
    "confirmation": FactKind(
        "/v1/orders/{order_id}/confirmation", FactIn, _simple(orders.confirm_order)
    ),
    "cancellation": FactKind(
        "/v1/orders/{order_id}/cancellation", FactIn, _simple(orders.cancel_order)
    ),
    "refund-before-shipment": FactKind(
        "/v1/orders/{order_id}/refund-before-shipment", RefundIn, _refund
    ),
}


def apply_fact(
    rt: Runtime,
    actor: Actor,
    kind: str,
    order_id: str | None,
    body: BaseModel,
    key: str | None,
) -> Answer:
    """Apply one fact as its own command (its own transaction and idempotency key)."""
    fact = FACT_KINDS[kind]

    def handle(ctx: Context) -> tuple[int, Any]:
        return fact.status_code, fact.apply(ctx, order_id, body)

    return execute_command(rt, actor, fact.route(order_id), key, body, handle)


@dataclass(frozen=True)
class FactResult:
    index: int
    outcome: str  # applied, replayed, skipped, refused
    status_code: int
    response: Any = None
    error: dict[str, str | None] | None = None

    def view(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "outcome": self.outcome,
            "status": self.status_code,
            "response": self.response,
            "error": self.error,
        }


def order_of(fact: dict[str, Any]) -> str | None:
    """The order a fact is about: its `order_id`, or the id an `order` fact places."""
    if fact.get("kind") == "order":
        body = fact.get("body")
        placed = body.get("id") if isinstance(body, dict) else None
        return placed if isinstance(placed, str) else None
    order = fact.get("order_id")
    return order if isinstance(order, str) else None


def apply_batch(rt: Runtime, actor: Actor, envelopes: list[Any]) -> list[FactResult]:
    """Apply facts in order, each as its own command; one result per fact.

    A fact refused makes every later fact of the same order `skipped` (nothing
    written for it), and never holds up other orders. Everything answered
    `applied` has committed before the batch answers.
    """
    refused_orders: set[str] = set()
    results: list[FactResult] = []
    for index, envelope in enumerate(envelopes):
        order = order_of(envelope.model_dump())
        if order is not None and order in refused_orders:
            error = {
                "code": "skipped_after_refusal",
                "message": f"an earlier fact of order {order} in this batch was refused",
                "field": None,
            }
            results.append(FactResult(index, "skipped", 409, error=error))
            continue
        try:
            if envelope.kind not in FACT_KINDS:
                raise InvalidInput(
                    "invalid_choice",
                    f"kind must be one of {', '.join(FACT_KINDS)}: {envelope.kind!r}",
                    "kind",
                )
            if envelope.kind != "order" and envelope.order_id is None:
                raise InvalidInput(
                    "order_id_missing", f"a {envelope.kind} fact names its order_id", "order_id"
                )
            fact = FACT_KINDS[envelope.kind]
            try:
                body = fact.body.model_validate(envelope.body or {})
            except ValidationError as exc:
                raise validation_refusal(exc.errors(), prefix="body") from None
            key = envelope.idempotency_key
            answer = apply_fact(rt, actor, envelope.kind, envelope.order_id, body, key)
        except BuyerguardError as exc:
            if order is not None:
                refused_orders.add(order)
            status = exc.status_code if 400 <= exc.status_code < 600 else 422
            results.append(FactResult(index, "refused", status, error=exc.as_dict()))
            continue
        outcome = "replayed" if answer.replayed else "applied"
        results.append(FactResult(index, outcome, answer.status_code, response=answer.payload))
    return results
