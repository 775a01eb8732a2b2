"""Order facts, one registry for the single routes and the batch (`POST /v1/facts`).

Each kind names the route that takes it alone, the body it takes, and how it
is applied. A fact sent alone or in a batch is the same command: the same
checks, the same answer, and an `Idempotency-Key` scoped to that route, so a
retried batch replays what a single request stored and the other way round.
Later work (payout reports, after-sales case facts) registers its kinds here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection

from buyerguard.api import case_views, money_views, views
from buyerguard.api.case_schemas import CaseActionIn, CaseIn, EvidenceIn
from buyerguard.api.metrics import observed_fact
from buyerguard.api.runtime import Answer, execute_command
from buyerguard.api.schemas import (
    ExecutionIn,
    FactIn,
    OrderIn,
    PaymentIn,
    RefundIn,
    ShipmentIn,
)
from buyerguard.bootstrap import Runtime
from buyerguard.domain.cases import CASE_ACTIONS, Evidence
from buyerguard.errors import Conflict, Forbidden
from buyerguard.money import parse_yuan
from buyerguard.services import case_actions, case_opening, cases, instructions, orders
from buyerguard.services.context import Actor, Context, Role

Apply = Callable[[Context, Any, Any], Any]  # (context, subject id or None, validated body)


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


def _evidence(items: list[EvidenceIn]) -> tuple[Evidence, ...]:
    return tuple(Evidence(item.uri, item.sha256, item.note) for item in items)


def _open_case(ctx: Context, order_id: str, body: CaseIn) -> Any:
    command = case_opening.OpenCase(
        type=body.type,
        sub_order_id=body.sub_order_id,
        reason=body.reason,
        amount_fen=None if body.amount is None else parse_yuan(body.amount, field="amount"),
        trigger=body.trigger,
        evidence=_evidence(body.evidence),
        occurred_at=body.occurred_at,
        case_id=body.id,
    )
    return case_views.case_view(case_opening.open_case(ctx, order_id, command))


def _case_action(action: str) -> Apply:
    def apply(ctx: Context, case_id: str, body: CaseActionIn) -> Any:
        command = case_actions.CaseAction(
            amount_fen=None if body.amount is None else parse_yuan(body.amount, field="amount"),
            note=body.note,
            evidence=_evidence(body.evidence),
            official_logistics=body.official_logistics,
            carrier=body.carrier,
            tracking_number=body.tracking_number,
            freight_fen=None if body.freight is None else parse_yuan(body.freight, field="freight"),
            result=body.result,
            send_goods_back=body.send_goods_back,
            buyer_malicious=body.buyer_malicious,
            occurred_at=body.occurred_at,
        )
        return case_views.case_view(cases.act(ctx, case_id, action, command))

    return apply


_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def _execution(kind: str | None) -> Apply:
    """An execution report of an instruction (of `kind`, when its route names one)."""

    def apply(ctx: Context, instruction_id: str, body: ExecutionIn) -> Any:
        if body.merchant_id is not None:
            row = instructions.visible_instruction(ctx, instruction_id, kind=kind)
            if row["party"] != f"merchant:{body.merchant_id}":
                raise Conflict(
                    "payee_mismatch",
                    f"{instruction_id} pays {row['party']}, not merchant {body.merchant_id}: "
                    "nothing was recorded",
                    "merchant_id",
                )
        report = instructions.ExecutionReport(
            body.outcome, body.occurred_at, body.reason, body.reference
        )
        row = instructions.report_execution(ctx, instruction_id, report, kind=kind)
        return money_views.instruction_view(row)

    return apply


@dataclass(frozen=True)
class FactKind:
    """One kind of fact: its own route, body, answer status and how it applies."""

    path: str  # the route that takes it alone; `{…}` where it names its subject
    body: type[BaseModel]
    apply: Apply
    status_code: int = 200
    subject: str = "order_id"  # the envelope field naming the subject in a batch

    def route(self, subject_id: str | None) -> str:
        return "POST " + _PLACEHOLDER.sub(subject_id or "", self.path)


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
    "payout-execution": FactKind(
        "/v1/payouts/{payout_id}/execution",
        ExecutionIn,
        _execution(instructions.PAYOUT),
        subject="instruction_id",
    ),
    "instruction-execution": FactKind(
        "/v1/instructions/{instruction_id}/execution",
        ExecutionIn,
        _execution(None),
        subject="instruction_id",
    ),
    "case": FactKind("/v1/orders/{order_id}/cases", CaseIn, _open_case, 201),
    **{
        f"case-{action}": FactKind(
            f"/v1/cases/{{case_id}}/{action}", CaseActionIn, _case_action(action), subject="case_id"
        )
        for action in CASE_ACTIONS
    },
}


def apply_fact(
    rt: Runtime,
    actor: Actor,
    kind: str,
    subject_id: str | None,
    body: BaseModel,
    key: str | None,
    held_connection: Connection | None = None,
) -> Answer:
    """Apply one fact as its own command (its own transaction and idempotency key), on
    `held_connection` when the caller holds one for many facts."""
    fact = FACT_KINDS[kind]

    def handle(ctx: Context) -> tuple[int, Any]:
        return fact.status_code, fact.apply(ctx, subject_id, body)

    with observed_fact(kind) as answered:
        answer = execute_command(
            rt, actor, fact.route(subject_id), key, body, handle, held_connection
        )
        answered.outcome = "replayed" if answer.replayed else "applied"
    return answer
