"""Speed of the delivery-promise build and the 72-hour sign-rate job at 1688 scale.

Usage (from the repository root):
    .venv/bin/python benchmarks/eta_scale.py --rows 120000000 [--out DIR] [--keep]
        [--against CHECKOUT [--rounds N]]

1. Writes 30 days of synthetic shipments (≈ 4 M a day at 120 M rows) to a
   directory of Parquet files in SHIPMENT_SCHEMA, one file per local day,
   generated in chunks with numpy/pyarrow: 100 k merchants, 1 M products,
   340 cities in 31 provinces (GB/T 2260-like codes), 12 carriers, 40
   industries; Zipf-like popularity for products, merchants' product counts,
   origin and destination cities, so routes have very uneven sample counts;
   pay-to-sign delays driven by merchant dispatch cut-offs, distance and
   carrier (mostly 1–4 days, with a tail); weekends and the National Day
   week lower the volume and slow dispatch; parcels still in transit at the
   as-of instant are unsigned, 1.5% are refunded before shipment, 0.3% are
   lost (never signed).
2. Times the job alone in a child process: the promise table through the
   production `build_promise_table` (what `eta build` runs) plus
   `compute_sign_rates`, on DuckDB with 2 threads, a memory limit and a
   spill directory. The parent samples the child's resident set from
   /proc every 20 ms and also reads the kernel's high-water mark (VmHWM,
   and ru_maxrss from wait4), and reports the largest: peak memory measured
   from outside the process.
3. Writes a second data set of 10 M rows with the same generator and, in
   one child process, times the same job on it with DuckDB and with a
   vectorised pandas version of the rulebook's model (observed window, lost
   parcels, Kaplan–Meier with censoring and shrinkage toward the parent
   route, all five back-off levels, sign rate and badge), checks both give
   the same tables, and prints both rates and their ratio.
4. With --against CHECKOUT (another commit's working tree, e.g. from
   `git worktree add`), times that commit's job and this one's in
   alternation on the same data, --rounds times, and prints the ratios.

Parameters come from the rulebook in force on 2024-10-15; the data spans
the 30 Shanghai days before the as-of instant (default 2024-10-15 00:00
Shanghai). The data is deleted at the end unless --keep; a kept directory
with the same rows/seed/as-of is reused instead of being rewritten.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import chinese_calendar
import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from rich.console import Console
from rich.progress import (
    Progress,
)
from rich.table import Table

from buyerguard.analytics.eta import build_promise_table
from buyerguard.analytics.key_codes import KEY_CODE_COLUMNS, KeyCodebook
from buyerguard.analytics.promise_params import PromiseParams
from buyerguard.analytics.route_bind_values import promise_table_params
from buyerguard.analytics.shipments import SHIPMENT_SCHEMA
from buyerguard.analytics.sign_rate import (
    SignRateParams,
    compute_sign_rates,
    sign_rate_params,
)
from buyerguard.analytics.survival import CDF_TOLERANCE
from buyerguard.clock import (
    SHANGHAI,
    local_date,
    parse_instant,
    start_of_local_day,
    transit_paused,
)
from buyerguard.progress import progress_bar
from buyerguard.rulebook import rulebook_at

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "benchmarks" / "out" / "eta_scale"

RULEBOOK = rulebook_at(parse_instant("2024-10-15"))
PROMISE = PromiseParams.from_rulebook(RULEBOOK)
# The pandas baseline implements the rulebook's model (observed window, lost rule,
# shrinkage toward the parent route), so the DuckDB-vs-pandas comparison runs the very
# job that is timed (`PROMISE.old_model()` works too).
COMPARE_PROMISE = PROMISE
SIGN_RATE = SignRateParams.from_rulebook(RULEBOOK)

DAYS = 30
MERCHANTS = 100_000
PRODUCTS = 1_000_000
INDUSTRIES = 40
TARGET_SECONDS = 60.0
TARGET_PEAK_BYTES = 8 * 1024**3

US = 1_000_000
HOUR_US = 3_600 * US
DAY_US = 24 * HOUR_US

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

console = Console()

# ---------------------------------------------------------------- geography

# GB/T 2260 province prefixes, prefecture-level city counts (340 in all) and
# the capital's latitude/longitude, which drives distances.
PROVINCES: tuple[tuple[str, int, float, float], ...] = (
    ("11", 1, 39.9, 116.4),
    ("12", 1, 39.1, 117.2),
    ("13", 11, 38.0, 114.5),
    ("14", 11, 37.9, 112.5),
    ("15", 12, 40.8, 111.7),
    ("21", 14, 41.8, 123.4),
    ("22", 9, 43.9, 125.3),
    ("23", 13, 45.8, 126.5),
    ("31", 1, 31.2, 121.5),
    ("32", 13, 32.1, 118.8),
    ("33", 11, 30.3, 120.2),
    ("34", 16, 31.8, 117.3),
    ("35", 9, 26.1, 119.3),
    ("36", 11, 28.7, 115.9),
    ("37", 16, 36.7, 117.0),
    ("41", 17, 34.7, 113.6),
    ("42", 17, 30.6, 114.3),
    ("43", 14, 28.2, 112.9),
    ("44", 21, 23.1, 113.3),
    ("45", 14, 22.8, 108.3),
    ("46", 4, 20.0, 110.3),
    ("50", 1, 29.6, 106.5),
    ("51", 21, 30.7, 104.1),
    ("52", 9, 26.6, 106.7),
    ("53", 16, 25.0, 102.7),
    ("54", 7, 29.7, 91.1),
    ("61", 10, 34.3, 108.9),
    ("62", 14, 36.1, 103.8),
    ("63", 8, 36.6, 101.8),
    ("64", 5, 38.5, 106.3),
    ("65", 13, 43.8, 87.6),
)
# Where sellers are (1688's factories cluster on the east coast) ...
SELLER_WEIGHT = {"44": 30, "33": 28, "32": 12, "35": 8, "37": 7, "31": 5, "41": 3, "34": 3, "13": 3}
# ... and where buyers are (roughly population; remote provinces have few).
BUYER_LOW = {"54": 0.2, "63": 0.3, "64": 0.4, "65": 0.6, "46": 0.5}
REMOTE = {"54", "63", "65"}

# name, market share, transit-speed factor, share shipped as official logistics
CARRIERS: tuple[tuple[str, float, float, float], ...] = (
    ("ZTO", 0.20, 1.00, 0.3),
    ("YTO", 0.16, 1.00, 0.3),
    ("YUNDA", 0.14, 1.05, 0.3),
    ("JT", 0.12, 1.05, 0.2),
    ("STO", 0.10, 1.05, 0.3),
    ("SF", 0.09, 0.70, 0.1),
    ("CAINIAO", 0.06, 0.90, 1.0),
    ("JD", 0.05, 0.75, 0.1),
    ("EMS", 0.04, 1.25, 0.2),
    ("DEPPON", 0.02, 1.15, 0.1),
    ("BEST", 0.01, 1.20, 0.2),
    ("TTK", 0.01, 1.20, 0.2),
)

# Share of payments in each local hour (a 1688 day: office hours and evening).
_AM = [2, 1, 0.5, 0.3, 0.3, 0.5, 1, 2, 4, 6, 7, 6.5]
_PM = [5, 5.5, 6.5, 6.5, 6, 5.5, 4.5, 5, 5.5, 5.5, 4.5, 3]
PAY_HOURS = np.array([*_AM, *_PM])


def zipf_weights(n: int, s: float, rng: np.random.Generator) -> F64:
    """Zipf(s) weights over n items in a random order (rank 1 is a random item)."""
    w = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** s
    out = np.empty(n)
    out[rng.permutation(n)] = w / w.sum()
    return out


def cdf_of(weights: F64) -> F64:
    c = np.cumsum(weights)
    c /= c[-1]
    return c


def draw(cdf: F64, u: F64) -> I64:
    """Inverse-CDF sampling: indices distributed as the weights behind `cdf`."""
    idx = np.searchsorted(cdf, u, side="right")
    return np.minimum(idx, len(cdf) - 1).astype(np.int64)


@dataclass
class World:
    """The fixed population parcels are drawn from (seeded, so reruns match)."""

    city_codes: pa.Array
    province_codes: pa.Array
    city_province: I64
    city_xy_km: F64  # (n, 2) planar km
    buyer_city_cdf: F64
    province_city_start: I64
    province_city_count: I64
    remote_city: B
    merchant_ids: pa.Array
    merchant_city: I64
    merchant_industry: I64
    merchant_carrier: I64
    merchant_cutoff_hour: I64
    merchant_slowness: F64
    industry_names: pa.Array
    product_ids: pa.Array
    product_merchant: I64
    product_cdf: F64
    carrier_names: pa.Array
    carrier_cdf: F64
    carrier_speed: F64
    carrier_official: F64


def make_world(seed: int) -> World:
    rng = np.random.default_rng(seed)
    city_codes: list[str] = []
    province_of_city: list[int] = []
    xy: list[tuple[float, float]] = []
    seller_w: list[float] = []
    buyer_w: list[float] = []
    starts: list[int] = []
    counts: list[int] = []
    for p, (prefix, n, lat, lon) in enumerate(PROVINCES):
        starts.append(len(city_codes))
        counts.append(n)
        within = 1.0 / np.arange(1, n + 1) ** 1.1
        within /= within.sum()
        for c in range(n):
            city_codes.append(f"{prefix}{c + 1:02d}00")
            province_of_city.append(p)
            jlat = lat + (rng.uniform(-1.5, 1.5) if n > 1 else 0.0)
            jlon = lon + (rng.uniform(-1.8, 1.8) if n > 1 else 0.0)
            xy.append((111.0 * jlon * math.cos(math.radians(jlat)), 111.0 * jlat))
            seller_w.append(SELLER_WEIGHT.get(prefix, 0.4) * within[c])
            buyer_w.append(BUYER_LOW.get(prefix, 1.0) * n * within[c])
    assert len(city_codes) == 340
    city_province = np.array(province_of_city, dtype=np.int64)
    seller_cdf = cdf_of(np.array(seller_w))
    merchant_city = draw(seller_cdf, rng.random(MERCHANTS))
    carrier_share = np.array([c[1] for c in CARRIERS])
    carrier_cdf = cdf_of(carrier_share)
    product_merchant = draw(cdf_of(zipf_weights(MERCHANTS, 0.7, rng)), rng.random(PRODUCTS))
    return World(
        city_codes=pa.array(city_codes, pa.string()),
        province_codes=pa.array([p[0] + "0000" for p in PROVINCES], pa.string()),
        city_province=city_province,
        city_xy_km=np.array(xy),
        buyer_city_cdf=cdf_of(np.array(buyer_w)),
        province_city_start=np.array(starts, dtype=np.int64),
        province_city_count=np.array(counts, dtype=np.int64),
        remote_city=np.array([PROVINCES[p][0] in REMOTE for p in province_of_city]),
        merchant_ids=pa.array([f"M{i:06d}" for i in range(MERCHANTS)], pa.string()),
        merchant_city=merchant_city,
        merchant_industry=draw(cdf_of(zipf_weights(INDUSTRIES, 0.8, rng)), rng.random(MERCHANTS)),
        merchant_carrier=draw(carrier_cdf, rng.random(MERCHANTS)),
        merchant_cutoff_hour=rng.choice(np.array([12, 14, 16, 17, 18]), MERCHANTS).astype(np.int64),
        merchant_slowness=rng.gamma(0.6, 0.35, MERCHANTS),
        industry_names=pa.array([f"industry-{i:02d}" for i in range(INDUSTRIES)], pa.string()),
        product_ids=pa.array([f"P{i:07d}" for i in range(PRODUCTS)], pa.string()),
        product_merchant=product_merchant,
        product_cdf=cdf_of(zipf_weights(PRODUCTS, 0.9, rng)),
        carrier_names=pa.array([c[0] for c in CARRIERS], pa.string()),
        carrier_cdf=carrier_cdf,
        carrier_speed=np.array([c[2] for c in CARRIERS]),
        carrier_official=np.array([c[3] for c in CARRIERS]),
    )


# ---------------------------------------------------------------- generation


def day_weight(day: date) -> float:
    name = chinese_calendar.get_holiday_detail(day)[1]
    if name is not None and not chinese_calendar.is_workday(day):
        return 0.6  # a public holiday (National Day week)
    return 1.0 if chinese_calendar.is_workday(day) else 0.85


def rows_per_day(days: list[date], total: int) -> list[int]:
    w = np.array([day_weight(d) for d in days])
    exact = w / w.sum() * total
    counts = np.floor(exact).astype(np.int64)
    short = total - int(counts.sum())
    counts[np.argsort(exact - counts)[::-1][:short]] += 1
    return [int(c) for c in counts]


def generate_day(
    world: World,
    rng: np.random.Generator,
    day: date,
    n: int,
    first_order: int,
    as_of_us: int,
) -> pa.Table:
    """One local day's parcels as an Arrow table in SHIPMENT_SCHEMA, sorted by paid_at."""
    day_start_us = _instant_us(start_of_local_day(day))
    offset = SHANGHAI.utcoffset(start_of_local_day(day)) or timedelta(0)
    off_us = int(offset / timedelta(microseconds=1))
    non_workday = not chinese_calendar.is_workday(day)
    holiday = chinese_calendar.get_holiday_detail(day)[1] is not None and non_workday

    hour = draw(cdf_of(PAY_HOURS), rng.random(n))
    paid = day_start_us + hour * HOUR_US + rng.integers(0, HOUR_US, n)
    paid.sort()
    hour = (paid - day_start_us) // HOUR_US

    product = draw(world.product_cdf, rng.random(n))
    merchant = world.product_merchant[product]
    origin = world.merchant_city[merchant]
    dest = draw(world.buyer_city_cdf, rng.random(n))
    local_buyer = rng.random(n) < 0.15  # buyers near the seller: same province
    prov = world.city_province[origin[local_buyer]]
    dest[local_buyer] = world.province_city_start[prov] + (
        rng.random(int(local_buyer.sum())) * world.province_city_count[prov]
    ).astype(np.int64)
    carrier = world.merchant_carrier[merchant].copy()
    other = rng.random(n) < 0.2
    carrier[other] = draw(world.carrier_cdf, rng.random(int(other.sum())))
    official = rng.random(n) < world.carrier_official[carrier]

    refunded = rng.random(n) < 0.015
    lost = rng.random(n) < 0.003

    # Dispatch: same day before the merchant's cut-off, else the next; slow
    # merchants add days; weekends and holidays add more.
    ship_days = (hour >= world.merchant_cutoff_hour[merchant]).astype(np.int64)
    ship_days += rng.poisson(world.merchant_slowness[merchant])
    if non_workday:
        ship_days += rng.random(n) < (0.35 if holiday else 0.15)
    shipped = day_start_us + ship_days * DAY_US + rng.integers(16 * HOUR_US, 21 * HOUR_US, n)
    shipped = np.maximum(shipped, paid + rng.integers(HOUR_US // 2, 3 * HOUR_US, n))

    # Transit: distance and carrier, lognormal noise, a delay tail, remote regions.
    d = world.city_xy_km[origin] - world.city_xy_km[dest]
    km = np.sqrt((d * d).sum(axis=1)) * 1.25
    hours = (8.0 + 0.03 * km) * world.carrier_speed[carrier] * rng.lognormal(0.0, 0.3, n)
    delayed = rng.random(n) < 0.06
    hours[delayed] += rng.exponential(40.0, int(delayed.sum()))
    hours += 30.0 * world.remote_city[dest]
    arrival = shipped + (hours * HOUR_US).astype(np.int64)
    # Couriers deliver 08:00–21:00 local; later arrivals are signed next morning.
    local_us = (arrival + off_us) % DAY_US
    base = arrival - local_us
    morning = base + 8 * HOUR_US + rng.integers(0, 4 * HOUR_US, n)
    signed = np.where(
        local_us < 8 * HOUR_US,
        morning,
        np.where(local_us >= 21 * HOUR_US, morning + DAY_US, arrival),
    )

    shipped_null = refunded | (shipped >= as_of_us)
    signed_null = refunded | lost | (signed >= as_of_us)
    seq = pa.array(np.arange(first_order, first_order + n, dtype=np.int64))
    origin_a = pa.array(origin)
    dest_a = pa.array(dest)
    columns: dict[str, Any] = {
        "order_id": pc.binary_join_element_wise("O", pc.cast(seq, pa.string()), ""),
        "merchant_id": world.merchant_ids.take(pa.array(merchant)),
        "product_id": world.product_ids.take(pa.array(product)),
        "industry": world.industry_names.take(pa.array(world.merchant_industry[merchant])),
        "carrier": world.carrier_names.take(pa.array(carrier)),
        "official_logistics": pa.array(official),
        "origin_region": world.city_codes.take(origin_a),
        "destination_region": world.city_codes.take(dest_a),
        "origin_city": world.city_codes.take(origin_a),
        "origin_province": world.province_codes.take(pa.array(world.city_province[origin])),
        "destination_province": world.province_codes.take(pa.array(world.city_province[dest])),
        "paid_at": pa.array(paid, pa.timestamp("us", tz="UTC")),
        "shipped_at": pa.array(shipped, pa.timestamp("us", tz="UTC"), mask=shipped_null),
        "signed_at": pa.array(signed, pa.timestamp("us", tz="UTC"), mask=signed_null),
        "refunded_before_shipment": pa.array(refunded),
        # Key codes as the store assigns them (`world_codebook` is their codebook).
        "product_code": product,
        "merchant_code": merchant,
        "industry_code": world.merchant_industry[merchant],
        "carrier_code": carrier,
        "origin_region_code": origin,
        "destination_region_code": dest,
        "origin_city_code": origin,
        "origin_province_code": len(world.city_codes) + world.city_province[origin],
        "destination_province_code": len(world.city_codes) + world.city_province[dest],
    }
    for code_name, _ in KEY_CODE_COLUMNS.values():
        columns[code_name] = pa.array(columns[code_name].astype(np.int32))
    return pa.table(columns, schema=SHIPMENT_SCHEMA)


def world_codebook(world: World) -> KeyCodebook:
    """The codebook of `generate_day`'s codes: each dimension's values in world index order."""
    return KeyCodebook(
        {
            "product": world.product_ids,
            "merchant": world.merchant_ids,
            "industry": world.industry_names,
            "carrier": world.carrier_names,
            "region": pa.concat_arrays([world.city_codes, world.province_codes]),
        }
    )


def keys_path(directory: Path) -> Path:
    """Where `generate` writes the codebook of the history in `directory`."""
    return directory.with_name(directory.name + ".keys.parquet")


def progress() -> Progress:
    return progress_bar(console)


def generate(directory: Path, rows: int, as_of: datetime, seed: int, label: str) -> float:
    """Write `rows` parcels over the 30 local days before `as_of`; returns seconds.

    A directory whose manifest matches (rows, seed, as-of) is reused as is.
    """
    manifest = {
        "rows": rows,
        "seed": seed,
        "as_of": as_of.isoformat(),
        "days": DAYS,
        "format": "key codes",
    }
    manifest_path = directory.with_name(directory.name + ".manifest.json")
    if manifest_path.exists() and json.loads(manifest_path.read_text()) == manifest:
        console.print(f"[dim]{label}: reusing {directory} ({rows:,} rows)[/dim]")
        return 0.0
    manifest_path.unlink(missing_ok=True)
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    started = time.perf_counter()
    world = make_world(seed)
    rng = np.random.default_rng(seed + 1)
    last = local_date(as_of) - timedelta(days=1)
    days = [last - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
    as_of_us = _instant_us(as_of)
    first = 0
    pq.write_table(world_codebook(world).to_table(), keys_path(directory))
    with progress() as bar:
        task = bar.add_task(f"{label}: writing {directory.name}/", total=rows)
        for day, n in zip(days, rows_per_day(days, rows), strict=True):
            path = directory / f"paid-{day.isoformat()}.parquet"
            with pq.ParquetWriter(path, SHIPMENT_SCHEMA, compression="snappy") as writer:
                done = 0
                while done < n:  # ≤ 2 M rows in memory at a time
                    part = min(2_000_000, n - done)
                    table = generate_day(world, rng, day, part, first + done, as_of_us)
                    writer.write_table(table, row_group_size=1_048_576)
                    done += part
                    bar.advance(task, part)
            first += n
    manifest_path.write_text(json.dumps(manifest))
    return time.perf_counter() - started


# ---------------------------------------------------------------- the timed job


def connect(memory_limit: str, temp_dir: Path, threads: int) -> duckdb.DuckDBPyConnection:
    temp_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads)}")
    con.execute("SET memory_limit = $v", {"v": memory_limit})
    con.execute("SET temp_directory = $v", {"v": str(temp_dir)})
    return con


def duckdb_job(
    con: duckdb.DuckDBPyConnection,
    glob: str,
    keys: str,
    as_of: datetime,
    promise: PromiseParams = PROMISE,
    paused: Callable[[date], bool] | None = transit_paused,
) -> tuple[pa.Table, pa.Table, float, float]:
    """The production build + sign-rate job; (promises, rates, eta s, sign-rate s).

    `paused`: the production build learns on normal days (public holidays from the
    calendar; the data set's window holds National Day); None counts every day."""
    t0 = time.perf_counter()
    promises = build_promise_table(con, glob, keys, as_of, promise, paused=paused)
    t1 = time.perf_counter()
    rates = compute_sign_rates(con, glob, keys, as_of, SIGN_RATE)
    t2 = time.perf_counter()
    return promises, rates, t1 - t0, t2 - t1


def child_job(args: argparse.Namespace) -> None:
    """Child process: run the DuckDB job once, write timings as JSON."""
    as_of = parse_instant(args.as_of)
    con = connect(args.memory_limit, Path(args.temp_dir), args.threads)
    paused = None if args.every_day_counts else transit_paused
    promise = replace(PROMISE, cutoff_min_parcels=0) if args.no_cutoff else PROMISE
    promises, rates, eta_s, rate_s = duckdb_job(
        con, args.glob, args.keys, as_of, promise, paused=paused
    )
    levels = pc.value_counts(promises.column("level")).to_pylist()
    result = {
        "eta_seconds": eta_s,
        "sign_rate_seconds": rate_s,
        "promise_rows": promises.num_rows,
        "promise_rows_by_level": {str(v["values"]): v["counts"] for v in levels},
        "labelled_routes": int(
            pc.sum(pc.less_equal(promises.column("promise_offset_days"), 2)).as_py() or 0
        ),
        "merchants": rates.num_rows,
        "badged": int(pc.sum(rates.column("badge_eligible")).as_py() or 0),
    }
    Path(args.result).write_text(json.dumps(result))


# ---------------------------------------------------------------- pandas version

LEVEL_KEYS: dict[int, list[str]] = {
    1: ["product_id", "origin_region", "destination_region"],
    2: ["merchant_id", "origin_city", "destination_province"],
    3: ["origin_city", "destination_province"],
    4: ["origin_province", "destination_province"],
    5: ["carrier"],
}
OUT_KEYS = ("product_id", "merchant_id", "origin", "destination", "carrier")


def _epoch_us(series: Any) -> tuple[I64, B]:
    """(µs since the epoch, null mask) of a tz-aware pandas datetime column."""
    values = series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]")
    mask = np.isnat(values)
    return values.view(np.int64), mask


