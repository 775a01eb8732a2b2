"""Who pays what after a sale: the money rules of after-sales (policies.md §3–§7; §10b,
a late spot shipment, is domain/late_shipment.py).

Each rule is pure: facts in, an explained `Decision` out — the amount in fen,
who pays whom, the rulebook keys that set it and the rulebook's id. Every
number is the rulebook's; the caller passes the rulebook in force at the fact
judged (the request for the subsidy, the pickup's `occurred_at` for the quick
refund, the case's facts for compensation).

- Free return shipping (§3): the platform pays the carrier the official
  pickup's freight, up to one cap per order shared by all its pickups.
- Quick refund (§4): whether the buyer is refunded at pickup.
- Custom-goods compensation (§5): the platform pays the buyer a share of the
  sub-order's goods, capped.
- Transit accident (§7): the platform pays the merchant the goods' value, capped.
"""

from __future__ import annotations

from datetime import datetime

from buyerguard.clock import ensure_utc, format_instant
from buyerguard.domain.decision import PLATFORM, Decision, party
from buyerguard.domain.parties import MerchantTier, parse_enum
from buyerguard.errors import InvalidInput
from buyerguard.money import Fen, apply_rate, format_fen, format_percent, require_fen
from buyerguard.rulebook import Rulebook

RETURN_SHIPPING_SUBSIDY = "return_shipping_subsidy"
QUICK_REFUND = "quick_refund"
CUSTOM_COMPENSATION = "custom_compensation"
TRANSIT_ACCIDENT_COMPENSATION = "transit_accident_compensation"

# which cap of §3 applied, in details["cap_rule"]
SUPER_BUYER = "super_buyer"
LARGE_ORDER_TIER = "large_order_tier"
DEFAULT = "default"


# ------------------------------------------------------------------ §3 free return shipping
def is_super_buyer(
    *, net_paid_trailing_fen: Fen, marked_by_operator: bool, rulebook: Rulebook
) -> bool:
    """A super buyer (超级买家) gets the highest return-shipping cap (§3): net paid over the
    trailing `free_return_shipping.super_buyer_window_months` (the caller sums it as of the
    request instant) at least `super_buyer_min_net_paid_yuan`, or an operator's mark."""
    require_fen(net_paid_trailing_fen, field="net_paid_trailing")
    threshold = rulebook.free_return_shipping.super_buyer_min_net_paid_fen
    return marked_by_operator or net_paid_trailing_fen >= threshold


