"""The synthetic China history and its replay: do the labels shown (today, tomorrow, the day
after) hold at least 90% of the time?"""

from __future__ import annotations

import math
import random
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa
from rich.table import Table

from buyerguard.analytics.shipments import SHIPMENT_FACTS_SCHEMA, create_coded_history
from buyerguard.clock import SHANGHAI
from promise_replay.common import DEFAULT_PROMISE, console, one
from promise_replay.replay import replay
from promise_replay.variant import Variant, describe_production

# Provincial capitals (GB/T 2260 province prefix → approximate lat, lon) and a
# rough weight for how much each ships (sellers) and buys (population-ish).
PROVINCES: dict[str, tuple[float, float, float, float]] = {
    "11": (39.9, 116.4, 3, 3),
    "12": (39.1, 117.2, 2, 2),
    "13": (38.0, 114.5, 3, 5),
    "14": (37.9, 112.5, 1, 3),
    "15": (40.8, 111.7, 0.5, 2),
    "21": (41.8, 123.4, 1.5, 3),
    "22": (43.9, 125.3, 0.5, 2),
    "23": (45.8, 126.6, 0.5, 2.5),
    "31": (31.2, 121.5, 5, 3),
    "32": (32.1, 118.8, 8, 6),
    "33": (30.3, 120.2, 12, 5),
    "34": (31.8, 117.3, 2, 4),
    "35": (26.1, 119.3, 5, 3),
    "36": (28.7, 115.9, 1.5, 3),
    "37": (36.7, 117.0, 4, 7),
    "41": (34.8, 113.7, 3, 7),
    "42": (30.6, 114.3, 2, 4),
    "43": (28.2, 112.9, 1.5, 4),
    "44": (23.1, 113.3, 20, 10),
    "45": (22.8, 108.3, 1, 3.5),
    "46": (20.0, 110.3, 0.3, 1),
    "50": (29.6, 106.5, 1.5, 2.5),
    "51": (30.7, 104.1, 2, 6),
    "52": (26.6, 106.7, 0.5, 2.5),
    "53": (25.0, 102.7, 0.5, 3),
    "54": (29.7, 91.1, 0.05, 0.3),
    "61": (34.3, 108.9, 1, 3),
    "62": (36.1, 103.8, 0.3, 2),
    "63": (36.6, 101.8, 0.1, 0.5),
    "64": (38.5, 106.3, 0.1, 0.5),
    "65": (43.8, 87.6, 0.2, 2),
}
CARRIERS: dict[str, float] = {"SF": 0.75, "JD": 0.85, "ZTO": 1.0, "YTO": 1.05, "STO": 1.1}


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 6371 * 2 * math.asin(math.sqrt(h))


def synthetic_china(first_day: date, days: int, parcels_per_day: int, seed: int) -> pa.Table:
    """A China-like history: province/city codes, cut-off times, distance-driven transit.

    Merchants ship at 18:00 when paid before their 16:00 cut-off, else the next
    day; transit hours grow with distance and vary by carrier; parcels arriving
    at night are signed the next morning; 3% are held up by 1-3 days and 0.3%
    are never signed. Product popularity is Zipf-like, so popular products
    have routes of their own and the long tail backs off.
    """
    rng = random.Random(seed)
    codes = list(PROVINCES)
    ship_w = [PROVINCES[c][2] for c in codes]
    buy_w = [PROVINCES[c][3] for c in codes]
    merchants: list[dict[str, Any]] = []
    for m in range(600):
        province = rng.choices(codes, ship_w)[0]
        city = f"{province}{rng.randint(1, 3):02d}"
        merchants.append(
            {
                "merchant_id": f"M{m:04d}",
                "origin_region": f"{city}{rng.randint(1, 5):02d}",
                "carrier": rng.choice(list(CARRIERS)),
                "cutoff_hour": rng.choice([12, 16, 16, 18]),
                "industry": f"I{m % 12:02d}",
            }
        )
    products = [(f"P{p:05d}", merchants[rng.randrange(len(merchants))]) for p in range(3000)]
    weights = [1 / (rank + 1) ** 1.1 for rank in range(len(products))]
    rows: list[dict[str, Any]] = []
    for d in range(days):
        day = first_day + timedelta(days=d)
        picks = rng.choices(products, weights, k=parcels_per_day)
        for product_id, merchant in picks:
            dest_province = rng.choices(codes, buy_w)[0]
            dest = f"{dest_province}{rng.randint(1, 3):02d}{rng.randint(1, 5):02d}"
            hour = min(23.99, max(0.0, rng.gauss(15, 5)))
            paid_local = datetime.combine(day, datetime.min.time(), SHANGHAI) + timedelta(
                hours=hour
            )
            ship_day = day if hour < merchant["cutoff_hour"] else day + timedelta(days=1)
            shipped_local = datetime.combine(ship_day, datetime.min.time(), SHANGHAI) + timedelta(
                hours=18
            )
            origin = merchant["origin_region"]
            if dest[:4] == origin[:4]:
                transit = rng.uniform(6, 20)
            else:
                km = _km(PROVINCES[origin[:2]][:2], PROVINCES[dest_province][:2])
                transit = 14 + km / 25 * rng.lognormvariate(0, 0.25)
            transit *= CARRIERS[merchant["carrier"]]
            if rng.random() < 0.03:
                transit += 24 * rng.randint(1, 3)
            arrive = shipped_local + timedelta(hours=transit)
            if arrive.hour >= 21 or arrive.hour < 8:
                morning = arrive if arrive.hour < 8 else arrive + timedelta(days=1)
                arrive = morning.replace(hour=9) + timedelta(minutes=rng.randint(0, 180))
            signed = None if rng.random() < 0.003 else arrive.astimezone(UTC)
            rows.append(
                {
                    "order_id": f"C{len(rows):08d}",
                    "merchant_id": merchant["merchant_id"],
                    "product_id": product_id,
                    "industry": merchant["industry"],
                    "carrier": merchant["carrier"],
                    "official_logistics": merchant["carrier"] in ("SF", "JD"),
                    "origin_region": origin,
                    "destination_region": dest,
                    "origin_city": origin[:4] + "00",
                    "origin_province": origin[:2] + "0000",
                    "destination_province": dest_province + "0000",
                    "paid_at": paid_local.astimezone(UTC),
                    "shipped_at": shipped_local.astimezone(UTC),
                    "signed_at": signed,
                    "refunded_before_shipment": False,
                }
            )
    return pa.Table.from_pylist(rows, schema=SHIPMENT_FACTS_SCHEMA)


