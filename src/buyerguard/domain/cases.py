"""After-sales cases: what a buyer asks for after shipment, who must answer, and what follows.

A case keeps three things apart (policies.md §2–§8): where the goods are
(`Goods`), where the decision stands (`CaseState`) and — in the ledger, not
here — what is owed and what was paid. Every action is checked against the
state it needs and the role allowed to take it; a refused action raises and
changes nothing. The rules of who may refuse (only after a negotiation
round) and how a case ends (agreement, timeout or ruling) live here; the
deadlines and the money live in the services.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from buyerguard.errors import Conflict, Forbidden, InvalidInput
from buyerguard.money import Fen, format_fen


class CaseType(StrEnum):
    REFUND_ONLY_NOT_RECEIVED = "refund_only_not_received"
    REFUND_ONLY_QUALITY = "refund_only_quality"  # received, with a quality problem 已收货仅退款
    RETURN_NO_REASON = "return_no_reason"
    RETURN_QUALITY = "return_quality"
    CUSTOM_DISPUTE = "custom_dispute"  # custom / made-to-order goods failed (§5)
    TRANSIT_CLAIM = "transit_claim"  # the merchant's claim for goods lost in transport (§7)
    FALSE_SHIPMENT = "false_shipment"  # a tracking number with no parcel (§6)

    @property
    def is_return(self) -> bool:
        return self in (CaseType.RETURN_NO_REASON, CaseType.RETURN_QUALITY)

    @property
    def claimant(self) -> str:
        """Who asks: the merchant for a transit claim, the platform for a false shipment."""
        if self is CaseType.TRANSIT_CLAIM:
            return "merchant"
        return "platform" if self is CaseType.FALSE_SHIPMENT else "buyer"


class CaseState(StrEnum):
    PENDING = "pending"  # the merchant must answer
    NEGOTIATING = "negotiating"  # the merchant offered; the buyer must answer
    ACCEPTED = "accepted"  # a return is approved: the goods must come back
    REFUSED = "refused"  # the merchant refused after negotiating; the buyer may escalate
    ESCALATED = "escalated"  # the platform must rule
    CLOSED = "closed"  # settled: by agreement, timeout or ruling
    WITHDRAWN = "withdrawn"  # the buyer withdrew

    @property
    def is_open(self) -> bool:
        return self not in (CaseState.CLOSED, CaseState.WITHDRAWN)


class Goods(StrEnum):
    WITH_BUYER = "with_buyer"
    AWAITING_PICKUP = "awaiting_pickup"
    IN_TRANSIT = "in_transit"  # picked up, or sent by the buyer
    RECEIVED_BY_MERCHANT = "received_by_merchant"
    WRONG_OR_EMPTY = "wrong_or_empty"
    SENT_BACK = "sent_back"  # closed and sent back: the return could not be resold
    NOT_RETURNED = "not_returned"  # refund-only: nothing comes back


class Outcome(StrEnum):
    AGREED = "agreed"
    GRANTED_ON_TIMEOUT = "granted_on_timeout"
    CLOSED_ON_TIMEOUT = "closed_on_timeout"
    RULED_FOR_BUYER = "ruled_for_buyer"
    RULED_FOR_MERCHANT = "ruled_for_merchant"
    RULED_FOR_PLATFORM = "ruled_for_platform"  # a merchant's transit claim refused
    WITHDRAWN = "withdrawn"


class Role(StrEnum):
    """Who acts in a case (the marketplace may act for the buyer or the merchant)."""

    BUYER = "buyer"
    MERCHANT = "merchant"
    MARKETPLACE = "marketplace"
    OPERATOR = "operator"
    SYSTEM = "system"  # a deadline


# action -> (states it may run from, roles that may take it). The marketplace reports
# facts for both parties; the operator may do everything but answer for a party.
ACTIONS: dict[str, tuple[frozenset[CaseState], frozenset[Role]]] = {
    "accept": (
        frozenset({CaseState.PENDING, CaseState.NEGOTIATING}),
        frozenset({Role.MERCHANT, Role.BUYER, Role.MARKETPLACE}),
    ),
    "offer": (
        frozenset({CaseState.PENDING}),
        frozenset({Role.MERCHANT, Role.MARKETPLACE}),
    ),
    "decline": (
        frozenset({CaseState.PENDING, CaseState.NEGOTIATING}),
        frozenset({Role.MERCHANT, Role.BUYER, Role.MARKETPLACE}),
    ),
    "handover": (frozenset({CaseState.ACCEPTED}), frozenset({Role.BUYER, Role.MARKETPLACE})),
    "pickup": (frozenset({CaseState.ACCEPTED}), frozenset({Role.MARKETPLACE})),
    "arrival": (frozenset({CaseState.ACCEPTED}), frozenset({Role.MERCHANT, Role.MARKETPLACE})),
    "inspection": (
        frozenset({CaseState.ACCEPTED}),
        frozenset({Role.MERCHANT, Role.MARKETPLACE}),
    ),
    "escalate": (
        frozenset({CaseState.REFUSED, CaseState.NEGOTIATING, CaseState.ACCEPTED}),
        frozenset({Role.BUYER, Role.MERCHANT, Role.MARKETPLACE}),
    ),
    "ruling": (frozenset({CaseState.ESCALATED}), frozenset({Role.OPERATOR})),
    # A buyer's complaint on a case the merchant has not answered; the operator may then
    # shorten the merchant's deadline (refund_only.complaint_response_hours).
    "complain": (frozenset({CaseState.PENDING}), frozenset({Role.BUYER, Role.MARKETPLACE})),
    "expedite": (frozenset({CaseState.PENDING}), frozenset({Role.OPERATOR})),
    "withdraw": (
        frozenset(
            {
                CaseState.PENDING,
                CaseState.NEGOTIATING,
                CaseState.ACCEPTED,
                CaseState.REFUSED,
                CaseState.ESCALATED,
            }
        ),
        frozenset({Role.BUYER, Role.MERCHANT, Role.MARKETPLACE}),  # the claimant's
    ),
}
CASE_ACTIONS = tuple(ACTIONS)


@dataclass(frozen=True)
class Evidence:
    """A party's evidence: where it is, its content hash, a note — kept with the transition."""

    uri: str
    sha256: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class CaseTransition:
    action: str
    actor: str
    from_state: CaseState
    to_state: CaseState
    goods_from: Goods
    goods_to: Goods
    occurred_at: datetime
    note: str | None = None
    evidence: tuple[Evidence, ...] = ()
    details: dict[str, object] = field(default_factory=dict)


