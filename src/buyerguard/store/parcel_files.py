"""The shipment history's files: where they live, their format, the write lock, the codebook.

Layout under the data directory (`$BUYERGUARD_DATA_DIR`, default `var/data`):

    shipments/imported/*.parquet   one file per import (STORED_SCHEMA); rewritten only
                                   whole, by the upgrade or compaction
    shipments/keys.parquet         the history's codebook (`analytics.key_codes`)
    shipments/.lock                the write lock (imports, codebook changes, upgrades)

A stored row is a parcel as `analytics.shipments.SHIPMENT_SCHEMA` states it
(facts and key codes) plus the columns that make parcel updates possible
(`PARCEL_FIELDS`: its parcel number, the file's import sequence number and
the stored rows it replaces; `store.parcel_updates` explains them).

Storage only: nothing here knows the jobs that read the history. Every file
is written beside its target and renamed over it, created by the Parquet
writer like any file a tool writes, so it follows the process umask (the
previous release's temporary files were always 0600).
"""

from __future__ import annotations

import fcntl
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from buyerguard.analytics.key_codes import KEY_CODE_COLUMNS, KeyCodebook
from buyerguard.analytics.shipments import (
    SHIPMENT_FACTS_SCHEMA,
    SHIPMENT_SCHEMA,
    parquet_files_sql,
)
from buyerguard.errors import InvalidInput
from buyerguard.settings import ENV_PREFIX, settings

DATA_DIR_ENV = f"{ENV_PREFIX}DATA_DIR"
KEYS_FILE = "keys.parquet"
REPLACEMENTS_KEY = "buyerguard.replaced_rows"
# The import_seq a file had when it was imported, kept when compaction renumbers it: the
# hourly promise update tells rows new since its last build from rows only rewritten.
FIRST_SEQ_KEY = "buyerguard.first_import_seq"


def _field(name: str, type_: pa.DataType, nullable: bool, doc: str) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"doc": doc})


PARCEL_NUMBER = _field(
    "parcel_number",
    pa.int32(),
    False,
    "The parcel's number within its order, from 1; 1 when the row gives none (an order"
    " shipped as one parcel is its parcel 1). (order_id, parcel_number) is the parcel id.",
)
REPLACED_ROW = pa.struct([("import_seq", pa.int64()), ("row", pa.int64())])
PARCEL_FIELDS: tuple[pa.Field, ...] = (
    PARCEL_NUMBER,
    _field(
        "import_seq",
        pa.int64(),
        False,
        "The file's import sequence number (the same on every row of a file; later"
        " imports have larger ones, and so has a file rewritten by compaction).",
    ),
    _field(
        "replaces",
        pa.list_(REPLACED_ROW),
        True,
        "Every stored row of this parcel that this row replaces, as (its file's"
        " import_seq, its position in that file from 0); null for a new parcel.",
    ),
)
STORED_SCHEMA: pa.Schema = pa.schema([*SHIPMENT_SCHEMA, *PARCEL_FIELDS])
# Facts as an import states them: the schema's facts and the parcel number.
PARCEL_FACTS_SCHEMA: pa.Schema = pa.schema([*SHIPMENT_FACTS_SCHEMA, PARCEL_NUMBER])


def default_data_dir() -> Path:
    """`$BUYERGUARD_DATA_DIR`, else var/data (settings.py reads it)."""
    return settings().data_dir


def write_atomically(table: pa.Table, target: Path) -> None:
    """Write a Parquet file beside `target`, then rename it over `target`.

    The Parquet writer creates the file (mode 0666 less the umask); the
    temporary name starts with a dot and ends in `.tmp`, so no reader's glob
    takes it for a stored file.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        pq.write_table(table, temp)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def write_text_atomically(text: str, target: Path) -> None:
    """`write_atomically` for a small text file (the promise pointer)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        temp.write_text(text)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


