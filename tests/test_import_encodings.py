"""CSV encodings at import: Chinese Excel saves CSV as GBK.

UTF-8 is read as it is (a byte-order mark too); a GBK or GB18030 file is refused in one
line that names the encoding to ask for, and imported with `--encoding gb18030`; a file
that is not in the encoding asked for, an unknown encoding, an encoding for a Parquet
file and any file DuckDB cannot read are each one line on stderr, exit 2, nothing stored.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from buyerguard.cli import app
from buyerguard.errors import InvalidInput
from buyerguard.store.shipment_import import validated_import
from tests.conftest import at
from tests.test_logistics import COLUMNS, next_day_history

NOW = at("2024-10-20T10:00:00+08:00")
CARRIER = "顺丰速运"  # SF Express, as a Chinese export names it
MERCHANT = "义乌杯子厂"


def chinese_rows(count: int = 3) -> list[dict[str, str]]:
    rows = next_day_history(count=count)
    for row in rows:
        row["carrier"], row["merchant_id"] = CARRIER, MERCHANT
    return rows


def write_encoded(path: Path, rows: list[dict[str, str]], encoding: str) -> Path:
    with path.open("w", newline="", encoding=encoding) as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def refusal(path: Path, encoding: str = "utf-8") -> InvalidInput:
    with pytest.raises(InvalidInput) as refused:
        validated_import(path, NOW, encoding=encoding)
    assert "\n" not in refused.value.message
    return refused.value


@pytest.mark.parametrize("encoding", ["gbk", "gb18030"])
def test_a_gbk_export_is_refused_as_utf8_and_read_as_gb18030(tmp_path: Path, encoding: str) -> None:
    path = write_encoded(tmp_path / "export.csv", chinese_rows(), encoding)
    refused = refusal(path)
    assert refused.code == "file_not_utf8" and "gb18030" in refused.message
    rows = validated_import(path, NOW, encoding="gb18030")
    assert set(rows.column("carrier").to_pylist()) == {CARRIER}
    assert set(rows.column("merchant_id").to_pylist()) == {MERCHANT}


def test_utf8_with_a_byte_order_mark_is_utf8_and_not_gb18030(tmp_path: Path) -> None:
    path = write_encoded(tmp_path / "excel-utf8.csv", chinese_rows(), "utf-8-sig")
    assert set(validated_import(path, NOW).column("carrier").to_pylist()) == {CARRIER}
    refused = refusal(path, "gb18030")
    assert refused.code == "file_encoding" and "byte-order mark" in refused.message


def test_a_file_that_is_not_gb18030_is_refused_at_its_first_bad_byte(tmp_path: Path) -> None:
    path = write_encoded(tmp_path / "export.csv", chinese_rows(), "gbk")
    data = path.read_bytes()
    path.write_bytes(data[:40] + b"\x81\x20" + data[40:])  # a lead byte with no trail byte
    refused = refusal(path, "gb18030")
    assert refused.code == "file_encoding" and "byte 40" in refused.message


def test_unknown_encodings_and_an_encoding_for_parquet_are_refused(tmp_path: Path) -> None:
    path = write_encoded(tmp_path / "export.csv", chinese_rows(), "utf-8")
    assert refusal(path, "latin-1").code == "encoding_unknown"
    parquet = tmp_path / "export.parquet"
    pq.write_table(pa.table({"order_id": ["O1"]}), parquet)
    assert refusal(parquet, "gb18030").code == "encoding_not_csv"


def test_a_file_duckdb_cannot_read_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1" + bytes(range(256)) * 4)  # no footer
    refused = refusal(path)
    assert refused.code == "file_unreadable" and refused.message.startswith("broken.parquet: ")


def test_the_cli_refuses_in_one_line_and_imports_with_the_encoding_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUYERGUARD_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    monkeypatch.setenv("BUYERGUARD_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    path = write_encoded(tmp_path / "export.csv", chinese_rows(4), "gbk")
    refused = runner.invoke(app, ["shipments", "import", str(path)])
    assert refused.exit_code == 2
    assert refused.stderr.count("\n") == 1 and refused.stderr.startswith("error: file_not_utf8")
    imported_dir = tmp_path / "data" / "shipments" / "imported"
    assert not imported_dir.exists() or not list(imported_dir.iterdir())
    unknown = runner.invoke(app, ["shipments", "import", str(path), "--encoding", "big5"])
    assert unknown.exit_code == 2 and unknown.stderr.startswith("error: encoding_unknown")
    done = runner.invoke(app, ["shipments", "import", str(path), "--encoding", "gb18030"])
    assert done.exit_code == 0, done.stderr
    assert "4 new parcel(s)" in done.output
    stored = pa.concat_tables([pq.read_table(p) for p in imported_dir.glob("*.parquet")])
    assert set(stored.column("carrier").to_pylist()) == {CARRIER}
    assert set(stored.column("merchant_id").to_pylist()) == {MERCHANT}
