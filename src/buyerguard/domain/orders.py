"""Orders and their lifecycle: the spine every programme hangs on.

An order belongs to one merchant and one buyer and holds one sub-order per
product line. It moves placed -> paid -> shipped -> signed -> confirmed ->
completed, or ends cancelled (before payment) or refunded (every sub-order
refunded before shipment). Each command checks the state it needs and raises
`IllegalTransition` naming the state and the command otherwise: a repeated or
out-of-order fact is never silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from buyerguard.errors import Conflict, InvalidInput
from buyerguard.money import Fen, format_fen


class OrderState(StrEnum):
    PLACED = "placed"
    PAID = "paid"
    SHIPPED = "shipped"
    SIGNED = "signed"
    CONFIRMED = "confirmed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


class ConfirmedBy(StrEnum):
    BUYER = "buyer"
    AUTOMATIC = "automatic"


# command -> states it may run from
ALLOWED_FROM: dict[str, frozenset[OrderState]] = {
    "pay": frozenset({OrderState.PLACED}),
    "cancel": frozenset({OrderState.PLACED}),
    "refund_before_shipment": frozenset({OrderState.PAID}),
    "ship": frozenset({OrderState.PAID}),
    "sign": frozenset({OrderState.SHIPPED}),
    "confirm": frozenset({OrderState.SIGNED}),
    "complete": frozenset({OrderState.CONFIRMED}),
    # After shipment a sub-order can still carry refunds, compensation and clawbacks,
    # up to what was paid (an operator's adjustment now; after-sales cases later).
    "refund_after_shipment": frozenset(
        {OrderState.SHIPPED, OrderState.SIGNED, OrderState.CONFIRMED, OrderState.COMPLETED}
    ),
    "adjust": frozenset(
        {
            OrderState.PAID,
            OrderState.SHIPPED,
            OrderState.SIGNED,
            OrderState.CONFIRMED,
            OrderState.COMPLETED,
            OrderState.REFUNDED,
        }
    ),
}
RELEASED_STATES = frozenset({OrderState.CONFIRMED, OrderState.COMPLETED})


class IllegalTransition(Conflict):
    def __init__(self, order_id: str, state: OrderState, command: str) -> None:
        allowed = ", ".join(sorted(ALLOWED_FROM[command]))
        super().__init__(
            "illegal_transition",
            f"cannot {command.replace('_', ' ')} order {order_id} in state {state.value} "
            f"(allowed from: {allowed})",
            "state",
        )


@dataclass
class SubOrder:
    """One product line; the unit fees and refunds are decided on."""

    id: str
    order_id: str
    line_no: int
    product_id: str
    quantity: int
    unit_price_fen: Fen
    goods_fen: Fen
    entrusted: bool
    refunded_fen: Fen = 0
    refunded_before_shipment: bool = False
    fee_fen: Fen | None = None
    tier: str = "spot"  # the tier the line bought (domain/catalog.TierKind)
    # What it was sold under, from its payment on (domain/sale_terms.py); never rewritten
    # nor changed in place (read-only: the store's loaded copy shares it).
    terms_at_payment: Mapping[str, object] | None = None

    @property
    def settled_goods_fen(self) -> Fen:
        """Goods money the merchant keeps: paid minus refunded."""
        return self.goods_fen - self.refunded_fen


@dataclass(frozen=True)
class Transition:
    """A recorded state change, for the order's history and the audit trail."""

    order_id: str
    command: str
    from_state: OrderState
    to_state: OrderState
    occurred_at: datetime


