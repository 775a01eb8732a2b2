"""Effective-dated rulebooks: every number of the programme, as data.

Rulebooks are TOML files in `rulebooks/`. The earliest (the baseline) must
give every key; each later file names its `effective_from` instant and
overrides only the keys that changed, inheriting the rest from the file before
it. Files are validated on load: an unknown key, a missing key or a value of
the wrong kind is an error naming the file and the key.

Conventions of the files:
- money is written in yuan as a decimal string under a key ending `_yuan`
  ("18.00") and read here, as integer fen, under the same name ending `_fen`;
- rates and shares are decimal strings ("0.006"), read as exact `Decimal`s;
- counts and durations are integers whose key names the unit (`_days`).

A decision cites the rules it used by their file key (`fees.rate`), plus the
rulebook id, so any amount can be traced back to the line that set it.
"""

from __future__ import annotations

import os
import tomllib
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from buyerguard.clock import ensure_utc, format_instant
from buyerguard.errors import BuyerguardError, InvalidInput, RulebookError
from buyerguard.money import Fen, Rate, parse_rate, parse_yuan

RULEBOOK_DIR_ENV = "BUYERGUARD_RULEBOOKS_DIR"


def rule(doc: str, *, kind: str = "") -> Any:
    """Declare a rulebook key with the documentation `rulebook show` prints."""
    return field(metadata={"doc": doc, "kind": kind})


RATE = "rate"


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

    rate: Rate = rule("Share of goods actually paid (shipping excluded) charged.", kind=RATE)
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
    rate: Rate = rule("Share of the sub-order amount paid to the buyer.", kind=RATE)
    cap_fen: Fen = rule("Cap per compensation.")
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
        "Top share of the industry by repurchase rate that qualifies (default).", kind=RATE
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
    review_hours: int = rule("Platform review deadline.")
    pickup_receipt_processing_hours: int = rule("Receipt of a picked-up return processed within.")
    buyer_sent_return_processing_days: int = rule("A return the buyer sent processed within.")


@dataclass(frozen=True)
class TrustBasedReturnsRules:
    """Trust-based returns 信任退 (policies.md §8)."""

    enabled: bool = rule("Whether buyers' history earns them trust-based return benefits.")
    benefits: list[str] = rule("What a trusted buyer may be granted.")


