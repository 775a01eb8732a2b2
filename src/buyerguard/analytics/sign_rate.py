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
import pyarrow.compute as pc

from buyerguard.analytics.shipments import check_codebook_relation, relation_sql
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


def sign_rate_sql(shipments: str, keys: str) -> str:
    """The job as one SELECT with named parameters (see `sign_rate_params`).

    Shaped for one pass over the history: the scan reads only the five columns
    it needs, merchant and industry as their integer key codes, and `paid_at`
    is compared directly with the bound window ends so the filter is pushed
    into the Parquet reader, which skips row groups (and files) outside the
    window. Orders are aggregated once per (merchant, industry); merchants
    come from that and industries from the merchant rows. Codes are decoded
    through `keys` (the codebook) on those small results: industries before a
    merchant's main industry is chosen (ties go to the name that sorts
    first), merchants at the end. The industry totals are an explicit
    aggregate joined back, not a window: DuckDB plans such a window as a
    self-join that re-ran the whole scan and aggregate, doubling the cost.
    "Signed within 72 h" is an integer comparison of epoch microseconds (a
    null `signed_at` never counts).

    Standard SQL except for DuckDB's `epoch_us` (elsewhere: extract the epoch
    in µs), `first(... ORDER BY ...)` (elsewhere: a row_number() over the
    merchant's industries), `HUGEINT` (any 128-bit or exact numeric type) and
    `$name` parameters. `AS MATERIALIZED` (PostgreSQL ≥ 12, SQLite ≥ 3.35)
    makes sure the merchant aggregate is computed once although read twice.
    """
    rel = relation_sql(shipments)
    codebook = relation_sql(keys)
    return f"""
WITH per_industry AS (
    SELECT p.merchant_code, k.value AS industry, p.orders, p.signed_within
    FROM (
        SELECT merchant_code, industry_code, count(*) AS orders,
               count(*) FILTER (
                   WHERE epoch_us(signed_at) - epoch_us(paid_at) <= $within_us
               ) AS signed_within
        FROM {rel}
        WHERE paid_at >= $window_start AND paid_at < $window_end
          AND refunded_before_shipment IS NOT TRUE
        GROUP BY merchant_code, industry_code
    ) AS p
    LEFT JOIN {codebook} AS k ON k.dimension = 'industry' AND k.code = p.industry_code
),
merchants AS MATERIALIZED (
    SELECT merchant_code,
           first(industry ORDER BY orders DESC, industry) AS industry,
           sum(orders)::BIGINT AS orders,
           sum(signed_within)::BIGINT AS signed_within
    FROM per_industry
    GROUP BY merchant_code
),
industries AS (
    SELECT industry,
           sum(orders)::BIGINT AS industry_orders,
           sum(signed_within)::BIGINT AS industry_signed_within
    FROM merchants
    GROUP BY industry
)
SELECT k.value AS merchant_id, m.industry, m.orders, m.signed_within,
       m.signed_within::DOUBLE / m.orders AS sign_rate,
       i.industry_orders, i.industry_signed_within,
       i.industry_signed_within::DOUBLE / i.industry_orders AS industry_rate,
       (m.orders >= $min_orders
        AND m.signed_within::HUGEINT * i.industry_orders
            > i.industry_signed_within::HUGEINT * m.orders) AS badge_eligible
FROM merchants AS m
JOIN industries AS i ON i.industry IS NOT DISTINCT FROM m.industry
LEFT JOIN {codebook} AS k ON k.dimension = 'merchant' AND k.code = m.merchant_code
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
    con: duckdb.DuckDBPyConnection,
    shipments: str,
    keys: str,
    as_of: datetime,
    params: SignRateParams,
) -> pa.Table:
    """Per-merchant 72-hour sign rate, industry average and badge eligibility as of T.

    `shipments` is the history and `keys` its codebook (`key_codes`).
    """
    check_codebook_relation(con, keys)
    sql = sign_rate_sql(shipments, keys)
    table = con.sql(sql, params=sign_rate_params(as_of, params)).to_arrow_table()
    unknown = table.filter(pc.or_(pc.is_null(table["merchant_id"]), pc.is_null(table["industry"])))
    if unknown.num_rows:
        raise InvalidInput(
            "codebook_incomplete",
            f"{unknown.num_rows} merchant(s) with a merchant or industry code the codebook"
            f" {keys!r} lacks",
            "keys",
        )
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
