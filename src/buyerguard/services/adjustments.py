"""Operator adjustments: a refund, a clawback or a compensation on any paid sub-order.

An operator may move money on a sub-order at any point after payment, with a
reason: refund the buyer (from escrow before release, taken back from the
merchant after it), claw money back from the merchant for the platform, or
compensate the buyer at the platform's or the merchant's cost. Each is capped
by what the sub-order was paid, recorded as a decision carrying the operator
and the reason, and paid out by instruction. After-sales cases (a later
issue) reuse these money paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from buyerguard.domain.decision import PLATFORM, Decision, party
from buyerguard.domain.orders import Order, OrderState, SubOrder
from buyerguard.errors import InvalidInput, require_text
from buyerguard.ledger import accounts
from buyerguard.ledger.book import lock_accounts
from buyerguard.money import Fen, format_fen
from buyerguard.services import (
    instructions,
    lifecycle_postings,
    refund_steps,
    refunds_after_shipment,
    settlement,
)
from buyerguard.services.context import Context
from buyerguard.services.merchant_money import (
    Taken,
    merchant_accounts,
    post_transfer,
    take_from_merchant,
)
from buyerguard.services.orders import load_for_fact
from buyerguard.services.records import audit, decided_total_fen, next_decision_sequence
from buyerguard.services.records import record_decision as record
from buyerguard.store import repositories

REFUND, CLAWBACK, COMPENSATION = "refund", "clawback", "compensation"
ADJUSTMENT_KINDS = (REFUND, CLAWBACK, COMPENSATION)
BORNE_BY = ("platform", "merchant")
CLAWBACK_DECISION = "merchant_clawback"
COMPENSATION_DECISION = "compensation_due"
MAX_REASON_LENGTH = 500


@dataclass(frozen=True)
class Adjustment:
    kind: str  # refund, clawback, compensation
    sub_order_id: str
    amount_fen: Fen
    reason: str
    borne_by: str | None = None  # compensation: platform (default) or merchant


def _check(adjustment: Adjustment) -> str:
    """The adjustment's own checks; returns who bears a compensation."""
    if adjustment.kind not in ADJUSTMENT_KINDS:
        choices = ", ".join(ADJUSTMENT_KINDS)
        raise InvalidInput(
            "invalid_choice", f"kind must be one of {choices}: {adjustment.kind!r}", "kind"
        )
    require_text(adjustment.reason, "reason", "an adjustment states its reason")
    if adjustment.amount_fen <= 0:
        raise InvalidInput("amount_not_positive", "an adjustment moves more than 0", "amount")
    if adjustment.borne_by is not None and adjustment.kind != COMPENSATION:
        raise InvalidInput(
            "borne_by_not_applicable", "only a compensation names who bears it", "borne_by"
        )
    borne_by = adjustment.borne_by or "platform"
    if borne_by not in BORNE_BY:
        raise InvalidInput(
            "invalid_choice", f"borne_by must be platform or merchant: {borne_by!r}", "borne_by"
        )
    return borne_by


def adjust(ctx: Context, order_id: str, adjustment: Adjustment) -> dict[str, Any]:
    """Apply an operator's adjustment on one sub-order; returns what was decided."""
    ctx.require_role("adjust orders")  # the operator only
    borne_by = _check(adjustment)
    order, _ = load_for_fact(ctx, order_id)
    order.require_adjustable()
    sub = order.sub_order(adjustment.sub_order_id, field="sub_order_id")
    when = ctx.now()
    details: dict[str, object] = {
        "adjustment": adjustment.kind,
        "operator": ctx.actor.label,
        "reason": adjustment.reason,
    }
    taken: Taken | None = None
    if adjustment.kind == REFUND:
        decision_kind = refund_steps.REFUND_DUE
        instruction_id, taken = _refund(ctx, order, sub, adjustment.amount_fen, details)
    else:
        decision_kind = CLAWBACK_DECISION if adjustment.kind == CLAWBACK else COMPENSATION_DECISION
        left_fen = sub.goods_fen - decided_total_fen(ctx.connection, decision_kind, sub.id)
        if adjustment.amount_fen > left_fen:
            raise InvalidInput(
                "adjustment_exceeds_paid",
                f"sub-order {sub.id} was paid {format_fen(sub.goods_fen)}; "
                f"{format_fen(left_fen)} is left to {adjustment.kind}, less than "
                f"{format_fen(adjustment.amount_fen)}",
                "amount",
            )
        if adjustment.kind == CLAWBACK:
            instruction_id, taken = None, _clawback(ctx, order, sub, adjustment, details)
        else:
            instruction_id, taken = _compensate(ctx, order, sub, adjustment, borne_by, details)
    repositories.save_order(ctx.connection, order, ctx.actor.label, ctx.now())
    sequence = next_decision_sequence(ctx.connection, decision_kind, sub.id) - 1
    decision_id = decision_kind + f":{sub.id}" + (f":{sequence}" if sequence > 1 else "")
    audit(
        ctx,
        f"adjust_{adjustment.kind}",
        order.id,
        when,
        sub_order_id=sub.id,
        amount_fen=adjustment.amount_fen,
        reason=adjustment.reason,
        decision_id=decision_id,
    )
    return {
        "id": decision_id,
        "kind": adjustment.kind,
        "order_id": order.id,
        "sub_order_id": sub.id,
        "amount_fen": adjustment.amount_fen,
        "borne_by": borne_by if adjustment.kind == COMPENSATION else None,
        "reason": adjustment.reason,
        "operator": ctx.actor.label,
        "instruction_id": instruction_id,
        "taken": taken,
        "occurred_at": when,
        "order": order,
    }


