"""The engine's own lifecycle facts as shipment history rows, read from the SQL store.

Every order the engine has seen paid is one parcel (the engine ships an
order as one parcel: its parcel 1), with its first line's product, the
product's ship-from region, the buyer's district, the carrier and the
timestamps. Read at build time, they are the newest state of those orders.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from sqlalchemy import Connection, select

from buyerguard.analytics.shipments import SHIPMENT_FACTS_SCHEMA
from buyerguard.domain.regions import city_of, province_of
from buyerguard.store.tables import merchants, orders, products, sub_orders


def engine_facts(connection: Connection) -> pa.Table:
    """Orders the engine has seen paid, as shipment facts (first line's product)."""
    first_line = (
        select(sub_orders.c.order_id, sub_orders.c.product_id)
        .where(sub_orders.c.line_no == 1)
        .subquery()
    )
    query = (
        select(
            orders.c.id,
            orders.c.merchant_id,
            first_line.c.product_id,
            merchants.c.industry,
            orders.c.carrier,
            orders.c.official_logistics,
            products.c.ship_from_region,
            orders.c.destination_region,
            orders.c.paid_at,
            orders.c.shipped_at,
            orders.c.signed_at,
            orders.c.state,
        )
        .join(first_line, first_line.c.order_id == orders.c.id)
        .join(products, products.c.id == first_line.c.product_id)
        .join(merchants, merchants.c.id == orders.c.merchant_id)
        .where(orders.c.paid_at.is_not(None))
    )
    columns: dict[str, list[Any]] = {field.name: [] for field in SHIPMENT_FACTS_SCHEMA}
    for row in connection.execute(query):
        origin, destination = row.ship_from_region, row.destination_region
        columns["order_id"].append(row.id)
        columns["merchant_id"].append(row.merchant_id)
        columns["product_id"].append(row.product_id)
        columns["industry"].append(row.industry)
        columns["carrier"].append(row.carrier or "unshipped")
        columns["official_logistics"].append(bool(row.official_logistics))
        columns["origin_region"].append(origin)
        columns["destination_region"].append(destination)
        columns["origin_city"].append(city_of(origin))
        columns["origin_province"].append(province_of(origin))
        columns["destination_province"].append(province_of(destination))
        columns["paid_at"].append(row.paid_at)
        columns["shipped_at"].append(row.shipped_at)
        columns["signed_at"].append(row.signed_at)
        columns["refunded_before_shipment"].append(row.state == "refunded")
    return pa.table(columns, schema=SHIPMENT_FACTS_SCHEMA)
