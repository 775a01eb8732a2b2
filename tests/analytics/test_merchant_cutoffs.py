"""A merchant's observed cut-off: read from its shipments, and the day a late payment's
promise counts from (analytics/merchant_cutoffs.py, eta.promise_for)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date

import duckdb
import pyarrow as pa

from buyerguard.analytics.eta import CUTOFF_LEVEL, build_promise_table
from buyerguard.analytics.promise_lookup import (
    Promise,
    PromiseIndex,
    lookup_promises_sql,
    promise_for,
)
from buyerguard.analytics.promise_params import PromiseParams
from buyerguard.analytics.shipments import region_levels
from buyerguard.clock import parse_instant
from buyerguard.rulebook import rulebook_at
from tests.analytics.conftest import History
from tests.analytics.test_analytics_eta import AS_OF, DAY, HOUR, sh

PARAMS = PromiseParams.from_rulebook(rulebook_at(parse_instant("2024-10-15")))


def cutoff_history(history: Callable[[], History]) -> History:
    """M1 (cut-off between 16:00 and 18:00): paid at 10:00 it ships the same day and is
    signed the next day; paid at 18:00 it ships the next morning and is signed a day after
    that. M2 pays at one hour only; M3 ships every order the same day, early or late."""
    h = history()
    for day in range(1, 31):
        morning, evening = sh(2024, 3, day, 10), sh(2024, 3, day, 18)
        h.add(morning, DAY, shipped_after=2 * HOUR)
        h.add(evening, 2 * DAY - 2 * HOUR, shipped_after=16 * HOUR)
        h.add(morning, DAY, merchant_id="M2", product_id="P2", destination_region="310104")
        for paid in (morning, evening):
            h.add(
                paid,
                DAY,
                merchant_id="M3",
                product_id="P3",
                origin_region="440106",
                shipped_after=HOUR,
            )
    return h


def cutoffs(table: pa.Table) -> dict[str, tuple[int, int]]:
    return {
        row["merchant_id"]: (row["cutoff_hour"], row["sample_size"])
        for row in table.to_pylist()
        if row["level"] == CUTOFF_LEVEL
    }


def ask(index: PromiseIndex, hour: int, merchant: str = "M1", product: str = "P1") -> Promise:
    return promise_for(
        index,
        product_id=product,
        merchant_id=merchant,
        origin_region="440305",
        destination_region="310115",
        carrier="SF",
        paid_at=sh(2024, 3, 31, hour),
        params=PARAMS,
    )


def test_the_cut_off_is_the_first_hour_whose_parcels_ship_a_day_later(
    con: duckdb.DuckDBPyConnection, history: Callable[[], History]
) -> None:
    cutoff_history(history).load(con)
    table = build_promise_table(con, "shipments", "shipments_keys", AS_OF, PARAMS)
    # M1: a parcel at 10:00 and one at 18:00 each day; the lags of the 28 days paid at
    # least 3 days before the as-of day are read (03-29 .. 03-30: too recent). M2 has one
    # pay hour, M3 no jump in ship lag.
    assert cutoffs(table) == {"M1": (18, 56)}
    # Too few parcels on a side, or too small a jump: no cut-off.
    fewer = replace(PARAMS, cutoff_min_parcels=31)
    assert cutoffs(build_promise_table(con, "shipments", "shipments_keys", AS_OF, fewer)) == {}
    bigger = replace(PARAMS, cutoff_min_jump_days=PARAMS.cutoff_min_jump_days * 3)
    assert cutoffs(build_promise_table(con, "shipments", "shipments_keys", AS_OF, bigger)) == {}
    off = replace(PARAMS, cutoff_min_parcels=0)
    assert cutoffs(build_promise_table(con, "shipments", "shipments_keys", AS_OF, off)) == {}


def test_a_payment_after_the_cut_off_counts_from_the_next_day(
    con: duckdb.DuckDBPyConnection, history: Callable[[], History]
) -> None:
    cutoff_history(history).load(con)
    index = PromiseIndex.from_table(
        build_promise_table(con, "shipments", "shipments_keys", AS_OF, PARAMS)
    )
    # Learned from each parcel's start day, the route is a next-day one.
    early, late = ask(index, 10), ask(index, 19)
    assert (early.promised_date, early.label, early.start_date) == (
        date(2024, 4, 1),
        "tomorrow",
        date(2024, 3, 31),
    )
    assert (late.promised_date, late.label, late.cutoff_hour) == (
        date(2024, 4, 2),
        "day_after",
        18,
    )
    # Pooled, half the parcels take two days: the same route could only promise two days.
    pooled = PromiseIndex.from_table(
        build_promise_table(
            con, "shipments", "shipments_keys", AS_OF, replace(PARAMS, cutoff_min_parcels=0)
        )
    )
    assert ask(pooled, 10).label == "day_after"


def test_the_sql_lookup_applies_the_cut_off_as_promise_for_does(
    con: duckdb.DuckDBPyConnection, history: Callable[[], History]
) -> None:
    cutoff_history(history).load(con)
    table = build_promise_table(con, "shipments", "shipments_keys", AS_OF, PARAMS)
    con.register("promises", table)
    index = PromiseIndex.from_table(table)
    asks = [("P1", "M1", hour) for hour in (0, 10, 17, 18, 23)] + [("P3", "M3", 20)]
    parcels = []
    for number, (product, merchant, hour) in enumerate(asks):
        city, province = region_levels("440305")
        parcels.append(
            {
                "i": number,
                "product_id": product,
                "merchant_id": merchant,
                "origin_region": "440305",
                "origin_city": city,
                "origin_province": province,
                "destination_region": "310115",
                "destination_province": "310000",
                "carrier": "SF",
                "paid_at": sh(2024, 3, 31, hour),
            }
        )
    con.register("asks", pa.Table.from_pylist(parcels))
    got = con.sql(
        "SELECT i, promised_date, label, start_shift_days"
        f" FROM ({lookup_promises_sql('promises', 'asks', PARAMS)}) ORDER BY i"
    ).fetchall()
    expected = []
    for number, (product, merchant, hour) in enumerate(asks):
        answer = ask(index, hour, merchant, product)
        assert answer.start_date is not None
        shift = (answer.start_date - date(2024, 3, 31)).days
        expected.append((number, answer.promised_date, answer.label, shift))
    assert got == expected
    assert [row[3] for row in got] == [0, 0, 0, 1, 1, 0]