def _instant_us(instant: datetime) -> int:
    """µs since the epoch of an aware instant, exactly (no float seconds)."""
    return (instant - datetime.fromtimestamp(0, instant.tzinfo)) // timedelta(microseconds=1)


def _codes(column: Any, ordered: bool) -> tuple[I64, Any]:
    """Integer codes of a string column (−1: null) and the strings they stand for.

    A dictionary (categorical) column keeps its dictionary, others are
    factorized; with `ordered` the codes follow the strings' order, so the
    smallest code is the smallest string (as SQL's min() and ORDER BY see it).
    """
    import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the lock

    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = np.asarray(column.cat.codes.to_numpy(), dtype=np.int64)
        values = np.asarray(column.cat.categories, dtype=object)
    else:
        found, uniques = pd.factorize(column)
        codes, values = np.asarray(found, dtype=np.int64), np.asarray(uniques, dtype=object)
    if ordered:
        order = np.argsort(values)
        rank = np.empty(order.size, dtype=np.int64)
        rank[order] = np.arange(order.size)
        codes = np.where(codes >= 0, rank[np.maximum(codes, 0)], -1)
        values = values[order]
    return codes, values


def _kept_groups(columns: Sequence[I64], counted: B, least: int) -> tuple[B, I64, I64]:
    """Rows in a kept group, their group numbers and each kept group's `counted` rows.

    A group is a distinct row of the integer code columns (all ≥ 0), kept when
    ≥ `least` of its rows are `counted`; kept groups are numbered in key order.
    """
    import pandas as pd

    key = np.zeros(len(columns[0]), dtype=np.int64)
    space = 1
    for codes in columns:  # mixed radix: one int64 per row, ordered like the columns
        size = int(codes.max(initial=0)) + 1
        if space * size >= 2**62:  # renumber (keeping the order) before it could overflow
            uniques, key = np.unique(key, return_inverse=True)
            space = uniques.size
        key = key * size + codes
        space *= size
    if space <= 2 * key.size + 1024:  # a small key space: count with bincount
        count = np.bincount(key[counted], minlength=space)
        number = np.cumsum(count >= least) - 1
        inside = count[key] >= least
        return inside, number[key[inside]], count[count >= least]
    uniques, count = np.unique(key[counted], return_counts=True)
    at = np.asarray(pd.Index(uniques[count >= least]).get_indexer(key), dtype=np.int64)
    return at >= 0, at[at >= 0], count[count >= least]


