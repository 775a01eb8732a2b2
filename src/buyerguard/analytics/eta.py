"""Delivery promises (预计达, policies.md §11): a Kaplan–Meier promise table in DuckDB.

For every route at every back-off level we estimate P(signed by the end of
local day k | not lost), where k counts Asia/Shanghai calendar days from the
local pay date (k = 0: signed the day it was paid). The promise is the
smallest k with that probability ≥ the confidence. Parcels still in transit
are right-censored rather than dropped: dropping them keeps only the fast ones
among recent parcels and biases every promise short.

The model (rulebook `[arrival]`; it beat Olist's own promise on the Olist
walk-forward, docs/benchmarks.md):

- Lost after L days (`lost_after_days`, 60). A parcel not signed within L
  local days of its pay day is lost (the refund fact the engine will have)
  and leaves the history; a parcel signed later than day L counts as lost
  too, so the same parcel is lost at every as-of. Until it is L days old and
  unsigned it is censored as usual, so there is no look-ahead.
- Observed window (`history_window_basis` = "observed"). The
  `history_window_days` W select the local days on which parcels were
  observed, D − W .. D − 1 (D the as-of day), not the days they were paid: a
  parcel paid before D − W enters the risk set on the day the window starts
  (Kaplan–Meier with delayed entry, "period analysis") and counts for the
  days it was in transit inside the window. Every daily hazard then comes
  from the last W days, and a short window still sees a long tail. The scan
  reaches back W + horizon + 1 days; a route's sample size (for
  min_samples) counts only the parcels paid inside the window. With "paid"
  the window selects pay instants [as_of − W days, as_of) (the round-1
  model).
- Shrinkage (`hazard_prior_strength` m, 20). Each route's daily hazard is
  shrunk toward its parent route's, empirical-Bayes style with m
  pseudo-parcels: h(k) = (d(k) + m·h_parent(k)) / (n(k) + m), with d the
  signed and n the at-risk parcels on day k. Parents: product + origin region
  → destination region → (its merchant, origin city, destination province);
  merchant route → origin city → destination province → origin province →
  destination province → the province pair's most used carrier (ties: the
  smallest carrier code) → none. The parent is shrunk first (coarsest level
  first). A day with nobody at risk follows the parent; a well-sampled route
  keeps about its own hazard. A route whose parent has too few samples to be
  kept is not shrunk. m = 0 turns shrinkage off. The min_samples cut-off
  still decides which level answers.

With basis "paid", m = 0 and L ≥ window + horizon the build gives exactly the
round-1 tables (`PromiseParams.old_model()`; tests/analytics keep those
expectations).

Censoring convention. The build sees whole local days only: a parcel counts as
signed on day k when it was signed before 00:00 Shanghai of the as-of date D.
Otherwise it is censored at c = D − pay date, meaning it is known unsigned
through the end of day c − 1 and is in the risk set for days 0 .. c − 1 only.
(A sign-for earlier on day D itself is treated as not yet seen, so a build
run at 15:00 gives the same table as one run at 00:00.) Parcels paid on day D
contribute nothing, and so do parcels with a sign date before the pay date
(bad data). A parcel signed after the horizon is censored at the horizon.

Back-off levels (policies.md §11), finest first:
1. product + origin region → destination region
2. merchant + origin city → destination province
3. origin city → destination province
4. origin province → destination province
5. carrier-wide
A lookup takes the first level whose route has ≥ min_samples parcels and stops
there, even when that route's promise is "none within the horizon": backing
off past a slow route to a faster coarse one would promise what the route's
own history says it cannot keep.

The whole build is one SQL statement: one aggregate per back-off level (level 1
after a counting pass that keeps only routes that can reach min_samples), then
window functions per route, so it ports to any engine with those (DuckDB here;
Spark SQL at cluster scale). Spark SQL portability: the lost rule and the
observed window are plain integer arithmetic on day numbers (`greatest`,
`least`, `coalesce`); shrinkage is five ordinary CTEs joined level to level
(no recursive CTE, which Spark SQL lacks) over a per-route grid of days built
with `range()` + `unnest` (Spark: `sequence()` + `explode`); the running
product is exp(sum(ln(1 − h))) in the shrunk build (a plain window `sum` in
Spark too). The other DuckDB-only functions and their Spark equivalents are
listed in `promise_table_sql`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import duckdb
import pyarrow as pa

from buyerguard.analytics.shipments import region_levels
from buyerguard.clock import SHANGHAI, ensure_utc, local_date
from buyerguard.errors import InvalidInput
from buyerguard.rulebook import Rulebook

Label = Literal["today", "tomorrow", "day_after"]
LABELS: tuple[Label, ...] = ("today", "tomorrow", "day_after")

LEVEL_NAMES: dict[int, str] = {
    1: "product+origin_region->destination_region",
    2: "merchant+origin_city->destination_province",
    3: "origin_city->destination_province",
    4: "origin_province->destination_province",
    5: "carrier",
}

# CDFs are products of doubles; 18/20 must count as reaching 0.90.
CDF_TOLERANCE = 1e-9
_DAY_US = 86_400_000_000


WINDOW_BASES: tuple[str, ...] = ("observed", "paid")


@dataclass(frozen=True)
class PromiseParams:
    """Knobs of the promise model (policies.md §11), read from the rulebook.

    `old_model` gives the round-1 model (paid window, no shrinkage, nothing lost).
    """

    window_days: int
    confidence: Decimal
    min_samples: int
    max_label_offset_days: int
    max_horizon_days: int
    lost_after_days: int
    history_window_basis: str
    hazard_prior_strength: Decimal

    def as_record(self) -> dict[str, object]:
        """JSON-ready, for the published table's pointer (which model built it)."""
        record = {field.name: getattr(self, field.name) for field in fields(self)}
        record["confidence"] = str(self.confidence)
        record["hazard_prior_strength"] = str(self.hazard_prior_strength)
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> PromiseParams:
        values = dict(record)
        values["confidence"] = Decimal(values["confidence"])
        values["hazard_prior_strength"] = Decimal(values["hazard_prior_strength"])
        return cls(**values)

    @classmethod
    def from_rulebook(cls, rulebook: Rulebook) -> PromiseParams:
        rules = rulebook.arrival
        return cls(
            window_days=rules.history_window_days,
            confidence=rules.promise_confidence,
            min_samples=rules.min_route_samples,
            max_label_offset_days=rules.max_label_offset_days,
            max_horizon_days=rules.promise_horizon_days,
            lost_after_days=rules.lost_after_days,
            history_window_basis=rules.history_window_basis,
            hazard_prior_strength=rules.hazard_prior_strength,
        )

    def old_model(self) -> PromiseParams:
        """The same knobs with the round-1 model: paid window, no shrinkage, nothing lost.

        Its tables equal those of the build before the lost rule, the observed
        window and shrinkage existed (kept as a regression check).
        """
        return replace(
            self,
            lost_after_days=max(self.lost_after_days, self.window_days + self.max_horizon_days),
            history_window_basis="paid",
            hazard_prior_strength=Decimal(0),
        )

    def __post_init__(self) -> None:
        if self.window_days < 1:
            raise InvalidInput("window_days_invalid", "window_days must be ≥ 1", "window_days")
        if not Decimal(0) < self.confidence < Decimal(1):
            raise InvalidInput("confidence_invalid", "confidence must be in (0, 1)", "confidence")
        if self.min_samples < 1:
            raise InvalidInput("min_samples_invalid", "min_samples must be ≥ 1", "min_samples")
        if not 0 <= self.max_label_offset_days < len(LABELS):
            raise InvalidInput(
                "max_label_offset_days_invalid",
                f"max_label_offset_days must be 0..{len(LABELS) - 1}",
                "max_label_offset_days",
            )
        if self.max_horizon_days < self.max_label_offset_days:
            raise InvalidInput(
                "max_horizon_days_invalid",
                "max_horizon_days must be ≥ max_label_offset_days",
                "max_horizon_days",
            )
        if isinstance(self.lost_after_days, bool) or self.lost_after_days < 1:
            raise InvalidInput(
                "lost_after_days_invalid", "lost_after_days must be ≥ 1", "lost_after_days"
            )
        if self.history_window_basis not in WINDOW_BASES:
            raise InvalidInput(
                "history_window_basis_invalid",
                f"history_window_basis must be one of {', '.join(WINDOW_BASES)}:"
                f" {self.history_window_basis!r}",
                "history_window_basis",
            )
        strength = self.hazard_prior_strength
        if not isinstance(strength, Decimal) or not strength.is_finite() or strength < 0:
            raise InvalidInput(
                "hazard_prior_strength_invalid",
                "hazard_prior_strength must be a finite decimal ≥ 0",
                "hazard_prior_strength",
            )