@dataclass(frozen=True)
class CreditRules:
    """Credit purchasing 先采后付 (policies.md §9)."""

    enabled: bool = rule("Whether buyers may buy on credit.")
    repayment_day_of_month: int = rule("Confirmed goods are repaid on this day of the next month.")
    min_account_age_days: int = rule("Credit standard: account age (default).")
    min_completed_orders: int = rule("Credit standard: completed orders (default).")
    no_overdue_months: int = rule("Credit standard: months without overdue (default).")
    line_share_of_purchases: Rate = rule(
        "Credit line as a share of trailing purchases (default).", kind=RATE
    )
    purchases_window_months: int = rule("Trailing window of purchases for the line (default).")
    min_line_fen: Fen = rule("A line below this is declined (default).")
    max_line_fen: Fen = rule("A line above this is capped (default).")
    late_fee_daily_rate: Rate = rule(
        "Late fee per day on the unpaid amount, simple, rounded daily (default).", kind=RATE
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

    promise_hours_options: list[int] = rule("Ship-within promises a spot product may display.")
    spring_festival_promise_hours: int = rule("Store-wide promise during the Spring Festival.")
    honoured_as_displayed_since: date = rule("Promises are binding as displayed since this date.")
    late_compensation_rate: Rate = rule(
        "Late spot shipment: buyer compensation as a share of the sub-order (default).",
        kind=RATE,
    )
    late_compensation_min_fen: Fen = rule("Late-shipment compensation floor (default).")
    late_compensation_max_fen: Fen = rule("Late-shipment compensation cap (default).")


@dataclass(frozen=True)
class ArrivalRules:
    """Estimated arrival 预计达 and the arrival badge 亮标 (policies.md §11)."""

    enabled: bool = rule("Whether arrival promises and the badge are shown.")
    history_window_days: int = rule("Trailing window of deliveries per route.")
    promise_confidence: Rate = rule(
        "Promise day d is the earliest with P(signed by end of d) at least this (default).",
        kind=RATE,
    )
    min_route_samples: int = rule("Fewer samples than this backs off to a coarser route (default).")
    max_label_offset_days: int = rule(
        "Labels show up to this many days after payment (2: day after)."
    )
    promise_horizon_days: int = rule(
        "Longest pay-to-sign span, in days, the promise model tracks (default, ours)."
    )
    backoff_levels: list[str] = rule("Route levels tried in order, finest first.")
    lost_after_days: int = rule(
        "A parcel not signed within this many local days of its pay day is lost and leaves "
        "the promise history (signed later counts as lost too); ≥ 1 (default, ours)."
    )
    history_window_basis: str = rule(
        "What history_window_days selects: 'observed' (the days parcels were watched; older "
        "parcels still in transit enter the risk set late) or 'paid' (the days they were "
        "paid) (default, ours)."
    )
    hazard_prior_strength: Rate = rule(
        "Pseudo-parcels m shrinking each route's daily hazard toward its parent route's: "
        "(d + m·h_parent) / (n + m); 0 turns shrinkage off; ≥ 0 (default, ours).",
        kind=RATE,
    )
    sign_rate_hours: int = rule("Pay-to-sign threshold of the sign rate.")
    sign_rate_window_days: int = rule("Orders paid over this window count for the sign rate.")
    badge_min_orders: int = rule("Orders needed in the window for the badge (default).")
    badge_exposure_multiplier: Rate = rule("Exposure multiplier of a badged merchant.", kind=RATE)
    badge_evaluation_interval_hours: int = rule("How often the badge is re-evaluated.")
    promise_rebuild_interval_hours: int = rule(
        "How often the scheduler rebuilds the promise table from the trailing window, "
        "from each Shanghai midnight (default, ours)."
    )


@dataclass(frozen=True)
class TrafficRules:
    """Traffic distribution 流量分发 (policies.md §12)."""

    four_services_traffic_share: Rate = rule(
        "Share of traffic to merchants and products offering the four services.", kind=RATE
    )
    four_services: list[str] = rule("The services that earn the traffic share.")


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
}
HEADER_KEYS = {"id", "effective_from", "title", "summary"}


@dataclass(frozen=True)
class Rulebook:
    """The complete set of rules in force from `effective_from` on."""

    id: str
    effective_from: datetime
    title: str
    source: str
    orders: OrderRules
    listing: ListingRules
    fees: FeeRules
    returns: ReturnRules
    free_return_shipping: FreeReturnShippingRules
    quick_refund: QuickRefundRules
    custom_compensation: CustomCompensationRules
    liability: LiabilityRules
    merchant_relief: MerchantReliefRules
    refund_only: RefundOnlyRules
    trust_based_returns: TrustBasedReturnsRules
    credit: CreditRules
    free_shipping: FreeShippingRules
    shipping_commitment: ShippingCommitmentRules
    arrival: ArrivalRules
    traffic: TrafficRules
    raw: Mapping[str, Mapping[str, object]] = field(repr=False, compare=False)

    def flat(self) -> dict[str, object]:
        """Every key as written in the files (`fees.cap_yuan`), for show and diff."""
        return {
            f"{section}.{key}": value
            for section, values in sorted(self.raw.items())
            for key, value in sorted(values.items())
        }


def file_key(attribute: str) -> str:
    """The key a dataclass attribute is written under in TOML (`cap_fen` -> `cap_yuan`)."""
    return attribute[: -len("_fen")] + "_yuan" if attribute.endswith("_fen") else attribute


