"""The two scans of the promise build over the parcels (route_days.py has the overview).

Each reads the shipment history once, turns every parcel into its days in the
risk set (`parcels_sql`) and aggregates them to small tables: the first pass
into the level-1 route hashes worth a second look and the counts levels 2-5
are taken from, the second into the exact level-1 (route, day) counts. The
statements over those results are in `route_selection.py`.
"""

from __future__ import annotations

from collections.abc import Sequence

from buyerguard.analytics.merchant_cutoffs import DAY_US, PAY_DAY, PAY_HOUR, stop_day_sql
from buyerguard.analytics.shipments import relation_sql


def parcels_sql(
    rel: str,
    horizon_days: int,
    columns: Sequence[str],
    where: str = "",
    *,
    paused: bool = False,
    cutoffs: str | None = None,
) -> str:
    """Kept parcels as (columns..., is_event, offset_days, entry, age), one scan of `rel`.

    `columns` are `expression AS name` or plain column names. offset_days is
    the last day the parcel is in the risk set (its sign day, or the day it
    is censored at) and `entry` the first, both counted from the parcel's start
    day. `age` is how many whole days of the parcel have been seen since its start day,
    when no paused day lies between (else null: the early signal leaves it out). Lost
    parcels, parcels that leave the risk set before they enter it,
    and parcels paid on the as-of day (the build sees whole days, and nothing of
    that day is known yet) are filtered out here.

    The start day is the pay day, or with `cutoffs` (the table of
    merchant_cutoffs.py) the next day for a parcel paid at or after its
    merchant's cut-off; a parcel signed on its pay day before its start day is
    an event on day 0.

    With `paused` (the window holds a public holiday or a declared slowdown) the
    model learns on normal days only: a parcel is watched until the first paused
    day from its start day on (`$stop_days`, per day from `$first_pay_day`), and
    censored there when not yet signed, and a parcel that starts on a paused day
    is left out (its stop day is its start day). Promises then step over paused
    days (clock.add_days_past_holidays), so a span learned on normal days is not
    lengthened twice. Whether a parcel is lost still counts every calendar day
    from its pay day.
    """
    h = int(horizon_days)
    names = ", ".join(c.rsplit(" AS ", 1)[-1] for c in columns)
    if cutoffs is None:
        start, join = PAY_DAY, ""
    else:
        start = f"{PAY_DAY} + coalesce(({PAY_HOUR} >= cutoffs.cutoff_hour)::INTEGER, 0)"
        join = f"LEFT JOIN {cutoffs} AS cutoffs USING (merchant_code)"
    return f"""(
    SELECT {names}, is_event, offset_days, entry, age
    FROM (
        SELECT {names},
               coalesce(seen_delay <= {h}, false) AS is_event,
               CASE WHEN stop_day = $as_of_day THEN $as_of_day - start_day END AS age,
               CASE WHEN seen_delay <= {h} THEN seen_delay
                    ELSE least(coalesce(seen_delay - 1, stop_day - start_day - 1), {h})
               END AS offset_days,
               greatest(0, $entry_day - start_day) AS entry
        FROM (
            SELECT {names}, pay_day, start_day, stop_day, delay,
                   CASE WHEN sign_day IS NULL OR sign_day >= stop_day THEN NULL
                        WHEN sign_day < pay_day THEN sign_day - pay_day
                        ELSE greatest(sign_day - start_day, 0)
                   END AS seen_delay
            FROM (
                SELECT {names}, pay_day, start_day, sign_day,
                       {stop_day_sql("start_day", paused)} AS stop_day,
                       CASE WHEN sign_day < $as_of_day THEN sign_day - pay_day END AS delay
                FROM (
                    SELECT {", ".join(columns)},
                           {PAY_DAY} AS pay_day,
                           {start} AS start_day,
                           (epoch_us(signed_at) + $offset_us) // {DAY_US} AS sign_day
                    FROM {rel} {join}
                    WHERE paid_at >= $window_start AND paid_at < $as_of
                      AND {PAY_DAY} < $as_of_day
                      AND NOT coalesce(refunded_before_shipment, false) {where}
                ) AS days
            ) AS stops
            WHERE coalesce(delay, $as_of_day - pay_day) <= $lost_after
        ) AS delays
    ) AS spans
    WHERE offset_days >= entry
)"""


ROUTE_HASH = "hash(product_code, origin_region_code, destination_region_code)"
LEVEL1_KEYS = ("product_code", "origin_region_code", "destination_region_code")
LEVEL1_PARENT_KEYS = ("merchant_code", "origin_city_code", "destination_province_code")

# Parts of the first pass's output table (one table, so one scan feeds all).
KEPT_HASH_PART, LEVEL2_PART, CARRIER_PART, LATE_PART, PAIR_CARRIER_PART = 0, 2, 5, 7, 9


def _counts(weight: str | None) -> tuple[str, str]:
    """How a group counts its parcels and its events: one each, or by a signed `weight`."""
    if weight is None:
        return "count(*)", "count(*) FILTER (WHERE is_event)"
    return f"sum({weight})", f"coalesce(sum({weight}) FILTER (WHERE is_event), 0)"


