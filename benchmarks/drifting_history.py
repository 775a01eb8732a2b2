"""A drifting China-like shipment history of our own making, for the walk-forward harness.

Usage (from the repository root; writes one Parquet file in the import format):
    .venv/bin/python benchmarks/drifting_history.py --out var/history.parquet \
        [--seed 1] [--start 2025-12-01] [--days 120] [--parcels-per-day 20000]

Why it exists (issue 17 item 8): the promise model must be tried on a history
whose world changes — the Spring Festival slows every parcel down for its span
and recovers after it, one carrier's hub is disrupted for a week — with the
things that decide a 1–2 day delivery in it (pay hour against the merchant's
afternoon cut-off, the merchant's handling time, the day of week, the carrier).

What is in it, all seeded (the same seed and sizes give the same rows):
- 31 provinces by their real GB/T 2260 codes; buyers and merchants sit in real
  district codes (a few per province); Tibet, Xinjiang, Qinghai, Gansu,
  Ningxia and Inner Mongolia are remote (a day or two slower).
- Merchants with an afternoon cut-off (12:00–18:00) and a handling time
  (same day, one day, two or three days); some never ship on Sundays; a main
  carrier and sometimes a second one. Products' popularity is Zipf-like.
- Carriers at different speeds; transit grows with distance; parcels reaching
  the buyer at night are signed the next morning; 3% are held up 1–3 days;
  0.3% are never signed (lost); 1% are refunded before they ship.
- Calendar (the real one, `chinese_calendar`): couriers work at a fraction of
  their speed from 5 days before the Spring Festival holiday to its end, then
  recover over 7 days; other public holidays are slower too; merchants do not
  ship during the holiday, and some close already in the days before it.
- One carrier's week-long disruption in two provinces (a hub closed): its
  parcels from or to them move at 30% speed for that week.

Time warp: every parcel needs some hours of courier work; a clock of work
hours per real hour (the speed profile above) turns them into an arrival
instant, so a slowdown stretches every parcel in transit through it.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import chinese_calendar
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from buyerguard.clock import SHANGHAI

# GB/T 2260 province prefix → (lat, lon of the capital, seller weight, buyer weight, remote,
# real district codes). Weights are rough: where 1688's sellers and buyers are.
PROVINCES: dict[str, tuple[float, float, float, float, bool, tuple[str, ...]]] = {
    "11": (39.9, 116.4, 3, 3, False, ("110101", "110105", "110108")),
    "12": (39.1, 117.2, 2, 2, False, ("120101", "120104")),
    "13": (38.0, 114.5, 3, 5, False, ("130102", "130104", "130602")),
    "14": (37.9, 112.5, 1, 3, False, ("140105", "140106")),
    "15": (40.8, 111.7, 0.5, 2, True, ("150102", "150105")),
    "21": (41.8, 123.4, 1.5, 3, False, ("210102", "210202")),
    "22": (43.9, 125.3, 0.5, 2, False, ("220102", "220104")),
    "23": (45.8, 126.6, 0.5, 2.5, False, ("230102", "230103")),
    "31": (31.2, 121.5, 5, 3, False, ("310101", "310115", "310112")),
    "32": (32.1, 118.8, 8, 6, False, ("320102", "320505", "320211")),
    "33": (30.3, 120.2, 12, 5, False, ("330106", "330782", "330206")),
    "34": (31.8, 117.3, 2, 4, False, ("340104", "340103")),
    "35": (26.1, 119.3, 5, 3, False, ("350102", "350203", "350582")),
    "36": (28.7, 115.9, 1.5, 3, False, ("360102", "360111")),
    "37": (36.7, 117.0, 4, 7, False, ("370102", "370202", "371302")),
    "41": (34.8, 113.7, 3, 7, False, ("410102", "410105")),
    "42": (30.6, 114.3, 2, 4, False, ("420102", "420106")),
    "43": (28.2, 112.9, 1.5, 4, False, ("430102", "430104")),
    "44": (23.1, 113.3, 20, 10, False, ("440305", "440304", "440106", "441900")),
    "45": (22.8, 108.3, 1, 3.5, False, ("450102", "450103")),
    "46": (20.0, 110.3, 0.3, 1, False, ("460105", "460106")),
    "50": (29.6, 106.5, 1.5, 2.5, False, ("500103", "500105")),
    "51": (30.7, 104.1, 2, 6, False, ("510104", "510107")),
    "52": (26.6, 106.7, 0.5, 2.5, False, ("520102", "520103")),
    "53": (25.0, 102.7, 0.5, 3, False, ("530102", "530103")),
    "54": (29.7, 91.1, 0.05, 0.3, True, ("540102",)),
    "61": (34.3, 108.9, 1, 3, False, ("610102", "610113")),
    "62": (36.1, 103.8, 0.3, 2, True, ("620102", "620103")),
    "63": (36.6, 101.8, 0.1, 0.5, True, ("630102", "630103")),
    "64": (38.5, 106.3, 0.1, 0.5, True, ("640104", "640105")),
    "65": (43.8, 87.6, 0.2, 2, True, ("650102", "650103")),
}
# Carrier → transit-time multiplier and share of merchants using it as main carrier.
CARRIERS: dict[str, tuple[float, float]] = {
    "SF": (0.75, 0.12),
    "JD": (0.8, 0.08),
    "ZTO": (1.0, 0.25),
    "YTO": (1.05, 0.2),
    "STO": (1.1, 0.15),
    "YD": (1.1, 0.2),
}
IMPORT_SCHEMA = pa.schema(
    [
        pa.field("order_id", pa.string(), nullable=False),
        pa.field("parcel_number", pa.int64()),
        pa.field("merchant_id", pa.string(), nullable=False),
        pa.field("product_id", pa.string()),
        pa.field("industry", pa.string(), nullable=False),
        pa.field("carrier", pa.string(), nullable=False),
        pa.field("official_logistics", pa.bool_()),
        pa.field("origin_region", pa.string(), nullable=False),
        pa.field("origin_city", pa.string()),
        pa.field("destination_region", pa.string(), nullable=False),
        pa.field("paid_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("shipped_at", pa.timestamp("us", tz="UTC")),
        pa.field("signed_at", pa.timestamp("us", tz="UTC")),
        pa.field("refunded_before_shipment", pa.bool_()),
        pa.field("origin_province", pa.string()),
        pa.field("destination_province", pa.string()),
    ]
)
SLOWDOWN_LEAD_DAYS = 5  # couriers thin out this many days before the Spring Festival holiday
RECOVERY_DAYS = 7  # and are back to full speed this many days after it
LOST_SHARE = 0.003
HELD_UP_SHARE = 0.03
REFUNDED_SHARE = 0.01


@dataclass(frozen=True)
class Disruption:
    """One carrier's hub closed: its parcels from or to `provinces` crawl for a week."""

    carrier: str
    provinces: tuple[str, ...]  # two-digit GB/T 2260 prefixes
    starts_on: date
    days: int = 7
    speed: float = 0.3
    expected_extra_days: int = 3  # what an operator declaring it would say

    @property
    def region_codes(self) -> tuple[str, ...]:
        return tuple(f"{p}0000" for p in self.provinces)