def _lookup(left: dict[str, I64], right: dict[str, I64], column: str) -> I64:
    """right[column] on the row of `right` whose keys equal each row of `left` (−1: none).

    `right` holds each key (the columns of `left`) at most once.
    """
    import pandas as pd

    found = pd.DataFrame(left).merge(pd.DataFrame(right), on=list(left), how="left")[column]
    return np.asarray(found.fillna(-1).to_numpy(), dtype=np.int64)


def _pandas_promises(
    df: Any,
    paid_us: I64,
    signed_us: I64,
    unsigned: B,
    refunded: B,
    as_of: datetime,
    params: PromiseParams,
) -> Any:
    """The promise table of `params`' model (eta.py's docstring) with pandas and numpy.

    Per parcel the first and last day it is in the risk set; per level the kept
    routes and their parents; then per level, coarsest first, dense route × day
    at-risk and signed counts, the (shrunk) hazards, the Kaplan–Meier CDF and
    its first day at the confidence.
    """
    import pandas as pd

    bound = promise_table_params(as_of, params)
    offset_us = int(bound["offset_us"])
    as_of_day = int(bound["as_of_day"])
    entry_day = int(bound["entry_day"])
    min_samples = int(bound["min_samples"])
    horizon = params.max_horizon_days
    strength = float(params.hazard_prior_strength)
    confidence = float(params.confidence)

    # ---- parcels: in the risk set from day `entry` through day `exit_day`
    rows = np.flatnonzero(
        (paid_us >= _instant_us(bound["window_start"]))
        & (paid_us < _instant_us(bound["as_of"]))
        & ~refunded
    )
    pay_day = (paid_us[rows] + offset_us) // DAY_US
    sign_day = (np.where(unsigned[rows], 0, signed_us[rows]) + offset_us) // DAY_US
    seen = ~unsigned[rows] & (sign_day < as_of_day)  # signed before the as-of day
    delay = sign_day - pay_day
    age = np.where(seen, delay, as_of_day - pay_day)  # days known signed or unsigned
    event = seen & (delay <= horizon)
    exit_day = np.where(event, delay, np.minimum(age - 1, horizon))
    entry = np.maximum(0, entry_day - pay_day)
    keep = (age <= int(bound["lost_after"])) & (exit_day >= entry)  # not lost, observed
    rows, exit_day, entry, event = rows[keep], exit_day[keep], entry[keep], event[keep]

    # ---- route keys as integer codes (−1: no product), in string order where the
    # smallest chooses a parent
    codes: dict[str, I64] = {}
    values: dict[str, Any] = {}
    ordered = {"merchant_id", "origin_city", "origin_province", "destination_province", "carrier"}
    for name in sorted({k for ks in LEVEL_KEYS.values() for k in ks}):
        found, values[name] = _codes(df[name], name in ordered)
        codes[name] = found[rows]
        if name != "product_id" and np.any(codes[name] < 0):
            raise ValueError(f"null {name} in the shipments")

    # ---- kept routes per level: their parcels, keys and sample sizes
    members: dict[int, I64] = {}  # parcels (indices into rows) of the level's kept routes
    route: dict[int, I64] = {}  # each member's route number
    keys: dict[int, dict[str, I64]] = {}  # key codes per route
    sample: dict[int, I64] = {}
    last = 0  # G: the last day any kept route has a sign-for
    for level, names in LEVEL_KEYS.items():
        mine = np.flatnonzero(codes["product_id"] >= 0) if level == 1 else None
        columns = [codes[k] if mine is None else codes[k][mine] for k in names]
        paid_inside = entry == 0 if mine is None else entry[mine] == 0
        inside, route[level], sample[level] = _kept_groups(columns, paid_inside, min_samples)
        members[level] = np.flatnonzero(inside) if mine is None else mine[inside]
        keys[level] = {}
        for k, column in zip(names, columns, strict=True):
            key = np.empty(sample[level].size, dtype=np.int64)
            key[route[level]] = column[inside]
            keys[level][k] = key
        events = event[members[level]]
        if events.any():
            last = max(last, int(exit_day[members[level]][events].max()))

    # ---- parents (the next coarser level's route, −1 when it is not kept)
    most = np.iinfo(np.int64).max
    first_keys = {k: np.full(sample[1].size, most, dtype=np.int64) for k in LEVEL_KEYS[2]}
    for k, smallest in first_keys.items():  # a product route's smallest of each
        np.minimum.at(smallest, route[1], codes[k][members[1]])
    province_of_city = np.full(values["origin_city"].size, most, dtype=np.int64)
    np.minimum.at(province_of_city, codes["origin_city"], codes["origin_province"])
    pair_keys = ["origin_province", "destination_province", "carrier"]
    pair_columns = [codes[k] for k in pair_keys]
    _, number, used = _kept_groups(pair_columns, np.ones(rows.size, dtype=bool), 1)
    pairs = {}
    for k, column in zip(pair_keys, pair_columns, strict=True):
        pairs[k] = np.empty(used.size, dtype=np.int64)
        pairs[k][number] = column
    top = (  # each province pair's most used carrier, ties: the smallest code (and name)
        pd.DataFrame(pairs)
        .assign(parcels=used)
        .sort_values([*pair_keys[:2], "parcels", "carrier"], ascending=[True, True, False, True])
        .drop_duplicates(pair_keys[:2])
    )
    parent_keys: dict[int, dict[str, I64]] = {
        1: first_keys,
        2: {k: keys[2][k] for k in LEVEL_KEYS[3]},
        3: {
            "origin_province": province_of_city[keys[3]["origin_city"]],
            "destination_province": keys[3]["destination_province"],
        },
        4: {
            "carrier": _lookup(
                dict(keys[4]), {k: top[k].to_numpy(np.int64) for k in pair_keys}, "carrier"
            )
        },
    }
    parent: dict[int, I64] = {5: np.full(sample[5].size, -1, dtype=np.int64)}
    for level, wanted in parent_keys.items():
        table = dict(keys[level + 1], _row=np.arange(sample[level + 1].size))
        parent[level] = _lookup(wanted, table, "_row")

    # ---- hazards, CDF and promise per level, coarsest first
    width = last + 2  # column last + 1 gathers every day after the grid
    hazards: dict[int, F64] = {}
    tables = []
    for level in sorted(LEVEL_KEYS, reverse=True):
        n = sample[level].size
        cells = n * width
        cell = route[level] * width
        leave, enter = exit_day[members[level]], entry[members[level]]
        signs = event[members[level]]
        # +1 on the day a parcel enters the risk set, −1 on the day after it leaves
        moves = np.bincount(cell + np.minimum(enter, last + 1), minlength=cells)
        moves -= np.bincount(cell + np.minimum(leave + 1, last + 1), minlength=cells)
        at_risk = np.cumsum(moves.reshape(n, width), axis=1)[:, : last + 1].astype(np.float64)
        signed = np.bincount(cell[signs] + leave[signs], minlength=cells)
        d = signed.reshape(n, width)[:, : last + 1].astype(np.float64)
        hazard = np.divide(d, at_risk, out=np.zeros_like(d), where=at_risk > 0)
        shrunk = parent[level] >= 0
        if strength > 0 and shrunk.any():
            prior = hazards[level + 1][parent[level][shrunk]]
            hazard[shrunk] = (d[shrunk] + strength * prior) / (at_risk[shrunk] + strength)
        hazards[level] = hazard
        cdf = 1.0 - np.cumprod(1.0 - hazard, axis=1)
        hit = cdf >= confidence - CDF_TOLERANCE
        day = hit.argmax(axis=1)
        reached = hit[np.arange(n), day]
        names = LEVEL_KEYS[level]

        def text(name: str, level: int = level, names: list[str] = names) -> Any:
            return values[name][keys[level][name]] if name in names else None

        tables.append(
            pd.DataFrame(
                {
                    "level": np.full(n, level, dtype=np.int8),
                    "confidence": np.full(n, confidence),
                    "product_id": text("product_id"),
                    "merchant_id": text("merchant_id"),
                    "origin": text(names[-2]) if level <= 4 else None,
                    "destination": text(names[-1]) if level <= 4 else None,
                    "carrier": text("carrier"),
                    "promise_offset_days": pd.arrays.IntegerArray(day.astype(np.int32), ~reached),
                    "probability": np.where(reached, cdf[np.arange(n), day], np.nan),
                    "sample_size": sample[level],
                }
            )
        )
    return pd.concat(tables, ignore_index=True)


