"""Compaction: rewriting a stored file without its replaced rows.

A live feed restates each parcel a few times (paid, shipped, signed), so
without compaction the history would hold several rows per parcel and every
build would read them all, to drop all but one. After an import (or the
upgrade of an earlier release's files), each file that import replaced rows
in is rewritten without its replaced rows once they reach `COMPACT_AT` of
its rows (deleted when every row is replaced). Hourly files are small, so
this is a few small rewrites per import; each rewrite writes at most three
quarters of the rows before it, so a file's rewrites write at most three
times its first size in all.

Why it is safe without touching any other file: every pointer into a file
names a replaced row, and the rewritten file gets a *new* import number, so
the old pointers into it match nothing any more and the rows it keeps
(never replaced, so the newest of their parcels) stay the live ones. The
kept rows keep their own pointers, which still drop the older rows they
replaced in files not yet compacted; and since a row names every earlier
row of its parcel, not only the one it replaced, dropping a replaced row
(and the names it held) never revives an older one. The file is renamed over itself
atomically, so a reader sees either the old or the new file, and both give
the same parcels; and no file is rewritten or deleted while an analytics
session may read it (`HistoryFiles.analytics_session` holds the readers'
lock): an import that finds a job reading skips compaction, and a later
one does it.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from buyerguard.analytics.shipments import parquet_files_sql
from buyerguard.store.parcel_files import (
    STORED_SCHEMA,
    analytics_connection,
    first_import_seq,
    has_pointers,
    replaced_rows_sql,
    stored_table,
    write_atomically,
)

COMPACT_AT = 0.25  # share of a file's rows replaced at which it is rewritten without them


def compact(
    seqs: dict[Path, int | None],
    footers: dict[Path, pq.FileMetaData],
    touched: set[int],
    *,
    at_share: float = COMPACT_AT,
) -> dict[Path, int | None]:
    """Rewrite the files of `touched` import numbers that reach `at_share` replaced (lock held).

    `seqs` and `footers` describe every stored file; returns `seqs` as they
    are afterwards (rewritten files with their new numbers, deleted ones gone).
    """
    by_seq = {seq: path for path, seq in seqs.items() if seq is not None}
    candidates = {seq for seq in touched if seq in by_seq}
    with_pointers = [path for path in seqs if has_pointers(footers[path])]
    if not candidates or not with_pointers:
        return seqs
    seqs = dict(seqs)
    next_seq = max(by_seq) + 1
    chosen = ", ".join(str(seq) for seq in sorted(candidates))
    with analytics_connection() as con:
        con.execute(
            "CREATE TEMP TABLE replaced AS SELECT DISTINCT import_seq AS seq, file_row"
            f" FROM ({replaced_rows_sql(with_pointers)}) WHERE import_seq IN ({chosen})"
        )
        counts = dict(con.execute("SELECT seq, count(*) FROM replaced GROUP BY seq").fetchall())
        for seq, replaced in sorted(counts.items()):
            path = by_seq[seq]
            rows = footers[path].num_rows
            if replaced < at_share * rows:
                continue
            if replaced >= rows:
                path.unlink()
                del seqs[path]
                continue
            kept = con.sql(
                f"SELECT * FROM {parquet_files_sql([path], file_row_number=True)} AS t"
                f" ANTI JOIN (SELECT file_row FROM replaced WHERE seq = {int(seq)}) AS r"
                " ON r.file_row = t.file_row_number ORDER BY t.file_row_number"
            ).to_arrow_table()
            table = kept.drop_columns(["file_row_number"]).set_column(
                STORED_SCHEMA.get_field_index("import_seq"),
                "import_seq",
                pa.repeat(pa.scalar(next_seq, pa.int64()), kept.num_rows),
            )
            first = first_import_seq(footers[path], seq)
            write_atomically(stored_table(table, first), path)
            seqs[path] = next_seq
            next_seq += 1
    return seqs
