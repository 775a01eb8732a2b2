"""Walk forward, day by day, over a drifting China-like history (issue 17 item 8).

Usage (from the repository root):
    .venv/bin/python benchmarks/walk_forward.py [--seed 1 --seed 2] [--start 2026-01-05]
        [--days 84] [--parcels-per-day 20000] [--merchants 3000] [--quick] [--undeclared]
        [--no-early-signal] [--json var/walk_forward.json]

For each Shanghai day D of the walk, as the engine would live through it:
1. the parcels as known at 00:00 D are imported through `ShipmentHistory.import_parcels`
   (the day's new payments, and every earlier parcel that shipped, signed or was
   refunded since the last import, restated: a parcel imported in transit and
   re-imported signed replaces itself; a parcel not signed by then has a blank
   `signed_at`, censored);
2. the promise table is built as of 00:00 D the way `eta build --as-of` does
   (`ShipmentHistory.build_promises`, the rulebook in force then) and served the
   way the API serves it (`current_promises`);
3. each parcel paid on D is looked up as `services.promises.promise` answers
   `GET /v1/promises`: `analytics.eta.promise_for` on the served table, then the
   lookup's own calendar and disruption handling (`add_days_past_holidays`,
   `disruptions.worst_disruption`, no label when either acts). The carrier's
   week-long disruption is declared by an operator when it begins
   (`--undeclared`: never).

A label holds when the parcel is signed by the end of the labelled Shanghai
day; a promised date is on time likewise (a lost parcel is late). Parcels
refunded before shipment are imported but not evaluated. Every day it also
checks that the history the build reads has no look-ahead: no payment, shipment
or signing at or after the build instant, one row per parcel, and exactly the
signings that happened before it.

Reported per ISO week: parcels, labels shown (share, by today / tomorrow / day
after), label hold, promised date on time, mean promised days, and the share of
parcels that arrived by paid day + 2 that were shown a label; weeks with ≥ 300
labels are marked, and each week is checked against issue 17's targets
(`target_misses`). No plot: matplotlib is not in the project's environment.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent))

from buyerguard.analytics.promise_lookup import promise_for
from buyerguard.analytics.promise_params import PromiseParams
from buyerguard.analytics.shipments import SHIPMENT_FACTS_SCHEMA
from buyerguard.clock import SHANGHAI, start_of_local_day, transit_paused
from buyerguard.rulebook import rulebook_at
from buyerguard.services import disruptions, slowdowns
from buyerguard.services.promises import adjusted
from buyerguard.store.shipment_history import ShipmentHistory
from drifting_history import (
    Disruption,
    HistorySpec,
    as_known_at,
    default_disruption,
    generate,
    spring_festival_days,
)
from walk_records import (
    DayCheck,
    WalkConfig,
    WalkResult,
    WeekRow,
    week_kind,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
QUICK_START, QUICK_DAYS, QUICK_PARCELS_PER_DAY, QUICK_MERCHANTS = date(2026, 1, 19), 35, 2500, 300

console = Console() if sys.stdout.isatty() else Console(width=180)


@contextmanager
def _history(data_dir: Path | None) -> Iterator[ShipmentHistory]:
    if data_dir is not None:
        yield ShipmentHistory(data_dir)
        return
    with tempfile.TemporaryDirectory(prefix="walk-forward-") as tmp:
        yield ShipmentHistory(Path(tmp))


def _instant(day: date) -> datetime:
    return start_of_local_day(day).astimezone(UTC)


def run_walk(config: WalkConfig, data_dir: Path | None = None, show: bool = True) -> WalkResult:
    """Walk `config.days` days from `config.start`; see the module docstring."""
    started = time.perf_counter()
    first_day = config.start - timedelta(days=config.warmup_days)
    total_days = config.warmup_days + config.days
    dis = default_disruption(first_day, total_days)
    if config.disruption_start is not None:
        dis = Disruption(dis.carrier, dis.provinces, config.disruption_start)
    spec = HistorySpec(
        seed=config.seed,
        first_day=first_day,
        days=total_days,
        parcels_per_day=config.parcels_per_day,
        merchants=config.merchants,
        disruption=dis,
    )
    truth = generate(spec)
    festival_days = spring_festival_days(first_day, first_day + timedelta(days=total_days + 30))
    festival = (festival_days[0], festival_days[-1]) if festival_days else None
    declared: tuple[disruptions.Disruption, ...] = ()
    if config.declare_disruption:
        declared = (
            disruptions.Disruption(
                id="walk-1",
                carrier=dis.carrier,
                regions=dis.region_codes,
                starts_at=_instant(dis.starts_on),
                until=_instant(dis.starts_on + timedelta(days=dis.days)),
                expected_extra_days=dis.expected_extra_days,
                reason="drifting history: hub closed",
                ended_at=None,
            ),
        )
    seeded: tuple[slowdowns.Slowdown, ...] = ()
    if config.seed_slowdowns:  # what `eta build` and the scheduler store before a build
        years = {day.year for day in (first_day, first_day + timedelta(days=total_days))}
        seeded = tuple(
            slowdowns.Slowdown(slowdown_id, new.name, new.first_day, new.last_day, False)
            for year in sorted(years)
            for slowdown_id, new in slowdowns.annual_slowdowns(year, rulebook_at)
        )
    paused_by_slowdowns = slowdowns.slowdown_days(seeded)

    def paused(day: date) -> bool:
        return transit_paused(day, paused_by_slowdowns)

    no_engine_facts = SHIPMENT_FACTS_SCHEMA.empty_table()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("truth", truth)
    walk_days = [config.start + timedelta(days=i) for i in range(config.days)]
    weeks: dict[str, WeekRow] = {}
    checks: list[DayCheck] = []
    stage_seconds = dict.fromkeys(("import", "look-ahead check", "build", "lookup"), 0.0)
    with _history(data_dir) as history, tempfile.TemporaryDirectory() as tmp:
        previous: datetime | None = None
        for number, day in enumerate(walk_days):
            as_of = _instant(day)
            # 1. The feed as known at 00:00 D: new payments and every parcel that moved since.
            changed = con.sql(
                """
                SELECT * FROM truth
                WHERE paid_at < $as_of AND ($prev IS NULL OR paid_at >= $prev
                      OR (shipped_at >= $prev AND shipped_at < $as_of)
                      OR (signed_at >= $prev AND signed_at < $as_of)
                      OR (refunded_at >= $prev AND refunded_at < $as_of))
                """,
                params={"as_of": as_of, "prev": previous},
            ).to_arrow_table()
            path = Path(tmp) / f"feed-{day.isoformat()}.parquet"
            pq.write_table(as_known_at(changed, as_of), path)
            tick = time.perf_counter()
            stored = history.import_parcels(path, now=as_of)
            previous = as_of
            tock = time.perf_counter()
            stage_seconds["import"] += tock - tick
            check = _visible(history, con, no_engine_facts, as_of)
            tick = time.perf_counter()
            stage_seconds["look-ahead check"] += tick - tock
            # 2. The build, as `eta build --as-of` does it; served as the API serves it.
            rulebook = rulebook_at(as_of)
            built_params = PromiseParams.from_rulebook(rulebook)
            if not config.early_signal:
                built_params = replace(built_params, late_min_expected=0)
            built = history.build_promises(
                no_engine_facts, as_of, built_params, rulebook.id, paused=paused
            )
            index, pointer = history.current_promises()
            params = PromiseParams.from_record(pointer["params"])
            tock = time.perf_counter()
            stage_seconds["build"] += tock - tick
            # 3. The day's parcels, looked up as GET /v1/promises answers.
            todays = con.sql(
                """
                SELECT product_id, merchant_id, origin_region, destination_region, carrier,
                       paid_at, CAST(timezone('Asia/Shanghai', signed_at) AS DATE) AS signed_day
                FROM truth
                WHERE paid_at >= $from AND paid_at < $until AND NOT refunded_before_shipment
                """,
                params={"from": as_of, "until": _instant(day + timedelta(days=1))},
            ).to_arrow_table()
            label_shown = rulebook_at(as_of).arrival.enabled
            iso = day.isocalendar()
            week_key = f"{iso.year}-W{iso.week:02d}"
            if week_key not in weeks:
                monday = day - timedelta(days=day.weekday())
                span = [monday + timedelta(days=i) for i in range(7)]
                walked = [d for d in span if d in set(walk_days)]
                weeks[week_key] = WeekRow(
                    week_key,
                    max(monday, walk_days[0]).isoformat(),
                    min(span[-1], walk_days[-1]).isoformat(),
                    week_kind(walked, festival, dis),
                    all_days_paused=all(paused(d) for d in walked),
                )
            row = weeks[week_key]
            cache: dict[tuple[str, ...], tuple[date | None, str | None, int, bool]] = {}
            day_labels = 0
            day_promised: list[int] = []
            for product, merchant, origin, dest, carrier, paid_at, signed_day in zip(
                *(todays[name].to_pylist() for name in todays.column_names), strict=True
            ):
                # Within one Shanghai day the answer depends on the route and on whether
                # the payment came at or after the merchant's cut-off only: the table works
                # in local days and the declaration's bounds are local midnights.
                cutoff = index.cutoff_hour(merchant)
                late = cutoff is not None and paid_at.astimezone(SHANGHAI).hour >= cutoff
                key = (product, merchant, origin, dest, carrier, str(late))
                if key not in cache:
                    cache[key] = _lookup(
                        index,
                        params,
                        (product, merchant, origin, dest, carrier),
                        paid_at,
                        declared,
                        seeded,
                    )
                promised, label, holiday_days, pushed = cache[key]
                label = label if label_shown else None
                row.parcels += 1
                in_slice = (
                    dis is not None
                    and carrier == dis.carrier
                    and (origin[:2] in dis.provinces or dest[:2] in dis.provinces)
                )
                row.slice_parcels += in_slice
                arrived_by_2 = signed_day is not None and (signed_day - day).days <= 2
                row.arrived_by_2 += arrived_by_2
                if promised is None:
                    continue
                kept = signed_day is not None and signed_day <= promised
                row.covered += 1
                row.on_time += kept
                row.promised_days_total += (promised - day).days
                day_promised.append((promised - day).days)
                row.lengthened_for_holiday += holiday_days > 0
                row.pushed_by_disruption += pushed
                row.slice_covered += in_slice
                row.slice_on_time += in_slice and kept
                if label is not None:
                    row.slice_labels += in_slice
                    row.slice_held += in_slice and kept
                    row.labels[label] += 1
                    row.held += kept
                    row.held_by_label[label] += kept
                    row.labelled_among_arrived_by_2 += arrived_by_2
                    day_labels += 1
            stage_seconds["lookup"] += time.perf_counter() - tock
            checks.append(
                DayCheck(
                    day.isoformat(),
                    *check,
                    stored.new,
                    stored.updated,
                    built.routes,
                    day_labels,
                    sum(day_promised) / len(day_promised) if day_promised else None,
                )
            )
            if show:
                console.print(
                    f"[dim]seed {config.seed} {day} ({number + 1}/{config.days}):"
                    f" {stored.new:,} new, {stored.updated:,} updated, {built.routes:,} routes,"
                    f" {todays.num_rows:,} parcels, {day_labels:,} labels[/dim]"
                )
    con.close()
    return WalkResult(
        config,
        dis,
        festival,
        [w.summary() for w in weeks.values()],
        checks,
        time.perf_counter() - started,
        truth.num_rows,
        {name: round(value, 2) for name, value in stage_seconds.items()},
    )


def _visible(
    history: ShipmentHistory, con: duckdb.DuckDBPyConnection, facts: pa.Table, as_of: datetime
) -> tuple[int, int, int, int, int]:
    """(rows the build reads, parcels paid before `as_of`, signings it sees, signings
    that happened before `as_of`, rows stating anything at or after `as_of`)."""
    with history.analytics_session() as session:
        view, _ = history.open_history(session, facts)
        rows, signed, ahead = session.execute(
            f"""
            SELECT count(*), count(signed_at),
                   count(*) FILTER (paid_at >= $as_of OR shipped_at >= $as_of
                                    OR signed_at >= $as_of)
            FROM {view}
            """,
            {"as_of": as_of},
        ).fetchall()[0]
    paid_before, signed_before = con.execute(
        "SELECT count(*), count(*) FILTER (signed_at < $as_of) FROM truth WHERE paid_at < $as_of",
        {"as_of": as_of},
    ).fetchall()[0]
    return int(rows), int(paid_before), int(signed), int(signed_before), int(ahead)


def _lookup(
    index: Any,
    params: PromiseParams,
    route: tuple[str, str, str, str, str],
    paid_at: datetime,
    declared: tuple[disruptions.Disruption, ...],
    seeded: tuple[slowdowns.Slowdown, ...],
) -> tuple[date | None, str | None, int, bool]:
    """`services.promises.promise` without the database: the same `promise_for` and the same
    `adjusted` (holidays, slowdowns, disruptions); (promised date, label, holiday and
    slowdown days stepped over, pushed). `route`: product, merchant, origin, destination,
    carrier."""
    product, merchant, origin, dest, carrier = route
    answer = promise_for(
        index,
        product_id=product,
        merchant_id=merchant,
        origin_region=origin,
        destination_region=dest,
        carrier=carrier,
        paid_at=paid_at,
        params=params,
    )
    active = tuple(d for d in declared if d.starts_at <= paid_at)  # declared by then
    found = adjusted(
        answer.promised_date,
        answer.label,
        paid_at,
        (dest, origin),
        carrier,
        active,
        seeded,
        answer.start_date,
    )
    paused_days = found.holiday_days + found.slowdown_days
    return found.promised, found.label, paused_days, found.disruption is not None


def quick_config(seed: int) -> WalkConfig:
    """CI size: five weeks — a normal one, the disruption's, the last before the Spring
    Festival slowdown, its onset, the holiday."""
    return WalkConfig(
        seed=seed,
        start=QUICK_START,
        days=QUICK_DAYS,
        parcels_per_day=QUICK_PARCELS_PER_DAY,
        merchants=QUICK_MERCHANTS,
    )


def main(argv: list[str] | None = None) -> int:
    from walk_report import print_weeks, recovery_days, target_misses  # it imports this module

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, action="append", help="repeat for several seeds")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 1, 5))
    parser.add_argument("--days", type=int, default=84, help="walked days")
    parser.add_argument("--parcels-per-day", type=int, default=20_000)
    parser.add_argument("--merchants", type=int, default=3000)
    parser.add_argument("--quick", action="store_true", help="CI size (under a minute a seed)")
    parser.add_argument("--undeclared", action="store_true", help="nobody declares the disruption")
    parser.add_argument(
        "--no-slowdowns", action="store_true", help="no seeded Spring Festival slowdown"
    )
    parser.add_argument(
        "--no-early-signal", action="store_true", help="no labels withdrawn by the early signal"
    )
    parser.add_argument("--json", type=Path, default=REPO_ROOT / "var" / "walk_forward.json")
    args = parser.parse_args(argv)
    results = []
    for seed in args.seed or [1]:
        if args.quick:
            config = quick_config(seed)
        else:
            config = WalkConfig(seed, args.start, args.days, args.parcels_per_day, args.merchants)
        if args.undeclared:
            config = WalkConfig(**{**asdict(config), "declare_disruption": False})
        if args.no_slowdowns:
            config = WalkConfig(**{**asdict(config), "seed_slowdowns": False})
        if args.no_early_signal:
            config = WalkConfig(**{**asdict(config), "early_signal": False})
        result = run_walk(config)
        results.append(result)
        print_weeks(result)
        recovery = recovery_days(result)
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in result.stage_seconds.items())
        console.print(
            f"seed {seed}: {result.generated_parcels:,} parcels generated, walked in"
            f" {result.seconds:.1f} s ({stages});"
            " look-ahead rows seen by any build:"
            f" {sum(c.look_ahead_rows for c in result.days)}"
            + (
                ""
                if recovery is None
                else f"; pre-holiday mean promised days {recovery[0]:.2f}, back within 10%"
                f" {'never in the walk' if recovery[1] is None else f'{recovery[1]} d'}"
                " after the slowdown's end"
            )
        )
    misses = [miss for result in results for miss in target_misses(result)]
    console.print(f"[bold]targets missed: {len(misses)}[/bold]")
    for miss in misses:
        console.print(f"  {miss}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps({"walks": [r.as_json() for r in results], "misses": misses}, indent=1)
    )
    console.print(f"JSON: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
