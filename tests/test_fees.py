"""Technical service fee cases of policies.md §1, under the shipped rulebooks."""

from __future__ import annotations

import pytest

from buyerguard.domain.fees import FeeFacts, enrolment_at_payment, technical_service_fee
from buyerguard.money import parse_yuan
from buyerguard.rulebook import rulebook_at
from tests.conftest import at

PROTECTION = frozenset({"buyer_protection"})
ANXINGOU = frozenset({"anxingou"})


def fee(
    paid: str,
    *,
    paid_at: str = "2024-09-20T12:00:00+08:00",
    services: frozenset[str] = PROTECTION,
    refunded: str = "0",
    entrusted: bool = False,
    before_shipment: bool = False,
) -> int:
    facts = FeeFacts(
        sub_order_id="S1",
        merchant_id="M1",
        goods_paid_fen=parse_yuan(paid),
        goods_refunded_fen=parse_yuan(refunded),
        entrusted=entrusted,
        refunded_before_shipment=before_shipment,
        merchant_services_at_payment=services,
    )
    return technical_service_fee(facts, rulebook_at(at(paid_at))).amount_fen


@pytest.mark.parametrize(
    ("paid", "expected"),
    [
        ("1,000.00", "6.00"),
        ("3,000.00", "18.00"),
        ("10,000.00", "18.00"),
        ("2,999.99", "18.00"),  # 17.99994 rounds to 18.00
        ("7.50", "0.05"),  # 4.5 fen, half-up
        ("0.01", "0.00"),
        ("0.83", "0.00"),  # 0.498 fen
        ("0.84", "0.01"),  # 0.504 fen
    ],
)
def test_fee_is_rate_of_goods_capped_and_rounded_half_up(paid: str, expected: str) -> None:
    assert fee(paid) == parse_yuan(expected)


def test_refunded_in_full_before_shipment_pays_nothing() -> None:
    assert fee("1,000.00", refunded="1,000.00", before_shipment=True) == 0


def test_partial_refund_reduces_the_base() -> None:
    assert fee("1,000.00", refunded="500.00") == parse_yuan("3.00")


def test_entrusted_goods_pay_nothing() -> None:
    assert fee("10,000.00", entrusted=True) == 0


def test_anxingou_before_2024_09_13_is_uncapped_and_only_for_its_merchants() -> None:
    assert fee("10,000.00", paid_at="2024-09-01T12:00:00+08:00", services=ANXINGOU) == parse_yuan(
        "60.00"
    )
    assert fee("10,000.00", paid_at="2024-09-01T12:00:00+08:00", services=PROTECTION) == 0


def test_anxingou_merchant_moves_over_on_2024_09_13() -> None:
    both = ANXINGOU | PROTECTION
    assert fee("10,000.00", paid_at="2024-09-12T23:59:59+08:00", services=both) == parse_yuan(
        "60.00"
    )
    assert fee("10,000.00", paid_at="2024-09-13T00:00:00+08:00", services=both) == parse_yuan(
        "18.00"
    )


@pytest.mark.parametrize(
    ("paid_at", "expected", "moved_over"),
    [
        ("2024-09-01T12:00:00+08:00", "60.00", False),  # Anxingou's own fee, uncapped
        ("2024-09-12T23:59:59+08:00", "60.00", False),
        ("2024-09-13T00:00:00+08:00", "18.00", True),  # enrolled in buyer protection
        ("2024-09-20T12:00:00+08:00", "18.00", True),
        ("2024-10-20T12:00:00+08:00", "18.00", True),  # later rulebooks inherit the move
    ],
)
def test_a_merchant_on_anxingou_alone_moves_over_to_buyer_protection(
    paid_at: str, expected: str, moved_over: bool
) -> None:
    """policies.md timeline: Anxingou stops on 2024-09-13 and its merchants move over."""
    facts = FeeFacts("S1", "M1", parse_yuan("10,000.00"), 0, False, False, ANXINGOU)
    decision = technical_service_fee(facts, rulebook_at(at(paid_at)))
    assert decision.amount_fen == parse_yuan(expected)
    assert ("fees.services_moved_over" in decision.rule_ids) is moved_over


def test_enrolment_is_decided_only_where_a_service_moves_over() -> None:
    after = rulebook_at(at("2024-09-20T12:00:00+08:00"))
    enrolled = enrolment_at_payment("M1", ANXINGOU, after)
    assert enrolled is not None
    assert enrolled.subject_id == "M1:buyer_protection" and enrolled.amount_fen == 0
    assert enrolled.rule_ids == ("fees.services_moved_over", "fees.required_service")
    assert enrolment_at_payment("M1", ANXINGOU | PROTECTION, after) is None  # already on it
    assert enrolment_at_payment("M1", frozenset(), after) is None
    before = rulebook_at(at("2024-09-01T12:00:00+08:00"))
    assert enrolment_at_payment("M1", ANXINGOU, before) is None


def test_decision_names_its_rules_and_rulebook() -> None:
    facts = FeeFacts("S9", "M1", parse_yuan("10,000.00"), 0, False, False, PROTECTION)
    decision = technical_service_fee(facts, rulebook_at(at("2024-09-20T00:00:00+08:00")))
    assert decision.rulebook_id == "2024-09-13"
    assert decision.rule_ids == (
        "fees.rate",
        "fees.required_service",
        "fees.cap_enabled",
        "fees.cap_yuan",
    )
    assert decision.payer == "merchant:M1" and decision.payee == "platform"
