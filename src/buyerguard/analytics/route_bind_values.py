"""The bind values of the promise build's SQL: its window as integer day numbers.

The statements (`route_scans.py`, `route_selection.py`) do their day maths on
epoch microseconds plus one fixed UTC offset, so what they bind is the window's
instants, the Shanghai as-of day and entry day as day numbers, that offset, and
the model's counts; the benchmarks bind the same values to their own SQL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from buyerguard.analytics.promise_params import PromiseParams, chosen_confidences
from buyerguard.clock import SHANGHAI, ensure_utc, local_date
from buyerguard.errors import InvalidInput

_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def _shanghai_offset_us(window_start: datetime, as_of: datetime) -> int:
    """Shanghai's UTC offset over the window, in µs, so SQL can do integer day maths.

    Integer arithmetic on epoch microseconds is several times faster than a
    time-zone conversion per row; it is exact because Asia/Shanghai has had
    one fixed offset since 1991. We check every day of the window anyway.
    """
    offsets = set()
    instant = window_start
    while instant <= as_of + timedelta(days=1):
        offset = SHANGHAI.utcoffset(instant)
        if offset is None:  # pragma: no cover - ZoneInfo always answers
            raise RuntimeError("Asia/Shanghai has no UTC offset")
        offsets.add(offset)
        instant += timedelta(hours=12)
    if len(offsets) != 1:
        raise InvalidInput(
            "zone_offset_changes",
            "Asia/Shanghai changes UTC offset inside the window; not supported",
            "as_of",
        )
    return int(offsets.pop() / timedelta(microseconds=1))


def _day_number(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def _calendar_window_days(
    as_of_day: date, window_days: int, paused: Callable[[date], bool] | None
) -> int:
    """How many calendar days before `as_of_day` hold `window_days` normal days."""
    if paused is None:
        return window_days
    span, normal = 0, 0
    while normal < window_days:
        span += 1
        normal += not paused(as_of_day - timedelta(days=span))
    return span


def promise_table_params(
    as_of: datetime,
    params: PromiseParams,
    confidences: Sequence[Decimal] | None = None,
    paused: Callable[[date], bool] | None = None,
) -> dict[str, Any]:
    """Bind values for the build's SQL: the window, the as-of day and the confidences.

    With the observed window the scan reaches back window + horizon + 1 days
    (older parcels can no longer be in the risk set) and $entry_day is the
    first observed local day; with the paid window it is the first pay day
    that can be in the window, so every kept parcel has entry 0. `paused`
    says which local days transit time stops on (public holidays, declared
    slowdowns); when any pay day of the scan is followed by one before the
    as-of day, `paused_days` lists them and `stop_days` gives, per pay day
    from `first_pay_day`, the first paused day from it on (the as-of day if
    none), where the scans stop watching its parcels (route_scans.py).
    With `paused` the window is `window_days` *normal* days: it reaches back
    over paused days as far as it must to hold that many (so after the Spring
    Festival the model still sees whole weeks of normal days, every weekday of
    them, not the few since the holiday). The merchants' cut-offs are read
    from the parcels paid in the same window's days (`cutoff_from_day`).
    """
    as_of_utc = ensure_utc(as_of, field="as_of")
    observed = params.history_window_basis == "observed"
    window_days = _calendar_window_days(local_date(as_of_utc), params.window_days, paused)
    look_back = window_days + (params.max_horizon_days + 1 if observed else 0)
    window_start = as_of_utc - timedelta(days=look_back)
    chosen = chosen_confidences(params, confidences)
    as_of_day = _day_number(local_date(as_of_utc))
    bound: dict[str, Any] = {
        "offset_us": _shanghai_offset_us(window_start, as_of_utc),
        "as_of_day": as_of_day,
        "window_start": window_start,
        "as_of": as_of_utc,
        "min_samples": params.min_samples,
        "lost_after": params.lost_after_days,
        "confidences": [float(c) for c in chosen],
        "entry_day": as_of_day - window_days if observed else _day_number(date.min),
        "paused_days": [],
        "cutoff_from_day": as_of_day - window_days,
        "cutoff_min_parcels": params.cutoff_min_parcels,
        "cutoff_min_jump": float(params.cutoff_min_jump_days),
        "late_age": params.late_age_days,
        "late_baseline_weeks": params.late_baseline_weeks,
        "late_min_expected": params.late_min_expected,
        "late_max_signed_ratio": float(params.late_max_signed_ratio),
    }
    if paused is None:
        return bound
    first_pay = local_date(window_start)
    # Every start day a scanned parcel can have, up to the as-of day itself (one paid the
    # day before after its merchant's cut-off starts then, and is not yet in the risk set).
    pay_days = [
        first_pay + timedelta(days=n) for n in range(as_of_day - _day_number(first_pay) + 1)
    ]
    paused_days = [day for day in pay_days if paused(day)]
    if paused_days:
        stops, stop = [], as_of_day
        for day in reversed(pay_days):
            stop = _day_number(day) if paused(day) else stop
            stops.append(stop)
        bound |= {
            "paused_days": paused_days,
            "first_pay_day": _day_number(first_pay),
            "stop_days": stops[::-1],
        }
    return bound


def bound_for(sql: str, bound: dict[str, Any]) -> dict[str, Any]:
    """The bind values `sql` uses (DuckDB refuses values for absent parameters)."""
    used = set(_PARAMETER.findall(sql))
    return {name: value for name, value in bound.items() if name in used}
