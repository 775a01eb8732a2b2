"""Kaplan–Meier promises per route from per-day counts: the array stage of the build.

The SQL stage (`route_days.py`) reduces the parcels to a few rows per route:
on day k, how many parcels left the risk set (signed on k, or known unsigned
through k and censored there), how many of them were signed, and how many
entered it (delayed entry, observed window). Everything after that is per
route and per day, bounded by routes × horizon whatever the parcel volume, so
it runs here as dense numpy arrays, one back-off level at a time, instead of
as a day grid exploded in SQL (which cost more than the scan at 120 M rows).

For route r on day k (0 ≤ k ≤ G, G the last day any route has a sign-for):

- at risk n(k) = parcels leaving on day k or later − parcels entering after k;
- own hazard d(k) / n(k) (0 when nobody is at risk);
- shrunk hazard (d(k) + m·h_parent(k)) / (n(k) + m) when the route has a
  kept parent and m > 0 (the parent shrunk first: levels coarsest first);
- CDF(k) = 1 − ∏_{j ≤ k} (1 − h(j)); the promise for confidence c is the
  first day with CDF ≥ c − `CDF_TOLERANCE`, or none within the horizon.

After day G every hazard is 0 (no route, hence no parent, has a sign-for), so
each CDF is flat there and the grid stops at G. Parcels leaving after G still
count in the risk sets of days ≤ G: their exits are folded into column G + 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# CDFs are products of doubles; 18/20 must count as reaching 0.90.
CDF_TOLERANCE = 1e-9
# Routes per block of dense arrays: bounds the temporaries (a block of
# 65,536 routes × 62 days × 8 bytes is 32 MiB per array). With shrinkage the
# hazards of the level being computed and of its parent level are kept whole
# (about 0.6 GB for 1688's 743 k + 448 k routes over a 60-day grid).
ROUTES_PER_BLOCK = 65_536

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class RouteDays:
    """Per-route day counts as parallel arrays, sorted by `route`.

    Row i: `parcels[i]` parcels of route `route[i]` that are in the risk set
    from day `entry[i]` through day `exit_day[i]`, `events[i]` of them signed
    on `exit_day[i]` (the others censored there). Routes are numbered 0..R−1.
    """

    route: I64
    exit_day: I64
    entry: I64
    parcels: I64
    events: I64


@dataclass(frozen=True)
class Promises:
    """Per route and confidence: the promised day offset (−1: none) and its CDF."""

    offset_days: I64  # shape (routes, confidences)
    probability: F64  # NaN where there is no promise


def last_event_day(days: RouteDays) -> int:
    """G: the last day any route has a sign-for (0 when there is none)."""
    signed = days.exit_day[days.events > 0]
    return int(signed.max()) if signed.size else 0


def promise_offsets(
    days: RouteDays,
    parent: I64,
    level: I64,
    prior_strength: float,
    confidences: Sequence[float],
) -> Promises:
    """The promise of every route for every confidence (see the module docstring).

    `parent[r]` is the route r's hazards are shrunk toward (−1: none) and must
    be on a coarser level, `level[r] > 0`; with `prior_strength` 0 nothing is
    shrunk. Levels are processed coarsest first, so each parent is done first.
    """
    routes = parent.shape[0]
    wanted = np.asarray(confidences, dtype=np.float64) - CDF_TOLERANCE
    offsets = np.full((routes, wanted.size), -1, dtype=np.int64)
    probability = np.full((routes, wanted.size), np.nan)
    if routes == 0:
        return Promises(offsets, probability)
    if np.any(np.diff(days.route) < 0):
        raise ValueError("route days must be sorted by route")
    last = last_event_day(days)
    shrink = prior_strength > 0
    # Hazards of the previous (coarser) level, for its children: route → row.
    parent_hazard = np.zeros((0, last + 1))
    parent_row = np.full(routes, -1, dtype=np.int64)
    for lv in np.unique(level)[::-1]:
        members = np.flatnonzero(level == lv)
        if np.any(np.diff(members) != 1):
            raise ValueError("routes of one level must be numbered consecutively")
        hazard = np.empty((members.size if shrink else 0, last + 1))
        for start in range(0, members.size, ROUTES_PER_BLOCK):
            block = members[start : start + ROUTES_PER_BLOCK]
            at_risk, signed = _risk_sets(days, int(block[0]), int(block[-1]) + 1, last)
            h = np.divide(signed, at_risk, out=np.zeros_like(signed), where=at_risk > 0)
            has = parent[block] >= 0
            if shrink and np.any(has):
                rows = parent_row[parent[block][has]]
                if np.any(rows < 0):
                    raise ValueError("a parent route must be on the next coarser level")
                h[has] = (signed[has] + prior_strength * parent_hazard[rows]) / (
                    at_risk[has] + prior_strength
                )
            if shrink:
                hazard[start : start + block.size] = h
            cdf = 1.0 - np.cumprod(1.0 - h, axis=1)
            for c, threshold in enumerate(wanted):
                hit = cdf >= threshold
                first = hit.argmax(axis=1)
                found = hit[np.arange(block.size), first]
                offsets[block[found], c] = first[found]
                probability[block[found], c] = cdf[np.flatnonzero(found), first[found]]
        parent_row[:] = -1
        parent_row[members] = np.arange(members.size)
        parent_hazard = hazard
    return Promises(offsets, probability)


def _risk_sets(days: RouteDays, first: int, stop: int, last: int) -> tuple[F64, F64]:
    """(at risk, signed) per route of [first, stop) and day 0..last, as dense arrays."""
    lo, hi = np.searchsorted(days.route, [first, stop])
    local = days.route[lo:hi] - first
    width = last + 2  # column last + 1 collects everything after the grid
    cells = (stop - first) * width
    exits = np.minimum(days.exit_day[lo:hi], last + 1)
    leaving = np.bincount(local * width + exits, weights=days.parcels[lo:hi], minlength=cells)
    signed = np.bincount(local * width + exits, weights=days.events[lo:hi], minlength=cells)
    delayed = days.entry[lo:hi] > 0
    entries = np.minimum(days.entry[lo:hi][delayed], last + 1)
    entering = np.bincount(
        local[delayed] * width + entries,
        weights=days.parcels[lo:hi][delayed],
        minlength=cells,
    )
    leaving = leaving.reshape(-1, width)
    entering = entering.reshape(-1, width)
    # n(k) = Σ_{j ≥ k} leaving(j) − Σ_{j > k} entering(j)
    leaving_from = np.cumsum(leaving[:, ::-1], axis=1)[:, ::-1]
    entering_after = np.cumsum(entering[:, ::-1], axis=1)[:, ::-1]
    at_risk = leaving_from[:, : last + 1] - entering_after[:, 1:]
    signed_on = signed.reshape(-1, width)[:, : last + 1]
    return at_risk.astype(np.float64, copy=False), signed_on.astype(np.float64, copy=False)
