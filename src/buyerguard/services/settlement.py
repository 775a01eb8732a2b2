"""The escrow of an order: its payment held, refunds from the hold, release with the fee.

Paying an order moves the buyer's money from the rail clearing account into
the merchant's escrow and places one hold per sub-order (and one for
shipping) towards the merchant's payable. Confirmation posts the holds,
charges the technical service fee from the payable, opens the sub-order's
refundable balance and nets any debt of the merchant's from what it just
earned. A refund before release voids the hold, owes the money to the buyer
and holds what is left; a refund after release comes back from the merchant
(services/merchant_money.py) within the sub-order's refundable balance, with
the fee difference posted back (services/refunds_after_shipment.py). Either
way the buyer is paid by instruction (services/instructions.py); what both
refund paths share is in services/refund_steps.py. Every transfer id names its
purpose and subject, so a retried command cannot move money twice. Each
command locks the accounts it will post to first, in one order
(`ledger.book.lock_accounts`); services/lifecycle_postings.py writes the
decisions and transfers.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from buyerguard.domain.decision import PLATFORM, Decision, party
from buyerguard.domain.fees import FeeFacts, technical_service_fee
from buyerguard.domain.orders import Order, SubOrder
from buyerguard.errors import Conflict
from buyerguard.ledger import accounts
from buyerguard.ledger.book import TransferKind, lock_accounts, open_hold_fen, read_transfers
from buyerguard.money import Fen, format_fen
from buyerguard.rulebook import Rulebook
from buyerguard.services.context import Context
from buyerguard.services.lifecycle_postings import lifecycle_decision, nth, post
from buyerguard.services.merchant_money import net_debt
from buyerguard.services.records import has_decision, record_decision
from buyerguard.services.refund_steps import (
    REFUND_DUE,
    instruct_refund,
    refund_accounts,
    refunds_so_far,
    shipping_from_escrow,
)

ESCROW_RULE = "lifecycle.escrow_until_confirmation"
REFUND_RULE = "refund_only.before_shipment_always_allowed"


def hold_payment(ctx: Context, order: Order, rulebook: Rulebook, occurred_at: datetime) -> None:
    """Buyer's payment into the merchant's escrow, held per sub-order for the merchant."""
    clearing = accounts.rail_clearing(order.id)
    escrow = accounts.merchant_escrow(order.merchant_id)
    payable = accounts.merchant_payable(order.merchant_id)
    lock_accounts(ctx.connection, [clearing, escrow, payable], ctx.now())
    post(
        ctx,
        f"payment:{order.id}",
        TransferKind.POSTED,
        clearing,
        escrow,
        order.total_fen,
        "payment",
        order,
        occurred_at,
    )
    buyer, merchant = party("buyer", order.buyer_id), party("merchant", order.merchant_id)
    for sub in order.sub_orders:
        decision = lifecycle_decision(
            "escrow_held",
            sub.id,
            sub.goods_fen,
            buyer,
            merchant,
            rulebook,
            ESCROW_RULE,
            f"{format_fen(sub.goods_fen)} held in escrow until receipt is confirmed",
        )
        decision_ref = record_decision(ctx, decision, occurred_at, order.id)
        post(
            ctx,
            f"hold:{sub.id}",
            TransferKind.PENDING,
            escrow,
            payable,
            sub.goods_fen,
            "escrow_hold",
            order,
            occurred_at,
            decision_ref,
        )
    if order.shipping_fen > 0:
        post(
            ctx,
            f"hold-shipping:{order.id}",
            TransferKind.PENDING,
            escrow,
            payable,
            order.shipping_fen,
            "escrow_hold_shipping",
            order,
            occurred_at,
        )


def refund_sub_orders(
    ctx: Context,
    order: Order,
    refunds: list[tuple[SubOrder, Fen]],
    rulebook: Rulebook,
    occurred_at: datetime,
    *,
    rule_id: str = REFUND_RULE,
    why: str = "before shipment",
    details: Mapping[str, object] | None = None,
) -> str:
    """Owe refunded money to the buyer from escrow and instruct paying it; a sub-order's
    hold is voided and what is left of it held again, so a hold is settled in part as
    often as money is left, never beyond. Returns the refund instruction's id.

    The cap is the ledger's open hold, not the order's columns: a refund larger
    than what the hold holds is refused before anything is written."""
    escrow = accounts.merchant_escrow(order.merchant_id)
    payable = accounts.merchant_payable(order.merchant_id)
    buyer = party("buyer", order.buyer_id)
    owed = accounts.buyer_payable(order.buyer_id)
    lock_accounts(ctx.connection, refund_accounts(order, None), ctx.now())
    refunded_fen = 0
    for sub, amount_fen in refunds:
        sequence = refunds_so_far(ctx, sub.id) + 1
        held_fen = open_hold_fen(ctx.connection, nth(f"hold:{sub.id}", sequence))
        if amount_fen > held_fen:
            raise Conflict(
                "refund_exceeds_hold",
                f"sub-order {sub.id} holds {format_fen(held_fen)} in escrow; "
                f"{format_fen(amount_fen)} cannot be refunded from it",
                "amounts",
            )
        whole = "" if sub.refunded_fen == sub.goods_fen else " in part"
        decision = lifecycle_decision(
            REFUND_DUE,
            sub.id,
            amount_fen,
            PLATFORM,
            buyer,
            rulebook,
            rule_id,
            f"refund {format_fen(amount_fen)} {why}{whole}",
            details,
        )
        decision_ref = record_decision(ctx, decision, occurred_at, order.id, sequence)
        post(
            ctx,
            nth(f"void:{sub.id}", sequence),
            TransferKind.VOID_PENDING,
            escrow,
            payable,
            held_fen,
            "escrow_void",
            order,
            occurred_at,
            decision_ref,
            pending_id=nth(f"hold:{sub.id}", sequence),
        )
        post(
            ctx,
            nth(f"refund:{sub.id}", sequence),
            TransferKind.POSTED,
            escrow,
            owed,
            amount_fen,
            "refund",
            order,
            occurred_at,
            decision_ref,
        )
        refunded_fen += amount_fen
        if held_fen > amount_fen:
            post(
                ctx,
                nth(f"hold:{sub.id}", sequence + 1),
                TransferKind.PENDING,
                escrow,
                payable,
                held_fen - amount_fen,
                "escrow_hold",
                order,
                occurred_at,
                decision_ref,
            )
    if not order.open_sub_orders() and order.shipping_fen > 0:
        why_shipping = "nothing left to ship"
        refunded_fen += shipping_from_escrow(
            ctx, order, rulebook, occurred_at, rule_id, why_shipping, details
        )
    return instruct_refund(ctx, order, refunded_fen, occurred_at, rule_id, refunds, details)


def fee_now(ctx: Context, order: Order, sub: SubOrder) -> Decision:
    """The technical service fee of a sub-order as it stands (rulebook at payment)."""
    assert order.paid_rulebook_id is not None
    return technical_service_fee(
        FeeFacts(
            sub_order_id=sub.id,
            merchant_id=order.merchant_id,
            goods_paid_fen=sub.goods_fen,
            goods_refunded_fen=sub.refunded_fen,
            entrusted=sub.entrusted,
            refunded_before_shipment=sub.refunded_before_shipment,
            merchant_services_at_payment=frozenset(order.merchant_services_at_payment),
        ),
        ctx.rulebooks.by_id(order.paid_rulebook_id),
    )


def release_on_confirmation(ctx: Context, order: Order, occurred_at: datetime) -> None:
    """Post the holds to the merchant, charge the fee (rulebook at payment), open each
    released sub-order's refundable balance (the cap on refunds from now on) and net
    the merchant's debt, if any, from what it just earned."""
    assert order.paid_rulebook_id is not None
    paid_rulebook = ctx.rulebooks.by_id(order.paid_rulebook_id)
    escrow = accounts.merchant_escrow(order.merchant_id)
    payable = accounts.merchant_payable(order.merchant_id)
    debt = accounts.merchant_debt(order.merchant_id)
    buyer, merchant = party("buyer", order.buyer_id), party("merchant", order.merchant_id)
    fees = {sub.id: fee_now(ctx, order, sub) for sub in order.sub_orders}
    # A sub-order refunded down to nothing before release has no hold left to post.
    released_subs = [sub for sub in order.sub_orders if sub.settled_goods_fen > 0]
    lock_accounts(
        ctx.connection,
        [escrow, payable, debt]
        + [accounts.platform_fee_revenue(sub.id) for sub in released_subs]
        + [accounts.sub_order_refundable(sub.id) for sub in released_subs]
        + [accounts.refundable_issued(sub.id) for sub in released_subs],
        ctx.now(),
    )
    # the open hold of each: the first, or the one left by the last refund of a part
    open_holds = {
        sub.id: nth(f"hold:{sub.id}", (refunds_so_far(ctx, sub.id) if sub.refunded_fen else 0) + 1)
        for sub in released_subs
    }
    # Shipping a case refunded with the whole order (returns.shipping_refunded_with_whole_order)
    # has no hold left to release. Asked before any decision is recorded: they are then
    # written together (services/records.py).
    release_shipping = order.shipping_fen > 0 and not has_decision(
        ctx.connection, "shipping_refund_due", order.id
    )
    shipping_hold = f"hold-shipping:{order.id}"
    read_transfers(
        ctx.connection, [*open_holds.values(), *([shipping_hold] if release_shipping else [])]
    )
    for sub in order.sub_orders:
        fee = fees[sub.id]
        sub.fee_fen = fee.amount_fen
        fee_ref = record_decision(ctx, fee, occurred_at, order.id)
        if sub not in released_subs:
            continue
        released = lifecycle_decision(
            "escrow_released",
            sub.id,
            sub.settled_goods_fen,
            buyer,
            merchant,
            paid_rulebook,
            ESCROW_RULE,
            f"receipt confirmed: {format_fen(sub.settled_goods_fen)} released to merchant",
        )
        release_ref = record_decision(ctx, released, occurred_at, order.id)
        post(
            ctx,
            f"release:{sub.id}",
            TransferKind.POST_PENDING,
            escrow,
            payable,
            sub.settled_goods_fen,
            "escrow_release",
            order,
            occurred_at,
            release_ref,
            pending_id=open_holds[sub.id],
        )
        post(
            ctx,
            f"refundable:{sub.id}",
            TransferKind.POSTED,
            accounts.refundable_issued(sub.id),
            accounts.sub_order_refundable(sub.id),
            sub.settled_goods_fen,
            "refundable_after_release",
            order,
            occurred_at,
            release_ref,
        )
        if fee.amount_fen > 0:
            post(
                ctx,
                f"fee:{sub.id}",
                TransferKind.POSTED,
                payable,
                accounts.platform_fee_revenue(sub.id),
                fee.amount_fen,
                "technical_service_fee",
                order,
                occurred_at,
                fee_ref,
            )
    if release_shipping:
        released = lifecycle_decision(
            "shipping_released",
            order.id,
            order.shipping_fen,
            buyer,
            merchant,
            paid_rulebook,
            ESCROW_RULE,
            f"shipping {format_fen(order.shipping_fen)} released to merchant",
        )
        release_ref = record_decision(ctx, released, occurred_at, order.id)
        post(
            ctx,
            f"release-shipping:{order.id}",
            TransferKind.POST_PENDING,
            escrow,
            payable,
            order.shipping_fen,
            "escrow_release",
            order,
            occurred_at,
            release_ref,
            pending_id=shipping_hold,
        )
    net_debt(ctx, order.merchant_id, occurred_at, f"release:{order.id}")
