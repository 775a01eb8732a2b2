"""The Olist walk-forward and its trade-off curve: on-time rate against mean promised days,
beside Olist's own estimate, over the whole span, by year, and chosen on one year."""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
from rich.table import Table

from promise_replay.common import DEFAULT_PROMISE, console, one
from promise_replay.olist_data import EVAL_FIRST_DAY, EVAL_LAST_DAY, OLIST_HORIZON_DAYS, load_olist
from promise_replay.replay import replay
from promise_replay.variant import Variant, describe_production

# Issue 17's bar: at least Olist's on-time rate over the whole span, with a mean promise of at
# most this many days; the window and confidence are chosen on the orders of CHOICE_YEAR only.
TARGET_ON_TIME = 0.9311
TARGET_MEAN_DAYS = 22.5
CHOICE_YEAR = 2017


@dataclass(frozen=True)
class CurvePoint:
    window_days: int
    confidence: Decimal
    orders: int
    covered: int
    on_time: float
    mean_promised_days: float
    level_shares: dict[int, float]


def olist_curve(con: duckdb.DuckDBPyConnection, year: int | None = None) -> list[CurvePoint]:
    """The trade-off curve over every evaluated order, or those purchased in `year`."""
    rows = con.sql(
        f"""
        SELECT r.window_days, r.confidence, count(*) AS orders,
               count(r.promised_date) AS covered,
               avg((e.delivered_date <= r.filled_date)::INT) AS on_time,
               avg(r.filled_offset_days) AS mean_days,
               list(r.backoff_level) AS levels
        FROM replay_results r JOIN evaluation e USING (order_id)
        {"" if year is None else f"WHERE year(e.purchase_date) = {int(year)}"}
        GROUP BY ALL ORDER BY ALL
        """
    ).fetchall()
    points = []
    for window, confidence, orders, covered, on_time, mean_days, levels in rows:
        shares = {lv: sum(1 for x in levels if x == lv) / orders for lv in (1, 2, 3, 4, 5)}
        points.append(
            CurvePoint(
                window,
                Decimal(str(round(confidence, 4))),
                orders,
                covered,
                on_time or 0.0,
                mean_days or math.nan,
                shares,
            )
        )
    return points


def interpolate_at(points: list[CurvePoint], target_on_time: float) -> float | None:
    """Mean promised days at `target_on_time`, linear between adjacent confidences."""
    ordered = sorted(points, key=lambda p: p.on_time)
    for lo, hi in itertools.pairwise(ordered):
        if lo.on_time <= target_on_time <= hi.on_time and hi.on_time > lo.on_time:
            f = (target_on_time - lo.on_time) / (hi.on_time - lo.on_time)
            return lo.mean_promised_days + f * (hi.mean_promised_days - lo.mean_promised_days)
    return None


def run_olist(
    data_dir: Path,
    windows_days: tuple[int, ...],
    confidences: tuple[Decimal, ...],
    min_samples: int,
    undelivered: str,
    variant: Variant | None = None,
) -> None:
    console.rule("[bold]Olist walk-forward (data © Olist, CC BY-NC-SA 4.0)")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    load_olist(con, data_dir, undelivered)
    olist_orders, olist_on_time, olist_days = one(
        con,
        """
        SELECT count(*), avg((delivered_date <= olist_estimate_date)::INT),
               avg(olist_estimate_date - purchase_date)
        FROM evaluation
        """,
    )
    days = [
        EVAL_FIRST_DAY + timedelta(days=i) for i in range((EVAL_LAST_DAY - EVAL_FIRST_DAY).days + 1)
    ]
    base = replace(DEFAULT_PROMISE, max_horizon_days=OLIST_HORIZON_DAYS, min_samples=min_samples)
    started = time.perf_counter()
    replay(con, days, windows_days, confidences, base, "evaluation", "replaying days", variant)
    elapsed = time.perf_counter() - started
    points = olist_curve(con)

    console.print(
        f"Delivered orders purchased {EVAL_FIRST_DAY} .. {EVAL_LAST_DAY}: {olist_orders:,}; "
        f"{len(days)} replay days x {len(windows_days)} windows in {elapsed:.1f} s "
        f"(min_samples={base.min_samples}, horizon={base.max_horizon_days} d,"
        f" undelivered={undelivered})"
    )
    console.print(
        f"model: production (eta.create_promise_table) — {describe_production(base)}"
        if variant is None
        else f"model: variant — {variant.describe()}"
    )
    table = Table(title="Trade-off curve (calendar days, Asia/Shanghai)")
    for col in (
        "window d",
        "confidence",
        "on time",
        "mean promised d",
        "covered",
        "levels 2/3/4/5",
    ):
        table.add_column(col, justify="right")
    table.add_row(
        "Olist",
        "own estimate",
        f"{olist_on_time:.2%}",
        f"{olist_days:.2f}",
        "100%",
        "",
        style="bold",
    )
    for p in points:
        shares = "/".join(f"{p.level_shares[lv]:.0%}" for lv in (2, 3, 4, 5))
        table.add_row(
            str(p.window_days),
            f"{p.confidence}",
            f"{p.on_time:.2%}",
            f"{p.mean_promised_days:.2f}",
            f"{p.covered / p.orders:.2%}",
            shares,
        )
    console.print(table)
    console.print(
        "on time = delivered local date ≤ promised date, over all orders. 'covered' = the"
        " engine's own answer has a date; for the rest (route never reaches the"
        " confidence within the data) the benchmark keeps backing off to the first level"
        " that has a date, else the horizon, since Olist quotes every order."
    )
    for window in windows_days:
        curve = [p for p in points if p.window_days == window]
        at = interpolate_at(curve, olist_on_time)
        best = min(
            (p for p in curve if p.on_time >= olist_on_time),
            key=lambda p: p.mean_promised_days,
            default=None,
        )
        at_text = "n/a (outside the curve)" if at is None else f"{at:.2f} d"
        best_text = (
            "none reaches it"
            if best is None
            else f"confidence {best.confidence}: {best.on_time:.2%} on time,"
            f" {best.mean_promised_days:.2f} d"
        )
        console.print(
            f"window {window:>2} d: mean promise at Olist's on-time rate {olist_on_time:.2%}"
            f" (interpolated) = {at_text} vs Olist {olist_days:.2f} d;"
            f" cheapest point at or above it: {best_text}"
        )
    print_by_year(con, windows_days)
    print_chosen_on_one_year(con)
    con.close()