def describe_keys() -> Iterator[tuple[str, str]]:
    """(`section.key`, documentation) for every key, in file order."""
    for section, cls in SECTIONS.items():
        for spec in fields(cls):
            yield f"{section}.{file_key(spec.name)}", str(spec.metadata["doc"])


# --------------------------------------------------------------------------- loading
def _convert(
    value: object, annotation: Any, kind: str, source: str, key: str, attribute: str
) -> object:
    """Turn one TOML value into the typed value the dataclass holds."""
    where = f"{source}: {key}"
    try:
        if attribute.endswith("_fen"):
            return parse_yuan(value, field=where)
        if kind == RATE:
            return parse_rate(value, field=where)
    except BuyerguardError as exc:
        raise RulebookError("rulebook_bad_value", exc.message, key) from exc
    origin = typing.get_origin(annotation)
    if origin is list:
        (item_type,) = typing.get_args(annotation)
        if not isinstance(value, list) or not all(
            isinstance(item, item_type) and not isinstance(item, bool) for item in value
        ):
            raise RulebookError(
                "rulebook_bad_value", f"{where} must be a list of {item_type.__name__}", key
            )
        return list(value)
    if annotation is date:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        raise RulebookError("rulebook_bad_value", f"{where} must be a date (YYYY-MM-DD)", key)
    expected = {"int": int, "bool": bool, "str": str}[annotation.__name__]
    if type(value) is not expected:
        raise RulebookError(
            "rulebook_bad_value", f"{where} must be {expected.__name__}, got {value!r}", key
        )
    return value


def _build_section(section: str, values: Mapping[str, object], source: str) -> object:
    cls = SECTIONS[section]
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, object] = {}
    for spec in fields(cls):
        key = file_key(spec.name)
        where = f"{section}.{key}"
        if key not in values:
            raise RulebookError("rulebook_missing_key", f"{source}: missing key {where}", where)
        kwargs[spec.name] = _convert(
            values[key],
            hints[spec.name],
            str(spec.metadata["kind"]),
            source,
            where,
            spec.name,
        )
    return cls(**kwargs)


def _check_known_keys(document: Mapping[str, object], source: str) -> None:
    for key, value in document.items():
        if key in HEADER_KEYS:
            continue
        if key not in SECTIONS:
            raise RulebookError("rulebook_unknown_key", f"{source}: unknown section {key}", key)
        if not isinstance(value, dict):
            raise RulebookError("rulebook_bad_value", f"{source}: {key} must be a table", key)
        known = {file_key(spec.name) for spec in fields(SECTIONS[key])}
        for sub_key in value:
            if sub_key not in known:
                where = f"{key}.{sub_key}"
                raise RulebookError("rulebook_unknown_key", f"{source}: unknown key {where}", where)


def _header(document: Mapping[str, object], source: str) -> tuple[str, datetime, str]:
    for key in ("id", "effective_from", "title"):
        if key not in document:
            raise RulebookError("rulebook_missing_key", f"{source}: missing key {key}", key)
    rulebook_id, effective, title = document["id"], document["effective_from"], document["title"]
    if not isinstance(rulebook_id, str) or not rulebook_id:
        raise RulebookError("rulebook_bad_value", f"{source}: id must be a string", "id")
    if not isinstance(title, str):
        raise RulebookError("rulebook_bad_value", f"{source}: title must be a string", "title")
    if not isinstance(effective, datetime) or effective.tzinfo is None:
        raise RulebookError(
            "rulebook_bad_value",
            f"{source}: effective_from must be a TOML datetime with offset",
            "effective_from",
        )
    return rulebook_id, ensure_utc(effective), title


