"""Delivery promises (预计达, policies.md §11): a Kaplan–Meier promise table in DuckDB.

For every route at every back-off level we estimate, from parcels paid in the
trailing window, P(signed by the end of local day k), where k counts
Asia/Shanghai calendar days from the local pay date (k = 0: signed the day it
was paid). The promise is the smallest k with that probability ≥ the
confidence. Parcels still in transit are right-censored rather than dropped:
dropping them keeps only the fast ones among recent parcels and biases every
promise short.

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

The whole build is one SQL statement: a single scan aggregated with GROUPING
SETS, then window functions per route, so it runs unchanged on any engine with
those (DuckDB here; Spark SQL or Trino at cluster scale).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class PromiseParams:
    """Knobs of the promise model (policies.md §11), read from the rulebook."""

    window_days: int
    confidence: Decimal
    min_samples: int
    max_label_offset_days: int
    max_horizon_days: int

    @classmethod
    def from_rulebook(cls, rulebook: Rulebook) -> PromiseParams:
        rules = rulebook.arrival
        return cls(
            window_days=rules.history_window_days,
            confidence=rules.promise_confidence,
            min_samples=rules.min_route_samples,
            max_label_offset_days=rules.max_label_offset_days,
            max_horizon_days=rules.promise_horizon_days,
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


def promise_table_sql(shipments: str, horizon_days: int) -> str:
    """The build as one SELECT; named parameters are bound by the callers below.

    Kept public (with `promise_table_params`) so a benchmark or a distributed
    engine can run the exact same statement.
    """
    rel = relation_sql(shipments)
    h = int(horizon_days)
    return f"""
WITH parcels AS (
    SELECT product_id, merchant_id, origin_region, destination_region, origin_city,
           origin_province, destination_province, carrier,
           (epoch_us(paid_at) + $offset_us) // {_DAY_US} AS pay_day,
           CASE WHEN (epoch_us(signed_at) + $offset_us) // {_DAY_US} < $as_of_day
                THEN (epoch_us(signed_at) + $offset_us) // {_DAY_US} END AS sign_day
    FROM {rel}
    WHERE paid_at >= $window_start AND paid_at < $as_of
      AND NOT coalesce(refunded_before_shipment, false)
),
observed AS (
    SELECT * EXCLUDE (pay_day, sign_day),
           coalesce(sign_day - pay_day <= {h}, false) AS is_event,
           CASE WHEN sign_day - pay_day <= {h} THEN sign_day - pay_day
                ELSE least(coalesce(sign_day - pay_day - 1, $as_of_day - pay_day - 1), {h})
           END AS offset_days
    FROM parcels
),
grouped AS (
    SELECT CASE grouping(product_id, merchant_id, origin_city, origin_province, carrier)
               WHEN 15 THEN 1 WHEN 19 THEN 2 WHEN 27 THEN 3 WHEN 29 THEN 4 WHEN 30 THEN 5
           END AS level,
           product_id, merchant_id,
           coalesce(origin_region, origin_city, origin_province) AS origin,
           coalesce(destination_region, destination_province) AS destination,
           carrier, offset_days,
           count(*) AS parcels,
           count(*) FILTER (WHERE is_event) AS events
    FROM observed
    WHERE offset_days >= 0
    GROUP BY GROUPING SETS (
        (product_id, origin_region, destination_region, offset_days),
        (merchant_id, origin_city, destination_province, offset_days),
        (origin_city, destination_province, offset_days),
        (origin_province, destination_province, offset_days),
        (carrier, offset_days)
    )
),
big_routes AS (
    -- Routes that may reach min_samples, keyed by a 64-bit hash of the route:
    -- one integer key aggregates far faster than six strings, and a collision
    -- only adds routes (sums never shrink), which the exact filter in `km` drops.
    SELECT hash(level, product_id, merchant_id, origin, destination, carrier) AS route_hash
    FROM grouped
    GROUP BY route_hash
    HAVING sum(parcels) >= $min_samples
),
at_risk AS (
    SELECT *,
           sum(parcels) OVER route AS sample_size,
           sum(parcels) OVER (route ORDER BY offset_days DESC
                              ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS at_risk
    FROM grouped
    WHERE (level <> 1 OR product_id IS NOT NULL) AND (level <> 2 OR merchant_id IS NOT NULL)
      AND hash(level, product_id, merchant_id, origin, destination, carrier)
          IN (SELECT route_hash FROM big_routes)
    WINDOW route AS (PARTITION BY level, product_id, merchant_id, origin, destination, carrier)
),
km AS (
    SELECT level, product_id, merchant_id, origin, destination, carrier, offset_days,
           sample_size,
           1.0 - product(1.0 - events::DOUBLE / at_risk) OVER (
               PARTITION BY level, product_id, merchant_id, origin, destination, carrier
               ORDER BY offset_days ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
           ) AS cdf
    FROM at_risk
    WHERE sample_size >= $min_samples
),
confidences AS (SELECT unnest($confidences::DOUBLE[]) AS confidence)
SELECT level::TINYINT AS level, confidence, product_id, merchant_id, origin, destination,
       carrier,
       min(offset_days) FILTER (WHERE cdf >= confidence - {CDF_TOLERANCE})::INTEGER
           AS promise_offset_days,
       arg_min(cdf, offset_days) FILTER (WHERE cdf >= confidence - {CDF_TOLERANCE})
           AS probability,
       any_value(sample_size)::BIGINT AS sample_size
FROM km CROSS JOIN confidences
GROUP BY level, confidence, product_id, merchant_id, origin, destination, carrier
"""


def promise_table_params(
    as_of: datetime, params: PromiseParams, confidences: Sequence[Decimal] | None = None
) -> dict[str, Any]:
    """Bind values for `promise_table_sql`: the window, the as-of day and the levels."""
    as_of_utc = ensure_utc(as_of, field="as_of")
    window_start = as_of_utc - timedelta(days=params.window_days)
    chosen = list(confidences) if confidences is not None else [params.confidence]
    for confidence in chosen:
        if not Decimal(0) < confidence < Decimal(1):
            raise InvalidInput("confidence_invalid", "confidence must be in (0, 1)", "confidence")
    return {
        "offset_us": _shanghai_offset_us(window_start, as_of_utc),
        "as_of_day": _day_number(local_date(as_of_utc)),
        "window_start": window_start,
        "as_of": as_of_utc,
        "min_samples": params.min_samples,
        "confidences": [float(c) for c in chosen],
    }


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
    sql = promise_table_sql(shipments, params.max_horizon_days)
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
    sql = promise_table_sql(shipments, params.max_horizon_days)
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
