"""The SQL stage of the promise build: parcels → kept routes and their per-day counts.

Everything that touches parcels is in this stage, as SQL over the shipment
history, so it runs on DuckDB in-process and on a distributed SQL engine
unchanged (see docs/logistics.md); this module runs it and describes it
whole. Its output is small: per kept route (≥ min_samples parcels) and day,
how many parcels left the risk set, were signed, and entered it.
`survival.py` turns those counts into promises.

Per parcel (module docstring of `eta.py` for the model): the Shanghai pay day
and sign day are integer day numbers from epoch microseconds plus the fixed
UTC offset; a parcel signed before the as-of day is an event on day
delay = sign day − pay day (censored at the horizon if later); one not yet
signed is censored at as-of day − pay day − 1; a parcel unsigned for more
than `lost_after_days` (or signed after that) is lost and dropped; with the
observed window, a parcel paid before the window enters the risk set on the
window's first day (`entry` > 0).

Every key is read as its integer code (`key_codes`: the history stores a
code beside each key string), so the scans group and join integers; only the
kept routes are decoded, by joining the codebook.

Two scans (`route_scans.py`) and a small script over their results
(`route_selection.py`), bound to the window's day numbers
(`route_bind_values.py`); `collect_routes` runs them, after a first small
aggregate of the window's shipments into each merchant's observed cut-off
(`merchant_cutoffs.py`), which both scans join to start a late payment's
clock the next day:

1. `first_pass_sql`: one scan streamed into four aggregates at once. The
   (product, origin, destination) routes of level 1 are nearly one per
   parcel, so they are only counted here, per 64-bit hash of the route (one
   integer key), keeping hashes with ≥ min_samples. Levels 2-4 come from
   one (merchant, origin city, origin province, destination province, day)
   aggregate; level 5 and level 4's parent from two small carrier ones.
2. `level1_sql`: a second scan aggregates level 1 by the exact route and day,
   only for the parcels whose route hash was kept (41% of them at 1688
   scale). A hash collision can only add parcels to a kept hash, never drop
   any, and the exact per-route sum then drops what does not reach
   min_samples: the result is exact.
3. `kept_routes_sql`, `decoded_routes_sql` and `kept_days_sql`: over those
   small results, keep the routes with ≥ min_samples parcels, number them
   and their parents, decode their keys, and list each kept route's day rows.

Each route also carries the key of its parent route (the next coarser level,
for shrinkage): level 1 → the product's merchant, origin city and
destination province (one each in any consistent history; should a route
mix several, the smallest key code, i.e. the value the history recorded
first); level 3 → the city's province (likewise); level 4 → the province
pair's most used carrier (ties: the carrier whose name sorts first).

Besides aggregates, joins, `UNION ALL`, `row_number()` windows and integer
arithmetic, the statements use these DuckDB spellings (Spark SQL in
brackets): `hash()` (`xxhash64()`), `epoch_us()` (`unix_micros()`),
`count(*) FILTER` (`count_if`), `sum(x) FILTER (WHERE c)` (`sum(CASE WHEN c
THEN x END)`), `QUALIFY` (a filter on the window in a subquery),
`any_value` (`any_value`/`first`), `x::TYPE` (`CAST(x AS TYPE)`), `$name`
parameters (`:name`), `IS NOT DISTINCT FROM` (`<=>`), `greatest`/`least`
(the same), and `CREATE TEMP TABLE … AS` for the intermediate results
(cached temporary views).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from buyerguard.analytics.merchant_cutoffs import (
    NO_CUTOFFS,
    cutoff_hours_sql,
    cutoffs_from_hours_sql,
    decoded_cutoffs_sql,
)
from buyerguard.analytics.promise_params import PromiseParams
from buyerguard.analytics.route_bind_values import bound_for, promise_table_params
from buyerguard.analytics.route_scans import first_pass_sql, level1_rollup_sql, level1_sql
from buyerguard.analytics.route_selection import (
    ROUTE_KEYS,
    decoded_routes_sql,
    kept_days_sql,
    kept_routes_sql,
    running_late_sql,
)
from buyerguard.analytics.route_sums import (
    RouteSums,
    fold_sums,
    route_sums,
    sum_key,
)
from buyerguard.analytics.route_sums import (
    TableNames as _TableNames,
)
from buyerguard.analytics.shipments import check_codebook_relation, relation_sql
from buyerguard.analytics.survival import I64, RouteDays
from buyerguard.errors import InvalidInput


@dataclass(frozen=True)
class KeptRoutes:
    """The kept routes of every level and their day counts, ready for `survival`.

    `routes` has one row per route, in route-number order (levels coarsest
    first, consecutive): level, the ROUTE_KEYS and sample_size. `parent[r]`
    is the route number of r's parent route, or −1. `cutoffs`: the merchants
    with an observed cut-off, by merchant.
    """

    routes: pa.Table
    parent: I64
    days: RouteDays
    cutoffs: pa.Table  # merchant_id, cutoff_hour, cutoff_parcels (merchant_cutoffs.py)
    running_late: pa.Table  # route_selection.running_late_sql: the early signal's groups
    sums: RouteSums | None = None  # what they were selected from, when asked for

    @property
    def level(self) -> I64:
        return np.asarray(self.routes.column("level").to_numpy(), dtype=np.int64)


@contextmanager
def _undone(con: duckdb.DuckDBPyConnection, undo: Sequence[str]) -> Iterator[None]:
    """Run the `undo` statements on the way out, without hiding the error that got us out.

    After a failed statement inside the caller's transaction DuckDB refuses
    every further statement; the undo is then skipped and the first error is
    the one raised.
    """
    try:
        yield
    except BaseException:
        with suppress(duckdb.Error):
            for statement in undo:
                con.execute(statement)
        raise
    for statement in undo:
        con.execute(statement)


@contextmanager
def _unordered(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Let DuckDB reorder rows while it builds the intermediate tables.

    Nothing reads them in insertion order (every result that is read has an
    ORDER BY), and keeping that order costs the two scans about 7% at 1688
    scale. DuckDB keeps the setting per database, not per cursor, so a
    cursor of the same database running at the same time sees it too; the
    previous value is restored afterwards.
    """
    row = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
    previous = bool(row[0]) if row else True
    con.execute("SET preserve_insertion_order = false")
    with _undone(con, [f"SET preserve_insertion_order = {str(previous).lower()}"]):
        yield


