"""Delivery-promise quality on real data (Olist) and label reliability (synthetic China).

Usage (from the repository root):
    .venv/bin/python benchmarks/olist_promise.py [--data DIR] [--china-only | --skip-china]

By default both sections run the production build with the rulebook's model
(lost after `lost_after_days`, window over observation days, hazard
shrinkage toward the parent route) and `--undelivered unshipped`.

Olist section: replays the Olist public dataset (CC BY-NC-SA 4.0, © Olist)
walk-forward, one local day at a time. The promise table for day D is built by
the production code (`create_promise_table`) as of 00:00 Shanghai on D, from
what was known then: parcels delivered after that instant count as in
transit (right-censored). Orders purchased on D are then looked up with the
production back-off (`lookup_promises_sql`). For delivered orders purchased
2017-03-01 .. 2018-08-31 we print our on-time rate (delivered local date ≤
promised date) and mean promised days next to Olist's own estimate, for each
trailing window and confidence: the trade-off curve.

Mapping: paid_at = order_purchase_timestamp and signed_at =
order_delivered_customer_date, naive wall-clock read in Asia/Shanghai;
merchant = seller (the order's first item); origin region/province
`BR-<seller_state>`, origin city `BR-<state>/<seller_city>`; destination
`BR-<customer_state>`; one carrier `olist`; no product ids, so level 1 never
applies. Canceled/unavailable orders never handed to the carrier are
"refunded before shipment" (the data has no cancel time, so they are left
out of history from the start: a small, stated look-ahead); with
`--undelivered unshipped` (the default) that is every order never handed to
a carrier and never delivered (see `load_olist`).

Model variants: `--variant` replays the prototype build (`Variant`,
`variant_table_sql`: lost-parcel rule, period window, hazard shrinkage toward
the parent route) instead of `eta.create_promise_table`, served by the same
production lookup, for experiments. Production now implements the prototype's
winning settings; `--check-variant` checks that Variant() equals production's
round-1 model (`PromiseParams.old_model()`) and that Variant(60, period, 20)
equals production's default model, on a few days.

China section: a synthetic history (GB/T 2260 provinces and cities, about
half of the parcels signed within 3 local days) replayed the same way, to
check that shown labels (today / tomorrow / the day after) hold ≥ 90% of the
time.

Nothing derived from the Olist data is written anywhere; figures go to stdout.
"""

from __future__ import annotations

import argparse
import itertools
import math
import random
import sys
import time
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from buyerguard.analytics.eta import create_promise_table
from buyerguard.analytics.promise_lookup import lookup_promises_sql
from buyerguard.analytics.promise_params import PromiseParams
from buyerguard.analytics.route_bind_values import bound_for, promise_table_params
from buyerguard.analytics.shipments import (
    SHIPMENT_FACTS_SCHEMA,
    create_coded_history,
    relation_sql,
)
from buyerguard.clock import SHANGHAI, parse_instant, start_of_local_day
from buyerguard.progress import progress_bar
from buyerguard.rulebook import rulebook_at

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "olist"

# The rules in force at the end of the programme's rollout (policies.md §11).
DEFAULT_PROMISE = PromiseParams.from_rulebook(rulebook_at(parse_instant("2024-10-15")))

EVAL_FIRST_DAY = date(2017, 3, 1)
EVAL_LAST_DAY = date(2018, 8, 31)
WINDOWS_DAYS = (30, 60, 90)
CONFIDENCES = tuple(Decimal(c) for c in ("0.80", "0.85", "0.90", "0.93", "0.95", "0.97", "0.98"))
OLIST_HORIZON_DAYS = 90
# Issue 17's bar: at least Olist's on-time rate over the whole span, with a mean promise of at
# most this many days; the window and confidence are chosen on the orders of CHOICE_YEAR only.
TARGET_ON_TIME = 0.9311
TARGET_MEAN_DAYS = 22.5
CHOICE_YEAR = 2017

console = Console()


def progress() -> Progress:
    return progress_bar(console, time_remaining=False)


def one(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...]:
    """The single row of an aggregate query."""
    rows = con.sql(sql).fetchall()
    return tuple(rows[0])


# --------------------------------------------------------------------------- Olist


