"""72-hour pay-to-sign rate, industry averages and badge award/withdrawal, known numbers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pytest

from buyerguard.analytics.sign_rate import SignRateParams, badge_transitions, compute_sign_rates
from buyerguard.clock import SHANGHAI, parse_instant
from buyerguard.rulebook import rulebook_at
from tests.analytics.conftest import History, keys_of

HOUR = timedelta(hours=1)
PARAMS = SignRateParams.from_rulebook(rulebook_at(parse_instant("2024-10-15")))


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


T1 = sh(2024, 4, 10)  # window: paid in [03-08 00:00, 04-07 00:00) Shanghai
T2 = sh(2024, 5, 10)  # window: paid in [04-07 00:00, 05-07 00:00)


def add_orders(
    h: History, start: datetime, merchant: str, industry: str, fast: int, slow: int
) -> None:
    """`fast` orders signed within 72 h and `slow` ones signed after, one per hour."""
    for i in range(fast + slow):
        h.add(
            start + i * HOUR,
            48 * HOUR if i < fast else 100 * HOUR,
            merchant_id=merchant,
            industry=industry,
        )


def by_merchant(rates: Any) -> dict[str, dict[str, Any]]:
    return {r["merchant_id"]: r for r in rates.to_pylist()}


@pytest.fixture
def loaded(con: duckdb.DuckDBPyConnection, history: Callable[[], History]) -> str:
    h = history()
    first, second = sh(2024, 3, 12), sh(2024, 4, 12)
    # Window of T1. Apparel: A 36/40, B 28/40, C 20/20 (too few); average 84/100.
    add_orders(h, first, "A", "apparel", 36, 4)
    add_orders(h, first, "B", "apparel", 28, 12)
    add_orders(h, first, "C", "apparel", 20, 0)
    # Electronics: D alone, 24/30 — exactly its industry's average.
    add_orders(h, first, "D", "electronics", 24, 6)
    # Not counted at T1: A's refunds before shipment, and orders still inside the last 72 h.
    h.add(first, None, count=5, merchant_id="A", refunded_before_shipment=True)
    h.add(sh(2024, 4, 8), None, count=10, merchant_id="A")
    # Boundaries: signed at exactly 72 h counts; one second later does not (B: +1 / +1).
    h.add(sh(2024, 3, 20), 72 * HOUR, merchant_id="B")
    h.add(sh(2024, 3, 20), 72 * HOUR + timedelta(seconds=1), merchant_id="B")
    # Window of T2: A falls to 15/40 (with the 10 unsigned of 04-08), B rises to 30/30.
    add_orders(h, second, "A", "apparel", 15, 15)
    add_orders(h, second, "B", "apparel", 30, 0)
    return str(h.load(con))


def test_rates_and_badges_at_t1(con: duckdb.DuckDBPyConnection, loaded: str) -> None:
    rates = by_merchant(compute_sign_rates(con, loaded, keys_of(loaded), T1, PARAMS))
    assert set(rates) == {"A", "B", "C", "D"}
    a, b, c, d = rates["A"], rates["B"], rates["C"], rates["D"]
    assert (a["orders"], a["signed_within"], a["sign_rate"]) == (40, 36, 0.9)
    assert (b["orders"], b["signed_within"]) == (42, 29)
    assert (c["orders"], c["signed_within"]) == (20, 20)
    # Apparel average weighted by orders: (36 + 29 + 20) / (40 + 42 + 20).
    assert (a["industry_orders"], a["industry_signed_within"]) == (102, 85)
    assert a["industry_rate"] == pytest.approx(85 / 102)
    assert d["industry_rate"] == pytest.approx(0.8)
    assert a["badge_eligible"] is True  # 0.9 > 0.833, 40 orders
    assert b["badge_eligible"] is False  # below average
    assert c["badge_eligible"] is False  # 100% but only 20 orders
    assert d["badge_eligible"] is False  # equal to its industry's average is not above


def test_badge_awarded_then_withdrawn(con: duckdb.DuckDBPyConnection, loaded: str) -> None:
    day1 = compute_sign_rates(con, loaded, keys_of(loaded), T1, PARAMS)
    awarded, withdrawn = badge_transitions(set(), day1)
    assert (set(awarded), set(withdrawn)) == ({"A"}, set())

    day2 = compute_sign_rates(con, loaded, keys_of(loaded), T2, PARAMS)
    rates = by_merchant(day2)
    assert set(rates) == {"A", "B"}
    assert (rates["A"]["sign_rate"], rates["B"]["sign_rate"]) == (15 / 40, 1.0)
    assert rates["A"]["industry_rate"] == pytest.approx(45 / 70)
    awarded, withdrawn = badge_transitions({"A"}, day2)
    assert (set(awarded), set(withdrawn)) == ({"B"}, {"A"})


def test_min_orders_is_a_parameter(con: duckdb.DuckDBPyConnection, loaded: str) -> None:
    rates = by_merchant(
        compute_sign_rates(con, loaded, keys_of(loaded), T1, replace(PARAMS, min_orders=20))
    )
    assert rates["C"]["badge_eligible"] is True


def test_majority_industry_is_the_peer_group(
    con: duckdb.DuckDBPyConnection, history: Callable[[], History]
) -> None:
    h = history()
    add_orders(h, sh(2024, 3, 12), "A", "apparel", 3, 0)
    add_orders(h, sh(2024, 3, 12), "A", "toys", 1, 1)
    add_orders(h, sh(2024, 3, 12), "Z", "toys", 0, 2)
    rates = by_merchant(compute_sign_rates(con, h.load(con), keys_of("shipments"), T1, PARAMS))
    assert rates["A"]["industry"] == "apparel"
    assert (rates["A"]["orders"], rates["A"]["signed_within"]) == (5, 4)
    assert (rates["Z"]["industry_orders"], rates["Z"]["industry_signed_within"]) == (2, 0)
