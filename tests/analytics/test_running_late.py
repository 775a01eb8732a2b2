"""The early signal (issue 17 item 3): a carrier running late from or to a province.

Parcels in transit say what signed ones cannot yet: when a carrier's parcels from a
province that started two days ago have signed far fewer than the same weekday's
parcels did at that age in the weeks before, the carrier runs late there, and the
labels of its parcels from or to that province are withdrawn at once, before they
fail (route_selection.running_late_sql, the table's level-6 rows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from buyerguard.analytics.eta import RUNNING_LATE_LEVEL, build_promise_table
from buyerguard.analytics.promise_lookup import Promise, PromiseIndex, promise_for
from buyerguard.analytics.promise_params import PromiseParams
from buyerguard.analytics.shipments import SHIPMENT_FACTS_SCHEMA
from buyerguard.clock import parse_instant
from buyerguard.rulebook import rulebook_at
from buyerguard.store.shipment_history import ShipmentHistory
from tests.analytics.conftest import History
from tests.analytics.test_analytics_eta import AS_OF, DAY, sh

PARAMS = PromiseParams.from_rulebook(rulebook_at(parse_instant("2024-10-15")))


def shenzhen_to_shanghai(history: Callable[[], History], *, last_days_signed: bool) -> History:
    """SF from Shenzhen to Shanghai, 20 parcels a day paid at 10:00, signed the next day;
    with `last_days_signed` false the parcels of 03-29 and 03-30 are still in transit at
    the as-of instant (03-31 00:00)."""
    h = history()
    for day in range(1, 31):
        stuck = not last_days_signed and day >= 29
        h.add(sh(2024, 3, day, 10), None if stuck else DAY, count=20)
        h.add(sh(2024, 3, day, 10), DAY, count=20, carrier="YTO", product_id="P2")
    return h


def late_rows(table: pa.Table) -> list[tuple[str, str | None, str | None, int, float]]:
    return [
        (row["carrier"], row["origin"], row["destination"], row["sample_size"], row["probability"])
        for row in table.to_pylist()
        if row["level"] == RUNNING_LATE_LEVEL
    ]


def ask(index: PromiseIndex, carrier: str, product: str = "P1") -> Promise:
    return promise_for(
        index,
        product_id=product,
        merchant_id="M1",
        origin_region="440305",
        destination_region="310115",
        carrier=carrier,
        paid_at=sh(2024, 3, 31, 9),
        params=PARAMS,
    )


def test_a_carrier_whose_recent_parcels_have_not_signed_runs_late(
    con: duckdb.DuckDBPyConnection, history: Callable[[], History]
) -> None:
    shenzhen_to_shanghai(history, last_days_signed=False).load(con)
    table = build_promise_table(con, "shipments", "shipments_keys", AS_OF, PARAMS)
    # 03-29's 20 parcels (two days old) signed none; 03-22, 03-15 and 03-08's had all
    # signed within two days. From Guangdong and to Shanghai, for SF only.
    assert late_rows(table) == [
        ("SF", "440000", None, 20, 0.0),
        ("SF", None, "310000", 20, 0.0),
    ]
    index = PromiseIndex.from_table(table)
    sf, yto, unnamed = ask(index, "SF"), ask(index, "YTO", "P2"), ask(index, "")
    assert sf.label is None and sf.running_late is not None
    assert (sf.running_late.carrier, sf.running_late.recent_parcels) == ("SF", 20)
    assert sf.promised_date is not None  # the promise stands; only the label goes
    assert (yto.label, yto.running_late) == ("tomorrow", None)
    # A lookup that names no carrier may go with SF: the safe side.
    assert unnamed.label is None and unnamed.running_late is not None


def test_a_carrier_on_time_or_a_signal_turned_off_withdraws_nothing(
    con: duckdb.DuckDBPyConnection, history: Callable[[], History]
) -> None:
    shenzhen_to_shanghai(history, last_days_signed=True).load(con)
    table = build_promise_table(con, "shipments", "shipments_keys", AS_OF, PARAMS)
    assert late_rows(table) == []
    assert ask(PromiseIndex.from_table(table), "SF").label == "tomorrow"
    con.execute("DROP TABLE shipments")
    con.execute("DROP TABLE shipments_keys")
    shenzhen_to_shanghai(history, last_days_signed=False).load(con)
    off = replace(PARAMS, late_min_expected=0)
    assert late_rows(build_promise_table(con, "shipments", "shipments_keys", AS_OF, off)) == []
    # Too few parcels to expect ten signed by now: not judged.
    fewer = replace(PARAMS, late_min_expected=21)
    assert late_rows(build_promise_table(con, "shipments", "shipments_keys", AS_OF, fewer)) == []


def test_the_same_weekday_is_the_baseline(
    con: duckdb.DuckDBPyConnection, history: Callable[[], History]
) -> None:
    """One weekday's parcels always take three days (its merchants ship later): two days on
    they have signed none, and that is no sign of trouble — they are compared with the same
    weekday's parcels of earlier weeks, which had signed none either, not with the days
    between (a week of mixed days would expect 17 signed and call the carrier late)."""
    h = history()
    for day in range(1, 31):
        slow = day % 7 == 3  # 03-03, 03-10, 03-17, 03-24
        h.add(sh(2024, 3, day, 10), 3 * DAY if slow else DAY, count=20)
    h.load(con)
    as_of = sh(2024, 3, 26)  # the recent cohort: 03-24
    assert late_rows(build_promise_table(con, "shipments", "shipments_keys", as_of, PARAMS)) == []


def test_a_carrier_running_late_is_no_route_of_the_published_table(
    tmp_path: Path, history: Callable[[], History]
) -> None:
    """The build's `routes` counts levels 1-5 only: a cut-off or a carrier running late is
    not a route."""
    h = shenzhen_to_shanghai(history, last_days_signed=False)
    store = ShipmentHistory(tmp_path / "data")
    facts = h.table()
    ones = pa.repeat(pa.scalar(1, pa.int32()), facts.num_rows)
    store.store_parcels(facts.append_column("parcel_number", ones), AS_OF)
    built = store.build_promises(SHIPMENT_FACTS_SCHEMA.empty_table(), AS_OF, PARAMS, "rb")
    levels = pq.read_table(built.path).column("level").to_pylist()
    assert levels.count(RUNNING_LATE_LEVEL) == 2
    assert built.routes == sum(1 for level in levels if 1 <= level <= 5)