@dataclass(frozen=True)
class Promise:
    """The answer for one parcel: what to promise, and on what evidence.

    `promised_date` is None when no level had enough samples (then
    `backoff_level` is None too) or when the chosen route does not reach the
    confidence within the horizon.
    """

    promised_date: date | None
    label: Label | None
    probability: float | None
    sample_size: int
    backoff_level: int | None


PROMISE_TABLE_SCHEMA: pa.Schema = pa.schema(
    [
        pa.field("level", pa.int8(), nullable=False),
        pa.field("confidence", pa.float64(), nullable=False),
        pa.field("product_id", pa.string()),
        pa.field("merchant_id", pa.string()),
        pa.field("origin", pa.string()),
        pa.field("destination", pa.string()),
        pa.field("carrier", pa.string()),
        pa.field("promise_offset_days", pa.int32()),
        pa.field("probability", pa.float64()),
        pa.field("sample_size", pa.int64(), nullable=False),
    ]
)

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def relation_sql(shipments: str) -> str:
    """SQL for a table/view name, or read_parquet() for a path or glob."""
    if _IDENTIFIER.match(shipments):
        return ".".join(f'"{part}"' for part in shipments.split("."))
    if shipments.endswith(".parquet") or "/" in shipments or "*" in shipments:
        return "read_parquet('" + shipments.replace("'", "''") + "')"
    raise InvalidInput(
        "shipments_relation_invalid",
        f"shipments must be a table name or a Parquet path/glob: {shipments!r}",
        "shipments",
    )


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


