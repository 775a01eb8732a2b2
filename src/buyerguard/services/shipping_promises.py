"""Shipping commitments of spot goods (§10b): a deadline at payment + the promised hours.

A spot sub-order sold with a 24/48/72-hour promise (its snapshot at payment)
gets one timer on its order at the earliest promise; if the order has not
shipped by then, the merchant compensates the buyer (5% of the sub-order, at
least 5.00, at most 100.00) — paid out by instruction. Shipping on time
cancels the timer. Promises count as displayed only from
`shipping_commitment.honoured_as_displayed_since` on.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from buyerguard.clock import local_date
from buyerguard.domain.decision import party
from buyerguard.domain.late_shipment import (
    late_shipment,
    late_shipment_compensation,
    shipping_deadline,
)
from buyerguard.domain.orders import Order, OrderState, SubOrder
from buyerguard.ledger import accounts
from buyerguard.ledger.book import lock_accounts
from buyerguard.money import format_fen
from buyerguard.services import instructions
from buyerguard.services.context import Context
from buyerguard.services.merchant_money import merchant_accounts, take_from_merchant
from buyerguard.services.records import has_decision, record_decision
from buyerguard.services.timers import DueTimer, cancel_timer, schedule_timer
from buyerguard.store import repositories

SHIPPING_DEADLINE = "order.shipping_deadline"
LATE_SHIPMENT = "late_shipment_compensation"


def _promise_hours(ctx: Context, order: Order, sub: SubOrder) -> int | None:
    """The hours a spot sub-order promised to ship within, if that promise binds."""
    terms = sub.terms_at_payment or {}
    hours = terms.get("shipping_commitment_hours")
    if not isinstance(hours, int) or isinstance(hours, bool) or order.paid_at is None:
        return None
    since = ctx.rulebook_at(
        order.paid_at, field=None
    ).shipping_commitment.honoured_as_displayed_since
    return hours if local_date(order.paid_at) >= since else None


def deadlines_of(ctx: Context, order: Order) -> dict[str, datetime]:
    """Each promising sub-order's deadline to ship."""
    assert order.paid_at is not None
    found: dict[str, datetime] = {}
    for sub in order.open_sub_orders():
        hours = _promise_hours(ctx, order, sub)
        if hours is not None:
            found[sub.id] = shipping_deadline(paid_at=order.paid_at, commitment_hours=hours)
    return found


def on_payment(ctx: Context, order: Order) -> None:
    """Start the clock of the earliest promise, if any sub-order made one."""
    deadlines = deadlines_of(ctx, order)
    if deadlines:
        schedule_timer(ctx, SHIPPING_DEADLINE, order.id, min(deadlines.values()))


def on_shipment(ctx: Context, order: Order) -> None:
    """Shipped in time for every promise: nothing can be late any more."""
    assert order.shipped_at is not None
    deadlines = deadlines_of(ctx, order)
    if deadlines and order.shipped_at <= min(deadlines.values()):
        cancel_timer(ctx, SHIPPING_DEADLINE, order.id, "shipped in time")


def on_deadline(ctx: Context, timer: DueTimer) -> str:
    """Timer (order locked): compensate each promise broken by the due instant; wait for
    the next promise if one is still running."""
    order = repositories.get_order(ctx.connection, timer.subject_id, for_update=True)
    if order.state in (OrderState.CANCELLED, OrderState.REFUNDED) or order.paid_at is None:
        return f"skipped: order is {order.state.value}"
    deadlines = deadlines_of(ctx, order)
    late = [
        sub
        for sub in order.open_sub_orders()
        if sub.id in deadlines
        and deadlines[sub.id] <= timer.due_at
        and late_shipment(
            paid_at=order.paid_at,
            shipped_at=order.shipped_at,
            commitment_hours=_promise_hours(ctx, order, sub),
            now=timer.due_at,
        )
        and not has_decision(ctx.connection, LATE_SHIPMENT, sub.id)
    ]
    paid = [_compensate(ctx, order, sub, deadlines[sub.id]) for sub in late]
    later = [due for due in deadlines.values() if due > timer.due_at]
    if later and order.shipped_at is None:
        schedule_timer(ctx, SHIPPING_DEADLINE, order.id, min(later))
    return f"late: {len(paid)} sub-order(s), {format_fen(sum(paid))} to the buyer"


def _compensate(ctx: Context, order: Order, sub: SubOrder, deadline: datetime) -> int:
    assert order.paid_rulebook_id is not None
    decision = late_shipment_compensation(
        sub_order_id=sub.id,
        buyer_id=order.buyer_id,
        merchant_id=order.merchant_id,
        sub_order_goods_fen=sub.goods_fen,
        rulebook=ctx.rulebooks.by_id(order.paid_rulebook_id),
    )
    decision = replace(decision, details={**decision.details, "deadline": deadline.isoformat()})
    decision_ref = record_decision(ctx, decision, deadline, order.id)
    if decision.amount_fen <= 0:
        return 0
    buyer = party("buyer", order.buyer_id)
    lock_accounts(
        ctx.connection,
        [*merchant_accounts(order.merchant_id), *instructions.party_accounts(buyer)],
        ctx.now(),
    )
    take_from_merchant(
        ctx,
        order.merchant_id,
        decision.amount_fen,
        accounts.buyer_payable(order.buyer_id),
        f"late-shipment:{sub.id}",
        "compensation",
        deadline,
        order.id,
        decision_ref,
    )
    instructions.instruct(
        ctx,
        kind=instructions.COMPENSATION,
        party=buyer,
        amount_fen=decision.amount_fen,
        occurred_at=deadline,
        rule_ids=decision.rule_ids,
        explanation=f"pay buyer {order.buyer_id} {format_fen(decision.amount_fen)} for the "
        f"late shipment of {sub.id}",
        order_id=order.id,
        details={"decision_id": decision_ref},
    )
    return decision.amount_fen
