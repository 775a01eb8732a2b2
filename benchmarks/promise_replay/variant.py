"""The prototype promise build measured against production, and the check that it still
builds production's tables."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb

from buyerguard.analytics.eta import create_promise_table
from buyerguard.analytics.promise_params import PromiseParams
from buyerguard.analytics.route_bind_values import bound_for, promise_table_params
from buyerguard.analytics.shipments import relation_sql
from buyerguard.clock import start_of_local_day
from promise_replay.common import DEFAULT_PROMISE, console, one
from promise_replay.olist_data import CONFIDENCES, OLIST_HORIZON_DAYS, load_olist


def describe_production(params: PromiseParams) -> str:
    """Production's model in the words of `Variant.describe`, so both print alike."""
    window = (
        "observation days (period)"
        if params.history_window_basis == "observed"
        else "pay days (cohort)"
    )
    return (
        f"lost after {params.lost_after_days} d; window over {window};"
        f" prior strength {params.hazard_prior_strength}"
    )


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


def create_model_table(
    con: duckdb.DuckDBPyConnection,
    as_of: datetime,
    params: PromiseParams,
    variant: Variant | None,
    table_name: str,
    confidences: tuple[Decimal, ...],
) -> None:
    """The promise table of `shipments` as of `as_of`: production's, or `variant`'s."""
    if variant is None:
        create_promise_table(
            con,
            "shipments",
            "shipments_keys",
            as_of,
            params,
            table_name,
            confidences=confidences,
        )
    else:
        create_variant_table(con, "shipments", as_of, params, variant, table_name, confidences)


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
                create_model_table(con, as_of, params, None, "prod", CONFIDENCES)
                create_model_table(con, as_of, params, variant, "var", CONFIDENCES)
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
