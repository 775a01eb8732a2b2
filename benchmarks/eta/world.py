"""The fixed population the 1688-scale history is drawn from: cities, merchants, products and
carriers, with the skewed weights that give routes very uneven sample counts."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from eta.common import F64, I64, B

MERCHANTS = 100_000
PRODUCTS = 1_000_000
INDUSTRIES = 40

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
