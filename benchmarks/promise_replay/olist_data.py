"""The Olist deliveries in the engine's shipment schema, and the span and grid they are
evaluated on."""

from __future__ import annotations

import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb

from buyerguard.analytics.shipments import create_coded_history

EVAL_FIRST_DAY = date(2017, 3, 1)
EVAL_LAST_DAY = date(2018, 8, 31)
WINDOWS_DAYS = (30, 60, 90)
CONFIDENCES = tuple(Decimal(c) for c in ("0.80", "0.85", "0.90", "0.93", "0.95", "0.97", "0.98"))
OLIST_HORIZON_DAYS = 90


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
