"""An import's rows against the stored ones: new, updated or unchanged, and what they replace.

parcel_updates.py has the why; this is the matching. For each incoming row
it finds every stored row of the parcel (reading only the id columns), then
the live one's facts (reading only the files that hold one), so that a row
equal to the live one is not stored again and a changed one names every row
it replaces. It also reads out the live rows an import replaces, as the change
log keeps them (history_changes.py).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from buyerguard.analytics.shipments import SHIPMENT_FACTS_SCHEMA, SHIPMENT_SCHEMA, parquet_files_sql
from buyerguard.store.history_changes import CHANGE_LOG_SCHEMA
from buyerguard.store.parcel_files import (
    PARCEL_FACTS_SCHEMA,
    STORED_SCHEMA,
    first_import_seq,
    stored_table,
)

KEY = ("order_id", "parcel_number")

_COMPARED = tuple(name for name in SHIPMENT_FACTS_SCHEMA.names if name != "order_id")


STATUS = ("new", "updated", "unchanged")


def against_stored(
    con: duckdb.DuckDBPyConnection, rows: pa.Table, files: list[Path], seqs: list[int | None]
) -> pa.Table:
    """`rows` (PARCEL_FACTS_SCHEMA, in their order) against the stored rows of their parcels.

    Adds `replaces` (every stored row of the parcel; null for a parcel not
    stored yet) and `status`: new, updated, or unchanged (every fact as in
    the live row, the stored row with the largest import_seq).
    """
    if not files:
        nothing = pa.nulls(rows.num_rows, STORED_SCHEMA.field("replaces").type)
        new = pa.repeat(pa.scalar("new"), rows.num_rows).cast(pa.string())
        return rows.append_column("replaces", nothing).append_column("status", new)
    con.register("incoming", rows.cast(PARCEL_FACTS_SCHEMA))
    key = ", ".join(KEY)
    # The stored rows of these parcels, reading only the ids; then the facts of
    # the live ones, reading only the files that hold one (recent ones, in a feed).
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE present AS
        SELECT {key}, import_seq, file_row_number AS file_row
        FROM {parquet_files_sql(files, file_row_number=True)}
        WHERE ({key}) IN (SELECT {key} FROM incoming)
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE live AS SELECT * FROM present
        QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY import_seq DESC) = 1
        """
    )
    found = {int(seq) for (seq,) in con.execute("SELECT DISTINCT import_seq FROM live").fetchall()}
    holding = [path for path, seq in zip(files, seqs, strict=True) if seq in found]
    if holding:
        facts = f"{key}, {', '.join(_COMPARED)}, import_seq, file_row_number AS file_row"
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE live_facts AS
            SELECT {facts} FROM {parquet_files_sql(holding, file_row_number=True)}
            WHERE (import_seq, file_row_number) IN (SELECT import_seq, file_row FROM live)
            """
        )
    else:
        con.execute("CREATE OR REPLACE TEMP TABLE live_facts AS SELECT * FROM incoming LIMIT 0")
    same = " AND ".join(f"a.{name} IS NOT DISTINCT FROM l.{name}" for name in _COMPARED)
    names = ", ".join(f"a.{name}" for name in PARCEL_FACTS_SCHEMA.names)
    return con.sql(
        f"""
        WITH named AS (
            SELECT {key}, list({{'import_seq': import_seq, 'row': file_row}}
                               ORDER BY import_seq, file_row) AS replaces
            FROM present GROUP BY {key}
        )
        SELECT {names}, n.replaces,
               CASE WHEN n.replaces IS NULL THEN 'new'
                    WHEN {same} THEN 'unchanged' ELSE 'updated' END AS status
        FROM (SELECT row_number() OVER () AS line, * FROM incoming) AS a
        LEFT JOIN live_facts AS l ON l.order_id = a.order_id AND l.parcel_number = a.parcel_number
        LEFT JOIN named AS n ON n.order_id = a.order_id AND n.parcel_number = a.parcel_number
        ORDER BY a.line
        """
    ).to_arrow_table()


def before_images(
    con: duckdb.DuckDBPyConnection,
    annotated: pa.Table,
    seqs: dict[Path, int | None],
    footers: dict[Path, pq.FileMetaData],
) -> pa.Table:
    """The live stored rows that the updated parcels of `annotated` replace (CHANGE_LOG_SCHEMA).

    Reads the `live` table `against_stored` left on `con` (each stored
    parcel's live row), and only the files that hold those rows.
    """
    updated = annotated.filter(pc.equal(annotated.column("status"), "updated")).select(list(KEY))
    con.register("updated_parcels", updated)
    key = ", ".join(KEY)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE replaced_live AS SELECT import_seq, file_row FROM live"
        f" WHERE ({key}) IN (SELECT {key} FROM updated_parcels)"
    )
    con.unregister("updated_parcels")
    found = con.execute("SELECT DISTINCT import_seq FROM replaced_live").fetchall()
    wanted = {int(seq) for (seq,) in found}
    holding = {path: seq for path, seq in seqs.items() if seq is not None and seq in wanted}
    cases = " ".join(
        f"WHEN {seq} THEN {first_import_seq(footers[path], seq)}" for path, seq in holding.items()
    )
    names = ", ".join(f"t.{name}" for name in (*SHIPMENT_SCHEMA.names, "parcel_number"))
    table = con.sql(
        f"SELECT {names}, (CASE t.import_seq {cases} END)::BIGINT AS first_seq"
        f" FROM {parquet_files_sql(list(holding), file_row_number=True)} AS t"
        " SEMI JOIN replaced_live AS r"
        " ON r.import_seq = t.import_seq AND r.file_row = t.file_row_number"
    ).to_arrow_table()
    return table.cast(CHANGE_LOG_SCHEMA)


def stored_rows(coded: pa.Table, annotated: pa.Table, seq: int) -> pa.Table:
    """Coded facts with the parcel columns: the table a stored file holds."""
    columns = {name: coded.column(name) for name in SHIPMENT_SCHEMA.names}
    columns["parcel_number"] = annotated.column("parcel_number")
    columns["import_seq"] = pa.repeat(pa.scalar(seq, pa.int64()), coded.num_rows)
    columns["replaces"] = annotated.column("replaces")
    return stored_table(pa.table(columns))


def replaced_seqs(annotated: pa.Table) -> set[int]:
    """The import numbers of the files whose rows `annotated` replaces."""
    seqs = pc.struct_field(pc.list_flatten(annotated.column("replaces")), "import_seq")
    return {int(seq) for seq in pc.unique(seqs).to_pylist() if seq is not None}