def _observed_sql(
    rel: str,
    horizon_days: int,
    columns: Sequence[str],
    where: str = "",
    *,
    delayed_entry: bool = False,
) -> str:
    """Kept parcels as (columns..., is_event, offset_days[, entry]), one scan of `rel`.

    `columns` are `expression AS name` or plain column names. Each pass of the
    build inlines its own copy, so every scan reads only the columns it needs
    (a CTE shared by several passes would be materialised: 120 M wide rows).
    offset_days is the last day the parcel is in the risk set (its sign day,
    or the day it is censored at) and `entry` the first (0 unless the window
    is over observation days). Lost parcels, and parcels that leave the risk
    set before they enter it, are filtered out here.
    """
    h = int(horizon_days)
    names = ", ".join(c.rsplit(" AS ", 1)[-1] for c in columns)
    entry_out = ", entry" if delayed_entry else ""
    entry_expr = ",\n           greatest(0, $entry_day - pay_day) AS entry" if delayed_entry else ""
    live = "offset_days >= entry" if delayed_entry else "offset_days >= 0"
    return f"""(
    SELECT {names}, is_event, offset_days{entry_out}
    FROM (
        SELECT {names},
               coalesce(delay <= {h}, false) AS is_event,
               CASE WHEN delay <= {h} THEN delay
                    ELSE least(coalesce(delay - 1, $as_of_day - pay_day - 1), {h})
               END AS offset_days{entry_expr}
        FROM (
            SELECT {names}, pay_day,
                   CASE WHEN sign_day < $as_of_day THEN sign_day - pay_day END AS delay
            FROM (
                SELECT {", ".join(columns)},
                       (epoch_us(paid_at) + $offset_us) // {_DAY_US} AS pay_day,
                       (epoch_us(signed_at) + $offset_us) // {_DAY_US} AS sign_day
                FROM {rel}
                WHERE paid_at >= $window_start AND paid_at < $as_of
                  AND NOT coalesce(refunded_before_shipment, false) {where}
            ) AS days
        ) AS delays
        WHERE coalesce(delay, $as_of_day - pay_day) <= $lost_after
    ) AS spans
    WHERE {live}
)"""