def pandas_job(
    directory: Path, as_of: datetime, params: PromiseParams | None = None
) -> tuple[Any, Any]:
    """The same build and sign-rate job, vectorised with pandas (no SQL).

    `params` defaults to COMPARE_PROMISE; the rulebook's model and its
    `old_model()` both work.
    """
    import pandas as pd

    keys = sorted({k for ks in LEVEL_KEYS.values() for k in ks} | {"industry"})
    df = pd.read_parquet(
        directory,
        columns=[*keys, "paid_at", "signed_at", "refunded_before_shipment"],
        # route-only columns as dictionaries (their codes); the sign rate reads the others
        read_dictionary=[k for k in keys if k not in ("merchant_id", "industry")],
    )
    paid_us, _ = _epoch_us(df["paid_at"])
    signed_us, unsigned = _epoch_us(df["signed_at"])
    refunded = df["refunded_before_shipment"].to_numpy(dtype=bool, na_value=False)

    promise = COMPARE_PROMISE if params is None else params
    promises = _pandas_promises(df, paid_us, signed_us, unsigned, refunded, as_of, promise)

    # ---- sign rate
    sr = sign_rate_params(as_of, SIGN_RATE)
    start_us = _instant_us(sr["window_start"])
    end_us = _instant_us(sr["window_end"])
    within_us = int(sr["within_us"])
    eligible = (paid_us >= start_us) & (paid_us < end_us) & ~refunded
    in_time = ~unsigned & (signed_us <= paid_us + within_us)
    orders = df.loc[eligible, ["merchant_id", "industry"]]
    orders["signed"] = in_time[eligible]
    per = (
        orders.groupby(["merchant_id", "industry"], sort=False)
        .agg(orders=("signed", "size"), signed_within=("signed", "sum"))
        .reset_index()
    )
    main = per.sort_values(["merchant_id", "orders", "industry"], ascending=[True, False, True])
    main = main.drop_duplicates("merchant_id")[["merchant_id", "industry"]]
    merchants = (
        per.groupby("merchant_id", sort=True)[["orders", "signed_within"]]
        .sum()
        .reset_index()
        .merge(main, on="merchant_id")
    )
    by_industry = merchants.groupby("industry")
    merchants["industry_orders"] = by_industry["orders"].transform("sum")
    merchants["industry_signed_within"] = by_industry["signed_within"].transform("sum")
    merchants["sign_rate"] = merchants["signed_within"] / merchants["orders"]
    merchants["industry_rate"] = merchants["industry_signed_within"] / merchants["industry_orders"]
    # Exact integer comparison, as in SQL (products stay far below 2**63 here).
    merchants["badge_eligible"] = (merchants["orders"] >= SIGN_RATE.min_orders) & (
        merchants["signed_within"] * merchants["industry_orders"]
        > merchants["industry_signed_within"] * merchants["orders"]
    )
    return promises, merchants