def collect_routes(
    con: duckdb.DuckDBPyConnection,
    shipments: str,
    keys: str,
    as_of: datetime,
    params: PromiseParams,
    paused: Callable[[date], bool] | None = None,
    *,
    sums_dir: Path | None = None,
) -> KeptRoutes:
    """Run the SQL stage: the kept routes, their parents and their day counts.

    `shipments` is the history (SHIPMENT_SCHEMA), `keys` its codebook
    (`key_codes`); both a table or view name or a Parquet path or glob.
    `paused` names the days transit time stops on (route_scans.py learns
    around them); None: every day counts. With `sums_dir` (a directory not yet
    there) the sums it was selected from are written there and the result
    carries them (`RouteSums`), for `fold_routes` to update.
    """
    bound = promise_table_params(as_of, params, paused=paused)
    stops = bool(bound["paused_days"])
    names = _TableNames()
    h = params.max_horizon_days
    cutoffs = names.cutoffs if params.cutoff_min_parcels > 0 else None
    steps = []
    if cutoffs is not None:
        steps += [
            (names.hours, cutoff_hours_sql(shipments, stops)),
            (names.cutoffs, cutoffs_from_hours_sql(names.hours)),
        ]
    steps += [
        (names.first, first_pass_sql(shipments, h, paused=stops, cutoffs=cutoffs)),
        (names.level1, level1_sql(shipments, h, names.first, paused=stops, cutoffs=cutoffs)),
    ]
    with _undone(con, names.drops()):
        with _unordered(con):
            for name, sql in steps:
                con.execute(f"CREATE TEMP TABLE {name} AS {sql}", bound_for(sql, bound))
        kept = _selected(con, names, keys, bound, with_cutoffs=cutoffs is not None)
        if sums_dir is None:
            return kept
        key = sum_key(bound, params)
        sums = route_sums(con, names, key, sums_dir, with_cutoffs=cutoffs is not None)
    return replace(kept, sums=sums)


