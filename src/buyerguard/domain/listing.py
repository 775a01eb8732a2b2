"""The listing rules of policies.md §2, as one pure rule returning an explained Decision.

`judge_listing` reads a product and the rulebook in force when the listing (or
its change) takes effect, and answers `listing_accepted` or `listing_refused`
with every rule it applied (`rule_ids`: rulebook keys) and, for a refusal, each
breach with its code, field and rule. `check_listing` turns a refusal into the
422 the caller sees. Nothing here knows a number: the MOQ minimum, the class
lists and the shipping promises all come from the rulebook.
"""

from __future__ import annotations

from dataclasses import dataclass

from buyerguard.domain.catalog import Product, ReturnKind, TierKind, return_kind
from buyerguard.domain.decision import PLATFORM, Decision, party
from buyerguard.errors import InvalidInput
from buyerguard.rulebook import Rulebook

LISTING_ACCEPTED = "listing_accepted"
LISTING_REFUSED = "listing_refused"

MOQ_RULE = "listing.min_order_quantity"
EXCLUDED_RULE = "returns.excluded_categories"
OPTIONAL_RULE = "returns.optional_categories"
ONE_PIECE_RULE = "returns.one_piece_spot_tier_required"
SHIPPING_RULE = "shipping_commitment.promise_hours_options"


@dataclass(frozen=True)
class Breach:
    """One rule a listing breaks: what the caller sees, and the rule behind it."""

    code: str
    field: str
    rule_id: str
    message: str


def _class_rules(product: Product, rulebook: Rulebook) -> tuple[list[str], list[Breach], str]:
    """The return-class rules: (rule ids applied, breaches, what was found)."""
    kind = return_kind(product.return_class, rulebook)
    if kind is None:
        known = [*rulebook.returns.excluded_categories, *rulebook.returns.optional_categories]
        breach = Breach(
            "return_class_unknown",
            "return_class",
            EXCLUDED_RULE,
            f"return_class {product.return_class!r} is not a class of rulebook {rulebook.id}: "
            f"one of mandatory, {', '.join(known)}",
        )
        return [EXCLUDED_RULE, OPTIONAL_RULE], [breach], "unknown return class"
    if kind is ReturnKind.EXCLUDED:
        breaches = [
            Breach(
                "seven_day_returns_excluded_class",
                f"tiers[{index}].seven_day_returns",
                EXCLUDED_RULE,
                f"{product.return_class} is an excluded class: its {tier.kind.value} tier "
                "cannot offer 7-day no-reason returns",
            )
            for index, tier in enumerate(product.tiers)
            if tier.seven_day_returns
        ]
        return [EXCLUDED_RULE], breaches, f"{product.return_class} is excluded: no 7-day returns"
    if kind is ReturnKind.OPTIONAL:
        return [OPTIONAL_RULE], [], f"{product.return_class} is optional: the merchant's choice"
    return _mandatory_rules(product, rulebook)


def _mandatory_rules(product: Product, rulebook: Rulebook) -> tuple[list[str], list[Breach], str]:
    """A mandatory class: a one-piece offer's spot tier must offer 7-day returns (when in force)."""
    spot_index = next(
        (index for index, tier in enumerate(product.tiers) if tier.kind is TierKind.SPOT), None
    )
    if not rulebook.returns.one_piece_spot_tier_required:
        return [ONE_PIECE_RULE], [], "mandatory class; the one-piece spot rule is not in force"
    if spot_index is None or not product.one_piece:
        return [ONE_PIECE_RULE], [], "mandatory class; not a one-piece spot offer"
    if product.tiers[spot_index].seven_day_returns:
        return [ONE_PIECE_RULE], [], "mandatory class, one-piece spot tier offers 7-day returns"
    how = ", ".join(sorted(form.value for form in product.one_piece_forms)) or "spot MOQ 1"
    breach = Breach(
        "spot_tier_seven_day_returns_required",
        f"tiers[{spot_index}].seven_day_returns",
        ONE_PIECE_RULE,
        f"{product.id} can be bought one piece at a time ({how}) in a mandatory class: its "
        f"spot tier must offer 7-day no-reason returns (rulebook {rulebook.id})",
    )
    return [ONE_PIECE_RULE], [breach], "mandatory class, one-piece spot tier lacks 7-day returns"


def judge_listing(product: Product, rulebook: Rulebook) -> Decision:
    """Accept or refuse a listing under `rulebook`, saying which rules decided and why."""
    minimum = rulebook.listing.min_order_quantity
    breaches = [
        Breach(
            "moq_below_minimum",
            f"tiers[{index}].moq",
            MOQ_RULE,
            f"{tier.kind.value} tier: moq {tier.moq} is below the minimum {minimum} of "
            f"rulebook {rulebook.id}",
        )
        for index, tier in enumerate(product.tiers)
        if tier.moq < minimum
    ]
    rule_ids = [MOQ_RULE]
    reasons = [f"every tier's MOQ must be at least {minimum}"]
    class_rule_ids, class_breaches, class_reason = _class_rules(product, rulebook)
    rule_ids += class_rule_ids
    breaches += class_breaches
    reasons.append(class_reason)
    hours = product.shipping_commitment_hours
    if hours is not None:
        rule_ids.append(SHIPPING_RULE)
        options = rulebook.shipping_commitment.promise_hours_options
        if hours not in options:
            breaches.append(
                Breach(
                    "shipping_commitment_unknown",
                    "shipping_commitment_hours",
                    SHIPPING_RULE,
                    f"spot goods promise to ship within one of {options} hours, not {hours}",
                )
            )
        reasons.append(f"spot goods ship within {hours} h")
    refused = bool(breaches)
    explanation = "; ".join([breach.message for breach in breaches] if refused else reasons)
    return Decision(
        kind=LISTING_REFUSED if refused else LISTING_ACCEPTED,
        subject_id=product.id,
        amount_fen=0,
        payer=party("merchant", product.merchant_id),
        payee=PLATFORM,
        rule_ids=tuple(rule_ids),
        rulebook_id=rulebook.id,
        explanation=explanation,
        details={
            "breaches": [
                {"code": b.code, "field": b.field, "rule_id": b.rule_id, "message": b.message}
                for b in breaches
            ]
        },
    )


def check_listing(product: Product, rulebook: Rulebook) -> Decision:
    """The accepting Decision, or a 422 naming the first breach, its rule and rulebook."""
    decision = judge_listing(product, rulebook)
    if decision.kind == LISTING_REFUSED:
        breaches = decision.details["breaches"]
        assert isinstance(breaches, list)
        first = breaches[0]
        message = f"{first['message']} (rule {first['rule_id']}, rulebook {rulebook.id})"
        raise InvalidInput(first["code"], message, first["field"])
    return decision