def load_olist(con: duckdb.DuckDBPyConnection, data_dir: Path, undelivered: str) -> None:
    """`shipments` in the engine's schema (+ evaluation columns) from deliveries.parquet.

    Which orders count as `refunded_before_shipment` (left out of history; the
    data has no cancel time, so this is decided from the final status):
    "censor": canceled/unavailable orders never handed to a carrier; every other
    order that never arrives stays in history as in transit for ever.
    "unshipped": every order never handed to a carrier and never delivered
    (also invoiced/processing/created/approved: not parcels in transit either).
    "none": nothing; only the model's own rules (e.g. a lost-parcel rule) act.
    "exclude" (LOOK-AHEAD, kept for the record only): every order that never
    arrives, including shipped ones, which no build could know in advance.
    """
    path = data_dir / "deliveries.parquet"
    if not path.exists():
        sys.exit(f"error: {path} not found (pass --data DIR)")
    con.execute(
        """
        CREATE OR REPLACE TABLE shipments AS
        WITH first_item AS (
            SELECT *, row_number() OVER (PARTITION BY order_id ORDER BY order_item_id) AS rn
            FROM read_parquet($path)
            WHERE seller_id IS NOT NULL
        )
        SELECT order_id,
               seller_id AS merchant_id,
               NULL::VARCHAR AS product_id,
               'olist' AS industry,
               'olist' AS carrier,
               true AS official_logistics,
               'BR-' || seller_state AS origin_region,
               'BR-' || customer_state AS destination_region,
               'BR-' || seller_state || '/' || lower(trim(seller_city)) AS origin_city,
               'BR-' || seller_state AS origin_province,
               'BR-' || customer_state AS destination_province,
               timezone('Asia/Shanghai', order_purchase_timestamp) AS paid_at,
               timezone('Asia/Shanghai', order_delivered_carrier_date) AS shipped_at,
               timezone('Asia/Shanghai', order_delivered_customer_date) AS signed_at,
               CASE $undelivered
                    WHEN 'exclude' THEN order_delivered_customer_date IS NULL
                    WHEN 'unshipped' THEN order_delivered_carrier_date IS NULL
                                          AND order_delivered_customer_date IS NULL
                    WHEN 'none' THEN false
                    ELSE order_status IN ('canceled', 'unavailable')
                         AND order_delivered_carrier_date IS NULL
               END AS refunded_before_shipment,
               -- evaluation only, never read by the model:
               order_status,
               CAST(order_purchase_timestamp AS DATE) AS purchase_date,
               CAST(order_delivered_customer_date AS DATE) AS delivered_date,
               CAST(order_estimated_delivery_date AS DATE) AS olist_estimate_date
        FROM first_item
        WHERE rn = 1
        """,
        {"path": str(path), "undelivered": undelivered},
    )
    create_coded_history(con, "shipments", con.sql("SELECT * FROM shipments").to_arrow_table())
    con.execute(
        """
        CREATE OR REPLACE TABLE evaluation AS
        SELECT * FROM shipments
        WHERE order_status = 'delivered' AND delivered_date IS NOT NULL
          AND purchase_date BETWEEN $first AND $last
        """,
        {"first": EVAL_FIRST_DAY, "last": EVAL_LAST_DAY},
    )


@dataclass(frozen=True)
class CurvePoint:
    window_days: int
    confidence: Decimal
    orders: int
    covered: int
    on_time: float
    mean_promised_days: float
    level_shares: dict[int, float]


