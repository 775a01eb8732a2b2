"""Key codes: a codebook that only grows, codes that decode to their values, builds that
do not depend on which code a value got."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from buyerguard.analytics.eta import build_promise_table
from buyerguard.analytics.key_codes import (
    CODEBOOK_SCHEMA,
    DIMENSIONS,
    KEY_CODE_COLUMNS,
    KeyCodebook,
)
from buyerguard.analytics.promise_params import PromiseParams
from buyerguard.analytics.shipments import create_coded_history
from buyerguard.analytics.sign_rate import SignRateParams, compute_sign_rates
from buyerguard.errors import InvalidInput
from buyerguard.rulebook import rulebook_at
from tests.analytics.conftest import History, keys_of
from tests.analytics.test_analytics_eta import AS_OF, PARAMS, backoff_history, sh


def facts(**columns: list[str | None]) -> pa.Table:
    return pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()})


def decoded(table: pa.Table, book: KeyCodebook, key: str) -> list[str | None]:
    code_name, dimension = KEY_CODE_COLUMNS[key]
    return book.dictionary(dimension).take(table.column(code_name)).to_pylist()  # type: ignore[no-any-return]


def test_codes_are_dense_shared_by_the_region_columns_and_null_for_null() -> None:
    table, book = KeyCodebook().encode(
        facts(
            product_id=["P2", None, "P1", "P2"],
            origin_region=["440305", "440305", "BR-SP", "440305"],
            destination_region=["310115", "440305", "BR-RJ", "310115"],
        )
    )
    # New values are numbered in string order; one region dimension for both columns.
    assert book.dictionary("product").to_pylist() == ["P1", "P2"]
    assert book.dictionary("region").to_pylist() == ["310115", "440305", "BR-RJ", "BR-SP"]
    assert table.column("product_code").to_pylist() == [1, None, 0, 1]
    assert table.column("origin_region_code").to_pylist() == [1, 1, 3, 1]
    assert table.column("destination_region_code").to_pylist() == [0, 1, 2, 0]
    assert table.schema.field("product_code").type == pa.int32()
    for key in ("product_id", "origin_region", "destination_region"):
        assert decoded(table, book, key) == table.column(key).to_pylist()


def test_a_value_keeps_its_code_as_the_codebook_grows() -> None:
    _, first = KeyCodebook().encode(facts(merchant_id=["M5", "M3"], carrier=["SF", "ZTO"]))
    table, second = first.encode(
        facts(merchant_id=["M4", "M3", "M1"], carrier=["ZTO", "EMS", "SF"])
    )
    assert second.dictionary("merchant").to_pylist() == ["M3", "M5", "M1", "M4"]
    assert second.dictionary("carrier").to_pylist() == ["SF", "ZTO", "EMS"]
    assert table.column("merchant_code").to_pylist() == [3, 0, 2]
    # Nothing new: the very same codebook comes back (the store saves only a grown one).
    again, third = second.encode(facts(merchant_id=["M1"], carrier=["SF"]))
    assert third is second and again.column("merchant_code").to_pylist() == [2]


def test_encoding_replaces_stale_code_columns() -> None:
    stale = facts(carrier=["SF"]).append_column("carrier_code", pa.array([7], pa.int32()))
    table, _ = KeyCodebook().encode(stale)
    assert table.column_names == ["carrier", "carrier_code"]
    assert table.column("carrier_code").to_pylist() == [0]


def test_the_codebook_round_trips() -> None:
    _, book = KeyCodebook().encode(facts(product_id=["P1", "P2"], industry=["toys", "toys"]))
    table = book.to_table()
    assert table.schema == CODEBOOK_SCHEMA
    back = KeyCodebook.from_table(table)
    for dimension in DIMENSIONS:
        assert back.dictionary(dimension).equals(book.dictionary(dimension))


@pytest.mark.parametrize(
    ("codes", "values", "refusal"),
    [([0, 2], ["P1", "P2"], "codebook_codes"), ([0, 1], ["P1", "P1"], "codebook_values")],
)
def test_a_codebook_with_a_gap_or_a_repeated_value_is_refused(
    codes: list[int], values: list[str], refusal: str
) -> None:
    rows = {"dimension": ["product"] * len(codes), "code": codes, "value": values}
    with pytest.raises(InvalidInput) as err:
        KeyCodebook.from_table(pa.table(rows).cast(CODEBOOK_SCHEMA))
    assert err.value.code == refusal


def test_an_unknown_dimension_is_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        KeyCodebook({"colour": pa.array(["red"])})
    assert err.value.code == "codebook_dimension_unknown"


@settings(max_examples=60, deadline=None)
@given(
    batches=st.lists(
        st.lists(st.one_of(st.none(), st.sampled_from("ABCDEFGH")), min_size=1, max_size=12),
        min_size=1,
        max_size=5,
    )
)
def test_codes_decode_to_their_values_and_never_change(batches: list[list[str | None]]) -> None:
    book = KeyCodebook()
    for batch in batches:
        earlier = book.dictionary("product").to_pylist()
        table, book = book.encode(facts(product_id=batch))
        values = book.dictionary("product").to_pylist()
        assert values[: len(earlier)] == earlier  # old codes unchanged
        assert len(set(values)) == len(values)  # one code per value
        assert decoded(table, book, "product_id") == batch


def reverse_ordered_codebook(history: History) -> KeyCodebook:
    """A codebook whose codes run against string order (as after years of imports)."""
    table = history.table()
    values = {}
    for dimension in DIMENSIONS:
        seen: set[str] = set()
        for key, (_, dim) in KEY_CODE_COLUMNS.items():
            if dim == dimension:
                seen |= {v for v in table.column(key).to_pylist() if v is not None}
        values[dimension] = pa.array(sorted(seen, reverse=True), pa.string())
    return KeyCodebook(values)


@pytest.mark.parametrize("params", [PARAMS, PromiseParams.from_rulebook(rulebook_at(AS_OF))])
def test_the_build_and_the_sign_rate_do_not_depend_on_the_codes_given(
    con: duckdb.DuckDBPyConnection, history: Callable[[], History], params: PromiseParams
) -> None:
    h = backoff_history(history)
    # A second carrier with as many parcels on the Beijing → Tianjin pair, but slower:
    # the tie for the pair's most used carrier (level 4's parent, which the default
    # model shrinks toward) goes to the name that sorts first, whatever its code.
    h.add(
        sh(2024, 3, 10, 9),
        2 * timedelta(days=1),
        count=60,
        product_id="P8",
        merchant_id="M8",
        origin_region="110105",
        destination_region="120101",
        carrier="EMS",
        industry="toys",
    )
    rates = SignRateParams(window_days=30, sign_within_hours=72, min_orders=1)
    h.load(con)
    plain = build_promise_table(con, "shipments", keys_of("shipments"), AS_OF, params)
    plain_rates = compute_sign_rates(con, "shipments", keys_of("shipments"), AS_OF, rates)
    create_coded_history(con, "shipments", h.table(), reverse_ordered_codebook(h))
    reversed_codes = build_promise_table(con, "shipments", "shipments_keys", AS_OF, params)
    assert reversed_codes.equals(plain)
    assert compute_sign_rates(con, "shipments", "shipments_keys", AS_OF, rates).equals(plain_rates)
    assert {"EMS", "SF"} <= set(plain.column("carrier").drop_null().to_pylist())


def test_a_codebook_that_lacks_a_code_is_refused(
    con: duckdb.DuckDBPyConnection, history: Callable[[], History]
) -> None:
    backoff_history(history).load(con)
    con.execute("DELETE FROM shipments_keys WHERE dimension = 'product' AND value = 'P1'")
    with pytest.raises(InvalidInput) as err:
        build_promise_table(con, "shipments", "shipments_keys", AS_OF, PARAMS)
    assert err.value.code == "codebook_incomplete"
    con.execute("DELETE FROM shipments_keys WHERE dimension = 'merchant'")
    rates = SignRateParams(window_days=30, sign_within_hours=72, min_orders=1)
    with pytest.raises(InvalidInput) as err:
        compute_sign_rates(con, "shipments", "shipments_keys", AS_OF, rates)
    assert err.value.code == "codebook_incomplete"


@pytest.mark.parametrize(
    ("row", "refusal"),
    [("('carrier', 0, 'ZZ')", "codebook_codes"), ("('carrier', 7, 'SF')", "codebook_values")],
)
def test_a_codebook_relation_with_a_repeated_code_or_value_is_refused(
    con: duckdb.DuckDBPyConnection, history: Callable[[], History], row: str, refusal: str
) -> None:
    backoff_history(history).load(con)
    con.execute(f"INSERT INTO shipments_keys VALUES {row}")
    rates = SignRateParams(window_days=30, sign_within_hours=72, min_orders=1)
    jobs: list[Callable[[], object]] = [
        lambda: build_promise_table(con, "shipments", "shipments_keys", AS_OF, PARAMS),
        lambda: compute_sign_rates(con, "shipments", "shipments_keys", AS_OF, rates),
    ]
    for job in jobs:
        with pytest.raises(InvalidInput) as err:
            job()
        assert err.value.code == refusal