def fold_routes(
    con: duckdb.DuckDBPyConnection,
    sums: RouteSums,
    changes: str,
    keys: str,
    as_of: datetime,
    params: PromiseParams,
    paused: Callable[[date], bool] | None,
    sums_dir: Path,
) -> KeptRoutes | str:
    """`collect_routes` of a history from the sums of an earlier one and the rows changed since.

    `changes` holds the rows that left the history (`sign` −1) and the rows
    that came in (+1), SHIPMENT_SCHEMA with the codes of `sums`' codebook.
    Returns the same result as `collect_routes(..., sums_dir=sums_dir)` over
    the history now, or, when the sums cannot give it, why (route_sums.py): the
    caller then runs `collect_routes`.
    """
    bound = promise_table_params(as_of, params, paused=paused)
    key = sum_key(bound, params)
    if key != sums.key:
        return "window_moved"
    names = _TableNames()
    with_cutoffs = params.cutoff_min_parcels > 0
    with _undone(con, names.drops()):
        why = fold_sums(con, sums, changes, names, bound, params)
        if why is not None:
            return why
        kept = _selected(con, names, keys, bound, with_cutoffs=with_cutoffs)
        folded = route_sums(con, names, key, sums_dir, with_cutoffs=with_cutoffs)
    return replace(kept, sums=folded)


def _selected(
    con: duckdb.DuckDBPyConnection,
    names: _TableNames,
    keys: str,
    bound: dict[str, Any],
    *,
    with_cutoffs: bool,
) -> KeptRoutes:
    """The kept routes, decoded, with their day rows, from the sums' tables in `names`."""
    check_codebook_relation(con, keys)
    keys_rel = relation_sql(keys)
    steps = [
        (names.level1_days, level1_rollup_sql(names.level1)),
        (names.routes, kept_routes_sql(names.first, names.level1_days, keys_rel)),
    ]
    with _unordered(con):
        for name, sql in steps:
            con.execute(f"CREATE TEMP TABLE {name} AS {sql}", bound_for(sql, bound))
    kept = con.sql(decoded_routes_sql(names.routes, keys_rel)).to_arrow_table()
    arrays = con.sql(kept_days_sql(names.first, names.level1_days, names.routes)).fetchnumpy()
    found_cutoffs = (
        con.sql(decoded_cutoffs_sql(names.cutoffs, keys_rel)).to_arrow_table()
        if with_cutoffs
        else NO_CUTOFFS
    )
    late_sql = running_late_sql(names.first, keys_rel)
    running_late = con.sql(late_sql, params=bound_for(late_sql, bound)).to_arrow_table()
    for key in ROUTE_KEYS:
        unknown = pc.sum(pc.and_(pc.is_valid(kept[f"{key}_code"]), pc.is_null(kept[key])))
        if unknown.as_py():
            raise InvalidInput(
                "codebook_incomplete",
                f"{unknown.as_py()} kept route(s) have a {key} code the codebook {keys!r} lacks",
                "keys",
            )

    def column(name: str) -> I64:
        return np.asarray(arrays[name], dtype=np.int64)

    days = RouteDays(
        route=column("route_id"),
        exit_day=column("offset_days"),
        entry=column("entry"),
        parcels=column("parcels"),
        events=column("events"),
    )
    return KeptRoutes(
        kept.select(["level", *ROUTE_KEYS, "sample_size"]),
        np.asarray(kept.column("parent_id").to_numpy(), dtype=np.int64),
        days,
        found_cutoffs.cast(NO_CUTOFFS.schema),
        running_late,
    )