def promise_table_sql(
    shipments: str,
    horizon_days: int,
    *,
    observed_window: bool = False,
    prior_strength: Decimal = Decimal(0),
) -> str:
    """The build as one SELECT; named parameters are bound by `promise_table_params`.

    Kept public (with `promise_table_params`) so a benchmark or a distributed
    engine can run the exact same statement. `observed_window` and
    `prior_strength` must match the `PromiseParams` given to
    `promise_table_params` (`history_window_basis == "observed"`,
    `hazard_prior_strength`); `promise_table_sql_for` takes them from there.

    Shape (each level aggregated by its own pass over the shipments; at 120 M
    rows this is about twice as fast as one GROUPING SETS scan, which DuckDB
    runs by materialising every filtered row and then aggregating per set):

    - every pass drops lost parcels and parcels outside the observed window
      while it scans (see the module docstring);
    - level 1, in two passes. The (product, origin, destination) routes are
      nearly one per parcel, so a first pass counts parcels per 64-bit hash of
      the route (one integer key) and keeps hashes with ≥ min_samples; the
      second pass aggregates by the exact route and day only the parcels whose
      hash was kept (41% of them at 120 M rows). A hash collision can only add
      parcels to a kept hash, never drop any, and the exact per-route sum
      below drops what does not reach min_samples: the table is exact.
    - level 2 by the exact route and day (89% of parcels are on kept routes,
      so a counting pass would not pay for itself);
    - levels 3-5 rolled up from one (origin city, origin province,
      destination province, carrier, day) aggregate of under 1 M rows.
    - Routes with ≥ min_samples get an integer id, so the Kaplan-Meier
      windows partition by one integer instead of six strings.
    - With the observed window, each (route, day) row also carries the entry
      day, and the risk set is (exits on or after k) − (entries after k).
    - With shrinkage, every kept route gets its parent route's id and a dense
      grid of days 0..G (G: the last day any route has a sign-for; every
      hazard is 0 after it), expanded from its sparse rows; hazards are
      computed level by level, coarsest first, each joined to its parent's
      (five plain CTEs, no recursion), and the CDF is the running product
      (exp of a running sum of logs) over the grid. Without shrinkage only
      the days with an event or an entry are kept (sparse), as before.

    DuckDB-only constructs: `hash()` (Spark SQL: `xxhash64()`), `epoch_us()`
    (Spark: `unix_micros()`), the `product()` window aggregate (Spark:
    `aggregate(collect_list(...))` or exp(sum(ln))), `arg_min` (Spark: `min_by`),
    `arg_max` (Spark: `max_by`), `unnest($list)` (Spark: `explode`),
    `unnest(range(a, b))` in a select list (Spark: `explode(sequence(a, b - 1))`), `count(*) FILTER`
    (Spark: `count_if`), `sum(x) FILTER (WHERE c)` (Spark: `sum(CASE WHEN c
    THEN x END)`), `$name` parameters (Spark: `:name`), `IS NOT DISTINCT FROM`
    (Spark: `<=>`), `greatest`/`least` (same in Spark).
    """
    rel = relation_sql(shipments)
    h = int(horizon_days)
    m = Decimal(prior_strength)
    shrink = m > 0
    de = observed_window
    entry_col = ", entry" if de else ""
    entry_key = ", entry" if de else ""
    null_entry = ", entry" if de else ""
    route_hash = "hash(product_id, origin_region, destination_region) AS route_hash"
    l1_columns = [route_hash, "product_id", "origin_region", "destination_region"]
    if shrink:
        l1_columns += ["merchant_id", "origin_city", "destination_province"]
    l1_counts = _observed_sql(rel, h, [route_hash], "AND product_id IS NOT NULL", delayed_entry=de)
    l1_parcels = _observed_sql(rel, h, l1_columns, "AND product_id IS NOT NULL", delayed_entry=de)
    l2_parcels = _observed_sql(
        rel,
        h,
        ["merchant_id", "origin_city", "destination_province"],
        "AND merchant_id IS NOT NULL",
        delayed_entry=de,
    )
    coarse_parcels = _observed_sql(
        rel,
        h,
        ["origin_city", "origin_province", "destination_province", "carrier"],
        delayed_entry=de,
    )
    counted = "WHERE entry = 0" if de else ""
    # Level 1's parent (level 2) is the product's merchant and its route's origin
    # city and destination province: min() keeps the choice deterministic.
    l1_parent_aggs = (
        ", min(merchant_id) AS p_merchant, min(origin_city) AS p_origin,"
        " min(destination_province) AS p_destination"
        if shrink
        else ""
    )
    sample = "sum(parcels) FILTER (WHERE entry = 0)" if de else "sum(parcels)"
    if shrink:
        parents_sql = """
level1_parents AS (
    SELECT product_id, origin_region, destination_region, min(p_merchant) AS p_merchant,
           min(p_origin) AS p_origin, min(p_destination) AS p_destination
    FROM level1
    GROUP BY product_id, origin_region, destination_region
),
city_province AS (
    SELECT origin_city, min(origin_province) AS origin_province
    FROM coarse GROUP BY origin_city
),
province_carrier AS (
    SELECT origin_province, destination_province, carrier
    FROM (
        SELECT origin_province, destination_province, carrier,
               row_number() OVER (PARTITION BY origin_province, destination_province
                                  ORDER BY sum(parcels) DESC, carrier) AS rn
        FROM coarse GROUP BY origin_province, destination_province, carrier
    ) AS ranked
    WHERE rn = 1
),"""
    else:
        parents_sql = ""
    route_key_join = """g.level = r.level
     AND g.product_id IS NOT DISTINCT FROM r.product_id
     AND g.merchant_id IS NOT DISTINCT FROM r.merchant_id
     AND g.origin IS NOT DISTINCT FROM r.origin
     AND g.destination IS NOT DISTINCT FROM r.destination
     AND g.carrier IS NOT DISTINCT FROM r.carrier"""
    if de:
        day_counts = """
day_counts AS (
    SELECT route_id, k, sum(n_out) AS n_out, sum(events) AS events, sum(n_in) AS n_in
    FROM (
        SELECT route_id, offset_days AS k, parcels AS n_out, events, 0 AS n_in
        FROM route_days
        UNION ALL
        SELECT route_id, entry, 0, 0, parcels FROM route_days WHERE entry > 0
    ) AS moves
    GROUP BY route_id, k
),"""
    else:
        day_counts = """
day_counts AS (
    SELECT route_id, offset_days AS k, parcels AS n_out, events, 0 AS n_in FROM route_days
),"""
    # at risk on day k = (parcels leaving on day k or later) − (entering after k)
    at_risk_window = """sum(n_out - n_in) OVER (
               PARTITION BY route_id ORDER BY k DESC
               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
           ) + n_in"""
    if shrink:
        mm = repr(float(m))
        own = "CASE WHEN n > 0 THEN d / n ELSE 0.0 END"

        def level_hazard(level: int) -> str:
            if level == 5:
                return f"""hz5 AS (
    SELECT route_id, k, {own} AS hz FROM grid WHERE level = 5
)"""
            return f"""hz{level} AS (
    SELECT c.route_id, c.k,
           CASE WHEN p.hz IS NULL THEN CASE WHEN c.n > 0 THEN c.d / c.n ELSE 0.0 END
                ELSE (c.d + {mm} * p.hz) / (c.n + {mm})
           END AS hz
    FROM grid AS c LEFT JOIN hz{level + 1} AS p ON p.route_id = c.parent_id AND p.k = c.k
    WHERE c.level = {level}
)"""

        hazards = ",\n".join(level_hazard(lv) for lv in (5, 4, 3, 2, 1))
        km_sql = f"""
route_parents AS (
    SELECT r.route_id, pr.route_id AS parent_id
    FROM routes AS r
    LEFT JOIN routes AS pr
      ON pr.level = r.p_level
     AND pr.product_id IS NOT DISTINCT FROM r.p_product
     AND pr.merchant_id IS NOT DISTINCT FROM r.p_merchant
     AND pr.origin IS NOT DISTINCT FROM r.p_origin
     AND pr.destination IS NOT DISTINCT FROM r.p_destination
     AND pr.carrier IS NOT DISTINCT FROM r.p_carrier
),
last_event AS (
    -- After the last day any route has a sign-for, every hazard is 0 (shrunk
    -- or not) and every CDF flat, so the grid stops there.
    SELECT coalesce(max(k), 0) AS last_day FROM day_counts WHERE events > 0
),
sparse AS (
    SELECT route_id, k, events, n_in, n_out,
           {at_risk_window} AS at_risk,
           CASE WHEN lag(k) OVER w IS NULL THEN 0 ELSE k END AS first_day,
           least(lead(k, 1, {h} + 1) OVER w, (SELECT last_day FROM last_event) + 1) AS next_k
    FROM day_counts
    WINDOW w AS (PARTITION BY route_id ORDER BY k)
),
grid AS (
    -- Each route's days 0..last_day, from its sparse rows: a row at day k covers
    -- the days up to the next row (and the first one also the days before it),
    -- where nobody signs and the risk set stays what it is just before or after k.
    SELECT route_id, level, parent_id, k,
           CASE WHEN k = k0 THEN events ELSE 0 END::DOUBLE AS d,
           CASE WHEN k < k0 THEN at_risk - n_in WHEN k = k0 THEN at_risk
                ELSE at_risk - n_out END AS n
    FROM (
        SELECT s.route_id, r.level, rp.parent_id, s.k AS k0, s.events, s.n_in, s.n_out,
               s.at_risk, unnest(range(s.first_day, s.next_k)) AS k
        FROM sparse AS s
        JOIN routes AS r USING (route_id)
        JOIN route_parents AS rp USING (route_id)
    ) AS days
),
{hazards},
km AS (
    SELECT route_id, k AS offset_days,
           1.0 - exp(sum(ln(1.0 - hz)) OVER (
               PARTITION BY route_id ORDER BY k
               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
           )) AS cdf
    FROM (
        SELECT * FROM hz1 UNION ALL SELECT * FROM hz2 UNION ALL SELECT * FROM hz3
        UNION ALL SELECT * FROM hz4 UNION ALL SELECT * FROM hz5
    ) AS hz
),"""
    else:
        km_sql = f"""
at_risk AS (
    SELECT route_id, k AS offset_days, events,
           {at_risk_window} AS at_risk
    FROM day_counts
),
km AS (
    SELECT route_id, offset_days,
           1.0 - product(1.0 - events::DOUBLE / at_risk) OVER (
               PARTITION BY route_id
               ORDER BY offset_days ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
           ) AS cdf
    FROM at_risk
),"""
    if shrink:
        # each route's parent: 1 → 2 (the product's merchant, origin city and
        # destination province), 2 → 3 (same city and province), 3 → 4 (the
        # city's province), 4 → 5 (the pair's most used carrier); 5 has none.
        routes_from = f"""
    SELECT g.*,
           CASE g.level WHEN 1 THEN 2 WHEN 2 THEN 3 WHEN 3 THEN 4 WHEN 4 THEN 5 END
               AS p_level,
           NULL::VARCHAR AS p_product,
           l1p.p_merchant,
           CASE g.level WHEN 1 THEN l1p.p_origin WHEN 2 THEN g.origin
                        WHEN 3 THEN cp.origin_province END AS p_origin,
           CASE g.level WHEN 1 THEN l1p.p_destination WHEN 2 THEN g.destination
                        WHEN 3 THEN g.destination END AS p_destination,
           pc.carrier AS p_carrier
    FROM (
        SELECT level, product_id, merchant_id, origin, destination, carrier,
               {sample} AS sample_size, row_number() OVER () AS route_id
        FROM grouped
        GROUP BY level, product_id, merchant_id, origin, destination, carrier
        HAVING {sample} >= $min_samples
    ) AS g
    LEFT JOIN level1_parents AS l1p
      ON g.level = 1 AND l1p.product_id = g.product_id
     AND l1p.origin_region = g.origin AND l1p.destination_region = g.destination
    LEFT JOIN city_province AS cp ON g.level = 3 AND cp.origin_city = g.origin
    LEFT JOIN province_carrier AS pc
      ON g.level = 4 AND pc.origin_province = g.origin
     AND pc.destination_province = g.destination"""
    else:
        routes_from = f"""
    SELECT level, product_id, merchant_id, origin, destination, carrier,
           {sample} AS sample_size,
           row_number() OVER () AS route_id
    FROM grouped
    GROUP BY level, product_id, merchant_id, origin, destination, carrier
    HAVING {sample} >= $min_samples"""
    return f"""
WITH level1 AS (
    SELECT product_id, origin_region, destination_region, offset_days{entry_key},
           count(*) AS parcels, count(*) FILTER (WHERE is_event) AS events{l1_parent_aggs}
    FROM {l1_parcels} AS p
    WHERE route_hash IN (
        SELECT route_hash FROM {l1_counts} AS c
        {counted}
        GROUP BY route_hash
        HAVING count(*) >= $min_samples
    )
    GROUP BY product_id, origin_region, destination_region, offset_days{entry_key}
),
level2 AS (
    SELECT merchant_id, origin_city, destination_province, offset_days{entry_key},
           count(*) AS parcels, count(*) FILTER (WHERE is_event) AS events
    FROM {l2_parcels} AS p
    GROUP BY merchant_id, origin_city, destination_province, offset_days{entry_key}
),
coarse AS (
    SELECT origin_city, origin_province, destination_province, carrier,
           offset_days{entry_key},
           count(*) AS parcels, count(*) FILTER (WHERE is_event) AS events
    FROM {coarse_parcels} AS p
    GROUP BY origin_city, origin_province, destination_province, carrier,
             offset_days{entry_key}
),
levels345 AS (
    SELECT CASE grouping(origin_city, origin_province, carrier)
               WHEN 3 THEN 3 WHEN 5 THEN 4 WHEN 6 THEN 5
           END AS level,
           coalesce(origin_city, origin_province) AS origin,
           destination_province AS destination, carrier, offset_days{entry_col},
           sum(parcels) AS parcels, sum(events) AS events
    FROM coarse
    GROUP BY GROUPING SETS (
        (origin_city, destination_province, offset_days{entry_key}),
        (origin_province, destination_province, offset_days{entry_key}),
        (carrier, offset_days{entry_key})
    )
),{parents_sql}
grouped AS (
    SELECT 1 AS level, product_id, CAST(NULL AS VARCHAR) AS merchant_id,
           origin_region AS origin, destination_region AS destination,
           CAST(NULL AS VARCHAR) AS carrier, offset_days{null_entry}, parcels, events
    FROM level1
    UNION ALL
    SELECT 2, NULL, merchant_id, origin_city, destination_province, NULL,
           offset_days{entry_col}, parcels, events
    FROM level2
    UNION ALL
    SELECT level, NULL, NULL, origin, destination, carrier, offset_days{entry_col},
           parcels, events
    FROM levels345
),
routes AS ({routes_from}
),
route_days AS (
    SELECT r.route_id, g.offset_days{", g.entry" if de else ""}, g.parcels, g.events
    FROM grouped AS g
    JOIN routes AS r
      ON {route_key_join}
),{day_counts}{km_sql}
promised AS (
    SELECT route_id, confidence,
           min(offset_days) FILTER (WHERE cdf >= confidence - {CDF_TOLERANCE})::INTEGER
               AS promise_offset_days,
           arg_min(cdf, offset_days) FILTER (WHERE cdf >= confidence - {CDF_TOLERANCE})
               AS probability
    FROM km CROSS JOIN (SELECT unnest($confidences::DOUBLE[]) AS confidence) AS c
    GROUP BY route_id, confidence
)
SELECT r.level::TINYINT AS level, p.confidence, r.product_id, r.merchant_id, r.origin,
       r.destination, r.carrier, p.promise_offset_days, p.probability,
       r.sample_size::BIGINT AS sample_size
FROM promised AS p
JOIN routes AS r ON r.route_id = p.route_id
"""


