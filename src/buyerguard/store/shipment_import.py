"""Reading and validating a shipment history file (Parquet or CSV) before anything is stored.

A CSV is RFC 4180 (commas, double quotes, a header row; `import_csv.py`): a row the
reader cannot split is listed with its reason before any value is checked. A Parquet
column of lists, structs or maps is refused whole (`import_column_type`).

The whole file is checked in DuckDB (each value read as `import_values.py` says):
required columns, text as the API takes it (no control character; an industry or
carrier of at most 64 characters), region codes (the
rule of `domain/regions.py`), instants with a time zone in the range every
other entry point accepts (`clock.EARLIEST_INSTANT` … `LATEST_INSTANT`), no
payment or shipment in the future, no shipping or signing before payment, no
shipping after signing, parcel numbers, no parcel twice. Every bad row is
listed and nothing is written (`ImportRefused`).

Instants: a CSV gives ISO-8601 strings, each with its offset (below 24 hours,
as `clock.parse_instant` takes them). A Parquet file
may also give Arrow timestamps of any unit (s, ms, us, ns) with any zone:
they are instants, stored in UTC to the microsecond (nanoseconds are
truncated, never rounded into the next microsecond). A timestamp column
without a zone is refused whole, naming the column: its values are wall
clock readings of an unknown place, not instants.

Encodings: a CSV is read as UTF-8 (a byte-order mark is fine). Excel on a
Chinese Windows saves CSV as GBK, so `encoding="gb18030"` (a superset of GBK
and GB2312) transcodes such a file to UTF-8 first; a file that is not in the
encoding named is refused in one line that says which encoding to try.
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from buyerguard.clock import INSTANT_RANGE_TEXT, ensure_utc
from buyerguard.errors import InvalidInput, directory_refusal
from buyerguard.store.import_csv import (
    csv_header,
    csv_reader_sql,
    not_utf8,
    rejected_rows,
    transcode_to_utf8,
)
from buyerguard.store.import_parquet import arrow_types, check_scalar, parquet_reader
from buyerguard.store.import_values import (
    as_text_sql,
    bounded,
    city_sql,
    flag_sql,
    instant_sql,
    province_sql,
    region_sql,
    trimmed,
)
from buyerguard.store.parcel_files import PARCEL_FACTS_SCHEMA, analytics_connection
from buyerguard.store.tables import merchant_badges

MAX_REPORTED_ERRORS = 20
CSV_ENCODINGS = ("utf-8", "gb18030")  # gb18030 reads GBK and GB2312 files too
MAX_PARCEL_DIGITS = 9  # parcel numbers 1 .. 999,999,999 fit the int32 column
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
    "parcel_number",
)
_DERIVED = ("origin_province", "destination_province")  # accepted, recomputed from regions
# Text as the API takes it (api/schemas.TEXT_PATTERN): no control character (PostgreSQL stores
# no NUL); a label no longer than the column the badge records it in (`industry`).
_CONTROL_CHARACTER = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]"
_TEXTS = {name: name for name in ("order_id", "merchant_id", "product_id", "industry", "carrier")}
_TEXTS["origin_city"] = "origin_city_given"
LABEL_MAX_LENGTH: int = merchant_badges.c.industry.type.length  # type: ignore[attr-defined]
_LABELS = ("industry", "carrier")
# Read as text whatever their column's type (`import_values.as_text_sql`).
_READ_AS_TEXT = (
    "order_id",
    "merchant_id",
    "product_id",
    "industry",
    "carrier",
    "origin_region",
    "destination_region",
    "origin_city",
    "parcel_number",
)
_INSTANTS = ("paid_at", "shipped_at", "signed_at")


class ImportRefused(InvalidInput):
    """An import file with bad rows: every error is listed, nothing is written."""

    def __init__(self, path: Path, errors: list[str], total: int, *, complete: bool = True) -> None:
        """`complete` False: the reader stopped counting at `total`; there may be more."""
        plus = "" if complete else "+"
        more = f" (and {total - len(errors)}{plus} more)" if total > len(errors) else ""
        super().__init__(
            "import_rows_invalid",
            f"{path.name}: {total}{plus} bad row(s){more}; nothing imported: " + "; ".join(errors),
            "file",
        )
        self.errors = errors
        self.total = total


def validated_import(path: Path, now: datetime, *, encoding: str = "utf-8") -> pa.Table:
    """The rows of a Parquet or CSV file as PARCEL_FACTS_SCHEMA, or a refusal naming every fault.

    `encoding` (CSV_ENCODINGS) is the CSV's; a Parquet file's strings are UTF-8.
    """
    if path.is_dir():
        raise directory_refusal(path, "a .parquet or .csv file")
    if not path.is_file():
        raise InvalidInput("file_not_found", f"no such file: {path}", "file")
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise InvalidInput("file_format", "import a .parquet or .csv file", "file")
    if encoding not in CSV_ENCODINGS:
        raise InvalidInput(
            "encoding_unknown", f"encoding must be one of {', '.join(CSV_ENCODINGS)}", "encoding"
        )
    if suffix == ".parquet" and encoding != "utf-8":
        raise InvalidInput("encoding_not_csv", "an encoding applies to CSV files only", "encoding")
    if encoding == "utf-8":
        return _validated_file(path, path, now)
    with tempfile.TemporaryDirectory(prefix="buyerguard-import-") as directory:
        utf8 = Path(directory) / path.name
        transcode_to_utf8(path, encoding, utf8)
        return _validated_file(path, utf8, now)


def _validated_file(path: Path, source: Path, now: datetime) -> pa.Table:
    """`validated_import` of `source` (UTF-8 if a CSV), named `path` in every message."""
    csv_names = csv_header(path, source) if path.suffix.lower() == ".csv" else None
    if csv_names is not None:
        _check_columns(path, csv_names)
        reader = csv_reader_sql(source, csv_names)
    with analytics_connection() as con:
        try:
            types = arrow_types(source) if csv_names is None else {}
            if csv_names is None:
                reader = parquet_reader(con, source, types)
            con.execute(
                f"CREATE TEMP TABLE raw AS SELECT row_number() OVER () AS line, * FROM {reader}"
            )
        except (duckdb.Error, pa.ArrowException) as exc:
            raise _unreadable(path, exc) from exc
        if csv_names is not None:
            rejected = rejected_rows(con, path, len(csv_names))
            if rejected.errors:
                raise ImportRefused(
                    path,
                    rejected.errors[:MAX_REPORTED_ERRORS],
                    len(rejected.errors),
                    complete=rejected.complete,
                )
        columns = [row[0] for row in con.execute("DESCRIBE raw").fetchall()]
        _check_columns(path, columns[1:])  # after `line`
        check_scalar(path, types)
        for name in _OPTIONAL:
            if name not in columns:
                con.execute(f"ALTER TABLE raw ADD COLUMN {name} VARCHAR")
        instants = {
            name: instant_sql(path, name, types.get(name, pa.string())) for name in _INSTANTS
        }
        texts = {name: as_text_sql(name, types.get(name, pa.string())) for name in _READ_AS_TEXT}
        return _validated(con, path, instants, texts, "parcel_number" in columns, now)


def _check_columns(path: Path, columns: list[str]) -> None:
    """Refuse a file missing a required column, naming one we do not know, or one twice."""
    missing = [name for name in _REQUIRED if name not in columns]
    allowed = {*_REQUIRED, *_OPTIONAL, *_DERIVED}
    unknown = [column for column in columns if column not in allowed]
    twice = sorted({column for column in columns if columns.count(column) > 1})
    if missing or unknown or twice:
        named_twice = f", columns named twice {twice}" if twice else ""
        raise InvalidInput(
            "import_columns",
            f"{path.name}: missing columns {missing}, unknown columns {unknown}{named_twice}",
            "file",
        )


def _unreadable(path: Path, exc: Exception) -> InvalidInput:
    """One line for a file the reader refused (DuckDB's own message runs to thirty)."""
    text = str(exc)
    if "Invalid unicode" in text:
        return not_utf8(path)
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
    return InvalidInput("file_unreadable", f"{path.name}: {first}", "file")


def _validated(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    instants: dict[str, str],
    texts: dict[str, str],
    numbered: bool,
    now: datetime,
) -> pa.Table:
    digits = MAX_PARCEL_DIGITS
    con.execute(
        f"""
        CREATE TEMP TABLE typed AS SELECT *,
            {", ".join(bounded(name) for name in _INSTANTS)},
            CASE WHEN parcel_number_raw IS NULL THEN 1
                 WHEN regexp_full_match(parcel_number_raw, '[0-9]{{1,{digits}}}')
                      AND parcel_number_raw::INTEGER >= 1 THEN parcel_number_raw::INTEGER
            END AS parcel_number
        FROM (SELECT
            line,
            {trimmed(texts["order_id"])} AS order_id,
            {trimmed(texts["merchant_id"])} AS merchant_id,
            NULLIF({trimmed(texts["product_id"])}, '') AS product_id,
            {trimmed(texts["industry"])} AS industry,
            {trimmed(texts["carrier"])} AS carrier,
            {flag_sql("official_logistics")} AS official_logistics,
            {texts["origin_region"]} AS origin_region,
            {texts["destination_region"]} AS destination_region,
            NULLIF({trimmed(texts["origin_city"])}, '') AS origin_city_given,
            {", ".join(f"{sql} AS {name}_any" for name, sql in instants.items())},
            {", ".join(f"CAST({name} AS VARCHAR) AS {name}_raw" for name in _INSTANTS)},
            {flag_sql("refunded_before_shipment")} AS refunded_before_shipment,
            NULLIF(trim({texts["parcel_number"]}), '') AS parcel_number_raw
        FROM raw)
        """
    )
    later, malformed = ("shipped_at", "signed_at"), "malformed or without UTC offset"
    out_of_range = f"out of range (must lie from {INSTANT_RANGE_TEXT})"
    checks = [
        *(
            (name, f"{name} IS NULL OR {name} = ''", "missing")  # blanks trimmed away
            for name in ("order_id", "merchant_id", "industry", "carrier")
        ),
        (
            "origin_region",
            f"origin_region IS NULL OR NOT ({region_sql('origin_region')})",
            "not a GB/T 2260 or ISO 3166-2 code",
        ),
        (
            "destination_region",
            f"destination_region IS NULL OR NOT ({region_sql('destination_region')})",
            "not a GB/T 2260 or ISO 3166-2 code",
        ),
        (
            "origin_city",
            "origin_region LIKE '%-%' AND origin_city_given IS NULL",
            "required for ISO 3166-2 origins",
        ),
        *(
            (name, f"regexp_matches({column}, '{_CONTROL_CHARACTER}')", "has a control character")
            for name, column in _TEXTS.items()
        ),
        *(
            (
                name,
                f"length({name}) > {LABEL_MAX_LENGTH}",
                f"longer than {LABEL_MAX_LENGTH} characters",
            )
            for name in _LABELS
        ),
        ("official_logistics", "official_logistics IS NULL", "not true or false"),
        ("refunded_before_shipment", "refunded_before_shipment IS NULL", "not true or false"),
        ("paid_at", "paid_at_any IS NULL", "missing, malformed or without UTC offset"),
        *((name, f"{name}_raw IS NOT NULL AND {name}_any IS NULL", malformed) for name in later),
        *((name, f"{name}_any IS NOT NULL AND {name} IS NULL", out_of_range) for name in _INSTANTS),
        ("paid_at", "paid_at > $now", "in the future"),
        ("shipped_at", "shipped_at < paid_at", "before paid_at"),
        # (when signed_at is itself before paid_at, that is the fault to report)
        ("shipped_at", "shipped_at > signed_at AND signed_at >= paid_at", "after signed_at"),
        ("shipped_at", "shipped_at > $now", "in the future"),
        ("signed_at", "signed_at < paid_at", "before paid_at"),
        ("signed_at", "signed_at > $now", "in the future"),
        (
            "parcel_number",
            "parcel_number IS NULL",
            f"not a whole number from 1 to {10**digits - 1}",
        ),
    ]
    union = " UNION ALL ".join(
        f"SELECT line, '{column}' AS column_name, '{message}' AS problem FROM typed "
        f"WHERE {condition}"
        for column, condition, message in checks
    )
    # A parcel twice in one file: every row after its first is reported.
    duplicates = (
        f"SELECT line, '{'parcel_number' if numbered else 'order_id'}', 'duplicated in the file'"
        " FROM typed WHERE order_id <> '' AND parcel_number IS NOT NULL"
        " QUALIFY row_number() OVER (PARTITION BY order_id, parcel_number ORDER BY line) > 1"
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
                   {city_sql("origin_region", "origin_city_given")} AS origin_city,
                   {province_sql("origin_region")} AS origin_province,
                   {province_sql("destination_region")} AS destination_province,
                   paid_at, shipped_at, signed_at, refunded_before_shipment, parcel_number
            FROM typed ORDER BY line
            """
        )
        .to_arrow_table()
        .cast(PARCEL_FACTS_SCHEMA)
    )