def replay(
    con: duckdb.DuckDBPyConnection,
    days: list[date],
    windows_days: tuple[int, ...],
    confidences: tuple[Decimal, ...],
    base: PromiseParams,
    eval_table: str,
    description: str,
    variant: Variant | None = None,
) -> None:
    """Walk forward: for each day D, build as of 00:00 D and look up D's orders.

    Results accumulate in `replay_results` (one row per order, window, confidence).
    """
    con.execute(
        """
        CREATE OR REPLACE TABLE replay_results (
            window_days INTEGER, confidence DOUBLE, order_id VARCHAR,
            backoff_level TINYINT, promise_offset_days INTEGER, promised_date DATE,
            label VARCHAR, probability DOUBLE, filled_offset_days INTEGER,
            filled_date DATE)  -- filled: from the pay day, the cut-off's day included
        """
    )
    with progress() as bar:
        task = bar.add_task(description, total=len(days))
        for day in days:
            as_of = start_of_local_day(day)
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE day_orders AS SELECT * FROM {eval_table}"
                " WHERE paid_at >= $start AND paid_at < $end",
                {"start": as_of, "end": start_of_local_day(day + timedelta(days=1))},
            )
            for window in windows_days:
                params = replace(base, window_days=window)
                if variant is None:
                    create_promise_table(
                        con,
                        "shipments",
                        "shipments_keys",
                        as_of,
                        params,
                        "promises",
                        confidences=confidences,
                    )
                else:
                    create_variant_table(
                        con, "shipments", as_of, params, variant, "promises", confidences
                    )
                # Benchmark-only fill for orders whose route never reaches the
                # confidence: keep backing off to a level that does (Olist must
                # quote a date for every order; the engine would show none).
                con.execute(
                    "CREATE OR REPLACE TEMP TABLE promises_covered AS"
                    " SELECT * FROM promises WHERE promise_offset_days IS NOT NULL"
                )
                strict = lookup_promises_sql("promises", "day_orders", params)
                filled = lookup_promises_sql("promises_covered", "day_orders", params)
                con.execute(
                    f"""
                    INSERT INTO replay_results
                    SELECT {window}, s.confidence, s.order_id, s.backoff_level,
                           s.promise_offset_days, s.promised_date, s.label, s.probability,
                           s.start_shift_days + coalesce(s.promise_offset_days,
                               f.promise_offset_days, {params.max_horizon_days})
                               AS filled_offset_days,
                           CAST(timezone('Asia/Shanghai', s.paid_at) AS DATE)
                           + s.start_shift_days + coalesce(s.promise_offset_days,
                               f.promise_offset_days, {params.max_horizon_days}) AS filled_date
                    FROM ({strict}) s LEFT JOIN ({filled}) f
                      ON f.order_id = s.order_id AND f.confidence = s.confidence
                    """
                )
            bar.advance(task)


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


def describe_production(params: PromiseParams) -> str:
    window = (
        "observation days (period)"
        if params.history_window_basis == "observed"
        else "pay days (cohort)"
    )
    return (
        f"lost after {params.lost_after_days} d; window over {window};"
        f" prior strength {params.hazard_prior_strength}"
    )


# --------------------------------------------------------------------------- model variants


@dataclass(frozen=True)
class Variant:
    """A prototype of the promise build, measured against production on Olist.

    lost_after_days: a parcel not signed within this many local days of its pay
    day is declared lost (a refund fact the engine will have) and leaves the
    history, so the model estimates P(signed by day k | not lost): the event
    the evaluation (delivered orders) and Olist's own rate condition on.
    A parcel signed later than that counts as lost too, so the definition does
    not depend on the as-of. None: never lost (production).
    exposure: period analysis (delayed entry). The window selects the days on
    which parcels were *observed*, not the days they were paid: a parcel paid
    before the window enters the risk set at the offset where the window
    starts, so every hazard comes from the last `window_days` and the tail is
    still estimated, from older parcels that were in transit in the window.
    prior_strength: shrink each route's daily hazard towards its parent
    route's (empirical Bayes with m pseudo-parcels): h = (d + m·h_parent) /
    (n + m), along product → merchant → origin city → origin province →
    carrier. 0: none (production).
    """

    lost_after_days: int | None = None
    exposure: bool = False
    prior_strength: float = 0.0

    def describe(self) -> str:
        lost = "never" if self.lost_after_days is None else f"{self.lost_after_days} d"
        window = "observation days (period)" if self.exposure else "pay days (cohort)"
        return f"lost after {lost}; window over {window}; prior strength {self.prior_strength:g}"


