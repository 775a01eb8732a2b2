"""After-sales domain rules (policies.md §2–§7, §10b) under the shipped rulebooks: table tests
of every worked example, each return class and window edge, the dated programmes, and
Hypothesis properties of the money (never negative, never above the freight or a cap,
half-up to the fen)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from buyerguard.clock import SHANGHAI, local_date
from buyerguard.domain.aftersales_rules import (
    custom_compensation,
    is_super_buyer,
    quick_refund,
    return_shipping_subsidy,
    transit_accident_compensation,
)
from buyerguard.domain.catalog import Product, Tier, TierKind
from buyerguard.domain.eligibility import no_reason_return, quality_claim
from buyerguard.domain.late_shipment import (
    late_shipment,
    late_shipment_compensation,
    shipping_deadline,
)
from buyerguard.domain.sale_terms import sale_terms
from buyerguard.errors import InvalidInput
from buyerguard.money import format_fen, parse_yuan
from buyerguard.rulebook import Rulebook, rulebook_at
from tests.conftest import at

AFTER_ALL = rulebook_at(at("2024-11-01T12:00:00+08:00"))  # every 2024 programme in force
SIGNED = at("2024-03-01T14:00:00+08:00")
FEN = st.integers(min_value=0, max_value=10**12)  # up to 10 bn yuan


def yuan(text: str) -> int:
    return parse_yuan(text)


# ====================================================================== §2 eligibility
def terms(
    return_class: str,
    *,
    offered: bool,
    tier_kind: TierKind = TierKind.SPOT,
    sold_at: str = "2024-03-01T10:00:00+08:00",
) -> dict[str, object]:
    """A real `terms_at_payment` snapshot, as the order service takes it at payment."""
    tier = Tier(tier_kind, 1000, 1, offered)
    product = Product("P1", "M1", "mugs", (tier,), 350, "330782", return_class=return_class)
    instant = at(sold_at)
    return sale_terms(
        product=product,
        product_version=1,
        tier=tier,
        merchant_services=(),
        merchant_version=1,
        rulebook=rulebook_at(instant),
        as_of=instant,
    )


def no_reason(
    snapshot: Mapping[str, object] | None,
    requested: str = "2024-03-05T10:00:00+08:00",
    *,
    signed_at: datetime | None = SIGNED,
    rulebook: Rulebook | None = None,
) -> tuple[bool, str]:
    instant = at(requested)
    decision = no_reason_return(
        sub_order_id="S1",
        terms=snapshot,
        signed_at=signed_at,
        requested_at=instant,
        rulebook=rulebook or rulebook_at(instant),
    )
    return bool(decision.details["eligible"]), str(decision.details["code"])


@pytest.mark.parametrize(
    ("return_class", "offered", "expected"),
    [
        ("mandatory", True, (True, "eligible")),
        ("fresh_perishable", True, (True, "eligible")),  # optional, merchant opted in
        ("fresh_perishable", False, (False, "not_offered")),  # optional, not opted in
        ("near_expiry_or_flawed_declared", False, (False, "not_offered")),
        ("custom_made", False, (False, "class_excluded")),
        ("digital_downloaded_or_unsealed", False, (False, "class_excluded")),
        ("periodicals_delivered", False, (False, "class_excluded")),
    ],
)
def test_each_return_class(return_class: str, offered: bool, expected: tuple[bool, str]) -> None:
    assert no_reason(terms(return_class, offered=offered)) == expected


def test_a_mandatory_class_on_a_tier_that_did_not_offer_returns_is_not_offered() -> None:
    # §2: the custom tier of a one-piece product need not offer them.
    snapshot = terms("mandatory", offered=False, tier_kind=TierKind.CUSTOM)
    assert no_reason(snapshot) == (False, "not_offered")


def test_before_2024_02_02_a_mandatory_class_returns_only_where_the_merchant_opted_in() -> None:
    sold = "2024-01-10T10:00:00+08:00"
    signed = at("2024-01-12T10:00:00+08:00")
    requested = "2024-01-14T10:00:00+08:00"
    opted_in = terms("mandatory", offered=True, sold_at=sold)
    opted_out = terms("mandatory", offered=False, sold_at=sold)
    assert no_reason(opted_in, requested, signed_at=signed) == (True, "eligible")
    assert no_reason(opted_out, requested, signed_at=signed) == (False, "not_offered")


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ("2024-03-01T14:00:00+08:00", (True, "eligible")),  # the instant of signing
        ("2024-03-02T00:00:00+08:00", (True, "eligible")),
        ("2024-03-08T23:59:59+08:00", (True, "eligible")),  # the policies.md example
        ("2024-03-08T15:59:59+00:00", (True, "eligible")),  # the same instant in UTC
        ("2024-03-09T00:00:00+08:00", (False, "window_closed")),
        ("2024-03-08T16:00:00+00:00", (False, "window_closed")),
        ("2024-04-01T00:00:00+08:00", (False, "window_closed")),
    ],
)
def test_window_edges(requested: str, expected: tuple[bool, str]) -> None:
    assert no_reason(terms("mandatory", offered=True), requested) == expected


def test_window_ends_at_is_the_exclusive_end_in_utc() -> None:
    decision = no_reason_return(
        sub_order_id="S1",
        terms=terms("mandatory", offered=True),
        signed_at=SIGNED,
        requested_at=at("2024-03-05T10:00:00+08:00"),
        rulebook=AFTER_ALL,
    )
    assert decision.details["window_ends_at"] == "2024-03-08T16:00:00Z"  # 03-09 00:00 Shanghai
    assert decision.amount_fen == 0
    assert decision.subject_id == "S1"
    assert decision.rulebook_id == AFTER_ALL.id
    assert "returns.window_days" in decision.rule_ids
    assert "2024-03-08 23:59:59" in decision.explanation


def test_signed_just_before_midnight_counts_from_the_next_day() -> None:
    snapshot = terms("mandatory", offered=True)
    signed = at("2024-03-01T23:59:59+08:00")
    assert no_reason(snapshot, "2024-03-08T23:59:59+08:00", signed_at=signed)[0]
    assert not no_reason(snapshot, "2024-03-09T00:00:00+08:00", signed_at=signed)[0]


@pytest.mark.parametrize(
    ("snapshot", "signed_at", "expected"),
    [
        (None, SIGNED, (False, "no_terms")),
        ({}, SIGNED, (False, "no_terms")),
        ({"return_class": "mandatory"}, SIGNED, (False, "no_terms")),
        (terms("mandatory", offered=True), None, (False, "not_signed")),
        # requested before the goods were signed for
        (terms("mandatory", offered=True), at("2024-03-06T00:00:00+08:00"), (False, "not_signed")),
        # permanent refusals come before "not signed yet"
        (terms("custom_made", offered=False), None, (False, "class_excluded")),
        (terms("fresh_perishable", offered=False), None, (False, "not_offered")),
    ],
)
def test_refusal_codes(
    snapshot: Mapping[str, object] | None, signed_at: datetime | None, expected: tuple[bool, str]
) -> None:
    assert no_reason(snapshot, signed_at=signed_at) == expected


def test_not_signed_has_no_window() -> None:
    decision = no_reason_return(
        sub_order_id="S1",
        terms=terms("mandatory", offered=True),
        signed_at=None,
        requested_at=at("2024-03-05T10:00:00+08:00"),
        rulebook=AFTER_ALL,
    )
    assert decision.details["window_ends_at"] is None


def with_returns(rulebook: Rulebook, **changes: Any) -> Rulebook:
    return dataclasses.replace(
        rulebook, id="test", returns=dataclasses.replace(rulebook.returns, **changes)
    )


def test_the_class_is_re_judged_under_the_rulebook_at_the_request() -> None:
    snapshot = terms("fresh_perishable", offered=True)  # optional at payment, opted in
    later = with_returns(
        AFTER_ALL,
        excluded_categories=[*AFTER_ALL.returns.excluded_categories, "fresh_perishable"],
        optional_categories=[
            c for c in AFTER_ALL.returns.optional_categories if c != "fresh_perishable"
        ],
    )
    assert no_reason(snapshot, rulebook=AFTER_ALL) == (True, "eligible")
    assert no_reason(snapshot, rulebook=later) == (False, "class_excluded")


def test_the_window_length_is_the_rulebooks() -> None:
    snapshot = terms("mandatory", offered=True)
    longer = with_returns(AFTER_ALL, window_days=15)
    assert no_reason(snapshot, "2024-03-16T23:59:59+08:00", rulebook=longer)[0]
    assert not no_reason(snapshot, "2024-03-17T00:00:00+08:00", rulebook=longer)[0]


def test_a_class_the_request_rulebook_no_longer_knows_keeps_its_kind_at_payment() -> None:
    snapshot = terms("fresh_perishable", offered=True)
    forgotten = with_returns(
        AFTER_ALL,
        optional_categories=[
            c for c in AFTER_ALL.returns.optional_categories if c != "fresh_perishable"
        ],
    )
    decision = no_reason_return(
        sub_order_id="S1",
        terms=snapshot,
        signed_at=SIGNED,
        requested_at=at("2024-03-05T10:00:00+08:00"),
        rulebook=forgotten,
    )
    assert decision.details["eligible"] is True
    assert decision.details["class_kind"] == "optional"


def quality(requested: str, *, signed_at: datetime | None = SIGNED) -> tuple[bool, str]:
    decision = quality_claim(
        sub_order_id="S1", signed_at=signed_at, requested_at=at(requested), rulebook=AFTER_ALL
    )
    assert decision.kind == "quality_claim_eligibility"
    assert decision.rule_ids == ("returns.quality_claim_days",)
    return bool(decision.details["eligible"]), str(decision.details["code"])


def test_quality_claim_window_is_counted_like_the_7_day_window() -> None:
    days = AFTER_ALL.returns.quality_claim_days
    last = local_date(SIGNED) + timedelta(days=days)
    last_moment = datetime(last.year, last.month, last.day, 23, 59, 59, tzinfo=SHANGHAI)
    assert quality(last_moment.isoformat()) == (True, "eligible")
    assert quality((last_moment + timedelta(seconds=1)).isoformat()) == (False, "window_closed")
    assert quality("2024-03-05T10:00:00+08:00", signed_at=None) == (False, "not_signed")


def test_quality_claim_ignores_the_return_class() -> None:
    # custom goods are excluded from no-reason returns, not from quality claims
    assert quality("2024-03-20T10:00:00+08:00") == (True, "eligible")


# ====================================================================== §3 free return shipping
def subsidy(
    freight: str,
    *,
    official: bool = True,
    super_buyer: bool = False,
    merchant_tier: str = "standard",
    goods: str = "1,000.00",
    already: str = "0",
    rulebook: Rulebook = AFTER_ALL,
) -> int:
    return return_shipping_subsidy(
        order_id="O1",
        freight_fen=yuan(freight),
        official_logistics=official,
        super_buyer=super_buyer,
        merchant_tier=merchant_tier,
        sub_order_goods_fen=yuan(goods),
        already_subsidised_on_order_fen=yuan(already),
        carrier="SF",
        rulebook=rulebook,
    ).amount_fen


@pytest.mark.parametrize(
    ("freight", "kwargs", "expected"),
    [
        ("30.00", {}, "25.00"),  # ordinary
        ("18.00", {}, "18.00"),  # ordinary, under the cap
        ("80.00", {"merchant_tier": "super_factory", "goods": "5,000.00"}, "50.00"),
        ("80.00", {"merchant_tier": "powerful_merchant", "goods": "8,000.00"}, "50.00"),
        ("80.00", {"merchant_tier": "super_factory", "goods": "4,999.99"}, "25.00"),  # not large
        ("80.00", {"merchant_tier": "standard", "goods": "9,000.00"}, "25.00"),  # not a tier
        ("260.00", {"super_buyer": True}, "200.00"),
        (
            "260.00",
            {"super_buyer": True, "merchant_tier": "super_factory", "goods": "9,000.00"},
            "200.00",
        ),  # rule 1 matches first
        ("30.00", {"official": False}, "0.00"),
        ("260.00", {"official": False, "super_buyer": True}, "0.00"),
        ("0.00", {}, "0.00"),
    ],
)
def test_subsidy_table(freight: str, kwargs: dict[str, object], expected: str) -> None:
    assert subsidy(freight, **kwargs) == yuan(expected)  # type: ignore[arg-type]


def test_two_pickups_on_one_order_share_one_cap() -> None:
    first = subsidy("30.00")
    second = subsidy("10.00", already=format_fen(first))
    assert (first, second) == (yuan("25.00"), 0)
    assert subsidy("10.00", already="18.00") == yuan("7.00")


def test_subsidy_decision_names_parties_rules_and_cap() -> None:
    decision = return_shipping_subsidy(
        order_id="O1",
        freight_fen=yuan("260.00"),
        official_logistics=True,
        super_buyer=True,
        merchant_tier="standard",
        sub_order_goods_fen=yuan("10.00"),
        already_subsidised_on_order_fen=0,
        carrier="SF",
        rulebook=AFTER_ALL,
    )
    assert (decision.kind, decision.subject_id) == ("return_shipping_subsidy", "O1")
    assert (decision.payer, decision.payee) == ("platform", "carrier:SF")
    assert "free_return_shipping.super_buyer_cap_yuan" in decision.rule_ids
    assert decision.details["cap_rule"] == "super_buyer"
    assert decision.details["cap_fen"] == yuan("200.00")
    assert "200.00" in decision.explanation and "260.00" in decision.explanation


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ("2024-09-11T23:59:59+08:00", "0.00"),
        ("2024-09-12T00:00:00+08:00", "25.00"),
        ("2024-01-01T12:00:00+08:00", "0.00"),
        ("2024-10-20T12:00:00+08:00", "25.00"),
    ],
)
def test_free_return_shipping_starts_2024_09_12(requested: str, expected: str) -> None:
    assert subsidy("30.00", rulebook=rulebook_at(at(requested))) == yuan(expected)


def test_subsidy_not_in_force_is_explained() -> None:
    before = rulebook_at(at("2024-09-11T12:00:00+08:00"))
    decision = return_shipping_subsidy(
        order_id="O1",
        freight_fen=yuan("30.00"),
        official_logistics=True,
        super_buyer=False,
        merchant_tier="standard",
        sub_order_goods_fen=yuan("100.00"),
        already_subsidised_on_order_fen=0,
        carrier="SF",
        rulebook=before,
    )
    assert decision.amount_fen == 0
    assert decision.rule_ids == ("free_return_shipping.enabled",)
    assert decision.rulebook_id == before.id
    assert "not in force" in decision.explanation


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"freight_fen": -1}, "freight"),
        ({"sub_order_goods_fen": -1}, "sub_order_goods"),
        ({"already_subsidised_on_order_fen": -1}, "already_subsidised_on_order"),
    ],
)
def test_negative_amounts_are_refused(kwargs: dict[str, int], field: str) -> None:
    facts: dict[str, object] = {
        "order_id": "O1",
        "freight_fen": 3000,
        "official_logistics": True,
        "super_buyer": False,
        "merchant_tier": "standard",
        "sub_order_goods_fen": 0,
        "already_subsidised_on_order_fen": 0,
        "carrier": "SF",
        "rulebook": AFTER_ALL,
        **kwargs,
    }
    with pytest.raises(InvalidInput) as refused:
        return_shipping_subsidy(**facts)  # type: ignore[arg-type]
    assert (refused.value.code, refused.value.field) == ("amount_negative", field)


def test_unknown_merchant_tier_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        subsidy("30.00", merchant_tier="super factory")
    assert (refused.value.code, refused.value.field) == ("invalid_choice", "merchant_tier")


@pytest.mark.parametrize(
    ("net_paid", "marked", "expected"),
    [
        ("500,000.00", False, True),
        ("499,999.99", False, False),
        ("0.00", True, True),
        ("0.00", False, False),
    ],
)
def test_super_buyer(net_paid: str, marked: bool, expected: bool) -> None:
    assert (
        is_super_buyer(
            net_paid_trailing_fen=yuan(net_paid), marked_by_operator=marked, rulebook=AFTER_ALL
        )
        is expected
    )


# ====================================================================== §4 quick refund
@pytest.mark.parametrize(
    ("picked_up", "official", "applies"),
    [
        ("2024-10-14T23:59:59+08:00", True, False),
        ("2024-10-15T00:00:00+08:00", True, True),
        ("2024-10-20T12:00:00+08:00", True, True),
        ("2024-10-20T12:00:00+08:00", False, False),
        ("2024-09-20T12:00:00+08:00", True, False),
    ],
)
def test_quick_refund_from_2024_10_15_on_official_pickup(
    picked_up: str, official: bool, applies: bool
) -> None:
    instant = at(picked_up)
    rulebook = rulebook_at(instant)
    decision = quick_refund(picked_up_at=instant, official_logistics=official, rulebook=rulebook)
    assert decision.details["applies"] is applies
    assert decision.kind == "quick_refund"
    assert decision.rulebook_id == rulebook.id
    assert "quick_refund.enabled" in decision.rule_ids
    assert decision.amount_fen == 0


def test_quick_refund_names_the_sub_order_and_buyer_when_given() -> None:
    instant = at("2024-10-20T12:00:00+08:00")
    decision = quick_refund(
        picked_up_at=instant,
        official_logistics=True,
        rulebook=rulebook_at(instant),
        sub_order_id="S1",
        buyer_id="B1",
    )
    assert (decision.subject_id, decision.payer, decision.payee) == ("S1", "platform", "buyer:B1")
    assert decision.details["platform_absorbs_empty_or_wrong_return"] is True


# ====================================================================== §5 custom goods
def compensation(goods: str, *, trigger: str = "defective", rulebook: Rulebook = AFTER_ALL) -> int:
    return custom_compensation(
        sub_order_id="S1",
        buyer_id="B1",
        sub_order_goods_fen=yuan(goods),
        trigger=trigger,
        rulebook=rulebook,
    ).amount_fen


@pytest.mark.parametrize(
    ("goods", "expected"),
    [
        ("10,000.00", "500.00"),
        ("100,000.00", "3,000.00"),
        ("60,000.00", "3,000.00"),
        ("59,999.99", "3,000.00"),  # 2,999.9995 rounds half-up to 3,000.00
        ("0.10", "0.01"),  # 0.5 fen, half-up
        ("0.09", "0.00"),  # 0.45 fen
        ("0.00", "0.00"),
    ],
)
def test_custom_compensation_table(goods: str, expected: str) -> None:
    assert compensation(goods) == yuan(expected)


@pytest.mark.parametrize(
    "trigger",
    [
        "not_delivered_or_installed_as_promised",
        "defective",
        "size_mismatch",
        "misprinted",
        "damaged",
        "custom_delivery_delay",
    ],
)
def test_custom_compensation_every_trigger(trigger: str) -> None:
    assert compensation("10,000.00", trigger=trigger) == yuan("500.00")


def test_custom_compensation_decision() -> None:
    decision = custom_compensation(
        sub_order_id="S1",
        buyer_id="B1",
        sub_order_goods_fen=yuan("100,000.00"),
        trigger="damaged",
        rulebook=AFTER_ALL,
    )
    assert (decision.payer, decision.payee) == ("platform", "buyer:B1")
    assert "custom_compensation.cap_yuan" in decision.rule_ids
    assert decision.details["uncapped_fen"] == yuan("5,000.00")
    assert "3,000.00" in decision.explanation


def test_custom_compensation_before_2024_09_12_is_not_in_force() -> None:
    before = rulebook_at(at("2024-09-11T23:59:59+08:00"))
    decision = custom_compensation(
        sub_order_id="S1",
        buyer_id="B1",
        sub_order_goods_fen=yuan("10,000.00"),
        trigger="defective",
        rulebook=before,
    )
    assert decision.amount_fen == 0
    assert decision.rule_ids == ("custom_compensation.enabled",)
    assert "not in force" in decision.explanation
    assert compensation("10,000.00", rulebook=rulebook_at(at("2024-09-12T00:00:00+08:00"))) == (
        yuan("500.00")
    )


def test_custom_compensation_unknown_trigger_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        compensation("10,000.00", trigger="changed_my_mind")
    assert (refused.value.code, refused.value.field) == ("invalid_choice", "trigger")


# ====================================================================== §7 transit accident
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("80,000.00", "50,000.00"),
        ("50,000.00", "50,000.00"),
        ("1,234.56", "1,234.56"),
        ("0.00", "0.00"),
    ],
)
def test_transit_accident_table(value: str, expected: str) -> None:
    decision = transit_accident_compensation(
        sub_order_id="S1", merchant_id="M1", goods_value_fen=yuan(value), rulebook=AFTER_ALL
    )
    assert decision.amount_fen == yuan(expected)
    assert (decision.payer, decision.payee) == ("platform", "merchant:M1")
    assert decision.rule_ids == ("merchant_relief.transit_accident_cap_yuan",)


# ====================================================================== §10b late shipment
@pytest.mark.parametrize(
    ("goods", "expected"),
    [
        ("60.00", "5.00"),  # 3.00, raised to the floor
        ("1,000.00", "50.00"),
        ("5,000.00", "100.00"),  # 250.00, capped
        ("100.00", "5.00"),
        ("2,000.00", "100.00"),
        ("123.45", "6.17"),  # 617.25 fen rounds to 617
        ("0.00", "5.00"),  # the floor holds whatever the goods
    ],
)
def test_late_shipment_compensation_table(goods: str, expected: str) -> None:
    decision = late_shipment_compensation(
        sub_order_id="S1",
        buyer_id="B1",
        merchant_id="M1",
        sub_order_goods_fen=yuan(goods),
        rulebook=AFTER_ALL,
    )
    assert decision.amount_fen == yuan(expected)
    assert (decision.payer, decision.payee) == ("merchant:M1", "buyer:B1")
    assert decision.kind == "late_shipment_compensation"


PAID = at("2024-05-01T10:00:00+08:00")


@pytest.mark.parametrize(
    ("shipped", "hours", "now", "late"),
    [
        ("2024-05-02T10:00:00+08:00", 24, "2024-05-09T00:00:00+08:00", False),  # at the deadline
        ("2024-05-02T10:00:01+08:00", 24, "2024-05-09T00:00:00+08:00", True),
        ("2024-05-02T10:00:01+08:00", 48, "2024-05-09T00:00:00+08:00", False),
        ("2024-05-04T10:00:01+08:00", 72, "2024-05-09T00:00:00+08:00", True),
        (None, 24, "2024-05-02T09:59:59+08:00", False),  # not yet due
        (None, 24, "2024-05-02T10:00:00+08:00", True),  # a timer due at the deadline
        (None, 48, "2024-05-02T12:00:00+08:00", False),
        (None, None, "2024-06-01T00:00:00+08:00", False),  # no promise: never late
        ("2024-05-20T00:00:00+08:00", None, "2024-06-01T00:00:00+08:00", False),
    ],
)
def test_late_shipment(shipped: str | None, hours: int | None, now: str, late: bool) -> None:
    shipped_at = at(shipped) if shipped is not None else None
    assert (
        late_shipment(paid_at=PAID, shipped_at=shipped_at, commitment_hours=hours, now=at(now))
        is late
    )


def test_shipping_deadline_and_bad_commitment() -> None:
    assert shipping_deadline(paid_at=PAID, commitment_hours=48) == at("2024-05-03T10:00:00+08:00")
    with pytest.raises(InvalidInput):
        shipping_deadline(paid_at=PAID, commitment_hours=0)


# ====================================================================== properties
def half_up_share(amount_fen: int, percent: int) -> int:
    """amount x percent/100 rounded half-up, computed with integers: an independent oracle."""
    return (amount_fen * percent * 2 + 100) // 200


def test_the_oracle_rates_are_the_rulebooks() -> None:
    assert AFTER_ALL.custom_compensation.rate * 100 == 5
    assert AFTER_ALL.shipping_commitment.late_compensation_rate * 100 == 5


@given(
    freights=st.lists(FEN, min_size=1, max_size=5),
    official=st.booleans(),
    super_buyer=st.booleans(),
    merchant_tier=st.sampled_from(["standard", "powerful_merchant", "super_factory"]),
    goods=FEN,
    after=st.booleans(),
)
def test_subsidy_never_negative_never_above_freight_nor_the_order_cap(
    freights: list[int],
    official: bool,
    super_buyer: bool,
    merchant_tier: str,
    goods: int,
    after: bool,
) -> None:
    rulebook = AFTER_ALL if after else rulebook_at(at("2024-09-11T12:00:00+08:00"))
    rules = rulebook.free_return_shipping
    already = 0
    for freight in freights:
        decision = return_shipping_subsidy(
            order_id="O1",
            freight_fen=freight,
            official_logistics=official,
            super_buyer=super_buyer,
            merchant_tier=merchant_tier,
            sub_order_goods_fen=goods,
            already_subsidised_on_order_fen=already,
            carrier="SF",
            rulebook=rulebook,
        )
        amount = decision.amount_fen
        assert 0 <= amount <= freight
        assert amount <= max(int(str(decision.details["cap_fen"])) - already, 0)
        if not (official and rules.enabled):
            assert amount == 0
        already += amount
    assert already <= rules.super_buyer_cap_fen
    if not super_buyer:
        assert already <= max(rules.large_order_tier_cap_fen, rules.default_cap_fen)


@given(goods=FEN)
def test_custom_compensation_is_five_percent_half_up_never_above_the_cap(goods: int) -> None:
    decision = custom_compensation(
        sub_order_id="S1",
        buyer_id="B1",
        sub_order_goods_fen=goods,
        trigger="damaged",
        rulebook=AFTER_ALL,
    )
    cap = AFTER_ALL.custom_compensation.cap_fen
    assert 0 <= decision.amount_fen <= cap
    assert decision.amount_fen == min(half_up_share(goods, 5), cap)


@given(goods=FEN)
def test_late_compensation_is_clamped_and_half_up(goods: int) -> None:
    rules = AFTER_ALL.shipping_commitment
    decision = late_shipment_compensation(
        sub_order_id="S1",
        buyer_id="B1",
        merchant_id="M1",
        sub_order_goods_fen=goods,
        rulebook=AFTER_ALL,
    )
    assert rules.late_compensation_min_fen <= decision.amount_fen <= rules.late_compensation_max_fen
    assert decision.amount_fen == min(
        max(half_up_share(goods, 5), rules.late_compensation_min_fen),
        rules.late_compensation_max_fen,
    )


@given(value=FEN)
def test_transit_compensation_never_above_value_nor_cap(value: int) -> None:
    decision = transit_accident_compensation(
        sub_order_id="S1", merchant_id="M1", goods_value_fen=value, rulebook=AFTER_ALL
    )
    assert 0 <= decision.amount_fen <= value
    assert decision.amount_fen <= AFTER_ALL.merchant_relief.transit_accident_cap_fen


INSTANTS = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)


@given(signed=INSTANTS, offset_seconds=st.integers(min_value=-86_400, max_value=20 * 86_400))
def test_eligible_exactly_when_requested_by_the_seventh_shanghai_day_after_signing(
    signed: datetime, offset_seconds: int
) -> None:
    requested = signed + timedelta(seconds=offset_seconds)
    decision = no_reason_return(
        sub_order_id="S1",
        terms=terms("mandatory", offered=True),
        signed_at=signed,
        requested_at=requested,
        rulebook=AFTER_ALL,
    )
    days_after = (local_date(requested) - local_date(signed)).days
    expected = requested >= signed and days_after <= AFTER_ALL.returns.window_days
    assert decision.details["eligible"] is expected
