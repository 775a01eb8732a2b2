"""Order command handlers: place, pay, ship, sign, confirm, cancel, refund, complete.

Each handler loads the order (locking it), checks who may act, runs the
domain transition, settles the money, schedules or cancels timers, and writes
the audit record, all on the caller's transaction.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from buyerguard.clock import format_instant, window_end_after_day
from buyerguard.domain.catalog import tier_for_line
from buyerguard.domain.decision import Decision, party
from buyerguard.domain.fees import enrolment_at_payment
from buyerguard.domain.orders import ConfirmedBy, Order, OrderState, SubOrder
from buyerguard.errors import Conflict, InvalidInput, NotFound
from buyerguard.money import MAX_FEN, Fen, format_fen, require_fen
from buyerguard.services import settlement, shipping_promises
from buyerguard.services.context import Context, Role
from buyerguard.services.open_matters import held_outcome, open_matters
from buyerguard.services.records import (
    audit,
    has_decision,
    latest_decision_at,
    record_decision,
)
from buyerguard.services.refund_steps import REFUND_DUE
from buyerguard.services.sale_terms import terms_at_payment
from buyerguard.services.timers import (
    DueTimer,
    cancel_timer,
    pending_timers_of,
    schedule_timer,
    settle_subject,
)
from buyerguard.store import repositories

AUTO_CONFIRM = "order.auto_confirm"
COMPLETE = "order.complete"
# api/schemas.NEW_ID_PATTERN, 1-48 long: not dots only (`.` and `..` name no URL path segment).
_ID_PATTERN = re.compile(r"[A-Za-z0-9_.-]*[A-Za-z0-9_-][A-Za-z0-9_.-]*")
_ID_MAX_LENGTH = 48


def new_id(prefix: str, requested: str | None, field: str = "id") -> str:
    """The caller's id when given (validated), else a fresh random one."""
    if requested is None:
        return f"{prefix}_{secrets.token_hex(8)}"
    return require_id(requested, field)


def require_id(requested: str, field: str) -> str:
    """An id the caller names for something we key by it (an account's party, a URL path):
    1-48 of A-Z a-z 0-9 _ . -, not dots only; else `422 id_malformed` naming `field`."""
    if len(requested) > _ID_MAX_LENGTH or not _ID_PATTERN.fullmatch(requested):
        raise InvalidInput(
            "id_malformed",
            f"{field} must be 1-48 of A-Z a-z 0-9 _ . -, not dots only: {requested!r}",
            field,
        )
    return requested


@dataclass(frozen=True)
class OrderLine:
    product_id: str
    quantity: int
    unit_price_fen: Fen | None = None
    tier: str | None = None  # None: the spot tier, else the product's only tier


@dataclass(frozen=True)
class PlaceOrder:
    buyer_id: str
    lines: tuple[OrderLine, ...]
    shipping_fen: Fen = 0
    address_index: int = 0
    order_id: str | None = None
    occurred_at: datetime | None = None


def _too_large(what: str, field: str) -> InvalidInput:
    return InvalidInput(
        "amount_too_large", f"{what} exceed the largest amount ({format_fen(MAX_FEN)})", field
    )


def order_not_found(order_id: str) -> NotFound:
    return NotFound("order_not_found", f"no order {order_id}", "order_id")


def load_visible_order(ctx: Context, order_id: str, *, for_update: bool = False) -> Order:
    """The order, if the actor may see it; someone else's order does not exist."""
    order = repositories.get_order(ctx.connection, order_id, for_update=for_update)
    ctx.require_party(Role.MERCHANT, order.merchant_id, order_not_found(order_id))
    ctx.require_party(Role.BUYER, order.buyer_id, order_not_found(order_id))
    return order


def load_for_fact(ctx: Context, order_id: str) -> tuple[Order, datetime]:
    """Lock the order a fact is about and hold back its timers until the facts settle.

    Returns the order and the instant its facts settle (`orders.fact_settling_seconds`
    after this one arrived): no timer of the order runs before it.
    """
    order = load_visible_order(ctx, order_id, for_update=True)
    if any(sub.refunded_fen for sub in order.sub_orders):  # else there is none to look up
        order.last_refund_at = latest_decision_at(ctx.connection, order.id, REFUND_DUE)
    settling = timedelta(
        seconds=ctx.rulebook_at(ctx.now(), field=None).orders.fact_settling_seconds
    )
    return order, settle_subject(ctx, order.id, settling)