@dataclass
class Order:
    id: str
    buyer_id: str
    merchant_id: str
    destination_region: str
    shipping_fen: Fen
    sub_orders: list[SubOrder]
    placed_at: datetime
    state: OrderState = OrderState.PLACED
    paid_at: datetime | None = None
    paid_rulebook_id: str | None = None
    merchant_services_at_payment: tuple[str, ...] = ()
    shipped_at: datetime | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    official_logistics: bool = False
    signed_at: datetime | None = None
    confirmed_at: datetime | None = None
    confirmed_by: ConfirmedBy | None = None
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    refunded_at: datetime | None = None
    # The latest refund before shipment, whole or in part (kept by the decisions, not a
    # column): no later fact may be dated before it.
    last_refund_at: datetime | None = None
    transitions: list[Transition] = field(default_factory=list)

    # ------------------------------------------------------------------ helpers
    @property
    def goods_fen(self) -> Fen:
        return sum(sub.goods_fen for sub in self.sub_orders)

    @property
    def total_fen(self) -> Fen:
        """What the buyer pays: goods plus shipping."""
        return self.goods_fen + self.shipping_fen

    def sub_order(self, sub_order_id: str, *, field: str = "sub_order_ids") -> SubOrder:
        for sub in self.sub_orders:
            if sub.id == sub_order_id:
                return sub
        raise InvalidInput(
            "unknown_sub_order", f"order {self.id} has no sub-order {sub_order_id}", field
        )

    def open_sub_orders(self) -> list[SubOrder]:
        return [sub for sub in self.sub_orders if not sub.refunded_before_shipment]

    def _require(self, command: str) -> None:
        if self.state not in ALLOWED_FROM[command]:
            raise IllegalTransition(self.id, self.state, command)

    def _move(self, command: str, to_state: OrderState, occurred_at: datetime) -> Transition:
        transition = Transition(self.id, command, self.state, to_state, occurred_at)
        self.state = to_state
        self.transitions.append(transition)
        return transition

    @staticmethod
    def _latest(*instants: datetime | None) -> datetime | None:
        known = [instant for instant in instants if instant is not None]
        return max(known) if known else None

    def _not_before(self, previous: datetime | None, occurred_at: datetime, what: str) -> None:
        if previous is not None and occurred_at < previous:
            raise InvalidInput(
                "occurred_before_previous_fact",
                f"{what} at {occurred_at.isoformat()} is before the order's previous fact "
                f"at {previous.isoformat()}",
                "occurred_at",
            )

    # ----------------------------------------------------------------- commands
    def pay(
        self,
        amount_fen: Fen,
        occurred_at: datetime,
        rulebook_id: str,
        merchant_services: tuple[str, ...],
    ) -> Transition:
        self._require("pay")
        self._not_before(self.placed_at, occurred_at, "payment")
        if amount_fen != self.total_fen:
            raise InvalidInput(
                "amount_mismatch",
                f"paid {format_fen(amount_fen)} but order {self.id} totals "
                f"{format_fen(self.total_fen)} (goods {format_fen(self.goods_fen)} + shipping "
                f"{format_fen(self.shipping_fen)})",
                "amount",
            )
        self.paid_at = occurred_at
        self.paid_rulebook_id = rulebook_id
        self.merchant_services_at_payment = tuple(sorted(merchant_services))
        return self._move("pay", OrderState.PAID, occurred_at)

    def cancel(self, occurred_at: datetime) -> Transition:
        self._require("cancel")
        self._not_before(self.placed_at, occurred_at, "cancellation")
        self.cancelled_at = occurred_at
        return self._move("cancel", OrderState.CANCELLED, occurred_at)

    def refund_before_shipment(
        self,
        sub_order_ids: list[str] | None,
        occurred_at: datetime,
        amounts_fen: dict[str, Fen] | None = None,
    ) -> tuple[list[tuple[SubOrder, Fen]], Transition | None]:
        """Refund before shipment: whole sub-orders (None: all still open), or parts of them.

        `amounts_fen` refunds part of what each named sub-order still holds; a
        sub-order refunded down to nothing is refunded in full. Returns each
        sub-order with the amount refunded now; refunding the last open one
        refunds the order.
        """
        self._require("refund_before_shipment")
        self._not_before(self._latest(self.paid_at, self.last_refund_at), occurred_at, "refund")
        if amounts_fen is not None and sub_order_ids is not None:
            raise InvalidInput(
                "refund_ambiguous",
                "name sub_order_ids (whole sub-orders) or amounts (parts), not both",
                "amounts",
            )
        if (sub_order_ids is not None and not sub_order_ids) or amounts_fen == {}:
            named = "sub_order_ids" if amounts_fen is None else "amounts"
            raise InvalidInput(
                "sub_order_ids_empty",
                f"name at least one sub-order, or leave {named} out to refund them all",
                named,
            )
        if amounts_fen is not None:
            targets = [
                (self.sub_order(sub_id, field="amounts"), amount)
                for sub_id, amount in amounts_fen.items()
            ]
        else:
            chosen = (
                self.open_sub_orders()
                if sub_order_ids is None
                else [self.sub_order(sub_id) for sub_id in dict.fromkeys(sub_order_ids)]
            )
            targets = [(sub, sub.settled_goods_fen) for sub in chosen]
        for sub, amount_fen in targets:
            if sub.refunded_before_shipment:
                raise Conflict(
                    "already_refunded",
                    f"sub-order {sub.id} is already refunded",
                    "sub_order_ids" if amounts_fen is None else "amounts",
                )
            if amount_fen <= 0:
                raise InvalidInput(
                    "amount_not_positive", f"refund of {sub.id} must be above 0", "amounts"
                )
            if amount_fen > sub.settled_goods_fen:
                raise InvalidInput(
                    "refund_exceeds_remaining",
                    f"sub-order {sub.id} holds {format_fen(sub.settled_goods_fen)}, "
                    f"less than {format_fen(amount_fen)}",
                    "amounts",
                )
        for sub, amount_fen in targets:
            sub.refunded_fen += amount_fen
            sub.refunded_before_shipment = sub.refunded_fen == sub.goods_fen
        self.last_refund_at = occurred_at
        if self.open_sub_orders():
            return targets, None
        self.refunded_at = occurred_at
        return targets, self._move("refund_before_shipment", OrderState.REFUNDED, occurred_at)

    @property
    def released(self) -> bool:
        """Receipt was confirmed: the sub-orders' money is the merchant's (less refunds)."""
        return self.state in RELEASED_STATES

    def require_adjustable(self) -> None:
        """Money may still move on the order: it was paid (an operator's adjustment)."""
        self._require("adjust")

    def refund_after_shipment(self, sub_order_id: str, amount_fen: Fen) -> SubOrder:
        """Refund part or all of a shipped sub-order's goods; the state does not move (the
        goods are with the buyer or on their way back). Returns the sub-order."""
        self._require("refund_after_shipment")
        sub = self.sub_order(sub_order_id, field="sub_order_id")
        if amount_fen <= 0:
            raise InvalidInput("amount_not_positive", "a refund must be above 0", "amount")
        if amount_fen > sub.settled_goods_fen:
            raise InvalidInput(
                "refund_exceeds_remaining",
                f"sub-order {sub.id} may still be refunded {format_fen(sub.settled_goods_fen)}, "
                f"less than {format_fen(amount_fen)}",
                "amount",
            )
        sub.refunded_fen += amount_fen
        return sub

    def ship(
        self, carrier: str, tracking_number: str, official_logistics: bool, occurred_at: datetime
    ) -> Transition:
        self._require("ship")
        self._not_before(self._latest(self.paid_at, self.last_refund_at), occurred_at, "shipment")
        if not carrier.strip():
            raise InvalidInput("carrier_missing", "carrier must not be empty", "carrier")
        if not tracking_number.strip():
            raise InvalidInput(
                "tracking_number_missing", "tracking_number must not be empty", "tracking_number"
            )
        self.shipped_at = occurred_at
        self.carrier = carrier.strip()
        self.tracking_number = tracking_number.strip()
        self.official_logistics = official_logistics
        return self._move("ship", OrderState.SHIPPED, occurred_at)

    def sign(self, occurred_at: datetime) -> Transition:
        self._require("sign")
        self._not_before(self.shipped_at, occurred_at, "signing")
        self.signed_at = occurred_at
        return self._move("sign", OrderState.SIGNED, occurred_at)

    def confirm(self, occurred_at: datetime, by: ConfirmedBy) -> Transition:
        self._require("confirm")
        self._not_before(self.signed_at, occurred_at, "confirmation")
        self.confirmed_at = occurred_at
        self.confirmed_by = by
        return self._move("confirm", OrderState.CONFIRMED, occurred_at)

    def complete(self, occurred_at: datetime) -> Transition:
        self._require("complete")
        self._not_before(self.confirmed_at, occurred_at, "completion")
        self.completed_at = occurred_at
        return self._move("complete", OrderState.COMPLETED, occurred_at)