def same_results(promises: pa.Table, rates: pa.Table, pd_promises: Any, pd_rates: Any) -> str:
    """'' when pandas and DuckDB agree (probabilities within 1e-9), else what differs."""
    key = ["level", *OUT_KEYS]
    a = promises.to_pandas().sort_values(key).reset_index(drop=True)
    b = pd_promises.sort_values(key).reset_index(drop=True)
    if len(a) != len(b):
        return f"promise rows {len(a)} vs {len(b)}"
    for col in ("level", *OUT_KEYS, "sample_size"):
        if not (a[col].astype(object).fillna("∅") == b[col].astype(object).fillna("∅")).all():
            return f"promise column {col} differs"
    ka = a["promise_offset_days"].astype("Int64").fillna(-1)
    kb = b["promise_offset_days"].astype("Int64").fillna(-1)
    if not (ka == kb).all():
        return "promise_offset_days differs"
    pa_ = a["probability"].fillna(-1.0).to_numpy()
    pb_ = b["probability"].fillna(-1.0).to_numpy()
    if not np.allclose(pa_, pb_, rtol=0, atol=1e-9):
        return "probability differs"
    r = rates.to_pandas().sort_values("merchant_id").reset_index(drop=True)
    s = pd_rates.sort_values("merchant_id").reset_index(drop=True)
    cols = ["merchant_id", "industry", "orders", "signed_within", "industry_orders"]
    if len(r) != len(s) or not (r[cols] == s[cols]).all().all():
        return "sign rates differ"
    if not (r["badge_eligible"] == s["badge_eligible"]).all():
        return "badges differ"
    return ""