# level, the route's key columns, its parent route's key columns, and a filter.
_LEVELS: tuple[tuple[int, str, str, str], ...] = (
    (1, "product_id, NULL, origin_region, destination_region, NULL",
     "2, NULL, any_value(merchant_id), any_value(origin_city),"
     " any_value(destination_province), NULL", "product_id IS NOT NULL"),
    (2, "NULL, merchant_id, origin_city, destination_province, NULL",
     "3, NULL, NULL, origin_city, destination_province, NULL", "merchant_id IS NOT NULL"),
    (3, "NULL, NULL, origin_city, destination_province, NULL",
     "4, NULL, NULL, any_value(origin_province), destination_province, NULL", "true"),
    (4, "NULL, NULL, origin_province, destination_province, NULL",
     "5, NULL, NULL, NULL, NULL, mode(carrier)", "true"),
    (5, "NULL, NULL, NULL, NULL, carrier", "0, NULL, NULL, NULL, NULL, NULL", "true"),
)  # fmt: skip


def _route_hash() -> str:
    cols = ("level", "product_id", "merchant_id", "origin", "destination", "carrier")
    return (
        "hash("
        + ", ".join(f"{c}::INTEGER" if c == "level" else f"{c}::VARCHAR" for c in cols)
        + ")"
    )


def variant_table_sql(shipments: str, horizon_days: int, variant: Variant) -> str:
    """A promise table with production's columns, built the `variant` way.

    With Variant() it equals production's table (`build_promise_table`, --check-variant).
    Named parameters: those of `promise_table_params`, plus $window_days and
    $history_start.
    """
    h = int(horizon_days)
    lost = "NULL" if variant.lost_after_days is None else str(int(variant.lost_after_days))
    m = float(variant.prior_strength)
    entry = "greatest(0, $as_of_day - $window_days - pay_day)" if variant.exposure else "0"
    day = "86400000000"
    cols = "level, product_id, merchant_id, origin, destination, carrier"
    pcols = "plevel, p_product, p_merchant, p_origin, p_destination, p_carrier"
    route_selects = "\n    UNION ALL\n    ".join(
        f"SELECT {lv}, {keys}, {parent}, count(*) FILTER (WHERE entry = 0)"
        f" FROM live WHERE {cond} GROUP BY ALL"
        for lv, keys, parent, cond in _LEVELS
    )
    count_selects = "\n    UNION ALL\n    ".join(
        f"SELECT {lv}, {keys}, k, sum(n_in), sum(n_out), sum(ev)"
        f" FROM moves WHERE {cond} GROUP BY ALL"
        for lv, keys, _, cond in _LEVELS
    )
    if m > 0:
        recursive = "RECURSIVE "
        # Level by level, coarsest first: a recursive CTE whose step takes the
        # next finer level's rows and joins them to the previous step's.
        hazard = f"""hz(rk, k, level, sample_size, hz) AS (
    SELECT rk, k, level, sample_size, CASE WHEN n > 0 THEN d / n ELSE 0.0 END
    FROM raw WHERE level = 5
    UNION ALL
    SELECT r.rk, r.k, r.level, r.sample_size,
           (r.d + {m} * coalesce(p.hz, 0.0)) / (r.n + {m})
    FROM raw r JOIN hz p ON p.rk = r.pk AND p.k = r.k
)"""
    else:
        recursive = ""
        hazard = """hz AS (
    SELECT rk, k, level, sample_size, CASE WHEN n > 0 THEN d / n ELSE 0.0 END AS hz FROM raw
)"""
    return f"""
WITH {recursive}parcels AS (
    SELECT product_id, merchant_id, origin_region, destination_region, origin_city,
           origin_province, destination_province, carrier,
           (epoch_us(paid_at) + $offset_us) // {day} AS pay_day,
           CASE WHEN (epoch_us(signed_at) + $offset_us) // {day} < $as_of_day
                THEN (epoch_us(signed_at) + $offset_us) // {day} END AS sign_day
    FROM {relation_sql(shipments)}
    WHERE paid_at >= $history_start AND paid_at < $as_of
      AND NOT coalesce(refunded_before_shipment, false)
),
spans AS (SELECT * EXCLUDE (sign_day), sign_day - pay_day AS s, {entry} AS entry FROM parcels),
kept AS (
    SELECT * EXCLUDE (s),
           coalesce(s <= {h}, false) AS is_event,
           CASE WHEN s <= {h} THEN s
                ELSE least(coalesce(s - 1, $as_of_day - pay_day - 1), {h}) END AS exit
    FROM spans
    WHERE NOT coalesce(s > {lost} OR (s IS NULL AND $as_of_day - pay_day - 1 >= {lost}), false)
),
live AS (SELECT * FROM kept WHERE exit >= entry),
moves AS (
    SELECT * EXCLUDE (entry, exit, is_event), entry AS k, 1 AS n_in, 0 AS n_out, 0 AS ev
    FROM live
    UNION ALL
    SELECT * EXCLUDE (entry, exit, is_event), exit, 0, 1, is_event::INTEGER FROM live
),
routes AS (
    SELECT *, {_route_hash()} AS rk,
           hash(plevel::INTEGER, p_product::VARCHAR, p_merchant::VARCHAR, p_origin::VARCHAR,
                p_destination::VARCHAR, p_carrier::VARCHAR) AS pk
    FROM (
    {route_selects}
    ) AS t({cols}, {pcols}, sample_size)
    WHERE sample_size >= $min_samples
),
counts AS (
    SELECT {_route_hash()} AS rk, k, n_in, n_out, ev
    FROM (
    {count_selects}
    ) AS t({cols}, k, n_in, n_out, ev)
),
raw AS (
    SELECT r.rk, r.pk, r.level, r.sample_size, g.k, coalesce(c.ev, 0)::DOUBLE AS d,
           sum(coalesce(c.n_in, 0) - coalesce(c.n_out, 0)) OVER (
               PARTITION BY r.rk ORDER BY g.k ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
           ) + coalesce(c.n_out, 0) AS n
    FROM routes r CROSS JOIN range(0, {h} + 1) AS g(k)
    LEFT JOIN counts c ON c.rk = r.rk AND c.k = g.k
),
{hazard},
km AS (
    SELECT rk, k AS offset_days, sample_size,
           1.0 - product(1.0 - hz) OVER (
               PARTITION BY rk ORDER BY k ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
           ) AS cdf
    FROM hz
),
promised AS (
    SELECT rk, confidence,
           min(offset_days) FILTER (WHERE cdf >= confidence - 1e-9)::INTEGER
               AS promise_offset_days,
           arg_min(cdf, offset_days) FILTER (WHERE cdf >= confidence - 1e-9) AS probability,
           any_value(sample_size)::BIGINT AS sample_size
    FROM km CROSS JOIN (SELECT unnest($confidences::DOUBLE[]) AS confidence)
    GROUP BY rk, confidence
)
SELECT r.level::TINYINT AS level, p.confidence, r.product_id, r.merchant_id, r.origin,
       r.destination, r.carrier, p.promise_offset_days, p.probability, p.sample_size
FROM promised p JOIN routes r USING (rk)
"""


