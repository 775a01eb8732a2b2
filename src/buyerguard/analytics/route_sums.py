"""The promise build's sums over parcels, and how to fold changed parcels into them.

Everything the build selects its routes from is a sum over parcels: per
merchant and pay hour the parcels and ship lags its cut-off is read from, and
per route key and day the parcels in the risk set and those signed
(route_scans.py). A history with some parcels changed therefore has the sums
of the old one, minus the old rows' contributions, plus the new rows' — the
same SQL run over the changed rows only, each weighted −1 or +1 (`sign`). That
is the hourly update (issue 17): it reads the rows changed since the last
build instead of the whole window, and gives the very table a full build
would.

It holds only while everything *around* the sums stands still, so a fold
answers why it cannot instead (the caller then builds in full):

- `window_moved`: another as-of day, rulebook numbers or paused days: every
  parcel's days move (`sum_key`);
- `cutoffs_moved`: a merchant's observed cut-off appears, goes or moves, which
  moves the start day of every parcel of that merchant;
- `new_level1_routes`: a level-1 route hash that was not kept gains parcels
  paid in the window; only the kept hashes' routes are summed per route (the
  others are nearly one per parcel), so a route that may now reach
  min_samples has no sums to fold into;
- `sums_inconsistent`: a count would go negative — the rows said to leave were
  never summed (a history changed behind the sums' back).

A level-1 hash that loses parcels needs nothing: its routes stay summed, and
the selection drops those below min_samples, as the full build's exact sum
does.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from buyerguard.analytics.merchant_cutoffs import cutoff_hours_sql, cutoffs_from_hours_sql
from buyerguard.analytics.promise_params import PromiseParams
from buyerguard.analytics.route_bind_values import bound_for
from buyerguard.analytics.route_scans import (
    KEPT_HASH_PART,
    LEVEL1_KEYS,
    LEVEL1_PARENT_KEYS,
    first_pass_sql,
    level1_sql,
)

SIGN = "sign"  # the column of the changed rows: −1 a row that left, +1 a row that came in
_FIRST_KEYS = (
    "part",
    "route_hash",
    "merchant_code",
    "origin_city_code",
    "origin_province_code",
    "destination_province_code",
    "carrier_code",
    "offset_days",
    "entry",
)
_LEVEL1_KEYS = (*LEVEL1_KEYS, "offset_days", "entry", *LEVEL1_PARENT_KEYS)


@dataclass(frozen=True)
class TableNames:
    """The temporary tables of one build or fold, unique to it."""

    tag: str = field(default_factory=lambda: secrets.token_hex(4))

    def __getattr__(self, name: str) -> str:
        if name.startswith("_"):
            raise AttributeError(name)
        return f"_bg_{name}_{self.tag}"

    def drops(self) -> list[str]:
        names = ("hours", "cutoffs", "first", "level1", "level1_days", "routes")
        return [f"DROP TABLE IF EXISTS _bg_{name}_{self.tag}" for name in names]


@dataclass(frozen=True)
class RouteSums:
    """The sums a promise table was selected from, and what they were summed under.

    `key` is `sum_key` of the build; `directory` holds one Parquet file per
    table of TABLES, coded (`key_codes`), written and read by DuckDB itself:
    `hours` (merchant_code, pay_hour, n, lag_days), `cutoffs` (merchant_code,
    cutoff_hour, cutoff_parcels), `first` (route_scans' first pass: the kept
    hashes, level-2 and carrier day counts, pair carriers) and `level1` (the
    kept hashes' routes per day and parent).
    """

    key: dict[str, Any]
    directory: Path

    TABLES = ("hours", "cutoffs", "first", "level1")

    def relation(self, table: str) -> str:
        path = str(self.directory / f"{table}.parquet").replace("'", "''")
        return f"read_parquet('{path}')"


def sum_key(bound: dict[str, Any], params: PromiseParams) -> dict[str, Any]:
    """What the sums depend on besides the parcels: the as-of day, the numbers, the paused days.

    Everything else a build binds is an instant inside the as-of day, which
    changes no parcel's days (the build sees whole local days).
    """
    key = {
        "as_of_day": bound["as_of_day"],
        "params": params.as_record(),
        "paused_days": [day.isoformat() for day in bound["paused_days"]],
    }
    return dict(json.loads(json.dumps(key)))  # as it reads back from storage


def route_sums(
    con: duckdb.DuckDBPyConnection,
    names: TableNames,
    key: dict[str, Any],
    directory: Path,
    *,
    with_cutoffs: bool,
) -> RouteSums:
    """Write the sums of a build or fold (its temporary tables) to `directory`, a new one."""
    directory.mkdir(parents=True)
    empty = {
        "hours": "SELECT NULL::INTEGER AS merchant_code, NULL::TINYINT AS pay_hour,"
        " NULL::BIGINT AS n, NULL::BIGINT AS lag_days LIMIT 0",
        "cutoffs": "SELECT NULL::INTEGER AS merchant_code, NULL::TINYINT AS cutoff_hour,"
        " NULL::BIGINT AS cutoff_parcels LIMIT 0",
    }
    for table in RouteSums.TABLES:
        source = empty[table] if table in empty and not with_cutoffs else getattr(names, table)
        target = str(directory / f"{table}.parquet").replace("'", "''")
        query = source if source.startswith("SELECT") else f"SELECT * FROM {source}"
        con.execute(f"COPY ({query}) TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
    return RouteSums(key, directory)


def fold_sums(
    con: duckdb.DuckDBPyConnection,
    sums: RouteSums,
    changes: str,
    names: TableNames,
    bound: dict[str, Any],
    params: PromiseParams,
) -> str | None:
    """Fill `names`' tables with `sums` plus the changed rows; None, or why it cannot."""
    old = {name: sums.relation(name) for name in RouteSums.TABLES}
    stops = bool(bound["paused_days"])
    h = params.max_horizon_days
    with_cutoffs = params.cutoff_min_parcels > 0

    def create(name: str, sql: str) -> None:
        con.execute(f"CREATE TEMP TABLE {name} AS {sql}", bound_for(sql, bound))

    cutoffs = None
    if with_cutoffs:
        moved = cutoff_hours_sql(changes, stops, weight=SIGN)
        create(names.hours, _folded(old["hours"], moved, ("merchant_code", "pay_hour"), "n"))
        if _negative(con, names.hours, ("n", "lag_days")):
            return "sums_inconsistent"
        create(names.cutoffs, cutoffs_from_hours_sql(names.hours))
        if _differ(con, names.cutoffs, old["cutoffs"], ("merchant_code", "cutoff_hour")):
            return "cutoffs_moved"
        cutoffs = names.cutoffs
    moved_first = first_pass_sql(changes, h, paused=stops, cutoffs=cutoffs, weight=SIGN)
    create(f"{names.first}_moved", moved_first)
    try:
        gained = con.execute(
            f"SELECT count(*) FROM {names.first}_moved AS m"
            f" WHERE m.part = {KEPT_HASH_PART} AND m.parcels > 0 AND m.route_hash NOT IN"
            f" (SELECT route_hash FROM {old['first']} WHERE part = {KEPT_HASH_PART})"
        ).fetchall()[0][0]
        if gained:
            return "new_level1_routes"
        columns = ", ".join((*_FIRST_KEYS, "parcels", "events"))
        create(
            names.first,
            f"SELECT {columns} FROM {old['first']} WHERE part = {KEPT_HASH_PART}"
            f" UNION ALL SELECT {columns} FROM ("
            + _folded(
                f"(SELECT * FROM {old['first']} WHERE part <> {KEPT_HASH_PART})",
                f"SELECT * FROM {names.first}_moved WHERE part <> {KEPT_HASH_PART}",
                _FIRST_KEYS,
                "parcels",
                also="events",
            )
            + ")",
        )
    finally:
        con.execute(f"DROP TABLE IF EXISTS {names.first}_moved")
    moved_level1 = level1_sql(changes, h, old["first"], paused=stops, cutoffs=cutoffs, weight=SIGN)
    create(
        names.level1,
        _folded(old["level1"], moved_level1, _LEVEL1_KEYS, "parcels", also="events"),
    )
    for table in (names.first, names.level1):
        if _negative(con, table, ("parcels", "events")) or _more_events(con, table):
            return "sums_inconsistent"
    return None


def _folded(old: str, moved: str, keys: tuple[str, ...], count: str, *, also: str = "") -> str:
    """`old` plus `moved`, summed per `keys`, without the groups whose `count` comes to 0.

    Only the groups `moved` touches are summed again: the others are `old`'s
    rows as they are (an anti-join on the keys, null matching null), so a
    fold costs a pass over the sums, not a regrouping of them.
    """
    sums = [count, *([also] if also else [])]
    other = {"n": "lag_days"}.get(count)
    if other:
        sums.append(other)
    columns = ", ".join(keys)
    picked = f"{columns}, {', '.join(sums)}"
    totals = ", ".join(f"sum({name})::BIGINT AS {name}" for name in sums)
    match = " AND ".join(f"o.{key} IS NOT DISTINCT FROM m.{key}" for key in keys)
    return f"""
WITH moved AS MATERIALIZED (SELECT {picked} FROM ({moved})),
touched AS (
    SELECT {columns}, {totals} FROM (
        SELECT {", ".join(f"o.{name}" for name in (*keys, *sums))} FROM {old} AS o
        SEMI JOIN moved AS m ON {match}
        UNION ALL SELECT {picked} FROM moved
    ) GROUP BY ALL HAVING sum({count}) <> 0
)
SELECT {", ".join(f"o.{name}" for name in (*keys, *sums))} FROM {old} AS o
ANTI JOIN moved AS m ON {match}
UNION ALL SELECT {picked} FROM touched
"""


def _negative(con: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, ...]) -> bool:
    test = " OR ".join(f"{name} < 0" for name in columns)
    return bool(con.execute(f"SELECT count(*) FROM {table} WHERE {test}").fetchall()[0][0])


def _more_events(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(
        con.execute(f"SELECT count(*) FROM {table} WHERE events > parcels").fetchall()[0][0]
    )


def _differ(con: duckdb.DuckDBPyConnection, new: str, old: str, columns: tuple[str, ...]) -> bool:
    picked = ", ".join(columns)
    row = con.execute(
        f"SELECT count(*) FROM ((SELECT {picked} FROM {new} EXCEPT SELECT {picked} FROM {old})"
        f" UNION ALL (SELECT {picked} FROM {old} EXCEPT SELECT {picked} FROM {new}))"
    ).fetchall()
    return bool(row[0][0])
