"""Writing the synthetic 1688 history: one Parquet file per Shanghai day, parcels timed by
cut-offs, distance, carrier and the holiday calendar, with the codebook of their key codes."""

from __future__ import annotations

import json
import shutil
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import chinese_calendar
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from rich.progress import Progress

from buyerguard.analytics.key_codes import KEY_CODE_COLUMNS, KeyCodebook
from buyerguard.analytics.shipments import SHIPMENT_SCHEMA
from buyerguard.clock import SHANGHAI, local_date, start_of_local_day
from buyerguard.progress import progress_bar
from eta.common import DAY_US, HOUR_US, console, instant_us
from eta.world import PAY_HOURS, World, cdf_of, draw, make_world

DAYS = 30


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
    day_start_us = instant_us(start_of_local_day(day))
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
    as_of_us = instant_us(as_of)
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
