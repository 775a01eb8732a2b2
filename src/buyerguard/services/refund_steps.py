"""What every refund of an order shares, whichever path pays it.

A refund is paid from the escrow hold before release (services/settlement.py)
or taken back from the merchant after it (services/refunds_after_shipment.py);
an operator (adjustments.py) or a case (case_money.py) decides it. Each path
numbers the sub-order's refunds (`refunds_so_far`: its open hold is the next
one), locks the same accounts (`refund_accounts`), gives the shipping back
once nothing is left to ship (`shipping_from_escrow` while the escrow holds
it), and pays the buyer by one instruction per command (`instruct_refund`,
services/instructions.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from buyerguard.domain.decision import PLATFORM, Decision, party
from buyerguard.domain.orders import Order, SubOrder
from buyerguard.ledger import accounts
from buyerguard.ledger.book import TransferKind
from buyerguard.money import Fen, format_fen
from buyerguard.rulebook import Rulebook
from buyerguard.services import instructions
from buyerguard.services.context import Context
from buyerguard.services.lifecycle_postings import lifecycle_decision, post
from buyerguard.services.merchant_money import merchant_accounts
from buyerguard.services.records import next_decision_sequence, record_decision

REFUND_DUE = "refund_due"  # every refund's decision kind, numbered per sub-order
FEE_ADJUSTED = "fee_adjusted"  # the fee on net goods after a refund after release (§1)


def refunds_so_far(ctx: Context, sub_id: str) -> int:
    """How many refunds a sub-order has had: its open hold is the next one, `hold:{sub}:{n+1}`."""
    return next_decision_sequence(ctx.connection, REFUND_DUE, sub_id) - 1


def shipping_decision(
    order: Order,
    rulebook: Rulebook,
    rule_id: str,
    why: str,
    details: Mapping[str, object] | None,
) -> Decision:
    return lifecycle_decision(
        "shipping_refund_due",
        order.id,
        order.shipping_fen,
        PLATFORM,
        party("buyer", order.buyer_id),
        rulebook,
        rule_id,
        f"refund shipping {format_fen(order.shipping_fen)}: {why}",
        details,
    )


def shipping_from_escrow(
    ctx: Context,
    order: Order,
    rulebook: Rulebook,
    occurred_at: datetime,
    rule_id: str,
    why: str,
    details: Mapping[str, object] | None,
) -> Fen:
    """Void the shipping hold and owe the shipping back to the buyer (accounts locked)."""
    decision = shipping_decision(order, rulebook, rule_id, why, details)
    decision_ref = record_decision(ctx, decision, occurred_at, order.id)
    escrow = accounts.merchant_escrow(order.merchant_id)
    payable = accounts.merchant_payable(order.merchant_id)
    post(
        ctx,
        f"void-shipping:{order.id}",
        TransferKind.VOID_PENDING,
        escrow,
        payable,
        order.shipping_fen,
        "escrow_void",
        order,
        occurred_at,
        decision_ref,
        pending_id=f"hold-shipping:{order.id}",
    )
    post(
        ctx,
        f"refund-shipping:{order.id}",
        TransferKind.POSTED,
        escrow,
        accounts.buyer_payable(order.buyer_id),
        order.shipping_fen,
        "refund",
        order,
        occurred_at,
        decision_ref,
    )
    return order.shipping_fen


def instruct_refund(
    ctx: Context,
    order: Order,
    amount_fen: Fen,
    occurred_at: datetime,
    rule_id: str,
    refunds: list[tuple[SubOrder, Fen]],
    details: Mapping[str, object] | None,
) -> str:
    """One instruction per refunding command: the buyer gets one payment for it."""
    return instructions.instruct(
        ctx,
        kind=instructions.REFUND,
        party=party("buyer", order.buyer_id),
        amount_fen=amount_fen,
        occurred_at=occurred_at,
        rule_ids=(rule_id,),
        explanation=f"pay buyer {order.buyer_id} the refund of {format_fen(amount_fen)} "
        f"on order {order.id}",
        order_id=order.id,
        details={
            "sub_orders": {sub.id: format_fen(amount) for sub, amount in refunds},
            **(details or {}),
        },
    )


def refund_accounts(order: Order, sub: SubOrder | None) -> list[accounts.AccountSpec]:
    """Every account a refund of `sub` posts to (any sub-order of the order before release):
    a command that moves other money too locks these with its own, all at once."""
    owed_to_buyer = instructions.party_accounts(party("buyer", order.buyer_id))
    if not order.released or sub is None:
        return [
            accounts.rail_clearing(order.id),
            accounts.merchant_escrow(order.merchant_id),
            accounts.merchant_payable(order.merchant_id),
            *owed_to_buyer,
        ]
    return [
        *merchant_accounts(order.merchant_id),
        *owed_to_buyer,
        accounts.sub_order_refundable(sub.id),
        accounts.refundable_issued(sub.id),
        accounts.platform_fee_revenue(sub.id),
    ]