def first_pass_sql(
    shipments: str,
    horizon_days: int,
    *,
    paused: bool = False,
    cutoffs: str | None = None,
    weight: str | None = None,
) -> str:
    """One scan feeding four aggregates; the rows of all four in one table.

    part 0: level-1 route hashes with ≥ $min_samples parcels (route_hash);
    with a `weight` column (changed parcels, −1 for a row removed and +1 for
    one added: route_sums.py), every hash whose count moved, by how much;
    part 2: (merchant, origin city and province, destination province, day)
    counts, from which levels 2-4 are taken; part 5: carrier-day counts
    (level 5); part 7: the early signal's cohorts per carrier and origin
    province, and per carrier and destination province (the other province
    null) — parcels started $late_age days ago (`entry` 1) and those started
    on the same weekday in the $late_baseline_weeks weeks before (`entry` 0),
    with how many of them were not signed within $late_age days (`events`);
    part 9: parcels per province pair
    and carrier (level 4's parent). DuckDB streams the scan into the aggregates
    at once.
    """
    parcels = parcels_sql(
        relation_sql(shipments),
        horizon_days,
        [
            "product_code IS NOT NULL AS has_product",
            f"{ROUTE_HASH} AS route_hash",
            "merchant_code",
            "origin_city_code",
            "origin_province_code",
            "destination_province_code",
            "carrier_code",
            *([] if weight is None else [weight]),
        ],
        paused=paused,
        cutoffs=cutoffs,
    )
    count, events = _counts(weight)
    day = f"offset_days, entry, {count} AS parcels, {events} AS events"
    late = "NOT (is_event AND offset_days < $late_age)"
    unsigned = (
        f"count(*) FILTER (WHERE {late})"
        if weight is None
        else f"coalesce(sum({weight}) FILTER (WHERE {late}), 0)"
    )
    kept = "count(*) >= $min_samples" if weight is None else f"{count} <> 0"
    return f"""
WITH parcels AS {parcels},
kept_hashes AS (
    SELECT route_hash, {count} AS parcels FROM parcels
    WHERE has_product AND entry = 0
    GROUP BY route_hash
    HAVING {kept}
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
    SELECT origin_province_code, destination_province_code, carrier_code, {count} AS parcels
    FROM parcels GROUP BY origin_province_code, destination_province_code, carrier_code
),
late AS (
    SELECT origin_province_code, destination_province_code, carrier_code,
           (age = $late_age)::INTEGER AS recent, {count} AS parcels, {unsigned} AS unsigned
    FROM parcels
    WHERE age >= $late_age AND (age - $late_age) % 7 = 0
      AND age <= $late_age + 7 * $late_baseline_weeks
    GROUP BY GROUPING SETS ((origin_province_code, carrier_code, recent),
                            (destination_province_code, carrier_code, recent))
)
SELECT {KEPT_HASH_PART}::TINYINT AS part, route_hash, NULL::INTEGER AS merchant_code,
       NULL::INTEGER AS origin_city_code, NULL::INTEGER AS origin_province_code,
       NULL::INTEGER AS destination_province_code, NULL::INTEGER AS carrier_code,
       NULL::INTEGER AS offset_days, NULL::INTEGER AS entry,
       parcels::BIGINT AS parcels, NULL::BIGINT AS events
FROM kept_hashes
UNION ALL
SELECT {LEVEL2_PART}, NULL, merchant_code, origin_city_code, origin_province_code,
       destination_province_code, NULL, offset_days, entry, parcels, events
FROM level2
UNION ALL
SELECT {CARRIER_PART}, NULL, NULL, NULL, NULL, NULL, carrier_code, offset_days, entry, parcels,
       events
FROM carrier_days
UNION ALL
SELECT {PAIR_CARRIER_PART}, NULL, NULL, NULL, origin_province_code, destination_province_code,
       carrier_code, NULL, NULL, parcels, NULL
FROM pair_carriers
UNION ALL
SELECT {LATE_PART}, NULL, NULL, NULL, origin_province_code, destination_province_code,
       carrier_code, NULL, recent, parcels, unsigned
FROM late
"""


def level1_sql(
    shipments: str,
    horizon_days: int,
    first_pass: str,
    *,
    paused: bool = False,
    cutoffs: str | None = None,
    weight: str | None = None,
) -> str:
    """Level-1 counts of the parcels whose route hash was kept, per route, day and parent.

    The hash test runs in the scan, before the day arithmetic, so only the
    parcels of candidate routes pay for it. Rows are per (route, day, entry)
    and the parcels' (merchant, origin city, destination province): one of
    each per route in any consistent history, and kept apart so that the
    table stays a sum over parcels (route_delta.py adds and removes changed
    parcels); `level1_rollup_sql` gives the rows the selection reads.
    """
    parcels = parcels_sql(
        relation_sql(shipments),
        horizon_days,
        [*LEVEL1_KEYS, *LEVEL1_PARENT_KEYS, *([] if weight is None else [weight])],
        f"AND product_code IS NOT NULL AND {ROUTE_HASH} IN"
        f" (SELECT route_hash FROM {first_pass} WHERE part = {KEPT_HASH_PART})",
        paused=paused,
        cutoffs=cutoffs,
    )
    keys = ", ".join((*LEVEL1_KEYS, "offset_days", "entry", *LEVEL1_PARENT_KEYS))
    count, events = _counts(weight)
    return f"""
SELECT {keys}, {count}::BIGINT AS parcels, {events}::BIGINT AS events
FROM {parcels} AS p
GROUP BY {keys}
"""


def level1_rollup_sql(level1: str) -> str:
    """Level-1 (route, day) counts with each route's parent, from `level1_sql`'s rows.

    The parent (level 2) is the smallest merchant, origin city and
    destination province among the route's parcels.
    """
    route = ", ".join(LEVEL1_KEYS)
    return f"""
WITH parents AS (
    SELECT {route}, min(merchant_code) AS p_merchant, min(origin_city_code) AS p_origin,
           min(destination_province_code) AS p_destination
    FROM {level1} GROUP BY {route}
),
days AS (
    SELECT {route}, offset_days, entry, sum(parcels)::BIGINT AS parcels,
           sum(events)::BIGINT AS events
    FROM {level1} GROUP BY {route}, offset_days, entry
)
SELECT * FROM days JOIN parents USING ({route})
"""