@dataclass
class Case:
    id: str
    type: CaseType
    order_id: str
    sub_order_id: str
    buyer_id: str
    merchant_id: str
    opened_by: str
    opened_at: datetime
    requested_fen: Fen
    reason: str
    rulebook_id: str  # in force at the request
    trigger: str | None = None  # a custom dispute's failure (custom_compensation.triggers)
    state: CaseState = CaseState.PENDING
    goods: Goods = Goods.WITH_BUYER
    offered_fen: Fen | None = None
    agreed_fen: Fen | None = None
    negotiated: bool = False  # a round of negotiation happened: the merchant may refuse
    official_pickup: bool = False
    quick_refunded_fen: Fen = 0
    refunded_fen: Fen = 0
    compensated_fen: Fen = 0  # paid on top of refunds: §5 to the buyer, §7 to the merchant
    complained: bool = False
    outcome: Outcome | None = None
    closed_at: datetime | None = None
    transitions: list[CaseTransition] = field(default_factory=list)
    # The latest transition, recorded or new: an action dated before it is out of order.
    last_action: str | None = None
    last_moved_at: datetime | None = None

    # ------------------------------------------------------------------ checks
    def require(self, action: str, role: Role) -> None:
        states, roles = ACTIONS[action]
        if role is not Role.OPERATOR and role not in roles:
            raise Forbidden(
                "forbidden", f"a {role.value} may not send `{action}` on a case", "authorization"
            )
        if self.state not in states:
            allowed = ", ".join(sorted(state.value for state in states))
            raise Conflict(
                "illegal_case_transition",
                f"cannot {action} case {self.id} in state {self.state.value} "
                f"(allowed from: {allowed})",
                "state",
            )

    def move(
        self,
        action: str,
        actor: str,
        occurred_at: datetime,
        *,
        state: CaseState | None = None,
        goods: Goods | None = None,
        note: str | None = None,
        evidence: tuple[Evidence, ...] = (),
        **details: object,
    ) -> CaseTransition:
        """Record a transition (the state and the goods, each as it is after it)."""
        transition = CaseTransition(
            action,
            actor,
            self.state,
            state or self.state,
            self.goods,
            goods or self.goods,
            occurred_at,
            note,
            evidence,
            dict(details),
        )
        self.state, self.goods = transition.to_state, transition.goods_to
        self.transitions.append(transition)
        self.last_action, self.last_moved_at = action, occurred_at
        return transition

    def close(self, outcome: Outcome, closed_at: datetime) -> None:
        self.outcome = outcome
        self.closed_at = closed_at

    # ----------------------------------------------------------- negotiation
    def offer(self, amount_fen: Fen) -> None:
        """The merchant offers part of what was asked (the buyer keeps the goods)."""
        if not 0 < amount_fen < self.requested_fen:
            raise InvalidInput(
                "offer_out_of_range",
                f"an offer is above 0 and below the {format_fen(self.requested_fen)} asked",
                "amount",
            )
        self.offered_fen = amount_fen
        self.negotiated = True

    def require_refusable(self) -> None:
        """A merchant refuses only after a round of negotiation (policies.md §8)."""
        if not self.negotiated:
            raise Conflict(
                "refusal_before_negotiation",
                f"case {self.id}: make an offer first; a merchant refuses only after negotiating",
                "action",
            )