def create_variant_table(
    con: duckdb.DuckDBPyConnection,
    shipments: str,
    as_of: datetime,
    params: PromiseParams,
    variant: Variant,
    table_name: str,
    confidences: tuple[Decimal, ...],
) -> None:
    """`create_promise_table`, the `variant` way."""
    bound = promise_table_params(as_of, params, confidences)
    look_back = params.window_days + (params.max_horizon_days + 1 if variant.exposure else 0)
    for production_only in ("window_start", "lost_after", "entry_day"):
        bound.pop(production_only, None)
    bound["history_start"] = bound["as_of"] - timedelta(days=look_back)
    if variant.exposure:
        bound["window_days"] = params.window_days
    sql = variant_table_sql(shipments, params.max_horizon_days, variant)
    # No merchant cut-off in the prototype: the column the lookup reads, empty.
    con.execute(
        f"CREATE OR REPLACE TABLE {table_name} AS"
        f" SELECT *, NULL::TINYINT AS cutoff_hour FROM ({sql})",
        bound_for(sql, bound),
    )


# --------------------------------------------------------------------------- China


# Provincial capitals (GB/T 2260 province prefix → approximate lat, lon) and a
# rough weight for how much each ships (sellers) and buys (population-ish).
PROVINCES: dict[str, tuple[float, float, float, float]] = {
    "11": (39.9, 116.4, 3, 3),
    "12": (39.1, 117.2, 2, 2),
    "13": (38.0, 114.5, 3, 5),
    "14": (37.9, 112.5, 1, 3),
    "15": (40.8, 111.7, 0.5, 2),
    "21": (41.8, 123.4, 1.5, 3),
    "22": (43.9, 125.3, 0.5, 2),
    "23": (45.8, 126.6, 0.5, 2.5),
    "31": (31.2, 121.5, 5, 3),
    "32": (32.1, 118.8, 8, 6),
    "33": (30.3, 120.2, 12, 5),
    "34": (31.8, 117.3, 2, 4),
    "35": (26.1, 119.3, 5, 3),
    "36": (28.7, 115.9, 1.5, 3),
    "37": (36.7, 117.0, 4, 7),
    "41": (34.8, 113.7, 3, 7),
    "42": (30.6, 114.3, 2, 4),
    "43": (28.2, 112.9, 1.5, 4),
    "44": (23.1, 113.3, 20, 10),
    "45": (22.8, 108.3, 1, 3.5),
    "46": (20.0, 110.3, 0.3, 1),
    "50": (29.6, 106.5, 1.5, 2.5),
    "51": (30.7, 104.1, 2, 6),
    "52": (26.6, 106.7, 0.5, 2.5),
    "53": (25.0, 102.7, 0.5, 3),
    "54": (29.7, 91.1, 0.05, 0.3),
    "61": (34.3, 108.9, 1, 3),
    "62": (36.1, 103.8, 0.3, 2),
    "63": (36.6, 101.8, 0.1, 0.5),
    "64": (38.5, 106.3, 0.1, 0.5),
    "65": (43.8, 87.6, 0.2, 2),
}
CARRIERS: dict[str, float] = {"SF": 0.75, "JD": 0.85, "ZTO": 1.0, "YTO": 1.05, "STO": 1.1}


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 6371 * 2 * math.asin(math.sqrt(h))


