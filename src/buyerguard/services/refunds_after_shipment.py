"""Refunds after shipment: from escrow while the money is held, from the merchant after.

Whoever decides them — an operator's adjustment, an after-sales case — a refund of
a shipped sub-order takes one of two paths: while receipt is not confirmed the
escrow hold pays it (settlement.refund_sub_orders); once released, the
sub-order's refundable balance caps it, the fee on what is no longer sold is
posted back (§1, `fee_adjusted`), and the merchant pays it back from its payable,
reserve or, short of both, as debt. Shipping goes back when every sub-order was
refunded in full. The buyer is paid by instruction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from buyerguard.domain.decision import party
from buyerguard.domain.orders import Order, SubOrder
from buyerguard.errors import Conflict
from buyerguard.ledger import accounts
from buyerguard.ledger.balances import balance
from buyerguard.ledger.book import TransferKind, lock_accounts
from buyerguard.money import Fen, format_fen
from buyerguard.services.context import Context
from buyerguard.services.lifecycle_postings import OPERATOR_RULE, lifecycle_decision, nth, post
from buyerguard.services.merchant_money import Taken, merchant_accounts, take_from_merchant
from buyerguard.services.records import (
    has_decision,
    record_decision,
    record_repeated_decision,
)
from buyerguard.services.refund_steps import (
    FEE_ADJUSTED,
    REFUND_DUE,
    instruct_refund,
    refund_accounts,
    refunds_so_far,
    shipping_decision,
    shipping_from_escrow,
)
from buyerguard.services.settlement import fee_now, refund_sub_orders


def refund_after_shipment(
    ctx: Context,
    order: Order,
    sub: SubOrder,
    amount_fen: Fen,
    occurred_at: datetime,
    *,
    rule_id: str,
    details: Mapping[str, object] | None = None,
) -> tuple[str, Taken | None]:
    """Refund part or all of a shipped sub-order, whoever decided it (an operator, a case):
    from the escrow hold while the money is held, taken back from the merchant once
    released. The domain moves the sub-order; returns the refund instruction and, after
    release, where the merchant's money came from."""
    order.refund_after_shipment(sub.id, amount_fen)
    if order.released:
        return refund_after_release(ctx, order, sub, amount_fen, occurred_at, details, rule_id)
    instruction_id = refund_sub_orders(
        ctx,
        order,
        [(sub, amount_fen)],
        ctx.rulebook_at(occurred_at, field="occurred_at"),
        occurred_at,
        rule_id=rule_id,
        why="after shipment, before release",
        details=details,
    )
    return instruction_id, None


def refund_after_release(
    ctx: Context,
    order: Order,
    sub: SubOrder,
    amount_fen: Fen,
    occurred_at: datetime,
    details: Mapping[str, object] | None = None,
    rule_id: str = OPERATOR_RULE,
) -> tuple[str, Taken]:
    """Refund part of a released sub-order: within its refundable balance, the fee on what
    is no longer sold posted back (§1), the money taken back from the merchant (payable,
    reserve, then debt) and owed to the buyer; returns the refund instruction's id and
    where the money came from.

    `sub.refunded_fen` already counts this refund (the domain moved it)."""
    assert order.paid_rulebook_id is not None
    paid_rulebook = ctx.rulebooks.by_id(order.paid_rulebook_id)
    buyer = party("buyer", order.buyer_id)
    refundable = accounts.sub_order_refundable(sub.id)
    fee_revenue = accounts.platform_fee_revenue(sub.id)
    owed = accounts.buyer_payable(order.buyer_id)
    lock_accounts(ctx.connection, refund_accounts(order, sub), ctx.now())
    left_fen = balance(ctx.connection, refundable.id).available_fen
    if amount_fen > left_fen:
        raise Conflict(
            "refund_exceeds_refundable",
            f"sub-order {sub.id} may still be refunded {format_fen(left_fen)}; "
            f"{format_fen(amount_fen)} is more",
            "amount",
        )
    sequence = refunds_so_far(ctx, sub.id) + 1
    decision_ref = record_decision(
        ctx,
        lifecycle_decision(
            REFUND_DUE,
            sub.id,
            amount_fen,
            party("merchant", order.merchant_id),
            buyer,
            paid_rulebook,
            rule_id,
            f"refund {format_fen(amount_fen)} after release, taken back from the merchant",
            details,
        ),
        occurred_at,
        order.id,
        sequence,
    )
    post(
        ctx,
        nth(f"refundable-used:{sub.id}", sequence),
        TransferKind.POSTED,
        refundable,
        accounts.refundable_issued(sub.id),
        amount_fen,
        "refundable_used",
        order,
        occurred_at,
        decision_ref,
    )
    fee = replace(fee_now(ctx, order, sub), kind=FEE_ADJUSTED)
    charged_fen = sub.fee_fen or 0
    if fee.amount_fen < charged_fen:
        fee_ref = record_repeated_decision(ctx, fee, occurred_at, order.id)
        post(
            ctx,
            nth(f"fee-refund:{sub.id}", sequence),
            TransferKind.POSTED,
            fee_revenue,
            accounts.merchant_payable(order.merchant_id),
            charged_fen - fee.amount_fen,
            "fee_refund",
            order,
            occurred_at,
            fee_ref,
        )
        sub.fee_fen = fee.amount_fen
    taken = take_from_merchant(
        ctx,
        order.merchant_id,
        amount_fen,
        owed,
        nth(f"refund:{sub.id}", sequence),
        "refund_after_release",
        occurred_at,
        order.id,
        decision_ref,
    )
    instruction_id = instruct_refund(
        ctx, order, amount_fen, occurred_at, rule_id, [(sub, amount_fen)], details
    )
    return instruction_id, taken


def refund_shipping_after_shipment(
    ctx: Context,
    order: Order,
    occurred_at: datetime,
    rule_id: str,
    details: Mapping[str, object] | None = None,
) -> str | None:
    """Every sub-order of a shipped order refunded in full: its shipping goes back too —
    from escrow while held, taken back from the merchant once released — once per order.
    Returns the refund instruction's id (None: nothing to refund)."""
    if order.shipping_fen <= 0 or any(sub.settled_goods_fen for sub in order.sub_orders):
        return None
    if has_decision(ctx.connection, "shipping_refund_due", order.id):
        return None
    rulebook = ctx.rulebook_at(occurred_at, field="occurred_at")
    why = "every sub-order was refunded in full"
    lock_accounts(
        ctx.connection,
        [*refund_accounts(order, None), *merchant_accounts(order.merchant_id)],
        ctx.now(),
    )
    if not order.released:
        amount_fen = shipping_from_escrow(ctx, order, rulebook, occurred_at, rule_id, why, details)
    else:
        decision = shipping_decision(order, rulebook, rule_id, why, details)
        decision_ref = record_decision(ctx, decision, occurred_at, order.id)
        amount_fen = order.shipping_fen
        take_from_merchant(
            ctx,
            order.merchant_id,
            amount_fen,
            accounts.buyer_payable(order.buyer_id),
            f"refund-shipping:{order.id}",
            "refund_after_release",
            occurred_at,
            order.id,
            decision_ref,
        )
    return instruct_refund(ctx, order, amount_fen, occurred_at, rule_id, [], details)