def print_by_year(con: duckdb.DuckDBPyConnection, windows_days: tuple[int, ...]) -> None:
    """Each purchase year on its own beside the whole span (issue 17: choices are made on
    2017 orders; 2018 is where they are tested): Olist's own promise, and ours at Olist's
    on-time rate of the same orders, per window."""
    table = Table(title="By purchase year: mean promised days at Olist's own on-time rate")
    for col in ("orders", "Olist on time", "Olist mean d", *(f"ours, {w} d" for w in windows_days)):
        table.add_column(col, justify="right")
    for year in (2017, 2018, None):
        orders, on_time, mean_days = one(
            con,
            "SELECT count(*), avg((delivered_date <= olist_estimate_date)::INT),"
            " avg(olist_estimate_date - purchase_date) FROM evaluation"
            + ("" if year is None else f" WHERE year(purchase_date) = {year}"),
        )
        points = olist_curve(con, year)
        ours = []
        for window in windows_days:
            at = interpolate_at([p for p in points if p.window_days == window], on_time)
            ours.append("n/a" if at is None else f"{at:.2f}")
        table.add_row(
            f"{'whole span' if year is None else year}: {orders:,}",
            f"{on_time:.2%}",
            f"{mean_days:.2f}",
            *ours,
        )
    console.print(table)


def chosen_on_one_year(chosen_from: list[CurvePoint], target_on_time: float) -> CurvePoint | None:
    """The (window, confidence) of the grid with the shortest mean promise among those on
    time ≥ `target_on_time` over `chosen_from` (one year's orders), or None."""
    meeting = [p for p in chosen_from if p.on_time >= target_on_time]
    return min(meeting, key=lambda p: (p.mean_promised_days, p.window_days), default=None)


def print_chosen_on_one_year(con: duckdb.DuckDBPyConnection) -> None:
    """The honest protocol of issue 17: window and confidence chosen on CHOICE_YEAR's orders
    alone (the cheapest grid point on time ≥ TARGET_ON_TIME there, no interpolation, which
    would read the other year's curve), then that one point reported on the next year and on
    the whole span, against the target."""
    by_year = {year: olist_curve(con, year) for year in (CHOICE_YEAR, CHOICE_YEAR + 1, None)}
    choice = chosen_on_one_year(by_year[CHOICE_YEAR], TARGET_ON_TIME)
    if choice is None:
        console.print(
            f"chosen on {CHOICE_YEAR}: no window and confidence of the grid is on time"
            f" ≥ {TARGET_ON_TIME:.2%} there; widen --confidences"
        )
        return
    table = Table(
        title=f"Chosen on {CHOICE_YEAR} orders: window {choice.window_days} d, confidence"
        f" {choice.confidence} (target: on time ≥ {TARGET_ON_TIME:.2%}, mean ≤"
        f" {TARGET_MEAN_DAYS} d)"
    )
    for col in ("orders", "on time", "mean promised d", "meets the target"):
        table.add_column(col, justify="right")
    for year, points in by_year.items():
        point = next(
            p
            for p in points
            if p.window_days == choice.window_days and p.confidence == choice.confidence
        )
        meets = point.on_time >= TARGET_ON_TIME and point.mean_promised_days <= TARGET_MEAN_DAYS
        table.add_row(
            f"{'whole span' if year is None else year}: {point.orders:,}",
            f"{point.on_time:.2%}",
            f"{point.mean_promised_days:.2f}",
            "yes" if meets else "no",
        )
    console.print(table)
