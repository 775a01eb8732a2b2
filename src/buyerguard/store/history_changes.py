"""The history's change log: the rows each import replaced, as they were.

An import that restates a parcel replaces its live row (parcel_updates.py);
compaction may later drop that row from its file. The hourly promise update
(route_sums.py) must take each replaced row's contribution back out of the
sums it keeps, so it needs the row's facts after compaction is done with it:
each import that replaces rows writes them first, as they stood, to

    shipments/changes/<import_seq>.parquet

with `first_seq`, the import number the replaced row's file had when it was
imported (compaction renumbers files, FIRST_SEQ_KEY keeps the first). A build
that has folded every change up to an import number deletes the logs up to it
(`trim_change_logs`); before the first build they accumulate, one row per
restated parcel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from buyerguard.analytics.shipments import SHIPMENT_SCHEMA, parquet_files_sql
from buyerguard.store.parcel_files import (
    PARCEL_NUMBER,
    first_import_seq,
    has_pointers,
    replaced_rows_sql,
    write_atomically,
)

CHANGE_LOG_SCHEMA: pa.Schema = pa.schema(
    [*SHIPMENT_SCHEMA, PARCEL_NUMBER, pa.field("first_seq", pa.int64(), nullable=False)]
)


def changes_dir(root: Path) -> Path:
    return root / "shipments" / "changes"


def write_change_log(root: Path, seq: int, replaced: pa.Table) -> None:
    """Store the rows import `seq` replaces (CHANGE_LOG_SCHEMA), before its own file lands."""
    if replaced.num_rows:
        write_atomically(replaced.cast(CHANGE_LOG_SCHEMA), changes_dir(root) / f"{seq}.parquet")


def change_logs(root: Path, after_seq: int) -> dict[int, Path]:
    """The logs of the imports numbered above `after_seq`, by import number."""
    found = {}
    for path in changes_dir(root).glob("*.parquet"):
        if path.stem.isdigit() and int(path.stem) > after_seq:
            found[int(path.stem)] = path
    return dict(sorted(found.items()))


def trim_change_logs(root: Path, upto_seq: int) -> None:
    """Delete the logs of imports numbered up to `upto_seq` (their changes are folded in)."""
    for path in changes_dir(root).glob("*.parquet"):
        if path.stem.isdigit() and int(path.stem) <= upto_seq:
            path.unlink(missing_ok=True)


@dataclass(frozen=True)
class HistoryMark:
    """Where a build read the history up to: the next build folds in what came after.

    `import_seq` is the largest import number of the files it read (−1: none),
    `engine` the engine's own rows it read (coded, parcel 1 each: the engine's
    facts are not imports, so the next build compares them row by row).
    """

    import_seq: int
    engine: pa.Table


def changed_rows_sql(
    root: Path,
    files: dict[Path, int],
    footers: dict[Path, pq.FileMetaData],
    mark: HistoryMark,
    *,
    engine_orders_new: bool,
) -> str:
    """SQL for the rows that left the live history since `mark` (sign −1) and came in (+1).

    Expects the views `old_engine` (mark.engine) and `engine_facts` (the engine's
    rows now) on the connection. `files` are the stored files now, by import
    number, all numbered at most the snapshot's largest. Left: the rows the
    change logs of later imports hold, when their file was imported by the mark
    (first_seq) and they were not hidden behind an engine order then; the
    engine's rows that changed; and, for an order the engine has newly seen
    paid (`engine_orders_new`), its stored parcel 1 if still live. Came in: the
    live rows of files imported after the mark, less the parcel 1 of an
    engine order; and the engine's new or changed rows.
    """
    columns = ", ".join(SHIPMENT_SCHEMA.names)
    top = max(files.values(), default=-1)
    logs = [path for seq, path in change_logs(root, mark.import_seq).items() if seq <= top]
    since = mark.import_seq
    new = [path for path, seq in files.items() if first_import_seq(footers[path], seq) > since]
    old = [path for path in files if path not in new]
    parts = [
        f"SELECT {columns}, -1 AS sign FROM (SELECT {columns} FROM old_engine"
        f" EXCEPT SELECT {columns} FROM engine_facts)",
        f"SELECT {columns}, 1 AS sign FROM (SELECT {columns} FROM engine_facts"
        f" EXCEPT SELECT {columns} FROM old_engine)",
    ]
    if logs:
        parts.append(
            f"SELECT {columns}, -1 AS sign FROM {parquet_files_sql(logs)}"
            f" WHERE first_seq <= {int(mark.import_seq)}"
            " AND NOT (parcel_number = 1 AND order_id IN (SELECT order_id FROM old_engine))"
        )
    live_columns = ", ".join(f"t.{name}" for name in SHIPMENT_SCHEMA.names)
    if new:  # pointers into them are only in files imported after them: new ones
        parts.append(
            f"SELECT {live_columns}, 1 AS sign FROM {_live_rows(new, new, footers)}"
            " WHERE NOT (t.parcel_number = 1"
            " AND t.order_id IN (SELECT order_id FROM engine_facts))"
        )
    if engine_orders_new and old:
        parts.append(
            f"SELECT {live_columns}, -1 AS sign FROM {_live_rows(old, list(files), footers)}"
            " WHERE t.parcel_number = 1 AND t.order_id IN"
            " (SELECT order_id FROM engine_facts EXCEPT SELECT order_id FROM old_engine)"
        )
    return " UNION ALL ".join(parts)


def _live_rows(read: list[Path], pointing: list[Path], footers: dict[Path, pq.FileMetaData]) -> str:
    """The rows (as `t`) of `read` that no row of `pointing` replaces."""
    pointers = [path for path in pointing if has_pointers(footers[path])]
    rows = f"{parquet_files_sql(read, file_row_number=True)} AS t"
    if pointers:
        rows += (
            f" ANTI JOIN ({replaced_rows_sql(pointers)}) AS r"
            " ON r.import_seq = t.import_seq AND r.file_row = t.file_row_number"
        )
    return rows