def promise_table_sql_for(shipments: str, params: PromiseParams) -> str:
    """`promise_table_sql` with the model switches of `params`."""
    return promise_table_sql(
        shipments,
        params.max_horizon_days,
        observed_window=params.history_window_basis == "observed",
        prior_strength=params.hazard_prior_strength,
    )


def promise_table_params(
    as_of: datetime, params: PromiseParams, confidences: Sequence[Decimal] | None = None
) -> dict[str, Any]:
    """Bind values for `promise_table_sql`: the window, the as-of day and the levels.

    With the observed window the scan reaches back window + horizon + 1 days
    (older parcels can no longer be in the risk set) and $entry_day is the
    first observed local day.
    """
    as_of_utc = ensure_utc(as_of, field="as_of")
    observed = params.history_window_basis == "observed"
    look_back = params.window_days + (params.max_horizon_days + 1 if observed else 0)
    window_start = as_of_utc - timedelta(days=look_back)
    chosen = list(confidences) if confidences is not None else [params.confidence]
    for confidence in chosen:
        if not Decimal(0) < confidence < Decimal(1):
            raise InvalidInput("confidence_invalid", "confidence must be in (0, 1)", "confidence")
    as_of_day = _day_number(local_date(as_of_utc))
    bound: dict[str, Any] = {
        "offset_us": _shanghai_offset_us(window_start, as_of_utc),
        "as_of_day": as_of_day,
        "window_start": window_start,
        "as_of": as_of_utc,
        "min_samples": params.min_samples,
        "lost_after": params.lost_after_days,
        "confidences": [float(c) for c in chosen],
    }
    if observed:
        bound["entry_day"] = as_of_day - params.window_days
    return bound