def child_compare(args: argparse.Namespace) -> None:
    """Child process: DuckDB then pandas on the same rows, same process."""
    as_of = parse_instant(args.as_of)
    directory = Path(args.glob).parent
    con = connect(args.memory_limit, Path(args.temp_dir), args.threads)
    t0 = time.perf_counter()
    # The pandas reference counts every day: compare the build that does too.
    promises, rates, _, _ = duckdb_job(
        con, args.glob, args.keys, as_of, COMPARE_PROMISE, paused=None
    )
    t1 = time.perf_counter()
    pd_promises, pd_rates = pandas_job(directory, as_of)
    t2 = time.perf_counter()
    result = {
        "duckdb_seconds": t1 - t0,
        "pandas_seconds": t2 - t1,
        "mismatch": same_results(promises, rates, pd_promises, pd_rates),
    }
    Path(args.result).write_text(json.dumps(result))


# ---------------------------------------------------------------- measuring from outside


def _status_kib(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


@dataclass(frozen=True)
class Measured:
    wall_seconds: float
    peak_rss_sampled: int  # bytes, max of 20 ms VmRSS samples
    peak_rss_kernel: int  # bytes, max of VmHWM and wait4's ru_maxrss
    result: dict[str, Any]

    @property
    def peak(self) -> int:
        return max(self.peak_rss_sampled, self.peak_rss_kernel)


def run_child(
    mode: str, glob: str, args: argparse.Namespace, work: Path, checkout: Path | None = None
) -> Measured:
    """Run `mode` of this script (or of `checkout`'s copy, on its code) in a child process.

    The child's resident set is sampled from here (peak memory from outside).
    """
    result_path = work / f"{mode}-result.json"
    result_path.unlink(missing_ok=True)
    script = Path(__file__).resolve()
    env = None
    if checkout is not None:
        script = checkout / "benchmarks" / "eta_scale.py"
        env = {**os.environ, "PYTHONPATH": str(checkout / "src")}
    cmd = [
        sys.executable,
        str(script),
        mode,
        "--glob",
        glob,
        "--as-of",
        args.as_of,
        "--memory-limit",
        args.memory_limit,
        "--threads",
        str(args.threads),
        "--temp-dir",
        str(work / "duckdb-tmp"),
        "--result",
        str(result_path),
    ]
    if checkout is None:  # a commit from before key codes takes no codebook
        cmd += ["--keys", str(keys_path(Path(glob).parent))]
        if args.every_day_counts:
            cmd.append("--every-day-counts")
        if args.no_cutoff:
            cmd.append("--no-cutoff")
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env)
    sampled = hwm = 0
    while True:
        sampled = max(sampled, _status_kib(proc.pid, "VmRSS"))
        hwm = max(hwm, _status_kib(proc.pid, "VmHWM"))
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            break
        time.sleep(0.02)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"error: child {mode} exited with {proc.returncode}")
    kernel = max(hwm, int(usage.ru_maxrss))  # KiB on Linux
    return Measured(wall, sampled * 1024, kernel * 1024, json.loads(result_path.read_text()))


