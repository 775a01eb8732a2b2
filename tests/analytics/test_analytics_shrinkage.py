"""The default promise model: lost parcels, the observed window and hazard shrinkage.

Every expected value is computed by hand in the test (Kaplan–Meier with delayed
entry; h = (d + m·h_parent) / (n + m) for shrinkage), never by the code under test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from buyerguard.analytics.eta import build_promise_table
from buyerguard.analytics.promise_params import PromiseParams
from buyerguard.clock import SHANGHAI, parse_instant
from buyerguard.errors import InvalidInput, RulebookError
from buyerguard.rulebook import parse_rulebooks, rulebook_at
from tests.analytics.conftest import History

DAY = timedelta(days=1)
DEFAULT = PromiseParams.from_rulebook(rulebook_at(parse_instant("2024-10-15")))
BASELINE_TOML = Path(__file__).resolve().parents[2] / "rulebooks" / "0-baseline.toml"


def sh(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=SHANGHAI).astimezone(UTC)


AS_OF = sh(2024, 6, 30)  # local day D = 2024-06-30


def day_before(n: int, hour: int = 10) -> datetime:
    """`hour`:00 Shanghai on local day D − n."""
    return AS_OF - n * DAY + timedelta(hours=hour)


def rows_by_key(table: pa.Table) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {
        (
            r["level"],
            r["product_id"],
            r["merchant_id"],
            r["origin"],
            r["destination"],
            r["carrier"],
        ): r
        for r in table.to_pylist()
    }


P1 = (1, "P1", None, "440305", "310115", None)


def test_the_rulebook_defaults_are_the_model_that_beat_olist() -> None:
    assert (
        DEFAULT.lost_after_days,
        DEFAULT.history_window_basis,
        DEFAULT.hazard_prior_strength,
    ) == (60, "observed", Decimal("20"))
    old = DEFAULT.old_model()
    assert (old.history_window_basis, old.hazard_prior_strength) == ("paid", Decimal(0))
    assert old.lost_after_days >= old.window_days + old.max_horizon_days


# --------------------------------------------------------------------------- lost rule

LOST = replace(
    DEFAULT,
    window_days=90,
    history_window_basis="paid",
    hazard_prior_strength=Decimal(0),
    min_samples=1,
    lost_after_days=60,
)


def test_unsigned_61_days_is_lost_and_59_days_is_censored(
    con: duckdb.DuckDBPyConnection, history: Callable[[], History]
) -> None:
    h = history()
    h.add(day_before(20), DAY, count=10)  # signed on day 1
    h.add(day_before(61), None)  # unsigned, known unsigned through day 60: lost
    h.add(day_before(59), None)  # unsigned through day 58: censored there
    h.load(con)
    row = rows_by_key(build_promise_table(con, "shipments", "shipments_keys", AS_OF, LOST))[P1]
    # 11 parcels at risk on day 1 (the censored one stays until day 58): F(1) = 10/11.
    assert row["sample_size"] == 11
    assert (row["promise_offset_days"], row["probability"]) == (1, pytest.approx(10 / 11))
    never_lost = replace(LOST, lost_after_days=200, confidence=Decimal("0.8"))
    row = rows_by_key(build_promise_table(con, "shipments", "shipments_keys", AS_OF, never_lost))[
        P1
    ]
    assert row["sample_size"] == 12
    assert row["probability"] == pytest.approx(10 / 12)


@pytest.mark.parametrize(
    ("days_after_payment", "sample_size"),
    [
        (50, 11),  # unsigned through day 49: censored, still in
        (62, 10),  # unsigned through day 61 ≥ 60: lost
        (70, 10),  # signed on day 65 > 60: lost too, the same parcel at every as-of
    ],
)
def test_a_parcel_signed_on_day_65_is_lost_before_and_after_it_signs(
    con: duckdb.DuckDBPyConnection,
    history: Callable[[], History],
    days_after_payment: int,
    sample_size: int,
) -> None:
    paid = sh(2024, 3, 1, 10)
    h = history()
    h.add(paid, DAY, count=10)
    h.add(paid, 65 * DAY)
    h.load(con)
    as_of = sh(2024, 3, 1) + days_after_payment * DAY
    row = rows_by_key(build_promise_table(con, "shipments", "shipments_keys", as_of, LOST))[P1]
    assert row["sample_size"] == sample_size


# --------------------------------------------------------------------------- observed window

OBSERVED = replace(
    DEFAULT,
    window_days=5,
    max_horizon_days=10,
    min_samples=1,
    hazard_prior_strength=Decimal(0),
)


def delayed_entry_history(history: Callable[[], History]) -> History:
    """Observed days D−5 .. D−1; parcels paid before D−5 enter the risk set late."""
    h = history()
    h.add(day_before(3), DAY, count=2)  # A: days 0..1, signed on 1
    h.add(day_before(8), 4 * DAY, count=2)  # B: enters on day 3, signed on 4
    h.add(day_before(8), 2 * DAY)  # C: signed on day 2 < entry 3: never observed
    h.add(day_before(2), None)  # E: unsigned, censored after day 1
    h.add(day_before(6), 3 * DAY)  # G: enters on day 1, signed on 3
    h.add(day_before(40), None)  # too old to be in the risk set at all
    return h


@pytest.mark.parametrize(
    ("confidence", "offset_days", "probability"),
    [
        # at risk / signed: day 0: A A E = 3 / 0; day 1: A A E G = 4 / 2; day 2: G = 1 / 0;
        # day 3: G B B = 3 / 1; day 4: B B = 2 / 2.
        # S(1) = 1 − 2/4 = 1/2; S(3) = 1/2 · 2/3 = 1/3; S(4) = 0.
        ("0.50", 1, 0.5),
        ("0.60", 3, 2 / 3),
        ("0.90", 4, 1.0),
    ],
)
def test_observed_window_enters_older_parcels_late(
    con: duckdb.DuckDBPyConnection,
    history: Callable[[], History],
    confidence: str,
    offset_days: int,
    probability: float,
) -> None:
    delayed_entry_history(history).load(con)
    params = replace(OBSERVED, confidence=Decimal(confidence))
    row = rows_by_key(build_promise_table(con, "shipments", "shipments_keys", AS_OF, params))[P1]
    # sample size: the parcels paid inside the window (A A E)
    assert row["sample_size"] == 3
    assert (row["promise_offset_days"], row["probability"]) == (
        offset_days,
        pytest.approx(probability),
    )


def test_paid_window_sees_only_the_parcels_paid_in_it(
    con: duckdb.DuckDBPyConnection, history: Callable[[], History]
) -> None:
    delayed_entry_history(history).load(con)
    paid = replace(OBSERVED, history_window_basis="paid", confidence=Decimal("0.5"))
    row = rows_by_key(build_promise_table(con, "shipments", "shipments_keys", AS_OF, paid))[P1]
    # A A E only: day 1 has 3 at risk, 2 signed; E is censored after day 1.
    assert (row["sample_size"], row["promise_offset_days"]) == (3, 1)
    assert row["probability"] == pytest.approx(2 / 3)
    strict = replace(paid, confidence=Decimal("0.9"))
    row = rows_by_key(build_promise_table(con, "shipments", "shipments_keys", AS_OF, strict))[P1]
    assert (row["promise_offset_days"], row["probability"]) == (None, None)


# --------------------------------------------------------------------------- shrinkage

M = 20.0
SHRINK = replace(DEFAULT, history_window_basis="paid", hazard_prior_strength=Decimal(20))
CITY = (3, None, None, "440300", "310000", None)


def shrink_history(history: Callable[[], History], big: int = 40) -> History:
    """One city route (Shenzhen → Shanghai, carrier SF, no product ids), three merchants.

    Levels 3, 4 and 5 hold the same parcels, so shrinking 4 toward 5 and 3
    toward 4 changes nothing and the city's hazard is its own.
    """
    h = history()
    paid = day_before(10)
    route: dict[str, Any] = {
        "product_id": None,
        "origin_region": "440305",
        "destination_region": "310115",
    }
    h.add(paid, DAY, count=big, merchant_id="MB", **route)
    h.add(paid, 2 * DAY, count=big, merchant_id="MB", **route)
    h.add(paid, 3 * DAY, count=20, merchant_id="MS", **route)
    # MC: 20 parcels paid two days ago, all unsigned: at risk on days 0 and 1 only.
    h.add(day_before(2), None, count=20, merchant_id="MC", **route)
    return h


def km_cdf(hazards: list[float]) -> list[float]:
    survival, cdf = 1.0, []
    for hazard in hazards:
        survival *= 1 - hazard
        cdf.append(1 - survival)
    return cdf


def test_sparse_route_is_shrunk_toward_its_parent_by_hand(
    con: duckdb.DuckDBPyConnection, history: Callable[[], History]
) -> None:
    shrink_history(history).load(con)
    # City route, 120 parcels: (at risk, signed) day 0: (120, 0); day 1: (120, 40);
    # day 2: (60, 40) (MC left after day 1); day 3: (20, 20).
    city = [0.0, 40 / 120, 40 / 60, 20 / 20]
    # MS, 20 parcels all at risk through day 3, 20 signed on day 3:
    ms = [(0 + M * city[0]) / (20 + M), (0 + M * city[1]) / (20 + M)]
    ms += [(0 + M * city[2]) / (20 + M), (20 + M * city[3]) / (20 + M)]
    # MC, 20 parcels at risk on days 0-1, nobody after: from day 2 it follows the city.
    mc = [(0 + M * city[0]) / (20 + M), (0 + M * city[1]) / (20 + M), city[2], city[3]]
    for confidence in ("0.30", "0.50", "0.90"):
        params = replace(SHRINK, confidence=Decimal(confidence))
        rows = rows_by_key(build_promise_table(con, "shipments", "shipments_keys", AS_OF, params))
        for merchant, hazards in (("MS", ms), ("MC", mc)):
            cdf = km_cdf(hazards)
            expected = next(k for k, p in enumerate(cdf) if p >= float(confidence) - 1e-9)
            row = rows[(2, None, merchant, "440300", "310000", None)]
            assert row["sample_size"] == 20
            assert (row["promise_offset_days"], row["probability"]) == (
                expected,
                pytest.approx(cdf[expected]),
            ), (merchant, confidence)
        # The parent itself is not shrunk (its parents hold the same parcels).
        city_cdf = km_cdf(city)
        expected = next(k for k, p in enumerate(city_cdf) if p >= float(confidence) - 1e-9)
        assert rows[CITY]["promise_offset_days"] == expected
        assert rows[CITY]["probability"] == pytest.approx(city_cdf[expected])
    # Concretely: at 0.90 MS's own history says day 3 (nothing before), the
    # shrunk hazards 1/6 and 1/3 put it at day 2 with 1 − 5/6 · 2/3 = 4/9 at 0.44.
    rows = rows_by_key(
        build_promise_table(con, "shipments", "shipments_keys", AS_OF, replace(SHRINK))
    )
    ms_row = rows[(2, None, "MS", "440300", "310000", None)]
    assert (ms_row["promise_offset_days"], ms_row["probability"]) == (3, pytest.approx(1.0))
    half = replace(SHRINK, confidence=Decimal("0.44"))
    ms_row = rows_by_key(build_promise_table(con, "shipments", "shipments_keys", AS_OF, half))[
        (2, None, "MS", "440300", "310000", None)
    ]
    assert (ms_row["promise_offset_days"], ms_row["probability"]) == (2, pytest.approx(4 / 9))


def test_a_censored_route_with_nobody_left_at_risk_follows_its_parent(
    con: duckdb.DuckDBPyConnection, history: Callable[[], History]
) -> None:
    shrink_history(history).load(con)
    mc_key = (2, None, "MC", "440300", "310000", None)
    unshrunk = replace(SHRINK, hazard_prior_strength=Decimal(0))
    # On its own MC has no signed parcel: no promise within the horizon.
    row = rows_by_key(build_promise_table(con, "shipments", "shipments_keys", AS_OF, unshrunk))[
        mc_key
    ]
    assert (row["promise_offset_days"], row["probability"]) == (None, None)
    # Shrunk: 1 − (1 − 1/6)(1 − 0)(…) reaches 1 on day 3 with the city's hazard of 1.
    row = rows_by_key(build_promise_table(con, "shipments", "shipments_keys", AS_OF, SHRINK))[
        mc_key
    ]
    assert (row["promise_offset_days"], row["probability"]) == (3, pytest.approx(1.0))


def test_a_well_sampled_route_keeps_about_its_own_estimate(
    con: duckdb.DuckDBPyConnection, history: Callable[[], History]
) -> None:
    shrink_history(history, big=4000).load(con)
    params = replace(SHRINK, confidence=Decimal("0.4"))
    row = rows_by_key(build_promise_table(con, "shipments", "shipments_keys", AS_OF, params))[
        (2, None, "MB", "440300", "310000", None)
    ]
    # Own: half of MB signs on day 1. The city (8,040 parcels) has 4000/8040 then.
    city_1 = 4000 / 8040
    assert row["promise_offset_days"] == 1
    assert row["probability"] == pytest.approx((4000 + M * city_1) / (8000 + M))
    assert row["probability"] == pytest.approx(0.5, abs=1e-4)


def test_shrinkage_follows_product_to_merchant_at_level_1(
    con: duckdb.DuckDBPyConnection, history: Callable[[], History]
) -> None:
    h = history()
    h.add(day_before(10), DAY, count=20, product_id="PA", merchant_id="M1")
    h.add(day_before(10), 3 * DAY, count=20, product_id="PB", merchant_id="M1")
    h.load(con)
    params = replace(SHRINK, confidence=Decimal("0.5"))
    rows = rows_by_key(build_promise_table(con, "shipments", "shipments_keys", AS_OF, params))
    # Merchant M1 (and every coarser route: same parcels): h(1) = 1/2, h(3) = 1.
    # PA: h(1) = (20 + 20·1/2) / 40 = 3/4.
    pa_row = rows[(1, "PA", None, "440305", "310115", None)]
    assert (pa_row["promise_offset_days"], pa_row["probability"]) == (1, pytest.approx(0.75))
    # PB: h(1) = (0 + 10) / 40 = 1/4, h(3) = (20 + 20) / 40 = 1.
    pb_row = rows[(1, "PB", None, "440305", "310115", None)]
    assert (pb_row["promise_offset_days"], pb_row["probability"]) == (3, pytest.approx(1.0))
    low = replace(params, confidence=Decimal("0.2"))
    pb_row = rows_by_key(build_promise_table(con, "shipments", "shipments_keys", AS_OF, low))[
        (1, "PB", None, "440305", "310115", None)
    ]
    assert (pb_row["promise_offset_days"], pb_row["probability"]) == (1, pytest.approx(0.25))


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"lost_after_days": 0}, "lost_after_days_invalid"),
        ({"history_window_basis": "pay"}, "history_window_basis_invalid"),
        ({"hazard_prior_strength": Decimal(-1)}, "hazard_prior_strength_invalid"),
        ({"hazard_prior_strength": Decimal("NaN")}, "hazard_prior_strength_invalid"),
    ],
)
def test_bad_model_keys_are_refused(change: dict[str, Any], code: str) -> None:
    with pytest.raises(InvalidInput) as err:
        replace(DEFAULT, **change)
    assert err.value.code == code


@pytest.mark.parametrize(
    ("line", "replacement", "code"),
    [
        ("lost_after_days = 60", 'lost_after_days = "60"', "rulebook_bad_value"),
        ('history_window_basis = "observed"', "history_window_basis = 1", "rulebook_bad_value"),
        ('hazard_prior_strength = "20"', "hazard_prior_strength = 20", "rulebook_bad_value"),
        ('hazard_prior_strength = "20"', 'hazard_prior_strength = "-1"', "rulebook_bad_value"),
        ("lost_after_days = 60", "", "rulebook_missing_key"),
    ],
)
def test_bad_rulebook_values_are_refused(line: str, replacement: str, code: str) -> None:
    text = BASELINE_TOML.read_text("utf-8")
    assert line in text
    with pytest.raises(RulebookError) as err:
        parse_rulebooks([("0-baseline.toml", text.replace(line, replacement, 1))])
    assert err.value.code == code


def test_a_rulebook_choice_the_model_does_not_know_is_refused_when_building_params() -> None:
    text = BASELINE_TOML.read_text("utf-8").replace(
        'history_window_basis = "observed"', 'history_window_basis = "shipped"', 1
    )
    book = parse_rulebooks([("0-baseline.toml", text)]).rulebooks[0]
    with pytest.raises(InvalidInput) as err:
        PromiseParams.from_rulebook(book)
    assert err.value.code == "history_window_basis_invalid"


def test_observed_window_build_during_the_day_equals_the_midnight_build(
    con: duckdb.DuckDBPyConnection, history: Callable[[], History]
) -> None:
    """The observed window is whole local days, so a 15:00 build sees what 00:00 saw."""
    h = delayed_entry_history(history)
    h.add(day_before(5, hour=9), DAY, count=3)  # first observed day, before 15:00
    h.add(day_before(15, hour=9), 10 * DAY)  # oldest day that can be observed: day 10 only
    h.add(day_before(0, hour=9), None, count=4)  # paid on D itself: nothing yet
    h.load(con)
    at_midnight = build_promise_table(con, "shipments", "shipments_keys", AS_OF, OBSERVED)
    mid_day = build_promise_table(
        con, "shipments", "shipments_keys", AS_OF + timedelta(hours=15), OBSERVED
    )
    assert at_midnight.num_rows > 0
    assert at_midnight.equals(mid_day)
