"""Each merchant's observed cut-off: the pay hour from which its parcels ship a day later.

What decides a one- or two-day delivery is often the hour of payment against the
merchant's daily cut-off: paid at 15:00 before a 16:00 cut-off, a parcel leaves
today; paid at 17:00, tomorrow. Pooled in one route the two groups blur, and the
route's promise is set by the late ones. So a promise counts from the parcel's
*start day*: its pay day, or the next day when it was paid at or after its
merchant's observed cut-off (route_scans.py learns on that clock, promise_lookup.promise_for
answers on it).

The cut-off is read from the window's shipments: per merchant and Shanghai pay
hour, how many parcels and their total ship lag in days, ship day − pay day
(`cutoff_hours_sql`); then from those sums (`cutoffs_from_hours_sql`). Every
boundary between two observed hours is a candidate; the cut-off is the first
hour of the later group at the boundary where the mean lag jumps most, if it
jumps by at least `cutoff_min_jump_days` with at least `cutoff_min_parcels`
parcels on each side (else the merchant has none: every parcel starts on its
pay day). Ties: the earlier hour. A lag is read up to LAG_CAP_DAYS: only
parcels paid at least that long before the as-of day and before the next paused
day count (so a payment too recent to have shipped, or one whose shipping ran
into a holiday, does not make the late hours look fast), and a longer lag, or
none seen by then, counts as the cap.
"""

from __future__ import annotations

import pyarrow as pa

from buyerguard.analytics.shipments import relation_sql

DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000
# A ship lag is read up to this many days: a parcel counts only when that many days of its
# shipping could be seen (before the as-of day and the next paused day), and a longer or
# unseen lag counts as this many, so the recent days do not hide their slow shipments.
LAG_CAP_DAYS = 3
PAY_DAY = f"(epoch_us(paid_at) + $offset_us) // {DAY_US}"
PAY_HOUR = f"((epoch_us(paid_at) + $offset_us) // {HOUR_US}) % 24"


NO_CUTOFFS: pa.Table = pa.schema(
    [
        pa.field("merchant_id", pa.string()),
        pa.field("cutoff_hour", pa.int8()),
        pa.field("cutoff_parcels", pa.int64()),
    ]
).empty_table()


def stop_day_sql(day: str, paused: bool) -> str:
    """The first paused day from `day` on (the as-of day if none): where watching stops."""
    if not paused:
        return "$as_of_day"
    return f"list_extract($stop_days, ({day}) - $first_pay_day + 1)"


def cutoff_hours_sql(shipments: str, paused: bool, *, weight: str = "1") -> str:
    """(merchant_code, pay_hour, n, lag_days): the window's parcels and ship lags per pay hour.

    Sums only, so the table of a history with some parcels changed is this
    table plus the changed parcels' rows (`weight` −1 for a row removed, +1 for
    one added: route_delta.py). The window is whole Shanghai days
    (`$cutoff_from_day` .. the as-of day), so an hour of the as-of day reads
    what midnight read.
    """
    rel = relation_sql(shipments)
    ship_day = f"(epoch_us(shipped_at) + $offset_us) // {DAY_US}"
    stop = stop_day_sql(PAY_DAY, paused)
    return f"""
SELECT merchant_code, {PAY_HOUR}::TINYINT AS pay_hour, sum({weight})::BIGINT AS n,
       sum({weight} * CASE WHEN {ship_day} < {stop}
                           THEN least({ship_day} - {PAY_DAY}, {LAG_CAP_DAYS})
                           ELSE {LAG_CAP_DAYS} END)::BIGINT AS lag_days
FROM {rel}
WHERE {PAY_DAY} >= $cutoff_from_day AND paid_at < $as_of
  AND {PAY_DAY} + {LAG_CAP_DAYS} <= {stop}
  AND (shipped_at IS NULL OR shipped_at >= paid_at)
  AND merchant_code IS NOT NULL AND NOT coalesce(refunded_before_shipment, false)
GROUP BY merchant_code, pay_hour
"""


def cutoffs_from_hours_sql(hours: str) -> str:
    """(merchant_code, cutoff_hour, cutoff_parcels) for every merchant with a cut-off."""
    return f"""
WITH running AS (
    SELECT merchant_code, pay_hour,
           lead(pay_hour) OVER hourly AS next_hour,
           sum(n) OVER hourly AS n_before, sum(lag_days) OVER hourly AS lag_before,
           sum(n) OVER merchant AS n_all, sum(lag_days) OVER merchant AS lag_all
    FROM {hours}
    WHERE n > 0
    WINDOW hourly AS (PARTITION BY merchant_code ORDER BY pay_hour
                      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
           merchant AS (PARTITION BY merchant_code)
),
candidates AS (
    SELECT merchant_code, next_hour AS cutoff_hour, n_all AS cutoff_parcels,
           (lag_all - lag_before) / (n_all - n_before) - lag_before / n_before AS jump
    FROM running
    WHERE next_hour IS NOT NULL
      AND n_before >= $cutoff_min_parcels AND n_all - n_before >= $cutoff_min_parcels
)
SELECT merchant_code, cutoff_hour::TINYINT AS cutoff_hour, cutoff_parcels::BIGINT AS cutoff_parcels
FROM candidates
WHERE jump >= $cutoff_min_jump
QUALIFY row_number() OVER (PARTITION BY merchant_code ORDER BY jump DESC, cutoff_hour) = 1
"""


def decoded_cutoffs_sql(cutoffs: str, keys: str) -> str:
    """The cut-offs with the merchant's id from the codebook, by merchant id."""
    return f"""
SELECT k.value AS merchant_id, c.cutoff_hour, c.cutoff_parcels
FROM {cutoffs} AS c
JOIN {keys} AS k ON k.dimension = 'merchant' AND k.code = c.merchant_code
ORDER BY k.value
"""