def build_promise_table(
    con: duckdb.DuckDBPyConnection,
    shipments: str,
    as_of: datetime,
    params: PromiseParams,
    *,
    confidences: Sequence[Decimal] | None = None,
) -> pa.Table:
    """The promise table as of `as_of`: one row per (level, route, confidence).

    Only routes with ≥ min_samples parcels are kept, since no lookup can use
    the others; that also keeps the table small at marketplace scale.
    `confidences` builds several levels in one pass (benchmarks sweep them).
    """
    sql = promise_table_sql_for(shipments, params)
    bound = promise_table_params(as_of, params, confidences)
    ordered = f"SELECT * FROM ({sql}) ORDER BY ALL"
    table = con.sql(ordered, params=bound).to_arrow_table()
    return table.cast(PROMISE_TABLE_SCHEMA)


def create_promise_table(
    con: duckdb.DuckDBPyConnection,
    shipments: str,
    as_of: datetime,
    params: PromiseParams,
    table_name: str,
    *,
    confidences: Sequence[Decimal] | None = None,
) -> None:
    """Like `build_promise_table`, but (re)writes a DuckDB table and returns nothing."""
    if not _IDENTIFIER.match(table_name):
        raise InvalidInput("table_name_invalid", f"bad table name {table_name!r}", "table_name")
    sql = promise_table_sql_for(shipments, params)
    bound = promise_table_params(as_of, params, confidences)
    con.execute(f"CREATE OR REPLACE TABLE {relation_sql(table_name)} AS {sql}", bound)


