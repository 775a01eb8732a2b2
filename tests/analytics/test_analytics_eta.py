"""Promise model: back-off levels, censoring and the midnight boundary, with known answers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from buyerguard.analytics.eta import build_promise_table, create_promise_table
from buyerguard.analytics.promise_lookup import PromiseIndex, lookup_promises_sql, promise_for
from buyerguard.analytics.promise_params import PromiseParams
from buyerguard.analytics.shipments import region_levels
from buyerguard.clock import SHANGHAI, parse_instant
from buyerguard.errors import InvalidInput
from buyerguard.rulebook import rulebook_at
from tests.analytics.conftest import History

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
# The round-1 model (pay-day window, nothing lost, no shrinkage): every expected
# value below is the one the build gave before the lost rule, the observed
# window and shrinkage existed, so these tests prove the old tables are kept.
# The default model is tested in test_analytics_shrinkage.py.
PARAMS = PromiseParams.from_rulebook(rulebook_at(parse_instant("2024-10-15"))).old_model()
DEFAULT_PROMISE = PARAMS


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Shanghai wall-clock time as a UTC instant."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


AS_OF = sh(2024, 3, 31)  # window: paid in [03-01 00:00, 03-31 00:00) Shanghai


def rows_by_key(table: pa.Table) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {
        (
            r["level"],
            r["product_id"],
            r["merchant_id"],
            r["origin"],
            r["destination"],
            r["carrier"],
        ): r
        for r in table.to_pylist()
    }


def backoff_history(history: Callable[[], History]) -> History:
    """Five routes, each answered at a different level with a different promise."""
    h = history()
    paid = sh(2024, 3, 10, 10)
    # Level 1: P1 Shenzhen-Nanshan → Shanghai-Pudong, 20 parcels, all next day.
    h.add(paid, DAY, count=20, product_id="P1", merchant_id="M1")
    # P2 has only 19 parcels on its route (→ Xuhui), 3 days: backs off to merchant M1.
    h.add(paid, 3 * DAY, count=19, product_id="P2", destination_region="310104")
    # Two Guangzhou merchants with 10 parcels each: only the city level has 20.
    h.add(paid, 2 * DAY, count=10, product_id="P3", merchant_id="M2", origin_region="440106")
    h.add(paid, 4 * DAY, count=10, product_id="P4", merchant_id="M3", origin_region="440104")
    # Beijing → Tianjin, same carrier: 60 parcels the same day, only visible carrier-wide
    # from a route with no history of its own.
    h.add(
        sh(2024, 3, 10, 9),
        HOUR,
        count=60,
        product_id="P9",
        merchant_id="M9",
        origin_region="110105",
        destination_region="120101",
    )
    return h


def test_each_backoff_level_is_chosen_with_its_own_answer(
    con: duckdb.DuckDBPyConnection, history: Callable[[], History]
) -> None:
    backoff_history(history).load(con)
    table = build_promise_table(con, "shipments", "shipments_keys", AS_OF, PARAMS)
    index = PromiseIndex.from_table(table)
    paid = sh(2024, 3, 31, 10)

    def ask(**route: Any) -> tuple[Any, ...]:
        base: dict[str, Any] = {
            "product_id": "P1",
            "merchant_id": "M1",
            "origin_region": "440305",
            "destination_region": "310115",
            "carrier": "SF",
        }
        base.update(route)
        p = promise_for(index, paid_at=paid, params=PARAMS, **base)
        return p.backoff_level, p.promised_date, p.label, p.probability, p.sample_size

    # 1: the product's own route, CDF(1) = 20/20.
    assert ask() == (1, date(2024, 4, 1), "tomorrow", pytest.approx(1.0), 20)
    # 2: P2's route has 19; merchant M1 Shenzhen → Shanghai has 39: 20 at 1 day, 19 at 3.
    assert ask(product_id="P2", destination_region="310104") == (
        2,
        date(2024, 4, 3),
        None,
        pytest.approx(1.0),
        39,
    )
    # 3: M2 has 10 of its own; Guangzhou → Shanghai has 20: 10 at 2 days, 10 at 4.
    assert ask(product_id="P3", merchant_id="M2", origin_region="440106") == (
        3,
        date(2024, 4, 4),
        None,
        pytest.approx(1.0),
        20,
    )
    # 4: a new Jiangmen merchant: Guangdong → Shanghai has 59 parcels;
    # CDF = 20/59, 30/59, 49/59 (< 0.9), 59/59 at 1..4 days.
    assert ask(product_id="PX", merchant_id="MX", origin_region="440703") == (
        4,
        date(2024, 4, 4),
        None,
        pytest.approx(1.0),
        59,
    )
    # 5: Beijing → Urumqi has nothing: carrier-wide over all 119 parcels,
    # CDF(3) = (60 + 20 + 10 + 19) / 119 = 109/119 ≥ 0.9.
    assert ask(
        product_id="PX", merchant_id="MX", origin_region="110105", destination_region="650102"
    ) == (5, date(2024, 4, 3), None, pytest.approx(109 / 119), 119)
    # No level: an unknown carrier gets no promise at all.
    none = promise_for(
        index,
        product_id="PX",
        merchant_id="MX",
        origin_region="110105",
        destination_region="650102",
        carrier="YTO",
        paid_at=paid,
        params=PARAMS,
    )
    assert (none.promised_date, none.label, none.backoff_level, none.sample_size) == (
        None,
        None,
        None,
        0,
    )


def test_routes_below_min_samples_are_not_in_the_table(
    con: duckdb.DuckDBPyConnection, history: Callable[[], History]
) -> None:
    backoff_history(history).load(con)
    keys = rows_by_key(build_promise_table(con, "shipments", "shipments_keys", AS_OF, PARAMS))
    assert (1, "P1", None, "440305", "310115", None) in keys
    assert (1, "P2", None, "440305", "310104", None) not in keys  # 19 parcels
    assert (2, None, "M2", "440100", "310000", None) not in keys  # 10 parcels
    assert keys[(4, None, None, "440000", "310000", None)]["sample_size"] == 59
    assert keys[(5, None, None, None, None, "SF")]["promise_offset_days"] == 3


@pytest.mark.parametrize("params", [PARAMS, PromiseParams.from_rulebook(rulebook_at(AS_OF))])
def test_parcels_without_a_product_skip_level_1_only(
    con: duckdb.DuckDBPyConnection, history: Callable[[], History], params: PromiseParams
) -> None:
    h = history()
    h.add(sh(2024, 3, 10, 10), DAY, count=25, product_id=None)
    h.load(con)
    keys = rows_by_key(build_promise_table(con, "shipments", "shipments_keys", AS_OF, params))
    assert sorted(key[0] for key in keys) == [2, 3, 4, 5]
    assert keys[(2, None, "M1", "440300", "310000", None)]["sample_size"] == 25
    assert keys[(2, None, "M1", "440300", "310000", None)]["promise_offset_days"] == 1


def censoring_history(history: Callable[[], History]) -> History:
    """One route, 40 parcels, half still in transit at the build."""
    h = history()
    paid = sh(2024, 3, 20, 10)
    h.add(paid, 2 * HOUR, count=4)  # day 0
    h.add(paid, 2 * DAY, count=8)  # day 2
    h.add(paid, 4 * DAY, count=8)  # day 4
    # 20 paid 03-28, unsigned at 03-31 00:00: known unsigned through day 2.
    # Ten of them do sign later (04-02), which the build must not see.
    h.add(sh(2024, 3, 28, 10), None, count=10)
    h.add(sh(2024, 3, 28, 10), 5 * DAY, count=10)
    return h


@pytest.mark.parametrize(
    ("confidence", "offset_days", "probability"),
    [
        # Kaplan–Meier: S(0) = 36/40; S(2) = 0.9 · 28/36 = 0.7; S(4) = 0.
        ("0.10", 0, 0.1),
        ("0.30", 2, 0.3),
        ("0.50", 4, 1.0),
        ("0.90", 4, 1.0),
    ],
)
def test_in_transit_parcels_are_censored_not_dropped(
    con: duckdb.DuckDBPyConnection,
    history: Callable[[], History],
    confidence: str,
    offset_days: int,
    probability: float,
) -> None:
    censoring_history(history).load(con)
    params = replace(DEFAULT_PROMISE, confidence=Decimal(confidence))
    row = rows_by_key(build_promise_table(con, "shipments", "shipments_keys", AS_OF, params))[
        (1, "P1", None, "440305", "310115", None)
    ]
    assert row["sample_size"] == 40
    assert row["promise_offset_days"] == offset_days
    assert row["probability"] == pytest.approx(probability, abs=1e-12)


def test_dropping_in_transit_parcels_would_promise_too_early(
    con: duckdb.DuckDBPyConnection, history: Callable[[], History]
) -> None:
    """The biased alternative (signed parcels only) says 60% by day 2; KM says 30%."""
    h = censoring_history(history)
    h.load(con)
    dropped = history()
    dropped.rows = [r for r in h.rows if r["signed_at"] is not None and r["signed_at"] < AS_OF]
    dropped.load(con, "signed_only")
    params = replace(DEFAULT_PROMISE, confidence=Decimal("0.5"), min_samples=1)
    biased = rows_by_key(build_promise_table(con, "signed_only", "signed_only_keys", AS_OF, params))
    censored = rows_by_key(build_promise_table(con, "shipments", "shipments_keys", AS_OF, params))
    key = (1, "P1", None, "440305", "310115", None)
    assert (biased[key]["promise_offset_days"], biased[key]["probability"]) == (
        2,
        pytest.approx(0.6),
    )
    assert (censored[key]["promise_offset_days"], censored[key]["probability"]) == (
        4,
        pytest.approx(1.0),
    )


def test_a_build_during_the_day_sees_only_whole_days(
    con: duckdb.DuckDBPyConnection, history: Callable[[], History]
) -> None:
    """A sign-for at 09:00 on the build day is not yet counted, so 15:00 ≡ 00:00."""
    h = censoring_history(history)
    h.add(sh(2024, 3, 29, 10), timedelta(days=2, hours=-1), count=5)  # signed 03-31 09:00
    h.load(con)
    params = replace(DEFAULT_PROMISE, confidence=Decimal("0.3"))
    at_midnight = build_promise_table(con, "shipments", "shipments_keys", AS_OF, params)
    mid_day = build_promise_table(con, "shipments", "shipments_keys", sh(2024, 3, 31, 15), params)
    assert at_midnight.equals(mid_day)


def test_label_boundary_is_midnight_shanghai_not_utc(
    con: duckdb.DuckDBPyConnection, history: Callable[[], History]
) -> None:
    h = history()
    # Paid 23:59, signed two minutes later at 00:01 the next local day: day 1.
    h.add(sh(2024, 3, 10, 23, 59), 2 * timedelta(minutes=1), count=20, product_id="LATE")
    # Paid 00:01, signed 23:59 the same local day: day 0. In UTC both pairs
    # fall within one UTC day (15:59 → 16:01 and 16:01 → 15:59 next day).
    h.add(sh(2024, 3, 11, 0, 1), timedelta(hours=23, minutes=58), count=20, product_id="EARLY")
    h.load(con)
    index = PromiseIndex.from_table(
        build_promise_table(con, "shipments", "shipments_keys", AS_OF, PARAMS)
    )
    route = {"merchant_id": "M1", "origin_region": "440305", "destination_region": "310115"}

    def ask(product_id: str, paid_at: datetime) -> tuple[Any, ...]:
        p = promise_for(
            index, product_id=product_id, carrier="SF", paid_at=paid_at, params=PARAMS, **route
        )
        return p.promised_date, p.label, p.backoff_level

    assert ask("LATE", sh(2024, 3, 31, 23, 59)) == (date(2024, 4, 1), "tomorrow", 1)
    assert ask("LATE", sh(2024, 4, 1, 0, 1)) == (date(2024, 4, 2), "tomorrow", 1)
    assert ask("EARLY", sh(2024, 3, 31, 23, 59)) == (date(2024, 3, 31), "today", 1)
    assert ask("EARLY", sh(2024, 4, 1, 0, 1)) == (date(2024, 4, 1), "today", 1)
    # Both payments above fall on 2024-03-31 in UTC:
    assert sh(2024, 3, 31, 23, 59).date() == sh(2024, 4, 1, 0, 1).date() == date(2024, 3, 31)


def test_labels_stop_after_the_day_after(
    con: duckdb.DuckDBPyConnection, history: Callable[[], History]
) -> None:
    h = history()
    for days, product in enumerate(["D0", "D1", "D2", "D3"]):
        h.add(sh(2024, 3, 10, 10), days * DAY, count=20, product_id=product)
    h.load(con)
    index = PromiseIndex.from_table(
        build_promise_table(con, "shipments", "shipments_keys", AS_OF, PARAMS)
    )
    labels = [
        promise_for(
            index,
            product_id=product,
            merchant_id="M1",
            origin_region="440305",
            destination_region="310115",
            carrier="SF",
            paid_at=sh(2024, 3, 31, 10),
            params=PARAMS,
        ).label
        for product in ["D0", "D1", "D2", "D3"]
    ]
    assert labels == ["today", "tomorrow", "day_after", None]


def test_slow_route_with_enough_samples_does_not_back_off(
    con: duckdb.DuckDBPyConnection, history: Callable[[], History]
) -> None:
    """A route that never reaches 90% in the horizon answers "no promise" itself."""
    h = history()
    h.add(sh(2024, 3, 1, 10), None, count=5, product_id="SLOW")  # censored after 29 days
    h.add(sh(2024, 3, 1, 10), DAY, count=15, product_id="SLOW")
    h.add(sh(2024, 3, 10, 10), DAY, count=100, product_id="FAST")
    h.load(con)
    index = PromiseIndex.from_table(
        build_promise_table(con, "shipments", "shipments_keys", AS_OF, PARAMS)
    )
    p = promise_for(
        index,
        product_id="SLOW",
        merchant_id="M1",
        origin_region="440305",
        destination_region="310115",
        carrier="SF",
        paid_at=sh(2024, 3, 31, 10),
        params=PARAMS,
    )
    assert (p.backoff_level, p.promised_date, p.label, p.sample_size) == (1, None, None, 20)


def test_refunded_before_shipment_and_out_of_window_parcels_are_ignored(
    con: duckdb.DuckDBPyConnection, history: Callable[[], History]
) -> None:
    h = history()
    h.add(sh(2024, 3, 10, 10), DAY, count=20)
    h.add(sh(2024, 3, 10, 10), None, count=50, refunded_before_shipment=True)
    h.add(sh(2024, 2, 29, 23, 59), 9 * DAY, count=50)  # paid before the window
    h.add(sh(2024, 3, 31, 0, 0), 9 * DAY, count=50)  # paid at as_of: after it
    h.load(con)
    row = rows_by_key(build_promise_table(con, "shipments", "shipments_keys", AS_OF, PARAMS))[
        (1, "P1", None, "440305", "310115", None)
    ]
    assert (row["sample_size"], row["promise_offset_days"]) == (20, 1)


def test_sql_lookup_agrees_with_promise_for(
    con: duckdb.DuckDBPyConnection, history: Callable[[], History]
) -> None:
    backoff_history(history).load(con)
    create_promise_table(con, "shipments", "shipments_keys", AS_OF, PARAMS, "promises")
    index = PromiseIndex.from_table(con.sql("SELECT * FROM promises").to_arrow_table())
    asks = [
        ("P1", "M1", "440305", "310115", "SF", sh(2024, 3, 31, 23, 59)),
        ("P1", "M1", "440305", "310115", "SF", sh(2024, 4, 1, 0, 1)),
        ("P2", "M1", "440305", "310104", "SF", sh(2024, 3, 31, 10)),
        ("P3", "M2", "440106", "310115", "SF", sh(2024, 3, 31, 10)),
        ("PX", "MX", "440703", "310115", "SF", sh(2024, 3, 31, 10)),
        ("PX", "MX", "110105", "650102", "SF", sh(2024, 3, 31, 10)),
        ("PX", "MX", "110105", "650102", "YTO", sh(2024, 3, 31, 10)),
        (None, "M1", "440305", "310115", "SF", sh(2024, 3, 31, 10)),
    ]
    parcels: list[dict[str, object]] = []
    for product, merchant, origin, destination, carrier, paid in asks:
        city, province = region_levels(origin)
        parcels.append(
            {
                "i": len(parcels),
                "product_id": product,
                "merchant_id": merchant,
                "origin_region": origin,
                "origin_city": city,
                "origin_province": province,
                "destination_region": destination,
                "destination_province": region_levels(destination)[1],
                "carrier": carrier,
                "paid_at": paid,
            }
        )
    con.register("asks_arrow", pa.Table.from_pylist(parcels))
    con.execute("CREATE TABLE asks AS SELECT * FROM asks_arrow")
    sql = lookup_promises_sql("promises", "asks", PARAMS)
    got = con.sql(
        f"SELECT i, backoff_level, promised_date, label, probability, sample_size "
        f"FROM ({sql}) ORDER BY i"
    ).fetchall()
    expected = []
    for i, (product, merchant, origin, destination, carrier, paid) in enumerate(asks):
        p = promise_for(
            index,
            product_id=product,
            merchant_id=merchant,
            origin_region=origin,
            destination_region=destination,
            carrier=carrier,
            paid_at=paid,
            params=PARAMS,
        )
        expected.append(
            (i, p.backoff_level, p.promised_date, p.label, p.probability, p.sample_size)
        )
    assert got == expected
    assert [row[1] for row in got] == [1, 1, 2, 3, 4, 5, None, 2]


def test_malformed_region_code_is_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        promise_for(
            PromiseIndex({}),
            product_id="P1",
            merchant_id="M1",
            origin_region="44030",
            destination_region="310115",
            carrier="SF",
            paid_at=AS_OF,
            params=PARAMS,
        )
    assert err.value.code == "region_malformed"


def test_iso_regions_need_an_explicit_origin_city() -> None:
    assert region_levels("BR-SP") == (None, "BR-SP")
    assert region_levels("440305") == ("440300", "440000")
    with pytest.raises(InvalidInput) as err:
        promise_for(
            PromiseIndex({}),
            product_id=None,
            merchant_id="M1",
            origin_region="BR-SP",
            destination_region="BR-RJ",
            carrier="olist",
            paid_at=AS_OF,
            params=PARAMS,
        )
    assert err.value.code == "origin_city_required"


def test_the_build_leaves_the_connections_settings_as_they_were(
    con: duckdb.DuckDBPyConnection, history: Callable[[], History]
) -> None:
    backoff_history(history).load(con)

    def ordered() -> object:
        row = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
        return row[0] if row else None

    for setting in (True, False):
        con.execute(f"SET preserve_insertion_order = {str(setting).lower()}")
        build_promise_table(con, "shipments", "shipments_keys", AS_OF, PARAMS)
        assert ordered() is setting
    assert not con.execute("SELECT * FROM duckdb_tables() WHERE temporary").fetchall()


@pytest.mark.parametrize("params", [PARAMS, PromiseParams.from_rulebook(rulebook_at(AS_OF))])
def test_a_null_route_key_is_a_key_like_any_other(
    con: duckdb.DuckDBPyConnection, history: Callable[[], History], params: PromiseParams
) -> None:
    # An ISO region has no derivable city: a table loaded without one has a null
    # origin_city, and its routes group (and promise) under that null as before.
    h = history()
    h.add(sh(2024, 3, 10, 10), 2 * DAY, count=25, origin_region="BR-SP", destination_region="BR-RJ")
    h.load(con)
    keys = rows_by_key(build_promise_table(con, "shipments", "shipments_keys", AS_OF, params))
    for key in [
        (1, "P1", None, "BR-SP", "BR-RJ", None),
        (2, None, "M1", None, "BR-RJ", None),
        (3, None, None, None, "BR-RJ", None),
        (4, None, None, "BR-SP", "BR-RJ", None),
        (5, None, None, None, None, "SF"),
    ]:
        assert (keys[key]["sample_size"], keys[key]["promise_offset_days"]) == (25, 2), key


def test_each_confidence_is_built_once_and_none_is_refused(
    con: duckdb.DuckDBPyConnection, history: Callable[[], History]
) -> None:
    backoff_history(history).load(con)
    once = build_promise_table(
        con, "shipments", "shipments_keys", AS_OF, PARAMS, confidences=[Decimal("0.9")]
    )
    twice = build_promise_table(
        con,
        "shipments",
        "shipments_keys",
        AS_OF,
        PARAMS,
        confidences=[Decimal("0.9"), Decimal("0.90")],
    )
    assert twice.equals(once)
    with pytest.raises(InvalidInput) as err:
        build_promise_table(con, "shipments", "shipments_keys", AS_OF, PARAMS, confidences=[])
    assert err.value.code == "confidences_empty"


def test_a_failed_build_in_a_transaction_reports_its_own_error(
    con: duckdb.DuckDBPyConnection,
) -> None:
    con.execute("BEGIN")
    with pytest.raises(duckdb.CatalogException):
        build_promise_table(con, "no_such_table", "no_such_table_keys", AS_OF, PARAMS)
    con.execute("ROLLBACK")
    assert not con.execute("SELECT * FROM duckdb_tables() WHERE temporary").fetchall()


def test_naive_as_of_is_refused(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(InvalidInput):
        build_promise_table(con, "shipments", "shipments_keys", datetime(2024, 3, 31), PARAMS)


# --------------------------------------------------------------------------- reference KM


def reference_km_cdf(durations: list[tuple[int, bool]], horizon: int) -> list[float]:
    """Textbook Kaplan–Meier on (day, signed?) pairs; censored rows survive their day."""
    cdf, survival = [], 1.0
    for k in range(horizon + 1):
        at_risk = sum(1 for d, _ in durations if d >= k)
        events = sum(1 for d, e in durations if d == k and e)
        if at_risk:
            survival *= 1 - events / at_risk
        cdf.append(1 - survival)
    return cdf


@settings(max_examples=40, deadline=None)
@given(
    parcels=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=29),  # pay day offset from 03-01
            st.integers(min_value=0, max_value=23),  # pay hour
            st.one_of(st.none(), st.integers(min_value=0, max_value=12 * 24)),  # hours to sign
        ),
        min_size=1,
        max_size=60,
    ),
    confidence=st.sampled_from(["0.5", "0.8", "0.9", "0.95"]),
)
def test_sql_matches_a_reference_kaplan_meier(
    parcels: list[tuple[int, int, int | None]], confidence: str
) -> None:
    horizon = 8
    h = History()
    observed: list[tuple[int, bool]] = []
    as_of_day = date(2024, 3, 31)
    for pay_offset, hour, to_sign in parcels:
        paid = sh(2024, 3, 1, hour) + pay_offset * DAY
        h.add(paid, None if to_sign is None else to_sign * HOUR)
        pay_day = paid.astimezone(SHANGHAI).date()
        signed = None if to_sign is None else (paid + to_sign * HOUR)
        if signed is not None and signed.astimezone(SHANGHAI).date() < as_of_day:
            d = (signed.astimezone(SHANGHAI).date() - pay_day).days
            observed.append((d, True) if d <= horizon else (horizon, False))
        else:
            observed.append((min((as_of_day - pay_day).days - 1, horizon), False))
    observed = [(d, e) for d, e in observed if d >= 0]
    con = duckdb.connect()
    h.load(con)
    params = replace(
        DEFAULT_PROMISE, confidence=Decimal(confidence), min_samples=1, max_horizon_days=horizon
    )
    rows = rows_by_key(build_promise_table(con, "shipments", "shipments_keys", AS_OF, params))
    row = rows.get((1, "P1", None, "440305", "310115", None))
    if not observed:
        assert row is None
        return
    cdf = reference_km_cdf(observed, horizon)
    expected = next((k for k, p in enumerate(cdf) if p >= float(confidence) - 1e-9), None)
    assert row is not None
    assert row["sample_size"] == len(observed)
    assert row["promise_offset_days"] == expected
    if expected is not None:
        assert row["probability"] == pytest.approx(cdf[expected])
