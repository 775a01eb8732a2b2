"""Technical service fee 技术服务费 (policies.md §1).

fee = min(cap, round_half_up(rate x (goods paid - goods refunded))), shipping
never counted, under the rulebook in force at payment. Before 2024-09-13 the
fee was Anxingou's: uncapped and only for merchants on it; from then on the
capped buyer-protection fee for merchants with that service, Anxingou
merchants moved over. Which applies is read from the rulebook
(`fees.required_service`, `fees.services_moved_over`, `fees.cap_enabled`),
never from a date in code.
"""

from __future__ import annotations

from dataclasses import dataclass

from buyerguard.domain.decision import PLATFORM, Decision, party
from buyerguard.money import Fen, apply_rate, format_fen
from buyerguard.rulebook import Rulebook

FEE_CHARGED = "fee_charged"
SERVICE_ENROLLED = "service_enrolled"


@dataclass(frozen=True)
class FeeFacts:
    """What the fee rule needs to know about one sub-order."""

    sub_order_id: str
    merchant_id: str
    goods_paid_fen: Fen
    goods_refunded_fen: Fen
    entrusted: bool
    refunded_before_shipment: bool
    merchant_services_at_payment: frozenset[str]


def services_moved_over(services: frozenset[str], rulebook: Rulebook) -> list[str]:
    """The merchant's services that enrol it in the required one (Anxingou from 2024-09-13)."""
    rules = rulebook.fees
    if rules.required_service in services:
        return []
    return sorted(set(rules.services_moved_over) & services)


def enrolment_at_payment(
    merchant_id: str, services: frozenset[str], rulebook: Rulebook
) -> Decision | None:
    """The merchant is enrolled in the required service by a service that moved over.

    policies.md timeline, 2024-09-13: Anxingou stops and its merchants move over
    to buyer protection without paying twice. Recorded once per merchant, at the
    first payment under a rulebook that moves its service over.
    """
    moved = services_moved_over(services, rulebook)
    if not moved:
        return None
    required = rulebook.fees.required_service
    return Decision(
        kind=SERVICE_ENROLLED,
        subject_id=f"{merchant_id}:{required}",
        amount_fen=0,
        payer=party("merchant", merchant_id),
        payee=PLATFORM,
        rule_ids=("fees.services_moved_over", "fees.required_service"),
        rulebook_id=rulebook.id,
        explanation=f"merchant on {', '.join(moved)} is enrolled in {required}",
        details={"moved_over": moved, "enrolled_in": required},
    )


def technical_service_fee(facts: FeeFacts, rulebook: Rulebook) -> Decision:
    """Decide the fee of one sub-order under the rulebook in force at its payment."""
    rules = rulebook.fees

    def decide(amount_fen: Fen, rule_ids: tuple[str, ...], explanation: str) -> Decision:
        return Decision(
            kind=FEE_CHARGED,
            subject_id=facts.sub_order_id,
            amount_fen=amount_fen,
            payer=party("merchant", facts.merchant_id),
            payee=PLATFORM,
            rule_ids=rule_ids,
            rulebook_id=rulebook.id,
            explanation=explanation,
            details={
                "goods_paid_fen": facts.goods_paid_fen,
                "goods_refunded_fen": facts.goods_refunded_fen,
            },
        )

    if facts.entrusted and rules.entrusted_goods_exempt:
        return decide(0, ("fees.entrusted_goods_exempt",), "entrusted goods pay no fee")
    fully_refunded = facts.goods_refunded_fen >= facts.goods_paid_fen
    if facts.refunded_before_shipment and fully_refunded and rules.refunded_before_shipment_exempt:
        return decide(
            0, ("fees.refunded_before_shipment_exempt",), "refunded in full before shipment"
        )
    services = facts.merchant_services_at_payment
    moved = services_moved_over(services, rulebook)
    if rules.required_service not in services and not moved:
        return decide(
            0,
            ("fees.required_service",),
            f"merchant was not on {rules.required_service} at payment",
        )
    base_fen = max(facts.goods_paid_fen - facts.goods_refunded_fen, 0)
    uncapped_fen = apply_rate(base_fen, rules.rate)
    rule_ids: tuple[str, ...] = ("fees.rate", "fees.required_service")
    explanation = f"{rules.rate} x {format_fen(base_fen)} = {format_fen(uncapped_fen)}"
    if moved:
        rule_ids += ("fees.services_moved_over",)
        explanation += f" ({', '.join(moved)} moved over to {rules.required_service})"
    if rules.cap_enabled:
        rule_ids += ("fees.cap_enabled", "fees.cap_yuan")
        if uncapped_fen > rules.cap_fen:
            explanation += f", capped at {format_fen(rules.cap_fen)}"
            return decide(rules.cap_fen, rule_ids, explanation)
    return decide(uncapped_fen, rule_ids, explanation)