def lookup_promises_sql(promises: str, parcels: str, params: PromiseParams) -> str:
    """Vectorised back-off lookup: `parcels` rows joined to their promise.

    `parcels` must have the route columns of the shipment schema plus
    paid_at; one output row per parcel and confidence in the table, with
    backoff_level, promise_offset_days, probability, sample_size,
    promised_date and label (the same rules as `promise_for`).
    """
    table = relation_sql(promises)
    source = relation_sql(parcels)
    n = int(params.min_samples)
    max_label = int(params.max_label_offset_days)
    joins = {
        1: "l1.product_id = p.product_id AND l1.origin = p.origin_region"
        " AND l1.destination = p.destination_region",
        2: "l2.merchant_id = p.merchant_id AND l2.origin = p.origin_city"
        " AND l2.destination = p.destination_province",
        3: "l3.origin = p.origin_city AND l3.destination = p.destination_province",
        4: "l4.origin = p.origin_province AND l4.destination = p.destination_province",
        5: "l5.carrier = p.carrier",
    }
    join_sql = "\n".join(
        f"LEFT JOIN {table} l{lv} ON l{lv}.level = {lv} AND l{lv}.confidence = p.confidence"
        f" AND l{lv}.sample_size >= {n} AND {cond}"
        for lv, cond in joins.items()
    )

    def pick(column: str) -> str:
        whens = " ".join(f"WHEN l{lv}.level IS NOT NULL THEN l{lv}.{column}" for lv in joins)
        return f"CASE {whens} END"

    labels = " ".join(
        f"WHEN {k} THEN '{label}'" for k, label in enumerate(LABELS) if k <= max_label
    )
    return f"""
WITH p AS (
    SELECT s.*, c.confidence
    FROM {source} s CROSS JOIN (SELECT DISTINCT confidence FROM {table}) c
),
chosen AS (
    SELECT p.*,
           {pick("level")}::TINYINT AS backoff_level,
           {pick("promise_offset_days")} AS promise_offset_days,
           {pick("probability")} AS probability,
           coalesce({pick("sample_size")}, 0) AS sample_size
    FROM p
    {join_sql}
)
SELECT *,
       CAST(timezone('Asia/Shanghai', paid_at) AS DATE) + promise_offset_days AS promised_date,
       CASE promise_offset_days {labels} END AS label
FROM chosen
"""


