"""Reading an import CSV as RFC 4180 has it: commas, double quotes, a header row.

The dialect is fixed, never sniffed: a sniffer that guesses wrongly turns a file with one
bad row into a file of one column (and blames the header), reads a stray quote as part of
a value (a phantom merchant `"M-yiwu`), and takes semicolons or tabs for the separator of
a file the docs call CSV. The header is read as one CSV row (the standard library's
reader, strict), the names it gives are checked by the caller, and DuckDB reads the rows
with those names, in strict mode, setting aside every row it cannot split (a rejects
table: its line and the reason) instead of failing at the first with a bare line number.
A file in another encoding (GB18030 for a GBK export) is transcoded to UTF-8 first.
"""

from __future__ import annotations

import codecs
import csv
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from buyerguard.errors import InvalidInput

REJECTS_LIMIT = 1_000  # reader errors kept per file (a row short of k fields gives k)
_OTHER_DELIMITERS = (";", "\t", "|")
TRANSCODE_CHUNK_BYTES = 1 << 20
_FOUND = re.compile(r"Found: ([0-9]+)")


@dataclass(frozen=True)
class RejectedRows:
    """The rows the reader could not split, each as `row N: reason`, in file order."""

    errors: list[str]
    complete: bool  # False: the reader stopped recording, more rows may be bad


def not_utf8(path: Path) -> InvalidInput:
    return InvalidInput(
        "file_not_utf8",
        f"{path.name}: not UTF-8; a GBK or GB18030 export (Excel on a Chinese Windows):"
        " import it with encoding gb18030, or save it as UTF-8",
        "file",
    )


def csv_header(path: Path, source: Path) -> list[str]:
    """The column names of `source`'s header row (UTF-8, a byte-order mark allowed)."""
    try:
        with source.open(encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle, strict=True), [])
    except UnicodeDecodeError as exc:
        raise not_utf8(path) from exc
    except csv.Error as exc:
        raise InvalidInput(
            "import_csv_header",
            f"{path.name}: the header is not one CSV row ({exc}): names separated by commas,"
            ' a quoted name in double quotes ("…"); nothing imported',
            "file",
        ) from exc
    if len(header) == 1:
        for delimiter in _OTHER_DELIMITERS:
            if delimiter in header[0]:
                raise InvalidInput(
                    "import_csv_delimiter",
                    f"{path.name}: the header is one field holding {delimiter!r}: a CSV here is"
                    " separated by commas (RFC 4180); save it comma-separated; nothing imported",
                    "file",
                )
    return header


def csv_reader_sql(source: Path, names: list[str]) -> str:
    """A DuckDB `read_csv` of `source` under `names` (checked by the caller, quoted here),
    every value as text, rows it cannot split set aside in `reject_errors`."""
    quoted = str(source).replace("'", "''")
    columns = ", ".join(f"'{name}': 'VARCHAR'" for name in names)
    return (
        f"read_csv('{quoted}', columns = {{{columns}}}, header = true, auto_detect = false,"
        " delim = ',', quote = '\"', escape = '\"', comment = '', skip = 0,"
        " strict_mode = true, null_padding = false,"
        f" store_rejects = true, rejects_limit = {REJECTS_LIMIT})"
    )


def rejected_rows(con: duckdb.DuckDBPyConnection, path: Path, fields: int) -> RejectedRows:
    """The rows the last `csv_reader_sql` scan set aside; a file that is not UTF-8 is
    refused whole (`file_not_utf8`), as the reader without rejects did."""
    entries = con.execute(
        "SELECT line, column_idx, column_name, error_type, error_message FROM reject_errors"
        " ORDER BY line, column_idx"
    ).fetchall()
    by_line: dict[int, list[tuple[int, str | None, str, str]]] = {}
    for line, index, column, kind, message in entries:
        whole = -1 if index is None else int(index)  # a line too long for the reader: no column
        by_line.setdefault(int(line), []).append((whole, column, str(kind), str(message)))
    errors = []
    for line, problems in by_line.items():
        if any("ENCODING" in kind or "UNICODE" in kind for _, _, kind, _ in problems):
            raise not_utf8(path)
        errors.append(f"row {line - 1}: {_reason(problems, fields)}")  # line 1 is the header
    return RejectedRows(errors, len(entries) < REJECTS_LIMIT)


def _reason(problems: list[tuple[int, str | None, str, str]], fields: int) -> str:
    """One row's fault, from the reader's entries for it (first column first)."""
    _, column, kind, message = problems[0]
    if kind in ("MISSING COLUMNS", "TOO MANY COLUMNS"):
        found = [int(match.group(1)) for *_, text in problems if (match := _FOUND.search(text))]
        count = min(found) if kind == "MISSING COLUMNS" else max(found)
        return f"{count} fields, expected {fields}"
    if kind == "UNQUOTED VALUE":
        return (
            f"{column} has a quote that does not close, or text after its closing quote"
            ' (a quoted value is "…", a quote inside it doubled)'
        )
    if kind == "LINE SIZE OVER MAXIMUM":
        return "longer than the reader's line limit (a quote that does not close?)"
    return f"{kind.lower()}: {message}"


def transcode_to_utf8(path: Path, encoding: str, target: Path) -> None:
    """Copy `path` from `encoding` to UTF-8 in chunks, or refuse at the first bad byte."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with path.open("rb") as source, target.open("w", encoding="utf-8", newline="") as out:
        if source.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8:
            raise InvalidInput(
                "file_encoding",
                f"{path.name}: starts with a UTF-8 byte-order mark: import it as utf-8",
                "file",
            )
        source.seek(0)
        while True:
            chunk = source.read(TRANSCODE_CHUNK_BYTES)
            try:
                out.write(decoder.decode(chunk, final=not chunk))
            except UnicodeDecodeError as exc:
                raise InvalidInput(
                    "file_encoding",
                    f"{path.name}: not {encoding.upper()} (byte {offset + exc.start:,})",
                    "file",
                ) from exc
            if not chunk:
                return
            offset += len(chunk)
