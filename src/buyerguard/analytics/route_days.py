"""The SQL stage of the promise build: parcels → kept routes and their per-day counts.

Everything that touches parcels is here, as SQL over the shipment history, so
it runs on DuckDB in-process and on a distributed SQL engine unchanged (see
docs/logistics.md). Its output is small: per kept route (≥ min_samples
parcels) and day, how many parcels left the risk set, were signed, and
entered it. `survival.py` turns those counts into promises.

Per parcel (module docstring of `eta.py` for the model): the Shanghai pay day
and sign day are integer day numbers from epoch microseconds plus the fixed
UTC offset; a parcel signed before the as-of day is an event on day
delay = sign day − pay day (censored at the horizon if later); one not yet
signed is censored at as-of day − pay day − 1; a parcel unsigned for more
than `lost_after_days` (or signed after that) is lost and dropped; with the
observed window, a parcel paid before the window enters the risk set on the
window's first day (`entry` > 0).

Every key is read as its integer code (`key_codes`: the history stores a
code beside each key string), so the scans group and join integers; only the
kept routes are decoded, by joining the codebook.

Two scans and a small script (`collect_routes` runs them):

1. `first_pass_sql`: one scan streamed into four aggregates at once. The
   (product, origin, destination) routes of level 1 are nearly one per
   parcel, so they are only counted here, per 64-bit hash of the route (one
   integer key), keeping hashes with ≥ min_samples. Levels 2-4 come from
   one (merchant, origin city, origin province, destination province, day)
   aggregate; level 5 and level 4's parent from two small carrier ones.
2. `level1_sql`: a second scan aggregates level 1 by the exact route and day,
   only for the parcels whose route hash was kept (41% of them at 1688
   scale). A hash collision can only add parcels to a kept hash, never drop
   any, and the exact per-route sum then drops what does not reach
   min_samples: the result is exact.
3. `kept_routes_sql`, `decoded_routes_sql` and `kept_days_sql`: over those
   small results, keep the routes with ≥ min_samples parcels, number them
   and their parents, decode their keys, and list each kept route's day rows.

Each route also carries the key of its parent route (the next coarser level,
for shrinkage): level 1 → the product's merchant, origin city and
destination province (one each in any consistent history; should a route
mix several, the smallest key code, i.e. the value the history recorded
first); level 3 → the city's province (likewise); level 4 → the province
pair's most used carrier (ties: the carrier whose name sorts first).

Besides aggregates, joins, `UNION ALL`, `row_number()` windows and integer
arithmetic, the statements use these DuckDB spellings (Spark SQL in
brackets): `hash()` (`xxhash64()`), `epoch_us()` (`unix_micros()`),
`count(*) FILTER` (`count_if`), `sum(x) FILTER (WHERE c)` (`sum(CASE WHEN c
THEN x END)`), `QUALIFY` (a filter on the window in a subquery),
`any_value` (`any_value`/`first`), `x::TYPE` (`CAST(x AS TYPE)`), `$name`
parameters (`:name`), `IS NOT DISTINCT FROM` (`<=>`), `greatest`/`least`
(the same), and `CREATE TEMP TABLE … AS` for the intermediate results
(cached temporary views).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from buyerguard.analytics.promise_params import PromiseParams, chosen_confidences
from buyerguard.analytics.shipments import check_codebook_relation, relation_sql
from buyerguard.analytics.survival import I64, RouteDays
from buyerguard.clock import SHANGHAI, ensure_utc, local_date
from buyerguard.errors import InvalidInput

_DAY_US = 86_400_000_000
ROUTE_KEYS: tuple[str, ...] = ("product_id", "merchant_id", "origin", "destination", "carrier")
# A route's key codes, and the codebook dimension of each (ROUTE_KEYS' order).
_ROUTE_CODES = ("product_code", "merchant_code", "origin_code", "destination_code", "carrier_code")
_ROUTE_DIMENSIONS = ("product", "merchant", "region", "region", "carrier")
_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class KeptRoutes:
    """The kept routes of every level and their day counts, ready for `survival`.

    `routes` has one row per route, in route-number order (levels coarsest
    first, consecutive): level, the ROUTE_KEYS and sample_size. `parent[r]`
    is the route number of r's parent route, or −1.
    """

    routes: pa.Table
    parent: I64
    days: RouteDays

    @property
    def level(self) -> I64:
        return np.asarray(self.routes.column("level").to_numpy(), dtype=np.int64)


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


def promise_table_params(
    as_of: datetime, params: PromiseParams, confidences: Sequence[Decimal] | None = None
) -> dict[str, Any]:
    """Bind values for the build's SQL: the window, the as-of day and the confidences.

    With the observed window the scan reaches back window + horizon + 1 days
    (older parcels can no longer be in the risk set) and $entry_day is the
    first observed local day; with the paid window it is the first pay day
    that can be in the window, so every kept parcel has entry 0.
    """
    as_of_utc = ensure_utc(as_of, field="as_of")
    observed = params.history_window_basis == "observed"
    look_back = params.window_days + (params.max_horizon_days + 1 if observed else 0)
    window_start = as_of_utc - timedelta(days=look_back)
    chosen = chosen_confidences(params, confidences)
    as_of_day = _day_number(local_date(as_of_utc))
    return {
        "offset_us": _shanghai_offset_us(window_start, as_of_utc),
        "as_of_day": as_of_day,
        "window_start": window_start,
        "as_of": as_of_utc,
        "min_samples": params.min_samples,
        "lost_after": params.lost_after_days,
        "confidences": [float(c) for c in chosen],
        "entry_day": as_of_day - params.window_days if observed else _day_number(date.min),
    }


def bound_for(sql: str, bound: dict[str, Any]) -> dict[str, Any]:
    """The bind values `sql` uses (DuckDB refuses values for absent parameters)."""
    used = set(_PARAMETER.findall(sql))
    return {name: value for name, value in bound.items() if name in used}


def _parcels_sql(rel: str, horizon_days: int, columns: Sequence[str], where: str = "") -> str:
    """Kept parcels as (columns..., is_event, offset_days, entry), one scan of `rel`.

    `columns` are `expression AS name` or plain column names. offset_days is
    the last day the parcel is in the risk set (its sign day, or the day it
    is censored at) and `entry` the first. Lost parcels, and parcels that
    leave the risk set before they enter it, are filtered out here.
    """
    h = int(horizon_days)
    names = ", ".join(c.rsplit(" AS ", 1)[-1] for c in columns)
    return f"""(
    SELECT {names}, is_event, offset_days, entry
    FROM (
        SELECT {names},
               coalesce(delay <= {h}, false) AS is_event,
               CASE WHEN delay <= {h} THEN delay
                    ELSE least(coalesce(delay - 1, $as_of_day - pay_day - 1), {h})
               END AS offset_days,
               greatest(0, $entry_day - pay_day) AS entry
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
    WHERE offset_days >= entry
)"""


_ROUTE_HASH = "hash(product_code, origin_region_code, destination_region_code)"

# Parts of the first pass's output table (one table, so one scan feeds all).
_KEPT_HASH, _LEVEL2, _CARRIER, _PAIR_CARRIER = 0, 2, 5, 9


def first_pass_sql(shipments: str, horizon_days: int) -> str:
    """One scan feeding four aggregates; the rows of all four in one table.

    part 0: level-1 route hashes with ≥ $min_samples parcels (route_hash);
    part 2: (merchant, origin city and province, destination province, day)
    counts, from which levels 2-4 are taken; part 5: carrier-day counts
    (level 5); part 9: parcels per province pair and carrier (level 4's
    parent). DuckDB streams the scan into the four aggregates at once.
    """
    parcels = _parcels_sql(
        relation_sql(shipments),
        horizon_days,
        [
            "product_code IS NOT NULL AS has_product",
            f"{_ROUTE_HASH} AS route_hash",
            "merchant_code",
            "origin_city_code",
            "origin_province_code",
            "destination_province_code",
            "carrier_code",
        ],
    )
    day = "offset_days, entry, count(*) AS parcels, count(*) FILTER (WHERE is_event) AS events"
    return f"""
WITH parcels AS {parcels},
kept_hashes AS (
    SELECT route_hash FROM parcels
    WHERE has_product AND entry = 0
    GROUP BY route_hash
    HAVING count(*) >= $min_samples
),
level2 AS (
    SELECT merchant_code, origin_city_code, origin_province_code, destination_province_code,
           {day}
    FROM parcels
    GROUP BY merchant_code, origin_city_code, origin_province_code, destination_province_code,
             offset_days, entry
),
carrier_days AS (
    SELECT carrier_code, {day} FROM parcels GROUP BY carrier_code, offset_days, entry
),
pair_carriers AS (
    SELECT origin_province_code, destination_province_code, carrier_code, count(*) AS parcels
    FROM parcels GROUP BY origin_province_code, destination_province_code, carrier_code
)
SELECT {_KEPT_HASH}::TINYINT AS part, route_hash, NULL::INTEGER AS merchant_code,
       NULL::INTEGER AS origin_city_code, NULL::INTEGER AS origin_province_code,
       NULL::INTEGER AS destination_province_code, NULL::INTEGER AS carrier_code,
       NULL::INTEGER AS offset_days, NULL::INTEGER AS entry,
       NULL::BIGINT AS parcels, NULL::BIGINT AS events
FROM kept_hashes
UNION ALL
SELECT {_LEVEL2}, NULL, merchant_code, origin_city_code, origin_province_code,
       destination_province_code, NULL, offset_days, entry, parcels, events
FROM level2
UNION ALL
SELECT {_CARRIER}, NULL, NULL, NULL, NULL, NULL, carrier_code, offset_days, entry, parcels,
       events
FROM carrier_days
UNION ALL
SELECT {_PAIR_CARRIER}, NULL, NULL, NULL, origin_province_code, destination_province_code,
       carrier_code, NULL, NULL, parcels, NULL
FROM pair_carriers
"""


def level1_sql(shipments: str, horizon_days: int, first_pass: str) -> str:
    """Level-1 (route, day) counts of the parcels whose route hash was kept.

    The hash test runs in the scan, before the day arithmetic, so only the
    parcels of candidate routes pay for it. Each route's parent (level 2) is
    the smallest merchant, origin city and destination province among its
    parcels (one of each, in any consistent history).
    """
    parcels = _parcels_sql(
        relation_sql(shipments),
        horizon_days,
        [
            "product_code",
            "origin_region_code",
            "destination_region_code",
            "merchant_code",
            "origin_city_code",
            "destination_province_code",
        ],
        f"AND product_code IS NOT NULL AND {_ROUTE_HASH} IN"
        f" (SELECT route_hash FROM {first_pass} WHERE part = {_KEPT_HASH})",
    )
    return f"""
SELECT product_code, origin_region_code, destination_region_code, offset_days, entry,
       count(*) AS parcels, count(*) FILTER (WHERE is_event) AS events,
       min(merchant_code) AS p_merchant, min(origin_city_code) AS p_origin,
       min(destination_province_code) AS p_destination
FROM {parcels} AS p
GROUP BY product_code, origin_region_code, destination_region_code, offset_days, entry
"""


def kept_routes_sql(first_pass: str, level1: str, keys: str) -> str:
    """Every kept route: level, route key codes, sample_size, route_id and parent_id.

    Route ids run over the levels coarsest first (parents before children),
    each level's routes ordered by key code, so a build numbers them the same
    way every time. A route is kept when its parcels paid inside the window
    (entry 0) reach $min_samples. `keys` (the codebook) breaks a tie for a
    province pair's most used carrier by the carrier's name.
    """
    level2 = f"(SELECT * FROM {first_pass} WHERE part = {_LEVEL2})"
    sample = "sum(parcels) FILTER (WHERE entry = 0)"
    codes = ", ".join(f"r.{code}::INTEGER AS {code}" for code in _ROUTE_CODES)
    return f"""
WITH routes AS (
    SELECT 5 AS level, NULL AS product_code, NULL AS merchant_code, NULL AS origin_code,
           NULL AS destination_code, carrier_code, {sample} AS sample_size,
           NULL AS p_merchant, NULL AS p_origin, NULL AS p_destination, NULL AS p_carrier
    FROM {first_pass} WHERE part = {_CARRIER}
    GROUP BY carrier_code
    UNION ALL
    SELECT 4, NULL, NULL, l.origin_province_code, l.destination_province_code, NULL, {sample},
           NULL, NULL, NULL, any_value(c.carrier_code)
    FROM {level2} AS l
    LEFT JOIN (
        SELECT f.origin_province_code, f.destination_province_code, f.carrier_code
        FROM {first_pass} AS f
        LEFT JOIN {keys} AS k ON k.dimension = 'carrier' AND k.code = f.carrier_code
        WHERE f.part = {_PAIR_CARRIER}
        QUALIFY row_number() OVER (
            PARTITION BY f.origin_province_code, f.destination_province_code
            ORDER BY f.parcels DESC, k.value
        ) = 1
    ) AS c
      ON c.origin_province_code IS NOT DISTINCT FROM l.origin_province_code
     AND c.destination_province_code IS NOT DISTINCT FROM l.destination_province_code
    GROUP BY l.origin_province_code, l.destination_province_code
    UNION ALL
    SELECT 3, NULL, NULL, l.origin_city_code, l.destination_province_code, NULL, {sample},
           NULL, any_value(c.origin_province_code), l.destination_province_code, NULL
    FROM {level2} AS l
    JOIN (
        SELECT origin_city_code, min(origin_province_code) AS origin_province_code
        FROM {level2} GROUP BY origin_city_code
    ) AS c ON c.origin_city_code IS NOT DISTINCT FROM l.origin_city_code
    GROUP BY l.origin_city_code, l.destination_province_code
    UNION ALL
    SELECT 2, NULL, merchant_code, origin_city_code, destination_province_code, NULL, {sample},
           NULL, origin_city_code, destination_province_code, NULL
    FROM {level2}
    WHERE merchant_code IS NOT NULL
    GROUP BY merchant_code, origin_city_code, destination_province_code
    UNION ALL
    SELECT 1, product_code, NULL, origin_region_code, destination_region_code, NULL, {sample},
           min(p_merchant), min(p_origin), min(p_destination), NULL
    FROM {level1}
    GROUP BY product_code, origin_region_code, destination_region_code
),
numbered AS (
    SELECT (row_number() OVER (
               ORDER BY level DESC, product_code, merchant_code, origin_code, destination_code,
                        carrier_code
           ) - 1)::BIGINT AS route_id, *
    FROM routes
    WHERE sample_size >= $min_samples
)
SELECT r.route_id, r.level::TINYINT AS level, {codes},
       r.sample_size::BIGINT AS sample_size, coalesce(p.route_id, -1)::BIGINT AS parent_id
FROM numbered AS r
LEFT JOIN numbered AS p
  ON p.level = r.level + 1
 AND p.merchant_code IS NOT DISTINCT FROM r.p_merchant
 AND p.origin_code IS NOT DISTINCT FROM r.p_origin
 AND p.destination_code IS NOT DISTINCT FROM r.p_destination
 AND p.carrier_code IS NOT DISTINCT FROM r.p_carrier
 AND r.level < 5
"""


def decoded_routes_sql(routes: str, keys: str) -> str:
    """The kept routes with their key strings (ROUTE_KEYS) in route order, from the codebook.

    Each key's code is kept beside it (`<key>_code`) so the caller can check
    that the codebook knew every code.
    """
    columns, joins = [], []
    for key, code, dimension in zip(ROUTE_KEYS, _ROUTE_CODES, _ROUTE_DIMENSIONS, strict=True):
        columns.append(f"k_{key}.value AS {key}, r.{code} AS {key}_code")
        joins.append(
            f"LEFT JOIN {keys} AS k_{key}"
            f" ON k_{key}.dimension = '{dimension}' AND k_{key}.code = r.{code}"
        )
    return (
        f"SELECT r.level, {', '.join(columns)}, r.sample_size, r.parent_id\n"
        f"FROM {routes} AS r\n" + "\n".join(joins) + "\nORDER BY r.route_id"
    )


def kept_days_sql(first_pass: str, level1: str, routes: str) -> str:
    """Every kept route's day rows as (route_id, offset_days, entry, parcels, events).

    Each level's rows are joined to its routes on that level's own key codes
    (a null code matches a null code, as in the grouping); levels 3 and 4 are
    rolled up from the level-2 rows.
    """
    level2 = f"(SELECT * FROM {first_pass} WHERE part = {_LEVEL2})"
    carriers = f"(SELECT * FROM {first_pass} WHERE part = {_CARRIER})"
    sources = (  # level, day rows, join keys (route column = day-row column), rolled up
        (5, carriers, (("carrier_code", "carrier_code"),), False),
        (
            4,
            level2,
            (
                ("origin_code", "origin_province_code"),
                ("destination_code", "destination_province_code"),
            ),
            True,
        ),
        (
            3,
            level2,
            (
                ("origin_code", "origin_city_code"),
                ("destination_code", "destination_province_code"),
            ),
            True,
        ),
        (
            2,
            level2,
            (
                ("merchant_code", "merchant_code"),
                ("origin_code", "origin_city_code"),
                ("destination_code", "destination_province_code"),
            ),
            False,
        ),
        (
            1,
            level1,
            (
                ("product_code", "product_code"),
                ("origin_code", "origin_region_code"),
                ("destination_code", "destination_region_code"),
            ),
            False,
        ),
    )
    selects = []
    for level, rows, keys, rolled_up in sources:
        match = " AND ".join(f"r.{route} IS NOT DISTINCT FROM d.{row}" for route, row in keys)
        counts = "sum(d.parcels), sum(d.events)" if rolled_up else "d.parcels, d.events"
        group = "\nGROUP BY r.route_id, d.offset_days, d.entry" if rolled_up else ""
        selects.append(
            f"SELECT r.route_id, d.offset_days, d.entry, {counts}\n"
            f"FROM {rows} AS d JOIN {routes} AS r ON r.level = {level} AND {match}{group}"
        )
    return "\nUNION ALL\n".join(selects) + "\nORDER BY route_id"


@contextmanager
def _undone(con: duckdb.DuckDBPyConnection, undo: Sequence[str]) -> Iterator[None]:
    """Run the `undo` statements on the way out, without hiding the error that got us out.

    After a failed statement inside the caller's transaction DuckDB refuses
    every further statement; the undo is then skipped and the first error is
    the one raised.
    """
    try:
        yield
    except BaseException:
        with suppress(duckdb.Error):
            for statement in undo:
                con.execute(statement)
        raise
    for statement in undo:
        con.execute(statement)


@contextmanager
def _unordered(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Let DuckDB reorder rows while it builds the intermediate tables.

    Nothing reads them in insertion order (every result that is read has an
    ORDER BY), and keeping that order costs the two scans about 7% at 1688
    scale. DuckDB keeps the setting per database, not per cursor, so a
    cursor of the same database running at the same time sees it too; the
    previous value is restored afterwards.
    """
    row = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
    previous = bool(row[0]) if row else True
    con.execute("SET preserve_insertion_order = false")
    with _undone(con, [f"SET preserve_insertion_order = {str(previous).lower()}"]):
        yield


def collect_routes(
    con: duckdb.DuckDBPyConnection,
    shipments: str,
    keys: str,
    as_of: datetime,
    params: PromiseParams,
) -> KeptRoutes:
    """Run the SQL stage: the kept routes, their parents and their day counts.

    `shipments` is the history (SHIPMENT_SCHEMA), `keys` its codebook
    (`key_codes`); both a table or view name or a Parquet path or glob.
    """
    bound = promise_table_params(as_of, params)
    tag = secrets.token_hex(4)
    first, level1, routes = (f"_bg_{name}_{tag}" for name in ("first_pass", "level1", "routes"))
    h = params.max_horizon_days
    check_codebook_relation(con, keys)
    keys_rel = relation_sql(keys)
    steps = [
        (first, first_pass_sql(shipments, h)),
        (level1, level1_sql(shipments, h, first)),
        (routes, kept_routes_sql(first, level1, keys_rel)),
    ]
    with _undone(con, [f"DROP TABLE IF EXISTS {name}" for name, _ in steps]):
        with _unordered(con):
            for name, sql in steps:
                con.execute(f"CREATE TEMP TABLE {name} AS {sql}", bound_for(sql, bound))
        kept = con.sql(decoded_routes_sql(routes, keys_rel)).to_arrow_table()
        arrays = con.sql(kept_days_sql(first, level1, routes)).fetchnumpy()
    for key in ROUTE_KEYS:
        unknown = pc.sum(pc.and_(pc.is_valid(kept[f"{key}_code"]), pc.is_null(kept[key])))
        if unknown.as_py():
            raise InvalidInput(
                "codebook_incomplete",
                f"{unknown.as_py()} kept route(s) have a {key} code the codebook {keys!r} lacks",
                "keys",
            )

    def column(name: str) -> I64:
        return np.asarray(arrays[name], dtype=np.int64)

    days = RouteDays(
        route=column("route_id"),
        exit_day=column("offset_days"),
        entry=column("entry"),
        parcels=column("parcels"),
        events=column("events"),
    )
    return KeptRoutes(
        kept.select(["level", *ROUTE_KEYS, "sample_size"]),
        np.asarray(kept.column("parent_id").to_numpy(), dtype=np.int64),
        days,
    )
