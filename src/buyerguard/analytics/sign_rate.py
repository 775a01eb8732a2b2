"""72-hour pay-to-sign rate (72小时支签率) and the arrival badge (亮标), policies.md §11.

As of instant T, a merchant's rate is over orders paid in
[T − window − 72 h, T − 72 h) that were not refunded before shipment: the
share signed for within 72 hours of payment (signed_at ≤ paid_at + 72 h).
The window ends 72 h before T so every order in it has had its full 72 hours
by T: the rate never counts an order that could still make it.

A merchant's industry is the industry of most of its orders in the window
(ties: the smallest name), so a merchant has one peer group. The industry
average is weighted by orders, i.e. the pooled rate of all orders of the
merchants in that industry, small merchants included. The badge goes to
merchants strictly above their industry's average with at least
`min_orders` orders; the comparison is exact integer arithmetic, so a
merchant exactly at the average does not qualify.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from buyerguard.analytics.eta import relation_sql
from buyerguard.clock import ensure_utc
from buyerguard.errors import InvalidInput
from buyerguard.rulebook import Rulebook


@dataclass(frozen=True)
class SignRateParams:
    """Knobs of the sign rate and badge (policies.md §11), read from the rulebook."""

    window_days: int
    sign_within_hours: int
    min_orders: int

    @classmethod
    def from_rulebook(cls, rulebook: Rulebook) -> SignRateParams:
        rules = rulebook.arrival
        return cls(
            window_days=rules.sign_rate_window_days,
            sign_within_hours=rules.sign_rate_hours,
            min_orders=rules.badge_min_orders,
        )

    def __post_init__(self) -> None:
        for name in ("window_days", "sign_within_hours", "min_orders"):
            if getattr(self, name) < 1:
                raise InvalidInput(f"{name}_invalid", f"{name} must be ≥ 1", name)


SIGN_RATE_SCHEMA: pa.Schema = pa.schema(
    [
        pa.field("merchant_id", pa.string(), nullable=False),
        pa.field("industry", pa.string(), nullable=False),
        pa.field("orders", pa.int64(), nullable=False),
        pa.field("signed_within", pa.int64(), nullable=False),
        pa.field("sign_rate", pa.float64(), nullable=False),
        pa.field("industry_orders", pa.int64(), nullable=False),
        pa.field("industry_signed_within", pa.int64(), nullable=False),
        pa.field("industry_rate", pa.float64(), nullable=False),
        pa.field("badge_eligible", pa.bool_(), nullable=False),
    ]
)


def sign_rate_sql(shipments: str) -> str:
    """The job as one SELECT with named parameters (see `sign_rate_params`)."""
    rel = relation_sql(shipments)
    return f"""
WITH eligible AS (
    SELECT merchant_id, industry,
           coalesce(signed_at <= paid_at + to_microseconds($within_us), false) AS signed_in_time
    FROM {rel}
    WHERE paid_at >= $window_start AND paid_at < $window_end
      AND NOT coalesce(refunded_before_shipment, false)
),
per_industry AS (
    SELECT merchant_id, industry, count(*) AS orders,
           count(*) FILTER (WHERE signed_in_time) AS signed_within
    FROM eligible
    GROUP BY merchant_id, industry
),
merchants AS (
    SELECT merchant_id,
           first(industry ORDER BY orders DESC, industry) AS industry,
           sum(orders)::BIGINT AS orders,
           sum(signed_within)::BIGINT AS signed_within
    FROM per_industry
    GROUP BY merchant_id
),
rated AS (
    SELECT *,
           sum(orders) OVER (PARTITION BY industry)::BIGINT AS industry_orders,
           sum(signed_within) OVER (PARTITION BY industry)::BIGINT AS industry_signed_within
    FROM merchants
)
SELECT merchant_id, industry, orders, signed_within,
       signed_within::DOUBLE / orders AS sign_rate,
       industry_orders, industry_signed_within,
       industry_signed_within::DOUBLE / industry_orders AS industry_rate,
       (orders >= $min_orders
        AND signed_within::HUGEINT * industry_orders
            > industry_signed_within::HUGEINT * orders) AS badge_eligible
FROM rated
ORDER BY merchant_id
"""


def sign_rate_params(as_of: datetime, params: SignRateParams) -> dict[str, Any]:
    """Bind values for `sign_rate_sql`: the window ends `sign_within_hours` before T."""
    as_of_utc = ensure_utc(as_of, field="as_of")
    within = timedelta(hours=params.sign_within_hours)
    window_end = as_of_utc - within
    return {
        "window_start": window_end - timedelta(days=params.window_days),
        "window_end": window_end,
        "within_us": int(within / timedelta(microseconds=1)),
        "min_orders": params.min_orders,
    }


def compute_sign_rates(
    con: duckdb.DuckDBPyConnection, shipments: str, as_of: datetime, params: SignRateParams
) -> pa.Table:
    """Per-merchant 72-hour sign rate, industry average and badge eligibility as of T."""
    sql = sign_rate_sql(shipments)
    table = con.sql(sql, params=sign_rate_params(as_of, params)).to_arrow_table()
    return table.cast(SIGN_RATE_SCHEMA)


def badge_transitions(
    previously_badged: Iterable[str], rates: pa.Table
) -> tuple[frozenset[str], frozenset[str]]:
    """(awarded, withdrawn) merchant ids for today's daily re-evaluation.

    A badged merchant missing from today's rates (no orders in the window)
    loses the badge: it no longer has the ≥ min_orders the rule requires.
    """
    before = frozenset(previously_badged)
    ids = rates.column("merchant_id").to_pylist()
    flags = rates.column("badge_eligible").to_pylist()
    now = frozenset(m for m, ok in zip(ids, flags, strict=True) if ok)
    return now - before, before - now