def return_shipping_subsidy(
    *,
    order_id: str,
    freight_fen: Fen,
    official_logistics: bool,
    super_buyer: bool,
    merchant_tier: str,
    sub_order_goods_fen: Fen,
    already_subsidised_on_order_fen: Fen,
    carrier: str,
    rulebook: Rulebook,
) -> Decision:
    """What the platform pays the carrier for one return pickup (退货包运费, §3).

    min(freight, cap − what earlier pickups of the same order already got), never
    below 0: the cap is per order, shared by all its pickups. The cap is the first
    that matches: super buyer; a large order (the case's sub-order goods ≥
    `large_order_min_goods_yuan`) at a tier of `large_order_tiers`; the default.
    Nothing without official logistics (when required) or when the programme is
    not in force. A negative freight is refused (`amount_negative`, field `freight`).
    """
    freight_fen = require_fen(freight_fen, field="freight", allow_negative=False)
    sub_order_goods_fen = require_fen(
        sub_order_goods_fen, field="sub_order_goods", allow_negative=False
    )
    already_subsidised_on_order_fen = require_fen(
        already_subsidised_on_order_fen, field="already_subsidised_on_order", allow_negative=False
    )
    tier = parse_enum(MerchantTier, merchant_tier, "merchant_tier")
    rules = rulebook.free_return_shipping
    large_order = sub_order_goods_fen >= rules.large_order_min_goods_fen
    details: dict[str, object] = {
        "freight_fen": freight_fen,
        "official_logistics": official_logistics,
        "super_buyer": super_buyer,
        "merchant_tier": tier.value,
        "sub_order_goods_fen": sub_order_goods_fen,
        "large_order": large_order,
        "already_subsidised_on_order_fen": already_subsidised_on_order_fen,
        "carrier": carrier,
    }

    def decide(amount_fen: Fen, rule_ids: tuple[str, ...], explanation: str) -> Decision:
        return Decision(
            kind=RETURN_SHIPPING_SUBSIDY,
            subject_id=order_id,
            amount_fen=amount_fen,
            payer=PLATFORM,
            payee=party("carrier", carrier),
            rule_ids=rule_ids,
            rulebook_id=rulebook.id,
            explanation=explanation,
            details=details,
        )

    if not rules.enabled:
        details.update(cap_rule=None, cap_fen=0, remaining_cap_fen=0)
        return decide(
            0,
            ("free_return_shipping.enabled",),
            f"free return shipping is not in force under rulebook {rulebook.id}",
        )
    if rules.official_logistics_required and not official_logistics:
        details.update(cap_rule=None, cap_fen=0, remaining_cap_fen=0)
        return decide(
            0,
            ("free_return_shipping.enabled", "free_return_shipping.official_logistics_required"),
            "the return was not picked up by official logistics: no subsidy",
        )
    rule_ids: tuple[str, ...] = (
        "free_return_shipping.enabled",
        "free_return_shipping.official_logistics_required",
    )
    if super_buyer:
        cap_rule, cap_fen, why = SUPER_BUYER, rules.super_buyer_cap_fen, "super buyer"
        rule_ids += ("free_return_shipping.super_buyer_cap_yuan",)
    elif large_order and tier.value in rules.large_order_tiers:
        cap_rule, cap_fen = LARGE_ORDER_TIER, rules.large_order_tier_cap_fen
        goods = format_fen(sub_order_goods_fen, thousands=True)
        why = f"large order ({goods} of goods) at a {tier.value}"
        rule_ids += (
            "free_return_shipping.large_order_min_goods_yuan",
            "free_return_shipping.large_order_tiers",
            "free_return_shipping.large_order_tier_cap_yuan",
        )
    else:
        cap_rule, cap_fen, why = DEFAULT, rules.default_cap_fen, "ordinary order"
        rule_ids += (
            "free_return_shipping.large_order_min_goods_yuan",
            "free_return_shipping.large_order_tiers",
            "free_return_shipping.default_cap_yuan",
        )
    remaining_fen = max(cap_fen - already_subsidised_on_order_fen, 0)
    amount_fen = min(freight_fen, remaining_fen)
    details.update(cap_rule=cap_rule, cap_fen=cap_fen, remaining_cap_fen=remaining_fen)
    explanation = f"{why}: cap {format_fen(cap_fen, thousands=True)} per order"
    if already_subsidised_on_order_fen:
        explanation += (
            f", {format_fen(already_subsidised_on_order_fen, thousands=True)} already subsidised"
            " on the order, "
            f"{format_fen(remaining_fen, thousands=True)} left"
        )
    explanation += (
        f"; freight {format_fen(freight_fen, thousands=True)}"
        f" → platform pays {format_fen(amount_fen, thousands=True)}"
    )
    return decide(amount_fen, rule_ids, explanation)


# ------------------------------------------------------------------ §4 quick refund
def quick_refund(
    *,
    picked_up_at: datetime,
    official_logistics: bool,
    rulebook: Rulebook,
    sub_order_id: str | None = None,
    buyer_id: str | None = None,
) -> Decision:
    """Is the buyer refunded the moment the return is picked up (极速退款, §4)?

    Yes when `quick_refund.enabled` in the rulebook in force at the pickup's
    instant (the caller passes that one) and the pickup is official logistics.
    The amount is the case's refund, decided elsewhere (amount 0 here); the
    platform advances it and, when `platform_absorbs_empty_or_wrong_return`,
    bears the loss of an empty or wrong return unless the buyer is found
    malicious. `sub_order_id` and `buyer_id`, when given, name the subject and payee.
    """
    picked_up_at = ensure_utc(picked_up_at, field="picked_up_at")
    rules = rulebook.quick_refund
    applies = rules.enabled and official_logistics
    rule_ids: tuple[str, ...] = ("quick_refund.enabled",)
    if not rules.enabled:
        explanation = f"quick refund is not in force under rulebook {rulebook.id}"
    elif not official_logistics:
        explanation = "the return was not picked up by official logistics: refund on receipt"
    else:
        rule_ids += ("quick_refund.platform_absorbs_empty_or_wrong_return",)
        explanation = (
            f"official pickup at {format_instant(picked_up_at)}: the buyer is refunded now, "
            "before the merchant receives the return"
        )
        if rules.platform_absorbs_empty_or_wrong_return:
            explanation += (
                "; the platform absorbs an empty or wrong return unless the buyer is malicious"
            )
    return Decision(
        kind=QUICK_REFUND,
        subject_id=sub_order_id or f"pickup@{format_instant(picked_up_at)}",
        amount_fen=0,
        payer=PLATFORM,
        payee=party("buyer", buyer_id) if buyer_id else "buyer",
        rule_ids=rule_ids,
        rulebook_id=rulebook.id,
        explanation=explanation,
        details={
            "applies": applies,
            "picked_up_at": format_instant(picked_up_at),
            "official_logistics": official_logistics,
            "platform_absorbs_empty_or_wrong_return": (
                applies and rules.platform_absorbs_empty_or_wrong_return
            ),
        },
    )


