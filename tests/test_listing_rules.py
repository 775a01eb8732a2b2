"""The §2 listing rules as a pure rule: each rule, its rule id, and the rulebook it comes from."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from buyerguard.domain.catalog import MANDATORY, OnePieceForm, Product, Tier, TierKind
from buyerguard.domain.listing import (
    LISTING_ACCEPTED,
    LISTING_REFUSED,
    check_listing,
    judge_listing,
)
from buyerguard.errors import InvalidInput
from buyerguard.rulebook import rulebooks
from tests.conftest import at

BEFORE = rulebooks().at(at("2024-02-01T23:59:59+08:00"))  # baseline: MOQ >= 2
AFTER = rulebooks().at(at("2024-02-02T00:00:00+08:00"))  # MOQ >= 1, one-piece spot rule
EXCLUDED = BEFORE.returns.excluded_categories[0]
OPTIONAL = BEFORE.returns.optional_categories[0]


def product(*tiers: Tier, **fields: object) -> Product:
    base = Product("P1", "M1", "cups", tiers, 100, "330782")
    return replace(base, **fields)  # type: ignore[arg-type]


def spot(moq: int, returns: bool = False) -> Tier:
    return Tier(TierKind.SPOT, 1000, moq, returns)


def breaches(decision_details: object) -> list[tuple[str, str, str]]:
    assert isinstance(decision_details, dict)
    return [(b["code"], b["field"], b["rule_id"]) for b in decision_details["breaches"]]


def test_moq_minimum_is_two_before_2024_02_02_and_one_from_then() -> None:
    one = product(spot(1, returns=True))
    before = judge_listing(one, BEFORE)
    assert before.kind == LISTING_REFUSED and before.rulebook_id == "baseline"
    assert breaches(before.details) == [
        ("moq_below_minimum", "tiers[0].moq", "listing.min_order_quantity")
    ]
    after = judge_listing(one, AFTER)
    assert after.kind == LISTING_ACCEPTED and after.rulebook_id == "2024-02-02"
    assert "listing.min_order_quantity" in after.rule_ids
    assert judge_listing(product(spot(2, returns=True)), BEFORE).kind == LISTING_ACCEPTED
    with pytest.raises(InvalidInput) as refused:
        check_listing(one, BEFORE)
    assert refused.value.code == "moq_below_minimum"
    assert "listing.min_order_quantity" in refused.value.message
    assert "baseline" in refused.value.message


def test_a_one_piece_offer_in_a_mandatory_class_needs_7_day_returns_on_its_spot_tier() -> None:
    custom = Tier(TierKind.CUSTOM, 2000, 50)  # its custom tier need not offer them
    lacking = product(spot(1), custom)
    decision = judge_listing(lacking, AFTER)
    assert decision.kind == LISTING_REFUSED
    assert breaches(decision.details) == [
        (
            "spot_tier_seven_day_returns_required",
            "tiers[0].seven_day_returns",
            "returns.one_piece_spot_tier_required",
        )
    ]
    with pytest.raises(InvalidInput) as refused:
        check_listing(lacking, AFTER)
    assert "one piece at a time" in refused.value.message
    assert judge_listing(product(spot(1, True), custom), AFTER).kind == LISTING_ACCEPTED


def test_one_piece_forms_make_an_offer_one_piece_and_the_rule_starts_on_2024_02_02() -> None:
    live = product(spot(2), one_piece_forms=frozenset({OnePieceForm.LIVE_STREAM_OFFER}))
    assert judge_listing(live, BEFORE).kind == LISTING_ACCEPTED  # before: opt-in only
    assert judge_listing(live, AFTER).kind == LISTING_REFUSED
    wholesale_only = product(spot(10))  # not one piece at a time: no requirement
    assert judge_listing(wholesale_only, AFTER).kind == LISTING_ACCEPTED
    no_spot = product(Tier(TierKind.MADE_TO_ORDER, 900, 1))
    assert judge_listing(no_spot, AFTER).kind == LISTING_ACCEPTED


def test_excluded_classes_never_offer_7_day_returns() -> None:
    offering = product(spot(1), Tier(TierKind.CUSTOM, 2000, 5, True), return_class=EXCLUDED)
    decision = judge_listing(offering, AFTER)
    assert decision.kind == LISTING_REFUSED
    assert breaches(decision.details) == [
        ("seven_day_returns_excluded_class", "tiers[1].seven_day_returns", EXCLUDED_RULE)
    ]
    plain = product(spot(1), return_class=EXCLUDED)  # one piece, but excluded: none owed
    accepted = judge_listing(plain, AFTER)
    assert accepted.kind == LISTING_ACCEPTED and accepted.rule_ids[1] == EXCLUDED_RULE


EXCLUDED_RULE = "returns.excluded_categories"


@pytest.mark.parametrize("returns", [True, False])
def test_optional_classes_follow_the_merchants_choice(returns: bool) -> None:
    decision = judge_listing(product(spot(1, returns), return_class=OPTIONAL), AFTER)
    assert decision.kind == LISTING_ACCEPTED
    assert "returns.optional_categories" in decision.rule_ids
    assert "merchant's choice" in decision.explanation


def test_a_return_class_must_be_a_class_of_the_rulebook() -> None:
    decision = judge_listing(product(spot(2, True), return_class="excluded"), AFTER)
    assert breaches(decision.details)[0][:2] == ("return_class_unknown", "return_class")


def test_a_shipping_commitment_is_one_of_the_rulebooks_promises() -> None:
    options = AFTER.shipping_commitment.promise_hours_options
    for hours in options:
        listed = product(spot(1, True), shipping_commitment_hours=hours)
        assert judge_listing(listed, AFTER).kind == LISTING_ACCEPTED
    odd = product(spot(1, True), shipping_commitment_hours=36)
    assert breaches(judge_listing(odd, AFTER).details) == [
        (
            "shipping_commitment_unknown",
            "shipping_commitment_hours",
            "shipping_commitment.promise_hours_options",
        )
    ]
    with pytest.raises(InvalidInput) as no_spot:
        product(Tier(TierKind.CUSTOM, 100, 1), shipping_commitment_hours=24)
    assert no_spot.value.code == "shipping_commitment_without_spot"


tiers_strategy = st.lists(
    st.builds(
        Tier,
        st.sampled_from(list(TierKind)),
        st.integers(1, 10**12),
        st.integers(1, 5),
        st.booleans(),
    ),
    min_size=1,
    max_size=3,
    unique_by=lambda tier: tier.kind,
)


@given(
    tiers=tiers_strategy,
    return_class=st.sampled_from([MANDATORY, EXCLUDED, OPTIONAL]),
    forms=st.sets(st.sampled_from(list(OnePieceForm)), max_size=2),
    after=st.booleans(),
)
def test_the_decision_matches_the_rules_for_any_listing(
    tiers: list[Tier], return_class: str, forms: set[OnePieceForm], after: bool
) -> None:
    """A model of §2, stated plainly, agrees with the rule on every listing."""
    rulebook = AFTER if after else BEFORE
    listed = product(*tiers, return_class=return_class, one_piece_forms=frozenset(forms))
    spot_tier = listed.tier(TierKind.SPOT)
    one_piece = bool(forms) or (spot_tier is not None and spot_tier.moq == 1)
    expected_ok = (
        all(tier.moq >= (1 if after else 2) for tier in tiers)
        and not (return_class == EXCLUDED and any(tier.seven_day_returns for tier in tiers))
        and not (
            return_class == MANDATORY
            and after
            and one_piece
            and spot_tier is not None
            and not spot_tier.seven_day_returns
        )
    )
    decision = judge_listing(listed, rulebook)
    assert (decision.kind == LISTING_ACCEPTED) == expected_ok
    assert decision.rule_ids[0] == "listing.min_order_quantity"
    assert decision.rulebook_id == rulebook.id and decision.explanation
