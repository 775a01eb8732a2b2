"""The array stage of the promise build: risk sets, shrinkage, CDFs, first crossings.

Expected values come from a plain per-route, per-day loop written here (or by
hand), never from the code under test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from buyerguard.analytics.survival import (
    CDF_TOLERANCE,
    RouteDays,
    last_event_day,
    promise_offsets,
)


@dataclass(frozen=True)
class Row:
    route: int
    exit_day: int
    entry: int
    parcels: int
    events: int


def days_of(rows: list[Row]) -> RouteDays:
    rows = sorted(rows, key=lambda r: r.route)

    def column(name: str) -> np.ndarray:
        return np.array([getattr(r, name) for r in rows], dtype=np.int64)

    return RouteDays(
        route=column("route"),
        exit_day=column("exit_day"),
        entry=column("entry"),
        parcels=column("parcels"),
        events=column("events"),
    )


def reference(
    rows: list[Row], parent: list[int], level: list[int], m: float, confidences: list[float]
) -> tuple[list[list[int]], list[list[float | None]]]:
    """The model by the definition: loops over routes and days."""
    signed_days = [r.exit_day for r in rows if r.events > 0]
    last = max(signed_days) if signed_days else 0
    hazards: dict[int, list[float]] = {}
    offsets: list[list[int]] = [[] for _ in parent]
    probabilities: list[list[float | None]] = [[] for _ in parent]
    for route in sorted(range(len(parent)), key=lambda r: -level[r]):
        mine = [r for r in rows if r.route == route]
        h: list[float] = []
        for k in range(last + 1):
            n = sum(r.parcels for r in mine if r.entry <= k <= r.exit_day)
            d = sum(r.events for r in mine if r.exit_day == k)
            if m > 0 and parent[route] >= 0:
                h.append((d + m * hazards[parent[route]][k]) / (n + m))
            else:
                h.append(d / n if n > 0 else 0.0)
        hazards[route] = h
        cdf, survive = [], 1.0
        for value in h:
            survive *= 1.0 - value
            cdf.append(1.0 - survive)
        for confidence in confidences:
            hit = [k for k, c in enumerate(cdf) if c >= confidence - CDF_TOLERANCE]
            offsets[route].append(hit[0] if hit else -1)
            probabilities[route].append(cdf[hit[0]] if hit else None)
    return offsets, probabilities


def test_censoring_and_delayed_entry_by_hand() -> None:
    # Route 0: 4 parcels signed on day 1, 2 censored after day 0 (known unsigned
    # through day 0), 2 entering on day 1 and signed on day 2.
    days = days_of(
        [
            Row(0, 1, 0, 4, 4),
            Row(0, 0, 0, 2, 0),
            Row(0, 2, 1, 2, 2),
        ]
    )
    found = promise_offsets(days, np.array([-1]), np.array([2]), 0.0, [0.5, 0.9, 0.99])
    # day 0: n = 6, d = 0; day 1: n = 4 + 2 = 6, d = 4; day 2: n = 2, d = 2
    # CDF: 0, 4/6, 1
    assert found.offset_days.tolist() == [[1, 2, 2]]
    assert found.probability[0].tolist() == pytest.approx([4 / 6, 1.0, 1.0])


def test_shrinkage_toward_the_parent_by_hand() -> None:
    # Parent (route 0, level 2): 10 parcels, 5 signed on day 0 and 5 on day 1.
    # Child (route 1, level 1): 4 parcels, 1 signed on day 0 and 3 on day 2.
    days = days_of(
        [
            Row(0, 0, 0, 5, 5),
            Row(0, 1, 0, 5, 5),
            Row(1, 0, 0, 1, 1),
            Row(1, 2, 0, 3, 3),
        ]
    )
    parent, level = np.array([-1, 0]), np.array([2, 1])
    # Own hazards 1/4, 0, 1: CDF 0.25, 0.25, 1 → day 2 for 0.6.
    unshrunk = promise_offsets(days, parent, level, 0.0, [0.6])
    assert unshrunk.offset_days.tolist() == [[1], [2]]
    # m = 4, parent hazards 0.5, 1, 0: (1 + 2)/8 = 3/8 on day 0, (0 + 4)/(3 + 4) on day 1,
    # so CDF(1) = 1 − (5/8)(3/7) = 41/56 ≥ 0.6 → day 1.
    shrunk = promise_offsets(days, parent, level, 4.0, [0.6])
    assert shrunk.offset_days.tolist() == [[1], [1]]
    assert shrunk.probability[1, 0] == pytest.approx(41 / 56)


def test_no_promise_within_the_data_is_minus_one_and_nan() -> None:
    days = days_of([Row(0, 3, 0, 10, 1), Row(0, 5, 0, 10, 0)])
    found = promise_offsets(days, np.array([-1]), np.array([5]), 0.0, [0.9])
    assert found.offset_days.tolist() == [[-1]]
    assert np.isnan(found.probability[0, 0])
    assert last_event_day(days) == 3


def test_rows_must_be_sorted_and_parents_on_the_next_level() -> None:
    unsorted = RouteDays(
        route=np.array([1, 0]),
        exit_day=np.array([0, 0]),
        entry=np.array([0, 0]),
        parcels=np.array([1, 1]),
        events=np.array([1, 1]),
    )
    with pytest.raises(ValueError, match="sorted"):
        promise_offsets(unsorted, np.array([-1, -1]), np.array([2, 1]), 1.0, [0.9])
    days = days_of([Row(0, 0, 0, 1, 1), Row(1, 0, 0, 1, 1), Row(2, 0, 0, 1, 1)])
    # route 2 (level 1) names route 0 (level 3) as its parent, skipping level 2
    with pytest.raises(ValueError, match="next coarser level"):
        promise_offsets(days, np.array([-1, 0, 0]), np.array([3, 2, 1]), 1.0, [0.9])


def test_no_routes() -> None:
    empty = RouteDays(*(np.zeros(0, dtype=np.int64) for _ in range(5)))
    found = promise_offsets(
        empty, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), 1.0, [0.9]
    )
    assert found.offset_days.shape == (0, 1)


@st.composite
def chains(draw: st.DrawFn) -> tuple[list[Row], list[int], list[int]]:
    """Routes on three levels, each level-1 and level-2 route with a random parent."""
    sizes = [draw(st.integers(1, 3)) for _ in range(3)]  # routes on levels 3, 2, 1
    level = [3] * sizes[0] + [2] * sizes[1] + [1] * sizes[2]
    starts = [0, sizes[0], sizes[0] + sizes[1]]
    parent = [-1] * sizes[0]
    for lv, start in ((2, starts[0]), (1, starts[1])):
        count = sizes[3 - lv - 1]
        for _ in range(sizes[3 - lv]):
            pick = draw(st.integers(-1, count - 1))
            parent.append(-1 if pick < 0 else start + pick)
    rows = []
    for route in range(len(level)):
        for _ in range(draw(st.integers(1, 4))):
            entry = draw(st.integers(0, 3))
            exit_day = draw(st.integers(entry, 8))
            parcels = draw(st.integers(1, 30))
            rows.append(Row(route, exit_day, entry, parcels, draw(st.integers(0, parcels))))
    return rows, parent, level


@settings(max_examples=200, deadline=None)
@given(
    chains(),
    st.sampled_from([0.0, 0.5, 20.0]),
    st.lists(st.sampled_from([0.3, 0.5, 0.8, 0.9, 0.95]), min_size=1, max_size=3),
)
def test_kernel_matches_the_definition(
    chain: tuple[list[Row], list[int], list[int]], m: float, confidences: list[float]
) -> None:
    rows, parent, level = chain
    found = promise_offsets(days_of(rows), np.array(parent), np.array(level), m, confidences)
    offsets, probabilities = reference(rows, parent, level, m, confidences)
    assert found.offset_days.tolist() == offsets
    for route, expected in enumerate(probabilities):
        for column, probability in enumerate(expected):
            if probability is None:
                assert np.isnan(found.probability[route, column])
            else:
                assert found.probability[route, column] == pytest.approx(probability, abs=1e-12)