# ---------------------------------------------------------------- main


def alternate(args: argparse.Namespace, glob: str, out: Path) -> None:
    """The job of `--against`'s checkout and this one's, alternately, same data and settings.

    The machine's speed can drift between runs (shared hosts); alternating
    both jobs in one sitting gives a ratio that drift does not bias much.
    """
    checkout = args.against.resolve()
    if not (checkout / "benchmarks" / "eta_scale.py").is_file():
        sys.exit(f"error: --against {checkout}: no benchmarks/eta_scale.py there")
    table = Table(title=f"{checkout.name} vs this checkout, alternating")
    for column in ("round", "other: eta + sign rate", "this", "ratio", "peak RSS other / this"):
        table.add_column(column, justify="right")
    for number in range(1, args.rounds + 1):
        runs = [run_child("_job", glob, args, out, checkout), run_child("_job", glob, args, out)]
        totals = [m.result["eta_seconds"] + m.result["sign_rate_seconds"] for m in runs]
        table.add_row(
            str(number),
            f"{runs[0].result['eta_seconds']:.1f} + {runs[0].result['sign_rate_seconds']:.1f}"
            f" = {totals[0]:.1f} s",
            f"{runs[1].result['eta_seconds']:.1f} + {runs[1].result['sign_rate_seconds']:.1f}"
            f" = {totals[1]:.1f} s",
            f"{totals[0] / totals[1]:.2f}×",
            f"{gib(runs[0].peak)} / {gib(runs[1].peak)}",
        )
        if runs[0].result["promise_rows"] != runs[1].result["promise_rows"]:
            console.print(
                f"[red]promise rows differ: {runs[0].result['promise_rows']:,} vs"
                f" {runs[1].result['promise_rows']:,}[/red]"
            )
    console.print(table)