def synthetic_china(first_day: date, days: int, parcels_per_day: int, seed: int) -> pa.Table:
    """A China-like history: province/city codes, cut-off times, distance-driven transit.

    Merchants ship at 18:00 when paid before their 16:00 cut-off, else the next
    day; transit hours grow with distance and vary by carrier; parcels arriving
    at night are signed the next morning; 3% are held up by 1-3 days and 0.3%
    are never signed. Product popularity is Zipf-like, so popular products
    have routes of their own and the long tail backs off.
    """
    rng = random.Random(seed)
    codes = list(PROVINCES)
    ship_w = [PROVINCES[c][2] for c in codes]
    buy_w = [PROVINCES[c][3] for c in codes]
    merchants: list[dict[str, Any]] = []
    for m in range(600):
        province = rng.choices(codes, ship_w)[0]
        city = f"{province}{rng.randint(1, 3):02d}"
        merchants.append(
            {
                "merchant_id": f"M{m:04d}",
                "origin_region": f"{city}{rng.randint(1, 5):02d}",
                "carrier": rng.choice(list(CARRIERS)),
                "cutoff_hour": rng.choice([12, 16, 16, 18]),
                "industry": f"I{m % 12:02d}",
            }
        )
    products = [(f"P{p:05d}", merchants[rng.randrange(len(merchants))]) for p in range(3000)]
    weights = [1 / (rank + 1) ** 1.1 for rank in range(len(products))]
    rows: list[dict[str, Any]] = []
    for d in range(days):
        day = first_day + timedelta(days=d)
        picks = rng.choices(products, weights, k=parcels_per_day)
        for product_id, merchant in picks:
            dest_province = rng.choices(codes, buy_w)[0]
            dest = f"{dest_province}{rng.randint(1, 3):02d}{rng.randint(1, 5):02d}"
            hour = min(23.99, max(0.0, rng.gauss(15, 5)))
            paid_local = datetime.combine(day, datetime.min.time(), SHANGHAI) + timedelta(
                hours=hour
            )
            ship_day = day if hour < merchant["cutoff_hour"] else day + timedelta(days=1)
            shipped_local = datetime.combine(ship_day, datetime.min.time(), SHANGHAI) + timedelta(
                hours=18
            )
            origin = merchant["origin_region"]
            if dest[:4] == origin[:4]:
                transit = rng.uniform(6, 20)
            else:
                km = _km(PROVINCES[origin[:2]][:2], PROVINCES[dest_province][:2])
                transit = 14 + km / 25 * rng.lognormvariate(0, 0.25)
            transit *= CARRIERS[merchant["carrier"]]
            if rng.random() < 0.03:
                transit += 24 * rng.randint(1, 3)
            arrive = shipped_local + timedelta(hours=transit)
            if arrive.hour >= 21 or arrive.hour < 8:
                morning = arrive if arrive.hour < 8 else arrive + timedelta(days=1)
                arrive = morning.replace(hour=9) + timedelta(minutes=rng.randint(0, 180))
            signed = None if rng.random() < 0.003 else arrive.astimezone(UTC)
            rows.append(
                {
                    "order_id": f"C{len(rows):08d}",
                    "merchant_id": merchant["merchant_id"],
                    "product_id": product_id,
                    "industry": merchant["industry"],
                    "carrier": merchant["carrier"],
                    "official_logistics": merchant["carrier"] in ("SF", "JD"),
                    "origin_region": origin,
                    "destination_region": dest,
                    "origin_city": origin[:4] + "00",
                    "origin_province": origin[:2] + "0000",
                    "destination_province": dest_province + "0000",
                    "paid_at": paid_local.astimezone(UTC),
                    "shipped_at": shipped_local.astimezone(UTC),
                    "signed_at": signed,
                    "refunded_before_shipment": False,
                }
            )
    return pa.Table.from_pylist(rows, schema=SHIPMENT_FACTS_SCHEMA)