@dataclass(frozen=True)
class RulebookSet:
    """All rulebooks of a directory, oldest first."""

    rulebooks: tuple[Rulebook, ...]

    def at(self, instant: datetime) -> Rulebook:
        """The rulebook in force at `instant`."""
        instant = ensure_utc(instant)
        in_force = [book for book in self.rulebooks if book.effective_from <= instant]
        if not in_force:
            raise InvalidInput(
                "no_rulebook_in_force",
                f"no rulebook is in force at {format_instant(instant)}",
                "instant",
            )
        return in_force[-1]

    def by_id(self, rulebook_id: str) -> Rulebook:
        for book in self.rulebooks:
            if book.id == rulebook_id:
                return book
        known = ", ".join(book.id for book in self.rulebooks)
        raise InvalidInput(
            "unknown_rulebook", f"no rulebook {rulebook_id!r} (known: {known})", "id"
        )


def parse_rulebooks(documents: list[tuple[str, str]]) -> RulebookSet:
    """Validate and chain (source name, TOML text) pairs into a `RulebookSet`."""
    parsed: list[tuple[str, datetime, str, str, dict[str, Any]]] = []
    for source, text in documents:
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise RulebookError("rulebook_malformed", f"{source}: {exc}", None) from exc
        rulebook_id, effective, title = _header(document, source)
        _check_known_keys(document, source)
        parsed.append((source, effective, rulebook_id, title, document))
    if not parsed:
        raise RulebookError("rulebook_missing", "no rulebook files found", None)
    parsed.sort(key=lambda item: item[1])
    seen: dict[str, str] = {}
    merged: dict[str, dict[str, object]] = {}
    books: list[Rulebook] = []
    for source, effective, rulebook_id, title, document in parsed:
        if rulebook_id in seen:
            raise RulebookError(
                "rulebook_duplicate_id",
                f"{source}: id {rulebook_id} already used by {seen[rulebook_id]}",
                "id",
            )
        seen[rulebook_id] = source
        if books and books[-1].effective_from == effective:
            raise RulebookError(
                "rulebook_duplicate_effective_from",
                f"{source}: effective_from equals that of {books[-1].source}",
                "effective_from",
            )
        for section in SECTIONS:
            merged.setdefault(section, {}).update(document.get(section, {}))
        sections = {name: _build_section(name, merged[name], source) for name in SECTIONS}
        raw = {name: dict(values) for name, values in merged.items()}
        books.append(
            Rulebook(
                id=rulebook_id,
                effective_from=effective,
                title=title,
                source=source,
                raw=raw,
                **sections,  # type: ignore[arg-type]
            )
        )
    return RulebookSet(tuple(books))


def default_rulebook_dir() -> Path:
    """`$BUYERGUARD_RULEBOOKS_DIR`, else the repository's `rulebooks/`."""
    configured = os.environ.get(RULEBOOK_DIR_ENV)
    if configured:
        return Path(configured)
    beside_source = Path(__file__).resolve().parents[2] / "rulebooks"
    return beside_source if beside_source.is_dir() else Path.cwd() / "rulebooks"


def load_rulebook_dir(directory: Path) -> RulebookSet:
    """Load every `*.toml` of a directory."""
    if not directory.is_dir():
        raise RulebookError(
            "rulebook_missing", f"rulebook directory not found: {directory}", "rulebooks"
        )
    documents = [(path.name, path.read_text("utf-8")) for path in sorted(directory.glob("*.toml"))]
    return parse_rulebooks(documents)


@lru_cache(maxsize=8)
def _cached(directory: str) -> RulebookSet:
    return load_rulebook_dir(Path(directory))


def rulebooks(directory: Path | None = None) -> RulebookSet:
    """The loaded rulebooks (cached per directory)."""
    return _cached(str(directory or default_rulebook_dir()))


def rulebook_at(instant: datetime, directory: Path | None = None) -> Rulebook:
    """The rulebook in force at `instant`."""
    return rulebooks(directory).at(instant)


def render_value(value: object) -> str:
    """A rulebook value as written in the files."""
    if isinstance(value, list):
        return "[" + ", ".join(render_value(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)
