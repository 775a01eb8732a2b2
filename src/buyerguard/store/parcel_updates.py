"""Parcel updates: the history keeps one row per parcel, the latest known.

A parcel's id is (order id, parcel number): the order id alone for an order
shipped as one parcel (its parcel 1), the order and the number an import
gives otherwise. A live feed restates parcels as they move (paid → shipped →
signed), so a row for a parcel already stored *replaces* it; a row equal to
the stored one is nothing new and is not stored at all (the same file twice
stores nothing).

How, at 1688 scale (120 M parcels read three times per build):

- No stored row is ever changed (compaction rewrites a file whole, without
  its replaced rows, under a new number). Each import gets the next
  **import sequence number** (`import_seq`, on every row of its file), and
  each of its rows for a parcel already stored names, in `replaces`, every
  stored row of that parcel (that row's file's import_seq and its position
  in the file). The import finds them under the history's write lock, by a
  semi-join of its own parcel ids against the stored ids, and compares with
  the live one (the stored row with the largest import_seq), reading its
  facts only from the files that hold a live one; concurrent imports chain
  their replacements in lock order.
- A reader collects the replaced rows — a small set, read from `replaces`
  in the files whose footer says they replace any — and anti-joins only
  the files those rows are in, on two integers (import_seq, row position).
  No window over the whole history: about 20–25 ns of CPU per row of such a
  file per scan, where a "latest row per parcel" window over every row cost
  half the build again (docs/logistics.md has the figures).
- The rows replaced are dropped from disk by compaction
  (`store.parcel_compaction`), so a feed that restates every parcel twice
  does not leave three rows per parcel to read. Naming *every* earlier row
  of the parcel, not just the live one, is what lets compaction drop any
  replaced row without touching other files: the newest row still names
  every older row left.
- The engine's own facts (exported from the SQL store at build time) are
  the newest state of the engine's orders, so the engine's row replaces the
  imported parcel 1 of the same order id, whatever the files say. Finding
  those rows is one more scan of the stored ids per build, only when the
  engine has facts.
- Files of earlier releases (no parcel columns) are upgraded in place, once,
  in name order (their names start with the import instant): each gets the
  next import_seq and its rows replace the rows of earlier files for the
  same orders, so a directory where an in-transit extract and its signed
  refresh were both stored reads as one signed row per parcel.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from buyerguard.analytics.key_codes import KeyCodebook
from buyerguard.analytics.shipments import SHIPMENT_FACTS_SCHEMA, SHIPMENT_SCHEMA, parquet_files_sql
from buyerguard.clock import format_instant
from buyerguard.errors import InvalidInput
from buyerguard.store.history_changes import (
    HistoryMark,
    changed_rows_sql,
    write_change_log,
)
from buyerguard.store.parcel_compaction import COMPACT_AT, compact
from buyerguard.store.parcel_files import (
    PARCEL_NUMBER,
    STORED_SCHEMA,
    HistoryFiles,
    analytics_connection,
    has_columns,
    has_pointers,
    replaced_rows_sql,
    write_atomically,
)
from buyerguard.store.parcel_matching import (
    STATUS,
    against_stored,
    before_images,
    replaced_seqs,
    stored_rows,
)

HISTORY_VIEW = "shipments"
KEYS_VIEW = "shipment_keys"
REPLACED = "replaced_parcels"
CHANGES_VIEW = "changed_parcels"
VIEW_COLUMNS: tuple[str, ...] = (*SHIPMENT_SCHEMA.names, PARCEL_NUMBER.name)


@dataclass(frozen=True)
class ParcelImport:
    """What an import did: parcels new to the history, replaced, or already as stated."""

    new: int
    updated: int
    unchanged: int

    @property
    def stored(self) -> int:
        return self.new + self.updated


@dataclass(frozen=True)
class _Snapshot:
    """The stored files (every one in the current format), their import numbers, the codebook."""

    book: KeyCodebook
    seqs: dict[Path, int | None]  # None for a file with no rows
    footers: dict[Path, pq.FileMetaData]
    upgraded: int

    @property
    def files(self) -> list[Path]:
        return list(self.seqs)


class ParcelStore(HistoryFiles):
    """The history's files, kept as one live row per parcel."""

    def codebook(self) -> KeyCodebook:
        """The stored codebook (empty before the first import), checked against the files."""
        with self.writing_history():
            return self._snapshot().book

    def upgrade_imports(self) -> int:
        """Bring files of earlier releases to the current format; returns how many.

        Each is rewritten atomically (codes, parcel numbers, its import number
        and the rows it replaces), after the codebook that covers it is
        saved, so a crash leaves every file valid; the next call goes on.
        """
        with self.writing_history():
            return self._snapshot().upgraded

    def store_parcels(self, rows: pa.Table, now: datetime) -> ParcelImport:
        """Store validated rows (PARCEL_FACTS_SCHEMA) in one new file: new and changed parcels."""
        with self.writing_history():
            snapshot = self._snapshot()
            with analytics_connection() as con:
                annotated = against_stored(con, rows, *_listed(snapshot.seqs))
                status = annotated.column("status")
                counts = {name: int(pc.sum(pc.equal(status, name)).as_py() or 0) for name in STATUS}
                outcome = ParcelImport(counts["new"], counts["updated"], counts["unchanged"])
                if outcome.stored == 0:
                    return outcome
                kept = annotated.filter(pc.not_equal(status, "unchanged"))
                if counts["updated"]:  # logged before the file that replaces them lands
                    replaced = before_images(con, kept, snapshot.seqs, snapshot.footers)
                    write_change_log(self.root, _next_seq(snapshot.seqs), replaced)
            stamp = format_instant(now).replace(":", "")
            target = self.imported_dir / f"{stamp}-{secrets.token_hex(4)}.parquet"
            coded, _ = self.coded(kept, snapshot.book)
            write_atomically(stored_rows(coded, kept, _next_seq(snapshot.seqs)), target)
            seqs = {**snapshot.seqs, target: _next_seq(snapshot.seqs)}
            footers = {**snapshot.footers, target: pq.read_metadata(target)}
            with self.rewriting_files(wait=False) as free:
                if free:  # else a later import compacts, once no job reads the files
                    compact(seqs, footers, replaced_seqs(kept))
        return outcome

    def compact_imports(self, *, at_share: float = COMPACT_AT) -> int:
        """Rewrite every stored file with `at_share` of its rows replaced; returns how many.

        Imports compact the files they replace rows in already; this is for
        a directory whose files were never compacted, or a lower share.
        """
        with self.writing_history(), self.rewriting_files(wait=True):
            snapshot = self._snapshot()
            every = {seq for seq in snapshot.seqs.values() if seq is not None}
            after = compact(snapshot.seqs, snapshot.footers, every, at_share=at_share)
            return sum(1 for path, seq in snapshot.seqs.items() if after.get(path) != seq)

    def open_history(
        self, con: duckdb.DuckDBPyConnection, engine_facts: pa.Table
    ) -> tuple[str, str]:
        """Views over the live parcels (imports and the engine's facts) and their codebook.

        Returns (history, keys). Files of earlier releases are upgraded
        first. The engine's facts are coded with the stored codebook, which
        keeps any value new to it (so a value's code is the same in every
        build). The history view reads the files stored when it was opened, one
        row per parcel: its latest, the engine's for the engine's orders.
        """
        view, keys, _ = self.open_history_marked(con, engine_facts)
        return view, keys

    def open_history_marked(
        self, con: duckdb.DuckDBPyConnection, engine_facts: pa.Table
    ) -> tuple[str, str, HistoryMark]:
        """`open_history`, and the mark a later `open_changes` reads the changes since."""
        snapshot, engine = self._coded_snapshot(engine_facts)
        con.register("engine_facts", engine)
        con.register(KEYS_VIEW, snapshot.book.to_table())
        columns = ", ".join(VIEW_COLUMNS)
        parts = [f"SELECT {columns} FROM engine_facts"]
        touched = _collect_replaced(con, snapshot, engine_has_rows=engine.num_rows > 0)
        untouched = [path for path in snapshot.files if path not in touched]
        if untouched:
            parts.append(f"SELECT {columns} FROM {parquet_files_sql(untouched)}")
        if touched:
            rows = parquet_files_sql(touched, file_row_number=True)
            parts.append(
                f"SELECT {', '.join(f't.{name}' for name in VIEW_COLUMNS)} FROM {rows} AS t"
                f" ANTI JOIN {REPLACED} AS r"
                " ON r.import_seq = t.import_seq AND r.file_row = t.file_row_number"
            )
        con.execute(f"CREATE OR REPLACE TEMP VIEW {HISTORY_VIEW} AS {' UNION ALL '.join(parts)}")
        return HISTORY_VIEW, KEYS_VIEW, _mark(snapshot, engine)

    def open_changes(
        self, con: duckdb.DuckDBPyConnection, engine_facts: pa.Table, mark: HistoryMark
    ) -> tuple[str, str, HistoryMark] | str:
        """A view of the rows changed since `mark` (history_changes.py), the codebook, the new mark.

        Or why it cannot be told (`history_upgraded`: files of an earlier
        release were upgraded, which logs no change; `engine_orders_gone`).
        """
        snapshot, engine = self._coded_snapshot(engine_facts)
        if snapshot.upgraded:
            return "history_upgraded"
        con.register("engine_facts", engine)
        con.register("old_engine", mark.engine)
        gone = con.execute(
            "SELECT count(*) FROM (SELECT order_id FROM old_engine"
            " EXCEPT SELECT order_id FROM engine_facts)"
        ).fetchall()[0][0]
        if gone:
            return "engine_orders_gone"
        arrived = con.execute(
            "SELECT count(*) FROM (SELECT order_id FROM engine_facts"
            " EXCEPT SELECT order_id FROM old_engine)"
        ).fetchall()[0][0]
        files = {path: seq for path, seq in snapshot.seqs.items() if seq is not None}
        sql = changed_rows_sql(
            self.root, files, snapshot.footers, mark, engine_orders_new=bool(arrived)
        )
        con.execute(f"CREATE OR REPLACE TEMP TABLE {CHANGES_VIEW} AS {sql}")
        con.register(KEYS_VIEW, snapshot.book.to_table())
        return CHANGES_VIEW, KEYS_VIEW, _mark(snapshot, engine)

    def _coded_snapshot(self, engine_facts: pa.Table) -> tuple[_Snapshot, pa.Table]:
        """The snapshot, and the engine's facts coded with its codebook (saved if it grows)."""
        facts = engine_facts.select(SHIPMENT_FACTS_SCHEMA.names).cast(SHIPMENT_FACTS_SCHEMA)
        with self.writing_history():
            snapshot = self._snapshot()
            coded, book = snapshot.book.encode(facts)
            if book is not snapshot.book:
                self.save_codebook(book)
                snapshot = replace(snapshot, book=book)
        engine = coded.cast(SHIPMENT_SCHEMA).append_column(
            PARCEL_NUMBER, pa.repeat(pa.scalar(1, PARCEL_NUMBER.type), coded.num_rows)
        )
        return snapshot, engine

    def _snapshot(self) -> _Snapshot:
        """The codebook and the stored files, earlier releases' upgraded first (lock held)."""
        files = self.imported_files()
        footers = {path: pq.read_metadata(path) for path in files}
        book = self.load_codebook(footers)
        seqs = {
            path: _import_seq(path, meta)
            for path, meta in footers.items()
            if has_columns(meta, STORED_SCHEMA)
        }
        _refuse_repeated(seqs)
        legacy = [path for path in files if path not in seqs]
        touched: set[int] = set()
        for path in legacy:  # in name order, i.e. the order they were imported in
            table = pq.read_table(path)
            facts = table.select(SHIPMENT_FACTS_SCHEMA.names)
            ones = pa.repeat(pa.scalar(1, PARCEL_NUMBER.type), facts.num_rows)
            with analytics_connection() as con:
                annotated = against_stored(
                    con, facts.append_column(PARCEL_NUMBER, ones), *_listed(seqs)
                )
            if has_columns(footers[path], SHIPMENT_SCHEMA):  # coded already (and checked)
                coded = table.select(SHIPMENT_SCHEMA.names).cast(SHIPMENT_SCHEMA)
            else:
                coded, book = self.coded(annotated, book)
            seq = _next_seq(seqs)
            write_atomically(stored_rows(coded, annotated, seq), path)
            seqs[path] = seq if facts.num_rows else None
            footers[path] = pq.read_metadata(path)
            touched |= replaced_seqs(annotated)
        if touched:  # e.g. an extract and its refresh, both stored by the old release
            with self.rewriting_files(wait=False) as free:
                after = compact(seqs, footers, touched) if free else seqs
            footers = {
                path: meta if after[path] == seqs[path] else pq.read_metadata(path)
                for path, meta in footers.items()
                if path in after
            }
            seqs = after
        return _Snapshot(book, seqs, footers, len(legacy))