@contextmanager
def analytics_connection() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-process DuckDB connection on every CPU, in UTC."""
    connection = duckdb.connect(config={"threads": os.cpu_count() or 1})
    try:
        connection.execute("SET TimeZone = 'UTC'")
        yield connection
    finally:
        connection.close()


class HistoryFiles:
    """The files of one data directory; methods marked so expect the write lock held."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_data_dir()
        # The codebook as last read, by its file's identity: a million products take a
        # third of a second to read, and every build and hourly update reads it.
        self._codebook_read: tuple[tuple[int, int, int], KeyCodebook] | None = None

    @property
    def imported_dir(self) -> Path:
        return self.root / "shipments" / "imported"

    @property
    def keys_path(self) -> Path:
        return self.root / "shipments" / KEYS_FILE

    @contextmanager
    def writing_history(self) -> Iterator[None]:
        """Hold the history's write lock (imports and codebook changes), across processes."""
        with self._locked(".lock", fcntl.LOCK_EX):  # blocking: always held
            yield

    @contextmanager
    def analytics_session(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A DuckDB session that may read the stored files while it is open.

        It holds the readers' lock shared, so no file it may read is rewritten
        or deleted under it (`rewriting_files`); imports, which only add
        files, go on.
        """
        with self._locked(".readers", fcntl.LOCK_SH), analytics_connection() as con:
            yield con

    @contextmanager
    def rewriting_files(self, *, wait: bool) -> Iterator[bool]:
        """Hold the readers' lock exclusively, to rewrite or delete stored files.

        Yields whether it is held: without `wait`, False while a session reads.
        """
        flags = fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB
        with self._locked(".readers", flags) as held:
            yield held

    @contextmanager
    def _locked(self, name: str, flags: int) -> Iterator[bool]:
        lock_path = self.root / "shipments" / name
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with lock_path.open("a") as lock:
            try:
                fcntl.flock(lock, flags)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def imported_files(self) -> list[Path]:
        """The stored files, in name order (names start with the import instant)."""
        return sorted(self.imported_dir.glob("*.parquet"))

    def load_codebook(self, footers: dict[Path, pq.FileMetaData]) -> KeyCodebook:
        """The codebook (lock held), recovered from the coded files when it is lost.

        Every coded file's codes must lie inside it (checked on the Parquet
        statistics, without reading the data): a codebook restored from an
        older backup would otherwise hand out codes the files use.
        """
        coded = {path: meta for path, meta in footers.items() if has_columns(meta, SHIPMENT_SCHEMA)}
        if self.keys_path.exists():
            book = self._read_codebook()
        elif coded:
            book = _recovered_codebook(list(coded))
            self.save_codebook(book)
        else:
            return KeyCodebook()
        for path, metadata in coded.items():
            _check_covered(path, metadata, book)
        return book

    def _read_codebook(self) -> KeyCodebook:
        stat = self.keys_path.stat()
        identity = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if self._codebook_read is None or self._codebook_read[0] != identity:
            self._codebook_read = (
                identity,
                KeyCodebook.from_table(pq.read_table(self.keys_path)),
            )
        return self._codebook_read[1]

    def save_codebook(self, book: KeyCodebook) -> None:
        """Replace the stored codebook atomically (lock held)."""
        write_atomically(book.to_table(), self.keys_path)

    def coded(self, facts: pa.Table, book: KeyCodebook) -> tuple[pa.Table, KeyCodebook]:
        """`facts` with their key codes, saving the codebook if they grow it (lock held)."""
        coded, grown = book.encode(
            facts.select(SHIPMENT_FACTS_SCHEMA.names).cast(SHIPMENT_FACTS_SCHEMA)
        )
        if grown is not book:
            self.save_codebook(grown)
        return coded.cast(SHIPMENT_SCHEMA), grown


def has_columns(metadata: pq.FileMetaData, schema: pa.Schema) -> bool:
    return set(schema.names) <= set(metadata.schema.to_arrow_schema().names)


def replaced_rows_sql(files: list[Path]) -> str:
    """SQL for the (import_seq, file_row) of every stored row that a row of `files` replaces."""
    return (
        "SELECT r.import_seq, r.row AS file_row FROM (SELECT unnest(replaces) AS r"
        f" FROM {parquet_files_sql(files)} WHERE replaces IS NOT NULL)"
    )


def stored_table(table: pa.Table, first_seq: int | None = None) -> pa.Table:
    """`table` as STORED_SCHEMA, its footer noting how many rows its rows replace.

    Readers look for replaced rows only in files whose footer says they
    replace any (`has_pointers`), without reading their data. `first_seq`:
    the file's import number when it was imported (FIRST_SEQ_KEY), for a file
    compaction rewrites.
    """
    table = table.cast(STORED_SCHEMA)
    count = pc.sum(pc.list_value_length(table.column("replaces"))).as_py() or 0
    metadata = {REPLACEMENTS_KEY: str(count)}
    if first_seq is not None:
        metadata[FIRST_SEQ_KEY] = str(first_seq)
    return table.replace_schema_metadata(metadata)


def first_import_seq(metadata: pq.FileMetaData, seq: int) -> int:
    """The import number a stored file (now numbered `seq`) had when it was imported."""
    noted = (metadata.metadata or {}).get(FIRST_SEQ_KEY.encode())
    return seq if noted is None else int(noted)


def has_pointers(metadata: pq.FileMetaData) -> bool:
    """Whether any row of a stored file replaces another (from its footer)."""
    noted = (metadata.metadata or {}).get(REPLACEMENTS_KEY.encode())
    return noted is None or int(noted) > 0


def _check_covered(path: Path, metadata: pq.FileMetaData, book: KeyCodebook) -> None:
    """Refuse a codebook that lacks codes `path` uses (from its Parquet statistics)."""
    names = metadata.schema.to_arrow_schema().names
    for code_name, dimension in KEY_CODE_COLUMNS.values():
        column = names.index(code_name)
        size = book.size(dimension)
        for group in range(metadata.num_row_groups):
            stats = metadata.row_group(group).column(column).statistics
            if stats is not None and stats.has_min_max and not 0 <= stats.min <= stats.max < size:
                raise InvalidInput(
                    "codebook_stale",
                    f"{path.name} uses {code_name} {stats.max}, beyond the {size} {dimension}"
                    f" value(s) of {KEYS_FILE}: restore the codebook that goes with the"
                    " imported files, or remove it to have it recovered from them",
                    "keys",
                )


def _recovered_codebook(files: list[Path]) -> KeyCodebook:
    """The codebook again, from the (code, value) pairs the coded files hold."""
    pairs = " UNION ".join(
        f"SELECT '{dimension}' AS dimension, {code} AS code, {key} AS value"
        f" FROM {parquet_files_sql(files, union_by_name=True)} WHERE {code} IS NOT NULL"
        for key, (code, dimension) in KEY_CODE_COLUMNS.items()
    )
    with duckdb.connect() as con:
        table = con.sql(pairs).to_arrow_table()
    try:
        return KeyCodebook.from_table(table)
    except InvalidInput as exc:
        raise InvalidInput(
            "codebook_unrecoverable",
            f"{KEYS_FILE} is missing and the imported files do not rebuild it: {exc.message}",
            "keys",
        ) from exc
