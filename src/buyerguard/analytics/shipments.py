"""The columnar shipment history every logistics job reads (policies.md §11).

One row per parcel. The history is Parquet or a DuckDB table with these
columns; the promise model and the 72-hour sign rate are SQL over it, so the
schema is the contract between the engine's lifecycle facts, bulk imports and
the batch jobs. A parcel is (order id, parcel number): an order shipped as one
parcel is its parcel 1. The store keeps every row it was given and hands the
jobs only the latest row of each parcel (`store.parcel_updates`), so the jobs
never see a parcel twice and need no parcel column.

Region codes
------------
- China: GB/T 2260 six-digit administrative codes. ``origin_region`` and
  ``destination_region`` are as fine as known (district ``440305``, city
  ``440300`` or province ``440000``). The derived columns are
  ``origin_city = code[:4] + "00"`` and ``*_province = code[:2] + "0000"``
  (``region_levels`` computes them), so a district rolls up to its city and
  province without a lookup table.
- Elsewhere: ISO 3166-2 style ``CC-SUB`` (``BR-SP``). The subdivision is the
  province level. There is no standard city code, so the loader supplies
  ``origin_city`` itself, as ``CC-SUB/<city>`` (``BR-SP/campinas``).

The derived codes are stored, not recomputed per query, because the back-off
levels group by them over hundreds of millions of rows.

Key codes
---------
A row as a writer states it (`SHIPMENT_FACTS_SCHEMA`: an import, the engine's
facts, a test's hand-made history) is stored with an integer code beside each
key string (`SHIPMENT_SCHEMA`), from the history's one codebook
(`key_codes.KeyCodebook.encode`). The batch jobs group and join by the codes
and read the codebook to decode their results.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow as pa

from buyerguard.analytics.key_codes import CODE_TYPE, KEY_CODE_COLUMNS, KeyCodebook
from buyerguard.domain.regions import city_of, is_iso_region, province_of, validate_region
from buyerguard.errors import InvalidInput

_UTC_TS = pa.timestamp("us", tz="UTC")


def _field(name: str, type_: pa.DataType, nullable: bool, doc: str) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"doc": doc})


SHIPMENT_FACTS_SCHEMA: pa.Schema = pa.schema(
    [
        _field(
            "order_id",
            pa.string(),
            False,
            "Order id; with the store's parcel number, the parcel's id (one row per parcel).",
        ),
        _field("merchant_id", pa.string(), False, "Selling merchant; keys back-off level 2."),
        _field(
            "product_id",
            pa.string(),
            True,
            "Product shipped; null when unknown (imports without products), which"
            " only skips back-off level 1 for that parcel.",
        ),
        _field("industry", pa.string(), False, "Merchant's industry; the sign-rate peer group."),
        _field("carrier", pa.string(), False, "Logistics carrier; keys back-off level 5."),
        _field(
            "official_logistics",
            pa.bool_(),
            False,
            "Shipped through the platform's official logistics (kept for analysis).",
        ),
        _field(
            "origin_region",
            pa.string(),
            False,
            "Ship-from region, as fine as known: GB/T 2260 code or ISO 3166-2 (BR-SP).",
        ),
        _field(
            "destination_region",
            pa.string(),
            False,
            "Buyer's address region, as fine as known; level 1 routes end here.",
        ),
        _field(
            "origin_city",
            pa.string(),
            False,
            "Derived: ship-from city (GB/T code[:4]+'00', or 'CC-SUB/<city>'); levels 2-3.",
        ),
        _field(
            "origin_province",
            pa.string(),
            False,
            "Derived: ship-from province (GB/T code[:2]+'0000', or 'CC-SUB'); level 4.",
        ),
        _field(
            "destination_province",
            pa.string(),
            False,
            "Derived: buyer's province (GB/T code[:2]+'0000', or 'CC-SUB'); levels 2-4.",
        ),
        _field("paid_at", _UTC_TS, False, "Payment instant (UTC); day 0 of the promise."),
        _field("shipped_at", _UTC_TS, True, "Handed to the carrier (UTC); null until shipped."),
        _field(
            "signed_at",
            _UTC_TS,
            True,
            "Buyer signed for the parcel (UTC); null while in transit, and such"
            " parcels are right-censored, never dropped.",
        ),
        _field(
            "refunded_before_shipment",
            pa.bool_(),
            False,
            "Refunded before it ever shipped: excluded from promises and the sign rate.",
        ),
    ]
)


SHIPMENT_SCHEMA: pa.Schema = pa.schema(
    [
        *SHIPMENT_FACTS_SCHEMA,
        *(
            _field(
                code,
                CODE_TYPE,
                SHIPMENT_FACTS_SCHEMA.field(key).nullable,
                f"Key code of {key} in the history's codebook ({dimension} dimension).",
            )
            for key, (code, dimension) in KEY_CODE_COLUMNS.items()
        ),
    ]
)


def region_levels(code: str, *, field: str = "region") -> tuple[str | None, str]:
    """(city, province) codes a region rolls up to, for the back-off levels.

    GB/T 2260 codes derive both; an ISO 3166-2 code is itself the province and
    has no derivable city (None), so callers must supply the city themselves.
    """
    validate_region(code, field=field)
    if is_iso_region(code):
        return None, code
    return city_of(code), province_of(code)


IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def relation_sql(shipments: str) -> str:
    """SQL for a table/view name, or read_parquet() for a path or glob."""
    if IDENTIFIER.match(shipments):
        return ".".join(f'"{part}"' for part in shipments.split("."))
    if shipments.endswith(".parquet") or "/" in shipments or "*" in shipments:
        return "read_parquet('" + shipments.replace("'", "''") + "')"
    raise InvalidInput(
        "shipments_relation_invalid",
        f"shipments must be a table name or a Parquet path/glob: {shipments!r}",
        "shipments",
    )


def parquet_files_sql(
    paths: Sequence[Path], *, union_by_name: bool = False, file_row_number: bool = False
) -> str:
    """read_parquet() over exactly these files (a snapshot, unlike a glob).

    `union_by_name` reads files whose columns differ (missing ones are null);
    `file_row_number` adds each row's position in its file, from 0.
    """
    quoted = ", ".join("'" + str(path).replace("'", "''") + "'" for path in paths)
    options = "".join(
        f", {name} = true"
        for name, wanted in (("union_by_name", union_by_name), ("file_row_number", file_row_number))
        if wanted
    )
    return f"read_parquet([{quoted}]{options})"


def check_codebook_relation(con: duckdb.DuckDBPyConnection, keys: str) -> None:
    """Refuse a codebook relation in which a code stands for two values or a value has two codes.

    The jobs decode by joining it: a repeated code would multiply a route's
    rows and a repeated value split one route in two, either silently.
    """
    rel = relation_sql(keys)
    found = con.execute(
        f"""
        (SELECT 'code' AS repeated, dimension, code::VARCHAR AS what FROM {rel}
         GROUP BY dimension, code HAVING count(*) > 1 LIMIT 1)
        UNION ALL
        (SELECT 'value', dimension, value FROM {rel}
         GROUP BY dimension, value HAVING count(*) > 1 LIMIT 1)
        """
    ).fetchone()
    if found:
        repeated, dimension, what = found
        raise InvalidInput(
            "codebook_codes" if repeated == "code" else "codebook_values",
            f"codebook {keys!r}: {dimension} {repeated} {what!r} appears more than once",
            "keys",
        )


def write_table(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> None:
    """(Re)write DuckDB table `name` from an Arrow table."""
    if not IDENTIFIER.match(name):
        raise InvalidInput("table_name_invalid", f"bad table name {name!r}", "table_name")
    view = f"_bg_arrow_{secrets.token_hex(4)}"
    con.register(view, table)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {relation_sql(name)} AS SELECT * FROM {view}")
    finally:
        con.unregister(view)


def create_coded_history(
    con: duckdb.DuckDBPyConnection,
    name: str,
    facts: pa.Table,
    codebook: KeyCodebook | None = None,
) -> str:
    """Write `facts` coded as DuckDB table `name`, and the codebook beside it.

    For histories made in memory (tests, benchmarks); the store codes its
    files with its one persistent codebook instead. The codes come from
    `codebook` (extended as needed), by default a fresh one. Returns the
    codebook's table name, `<name>_keys`. Extra columns of `facts` are kept.
    """
    coded, book = (codebook or KeyCodebook()).encode(facts)
    keys = f"{name}_keys"
    write_table(con, name, coded)
    write_table(con, keys, book.to_table())
    return keys