def _mark(snapshot: _Snapshot, engine: pa.Table) -> HistoryMark:
    seqs = [seq for seq in snapshot.seqs.values() if seq is not None]
    return HistoryMark(max(seqs, default=-1), engine)


def _listed(seqs: dict[Path, int | None]) -> tuple[list[Path], list[int | None]]:
    return list(seqs), list(seqs.values())


def _next_seq(seqs: dict[Path, int | None]) -> int:
    return max((seq for seq in seqs.values() if seq is not None), default=-1) + 1


def _import_seq(path: Path, metadata: pq.FileMetaData) -> int | None:
    """A stored file's import number, from its statistics (or its column if they are missing)."""
    if metadata.num_rows == 0:
        return None
    column = metadata.schema.to_arrow_schema().get_field_index("import_seq")
    stats = metadata.row_group(0).column(column).statistics
    if stats is not None and stats.has_min_max:
        return int(stats.min)
    return int(pc.min(pq.read_table(path, columns=["import_seq"]).column(0)).as_py())


def _refuse_repeated(seqs: dict[Path, int | None]) -> None:
    """Two files with one import number (a copied file) would make replacement ambiguous."""
    seen: dict[int, Path] = {}
    for path, seq in seqs.items():
        if seq is None:
            continue
        if seq in seen:
            raise InvalidInput(
                "history_import_repeated",
                f"{seen[seq].name} and {path.name} are both import {seq} of the shipment"
                " history: one is a copy; remove it",
                "file",
            )
        seen[seq] = path


def _collect_replaced(
    con: duckdb.DuckDBPyConnection, snapshot: _Snapshot, *, engine_has_rows: bool
) -> list[Path]:
    """Fill REPLACED with the (import_seq, file_row) of every replaced stored row.

    Returns the files that hold any, the only ones a reader must filter.
    """
    with_pointers = [path for path in snapshot.files if has_pointers(snapshot.footers[path])]
    parts = [replaced_rows_sql(with_pointers)] if with_pointers else []
    if engine_has_rows and snapshot.files:
        parts.append(
            "SELECT import_seq, file_row_number AS file_row"
            f" FROM {parquet_files_sql(snapshot.files, file_row_number=True)}"
            " WHERE parcel_number = 1 AND order_id IN (SELECT order_id FROM engine_facts)"
        )
    if not parts:
        return []
    con.execute(f"CREATE OR REPLACE TEMP TABLE {REPLACED} AS {' UNION ALL '.join(parts)}")
    found = con.execute(f"SELECT DISTINCT import_seq FROM {REPLACED}").fetchall()
    touched = {int(seq) for (seq,) in found}
    return [path for path, seq in snapshot.seqs.items() if seq in touched]
