"""The money of after-sales cases, on the money paths every refund takes.

A case's refund comes from escrow while the sub-order's money is held and is
taken back from the merchant once released (refunds_after_shipment.refund_after_shipment),
never beyond what the case asked nor what is left of the sub-order. The
platform pays the carrier of an official pickup the return-shipping subsidy
(§3, one cap per order) and, when the merchant proves a quick-refunded return
empty or wrong, absorbs the loss (§4). Every payment out is an instruction.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from buyerguard.clock import months_before
from buyerguard.domain import aftersales_rules
from buyerguard.domain.cases import Case, CaseType
from buyerguard.domain.decision import PLATFORM, Decision, party
from buyerguard.domain.orders import Order, OrderState
from buyerguard.errors import Conflict
from buyerguard.ledger import accounts
from buyerguard.ledger.book import lock_accounts
from buyerguard.money import Fen, format_fen
from buyerguard.services import instructions, refund_steps, refunds_after_shipment
from buyerguard.services.context import Context
from buyerguard.services.merchant_money import merchant_accounts, post_transfer, take_from_merchant
from buyerguard.services.records import (
    decided_total_fen,
    record_repeated_decision,
    write_pending_decisions,
)
from buyerguard.store import case_repository
from buyerguard.store.catalogue import get_merchant
from buyerguard.store.tables import buyers, decisions, orders, sub_orders

SUBSIDY = "return_shipping_subsidy"
ABSORBED = "quick_refund_absorbed"
FALSE_SHIPMENT_CHARGED = "false_shipment_charged"


def settle_refund(
    ctx: Context,
    case: Case,
    order: Order,
    amount_fen: Fen,
    when: datetime,
    rule_id: str,
    *,
    strict: bool = True,
) -> Fen:
    """Refund `amount_fen` of the case less what it already refunded (a quick refund);
    returns what was refunded now.

    A party's decision (an acceptance, a ruling) that would refund more than is left of
    the sub-order — another refund took it first — is refused (`strict`); a fact or a
    timeout, which cannot be refused, refunds what is left."""
    due_fen = min(amount_fen, case.requested_fen) - case.refunded_fen
    sub = order.sub_order(case.sub_order_id, field="sub_order_id")
    if strict and due_fen > sub.settled_goods_fen:
        raise Conflict(
            "refund_exceeds_remaining",
            f"sub-order {sub.id} may still be refunded {format_fen(sub.settled_goods_fen)}, "
            f"less than the {format_fen(due_fen)} this case would refund: nothing was written",
            "amount",
        )
    due_fen = min(due_fen, sub.settled_goods_fen)
    if due_fen <= 0:
        return 0
    details = {"case_id": case.id, "case_type": case.type.value}
    refunds_after_shipment.refund_after_shipment(
        ctx, order, sub, due_fen, when, rule_id=rule_id, details=details
    )
    case.refunded_fen += due_fen
    if ctx.rulebook_at(when, field="occurred_at").returns.shipping_refunded_with_whole_order:
        refunds_after_shipment.refund_shipping_after_shipment(
            ctx, order, when, "returns.shipping_refunded_with_whole_order", details
        )
    return due_fen


def net_paid_trailing_fen(ctx: Context, buyer_id: str, at: datetime) -> Fen:
    """What the buyer paid over the trailing window, less refunds: the super-buyer test."""
    months = ctx.rulebook_at(at, field=None).free_return_shipping.super_buyer_window_months
    since = months_before(at, months)
    paid = ctx.connection.execute(
        select(func.coalesce(func.sum(sub_orders.c.goods_fen - sub_orders.c.refunded_fen), 0))
        .select_from(sub_orders.join(orders, orders.c.id == sub_orders.c.order_id))
        .where(
            orders.c.buyer_id == buyer_id,
            orders.c.paid_at.is_not(None),
            orders.c.paid_at >= since,
            orders.c.paid_at <= at,
        )
    ).scalar_one()
    return int(paid)


def pickup_subsidy(
    ctx: Context,
    case: Case,
    order: Order,
    *,
    carrier: str,
    freight_fen: Fen,
    official_logistics: bool,
    when: datetime,
) -> dict[str, Any]:
    """The platform pays the carrier of an official pickup (§3), capped once per order."""
    rulebook = ctx.rulebook_at(when, field="occurred_at")
    marked = ctx.connection.execute(
        select(buyers.c.super_buyer_marked).where(buyers.c.id == order.buyer_id)
    ).scalar_one()
    super_buyer = aftersales_rules.is_super_buyer(
        net_paid_trailing_fen=net_paid_trailing_fen(ctx, order.buyer_id, case.opened_at),
        marked_by_operator=bool(marked),
        rulebook=rulebook,
    )
    sub = order.sub_order(case.sub_order_id, field="sub_order_id")
    decision = aftersales_rules.return_shipping_subsidy(
        order_id=order.id,
        freight_fen=freight_fen,
        official_logistics=official_logistics,
        super_buyer=super_buyer,
        merchant_tier=get_merchant(ctx.connection, order.merchant_id).tier.value,
        sub_order_goods_fen=sub.goods_fen,
        already_subsidised_on_order_fen=decided_total_fen(ctx.connection, SUBSIDY, order.id),
        carrier=carrier,
        rulebook=rulebook,
    )
    # One cap per order: the subsidies of an order are decisions on the order.
    decision = replace(
        decision, subject_id=order.id, details={**decision.details, "case_id": case.id}
    )
    decision_ref = record_repeated_decision(ctx, decision, when, order.id)
    instruction_id = None
    if decision.amount_fen > 0:
        payee = party("carrier", carrier)
        expense = accounts.platform_subsidy_expense(order.id)
        lock_accounts(ctx.connection, [expense, *instructions.party_accounts(payee)], ctx.now())
        post_transfer(
            ctx,
            f"subsidy:{decision_ref}",
            expense,
            accounts.carrier_payable(carrier),
            decision.amount_fen,
            SUBSIDY,
            when,
            order.id,
            decision_ref,
        )
        instruction_id = instructions.instruct(
            ctx,
            kind=instructions.CARRIER_SUBSIDY,
            party=payee,
            amount_fen=decision.amount_fen,
            occurred_at=when,
            rule_ids=decision.rule_ids,
            explanation=f"pay carrier {carrier} the return pickup of order {order.id}: "
            f"{format_fen(decision.amount_fen)}",
            order_id=order.id,
            details={"case_id": case.id, "decision_id": decision_ref},
        )
    return {"subsidy_fen": decision.amount_fen, "instruction_id": instruction_id}


def absorb_quick_refund(ctx: Context, case: Case, order: Order, when: datetime) -> Fen:
    """The merchant proved a quick-refunded return empty or wrong: the platform, not the
    merchant, bears the refund (§4) — what was taken from the merchant is paid back."""
    amount_fen = case.quick_refunded_fen
    rules = ctx.rulebook_at(when, field="occurred_at").quick_refund
    if amount_fen <= 0 or not rules.platform_absorbs_empty_or_wrong_return:
        return 0
    expense = accounts.platform_subsidy_expense(case.sub_order_id)
    lock_accounts(ctx.connection, closing_accounts(order, case), ctx.now())
    decision_ref = record_repeated_decision(
        ctx,
        Decision(
            ABSORBED,
            case.id,
            amount_fen,
            PLATFORM,
            party("merchant", order.merchant_id),
            ("quick_refund.platform_absorbs_empty_or_wrong_return",),
            ctx.rulebook_at(when, field="occurred_at").id,
            f"the return was empty or wrong: the platform bears the quick refund of "
            f"{format_fen(amount_fen)}, paid back to the merchant",
            {"case_id": case.id},
        ),
        when,
        order.id,
    )
    post_transfer(
        ctx,
        f"absorbed:{decision_ref}",
        expense,
        accounts.merchant_payable(order.merchant_id),
        amount_fen,
        ABSORBED,
        when,
        order.id,
        decision_ref,
    )
    return amount_fen


def pickup_accounts(order: Order, case: Case, carrier: str) -> list[accounts.AccountSpec]:
    """Every account a pickup may post to — the carrier's subsidy and a quick refund — so
    the command takes them all at once, in one order, before either moves money."""
    sub = order.sub_order(case.sub_order_id, field="sub_order_id")
    return [
        *refund_steps.refund_accounts(order, sub),
        *merchant_accounts(order.merchant_id),  # a shipping refund after release
        accounts.platform_subsidy_expense(order.id),
        *instructions.party_accounts(party("carrier", carrier)),
    ]


def closing_accounts(order: Order, case: Case) -> list[accounts.AccountSpec]:
    """Every account closing a case may post to (its refund, a compensation from the
    platform, a claim paid to or a cost charged to the merchant): locked at once."""
    sub = order.sub_order(case.sub_order_id, field="sub_order_id")
    return [
        *refund_steps.refund_accounts(order, sub),
        *merchant_accounts(order.merchant_id),
        accounts.platform_subsidy_expense(case.sub_order_id),
        accounts.platform_recoveries(case.sub_order_id),
    ]


def compensate_custom(ctx: Context, case: Case, order: Order, when: datetime) -> Fen:
    """§5: the platform pays the buyer of failed custom goods 5% of the sub-order, capped,
    on top of the refund (rulebook at the request)."""
    assert case.trigger is not None
    sub = order.sub_order(case.sub_order_id, field="sub_order_id")
    decision = aftersales_rules.custom_compensation(
        sub_order_id=sub.id,
        buyer_id=order.buyer_id,
        sub_order_goods_fen=sub.goods_fen,
        trigger=case.trigger,
        rulebook=ctx.rulebooks.by_id(case.rulebook_id),
        earned_before=case_repository.compensated_cases(
            ctx.connection, sub.id, CaseType.CUSTOM_DISPUTE
        ),
    )
    decision = replace(decision, details={**decision.details, "case_id": case.id})
    decision_ref = record_repeated_decision(ctx, decision, when, order.id)
    if decision.amount_fen <= 0:
        return 0
    buyer = party("buyer", order.buyer_id)
    lock_accounts(
        ctx.connection,
        [accounts.platform_subsidy_expense(sub.id), *instructions.party_accounts(buyer)],
        ctx.now(),
    )
    post_transfer(
        ctx,
        f"custom-compensation:{decision_ref}",
        accounts.platform_subsidy_expense(sub.id),
        accounts.buyer_payable(order.buyer_id),
        decision.amount_fen,
        "compensation",
        when,
        order.id,
        decision_ref,
    )
    instructions.instruct(
        ctx,
        kind=instructions.COMPENSATION,
        party=buyer,
        amount_fen=decision.amount_fen,
        occurred_at=when,
        rule_ids=decision.rule_ids,
        explanation=f"pay buyer {order.buyer_id} the custom-goods compensation of "
        f"{format_fen(decision.amount_fen)} on order {order.id}",
        order_id=order.id,
        details={"case_id": case.id, "decision_id": decision_ref},
    )
    case.compensated_fen += decision.amount_fen
    return decision.amount_fen


def pay_transit_claim(
    ctx: Context, case: Case, order: Order, value_fen: Fen, when: datetime
) -> Fen:
    """§7: goods lost or damaged in transport — the platform pays the merchant their value,
    capped; it reaches the merchant's payable and its next payout."""
    decision = aftersales_rules.transit_accident_compensation(
        sub_order_id=case.sub_order_id,
        merchant_id=order.merchant_id,
        goods_value_fen=value_fen,
        rulebook=ctx.rulebooks.by_id(case.rulebook_id),
    )
    decision = replace(decision, details={**decision.details, "case_id": case.id})
    decision_ref = record_repeated_decision(ctx, decision, when, order.id)
    if decision.amount_fen > 0:
        lock_accounts(ctx.connection, closing_accounts(order, case), ctx.now())
        post_transfer(
            ctx,
            f"transit-claim:{decision_ref}",
            accounts.platform_subsidy_expense(case.sub_order_id),
            accounts.merchant_payable(order.merchant_id),
            decision.amount_fen,
            "transit_claim",
            when,
            order.id,
            decision_ref,
        )
    case.compensated_fen += decision.amount_fen
    return decision.amount_fen


