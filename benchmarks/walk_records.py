"""What a walk forward records: its configuration, each day's checks, each week's counts.

benchmarks/walk_forward.py runs the walk; benchmarks/walk_report.py judges and prints it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from buyerguard.clock import public_holiday
from drifting_history import RECOVERY_DAYS, SLOWDOWN_LEAD_DAYS, Disruption

MIN_LABELS_TESTED = 300  # a week's hold counts only with this many labels shown
LABEL_OFFSETS = {"today": 0, "tomorrow": 1, "day_after": 2}


@dataclass(frozen=True)
class WalkConfig:
    seed: int
    start: date  # first walked day (Shanghai)
    days: int  # walked days
    parcels_per_day: int
    merchants: int
    warmup_days: int = 35  # history before the walk: the 30-day window and some
    declare_disruption: bool = True
    seed_slowdowns: bool = True  # the rulebook's Spring Festival slowdown, as a build seeds it
    early_signal: bool = True  # the rulebook's early signal (off: running_late_min_expected 0)
    disruption_start: date | None = None  # default: drifting_history.default_disruption


@dataclass(frozen=True)
class DayCheck:
    """What the build at 00:00 of `day` could see, against what had happened by then."""

    day: str
    history_rows: int
    parcels_paid_before: int
    signed_visible: int
    signed_before: int
    look_ahead_rows: int
    stored_new: int
    stored_updated: int
    routes: int
    labels: int
    mean_promised_days: float | None


@dataclass
class WeekRow:
    week: str
    first_day: str
    last_day: str
    kind: str  # normal / slowdown / holiday / recovery / disruption (the generator's calendar)
    parcels: int = 0
    covered: int = 0
    on_time: int = 0
    promised_days_total: int = 0
    labels: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LABEL_OFFSETS, 0))
    held: int = 0
    held_by_label: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LABEL_OFFSETS, 0))
    arrived_by_2: int = 0
    labelled_among_arrived_by_2: int = 0
    lengthened_for_holiday: int = 0
    # Every walked day a holiday or slowdown day: a parcel paid then never gets a label
    # (labels are for normal days), so the week cannot test the hold target.
    all_days_paused: bool = False
    pushed_by_disruption: int = 0
    # The disrupted carrier's parcels from or to its provinces, any week: what an early
    # signal (issue 17 item 3) must protect, a small share of a week's parcels.
    slice_parcels: int = 0
    slice_labels: int = 0
    slice_held: int = 0
    slice_covered: int = 0
    slice_on_time: int = 0

    @property
    def labels_shown(self) -> int:
        return sum(self.labels.values())

    def summary(self) -> dict[str, Any]:
        shown = self.labels_shown
        return {
            **asdict(self),
            "labels_shown": shown,
            "label_share": shown / self.parcels if self.parcels else None,
            "hold": self.held / shown if shown else None,
            "hold_by_label": {
                label: self.held_by_label[label] / count if count else None
                for label, count in self.labels.items()
            },
            "on_time_rate": self.on_time / self.covered if self.covered else None,
            "covered_share": self.covered / self.parcels if self.parcels else None,
            "mean_promised_days": (
                self.promised_days_total / self.covered if self.covered else None
            ),
            "labelled_share_of_arrived_by_2": (
                self.labelled_among_arrived_by_2 / self.arrived_by_2 if self.arrived_by_2 else None
            ),
            "tested": shown >= MIN_LABELS_TESTED,
            "slice_hold": self.slice_held / self.slice_labels if self.slice_labels else None,
            "slice_on_time_rate": (
                self.slice_on_time / self.slice_covered if self.slice_covered else None
            ),
        }


@dataclass(frozen=True)
class WalkResult:
    config: WalkConfig
    disruption: Disruption | None
    festival: tuple[date, date] | None
    weeks: list[dict[str, Any]]
    days: list[DayCheck]
    seconds: float
    generated_parcels: int
    stage_seconds: dict[str, float]

    def as_json(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(json.dumps(asdict(self), default=str))
        return document


def calendar_kind(
    day: date, festival: tuple[date, date] | None, disruption: Disruption | None
) -> str:
    if disruption is not None and 0 <= (day - disruption.starts_on).days < disruption.days:
        return "disruption"
    if festival is not None:
        begin, end = festival
        if begin <= day <= end:
            return "holiday"
        if 0 < (begin - day).days <= SLOWDOWN_LEAD_DAYS:
            return "slowdown"
        if 0 < (day - end).days <= RECOVERY_DAYS:
            return "recovery"
    if public_holiday(day)[0]:
        return "holiday"
    return "normal"


def week_kind(days: list[date], festival: tuple[date, date] | None, dis: Disruption | None) -> str:
    kinds = {calendar_kind(day, festival, dis) for day in days}
    for kind in ("holiday", "slowdown", "disruption", "recovery"):
        if kind in kinds:
            return kind
    return "normal"
