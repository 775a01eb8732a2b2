"""Hand-made shipment histories for the analytics tests (never the shared data)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from buyerguard.analytics.shipments import (
    SHIPMENT_FACTS_SCHEMA,
    create_coded_history,
    region_levels,
)


def keys_of(name: str) -> str:
    """The codebook table `History.load` writes beside a history table."""
    return f"{name}_keys"


class History:
    """Collects parcels and loads them into DuckDB as the `shipments` table and its codebook."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(
        self,
        paid_at: datetime,
        signed_after: timedelta | None,
        *,
        count: int = 1,
        product_id: str | None = "P1",
        merchant_id: str = "M1",
        origin_region: str = "440305",
        destination_region: str = "310115",
        carrier: str = "SF",
        industry: str = "apparel",
        refunded_before_shipment: bool = False,
        shipped_after: timedelta = timedelta(0),
    ) -> None:
        origin_city, origin_province = region_levels(origin_region)
        _, destination_province = region_levels(destination_region)
        for _ in range(count):
            self.rows.append(
                {
                    "order_id": f"O{len(self.rows):06d}",
                    "merchant_id": merchant_id,
                    "product_id": product_id,
                    "industry": industry,
                    "carrier": carrier,
                    "official_logistics": True,
                    "origin_region": origin_region,
                    "destination_region": destination_region,
                    "origin_city": origin_city,
                    "origin_province": origin_province,
                    "destination_province": destination_province,
                    "paid_at": paid_at,
                    "shipped_at": None if refunded_before_shipment else paid_at + shipped_after,
                    "signed_at": None if signed_after is None else paid_at + signed_after,
                    "refunded_before_shipment": refunded_before_shipment,
                }
            )

    def table(self) -> pa.Table:
        return pa.Table.from_pylist(self.rows, schema=SHIPMENT_FACTS_SCHEMA)

    def load(self, con: duckdb.DuckDBPyConnection, name: str = "shipments") -> str:
        """Write the coded history as table `name` and its codebook as `keys_of(name)`."""
        keys = create_coded_history(con, name, self.table())
        assert keys == keys_of(name)
        return name


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


@pytest.fixture
def history() -> Callable[[], History]:
    return History