def _refund(
    ctx: Context, order: Order, sub: SubOrder, amount_fen: Fen, details: dict[str, object]
) -> tuple[str, Taken | None]:
    """Before shipment, a refund before shipment; shipped but not released, from the escrow
    hold; released, taken back from the merchant (and where from)."""
    when = ctx.now()
    rulebook = ctx.rulebook_at(when, field=None)
    rule = lifecycle_postings.OPERATOR_RULE
    if order.state is OrderState.PAID:
        refunds, _ = order.refund_before_shipment(None, when, {sub.id: amount_fen})
        why = "by the operator"
        instruction_id = settlement.refund_sub_orders(
            ctx, order, refunds, rulebook, when, rule_id=rule, why=why, details=details
        )
        return instruction_id, None
    return refunds_after_shipment.refund_after_shipment(
        ctx, order, sub, amount_fen, when, rule_id=rule, details=details
    )


def _decide(
    ctx: Context,
    kind: str,
    sub: SubOrder,
    order: Order,
    amount_fen: Fen,
    payer: str,
    payee: str,
    explanation: str,
    details: dict[str, object],
) -> str:
    sequence = next_decision_sequence(ctx.connection, kind, sub.id)
    decision = Decision(
        kind,
        sub.id,
        amount_fen,
        payer,
        payee,
        (lifecycle_postings.OPERATOR_RULE,),
        ctx.rulebook_at(ctx.now(), field=None).id,
        explanation,
        details,
    )
    return record(ctx, decision, ctx.now(), order.id, sequence)


def _clawback(
    ctx: Context, order: Order, sub: SubOrder, adjustment: Adjustment, details: dict[str, object]
) -> Taken:
    """Take money back from the merchant for the platform (payable, reserve, then debt)."""
    recoveries = accounts.platform_recoveries(sub.id)
    lock_accounts(ctx.connection, [*merchant_accounts(order.merchant_id), recoveries], ctx.now())
    decision_ref = _decide(
        ctx,
        CLAWBACK_DECISION,
        sub,
        order,
        adjustment.amount_fen,
        party("merchant", order.merchant_id),
        PLATFORM,
        f"claw back {format_fen(adjustment.amount_fen)} from the merchant: {adjustment.reason}",
        details,
    )
    return take_from_merchant(
        ctx,
        order.merchant_id,
        adjustment.amount_fen,
        recoveries,
        f"clawback:{decision_ref}",
        "clawback",
        ctx.now(),
        order.id,
        decision_ref,
    )


def _compensate(
    ctx: Context,
    order: Order,
    sub: SubOrder,
    adjustment: Adjustment,
    borne_by: str,
    details: dict[str, object],
) -> tuple[str, Taken | None]:
    """Owe the buyer a compensation, paid by the platform or taken from the merchant, and
    instruct paying it."""
    buyer = party("buyer", order.buyer_id)
    owed = accounts.buyer_payable(order.buyer_id)
    expense = accounts.platform_subsidy_expense(sub.id)
    funding = merchant_accounts(order.merchant_id) if borne_by == "merchant" else [expense]
    lock_accounts(ctx.connection, [*funding, *instructions.party_accounts(buyer)], ctx.now())
    payer = party("merchant", order.merchant_id) if borne_by == "merchant" else PLATFORM
    decision_ref = _decide(
        ctx,
        COMPENSATION_DECISION,
        sub,
        order,
        adjustment.amount_fen,
        payer,
        buyer,
        f"compensate the buyer {format_fen(adjustment.amount_fen)}, borne by the {borne_by}: "
        f"{adjustment.reason}",
        {**details, "borne_by": borne_by},
    )
    taken: Taken | None = None
    if borne_by == "merchant":
        taken = take_from_merchant(
            ctx,
            order.merchant_id,
            adjustment.amount_fen,
            owed,
            f"compensation:{decision_ref}",
            "compensation",
            ctx.now(),
            order.id,
            decision_ref,
        )
    else:
        post_transfer(
            ctx,
            f"compensation:{decision_ref}",
            expense,
            owed,
            adjustment.amount_fen,
            "compensation",
            ctx.now(),
            order.id,
            decision_ref,
        )
    instruction_id = instructions.instruct(
        ctx,
        kind=instructions.COMPENSATION,
        party=buyer,
        amount_fen=adjustment.amount_fen,
        occurred_at=ctx.now(),
        rule_ids=(lifecycle_postings.OPERATOR_RULE,),
        explanation=f"pay buyer {order.buyer_id} a compensation of "
        f"{format_fen(adjustment.amount_fen)} on order {order.id}",
        order_id=order.id,
        details={"decision_id": decision_ref, **details},
    )
    return instruction_id, taken