# What the platform paid on an order that a false shipment charges back to the merchant.
PLATFORM_COSTS = (SUBSIDY, ABSORBED, aftersales_rules.CUSTOM_COMPENSATION)


def charge_false_shipment(ctx: Context, case: Case, order: Order, when: datetime) -> Fen:
    """§6: a false shipment is the merchant's full responsibility — every platform cost of
    the order (subsidies, absorbed quick refunds, compensation) is taken from it."""
    write_pending_decisions(ctx.connection)
    cost_fen = ctx.connection.execute(
        select(func.coalesce(func.sum(decisions.c.amount_fen), 0)).where(
            decisions.c.order_id == order.id, decisions.c.kind.in_(PLATFORM_COSTS)
        )
    ).scalar_one()
    cost_fen = int(cost_fen) - int(
        decided_total_fen(ctx.connection, FALSE_SHIPMENT_CHARGED, order.id)
    )
    decision_ref = record_repeated_decision(
        ctx,
        Decision(
            FALSE_SHIPMENT_CHARGED,
            order.id,
            max(cost_fen, 0),
            party("merchant", order.merchant_id),
            PLATFORM,
            ("liability.merchant_bears",),
            ctx.rulebook_at(when, field="occurred_at").id,
            f"false shipment: the platform's costs on order {order.id}, "
            f"{format_fen(max(cost_fen, 0))}, are the merchant's",
            {"case_id": case.id},
        ),
        when,
        order.id,
    )
    if cost_fen > 0:
        lock_accounts(ctx.connection, closing_accounts(order, case), ctx.now())
        take_from_merchant(
            ctx,
            order.merchant_id,
            cost_fen,
            accounts.platform_recoveries(case.sub_order_id),
            f"false-shipment:{decision_ref}",
            "clawback",
            when,
            order.id,
            decision_ref,
        )
    return max(cost_fen, 0)


def quick_refund_decision(ctx: Context, picked_up_at: datetime) -> Decision:
    """Whether an official pickup at `picked_up_at` refunds the buyer at once (§4)."""
    return aftersales_rules.quick_refund(
        picked_up_at=picked_up_at,
        official_logistics=True,
        rulebook=ctx.rulebook_at(picked_up_at, field="occurred_at"),
    )


def refundable_states() -> frozenset[OrderState]:
    return frozenset(
        {OrderState.SHIPPED, OrderState.SIGNED, OrderState.CONFIRMED, OrderState.COMPLETED}
    )
