"""Parcel updates in the shipment history (issue 17, item 1).

A parcel is (order id, parcel number); a row for a parcel already stored
replaces it, a row equal to the stored one stores nothing, the engine's own
row replaces an imported one. Parquet timestamps of any unit with a zone are
accepted, zoneless ones refused; stored files follow the umask; replaced
rows are compacted away without ever reviving an older one, and never under
a reader; a data directory of the previous release is read as it was meant
(one row per parcel, the latest). The storage tests need no database; those
through the engine run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import os
import shutil
import stat
import tarfile
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from buyerguard.analytics.promise_params import PromiseParams
from buyerguard.analytics.shipments import SHIPMENT_FACTS_SCHEMA
from buyerguard.analytics.sign_rate import SignRateParams
from buyerguard.bootstrap import Runtime
from buyerguard.cli import app
from buyerguard.clock import format_instant
from buyerguard.errors import BuyerguardError
from buyerguard.rulebook import rulebooks
from buyerguard.services import promises
from buyerguard.services.context import OPERATOR
from buyerguard.store.shipment_history import ShipmentHistory
from tests.conftest import Api, at
from tests.test_logistics import COLUMNS, next_day_history, parcel, write_csv

NOW = at("2024-10-20T10:00:00+08:00")
AS_OF = at("2024-10-20T00:00:00+08:00")
FIXTURE = Path(__file__).parent / "fixtures" / "shipments_a5e3730" / "data.tar"
NO_ENGINE_FACTS = SHIPMENT_FACTS_SCHEMA.empty_table()
UNITS = ("s", "ms", "us", "ns")


def write_parquet(path: Path, rows: list[dict[str, str]], instant_type: pa.DataType) -> Path:
    """`rows` (CSV-shaped, as `parcel` makes them) as Parquet, instants of `instant_type`."""
    instants = ("paid_at", "shipped_at", "signed_at")
    columns: dict[str, pa.Array] = {}
    for name in COLUMNS:
        if name in instants:
            values = [int(at(row[name]).timestamp()) if row[name] else None for row in rows]
            seconds = pa.array(values, pa.timestamp("s", tz="UTC"))
            columns[name] = seconds.cast(instant_type)
        elif name == "official_logistics":
            columns[name] = pa.array([row[name] == "true" for row in rows])
        else:
            columns[name] = pa.array([row[name] for row in rows])
    pq.write_table(pa.table(columns), path)
    return path


def stored(history: ShipmentHistory, facts: pa.Table = NO_ENGINE_FACTS) -> list[dict[str, Any]]:
    """The parcels the jobs read (the history view), sorted by parcel."""
    with history.analytics_session() as con:
        view, _ = history.open_history(con, facts)
        rows = con.sql(f"SELECT * FROM {view}").to_arrow_table().to_pylist()
    return sorted(rows, key=lambda row: (row["order_id"], row.get("parcel_number", 1)))


def imported_files(history: ShipmentHistory) -> list[Path]:
    return sorted(history.imported_dir.glob("*.parquet")) if history.imported_dir.exists() else []


def signed(
    rows: list[dict[str, str]], after: timedelta = timedelta(hours=22)
) -> list[dict[str, str]]:
    return [{**row, "signed_at": format_instant(at(row["paid_at"]) + after)} for row in rows]


def in_transit(count: int) -> list[dict[str, str]]:
    """`count` parcels paid on 10-01 .. 10-05, shipped, none signed yet."""
    first = at("2024-10-01T09:00:00+08:00")
    return [parcel(f"T{i:03d}", first + timedelta(minutes=50 * i), None) for i in range(count)]


# ------------------------------------------------------------------ timestamps


@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai"])
@pytest.mark.parametrize("unit", UNITS)
def test_parquet_timestamps_of_any_unit_with_a_zone_are_accepted(
    tmp_path: Path, unit: str, zone: str
) -> None:
    history = ShipmentHistory(tmp_path / "data")
    rows = next_day_history(count=3)
    path = write_parquet(tmp_path / "h.parquet", rows, pa.timestamp(unit, tz=zone))
    assert history.import_file(path, now=NOW) == 3
    got = stored(history)
    assert [row["paid_at"] for row in got] == [at(row["paid_at"]) for row in rows]
    assert [row["signed_at"] for row in got] == [at(row["signed_at"]) for row in rows]


def test_nanoseconds_are_truncated_to_the_microsecond(tmp_path: Path) -> None:
    history = ShipmentHistory(tmp_path / "data")
    rows = next_day_history(count=1)
    path = tmp_path / "ns.parquet"
    write_parquet(path, rows, pa.timestamp("ns", tz="UTC"))
    table = pq.read_table(path)
    paid_ns = table.column("paid_at").cast(pa.int64()).to_pylist()[0] + 999  # …000999 ns
    table = table.set_column(
        table.schema.get_field_index("paid_at"),
        "paid_at",
        pa.array([paid_ns], pa.int64()).cast(pa.timestamp("ns", tz="UTC")),
    )
    pq.write_table(table, path)
    history.import_file(path, now=NOW)
    assert stored(history)[0]["paid_at"] == at(rows[0]["paid_at"])  # 999 ns dropped, not rounded


@pytest.mark.parametrize("unit", UNITS)
@pytest.mark.parametrize("column", ["paid_at", "signed_at"])
def test_zoneless_timestamps_are_refused_naming_the_column(
    tmp_path: Path, unit: str, column: str
) -> None:
    history = ShipmentHistory(tmp_path / "data")
    path = write_parquet(
        tmp_path / "naive.parquet", next_day_history(count=2), pa.timestamp(unit, tz="UTC")
    )
    table = pq.read_table(path)
    index = table.schema.get_field_index(column)
    naive = table.column(column).cast(pa.timestamp(unit))  # the same instants, zone dropped
    pq.write_table(table.set_column(index, column, naive), path)
    with pytest.raises(BuyerguardError) as refused:
        history.import_file(path, now=NOW)
    assert refused.value.code == "import_timestamp_without_zone"
    stored_unit = "ms" if unit == "s" else unit  # Parquet has no seconds unit
    assert refused.value.message.startswith(f"naive.parquet: {column} is timestamp[{stored_unit}]")
    assert "without a time zone" in refused.value.message
    assert imported_files(history) == [] and not history.keys_path.exists()


def test_instants_of_another_type_are_refused_naming_the_column(tmp_path: Path) -> None:
    history = ShipmentHistory(tmp_path / "data")
    path = write_parquet(tmp_path / "epoch.parquet", next_day_history(count=2), pa.int64())
    with pytest.raises(BuyerguardError) as refused:
        history.import_file(path, now=NOW)
    assert refused.value.code == "import_timestamp_type"
    assert refused.value.message.startswith("epoch.parquet: paid_at is int64, neither")
    assert imported_files(history) == []


def test_cli_refuses_zoneless_timestamps_with_exit_2_and_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUYERGUARD_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    monkeypatch.setenv("BUYERGUARD_DATA_DIR", str(tmp_path / "data"))
    path = write_parquet(tmp_path / "naive.parquet", next_day_history(count=2), pa.timestamp("ns"))
    result = CliRunner().invoke(app, ["shipments", "import", str(path)])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: import_timestamp_without_zone")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "data" / "shipments" / "imported").exists()


# ------------------------------------------------------------ parcel updates


def test_a_signed_refresh_replaces_the_in_transit_extract(tmp_path: Path) -> None:
    history = ShipmentHistory(tmp_path / "data")
    extract = in_transit(100)
    assert history.import_file(write_csv(tmp_path / "a.csv", extract), now=NOW) == 100
    assert history.import_file(write_csv(tmp_path / "b.csv", signed(extract)), now=NOW) == 100
    parcels = stored(history)
    assert len(parcels) == 100
    assert all(row["signed_at"] is not None for row in parcels)
    rates = history.sign_rates(NO_ENGINE_FACTS, AS_OF, SignRateParams(30, 72, 1)).to_pylist()
    assert [(r["merchant_id"], r["orders"], r["signed_within"]) for r in rates] == [
        ("M-yiwu", 100, 100)
    ]


def test_an_update_stores_only_the_parcels_that_changed(tmp_path: Path) -> None:
    history = ShipmentHistory(tmp_path / "data")
    extract = in_transit(40)
    history.import_file(write_csv(tmp_path / "a.csv", extract), now=NOW)
    refresh = signed(extract[:10]) + extract[10:] + in_transit(45)[40:]  # 10 signed, 5 new
    outcome = history.import_parcels(write_csv(tmp_path / "b.csv", refresh), now=NOW)
    assert (outcome.new, outcome.updated, outcome.unchanged) == (5, 10, 30)
    # The import's file holds the 15; the first, a quarter replaced, was compacted to 30.
    sizes = sorted(pq.read_metadata(path).num_rows for path in imported_files(history))
    assert sizes == [15, 30]
    parcels = stored(history)
    assert len(parcels) == 45
    assert sum(row["signed_at"] is not None for row in parcels) == 10


def test_the_same_file_twice_stores_nothing_new(tmp_path: Path) -> None:
    history = ShipmentHistory(tmp_path / "data")
    path = write_csv(tmp_path / "h.csv", next_day_history())
    assert history.import_file(path, now=NOW) == 25
    files, codebook = imported_files(history), history.keys_path.read_bytes()
    assert history.import_file(path, now=NOW) == 0
    outcome = history.import_parcels(path, now=NOW)
    assert (outcome.new, outcome.updated, outcome.unchanged) == (0, 0, 25)
    assert imported_files(history) == files and history.keys_path.read_bytes() == codebook
    assert len(stored(history)) == 25


def test_a_parcel_moves_from_paid_to_shipped_to_signed(tmp_path: Path) -> None:
    history = ShipmentHistory(tmp_path / "data")
    paid = at("2024-10-10T09:00:00+08:00")
    row = parcel("P1", paid, None)
    states = [
        {**row, "shipped_at": ""},
        row,
        {**row, "signed_at": format_instant(paid + timedelta(hours=30))},
    ]
    for n, state in enumerate(states):
        history.import_file(write_csv(tmp_path / f"{n}.csv", [state]), now=NOW)
        (only,) = stored(history)
        assert only["shipped_at"] == (at(state["shipped_at"]) if state["shipped_at"] else None)
        assert only["signed_at"] == (at(state["signed_at"]) if state["signed_at"] else None)


def rows_on_disk(history: ShipmentHistory) -> int:
    return sum(pq.read_metadata(path).num_rows for path in imported_files(history))


def test_compaction_drops_replaced_rows_and_never_revives_an_older_one(tmp_path: Path) -> None:
    """P0 in transit (file 1, ten parcels), shipped (file 2), signed (file 3).

    File 3 replaces all of file 2, which is deleted; file 1 (one row in ten
    replaced) stays as it is. P0's first row must stay replaced although
    the row that first replaced it is gone: the newest row names it too.
    """
    history = ShipmentHistory(tmp_path / "data")
    extract = in_transit(10)
    for n, rows in enumerate(
        [
            [{**row, "shipped_at": ""} for row in extract],
            [extract[0]],
            signed(extract[:1]),
        ]
    ):
        history.import_file(write_csv(tmp_path / f"{n}.csv", rows), now=NOW)
    assert sorted(pq.read_metadata(path).num_rows for path in imported_files(history)) == [1, 10]
    parcels = stored(history)
    assert len(parcels) == 10
    assert [row["order_id"] for row in parcels if row["signed_at"]] == ["T000"]
    assert history.compact_imports(at_share=0.01) == 1  # file 1 without P0's first row
    assert rows_on_disk(history) == 10
    assert stored(history) == parcels


def test_no_file_a_session_may_read_is_rewritten_under_it(tmp_path: Path) -> None:
    history = ShipmentHistory(tmp_path / "data")
    extract = in_transit(10)
    history.import_file(write_csv(tmp_path / "a.csv", extract), now=NOW)
    with history.analytics_session() as con:
        view, _ = history.open_history(con, NO_ENGINE_FACTS)
        # Replaces every row of the first file, which is not deleted while the view is open.
        history.import_file(write_csv(tmp_path / "b.csv", signed(extract)), now=NOW)
        assert len(imported_files(history)) == 2
        unsigned = con.execute(f"SELECT count(*) FROM {view} WHERE signed_at IS NULL").fetchone()
        assert unsigned == (10,)  # the view reads the files of the moment it was opened
    assert rows_on_disk(history) == 20
    assert history.compact_imports() == 1
    assert rows_on_disk(history) == 10 and len(stored(history)) == 10


def test_a_copied_file_is_refused_rather_than_read_twice(tmp_path: Path) -> None:
    history = ShipmentHistory(tmp_path / "data")
    history.import_file(write_csv(tmp_path / "h.csv", next_day_history()), now=NOW)
    (path,) = imported_files(history)
    shutil.copy(path, path.with_name("copy.parquet"))
    with pytest.raises(BuyerguardError) as refused:
        stored(history)
    assert refused.value.code == "history_import_repeated"
    assert "copy.parquet" in refused.value.message


def write_numbered(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*COLUMNS, "parcel_number"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_an_order_in_several_parcels(tmp_path: Path) -> None:
    history = ShipmentHistory(tmp_path / "data")
    paid = at("2024-10-10T09:00:00+08:00")
    whole = parcel("A", paid, None)
    history.import_file(write_csv(tmp_path / "a.csv", [whole]), now=NOW)
    split = [
        {**whole, "parcel_number": "1", "signed_at": format_instant(paid + timedelta(hours=20))},
        {**whole, "parcel_number": "2"},
    ]
    history.import_file(write_numbered(tmp_path / "b.csv", split), now=NOW)
    parcels = stored(history)
    # The order's only parcel was its parcel 1: numbered now, it is replaced, not doubled.
    assert [(row["order_id"], row["parcel_number"]) for row in parcels] == [("A", 1), ("A", 2)]
    assert parcels[0]["signed_at"] is not None and parcels[1]["signed_at"] is None


@pytest.mark.parametrize(
    ("numbers", "expected"),
    [
        (["1", "1"], "row 2: parcel_number duplicated in the file"),
        (["", "1"], "row 2: parcel_number duplicated in the file"),
        (["0", "2"], "row 1: parcel_number not a whole number from 1"),
        (["x", "2"], "row 1: parcel_number not a whole number from 1"),
        (["1.5", "2"], "row 1: parcel_number not a whole number from 1"),
    ],
)
def test_bad_parcel_numbers_are_refused(tmp_path: Path, numbers: list[str], expected: str) -> None:
    history = ShipmentHistory(tmp_path / "data")
    row = parcel("A", at("2024-10-10T09:00:00+08:00"), None)
    rows = [{**row, "parcel_number": number} for number in numbers]
    with pytest.raises(BuyerguardError) as refused:
        history.import_file(write_numbered(tmp_path / "bad.csv", rows), now=NOW)
    assert refused.value.code == "import_rows_invalid"
    assert expected in refused.value.message
    assert imported_files(history) == []


def test_concurrent_updates_of_the_same_parcels_leave_one_row_each(tmp_path: Path) -> None:
    history = ShipmentHistory(tmp_path / "data")
    extract = in_transit(30)
    history.import_file(write_csv(tmp_path / "a.csv", extract), now=NOW)
    refreshes = [signed(extract, timedelta(hours=20 + n)) for n in range(6)]
    paths = [write_csv(tmp_path / f"r{n}.csv", rows) for n, rows in enumerate(refreshes)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda path: history.import_file(path, now=NOW), paths))
    parcels = stored(history)
    assert len(parcels) == 30
    delays = {row["signed_at"] - row["paid_at"] for row in parcels}
    assert len(delays) == 1  # every parcel took the same (last) refresh, whichever it was


def test_the_engines_row_replaces_an_imported_row_of_the_same_order(
    api: Api, rt: Runtime, tmp_path: Path
) -> None:
    order = {"id": "O-1", "buyer_id": "B-shop", "lines": [{"product_id": "P-cups", "quantity": 10}]}
    placed = api.post("marketplace", "/v1/orders", order)
    assert placed.status_code == 201, placed.text
    paid = api.post("marketplace", "/v1/orders/O-1/payment", {"amount": placed.json()["total"]})
    assert paid.status_code == 200, paid.text
    shipment = {"carrier": "YTO", "tracking_number": "YT1", "official_logistics": True}
    assert api.post("marketplace", "/v1/orders/O-1/shipment", shipment).status_code == 200
    # A carrier feed restates O-1 (signed, another carrier) beside an order of its own.
    feed = [
        parcel("O-1", at("2024-10-20T07:00:00+08:00"), timedelta(hours=2, minutes=50)),
        parcel("X-1", at("2024-10-19T09:00:00+08:00"), timedelta(hours=20)),
    ]
    rt.history.import_file(write_csv(tmp_path / "feed.csv", feed), now=rt.clock.now())
    with rt.reading(OPERATOR) as ctx:
        facts = ShipmentHistory.engine_facts(ctx.connection)
        built = promises.build(ctx, rt.clock.now())
    parcels = stored(rt.history, facts)
    assert [row["order_id"] for row in parcels] == ["O-1", "X-1"]
    engine_row = parcels[0]
    assert (engine_row["carrier"], engine_row["signed_at"]) == ("YTO", None)  # the engine's
    assert built["shipments"] == 2
    # Signed in the engine later: the next build reads the new state, still once.
    assert api.post("marketplace", "/v1/orders/O-1/signing").status_code == 200
    with rt.reading(OPERATOR) as ctx:
        facts = ShipmentHistory.engine_facts(ctx.connection)
    (engine_row, _) = stored(rt.history, facts)
    assert engine_row["signed_at"] is not None and engine_row["carrier"] == "YTO"


# ------------------------------------------------------------ files on disk


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_stored_files_follow_the_umask(tmp_path: Path, umask: int) -> None:
    history = ShipmentHistory(tmp_path / "data")
    previous = os.umask(umask)
    try:
        history.import_file(write_csv(tmp_path / "h.csv", next_day_history()), now=NOW)
        params = PromiseParams.from_rulebook(rulebooks().at(AS_OF))
        history.build_promises(NO_ENGINE_FACTS, AS_OF, params, "test")
    finally:
        os.umask(previous)
    files = [path for path in (tmp_path / "data").rglob("*") if path.is_file()]
    assert {path.name for path in files} >= {"keys.parquet", "current.json"}
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path.name


def unpack_previous_release(root: Path) -> None:
    """The data directory release a5e3730 wrote (tests/fixtures/shipments_a5e3730)."""
    with tarfile.open(FIXTURE) as tar:
        tar.extractall(root, filter="data")


def test_a_data_directory_of_the_previous_release_is_upgraded(tmp_path: Path) -> None:
    """The fixture: release a5e3730 imported 100 parcels in transit, then signed (200 rows)."""
    unpack_previous_release(tmp_path / "data")
    history = ShipmentHistory(tmp_path / "data")
    assert history.upgrade_imports() == 2
    assert history.upgrade_imports() == 0
    parcels = stored(history)
    assert len(parcels) == 100
    assert rows_on_disk(history) == 100  # the in-transit file, wholly replaced, is gone
    assert all(row["signed_at"] is not None for row in parcels)
    again = signed(
        [
            parcel(f"F{i:03d}", at("2024-10-01T09:00:00+08:00") + timedelta(minutes=6 * i), None)
            for i in range(100)
        ]
    )
    assert history.import_file(write_csv(tmp_path / "again.csv", again), now=NOW) == 0


def test_a_previous_release_directory_is_read_without_an_upgrade_first(
    api: Api, rt: Runtime
) -> None:
    """A build on the old directory as it is: 100 parcels, not 200, each signed.

    They were paid on National Day, which the production model does not learn from, so the
    route's sample is read from a build that counts every day."""
    unpack_previous_release(rt.history.root)
    with rt.reading(OPERATOR) as ctx:
        built = promises.build(ctx, AS_OF)
    assert built["shipments"] == 100
    answer = api.get("buyer", "/v1/promises?product_id=P-cups&destination=440305").json()
    assert (answer["backoff_level"], answer["sample_size"]) == (None, 0)
    params = PromiseParams.from_rulebook(rulebooks().at(AS_OF))
    every_day = rt.history.build_promises(NO_ENGINE_FACTS, AS_OF, params, "test")
    table = pq.read_table(every_day.path).to_pylist()
    assert {row["sample_size"] for row in table if row["level"] == 1} == {100}


