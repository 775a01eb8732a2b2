"""The hourly promise update gives the very table a full build gives (issue 17, item 5).

`ShipmentHistory.update_promises` folds the parcels changed since the served
table into that table's sums (analytics/route_sums.py) instead of reading the
whole window. Over random sequences of imports (new parcels, parcels restated
as they ship and sign, corrections of any fact), compactions and changes to
the engine's own orders, every update must publish exactly the table a full
build of the history at that moment gives, whether it folded or built in full;
and the common hourly case — parcels restated, nothing around them moved —
must fold.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from buyerguard.analytics.eta import build_promise_table
from buyerguard.analytics.promise_params import PromiseParams
from buyerguard.analytics.shipments import SHIPMENT_FACTS_SCHEMA
from buyerguard.clock import SHANGHAI
from buyerguard.domain.regions import city_of, province_of
from buyerguard.store.parcel_files import PARCEL_FACTS_SCHEMA
from buyerguard.store.promise_sums import KEPT_SUPERSEDED_TABLES
from buyerguard.store.shipment_history import BuiltPromises, ShipmentHistory

AS_OF = datetime(2024, 10, 20, tzinfo=SHANGHAI)
PARAMS = PromiseParams(
    window_days=8,
    confidence=Decimal("0.8"),
    min_samples=3,
    max_label_offset_days=2,
    max_horizon_days=5,
    lost_after_days=9,
    history_window_basis="observed",
    hazard_prior_strength=Decimal("2"),
    cutoff_min_parcels=2,
    cutoff_min_jump_days=Decimal("0.5"),
    late_age_days=2,
    late_baseline_weeks=1,
    late_min_expected=1,
    late_max_signed_ratio=Decimal("0.6"),
)
HOLIDAY = date(2024, 10, 16)
MERCHANTS = ("M-a", "M-b")
PRODUCTS = {"P-1": "M-a", "P-2": "M-a", "P-3": "M-b", "P-4": "M-b"}
ORIGINS = ("330782", "440305")
DESTINATIONS = ("440305", "110101", "510104")
CARRIERS = ("SF", "YTO")
NO_ENGINE = SHIPMENT_FACTS_SCHEMA.empty_table()


@dataclass(frozen=True)
class Parcel:
    order: int
    number: int
    product: str
    origin: int
    destination: int
    carrier: int
    paid_hours: int  # hours before AS_OF
    ship_hours: int | None  # after payment
    sign_hours: int | None  # after payment
    refunded: bool

    def row(self) -> dict[str, Any]:
        paid = AS_OF - timedelta(hours=self.paid_hours)
        return {
            "order_id": f"O{self.order}",
            "merchant_id": PRODUCTS[self.product],
            "product_id": self.product,
            "industry": "daily_goods",
            "carrier": CARRIERS[self.carrier],
            "official_logistics": True,
            "origin_region": ORIGINS[self.origin],
            "origin_city": city_of(ORIGINS[self.origin]),
            "origin_province": province_of(ORIGINS[self.origin]),
            "destination_region": DESTINATIONS[self.destination],
            "destination_province": province_of(DESTINATIONS[self.destination]),
            "paid_at": paid,
            "shipped_at": _after(paid, self.ship_hours),
            "signed_at": _after(paid, self.sign_hours),
            "refunded_before_shipment": self.refunded,
            "parcel_number": self.number,
        }


def _after(paid: datetime, hours: int | None) -> datetime | None:
    return None if hours is None else paid + timedelta(hours=hours)


def parcels(orders: int = 24) -> st.SearchStrategy[Parcel]:
    def timed(paid: int, ship: int | None, sign: int | None, **rest: Any) -> Parcel:
        ship = None if ship is None else min(ship, paid)
        sign = None if sign is None else min(sign, paid)
        return Parcel(paid_hours=paid, ship_hours=ship, sign_hours=sign, **rest)

    return st.builds(
        timed,
        order=st.integers(0, orders - 1),
        number=st.sampled_from([1, 1, 1, 2]),
        product=st.sampled_from(sorted(PRODUCTS)),
        origin=st.integers(0, len(ORIGINS) - 1),
        destination=st.integers(0, len(DESTINATIONS) - 1),
        carrier=st.integers(0, len(CARRIERS) - 1),
        paid=st.integers(1, 24 * 14),
        ship=st.none() | st.integers(0, 60),
        sign=st.none() | st.integers(0, 24 * 6),
        refunded=st.booleans() | st.just(False),
    )


def facts(rows: list[Parcel]) -> pa.Table:
    """One row per parcel (the last stated wins), as an import states them."""
    latest = {(p.order, p.number): p for p in rows}
    return pa.Table.from_pylist([p.row() for p in latest.values()], schema=PARCEL_FACTS_SCHEMA)


def engine(orders: dict[int, Parcel]) -> pa.Table:
    """The engine's orders (parcel 1 each); O18.. are also imported orders' ids."""
    table = [
        {**p.row(), "order_id": f"O{order + 18}", "parcel_number": 1} for order, p in orders.items()
    ]
    return pa.Table.from_pylist(table, schema=PARCEL_FACTS_SCHEMA).select(
        SHIPMENT_FACTS_SCHEMA.names
    )


# (what happens, its data, whether an update follows): several changes may come between two.
Step = tuple[str, Any, bool]
steps = st.lists(
    st.one_of(
        st.tuples(st.just("import"), st.lists(parcels(), min_size=1, max_size=12), st.booleans()),
        st.tuples(st.just("compact"), st.just(None), st.booleans()),
        st.tuples(st.just("engine"), st.lists(parcels(orders=10), max_size=4), st.booleans()),
        st.tuples(st.just("forget_engine"), st.just(None), st.booleans()),
        st.tuples(st.just("hour"), st.integers(1, 23), st.just(True)),
    ),
    min_size=1,
    max_size=8,
)


def full_table(
    history: ShipmentHistory, engine_facts: pa.Table, as_of: datetime, paused: Any
) -> pa.Table:
    with history.analytics_session() as con:
        view, keys = history.open_history(con, engine_facts)
        return build_promise_table(con, view, keys, as_of, PARAMS, paused=paused)


def published(history: ShipmentHistory, built: BuiltPromises) -> pa.Table:
    return pq.read_table(built.path)


def paused_on(day: date) -> bool:
    return day == HOLIDAY


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    first=st.lists(parcels(), min_size=5, max_size=40),
    then=steps,
    with_holiday=st.booleans(),
)
def test_every_update_publishes_the_table_a_full_build_gives(
    tmp_path_factory: pytest.TempPathFactory,
    first: list[Parcel],
    then: list[Step],
    with_holiday: bool,
) -> None:
    history = ShipmentHistory(tmp_path_factory.mktemp("data"))
    paused = paused_on if with_holiday else None
    orders: dict[int, Parcel] = {}  # the engine's: orders are never forgotten but by a reset
    engine_facts, as_of = NO_ENGINE, AS_OF
    history.store_parcels(facts(first), AS_OF)
    built = history.update_promises(engine_facts, as_of, PARAMS, "rb", paused=paused)
    assert built.built == "full" and built.full_because == "no_sums"
    assert published(history, built).equals(full_table(history, engine_facts, as_of, paused))
    for number, (kind, value, update) in enumerate(then):
        if kind == "import":
            history.store_parcels(facts(value), AS_OF)
        elif kind == "compact":
            history.compact_imports(at_share=0.0)
        elif kind == "engine":
            orders |= {p.order: p for p in value}
            engine_facts = engine(orders)
        elif kind == "forget_engine":
            orders = {}
            engine_facts = engine(orders)
        else:
            as_of = AS_OF + timedelta(hours=value)
        if not update and number < len(then) - 1:
            continue
        built = history.update_promises(engine_facts, as_of, PARAMS, "rb", paused=paused)
        want = full_table(history, engine_facts, as_of, paused)
        assert published(history, built).equals(want), (kind, built.built, built.full_because)
        assert built.shipments == _live_rows(history, engine_facts)


def _live_rows(history: ShipmentHistory, engine_facts: pa.Table) -> int:
    with history.analytics_session() as con:
        view, _ = history.open_history(con, engine_facts)
        return int(con.execute(f"SELECT count(*) FROM {view}").fetchall()[0][0])


def _route(order: int, paid_hours: int, sign_hours: int | None, ship_hours: int = 20) -> Parcel:
    return Parcel(order, 1, "P-1", 0, 0, 0, paid_hours, ship_hours, sign_hours, False)


def test_parcels_restated_as_they_sign_are_folded_in(tmp_path: Path) -> None:
    """The hourly case: in-transit parcels sign; nothing else moves, so the update folds."""
    history = ShipmentHistory(tmp_path / "data")
    in_transit = [_route(n, 24 * (2 + n % 5) + 10, None) for n in range(12)]
    history.store_parcels(facts(in_transit), AS_OF)
    history.update_promises(NO_ENGINE, AS_OF, PARAMS, "rb")
    signed = [_route(n, 24 * (2 + n % 5) + 10, 30) for n in range(0, 12, 2)]
    history.store_parcels(facts(signed), AS_OF + timedelta(hours=1))
    built = history.update_promises(NO_ENGINE, AS_OF + timedelta(hours=1), PARAMS, "rb")
    assert (built.built, built.full_because, built.changed_rows) == ("folded", None, 12)
    assert published(history, built).equals(
        full_table(history, NO_ENGINE, AS_OF + timedelta(hours=1), None)
    )
    # The next day every parcel's days move: a full build, as the nightly one.
    built = history.update_promises(NO_ENGINE, AS_OF + timedelta(days=1), PARAMS, "rb")
    assert (built.built, built.full_because) == ("full", "window_moved")


def _folded_as_full(history: ShipmentHistory, engine_facts: pa.Table, hour: int) -> None:
    as_of = AS_OF + timedelta(hours=hour)
    built = history.update_promises(engine_facts, as_of, PARAMS, "rb")
    assert (built.built, built.full_because) == ("folded", None)
    assert published(history, built).equals(full_table(history, engine_facts, as_of, None))
    assert built.shipments == _live_rows(history, engine_facts)


def test_a_parcel_restated_twice_between_updates_counts_once(tmp_path: Path) -> None:
    """Two imports between updates, the second restating a parcel of the first (whose file
    is not compacted: too few of its rows are replaced): only the newest row comes in."""
    history = ShipmentHistory(tmp_path / "data")
    history.store_parcels(facts([_route(n, 24 * (2 + n % 5) + 10, 30) for n in range(12)]), AS_OF)
    history.update_promises(NO_ENGINE, AS_OF, PARAMS, "rb")
    later = [_route(n, 24 * (2 + n % 5) + 10, None) for n in range(20, 30)]
    history.store_parcels(facts(later), AS_OF)
    history.store_parcels(facts([_route(20, 24 * 2 + 10, 40)]), AS_OF)
    assert len(list(history.imported_dir.glob("*.parquet"))) == 3  # nothing compacted
    _folded_as_full(history, NO_ENGINE, 2)


def test_an_order_the_engine_newly_sees_hides_its_imported_parcel(tmp_path: Path) -> None:
    """An imported parcel 1 whose order the engine has since seen paid leaves the history
    (the engine's row stands for it) although no import replaced it."""
    history = ShipmentHistory(tmp_path / "data")
    history.store_parcels(facts([_route(n, 24 * (2 + n % 5) + 10, 30) for n in range(24)]), AS_OF)
    history.update_promises(NO_ENGINE, AS_OF, PARAMS, "rb")
    engine_facts = engine({2: _route(2, 24 * 2 + 10, 28)})  # order O20, imported too
    _folded_as_full(history, engine_facts, 1)


def test_a_route_that_reaches_min_samples_is_built_in_full(tmp_path: Path) -> None:
    """A level-1 route below min_samples has no per-route sums to fold into: once a late
    parcel may bring it up, the update builds in full, and the route appears."""
    history = ShipmentHistory(tmp_path / "data")
    common = [_route(n, 24 * (2 + n % 5) + 10, 30) for n in range(6)]
    rare = [replace(_route(10 + n, 24 * 3 + 10, 30), product="P-2") for n in range(2)]
    history.store_parcels(facts(common + rare), AS_OF)
    before = history.update_promises(NO_ENGINE, AS_OF, PARAMS, "rb")
    late = replace(_route(12, 24 * 4 + 10, 30), product="P-2")
    history.store_parcels(facts([late]), AS_OF + timedelta(hours=1))
    built = history.update_promises(NO_ENGINE, AS_OF + timedelta(hours=1), PARAMS, "rb")
    assert (built.built, built.full_because) == ("full", "new_level1_routes")
    assert built.routes > before.routes  # P-2's route, now with 3 parcels
    assert published(history, built).equals(
        full_table(history, NO_ENGINE, AS_OF + timedelta(hours=1), None)
    )


def test_a_cutoff_that_appears_moves_the_merchants_every_parcel(tmp_path: Path) -> None:
    """A merchant's cut-off appearing moves the start day of its parcels already summed:
    the update builds in full."""
    history = ShipmentHistory(tmp_path / "data")
    early = [_route(n, 24 * 4 + 14, 30, ship_hours=1) for n in range(3)]  # paid 10:00
    late = [_route(5, 24 * 4 + 6, 40, ship_hours=20)]  # paid 18:00, ships the next day
    history.store_parcels(facts(early + late), AS_OF)
    history.update_promises(NO_ENGINE, AS_OF, PARAMS, "rb")
    history.store_parcels(facts([_route(6, 24 * 5 + 6, 40, ship_hours=20)]), AS_OF)
    built = history.update_promises(NO_ENGINE, AS_OF + timedelta(hours=1), PARAMS, "rb")
    assert (built.built, built.full_because) == ("full", "cutoffs_moved")
    table = published(history, built)
    assert table.filter(pc.equal(table["level"], 0)).column("cutoff_hour").to_pylist() == [18]
    assert table.equals(full_table(history, NO_ENGINE, AS_OF + timedelta(hours=1), None))


def test_a_parcel_paid_on_the_as_of_day_counts_for_nothing(tmp_path: Path) -> None:
    """The build sees whole days: a parcel paid on the as-of day after its merchant's cut-off
    and signed before the build ran once counted as a day-0 sign-for when a paused day was in
    the window (its start day, tomorrow, lay past the stop-day list). Found by
    benchmarks/eta_update.py as a route gaining parcels within the hour."""
    history = ShipmentHistory(tmp_path / "data")
    early = [_route(n, 24 * (5 + n % 3) + 14, 30, ship_hours=1) for n in range(6)]  # 10:00
    late = [_route(10 + n, 24 * (5 + n % 3) + 6, 40, ship_hours=20) for n in range(6)]  # 18:00
    history.store_parcels(facts(early + late), AS_OF)
    morning = history.build_promises(NO_ENGINE, AS_OF, PARAMS, "rb", paused=paused_on)
    # Paid today at 18:00 (after the cut-off), signed at 20:00: seen by a build at 21:00.
    today = _route(30, -18, 2, ship_hours=1)
    history.store_parcels(facts([today]), AS_OF + timedelta(hours=21))
    evening = history.build_promises(
        NO_ENGINE, AS_OF + timedelta(hours=21), PARAMS, "rb", paused=paused_on
    )
    assert published(history, evening).equals(published(history, morning))


def test_superseded_tables_are_deleted_but_the_last_few(tmp_path: Path) -> None:
    """A day of hourly updates and a nightly rebuild publish 25 tables: each publication
    deletes the ones it supersedes but the latest few (an API worker that read the pointer
    just before may still open its table), so the directory stops growing."""
    history = ShipmentHistory(tmp_path / "data")
    history.store_parcels(facts([_route(n, 24 * (2 + n % 5) + 10, 30) for n in range(12)]), AS_OF)
    built = [
        history.update_promises(NO_ENGINE, AS_OF + timedelta(hours=hour), PARAMS, "rb")
        for hour in range(6)
    ]
    tables = {path.name for path in history.promises_dir.glob("promises-*.parquet")}
    assert tables == {b.path.name for b in built[-1 - KEPT_SUPERSEDED_TABLES :]}
    assert history.current_promises()[1]["table"] == built[-1].path.name
