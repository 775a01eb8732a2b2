"""The small script over the scans' results: which routes are kept, and their rows.

From the first pass and level-1 tables (`route_scans.py`) it keeps the routes
with ≥ min_samples parcels, numbers them and their parents, decodes their keys
through the codebook, and lists each kept route's day rows; route_days.py has
the overview and runs it.
"""

from __future__ import annotations

from buyerguard.analytics.route_scans import (
    CARRIER_PART,
    LATE_PART,
    LEVEL2_PART,
    PAIR_CARRIER_PART,
)

ROUTE_KEYS: tuple[str, ...] = ("product_id", "merchant_id", "origin", "destination", "carrier")
# A route's key codes, and the codebook dimension of each (ROUTE_KEYS' order).
_ROUTE_CODES = ("product_code", "merchant_code", "origin_code", "destination_code", "carrier_code")
_ROUTE_DIMENSIONS = ("product", "merchant", "region", "region", "carrier")


def kept_routes_sql(first_pass: str, level1: str, keys: str) -> str:
    """Every kept route: level, route key codes, sample_size, route_id and parent_id.

    Route ids run over the levels coarsest first (parents before children),
    each level's routes ordered by key code, so a build numbers them the same
    way every time. A route is kept when its parcels paid inside the window
    (entry 0) reach $min_samples. `keys` (the codebook) breaks a tie for a
    province pair's most used carrier by the carrier's name.
    """
    level2 = f"(SELECT * FROM {first_pass} WHERE part = {LEVEL2_PART})"
    sample = "sum(parcels) FILTER (WHERE entry = 0)"
    codes = ", ".join(f"r.{code}::INTEGER AS {code}" for code in _ROUTE_CODES)
    return f"""
WITH routes AS (
    SELECT 5 AS level, NULL AS product_code, NULL AS merchant_code, NULL AS origin_code,
           NULL AS destination_code, carrier_code, {sample} AS sample_size,
           NULL AS p_merchant, NULL AS p_origin, NULL AS p_destination, NULL AS p_carrier
    FROM {first_pass} WHERE part = {CARRIER_PART}
    GROUP BY carrier_code
    UNION ALL
    SELECT 4, NULL, NULL, l.origin_province_code, l.destination_province_code, NULL, {sample},
           NULL, NULL, NULL, any_value(c.carrier_code)
    FROM {level2} AS l
    LEFT JOIN (
        SELECT f.origin_province_code, f.destination_province_code, f.carrier_code
        FROM {first_pass} AS f
        LEFT JOIN {keys} AS k ON k.dimension = 'carrier' AND k.code = f.carrier_code
        WHERE f.part = {PAIR_CARRIER_PART}
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
    level2 = f"(SELECT * FROM {first_pass} WHERE part = {LEVEL2_PART})"
    carriers = f"(SELECT * FROM {first_pass} WHERE part = {CARRIER_PART})"
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


def running_late_sql(first_pass: str, keys: str) -> str:
    """The carriers running late from or to a province, decoded.

    From the first pass's early-signal cohorts (part LATE_PART), per carrier
    and origin province and per carrier and destination province: at the
    earlier cohorts' rate, its recent parcels would have signed `expected` by
    now; a group is judged when that is ≥ $late_min_expected, and runs late
    when they signed at most $late_max_signed_ratio of it. Signed shares, not
    unsigned ones, are compared, so that a far province (few signed within
    days even on a good day) and a near one are judged alike. Columns:
    carrier, origin, destination (one province code, the other null),
    recent_parcels, signed_share, expected_share.
    """
    return f"""
WITH cohorts AS (
    SELECT origin_province_code, destination_province_code, carrier_code,
           sum(parcels) FILTER (WHERE entry = 1) AS recent_parcels,
           sum(parcels - events) FILTER (WHERE entry = 1) AS recent_signed,
           sum(parcels) FILTER (WHERE entry = 0) AS baseline_parcels,
           sum(parcels - events) FILTER (WHERE entry = 0) AS baseline_signed
    FROM {first_pass} WHERE part = {LATE_PART}
    GROUP BY origin_province_code, destination_province_code, carrier_code
),
late AS (
    SELECT *, recent_signed / recent_parcels AS signed_share,
           baseline_signed / baseline_parcels AS expected_share
    FROM cohorts
    WHERE $late_min_expected > 0 AND recent_parcels > 0 AND baseline_parcels > 0
      AND recent_parcels * baseline_signed / baseline_parcels >= $late_min_expected
)
SELECT kc.value AS carrier, ko.value AS origin, kd.value AS destination,
       l.recent_parcels::BIGINT AS recent_parcels, l.signed_share, l.expected_share
FROM late AS l
LEFT JOIN {keys} AS kc ON kc.dimension = 'carrier' AND kc.code = l.carrier_code
LEFT JOIN {keys} AS ko ON ko.dimension = 'region' AND ko.code = l.origin_province_code
LEFT JOIN {keys} AS kd ON kd.dimension = 'region' AND kd.code = l.destination_province_code
WHERE l.signed_share <= $late_max_signed_ratio * l.expected_share
ORDER BY carrier, origin, destination
"""
