"""Reading an import Parquet file: its reader for DuckDB, its Arrow types, and the columns
and values DuckDB itself cannot take.

A column of lists, structs or maps is refused whole (`check_scalar`). A second or
millisecond timestamp beyond what microseconds hold is moved just outside the accepted
range before DuckDB reads it (`parquet_reader`), so it is refused on its row like any other
instant out of range, instead of failing the whole read naming no row.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from buyerguard.clock import EARLIEST_INSTANT, LATEST_INSTANT
from buyerguard.errors import InvalidInput


def parquet_reader(
    con: duckdb.DuckDBPyConnection, source: Path, types: dict[str, pa.DataType]
) -> str:
    """What DuckDB reads the file from: the file itself, or its copy with the timestamps
    microseconds cannot hold moved (registered on `con`); `types` are its `arrow_types`."""
    clamped = _clamped_timestamps(source, types)
    if clamped is None:
        return "read_parquet('{}')".format(str(source).replace("'", "''"))
    con.register("clamped_parquet", clamped)
    return "clamped_parquet"


def arrow_types(path: Path) -> dict[str, pa.DataType]:
    """The Arrow type of each column of a Parquet file, as the Parquet library maps it."""
    return {field.name: field.type for field in pq.read_schema(path)}


def check_scalar(path: Path, types: dict[str, pa.DataType]) -> None:
    """Refuse a Parquet column that holds lists, structs or maps: its text (`[a, b]`)
    would be stored as one order id or merchant."""
    for name, kind in types.items():
        values = kind.value_type if pa.types.is_dictionary(kind) else kind
        if pa.types.is_nested(values):
            raise InvalidInput(
                "import_column_type",
                f"{path.name}: {name} is {kind}, not one value per row: write it as text"
                " (or a number, a flag or an instant, as the column takes); nothing imported",
                "file",
            )


def _clamped_timestamps(path: Path, types: dict[str, pa.DataType]) -> pa.Table | None:
    """The Parquet file with every s or ms timestamp that microseconds cannot hold moved to
    just outside the accepted range, or None when it has none to move.

    DuckDB reads such a timestamp as microseconds, and one beyond what they hold (an epoch
    in nanoseconds written as milliseconds: the year 294,000 and on) failed the whole read
    ("Could not convert Timestamp(MS) to Timestamp(US)"), naming no row. Moved, it is still
    out of range, and refused on its row with the file's other faults; an instant out of
    range that microseconds do hold (the year 1850) is left as it is, so its row names it."""
    coarse = [
        pa.field(name, kind)
        for name, kind in types.items()
        if pa.types.is_timestamp(kind) and kind.unit in ("s", "ms")
    ]
    if not coarse:
        return None
    per_second = {"s": 1, "ms": 1_000}
    counts = pq.read_table(path, columns=[field.name for field in coarse])
    overflowing = []
    for field in coarse:
        scale = per_second[field.type.unit]
        held = (2**63 - 1) // (1_000_000 // scale)  # the largest count microseconds hold
        values = pc.cast(counts.column(field.name), pa.int64())
        least, most = pc.min_max(values).values()
        if least.is_valid and (least.as_py() < -held or most.as_py() > held):
            low = int(EARLIEST_INSTANT.timestamp()) * scale - 1  # just before the range
            high = int(LATEST_INSTANT.timestamp()) * scale  # the first instant after it
            overflowing.append((field, held, low, high))
    if not overflowing:
        return None
    table = pq.read_table(path)
    for field, held, low, high in overflowing:
        index = table.schema.get_field_index(field.name)
        values = pc.cast(table.column(index), pa.int64())
        moved = pc.if_else(
            pc.greater(values, held),
            pa.scalar(high),
            pc.if_else(pc.less(values, -held), pa.scalar(low), values),
        )
        table = table.set_column(index, table.schema.field(index), pc.cast(moved, field.type))
    return table