def run_china(seed: int, variant: Variant | None = None) -> None:
    console.rule("[bold]Synthetic China: do shown labels hold?")
    first_day, history_days, replay_days = date(2024, 1, 1), 120, 60
    started = time.perf_counter()
    history = synthetic_china(first_day, history_days, parcels_per_day=3000, seed=seed)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    create_coded_history(con, "shipments", history)
    within3 = one(
        con,
        """
        SELECT avg((signed_at IS NOT NULL AND
                    CAST(timezone('Asia/Shanghai', signed_at) AS DATE)
                    - CAST(timezone('Asia/Shanghai', paid_at) AS DATE) <= 2)::INT),
               avg((signed_at IS NOT NULL AND signed_at <= paid_at + INTERVAL 72 HOUR)::INT)
        FROM shipments
        """,
    )
    console.print(
        f"{history.num_rows:,} parcels over {history_days} days, generated in"
        f" {time.perf_counter() - started:.1f} s (seed {seed}); signed by local day 2"
        f" (day after tomorrow): {within3[0]:.1%}; within 72 h: {within3[1]:.1%}"
    )
    days = [first_day + timedelta(days=history_days - replay_days + i) for i in range(replay_days)]
    params = DEFAULT_PROMISE
    console.print(
        f"model: production — {describe_production(params)}"
        if variant is None
        else f"model: variant — {variant.describe()}"
    )
    replay(
        con,
        days,
        (params.window_days,),
        (params.confidence,),
        params,
        "shipments",
        "days",
        variant,
    )
    rows = con.sql(
        """
        SELECT coalesce(r.label, 'none') AS shown_label, count(*) AS parcels,
               avg((s.signed_at IS NOT NULL AND
                    CAST(timezone('Asia/Shanghai', s.signed_at) AS DATE)
                    <= r.promised_date)::INT) AS held
        FROM replay_results r JOIN shipments s USING (order_id)
        GROUP BY 1
        """
    ).fetchall()
    order = ["today", "tomorrow", "day_after", "none"]
    rows.sort(key=lambda row: order.index(row[0]))
    shown = one(
        con,
        """
        SELECT count(*), avg((s.signed_at IS NOT NULL AND
                    CAST(timezone('Asia/Shanghai', s.signed_at) AS DATE)
                    <= r.promised_date)::INT)
        FROM replay_results r JOIN shipments s USING (order_id)
        WHERE r.label IS NOT NULL
        """,
    )
    levels = con.sql(
        "SELECT backoff_level, count(*) FROM replay_results GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    total = sum(n for _, n in levels)
    table = Table(title=f"Labels over the last {replay_days} days (confidence {params.confidence})")
    for col in ("label", "parcels", "share", "held"):
        table.add_column(col, justify="right")
    for label, parcels, held in rows:
        held_text = "" if label == "none" else f"{held:.2%}"
        table.add_row(label, f"{parcels:,}", f"{parcels / total:.1%}", held_text)
    console.print(table)
    console.print(
        f"shown labels held: {shown[1]:.2%} of {shown[0]:,} (target ≥ 90%);"
        " back-off levels used: "
        + ", ".join(f"{lv if lv is not None else 'none'}: {n / total:.1%}" for lv, n in levels)
    )
    con.close()


def check_variant(data_dir: Path) -> int:
    """The prototype must give production's tables: round-1 model and default model.

    Variant() against `PromiseParams.old_model()` must agree exactly;
    Variant(60, period, 20) against the rulebook's default model agrees up to
    ties in a province pair's most used carrier (level 4's parent), which the
    prototype breaks arbitrarily (`mode`) and production by carrier name (Olist
    has one carrier, so none there).
    """
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    load_olist(con, data_dir, "unshipped")
    failures = 0
    base = replace(DEFAULT_PROMISE, max_horizon_days=OLIST_HORIZON_DAYS)
    models = (
        ("round-1", base.old_model(), Variant()),
        (
            "default without the cut-off (the prototype has none)",
            replace(base, cutoff_min_parcels=0),
            Variant(
                base.lost_after_days,
                base.history_window_basis == "observed",
                float(base.hazard_prior_strength),
            ),
        ),
    )
    for day in (date(2017, 3, 1), date(2017, 11, 30), date(2018, 5, 20)):
        for window in (30, 90):
            for name, model, variant in models:
                params = replace(model, window_days=window)
                as_of = start_of_local_day(day)
                create_promise_table(
                    con,
                    "shipments",
                    "shipments_keys",
                    as_of,
                    params,
                    "prod",
                    confidences=CONFIDENCES,
                )
                create_variant_table(con, "shipments", as_of, params, variant, "var", CONFIDENCES)
                cols = (
                    "level, confidence, coalesce(merchant_id, ''), coalesce(origin, ''),"
                    " coalesce(destination, ''), coalesce(carrier, ''), promise_offset_days,"
                    " round(probability, 9), sample_size"
                )
                diff = one(
                    con,
                    f"SELECT (SELECT count(*) FROM (SELECT {cols} FROM prod EXCEPT ALL"
                    f" SELECT {cols} FROM var)) + (SELECT count(*) FROM (SELECT {cols} FROM var"
                    f" EXCEPT ALL SELECT {cols} FROM prod)), (SELECT count(*) FROM prod)",
                )
                failures += diff[0] != 0
                console.print(f"{day} window {window} {name}: {diff[1]:,} rows, {diff[0]} differ")
    con.close()
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Olist Parquet folder")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--china-only", action="store_true", help="only the synthetic China part")
    group.add_argument("--skip-china", action="store_true", help="only the Olist part")
    parser.add_argument(
        "--windows", default=",".join(map(str, WINDOWS_DAYS)), help="trailing windows, days"
    )
    parser.add_argument(
        "--confidences", default=",".join(map(str, CONFIDENCES)), help="confidence levels"
    )
    parser.add_argument("--min-samples", type=int, default=DEFAULT_PROMISE.min_samples)
    parser.add_argument(
        "--undelivered", choices=("censor", "unshipped", "none", "exclude"), default="unshipped"
    )
    parser.add_argument(
        "--variant", action="store_true", help="the prototype build (Variant) instead of eta.py"
    )
    parser.add_argument("--lost-after", type=int, default=None, help="variant: lost after N days")
    parser.add_argument(
        "--exposure-window", action="store_true", help="variant: window over observation days"
    )
    parser.add_argument("--prior-strength", type=float, default=0.0, help="variant: shrinkage m")
    parser.add_argument(
        "--check-variant",
        action="store_true",
        help="check the prototype builds production's tables on a few days, then exit",
    )
    parser.add_argument("--seed", type=int, default=20240101, help="synthetic history seed")
    args = parser.parse_args(argv)
    variant = (
        Variant(args.lost_after, args.exposure_window, args.prior_strength)
        if args.variant
        else None
    )
    if args.check_variant:
        return check_variant(args.data)
    if not args.china_only:
        run_olist(
            args.data,
            tuple(int(w) for w in args.windows.split(",")),
            tuple(Decimal(c) for c in args.confidences.split(",")),
            args.min_samples,
            args.undelivered,
            variant,
        )
    if not args.skip_china:
        run_china(args.seed, variant)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