def place_order(ctx: Context, command: PlaceOrder) -> Order:
    ctx.require_role("place orders", Role.MARKETPLACE, Role.BUYER)
    ctx.require_party(
        Role.BUYER, command.buyer_id, NotFound("buyer_not_found", "no such buyer", "buyer_id")
    )
    occurred_at = ctx.occurred_at(command.occurred_at)
    if not command.lines:
        raise InvalidInput("lines_missing", "an order needs at least one line", "lines")
    require_fen(command.shipping_fen, field="shipping", allow_negative=False)
    buyer = repositories.get_buyer(ctx.connection, command.buyer_id)
    if not 0 <= command.address_index < len(buyer.addresses):
        raise InvalidInput(
            "address_unknown",
            f"buyer {buyer.id} has no address #{command.address_index}",
            "address_index",
        )
    order_id = new_id("ord", command.order_id, "order_id")
    subs: list[SubOrder] = []
    merchant_ids = set()
    goods_total_fen = 0
    product_ids = [line.product_id for line in command.lines]
    listed = repositories.products_as_of(ctx.connection, product_ids, occurred_at)
    for line_no, line in enumerate(command.lines, start=1):
        field = f"lines[{line_no - 1}]"
        product = listed.get(line.product_id)
        if product is None:
            raise NotFound("product_not_found", f"no product {line.product_id}", "product_id")
        merchant_ids.add(product.merchant_id)
        tier = tier_for_line(product, line.tier, f"{field}.tier")
        if line.quantity < tier.moq:
            raise InvalidInput(
                "below_moq",
                f"quantity {line.quantity} of {product.id} is below the MOQ {tier.moq} of its "
                f"{tier.kind.value} tier",
                f"{field}.quantity",
            )
        # The marketplace is authoritative: its unit_price stands; the tier's price otherwise.
        unit_price_fen = tier.price_fen if line.unit_price_fen is None else line.unit_price_fen
        if unit_price_fen <= 0:
            raise InvalidInput("price_not_positive", "unit price must be above 0", field)
        goods_fen = unit_price_fen * line.quantity
        if goods_fen > MAX_FEN:
            raise _too_large(f"line {line_no}'s goods", field)
        goods_total_fen += goods_fen
        subs.append(
            SubOrder(
                id=f"{order_id}-{line_no}",
                order_id=order_id,
                line_no=line_no,
                product_id=product.id,
                quantity=line.quantity,
                unit_price_fen=unit_price_fen,
                goods_fen=goods_fen,
                entrusted=product.entrusted,
                tier=tier.kind.value,
            )
        )
    if goods_total_fen > MAX_FEN:
        raise _too_large("the order's goods", "lines")
    if goods_total_fen + command.shipping_fen > MAX_FEN:
        raise _too_large("goods plus shipping", "shipping")
    if len(merchant_ids) != 1:
        raise InvalidInput(
            "mixed_merchants", "an order's products must all belong to one merchant", "lines"
        )
    order = Order(
        id=order_id,
        buyer_id=buyer.id,
        merchant_id=merchant_ids.pop(),
        destination_region=buyer.addresses[command.address_index].district_code,
        shipping_fen=command.shipping_fen,
        sub_orders=subs,
        placed_at=occurred_at,
    )
    repositories.add_order(ctx.connection, order)
    audit(ctx, "place_order", order.id, occurred_at, total_fen=order.total_fen)
    return order


def _finish(
    ctx: Context, order: Order, command: str, occurred_at: datetime, **details: object
) -> Order:
    repositories.save_order(ctx.connection, order, ctx.actor.label, ctx.now())
    audit(ctx, command, order.id, occurred_at, **details)
    return order


