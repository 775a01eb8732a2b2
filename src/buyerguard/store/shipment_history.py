"""The shipment history on disk, and the promise tables built from it.

Layout under the data directory (`$BUYERGUARD_DATA_DIR`, default `var/data`):

    shipments/imported/*.parquet   bulk imports, one file per import (SHIPMENT_SCHEMA)
    shipments/keys.parquet         the history's codebook (`analytics.key_codes`)
    promises/promises-<as-of>.parquet  one promise table per build
    promises/current.json          which table the API serves

An import is validated whole before a byte is written, coded with the
codebook (which grows by the import's new key values) and lands by an atomic
rename, so a file with a bad row leaves nothing behind. Writers of the
codebook take a file lock, so two imports never hand one code to two values;
the codebook is checked against the files it must cover, and recovered from
them when it is lost.
The engine's own lifecycle facts (paid, shipped, signed orders in the SQL
store) are exported to Arrow at build time, coded with the codebook in memory
(new values get codes past the stored ones for that build only), and read
beside the imports, so one SQL job sees both.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Connection, select

from buyerguard.analytics.eta import PromiseIndex, build_promise_table
from buyerguard.analytics.key_codes import KEY_CODE_COLUMNS, KeyCodebook
from buyerguard.analytics.promise_params import PromiseParams
from buyerguard.analytics.shipments import (
    SHIPMENT_FACTS_SCHEMA,
    SHIPMENT_SCHEMA,
    parquet_files_sql,
)
from buyerguard.analytics.sign_rate import SignRateParams, compute_sign_rates
from buyerguard.clock import ensure_utc, format_instant
from buyerguard.domain.regions import PROVINCE_PREFIXES, city_of, province_of
from buyerguard.errors import InvalidInput, NotFound
from buyerguard.store.tables import merchants, orders, products, sub_orders

DATA_DIR_ENV = "BUYERGUARD_DATA_DIR"
KEYS_FILE = "keys.parquet"
MAX_REPORTED_ERRORS = 20
_REQUIRED = (
    "order_id",
    "merchant_id",
    "industry",
    "carrier",
    "origin_region",
    "destination_region",
    "paid_at",
)
_OPTIONAL = (
    "product_id",
    "official_logistics",
    "origin_city",
    "shipped_at",
    "signed_at",
    "refunded_before_shipment",
)
_DERIVED = ("origin_province", "destination_province")  # accepted, recomputed from regions


def default_data_dir() -> Path:
    return Path(os.environ.get(DATA_DIR_ENV) or Path("var") / "data")


class ImportRefused(InvalidInput):
    """An import file with bad rows: every error is listed, nothing is written."""

    def __init__(self, path: Path, errors: list[str], total: int) -> None:
        more = f" (and {total - len(errors)} more)" if total > len(errors) else ""
        super().__init__(
            "import_rows_invalid",
            f"{path.name}: {total} bad row(s){more}; nothing imported: " + "; ".join(errors),
            "file",
        )
        self.errors = errors
        self.total = total


@dataclass(frozen=True)
class BuiltPromises:
    as_of: datetime
    path: Path
    routes: int
    shipments: int


def _region_sql(column: str) -> str:
    """SQL truth of 'column is a GB/T 2260 or ISO 3166-2 code' (domain.regions' rule)."""
    prefixes = ", ".join(f"'{prefix}'" for prefix in sorted(PROVINCE_PREFIXES))
    return (
        f"(regexp_full_match({column}, '[0-9]{{6}}') AND left({column}, 2) IN ({prefixes}))"
        f" OR regexp_full_match({column}, '[A-Z]{{2}}-[A-Z0-9]{{1,3}}')"
    )


def _city_sql(region: str, explicit: str) -> str:
    return (
        f"coalesce({explicit}, "
        f"CASE WHEN {region} LIKE '%-%' THEN NULL ELSE left({region}, 4) || '00' END)"
    )


def _province_sql(region: str) -> str:
    return f"CASE WHEN {region} LIKE '%-%' THEN {region} ELSE left({region}, 2) || '0000' END"


_OFFSET = r"(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)$"


class ShipmentHistory:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_data_dir()
        self._index_lock = threading.Lock()
        self._index: tuple[str, PromiseIndex, dict[str, Any]] | None = None

    @property
    def imported_dir(self) -> Path:
        return self.root / "shipments" / "imported"

    @property
    def promises_dir(self) -> Path:
        return self.root / "promises"

    @property
    def keys_path(self) -> Path:
        return self.root / "shipments" / KEYS_FILE

    @contextmanager
    def _writing_history(self) -> Iterator[None]:
        """Hold the history's write lock (imports and codebook changes), across processes."""
        lock_path = self.root / "shipments" / ".lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def codebook(self) -> KeyCodebook:
        """The stored codebook (empty before the first import), checked against the files."""
        with self._writing_history():
            book, _ = self._load_codebook(self._imported_files())
            return book

    def upgrade_imports(self) -> int:
        """Code the imported files written before key codes existed; returns how many.

        Each file is rewritten atomically with its codes, after the codebook
        that covers them is saved, so a crash leaves either file valid.
        """
        with self._writing_history():
            book, uncoded = self._load_codebook(self._imported_files())
            self._upgrade(uncoded, book)
            return len(uncoded)

    # The methods below expect the write lock to be held.
    def _imported_files(self) -> list[Path]:
        return sorted(self.imported_dir.glob("*.parquet"))

    def _load_codebook(self, files: list[Path]) -> tuple[KeyCodebook, list[Path]]:
        """The codebook, and those of `files` written before key codes existed.

        A lost codebook is recovered from the coded files. Every coded file's
        codes must lie inside the codebook (checked on the Parquet statistics,
        without reading the data): a codebook restored from an older backup
        would otherwise hand out codes the files use.
        """
        footers = {path: pq.read_metadata(path) for path in files}
        coded = {
            path: metadata
            for path, metadata in footers.items()
            if set(SHIPMENT_SCHEMA.names) <= set(metadata.schema.to_arrow_schema().names)
        }
        uncoded = [path for path in files if path not in coded]
        if self.keys_path.exists():
            book = KeyCodebook.from_table(pq.read_table(self.keys_path))
        elif coded:
            book = _recovered_codebook(list(coded))
            self._save_codebook(book)
        else:
            return KeyCodebook(), uncoded
        for path, metadata in coded.items():
            _check_covered(path, metadata, book)
        return book, uncoded

    def _save_codebook(self, book: KeyCodebook) -> None:
        """Replace the stored codebook atomically."""
        _write_atomically(book.to_table(), self.keys_path)

    def _coded(self, facts: pa.Table, book: KeyCodebook) -> tuple[pa.Table, KeyCodebook]:
        """`facts` coded by `book`, saving the codebook when the facts add values to it."""
        coded, grown = book.encode(facts.cast(SHIPMENT_FACTS_SCHEMA))
        if grown is not book:
            self._save_codebook(grown)
        return coded.cast(SHIPMENT_SCHEMA), grown

    def _upgrade(self, uncoded: list[Path], book: KeyCodebook) -> KeyCodebook:
        """Code files written before key codes existed, in place; the codebook that covers them."""
        for path in uncoded:
            facts = pq.read_table(path).select(SHIPMENT_FACTS_SCHEMA.names)
            table, book = self._coded(facts, book)
            _write_atomically(table, path)
        return book

    def _snapshot(self) -> tuple[KeyCodebook, list[Path]]:
        """The codebook and the imported files it covers, taken together under the lock.

        A build reads exactly these files, each coded: a file imported
        meanwhile may hold codes this codebook lacks (or that the build gave
        the engine's facts).
        """
        with self._writing_history():
            files = self._imported_files()
            book, uncoded = self._load_codebook(files)
            return self._upgrade(uncoded, book), files

    @contextmanager
    def analytics_session(self) -> Iterator[duckdb.DuckDBPyConnection]:
        connection = duckdb.connect(config={"threads": os.cpu_count() or 1})
        try:
            connection.execute("SET TimeZone = 'UTC'")
            yield connection
        finally:
            connection.close()

    # ------------------------------------------------------------------ import
    def import_file(self, path: Path, *, now: datetime) -> int:
        """Validate and add a Parquet or CSV file of shipments; returns the row count."""
        if not path.is_file():
            raise InvalidInput("file_not_found", f"no such file: {path}", "file")
        suffix = path.suffix.lower()
        if suffix not in (".parquet", ".csv"):
            raise InvalidInput("file_format", "import a .parquet or .csv file", "file")
        quoted = str(path).replace("'", "''")
        reader = (
            f"read_parquet('{quoted}')"
            if suffix == ".parquet"
            else f"read_csv('{quoted}', header = true, all_varchar = true)"
        )
        with self.analytics_session() as con:
            try:
                con.execute(
                    f"CREATE TEMP TABLE raw AS SELECT row_number() OVER () AS line, * FROM {reader}"
                )
            except duckdb.Error as exc:
                raise InvalidInput("file_unreadable", f"{path.name}: {exc}", "file") from exc
            columns = {row[0]: str(row[1]) for row in con.execute("DESCRIBE raw").fetchall()}
            missing = [name for name in _REQUIRED if name not in columns]
            allowed = {"line", *_REQUIRED, *_OPTIONAL, *_DERIVED}
            unknown = [column for column in columns if column not in allowed]
            if missing or unknown:
                raise InvalidInput(
                    "import_columns",
                    f"{path.name}: missing columns {missing}, unknown columns {unknown}",
                    "file",
                )
            for name in _OPTIONAL:
                if name not in columns:
                    con.execute(f"ALTER TABLE raw ADD COLUMN {name} VARCHAR")
            table = self._validated(con, path, columns, now)
        target = (
            self.imported_dir
            / f"{format_instant(now).replace(':', '')}-{secrets.token_hex(4)}.parquet"
        )
        with self._writing_history():
            book, _ = self._load_codebook(self._imported_files())
            coded, _ = self._coded(table, book)
            _write_atomically(coded, target)
        return int(table.num_rows)

    def _validated(
        self, con: duckdb.DuckDBPyConnection, path: Path, columns: dict[str, str], now: datetime
    ) -> pa.Table:
        def instant(column: str) -> str:
            kind = columns.get(column, "VARCHAR")
            if kind.startswith("TIMESTAMP WITH TIME ZONE"):
                return column
            if kind == "VARCHAR":
                return (
                    f"CASE WHEN regexp_matches(trim({column}), '{_OFFSET}') "
                    f"THEN TRY_CAST(trim({column}) AS TIMESTAMPTZ) END"
                )
            return "NULL"  # a naive timestamp column: every non-null value is refused

        def flag(column: str) -> str:
            if columns.get(column, "VARCHAR") == "BOOLEAN":
                return f"coalesce({column}, false)"
            return f"coalesce(TRY_CAST({column} AS BOOLEAN), {column} IS NULL AND false)"

        con.execute(
            f"""
            CREATE TEMP TABLE typed AS SELECT
                line,
                CAST(order_id AS VARCHAR) AS order_id,
                CAST(merchant_id AS VARCHAR) AS merchant_id,
                NULLIF(CAST(product_id AS VARCHAR), '') AS product_id,
                CAST(industry AS VARCHAR) AS industry,
                CAST(carrier AS VARCHAR) AS carrier,
                {flag("official_logistics")} AS official_logistics,
                CAST(origin_region AS VARCHAR) AS origin_region,
                CAST(destination_region AS VARCHAR) AS destination_region,
                NULLIF(CAST(origin_city AS VARCHAR), '') AS origin_city_given,
                {instant("paid_at")} AS paid_at, CAST(paid_at AS VARCHAR) AS paid_at_raw,
                {instant("shipped_at")} AS shipped_at,
                CAST(shipped_at AS VARCHAR) AS shipped_at_raw,
                {instant("signed_at")} AS signed_at, CAST(signed_at AS VARCHAR) AS signed_at_raw,
                {flag("refunded_before_shipment")} AS refunded_before_shipment
            FROM raw
            """
        )
        checks = [
            ("order_id", "order_id IS NULL OR order_id = ''", "missing"),
            ("merchant_id", "merchant_id IS NULL OR merchant_id = ''", "missing"),
            ("industry", "industry IS NULL OR industry = ''", "missing"),
            ("carrier", "carrier IS NULL OR carrier = ''", "missing"),
            (
                "origin_region",
                f"origin_region IS NULL OR NOT ({_region_sql('origin_region')})",
                "not a GB/T 2260 or ISO 3166-2 code",
            ),
            (
                "destination_region",
                f"destination_region IS NULL OR NOT ({_region_sql('destination_region')})",
                "not a GB/T 2260 or ISO 3166-2 code",
            ),
            (
                "origin_city",
                "origin_region LIKE '%-%' AND origin_city_given IS NULL",
                "required for ISO 3166-2 origins",
            ),
            ("paid_at", "paid_at IS NULL", "missing, malformed or without UTC offset"),
            ("paid_at", "paid_at > $now", "in the future"),
            (
                "shipped_at",
                "shipped_at_raw IS NOT NULL AND shipped_at IS NULL",
                "malformed or without UTC offset",
            ),
            (
                "signed_at",
                "signed_at_raw IS NOT NULL AND signed_at IS NULL",
                "malformed or without UTC offset",
            ),
            ("signed_at", "signed_at < paid_at", "before paid_at"),
            ("signed_at", "signed_at > $now", "in the future"),
            ("shipped_at", "shipped_at < paid_at", "before paid_at"),
        ]
        union = " UNION ALL ".join(
            f"SELECT line, '{column}' AS column_name, '{message}' AS problem FROM typed "
            f"WHERE {condition}"
            for column, condition, message in checks
        )
        duplicates = (
            "SELECT min(line), 'order_id', 'duplicated in the file' FROM typed "
            "GROUP BY order_id HAVING count(*) > 1"
        )
        query = f"SELECT * FROM ({union} UNION ALL {duplicates}) ORDER BY 1, 2"
        errors = con.execute(query, {"now": ensure_utc(now)}).fetchall()
        if errors:
            shown = [f"row {line}: {column} {problem}" for line, column, problem in errors]
            raise ImportRefused(path, shown[:MAX_REPORTED_ERRORS], len(shown))
        return (
            con.sql(
                f"""
            SELECT order_id, merchant_id, product_id, industry, carrier, official_logistics,
                   origin_region, destination_region,
                   {_city_sql("origin_region", "origin_city_given")} AS origin_city,
                   {_province_sql("origin_region")} AS origin_province,
                   {_province_sql("destination_region")} AS destination_province,
                   paid_at, shipped_at, signed_at, refunded_before_shipment
            FROM typed ORDER BY line
            """
            )
            .to_arrow_table()
            .cast(SHIPMENT_FACTS_SCHEMA)
        )

    # ---------------------------------------------------------- engine facts
    @staticmethod
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

    def open_history(
        self, con: duckdb.DuckDBPyConnection, engine_facts: pa.Table
    ) -> tuple[str, str]:
        """Views over imports plus engine facts, and over their codebook: (history, keys).

        Legacy imports are coded first. The engine's facts are coded in memory
        with the stored codebook; values it lacks get codes for this session
        only. The history view reads the files imported when it was opened.
        """
        stored, files = self._snapshot()
        coded, book = stored.encode(engine_facts.cast(SHIPMENT_FACTS_SCHEMA))
        con.register("engine_facts", coded.cast(SHIPMENT_SCHEMA))
        con.register("shipment_keys", book.to_table())
        parts = ["SELECT * FROM engine_facts"]
        if files:
            parts.append(f"SELECT * FROM {parquet_files_sql(files)}")
        con.execute(f"CREATE OR REPLACE TEMP VIEW shipments AS {' UNION ALL BY NAME '.join(parts)}")
        return "shipments", "shipment_keys"

    # ------------------------------------------------------------- promises
    def build_promises(
        self, engine_facts: pa.Table, as_of: datetime, params: PromiseParams, rulebook_id: str
    ) -> BuiltPromises:
        with self.analytics_session() as con:
            view, keys = self.open_history(con, engine_facts)
            shipments = int(con.execute(f"SELECT count(*) FROM {view}").fetchall()[0][0])
            table = build_promise_table(con, view, keys, as_of, params)
        self.promises_dir.mkdir(parents=True, exist_ok=True)
        stamp = format_instant(as_of).replace(":", "")
        path = self.promises_dir / f"promises-{stamp}.parquet"
        pq.write_table(table, path)
        pointer = {
            "table": path.name,
            "as_of": format_instant(as_of),
            "rulebook_id": rulebook_id,
            "routes": table.num_rows,
            "shipments": shipments,
            "params": params.as_record(),
        }
        temp = self.promises_dir / f".current-{secrets.token_hex(4)}.json"
        temp.write_text(json.dumps(pointer, indent=2))
        os.replace(temp, self.promises_dir / "current.json")
        return BuiltPromises(as_of, path, table.num_rows, shipments)

    def current_promises(self) -> tuple[PromiseIndex, dict[str, Any]]:
        """The served promise table, reloaded when a new build replaces it."""
        pointer_path = self.promises_dir / "current.json"
        if not pointer_path.exists():
            raise NotFound(
                "promises_not_built", "no promise table yet: run `buyerguard eta build`", None
            )
        pointer_text = pointer_path.read_text()
        with self._index_lock:
            if self._index is None or self._index[0] != pointer_text:
                pointer = json.loads(pointer_text)
                table = pq.read_table(self.promises_dir / pointer["table"])
                self._index = (pointer_text, PromiseIndex.from_table(table), pointer)
            return self._index[1], self._index[2]

    # ------------------------------------------------------------ sign rates
    def sign_rates(
        self, engine_facts: pa.Table, as_of: datetime, params: SignRateParams
    ) -> pa.Table:
        with self.analytics_session() as con:
            view, keys = self.open_history(con, engine_facts)
            return compute_sign_rates(con, view, keys, as_of, params)


def _write_atomically(table: pa.Table, target: Path) -> None:
    """Write a Parquet file next to `target`, then rename it over `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".tmp", delete=False) as tmp:
        temp_path = Path(tmp.name)
    try:
        pq.write_table(table, temp_path)
        os.replace(temp_path, target)
    finally:
        temp_path.unlink(missing_ok=True)


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
        f" FROM {parquet_files_sql(files)} WHERE {code} IS NOT NULL"
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
