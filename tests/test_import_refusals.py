"""What a shipment import refuses: rows the CSV reader cannot split, CSV dialects other than
RFC 4180, Parquet columns that hold no scalar, and instants the rest of the system refuses
(docs/logistics.md, "Data: the shipment history"). Each is one line naming the row (or the
column) and the reason, exit 2 on the command line, and nothing stored.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from buyerguard.cli import app
from buyerguard.errors import InvalidInput
from buyerguard.store.shipment_history import ShipmentHistory
from buyerguard.store.shipment_import import validated_import
from tests.conftest import at

NOW = at("2024-10-20T10:00:00+08:00")
HEADER = (
    "order_id,parcel_number,merchant_id,product_id,industry,carrier,official_logistics,"
    "origin_region,destination_region,paid_at,shipped_at,signed_at,refunded_before_shipment"
)
FIELDS = HEADER.count(",") + 1
_MS_UTC = pa.timestamp("ms", "UTC")


def row(
    number: int,
    *,
    paid: str = "2024-10-10T10:00+08:00",
    shipped: str = "2024-10-10T15:00+08:00",
    signed: str = "2024-10-11T09:00+08:00",
) -> str:
    facts = "M-yiwu,P-cups,daily_goods,ZTO,false,330782,440305"
    return f"Y{number},,{facts},{paid},{shipped},{signed},"


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def rows_file(count: int) -> list[str]:
    """The header and `count` good rows (row i on line i + 1)."""
    return [HEADER, *(row(i) for i in range(1, count + 1))]


def refusal(path: Path) -> InvalidInput:
    with pytest.raises(InvalidInput) as refused:
        validated_import(path, NOW)
    assert "\n" not in refused.value.message
    return refused.value


def refused_rows(path: Path) -> str:
    refused = refusal(path)
    assert refused.code == "import_rows_invalid", refused.message
    return refused.message


# ------------------------------------------------------------ rows of the wrong shape


def test_a_row_with_too_few_or_too_many_fields_is_named_with_its_count(tmp_path: Path) -> None:
    lines = rows_file(60)
    short, long = lines[:], lines[:]
    short[50] = ",".join(short[50].split(",")[:10])
    long[50] += ",extra"
    message = refused_rows(write_lines(tmp_path / "short.csv", short))
    assert f"row 50: 10 fields, expected {FIELDS}" in message
    assert message.startswith("short.csv: 1 bad row(s)")
    message = refused_rows(write_lines(tmp_path / "long.csv", long))
    assert f"row 50: 14 fields, expected {FIELDS}" in message


def test_a_bad_row_deep_in_a_large_file_is_named(tmp_path: Path) -> None:
    """Past the reader's sample and its first buffers: the error was `CSV Error on Line:
    50002` with no reason."""
    lines = rows_file(60_000)
    lines[50_001] = ",".join(lines[50_001].split(",")[:10])
    message = refused_rows(write_lines(tmp_path / "big.csv", lines))
    assert f"row 50001: 10 fields, expected {FIELDS}" in message
    assert "1 bad row(s)" in message


def test_rows_after_a_quoted_line_break_keep_their_numbers(tmp_path: Path) -> None:
    lines = rows_file(5)
    lines[2] = '"Y2\nsecond line"' + lines[2][2:]
    lines[4] += ",extra"
    message = refused_rows(write_lines(tmp_path / "multi.csv", lines))
    assert f"row 4: 14 fields, expected {FIELDS}" in message


def test_a_row_longer_than_the_reader_takes_is_named_not_a_traceback(tmp_path: Path) -> None:
    """A row past the reader's line limit (2 MB: a huge id) is set aside with no column,
    and the import failed with a TypeError traceback (exit 1) instead of naming it."""
    lines = rows_file(3)
    lines[2] = lines[2].replace("M-yiwu", "M" * 2_000_001)
    message = refused_rows(write_lines(tmp_path / "long.csv", lines))
    assert message.startswith("long.csv: 1 bad row(s)"), message[:500]
    assert "row 2: longer than the reader's line limit" in message, message[:500]


def test_a_required_text_of_blanks_only_is_missing(tmp_path: Path) -> None:
    """An empty merchant was refused as missing, but one of spaces (a fixed-width export's
    padding) was stored as a merchant named "   ", its parcels counted for nobody the
    engine knows; a product of spaces keyed a level-1 route of its own. Blanks only are
    blank: missing where the column is required, no product where it is optional."""
    lines = rows_file(5)
    facts = "M-yiwu,P-cups,daily_goods,ZTO"
    lines[1] = lines[1].replace(facts, "   ,P-cups,daily_goods,ZTO")
    lines[2] = lines[2].replace(facts, "M-yiwu,P-cups, ,ZTO")
    lines[3] = lines[3].replace(facts, "M-yiwu,P-cups,daily_goods,\t")
    lines[4] = " " + lines[4][len("Y4") :]
    message = refused_rows(write_lines(tmp_path / "blanks.csv", lines))
    assert "4 bad row(s)" in message, message
    for line, column in ((1, "merchant_id"), (2, "industry"), (3, "carrier"), (4, "order_id")):
        assert f"row {line}: {column} missing" in message, message
    blank_product = rows_file(1)
    blank_product[1] = blank_product[1].replace("P-cups", "  ")
    (stored,) = validated_import(write_lines(tmp_path / "p.csv", blank_product), NOW).to_pylist()
    assert stored["product_id"] is None


def test_the_cli_refuses_a_short_row_in_one_line_with_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUYERGUARD_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    monkeypatch.setenv("BUYERGUARD_DATA_DIR", str(tmp_path / "data"))
    lines = rows_file(60)
    lines[50] = ",".join(lines[50].split(",")[:10])
    path = write_lines(tmp_path / "truncated_row.csv", lines)
    result = CliRunner().invoke(app, ["shipments", "import", str(path)])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: import_rows_invalid")
    assert f"row 50: 10 fields, expected {FIELDS}" in result.stderr
    assert not (tmp_path / "data" / "shipments" / "imported").exists()


def test_a_directory_is_refused_as_a_directory_not_as_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`shipments import DIR` said `file_not_found … no such file` of a directory that is
    there (found by a tester): it says the path is a directory."""
    monkeypatch.setenv("BUYERGUARD_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    monkeypatch.setenv("BUYERGUARD_DATA_DIR", str(tmp_path / "data"))
    folder = tmp_path / "exports.csv"  # a suffix does not make it a file
    folder.mkdir()
    result = CliRunner().invoke(app, ["shipments", "import", str(folder)])
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: file_is_directory [file]: {folder} is a directory: name a .parquet or .csv"
        " file in it\n"
    )
    assert not (tmp_path / "data" / "shipments" / "imported").exists()


# ------------------------------------------------------------ the CSV dialect


def test_a_stray_quote_is_refused_at_its_row_not_stored_as_a_phantom_merchant(
    tmp_path: Path,
) -> None:
    lines = rows_file(5)
    lines[3] = lines[3].replace(",M-yiwu,", ',"M-yiwu,')
    message = refused_rows(write_lines(tmp_path / "stray.csv", lines))
    assert "row 3: merchant_id" in message and "quote" in message
    lines = rows_file(5)
    lines[2] = lines[2].replace(",M-yiwu,", ',"M-yiwu"x,')
    message = refused_rows(write_lines(tmp_path / "after.csv", lines))
    assert "row 2: merchant_id" in message and "quote" in message


def test_quoted_fields_are_read_as_rfc_4180_says(tmp_path: Path) -> None:
    lines = rows_file(2)
    lines[1] = lines[1].replace(",M-yiwu,", ',"M-yiwu, ""east"" shop",')
    rows = validated_import(write_lines(tmp_path / "quoted.csv", lines), NOW)
    assert rows.column("merchant_id").to_pylist() == ['M-yiwu, "east" shop', "M-yiwu"]


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_a_file_separated_by_anything_but_commas_is_refused(tmp_path: Path, delimiter: str) -> None:
    lines = [line.replace(",", delimiter) for line in rows_file(3)]
    refused = refusal(write_lines(tmp_path / "other.csv", lines))
    assert refused.code == "import_csv_delimiter", refused.message
    assert repr(delimiter) in refused.message and "comma" in refused.message


def test_a_header_that_is_not_one_csv_row_is_refused(tmp_path: Path) -> None:
    lines = rows_file(2)
    lines[0] = lines[0].replace("merchant_id", '"merchant_id"x')
    refused = refusal(write_lines(tmp_path / "header.csv", lines))
    assert refused.code == "import_csv_header", refused.message


def test_a_column_named_twice_is_refused(tmp_path: Path) -> None:
    lines = rows_file(2)
    lines = [f"{line},{line.split(',')[2]}" for line in lines]
    refused = refusal(write_lines(tmp_path / "twice.csv", lines))
    assert refused.code == "import_columns" and "merchant_id" in refused.message


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (pa.list_(pa.string()), [["a", "b"]]),
        (pa.struct([("id", pa.string())]), [{"id": "a"}]),
        (pa.map_(pa.string(), pa.string()), [[("a", "b")]]),
    ],
)
def test_a_parquet_column_that_holds_no_scalar_is_refused(
    tmp_path: Path, kind: pa.DataType, value: list[object]
) -> None:
    seconds = pa.array([int(at("2024-10-10T10:00+08:00").timestamp())], pa.timestamp("s", "UTC"))
    table = pa.table(
        {
            "order_id": pa.array(value, kind),
            "merchant_id": ["M-yiwu"],
            "industry": ["daily_goods"],
            "carrier": ["ZTO"],
            "origin_region": ["330782"],
            "destination_region": ["440305"],
            "paid_at": seconds,
        }
    )
    pq.write_table(table, tmp_path / "nested.parquet")
    refused = refusal(tmp_path / "nested.parquet")
    assert refused.code == "import_column_type", refused.message
    assert refused.message.startswith("nested.parquet: order_id is ")


# ------------------------------------------------------------ instants


BAD_INSTANTS = [
    ({"paid": "0001-01-01T00:00+08:00"}, ("paid_at ", "out of range")),
    ({"paid": "1899-12-31T23:59:59Z"}, ("paid_at ", "out of range")),
    ({"shipped": "10000-01-01T00:00:00+00:00"}, ("shipped_at ", "malformed")),  # 5-digit year
    ({"paid": "2024-10-10"}, ("paid_at ", "malformed")),  # a date: which zone's midnight?
    ({"shipped": "2200-01-01T00:00+00:00"}, ("shipped_at ", "out of range")),
    ({"signed": "2200-01-01T00:00+00:00"}, ("signed_at ", "out of range")),
    ({"paid": "2024-10-10T10:00+25:00"}, ("paid_at ", "malformed")),
    ({"paid": "2024-10-10T10:00+08:60"}, ("paid_at ", "malformed")),
    ({"signed": "2024-10-11T10:00-24:00"}, ("signed_at ", "malformed")),
    # shipped_at lies between payment, signing and now
    (
        {"shipped": "2024-10-12T09:00+08:00", "signed": "2024-10-11T09:00+08:00"},
        ("shipped_at after signed_at",),
    ),
    ({"shipped": "2024-10-21T09:00+08:00", "signed": ""}, ("shipped_at in the future",)),
    ({"shipped": "2024-10-10T09:00+08:00", "signed": ""}, ("shipped_at before paid_at",)),
]


@pytest.mark.parametrize(("overrides", "fragments"), BAD_INSTANTS)
def test_instants_outside_what_the_system_accepts_are_refused(
    tmp_path: Path, overrides: dict[str, str], fragments: tuple[str, ...]
) -> None:
    lines = rows_file(3)
    lines[2] = row(2, **overrides)
    message = refused_rows(write_lines(tmp_path / "instants.csv", lines))
    assert f"row 2: {fragments[0]}" in message and all(f in message for f in fragments), message
    assert message.startswith("instants.csv: 1 bad row(s)"), message


def test_the_edges_of_the_instant_range_and_of_the_offsets_are_accepted(tmp_path: Path) -> None:
    lines = [
        HEADER,
        row(1, paid="1900-01-01T00:00:00Z", shipped="", signed=""),
        row(2, paid="2024-10-10T10:00+23:59", shipped="", signed=""),
        row(3, paid="2024-10-10T10:00-23:59", shipped="", signed=""),
    ]
    rows = validated_import(write_lines(tmp_path / "edges.csv", lines), NOW)
    assert rows.column("paid_at").to_pylist() == [
        at("1900-01-01T00:00:00Z"),
        at("2024-10-10T10:00+23:59"),
        at("2024-10-10T10:00-23:59"),
    ]


@pytest.mark.parametrize("year", ["-001", "18029"])  # 2 BC; a millisecond count read as seconds
def test_parquet_timestamps_outside_the_range_are_refused(tmp_path: Path, year: str) -> None:
    good = int(at("2024-10-10T10:00+08:00").timestamp())
    far = int(np.datetime64(f"{year}-06-01T00:00:00", "s").astype(np.int64))
    table = pa.table(
        {
            "order_id": ["A", "B"],
            "merchant_id": ["M-yiwu"] * 2,
            "industry": ["daily_goods"] * 2,
            "carrier": ["ZTO"] * 2,
            "origin_region": ["330782"] * 2,
            "destination_region": ["440305"] * 2,
            "paid_at": pa.array([good, far], pa.timestamp("s", "UTC")),
        }
    )
    pq.write_table(table, tmp_path / "far.parquet")
    assert "row 2: paid_at out of range" in refused_rows(tmp_path / "far.parquet")


def test_parquet_timestamps_beyond_what_microseconds_hold_are_refused_by_row(
    tmp_path: Path,
) -> None:
    """A timestamp[ms] holding an epoch in nanoseconds (past the year 294,000, beyond what
    DuckDB's microseconds hold) was `file_unreadable … Could not convert Timestamp(MS) to
    Timestamp(US)`, naming no row (found by a tester): it is out of range on its row, as any
    other, and the file's other faults are listed with it."""
    good = int(at("2024-10-10T10:00+08:00").timestamp() * 1000)
    table = pa.table(
        {
            "order_id": ["A", "B", "C", "D"],
            "merchant_id": ["M-yiwu"] * 4,
            "industry": ["daily_goods"] * 4,
            "carrier": ["ZTO"] * 4,
            "origin_region": ["330782", "330782", "nowhere", "330782"],
            "destination_region": ["440305"] * 4,
            "paid_at": pa.array([good, good * 1_000_000, good, -good * 1_000_000], _MS_UTC),
            "signed_at": pa.array([good, None, good, good * 1_000_000], _MS_UTC),
        }
    )
    pq.write_table(table, tmp_path / "ns_as_ms.parquet")
    message = refused_rows(tmp_path / "ns_as_ms.parquet")
    assert message.startswith("ns_as_ms.parquet: "), message
    assert "row 2: paid_at out of range" in message
    assert "row 3: origin_region not a GB/T 2260" in message
    assert "row 4: paid_at out of range" in message and "row 4: signed_at out of range" in message


def test_a_refused_instant_stores_nothing(tmp_path: Path) -> None:
    history = ShipmentHistory(tmp_path / "data")
    lines = rows_file(3)
    lines[1] = row(1, paid="2024-10-10T10:00+25:00")
    with pytest.raises(InvalidInput) as refused:
        history.import_file(write_lines(tmp_path / "bad.csv", lines), now=NOW)
    assert refused.value.code == "import_rows_invalid"
    assert not history.imported_dir.exists() or not list(history.imported_dir.iterdir())
    assert not history.keys_path.exists()


# ------------------------------------------------------------ parcel numbers


def test_a_parquet_parcel_number_of_floats_holding_whole_numbers_is_read(tmp_path: Path) -> None:
    """pandas types an integer column with a blank as float64 (1.0, NaN, 2.0): every row was
    refused `parcel_number not a whole number` (its text was "1.0"). A whole float is that
    number, a blank is 1 as in a CSV, and a fraction is still refused."""
    seconds = pa.array(
        [int(at("2024-10-10T10:00+08:00").timestamp())] * 3, pa.timestamp("s", "UTC")
    )
    facts = {
        "order_id": ["A", "B", "A"],
        "merchant_id": ["M-yiwu"] * 3,
        "industry": ["daily_goods"] * 3,
        "carrier": ["ZTO"] * 3,
        "origin_region": ["330782"] * 3,
        "destination_region": ["440305"] * 3,
        "paid_at": seconds,
    }
    numbers = pa.array([1.0, None, 2.0], pa.float64())
    pq.write_table(pa.table({**facts, "parcel_number": numbers}), tmp_path / "floats.parquet")
    rows = validated_import(tmp_path / "floats.parquet", NOW)
    assert rows.column("parcel_number").to_pylist() == [1, 1, 2]
    fraction = pa.array([1.0, 1.5, 2.0], pa.float64())
    pq.write_table(pa.table({**facts, "parcel_number": fraction}), tmp_path / "half.parquet")
    message = refused_rows(tmp_path / "half.parquet")
    assert "row 2: parcel_number not a whole number" in message, message
    assert "row 1" not in message and "row 3" not in message, message


def test_blanks_around_a_key_are_padding_not_part_of_it(tmp_path: Path) -> None:
    """`" M-yiwu "` (an export's padding) was stored as a merchant apart from `M-yiwu`, whose
    parcels then left M-yiwu's sign rate and routes; no id the API takes holds a blank. The
    blanks around every key and label are dropped; the key itself is kept as it is."""
    lines = rows_file(2)
    facts = "M-yiwu,P-cups,daily_goods,ZTO"
    lines[1] = lines[1].replace(facts, " M-yiwu\t, P-cups ,daily_goods , ZTO ")
    first = lines[1].split(",")[0]
    lines[1] = lines[1].replace(first, f"  {first} ", 1)
    stored = validated_import(write_lines(tmp_path / "padded.csv", lines), NOW).to_pylist()
    padded, plain = stored
    for column in ("merchant_id", "product_id", "industry", "carrier"):
        assert padded[column] == plain[column], (column, padded[column])
    assert padded["order_id"] == first


def test_a_parquet_id_or_region_of_whole_floats_is_read_as_its_digits(tmp_path: Path) -> None:
    """pandas types an integer column with a blank as float64: order id 7 was stored as
    `7.0` (an order no fact of the engine names) and region 440305 refused as `not a GB/T
    2260 code` (its text `440305.0`). A whole float is its digits, NaN is blank."""
    seconds = pa.array(
        [int(at("2024-10-10T10:00+08:00").timestamp())] * 2, pa.timestamp("s", "UTC")
    )
    table = pa.table(
        {
            "order_id": pa.array([7.0, float("nan")], pa.float64()),
            "merchant_id": pa.array([12.0, 12.0], pa.float64()),
            "industry": ["daily_goods"] * 2,
            "carrier": ["ZTO"] * 2,
            "origin_region": pa.array([330782.0, 330782.0], pa.float64()),
            "destination_region": pa.array([440305.0, 440305.0], pa.float64()),
            "paid_at": seconds,
        }
    )
    pq.write_table(table, tmp_path / "floats.parquet")
    message = refused_rows(tmp_path / "floats.parquet")
    assert "1 bad row(s)" in message and "row 2: order_id missing" in message, message
    pq.write_table(table.slice(0, 1), tmp_path / "one.parquet")
    (stored,) = validated_import(tmp_path / "one.parquet", NOW).to_pylist()
    assert (stored["order_id"], stored["merchant_id"]) == ("7", "12")
    assert (stored["origin_region"], stored["destination_region"]) == ("330782", "440305")
