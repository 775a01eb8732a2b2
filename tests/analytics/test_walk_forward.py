"""The walk-forward harness (benchmarks/walk_forward.py) at CI size, on two seeds.

What must hold whatever the model: no build sees anything that had not happened
by its instant (censoring: a signing is never visible before it happens, and
every one that happened is), the feed's restatements replace parcels instead of
doubling them, every walked ISO week is reported, and the history is sized so
that a normal week shows ≥ 300 labels (else its hold says nothing). Issue 17's
two 90% targets — promised date on time, and label hold in every week with ≥ 300
labels — must hold in every week on both seeds (`ninety_percent_misses`). Its
other targets (`target_misses`: labels for half the parcels that arrive by day 2,
recovery within 7 days) are printed; the model misses the label share today, so
that assertion waits behind `ASSERT_ALL_TARGETS` (issue 17: a target missed is
reported, never tuned around).
"""

from __future__ import annotations

import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow.compute as pc
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from buyerguard.clock import start_of_local_day
from drifting_history import (
    HistorySpec,
    as_known_at,
    default_disruption,
    generate,
)
from walk_forward import quick_config, run_walk
from walk_records import MIN_LABELS_TESTED, WalkResult
from walk_report import ninety_percent_misses, target_misses

SEEDS = (1, 2)
# Switch on once the model meets all of issue 17's targets on the CI history.
ASSERT_ALL_TARGETS = False


@pytest.fixture(scope="module")
def walks(tmp_path_factory: pytest.TempPathFactory) -> dict[int, WalkResult]:
    return {
        seed: run_walk(quick_config(seed), tmp_path_factory.mktemp(f"seed{seed}"), show=False)
        for seed in SEEDS
    }


@pytest.mark.parametrize("seed", SEEDS)
def test_no_build_sees_the_future_and_updates_replace(
    walks: dict[int, WalkResult], seed: int
) -> None:
    result = walks[seed]
    assert len(result.days) == result.config.days
    for check in result.days:
        assert check.look_ahead_rows == 0, check
        # One live row per parcel paid before the build: restatements replaced, not doubled.
        assert check.history_rows == check.parcels_paid_before, check
        # Exactly the signings that had happened: censoring, and no signing lost.
        assert check.signed_visible == check.signed_before, check
    later = result.days[1:]
    assert all(check.stored_updated > 0 for check in later)  # the update path is exercised
    assert result.days[-1].signed_before > result.days[0].signed_before


@pytest.mark.parametrize("seed", SEEDS)
def test_every_week_is_reported_and_sized(walks: dict[int, WalkResult], seed: int) -> None:
    result = walks[seed]
    first = result.config.start
    walked = [first + timedelta(days=i) for i in range(result.config.days)]
    expected = sorted({f"{d.isocalendar().year}-W{d.isocalendar().week:02d}" for d in walked})
    assert [week["week"] for week in result.weeks] == expected
    kinds = {week["week"]: week["kind"] for week in result.weeks}
    assert "normal" in kinds.values() and "holiday" in kinds.values()
    assert "disruption" in kinds.values()
    for week in result.weeks:
        assert week["parcels"] > 0
        assert week["labels_shown"] == sum(week["labels"].values())
        if week["kind"] == "normal":
            # Sizing: labels across a holiday or a declared disruption are withdrawn by
            # design (services/promises.py), so only a normal week's count is the size's.
            assert week["labels_shown"] >= MIN_LABELS_TESTED, week
    misses = target_misses(result)
    print(f"\nseed {seed}: issue 17 targets missed on the CI history ({len(misses)}):")
    for miss in misses:
        print(f"  {miss}")
    assert ninety_percent_misses(result) == []
    if ASSERT_ALL_TARGETS:
        assert not misses


def test_history_is_deterministic_and_censored_as_known() -> None:
    first = date(2026, 2, 1)
    spec = HistorySpec(
        seed=7,
        first_day=first,
        days=20,
        parcels_per_day=300,
        merchants=50,
        disruption=default_disruption(first, 20),
    )
    truth = generate(spec)
    assert truth.equals(generate(spec))
    other = HistorySpec(8, first, 20, 300, 50, disruption=spec.disruption)
    assert not truth.equals(generate(other))
    at: datetime = start_of_local_day(date(2026, 2, 12))
    known = as_known_at(truth, at)
    assert known.num_rows == pc.sum(pc.less(truth["paid_at"], at)).as_py()
    for column in ("paid_at", "shipped_at", "signed_at"):
        assert not pc.any(pc.greater_equal(known[column], at)).as_py()
    assert pc.count(known["signed_at"]).as_py() > 0
    assert pc.count(known["signed_at"]).as_py() < known.num_rows  # some still in transit