@dataclass(frozen=True)
class _RouteRow:
    promise_offset_days: int | None
    probability: float | None
    sample_size: int


_RouteKey = tuple[int, str | None, str | None, str | None, str | None, str | None]


class PromiseIndex:
    """An in-memory promise table for single lookups (the API's hot path)."""

    def __init__(self, rows: dict[_RouteKey, _RouteRow]) -> None:
        self._rows = rows

    @classmethod
    def from_table(cls, table: pa.Table, confidence: Decimal | None = None) -> PromiseIndex:
        """Index a promise table; pick `confidence` when the table holds several."""
        present = sorted(set(table.column("confidence").to_pylist()))
        if confidence is None:
            if len(present) > 1:
                raise InvalidInput(
                    "confidence_ambiguous",
                    f"the promise table holds confidences {present}; choose one",
                    "confidence",
                )
            wanted = present[0] if present else None
        else:
            wanted = float(confidence)
        rows: dict[_RouteKey, _RouteRow] = {}
        for rec in table.to_pylist():
            if rec["confidence"] != wanted:
                continue
            key: _RouteKey = (
                int(rec["level"]),
                rec["product_id"],
                rec["merchant_id"],
                rec["origin"],
                rec["destination"],
                rec["carrier"],
            )
            rows[key] = _RouteRow(
                rec["promise_offset_days"], rec["probability"], rec["sample_size"]
            )
        return cls(rows)

    def get(self, key: _RouteKey) -> _RouteRow | None:
        return self._rows.get(key)

    def __len__(self) -> int:
        return len(self._rows)


def promise_for(
    source: PromiseIndex | pa.Table,
    *,
    product_id: str | None,
    merchant_id: str,
    origin_region: str,
    destination_region: str,
    carrier: str,
    paid_at: datetime,
    params: PromiseParams,
    origin_city: str | None = None,
    origin_province: str | None = None,
    destination_province: str | None = None,
) -> Promise:
    """Walk the back-off levels for one parcel and answer as policies.md §11 says.

    City and province codes are derived from GB/T 2260 region codes when not
    given; for ISO 3166-2 regions the origin city must be passed explicitly.
    """
    index = source if isinstance(source, PromiseIndex) else PromiseIndex.from_table(source)
    derived_city, derived_origin_province = region_levels(origin_region, field="origin_region")
    _, derived_destination_province = region_levels(destination_region, field="destination_region")
    city = origin_city or derived_city
    if city is None:
        raise InvalidInput(
            "origin_city_required",
            f"origin_city cannot be derived from {origin_region!r}; pass it",
            "origin_city",
        )
    o_province = origin_province or derived_origin_province
    d_province = destination_province or derived_destination_province
    keys: list[_RouteKey] = []
    if product_id is not None:
        keys.append((1, product_id, None, origin_region, destination_region, None))
    keys += [
        (2, None, merchant_id, city, d_province, None),
        (3, None, None, city, d_province, None),
        (4, None, None, o_province, d_province, None),
        (5, None, None, None, None, carrier),
    ]
    for key in keys:
        row = index.get(key)
        if row is None or row.sample_size < params.min_samples:
            continue
        if row.promise_offset_days is None:
            return Promise(None, None, None, row.sample_size, key[0])
        offset = row.promise_offset_days
        label = LABELS[offset] if offset <= params.max_label_offset_days else None
        promised = local_date(paid_at) + timedelta(days=offset)
        return Promise(promised, label, row.probability, row.sample_size, key[0])
    return Promise(None, None, None, 0, None)