def run_china(seed: int, variant: Variant | None = None) -> None:
    console.rule("[bold]Synthetic China: do shown labels hold?")
    first_day, history_days, replay_days = date(2024, 1, 1), 120, 60
    started = time.perf_counter()
    history = synthetic_china(first_day, history_days, parcels_per_day=3000, seed=seed)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    create_coded_history(con, "shipments", history)
    within3 = one(
        con,
        """
        SELECT avg((signed_at IS NOT NULL AND
                    CAST(timezone('Asia/Shanghai', signed_at) AS DATE)
                    - CAST(timezone('Asia/Shanghai', paid_at) AS DATE) <= 2)::INT),
               avg((signed_at IS NOT NULL AND signed_at <= paid_at + INTERVAL 72 HOUR)::INT)
        FROM shipments
        """,
    )
    console.print(
        f"{history.num_rows:,} parcels over {history_days} days, generated in"
        f" {time.perf_counter() - started:.1f} s (seed {seed}); signed by local day 2"
        f" (day after tomorrow): {within3[0]:.1%}; within 72 h: {within3[1]:.1%}"
    )
    days = [first_day + timedelta(days=history_days - replay_days + i) for i in range(replay_days)]
    params = DEFAULT_PROMISE
    console.print(
        f"model: production — {describe_production(params)}"
        if variant is None
        else f"model: variant — {variant.describe()}"
    )
    replay(
        con,
        days,
        (params.window_days,),
        (params.confidence,),
        params,
        "shipments",
        "days",
        variant,
    )
    rows = con.sql(
        """
        SELECT coalesce(r.label, 'none') AS shown_label, count(*) AS parcels,
               avg((s.signed_at IS NOT NULL AND
                    CAST(timezone('Asia/Shanghai', s.signed_at) AS DATE)
                    <= r.promised_date)::INT) AS held
        FROM replay_results r JOIN shipments s USING (order_id)
        GROUP BY 1
        """
    ).fetchall()
    order = ["today", "tomorrow", "day_after", "none"]
    rows.sort(key=lambda row: order.index(row[0]))
    shown = one(
        con,
        """
        SELECT count(*), avg((s.signed_at IS NOT NULL AND
                    CAST(timezone('Asia/Shanghai', s.signed_at) AS DATE)
                    <= r.promised_date)::INT)
        FROM replay_results r JOIN shipments s USING (order_id)
        WHERE r.label IS NOT NULL
        """,
    )
    levels = con.sql(
        "SELECT backoff_level, count(*) FROM replay_results GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    total = sum(n for _, n in levels)
    table = Table(title=f"Labels over the last {replay_days} days (confidence {params.confidence})")
    for col in ("label", "parcels", "share", "held"):
        table.add_column(col, justify="right")
    for label, parcels, held in rows:
        held_text = "" if label == "none" else f"{held:.2%}"
        table.add_row(label, f"{parcels:,}", f"{parcels / total:.1%}", held_text)
    console.print(table)
    console.print(
        f"shown labels held: {shown[1]:.2%} of {shown[0]:,} (target ≥ 90%);"
        " back-off levels used: "
        + ", ".join(f"{lv if lv is not None else 'none'}: {n / total:.1%}" for lv, n in levels)
    )
    con.close()
