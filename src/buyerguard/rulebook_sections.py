"""The sections of a rulebook: one frozen dataclass per TOML table, each key documented
(`arrival`, the largest, in rulebook_arrival.py; how a key is declared in rulebook_keys.py).

`rulebook.py` loads and validates the files into these; `rulebook show`
prints each key's documentation from the `rule(...)` that declares it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from buyerguard.money import Fen, Rate
from buyerguard.rulebook_arrival import ArrivalRules
from buyerguard.rulebook_keys import LONGEST_SPAN, RATE, rule


# --------------------------------------------------------------------------- sections
@dataclass(frozen=True)
class OrderRules:
    """Order lifecycle (policies.md preamble)."""

    auto_confirm_after_signing_days: int = rule(
        "Receipt is confirmed automatically this many days after signing (default)."
    )
    fact_settling_seconds: int = rule(
        "A timer of an order runs no sooner than this long after the order's last fact "
        "arrived, so late-reported facts are applied before it (default)."
    )


@dataclass(frozen=True)
class ListingRules:
    """What a listing must satisfy (policies.md §2 listing rule)."""

    min_order_quantity: int = rule("Smallest MOQ a listing may set (2 before 2024-02-02, then 1).")


@dataclass(frozen=True)
class FeeRules:
    """Technical service fee 技术服务费 (policies.md §1)."""

    rate: Rate = rule(
        "Share of goods actually paid (shipping excluded) charged.", kind=RATE, most=1
    )
    cap_enabled: bool = rule("Whether the per-sub-order cap applies (not under Anxingou).")
    cap_fen: Fen = rule("Cap per sub-order, in yuan, when the cap applies.")
    required_service: str = rule(
        "Merchant service that makes the fee due: 'anxingou' before 2024-09-13, "
        "then 'buyer_protection'."
    )
    services_moved_over: list[str] = rule(
        "Services whose merchants count as enrolled in the required service, so that they "
        "move over without paying twice: 'anxingou' from 2024-09-13."
    )
    entrusted_goods_exempt: bool = rule("Goods entrusted to the platform (托管) pay no fee.")
    refunded_before_shipment_exempt: bool = rule(
        "Sub-orders refunded in full before shipment pay no fee."
    )


@dataclass(frozen=True)
class ReturnRules:
    """Seven-day no-reason returns 七天无理由退货 (policies.md §2)."""

    no_reason_mandatory: bool = rule(
        "Mandatory categories must support 7-day returns (false: only where the merchant opted in)."
    )
    window_days: int = rule("Days to request, counted from the day after signing (Shanghai).")
    handover_days_after_approval: int = rule(
        "Days the buyer has to hand the return over after approval, else the case closes (default)."
    )
    one_piece_spot_tier_required: bool = rule(
        "One-piece products in mandatory categories must support returns on the spot tier."
    )
    excluded_categories: list[str] = rule("Category classes never returnable without reason.")
    optional_categories: list[str] = rule("Category classes where the merchant chooses.")
    buyer_pays_return_shipping: bool = rule(
        "Buyer pays return shipping on no-reason returns unless free return shipping covers it."
    )
    merchant_review_hours: int = rule(
        "The merchant reviews a return request within this, or it is approved (a deadline on "
        "the merchant, not the platform)."
    )
    quality_claim_days: int = rule(
        "Days after signing (from the next Shanghai day) in which a quality return or a "
        "quality refund-only may be requested (default, ours)."
    )
    picked_up_inspection_hours: int = rule(
        "A return picked up by official logistics is inspected within this of its arrival, "
        "or the refund is released."
    )
    buyer_sent_inspection_days: int = rule(
        "A return the buyer sent is inspected within this of its arrival, or the refund is "
        "released."
    )
    shipping_refunded_with_whole_order: bool = rule(
        "A case that refunds every sub-order of an order in full refunds its shipping too "
        "(default, ours)."
    )


@dataclass(frozen=True)
class FreeReturnShippingRules:
    """Free return shipping 退货包运费, paid by the platform (policies.md §3)."""

    enabled: bool = rule("Whether the platform subsidises return pickups.")
    official_logistics_required: bool = rule("Only official-logistics doorstep pickups count.")
    super_buyer_cap_fen: Fen = rule("Cap per order for a super buyer (rule 1).")
    large_order_tier_cap_fen: Fen = rule(
        "Cap per order for a large order at a super factory or powerful merchant (rule 2)."
    )
    default_cap_fen: Fen = rule("Cap per order otherwise (rule 3).")
    large_order_min_goods_fen: Fen = rule(
        "Sub-order goods amount from which an order is large (default)."
    )
    large_order_tiers: list[str] = rule("Merchant tiers whose large orders get rule 2.")
    super_buyer_min_net_paid_fen: Fen = rule(
        "Net paid over the trailing window that makes a super buyer (default)."
    )
    super_buyer_window_months: int = rule("Trailing window for the super-buyer test (default).")


@dataclass(frozen=True)
class QuickRefundRules:
    """Quick refund 极速退款 on official pickup (policies.md §4)."""

    enabled: bool = rule("Refund the buyer the moment an official pickup collects the return.")
    platform_absorbs_empty_or_wrong_return: bool = rule(
        "The platform absorbs an advance lost to an empty or wrong return unless the buyer "
        "is found malicious."
    )


@dataclass(frozen=True)
class CustomCompensationRules:
    """Platform compensation for custom and made-to-order goods (policies.md §5)."""

    enabled: bool = rule("Whether the platform compensates custom-goods failures.")
    rate: Rate = rule("Share of the sub-order amount paid to the buyer.", kind=RATE, most=1)
    cap_fen: Fen = rule("Cap per compensation.")
    per_sub_order: int = rule(
        "How many compensations one sub-order's goods may earn, whatever the cases about "
        "them: a failure is compensated, not each dispute over it (default, ours)."
    )
    triggers: list[str] = rule("Failures that trigger compensation.")


@dataclass(frozen=True)
class LiabilityRules:
    """Who pays (商责 split, policies.md §6)."""

    platform_bears: list[str] = rule("Costs the platform bears (not fully the merchant's fault).")
    merchant_bears: list[str] = rule("Costs the merchant bears (full merchant responsibility).")
    net_merchant_debt_against_sales: bool = rule(
        "A clawback above the merchant's payable leaves a debt netted against later sales "
        "(default)."
    )


@dataclass(frozen=True)
class MerchantReliefRules:
    """Merchant relief (policies.md §7)."""

    high_repurchase_window_days: int = rule("Window of the repurchase rate (default).")
    high_repurchase_top_share: Rate = rule(
        "Top share of the industry by repurchase rate that qualifies (default).",
        kind=RATE,
        most=1,
    )
    high_repurchase_min_buyers: int = rule("Minimum buyers in the window to qualify (default).")
    refund_only_subsidy_monthly_cap_fen: Fen = rule(
        "Monthly refund-only subsidy cap for high-repurchase merchants (default)."
    )
    refund_only_subsidy_monthly_cap_top_tier_fen: Fen = rule(
        "The same cap for super factories and powerful merchants (default)."
    )
    late_shipment_subsidy_monthly_cap_fen: Fen = rule("Late-shipment subsidy cap per month.")
    late_shipment_subsidy_max_orders_per_month: int = rule(
        "Late-shipment subsidy: most orders per month."
    )
    green_appeal_decision_hours: int = rule("Green-channel appeals decided within (default).")
    transit_accident_cap_fen: Fen = rule("Transit accident: most the platform pays per case.")
    new_merchant_guarantee_days: int = rule(
        "New merchants' double guarantee lasts this many days (default)."
    )


@dataclass(frozen=True)
class RefundOnlyRules:
    """Refund-only 仅退款 and reference deadlines (policies.md §8)."""

    before_shipment_always_allowed: bool = rule("Refund-only before shipment is always allowed.")
    seller_response_hours: int = rule(
        "Seller must answer an after-shipment refund-only request within this, or it is granted."
    )
    complaint_response_hours: int = rule(
        "After a buyer's complaint an operator may shorten the merchant's deadline to this "
        "(default)."
    )


@dataclass(frozen=True)
class TrustBasedReturnsRules:
    """Trust-based returns 信任退 (policies.md §8)."""

    enabled: bool = rule("Whether buyers' history earns them trust-based return benefits.")
    benefits: list[str] = rule("What a trusted buyer may be granted.")


@dataclass(frozen=True)
class CreditRules:
    """Credit purchasing 先采后付 (policies.md §9)."""

    enabled: bool = rule("Whether buyers may buy on credit.")
    repayment_day_of_month: int = rule(
        "Confirmed goods are repaid on this day of the next month.", least=1, most=31
    )
    min_account_age_days: int = rule("Credit standard: account age (default).")
    min_completed_orders: int = rule("Credit standard: completed orders (default).")
    no_overdue_months: int = rule("Credit standard: months without overdue (default).")
    line_share_of_purchases: Rate = rule(
        "Credit line as a share of trailing purchases (default).", kind=RATE, most=1
    )
    purchases_window_months: int = rule("Trailing window of purchases for the line (default).")
    min_line_fen: Fen = rule("A line below this is declined (default).")
    max_line_fen: Fen = rule("A line above this is capped (default).")
    late_fee_daily_rate: Rate = rule(
        "Late fee per day on the unpaid amount, simple, rounded daily (default).",
        kind=RATE,
        most=1,
    )
    collections_after_overdue_days: int = rule("Days overdue before collections (default).")


@dataclass(frozen=True)
class FreeShippingRules:
    """Store-wide free shipping 全店包邮 (policies.md §10)."""

    enabled: bool = rule("Whether merchants may turn on store-wide free shipping.")
    excluded_remote_provinces: list[str] = rule(
        "GB/T 2260 province codes that may be excluded as remote (default)."
    )
    price_uplift: str = rule(
        "How the free-shipping price is proposed: price + the highest template charge over "
        "non-remote provinces for the weight."
    )


@dataclass(frozen=True)
class ShippingCommitmentRules:
    """Shipping commitments 发货承诺 (policies.md §10b)."""

    promise_hours_options: list[int] = rule(
        "Ship-within promises a spot product may display; each 1 hour to a century.",
        least=1,
        most=LONGEST_SPAN["_hours"],
    )
    spring_festival_promise_hours: int = rule("Store-wide promise during the Spring Festival.")
    honoured_as_displayed_since: date = rule("Promises are binding as displayed since this date.")
    late_compensation_rate: Rate = rule(
        "Late spot shipment: buyer compensation as a share of the sub-order (default).",
        kind=RATE,
        most=1,
    )
    late_compensation_min_fen: Fen = rule("Late-shipment compensation floor (default).")
    late_compensation_max_fen: Fen = rule("Late-shipment compensation cap (default).")


@dataclass(frozen=True)
class TrafficRules:
    """Traffic distribution 流量分发 (policies.md §12)."""

    four_services_traffic_share: Rate = rule(
        "Share of traffic to merchants and products offering the four services.",
        kind=RATE,
        most=1,
    )
    four_services: list[str] = rule("The services that earn the traffic share.")


@dataclass(frozen=True)
class CaseRules:
    """After-sales cases: the deadlines of negotiation, escalation and ruling (ours)."""

    offer_response_hours: int = rule(
        "The buyer answers a merchant's offer within this, or the case closes (default)."
    )
    escalation_days_after_refusal: int = rule(
        "After a refusal the buyer may escalate to the platform within this, or the case "
        "closes (default)."
    )
    ruling_hours: int = rule(
        "The platform rules on an escalated case within this, or the buyer's request is "
        "granted (default)."
    )


@dataclass(frozen=True)
class PayoutRules:
    """Money out to merchants: the payout run (policies.md §6, ours where marked)."""

    run_minutes_after_midnight: int = rule(
        "The daily payout run starts this many minutes after 00:00 Asia/Shanghai, 0 to 1439 "
        "(default, ours).",
        least=0,
        most=1439,
    )
    minimum_fen: Fen = rule(
        "A merchant is paid out only when at least this much is payable (default, ours)."
    )
    reserve_share: Rate = rule(
        "Share of a merchant's recent releases kept back at each run against after-sales "
        "claims, 0 to 1; a merchant's own share (PUT /v1/merchants/{id}/payout-settings) "
        "overrides it (default, ours).",
        kind=RATE,
        least=0,
        most=1,
    )
    reserve_window_days: int = rule(
        "Releases of this many days before a run count towards the reserve: as they age out "
        "the reserve is paid; 0 to 3660 (default, ours).",
        least=0,
        most=3660,
    )


@dataclass(frozen=True)
class InstructionRules:
    """Instructions to move money out (payouts, refunds, compensation, carrier subsidies)."""

    overdue_after_hours: int = rule(
        "An instruction with no execution report this long after it was issued is overdue; "
        "1 to 87600 (ten years) (default, ours).",
        least=1,
        most=87600,
    )


SECTIONS: dict[str, type] = {
    "orders": OrderRules,
    "listing": ListingRules,
    "fees": FeeRules,
    "returns": ReturnRules,
    "free_return_shipping": FreeReturnShippingRules,
    "quick_refund": QuickRefundRules,
    "custom_compensation": CustomCompensationRules,
    "liability": LiabilityRules,
    "merchant_relief": MerchantReliefRules,
    "refund_only": RefundOnlyRules,
    "trust_based_returns": TrustBasedReturnsRules,
    "credit": CreditRules,
    "free_shipping": FreeShippingRules,
    "shipping_commitment": ShippingCommitmentRules,
    "arrival": ArrivalRules,
    "traffic": TrafficRules,
    "cases": CaseRules,
    "payouts": PayoutRules,
    "instructions": InstructionRules,
}
