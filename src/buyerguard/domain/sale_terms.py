"""What a sub-order was sold under: the snapshot taken at payment (policies.md §2, §10b).

After-sales rules judge a sub-order by the terms in force when it was paid —
the tier, the return class and its 7-day returns, the spot shipping promise,
the merchant's services — not by today's catalogue, so later edits never
change a past order. The service reads each from the change history as of the
payment's `occurred_at`; this module only shapes them.
"""

from __future__ import annotations

from datetime import datetime

from buyerguard.clock import format_instant
from buyerguard.domain.catalog import Product, ReturnKind, Tier, TierKind, return_kind
from buyerguard.domain.listing import EXCLUDED_RULE, OPTIONAL_RULE
from buyerguard.rulebook import Rulebook

SOURCE_PAYMENT = "payment"


def return_terms(product: Product, tier: Tier, rulebook: Rulebook) -> dict[str, object]:
    """Whether the sold tier offers 7-day no-reason returns, and by which rule.

    A class the rulebook lists neither as excluded nor optional is mandatory
    (§2: "every other category"); an excluded class never offers them.
    """
    kind = return_kind(product.return_class, rulebook) or ReturnKind.MANDATORY
    if kind is ReturnKind.EXCLUDED:
        return {"class_kind": kind.value, "seven_day_returns": False, "rule_id": EXCLUDED_RULE}
    rule_id = OPTIONAL_RULE if kind is ReturnKind.OPTIONAL else "returns.no_reason_mandatory"
    return {
        "class_kind": kind.value,
        "seven_day_returns": tier.seven_day_returns,
        "rule_id": rule_id,
    }


def tier_terms(tier: Tier) -> dict[str, object]:
    return {
        "kind": tier.kind.value,
        "price_fen": tier.price_fen,
        "moq": tier.moq,
        "seven_day_returns": tier.seven_day_returns,
    }


def sale_terms(
    *,
    product: Product,
    product_version: int,
    tier: Tier,
    merchant_services: tuple[str, ...],
    merchant_version: int,
    rulebook: Rulebook,
    as_of: datetime,
) -> dict[str, object]:
    """The snapshot a sub-order keeps from its payment on (stored as JSON, money in fen)."""
    return {
        "source": SOURCE_PAYMENT,
        "as_of": format_instant(as_of),
        "rulebook_id": rulebook.id,
        "product_version": product_version,
        "merchant_version": merchant_version,
        "tier": tier_terms(tier),
        "return_class": product.return_class,
        "return_terms": return_terms(product, tier, rulebook),
        "shipping_commitment_hours": (
            product.shipping_commitment_hours if tier.kind is TierKind.SPOT else None
        ),
        "merchant_services": sorted(merchant_services),
    }