def pay_order(
    ctx: Context, order_id: str, amount_fen: Fen, occurred_at: datetime | None = None
) -> Order:
    ctx.require_role("report payments", Role.MARKETPLACE)
    order, _ = load_for_fact(ctx, order_id)
    when = ctx.occurred_at(occurred_at)
    rulebook = ctx.rulebook_at(when, field="occurred_at")
    terms = terms_at_payment(ctx, order, when, rulebook)  # the catalogue as of `when`
    order.pay(amount_fen, when, rulebook.id, terms.merchant_services)
    for sub in order.sub_orders:
        sub.terms_at_payment = terms.by_sub_order[sub.id]
    settlement.hold_payment(ctx, order, rulebook, when)
    shipping_promises.on_payment(ctx, order)
    services = frozenset(terms.merchant_services)
    enrolment = enrolment_at_payment(order.merchant_id, services, rulebook)
    if enrolment is not None and not has_decision(
        ctx.connection, enrolment.kind, enrolment.subject_id
    ):
        record_decision(ctx, enrolment, when, order.id)  # once per merchant
    return _finish(ctx, order, "pay_order", when, amount_fen=amount_fen)


def cancel_order(ctx: Context, order_id: str, occurred_at: datetime | None = None) -> Order:
    ctx.require_role("cancel orders", Role.MARKETPLACE, Role.BUYER)
    order, _ = load_for_fact(ctx, order_id)
    when = ctx.occurred_at(occurred_at)
    order.cancel(when)
    return _finish(ctx, order, "cancel_order", when)


def refund_before_shipment(
    ctx: Context,
    order_id: str,
    sub_order_ids: list[str] | None = None,
    occurred_at: datetime | None = None,
    amounts_fen: dict[str, Fen] | None = None,
) -> Order:
    """Refund whole sub-orders, or parts of them (`amounts_fen`), before shipment."""
    ctx.require_role("refund orders", Role.MARKETPLACE, Role.BUYER)
    order, _ = load_for_fact(ctx, order_id)
    when = ctx.occurred_at(occurred_at)
    refunds, _ = order.refund_before_shipment(sub_order_ids, when, amounts_fen)
    settlement.refund_sub_orders(
        ctx, order, refunds, ctx.rulebook_at(when, field="occurred_at"), when
    )
    return _finish(
        ctx,
        order,
        "refund_before_shipment",
        when,
        refunds_fen={sub.id: amount_fen for sub, amount_fen in refunds},
    )


def ship_order(
    ctx: Context,
    order_id: str,
    carrier: str,
    tracking_number: str,
    official_logistics: bool,
    occurred_at: datetime | None = None,
) -> Order:
    ctx.require_role("report shipments", Role.MARKETPLACE, Role.MERCHANT)
    order, _ = load_for_fact(ctx, order_id)
    when = ctx.occurred_at(occurred_at)
    order.ship(carrier, tracking_number, official_logistics, when)
    shipping_promises.on_shipment(ctx, order)
    return _finish(ctx, order, "ship_order", when, carrier=carrier, tracking_number=tracking_number)


def sign_order(ctx: Context, order_id: str, occurred_at: datetime | None = None) -> Order:
    ctx.require_role("report signing", Role.MARKETPLACE)
    order, settles_at = load_for_fact(ctx, order_id)
    when = ctx.occurred_at(occurred_at)
    order.sign(when)
    rulebook = ctx.rulebook_at(when, field="occurred_at")
    due_at = when + timedelta(days=rulebook.orders.auto_confirm_after_signing_days)
    schedule_timer(ctx, AUTO_CONFIRM, order.id, due_at, not_before=settles_at)
    return _finish(ctx, order, "sign_order", when, auto_confirm_due_at=due_at.isoformat())


def _confirm(
    ctx: Context,
    order: Order,
    when: datetime,
    by: ConfirmedBy,
    settles_at: datetime | None = None,
) -> Order:
    order.confirm(when, by)
    settlement.release_on_confirmation(ctx, order, when)
    assert order.signed_at is not None
    signed_rulebook = ctx.rulebook_at(order.signed_at, field=None)
    window_end = window_end_after_day(order.signed_at, signed_rulebook.returns.window_days)
    schedule_timer(ctx, COMPLETE, order.id, max(when, window_end), not_before=settles_at)
    return _finish(ctx, order, "confirm_order", when, confirmed_by=by.value)