@dataclass(frozen=True)
class HistorySpec:
    """Sizes and calendar of one history; the seed decides everything else."""

    seed: int
    first_day: date
    days: int
    parcels_per_day: int
    merchants: int = 3000
    products_per_merchant: int = 8
    disruption: Disruption | None = None
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def last_day(self) -> date:
        return self.first_day + timedelta(days=self.days - 1)


def spring_festival_days(first: date, last: date) -> list[date]:
    """The Spring Festival holiday days (the real calendar) between two dates, inclusive."""
    found = []
    day = first
    while day <= last:
        try:
            holiday, name = chinese_calendar.get_holiday_detail(day)
        except NotImplementedError:
            holiday, name = False, None
        if holiday and name == "Spring Festival":
            found.append(day)
        day += timedelta(days=1)
    return found


def _public_holiday(day: date) -> bool:
    try:
        holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return False
    return bool(holiday and name is not None)


def day_speeds(first: date, days: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per day from `first`: courier speed (work hours per hour), merchants shipping at all,
    and merchants that close early shipping (both False through the Spring Festival)."""
    dates = [first + timedelta(days=i) for i in range(days)]
    festival = spring_festival_days(dates[0], dates[-1])
    speed = np.ones(days)
    open_all = np.ones(days, dtype=bool)
    open_early_closers = np.ones(days, dtype=bool)
    for i, day in enumerate(dates):
        if day.weekday() == 6:
            speed[i] = 0.85
        if _public_holiday(day):
            speed[i] = 0.6
    if festival:
        begin, end = festival[0], festival[-1]
        for i, day in enumerate(dates):
            before = (begin - day).days
            after = (day - end).days
            if begin <= day <= end:
                speed[i], open_all[i], open_early_closers[i] = 0.12, False, False
            elif 0 < before <= SLOWDOWN_LEAD_DAYS:
                speed[i] = 0.45
                open_early_closers[i] = False
            elif 0 < after <= RECOVERY_DAYS:
                speed[i] = 0.5 + 0.5 * after / (RECOVERY_DAYS + 1)
    return speed, open_all, open_early_closers


def _next_open(open_days: np.ndarray, no_sunday: bool, first: date) -> np.ndarray:
    """For each day index, the first index at or after it on which a merchant ships."""
    n = len(open_days)
    ok = open_days.copy()
    if no_sunday:
        for i in range(n):
            if (first + timedelta(days=i)).weekday() == 6:
                ok[i] = False
    nxt = np.full(n + 1, n, dtype=np.int64)
    for i in range(n - 1, -1, -1):
        nxt[i] = i if ok[i] else nxt[i + 1]
    return nxt[:n]


def _km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    h = (
        np.sin((p2 - p1) / 2) ** 2
        + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    )
    distance: np.ndarray = 6371 * 2 * np.arcsin(np.sqrt(h))
    return distance


def generate(spec: HistorySpec) -> pa.Table:
    """The whole history as it will finally be known: every parcel's true paid, shipped
    and signed instants (signed_at null for lost parcels; refunded ones never ship).

    Columns: the import format (`IMPORT_SCHEMA`) plus `refunded_at` (when a refund
    before shipment happened; null otherwise), which the walk needs to state a
    parcel as known at an instant and which the import file does not carry.
    """
    rng = np.random.default_rng(spec.seed)
    codes = list(PROVINCES)
    lat = np.array([PROVINCES[c][0] for c in codes])
    lon = np.array([PROVINCES[c][1] for c in codes])
    ship_w = np.array([PROVINCES[c][2] for c in codes], dtype=float)
    buy_w = np.array([PROVINCES[c][3] for c in codes], dtype=float)
    remote = np.array([PROVINCES[c][4] for c in codes])
    carriers = list(CARRIERS)
    carrier_speed = np.array([CARRIERS[c][0] for c in carriers])
    carrier_share = np.array([CARRIERS[c][1] for c in carriers])

    # Merchants.
    m = spec.merchants
    m_prov = rng.choice(len(codes), m, p=ship_w / ship_w.sum())
    m_district = np.array(
        [PROVINCES[codes[p]][5][rng.integers(len(PROVINCES[codes[p]][5]))] for p in m_prov]
    )
    m_cutoff = rng.choice(
        np.array([12.0, 14.0, 16.0, 17.0, 18.0]), m, p=[0.1, 0.2, 0.35, 0.2, 0.15]
    )
    m_handling = rng.choice(np.array([0, 1, 2, 3]), m, p=[0.65, 0.25, 0.08, 0.02])
    m_dispatch = m_cutoff + rng.uniform(0.5, 3.0, m)  # the day's pickup after the cut-off
    m_no_sunday = rng.random(m) < 0.35
    m_closes_early = rng.random(m) < 0.4
    m_carrier = rng.choice(len(carriers), m, p=carrier_share / carrier_share.sum())
    m_second = rng.choice(len(carriers), m, p=carrier_share / carrier_share.sum())
    m_second_share = np.where(rng.random(m) < 0.3, 0.2, 0.0)
    m_industry = np.array([f"I{i % 12:02d}" for i in range(m)])
    m_type = m_no_sunday.astype(int) * 2 + m_closes_early.astype(int)

    # Products, Zipf-like popularity.
    n_products = m * spec.products_per_merchant
    p_merchant = rng.integers(0, m, n_products)
    popularity = 1.0 / np.arange(1, n_products + 1) ** 1.05
    popularity /= popularity.sum()

    # Calendar: speeds over the history plus room for the slowest parcels to arrive.
    span = spec.days + 70
    speed, open_all, open_early = day_speeds(spec.first_day, span)
    next_open = {
        (ns, ce): _next_open(open_early if ce else open_all, ns, spec.first_day)
        for ns in (False, True)
        for ce in (False, True)
    }
    next_by_type = np.stack(
        [next_open[(bool(t // 2), bool(t % 2))] for t in range(4)]
    )  # type x day

    # Parcels.
    n = spec.days * spec.parcels_per_day
    paid_day = np.repeat(np.arange(spec.days), spec.parcels_per_day)
    evening = rng.random(n) < 0.25
    hour = np.where(evening, rng.normal(21.0, 1.5, n), rng.normal(12.5, 3.5, n))
    hour = np.clip(hour, 0.0, 23.99)
    product = rng.choice(n_products, n, p=popularity)
    merchant = p_merchant[product]
    use_second = rng.random(n) < m_second_share[merchant]
    carrier = np.where(use_second, m_second[merchant], m_carrier[merchant])
    d_prov = rng.choice(len(codes), n, p=buy_w / buy_w.sum())
    d_pick = rng.random(n)
    dest = np.array(
        [
            PROVINCES[codes[p]][5][int(u * len(PROVINCES[codes[p]][5]))]
            for p, u in zip(d_prov, d_pick, strict=True)
        ]
    )
    origin = m_district[merchant]
    o_prov = m_prov[merchant]

    # Handling: paid after the cut-off ships a day later; then the merchant's own days;
    # then the first day the merchant ships at all.
    candidate = paid_day + (hour >= m_cutoff[merchant]) + m_handling[merchant]
    candidate = np.minimum(candidate, span - 1)
    ship_day = next_by_type[m_type[merchant], candidate]
    ship_hour = m_dispatch[merchant] + rng.uniform(0, 1, n)
    shipped_h = ship_day * 24.0 + ship_hour  # hours since first_day 00:00 Shanghai

    # Transit work hours.
    same_city = np.array([o[:4] == d[:4] for o, d in zip(origin, dest, strict=True)])
    same_province = o_prov == d_prov
    km = _km(lat[o_prov], lon[o_prov], lat[d_prov], lon[d_prov])
    transit = np.where(
        same_city,
        rng.uniform(4, 14, n),
        np.where(
            same_province,
            rng.uniform(8, 20, n),
            10 + km / 45 * rng.lognormal(0, 0.25, n),
        ),
    )
    transit = transit * carrier_speed[carrier]
    transit += np.where(remote[d_prov], rng.uniform(18, 42, n), 0.0)
    held = rng.random(n) < HELD_UP_SHARE
    transit += np.where(held, 24.0 * rng.integers(1, 4, n), 0.0)

    # Time warp: cumulative work hours per hour, normal and disrupted.
    hourly = np.repeat(speed, 24)
    work = np.concatenate([[0.0], np.cumsum(hourly)])
    hours_axis = np.arange(len(work), dtype=float)
    disrupted = np.zeros(n, dtype=bool)
    work_d = work
    if spec.disruption is not None:
        dis = spec.disruption
        start_i = (dis.starts_on - spec.first_day).days * 24
        slow = hourly.copy()
        slow[start_i : start_i + dis.days * 24] *= dis.speed
        work_d = np.concatenate([[0.0], np.cumsum(slow)])
        prov_codes = np.array(codes)
        in_regions = np.isin(prov_codes[o_prov], dis.provinces) | np.isin(
            prov_codes[d_prov], dis.provinces
        )
        disrupted = in_regions & (np.array(carriers)[carrier] == dis.carrier)
    start_work = np.where(
        disrupted,
        np.interp(shipped_h, hours_axis, work_d),
        np.interp(shipped_h, hours_axis, work),
    )
    arrive_h = np.where(
        disrupted,
        np.interp(start_work + transit, work_d, hours_axis),
        np.interp(start_work + transit, work, hours_axis),
    )
    # Night arrivals are signed the next morning, 09:00-12:00.
    hour_of_day = np.mod(arrive_h, 24.0)
    morning = np.floor(arrive_h / 24.0) * 24.0 + 9.0 + rng.uniform(0, 3, n)
    arrive_h = np.where(
        hour_of_day >= 21.0, morning + 24.0, np.where(hour_of_day < 8.0, morning, arrive_h)
    )
    lost = rng.random(n) < LOST_SHARE
    refunded = rng.random(n) < REFUNDED_SHARE
    refund_h = paid_day * 24.0 + hour + rng.uniform(1, 20, n)
    refund_h = np.minimum(refund_h, shipped_h - 0.01)
    refund_h = np.maximum(refund_h, paid_day * 24.0 + hour + 0.01)

    origin_of = datetime.combine(spec.first_day, datetime.min.time(), SHANGHAI).astimezone(UTC)
    base_us = int(origin_of.timestamp() * 1_000_000)

    def instants(hours: np.ndarray, valid: np.ndarray) -> pa.Array:
        us = base_us + np.round(hours * 3_600_000_000).astype(np.int64)
        return pa.array(us, type=pa.timestamp("us", tz="UTC"), mask=~valid)

    paid_h = paid_day * 24.0 + hour
    everyone = np.ones(n, dtype=bool)
    carrier_names = np.array(carriers)[carrier]
    return pa.table(
        {
            "order_id": pa.array([f"S{spec.seed}-{i:08d}" for i in range(n)]),
            "parcel_number": pa.array(np.ones(n, dtype=np.int64)),
            "merchant_id": pa.array([f"M{i:05d}" for i in merchant]),
            "product_id": pa.array([f"P{i:06d}" for i in product]),
            "industry": pa.array(m_industry[merchant]),
            "carrier": pa.array(carrier_names),
            "official_logistics": pa.array(np.isin(carrier_names, ("SF", "JD"))),
            "origin_region": pa.array(origin),
            "origin_city": pa.array([o[:4] + "00" for o in origin]),
            "destination_region": pa.array(dest),
            "paid_at": instants(paid_h, everyone),
            "shipped_at": instants(shipped_h, ~refunded),
            "signed_at": instants(arrive_h, ~refunded & ~lost),
            "refunded_before_shipment": pa.array(refunded),
            "origin_province": pa.array([o[:2] + "0000" for o in origin]),
            "destination_province": pa.array([d[:2] + "0000" for d in dest]),
            "refunded_at": instants(refund_h, refunded),
        }
    )


def default_disruption(first_day: date, days: int) -> Disruption:
    """YTO's Guangdong/Guangxi hub, for the ISO week that starts two weeks before the
    Spring Festival slowdown (a normal week, with labels to withdraw or to fail) when
    the history holds it, else from the middle of the history."""
    festival = spring_festival_days(first_day, first_day + timedelta(days=days - 1))
    if festival:
        start = festival[0] - timedelta(days=SLOWDOWN_LEAD_DAYS + 14)
        start -= timedelta(days=start.weekday())  # a Monday: one ISO week
    else:
        start = first_day + timedelta(days=days // 2)
    return Disruption(carrier="YTO", provinces=("44", "45"), starts_on=start)


def as_known_at(truth: pa.Table, instant: datetime) -> pa.Table:
    """The rows as a feed states them at `instant`: what has not happened yet is blank."""
    at = pa.scalar(instant, type=pa.timestamp("us", tz="UTC"))
    paid = truth.filter(pc.less(truth["paid_at"], at))

    def before(column: str) -> pa.Array:
        values = paid[column]
        happened = pc.fill_null(pc.less(values, at), False)
        return pc.if_else(happened, values, pa.scalar(None, values.type))

    refunded = pc.fill_null(pc.less(paid["refunded_at"], at), False)
    out = paid.set_column(
        paid.schema.get_field_index("shipped_at"), "shipped_at", before("shipped_at")
    )
    out = out.set_column(out.schema.get_field_index("signed_at"), "signed_at", before("signed_at"))
    out = out.set_column(
        out.schema.get_field_index("refunded_before_shipment"), "refunded_before_shipment", refunded
    )
    return out.select(IMPORT_SCHEMA.names).cast(IMPORT_SCHEMA)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, required=True, help="Parquet file to write")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2025, 12, 1))
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--parcels-per-day", type=int, default=20_000)
    parser.add_argument("--merchants", type=int, default=3000)
    parser.add_argument(
        "--as-of",
        type=datetime.fromisoformat,
        default=None,
        help="state the parcels as known at this instant (default: everything, as finally known)",
    )
    args = parser.parse_args(argv)
    spec = HistorySpec(
        seed=args.seed,
        first_day=args.start,
        days=args.days,
        parcels_per_day=args.parcels_per_day,
        merchants=args.merchants,
        disruption=default_disruption(args.start, args.days),
    )
    truth = generate(spec)
    at = args.as_of or datetime.max.replace(tzinfo=UTC) - timedelta(days=1)
    rows = as_known_at(truth, at if at.tzinfo else at.replace(tzinfo=SHANGHAI))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(rows, args.out)
    print(f"{rows.num_rows:,} parcels written to {args.out} (seed {args.seed})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