# ------------------------------------------------------------------ §5 custom goods
def check_trigger(rulebook: Rulebook, trigger: str) -> None:
    """A custom dispute's failure must be one the rulebook names (§5)."""
    triggers = rulebook.custom_compensation.triggers
    if trigger not in triggers:
        raise InvalidInput(
            "invalid_choice",
            f"trigger must be one of: {', '.join(triggers)}; got {trigger!r}",
            "trigger",
        )


def custom_compensation(
    *,
    sub_order_id: str,
    buyer_id: str,
    sub_order_goods_fen: Fen,
    trigger: str,
    rulebook: Rulebook,
    earned_before: int = 0,
) -> Decision:
    """What the platform pays the buyer, as its own cost, for a failed custom or
    made-to-order sub-order (订货/定制, §5): `rate` of the sub-order's goods, half-up,
    at most `cap_yuan` per compensation, on top of any refund. `trigger` must be one
    of `custom_compensation.triggers` (`invalid_choice`, field `trigger`); nothing
    while the programme is not in force, nor once the sub-order has earned
    `per_sub_order` compensations (`earned_before`): otherwise a buyer could open
    dispute after dispute over the same goods and be paid for each."""
    sub_order_goods_fen = require_fen(
        sub_order_goods_fen, field="sub_order_goods", allow_negative=False
    )
    rules = rulebook.custom_compensation
    check_trigger(rulebook, trigger)
    details: dict[str, object] = {"trigger": trigger, "sub_order_goods_fen": sub_order_goods_fen}

    def decide(amount_fen: Fen, rule_ids: tuple[str, ...], explanation: str) -> Decision:
        return Decision(
            kind=CUSTOM_COMPENSATION,
            subject_id=sub_order_id,
            amount_fen=amount_fen,
            payer=PLATFORM,
            payee=party("buyer", buyer_id),
            rule_ids=rule_ids,
            rulebook_id=rulebook.id,
            explanation=explanation,
            details=details,
        )

    if not rules.enabled:
        details.update(uncapped_fen=0, cap_fen=rules.cap_fen)
        return decide(
            0,
            ("custom_compensation.enabled",),
            f"custom-goods compensation is not in force under rulebook {rulebook.id}",
        )
    if earned_before >= rules.per_sub_order:
        details.update(uncapped_fen=0, cap_fen=rules.cap_fen, earned_before=earned_before)
        return decide(
            0,
            ("custom_compensation.enabled", "custom_compensation.per_sub_order"),
            f"sub-order {sub_order_id} has been compensated {earned_before} time(s) already,"
            f" the most rulebook {rulebook.id} allows: nothing more",
        )
    uncapped_fen = apply_rate(sub_order_goods_fen, rules.rate)
    amount_fen = min(uncapped_fen, rules.cap_fen)
    details.update(uncapped_fen=uncapped_fen, cap_fen=rules.cap_fen)
    explanation = (
        f"{trigger}: {format_percent(rules.rate)} of"
        f" {format_fen(sub_order_goods_fen, thousands=True)}"
        f" = {format_fen(uncapped_fen, thousands=True)}"
    )
    if amount_fen < uncapped_fen:
        explanation += f", capped at {format_fen(rules.cap_fen, thousands=True)}"
    return decide(
        amount_fen,
        (
            "custom_compensation.enabled",
            "custom_compensation.triggers",
            "custom_compensation.rate",
            "custom_compensation.cap_yuan",
        ),
        explanation + ", paid by the platform",
    )


# ------------------------------------------------------------------ §7 transit accident
def transit_accident_compensation(
    *, sub_order_id: str, merchant_id: str, goods_value_fen: Fen, rulebook: Rulebook
) -> Decision:
    """Goods lost or damaged in transport: the platform pays the merchant their value,
    at most `merchant_relief.transit_accident_cap_yuan` (§7)."""
    goods_value_fen = require_fen(goods_value_fen, field="goods_value", allow_negative=False)
    cap_fen = rulebook.merchant_relief.transit_accident_cap_fen
    amount_fen = min(goods_value_fen, cap_fen)
    explanation = (
        f"goods worth {format_fen(goods_value_fen, thousands=True)} lost or damaged in transit"
    )
    if amount_fen < goods_value_fen:
        explanation += f", capped at {format_fen(cap_fen, thousands=True)}"
    return Decision(
        kind=TRANSIT_ACCIDENT_COMPENSATION,
        subject_id=sub_order_id,
        amount_fen=amount_fen,
        payer=PLATFORM,
        payee=party("merchant", merchant_id),
        rule_ids=("merchant_relief.transit_accident_cap_yuan",),
        rulebook_id=rulebook.id,
        explanation=(
            f"{explanation}: the platform pays the merchant"
            f" {format_fen(amount_fen, thousands=True)}"
        ),
        details={"goods_value_fen": goods_value_fen, "cap_fen": cap_fen},
    )
