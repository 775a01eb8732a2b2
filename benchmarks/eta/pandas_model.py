"""The reference the DuckDB job is checked and timed against: the rulebook's promise model
and sign rate, vectorised with pandas and numpy (no SQL), and the check that both agree."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from buyerguard.analytics.promise_params import PromiseParams
from buyerguard.analytics.route_bind_values import promise_table_params
from buyerguard.analytics.sign_rate import sign_rate_params
from buyerguard.analytics.survival import CDF_TOLERANCE
from eta.common import COMPARE_PROMISE, DAY_US, F64, I64, SIGN_RATE, B, instant_us

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
        (paid_us >= instant_us(bound["window_start"]))
        & (paid_us < instant_us(bound["as_of"]))
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
    start_us = instant_us(sr["window_start"])
    end_us = instant_us(sr["window_end"])
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