# ------------------------------------------------ any sequence of updates


ORDERS = ("A", "B", "C")
NUMBERS = ("", "2")


@st.composite
def imports(draw: st.DrawFn) -> list[dict[tuple[str, int], dict[str, str]]]:
    """A few import files over a handful of parcels, each parcel in some state."""
    paid = at("2024-10-10T09:00:00+08:00")
    files = []
    for _ in range(draw(st.integers(1, 5))):
        chosen = draw(
            st.lists(st.sampled_from([(o, n) for o in ORDERS for n in NUMBERS]), unique=True)
        )
        rows = {}
        for order, number in chosen:
            hours = draw(st.sampled_from([None, 20, 30]))
            row = parcel(order, paid, timedelta(hours=hours) if hours else None)
            row["carrier"] = draw(st.sampled_from(["SF", "YTO"]))
            rows[(order, int(number or 1))] = {**row, "parcel_number": number}
        files.append(rows)
    return files


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(files=imports())
def test_any_sequence_of_imports_leaves_the_latest_row_of_each_parcel(
    tmp_path_factory: pytest.TempPathFactory, files: list[dict[tuple[str, int], dict[str, str]]]
) -> None:
    tmp_path = tmp_path_factory.mktemp("sequence")
    history = ShipmentHistory(tmp_path / "data")
    latest: dict[tuple[str, int], dict[str, str]] = {}
    for n, rows in enumerate(files):
        changed = sum(1 for key, row in rows.items() if latest.get(key) != row)
        path = write_numbered(tmp_path / f"{n}.csv", list(rows.values()))
        assert history.import_file(path, now=NOW) == changed
        latest.update(rows)
    parcels = stored(history)
    assert [(row["order_id"], row["parcel_number"]) for row in parcels] == sorted(latest)
    for row in parcels:
        expected = latest[(row["order_id"], row["parcel_number"])]
        assert row["carrier"] == expected["carrier"]
        signed_at = at(expected["signed_at"]) if expected["signed_at"] else None
        assert row["signed_at"] == signed_at
    history.compact_imports(at_share=0.01)  # every replaced row dropped from disk
    assert rows_on_disk(history) == len(latest)
    assert stored(history) == parcels