def gib(n: int) -> str:
    return f"{n / 1024**3:.2f} GiB"


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("mode", nargs="?", default="run", choices=["run", "_job", "_compare"])
    parser.add_argument("--rows", type=int, default=120_000_000)
    parser.add_argument("--compare-rows", type=int, default=10_000_000)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--keep", action="store_true", help="keep the Parquet data")
    parser.add_argument("--seed", type=int, default=1688)
    parser.add_argument("--as-of", default="2024-10-15T00:00:00+08:00")
    parser.add_argument(
        "--every-day-counts",
        action="store_true",
        help="build without the holiday calendar (the model before it learned on normal days)",
    )
    parser.add_argument(
        "--no-cutoff", action="store_true", help="build without the merchants' cut-offs"
    )
    parser.add_argument("--memory-limit", default="6GB", help="DuckDB memory_limit")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-compare", action="store_true")
    parser.add_argument(
        "--against",
        type=Path,
        help="a checkout of another commit (e.g. a `git worktree`): time its job and this"
        " one's in alternation on the same data, --rounds times",
    )
    parser.add_argument("--rounds", type=int, default=2)
    # internal (child processes)
    parser.add_argument("--glob", help=argparse.SUPPRESS)
    parser.add_argument("--keys", help=argparse.SUPPRESS)
    parser.add_argument("--temp-dir", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> None:
    args = parse(argv)
    if args.mode == "_job":
        child_job(args)
        return
    if args.mode == "_compare":
        child_compare(args)
        return
    as_of = parse_instant(args.as_of)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    console.print(
        f"as of {as_of.astimezone(SHANGHAI):%Y-%m-%d %H:%M} Shanghai; promise {PROMISE}; "
        f"sign rate {SIGN_RATE}; DuckDB threads={args.threads}, "
        f"memory_limit={args.memory_limit}, {os.cpu_count()} CPUs"
    )
    try:
        big = out / "shipments"
        gen_s = generate(big, args.rows, as_of, args.seed, "history")
        size = sum(p.stat().st_size for p in big.glob("*.parquet"))
        how = f"generated in {gen_s:.0f} s" if gen_s else "reused"
        console.print(f"{args.rows:,} rows {how}; Parquet {gib(size)}")

        job = run_child("_job", str(big / "*.parquet"), args, out)
        r = job.result
        total = r["eta_seconds"] + r["sign_rate_seconds"]
        table = Table(title=f"eta build + sign rate on {args.rows:,} rows (child process)")
        table.add_column("measure")
        table.add_column("value", justify="right")
        table.add_row("eta build (build_promise_table)", f"{r['eta_seconds']:.1f} s")
        table.add_row("sign-rate job (compute_sign_rates)", f"{r['sign_rate_seconds']:.1f} s")
        table.add_row("job total", f"{total:.1f} s  (target ≤ {TARGET_SECONDS:.0f} s)")
        table.add_row("rows/s (rows ÷ job total)", f"{args.rows / total:,.0f}")
        table.add_row("child wall incl. start-up", f"{job.wall_seconds:.1f} s")
        table.add_row("peak RSS, 20 ms samples", gib(job.peak_rss_sampled))
        table.add_row("peak RSS, kernel high-water", gib(job.peak_rss_kernel))
        table.add_row("peak RSS (max)", f"{gib(job.peak)}  (target ≤ {gib(TARGET_PEAK_BYTES)})")
        table.add_row("promise routes by level", json.dumps(r["promise_rows_by_level"]))
        table.add_row("routes with a label (≤ day after)", f"{r['labelled_routes']:,}")
        table.add_row("merchants rated / badge-eligible", f"{r['merchants']:,} / {r['badged']:,}")
        console.print(table)
        met = total <= TARGET_SECONDS and job.peak <= TARGET_PEAK_BYTES
        console.print(f"speed target {'MET' if met else 'NOT MET'}")

        if args.against:
            alternate(args, str(big / "*.parquet"), out)
        if not args.skip_compare:
            n = min(args.rows, args.compare_rows)
            small = out / "compare"
            generate(small, n, as_of, args.seed, "comparison")
            cmp = run_child("_compare", str(small / "*.parquet"), args, out)
            c = cmp.result
            ratio = c["pandas_seconds"] / c["duckdb_seconds"]
            console.print(
                f"same job on {n:,} rows, one process: DuckDB {c['duckdb_seconds']:.1f} s "
                f"({n / c['duckdb_seconds']:,.0f} rows/s), pandas {c['pandas_seconds']:.1f} s "
                f"({n / c['pandas_seconds']:,.0f} rows/s): DuckDB is {ratio:.1f}× faster; "
                f"peak RSS of that process {gib(cmp.peak)}; results "
                + ("identical" if not c["mismatch"] else f"DIFFER: {c['mismatch']}")
            )
    finally:
        if not args.keep:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