def confirm_order(ctx: Context, order_id: str, occurred_at: datetime | None = None) -> Order:
    """The buyer confirms receipt (or the marketplace reports that it did)."""
    ctx.require_role("confirm receipt", Role.MARKETPLACE, Role.BUYER)
    order, settles_at = load_for_fact(ctx, order_id)
    when = ctx.occurred_at(occurred_at)
    if order.confirmed_by is ConfirmedBy.AUTOMATIC and order.confirmed_at is not None:
        raise Conflict(
            "superseded_by_timer",
            f"receipt of {order.id} was already confirmed automatically (decision "
            f"receipt_auto_confirmed:{order.id}, as of {format_instant(order.confirmed_at)}); "
            "this confirmation arrived after the facts had settled",
            "state",
        )
    if order.state is OrderState.SIGNED:
        cancel_timer(ctx, AUTO_CONFIRM, order.id, "confirmed by the buyer")
    return _confirm(ctx, order, when, ConfirmedBy.BUYER, settles_at)


def auto_confirm(ctx: Context, timer: DueTimer) -> str:
    """Timer: confirm receipt at signing + N days, as of the due instant."""
    order_id, due_at = timer.subject_id, timer.due_at
    order = repositories.get_order(ctx.connection, order_id, for_update=True)
    if order.state is not OrderState.SIGNED:
        return f"skipped: order is {order.state.value}"
    if matters := open_matters(ctx, order):
        return held_outcome(matters, due_at)
    assert order.signed_at is not None
    rulebook = ctx.rulebook_at(order.signed_at, field=None)
    record_decision(
        ctx,
        Decision(
            kind="receipt_auto_confirmed",
            subject_id=order.id,
            amount_fen=0,
            payer=party("buyer", order.buyer_id),
            payee=party("merchant", order.merchant_id),
            rule_ids=("orders.auto_confirm_after_signing_days",),
            rulebook_id=rulebook.id,
            explanation=(
                f"receipt confirmed automatically "
                f"{rulebook.orders.auto_confirm_after_signing_days} days after signing"
            ),
        ),
        due_at,
        order.id,
    )
    _confirm(ctx, order, due_at, ConfirmedBy.AUTOMATIC)
    return "confirmed"


def complete_order(ctx: Context, timer: DueTimer) -> str:
    """Timer: the order completes once confirmed and its return window has closed."""
    order_id, due_at = timer.subject_id, timer.due_at
    order = repositories.get_order(ctx.connection, order_id, for_update=True)
    if order.state is not OrderState.CONFIRMED:
        return f"skipped: order is {order.state.value}"
    if matters := open_matters(ctx, order):
        return held_outcome(matters, due_at)
    order.complete(due_at)
    _finish(ctx, order, "complete_order", due_at)
    return "completed"


def _step_due(ctx: Context, order: Order) -> tuple[str, datetime] | None:
    """The automatic step an order waits for, and when it falls due (None: none)."""
    if order.state is OrderState.SIGNED and order.signed_at is not None:
        days = ctx.rulebook_at(order.signed_at, field=None).orders.auto_confirm_after_signing_days
        return AUTO_CONFIRM, order.signed_at + timedelta(days=days)
    if order.state is OrderState.CONFIRMED and order.confirmed_at is not None:
        assert order.signed_at is not None
        window_days = ctx.rulebook_at(order.signed_at, field=None).returns.window_days
        return COMPLETE, max(order.confirmed_at, window_end_after_day(order.signed_at, window_days))
    return None


def resume_after_matters(ctx: Context, order: Order) -> str | None:
    """Arm again the automatic step a held timer did not take, once nothing is open on the
    order (locked and saved by the caller); due when it was, or now if that has passed.
    Returns the timer's kind, if armed."""
    step = _step_due(ctx, order)
    if step is None or open_matters(ctx, order):
        return None
    kind, due_at = step
    pending = {row["kind"] for row in pending_timers_of(ctx.connection, order.id)}
    if kind in pending:
        return None
    schedule_timer(ctx, kind, order.id, max(due_at, ctx.now()))
    return kind
