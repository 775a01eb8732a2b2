"""Answering from a built promise table: one parcel (`promise_for`, the API's hot path,
over an in-memory `PromiseIndex`) or many at once (`lookup_promises_sql`, the benchmarks).

Both walk the back-off levels of policies.md §11 the same way and count the
route's offset from the parcel's start day: its pay day, or the next day when
paid at or after its merchant's observed cut-off (the table's level-0 rows).
`eta.py` documents the model and builds the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import pyarrow as pa

from buyerguard.analytics.eta import CUTOFF_LEVEL, RUNNING_LATE_LEVEL
from buyerguard.analytics.promise_params import LABELS, Label, PromiseParams
from buyerguard.analytics.shipments import region_levels, relation_sql
from buyerguard.clock import SHANGHAI, ensure_utc, local_date
from buyerguard.errors import InvalidInput


@dataclass(frozen=True)
class Promise:
    """The answer for one parcel: what to promise, and on what evidence.

    `promised_date` is None when no level had enough samples (then
    `backoff_level` is None too) or when the chosen route does not reach the
    confidence within the horizon. It is `start_date` + the route's offset:
    the pay day, or the next day when paid at or after the merchant's
    observed cut-off (`cutoff_hour`).
    """

    promised_date: date | None
    label: Label | None
    probability: float | None
    sample_size: int
    backoff_level: int | None
    start_date: date | None = None  # the day the promise counts from (pay day, or next)
    cutoff_hour: int | None = None  # the merchant's observed cut-off, if it has one
    # The early signal: the carrier running late from or to the parcel's provinces (the label
    # is withdrawn); None when none is.
    running_late: RunningLate | None = None


@dataclass(frozen=True)
class RunningLate:
    """A carrier whose recent parcels from or to a province signed far fewer than its earlier
    ones had at the same age (the table's level-6 rows)."""

    carrier: str
    signed_share: float
    recent_parcels: int


def lookup_promises_sql(promises: str, parcels: str, params: PromiseParams) -> str:
    """Vectorised back-off lookup: `parcels` rows joined to their promise.

    `parcels` must have the route columns of the shipment schema plus
    paid_at; one output row per parcel and confidence in the table, with
    backoff_level, promise_offset_days, probability, sample_size,
    start_shift_days (1 when paid at or after the merchant's cut-off),
    promised_date and label (the same rules as `promise_for`).
    """
    table = relation_sql(promises)
    source = relation_sql(parcels)
    n = int(params.min_samples)
    max_label = int(params.max_label_offset_days)
    joins = {
        1: "l1.product_id = p.product_id AND l1.origin = p.origin_region"
        " AND l1.destination = p.destination_region",
        2: "l2.merchant_id = p.merchant_id AND l2.origin = p.origin_city"
        " AND l2.destination = p.destination_province",
        3: "l3.origin = p.origin_city AND l3.destination = p.destination_province",
        4: "l4.origin = p.origin_province AND l4.destination = p.destination_province",
        5: "l5.carrier = p.carrier",
    }
    join_sql = "\n".join(
        f"LEFT JOIN {table} l{lv} ON l{lv}.level = {lv} AND l{lv}.confidence = p.confidence"
        f" AND l{lv}.sample_size >= {n} AND {cond}"
        for lv, cond in joins.items()
    )
    join_sql += (
        f"\nLEFT JOIN {table} l0 ON l0.level = {CUTOFF_LEVEL} AND l0.confidence = p.confidence"
        " AND l0.merchant_id = p.merchant_id"
    )

    def pick(column: str) -> str:
        whens = " ".join(f"WHEN l{lv}.level IS NOT NULL THEN l{lv}.{column}" for lv in joins)
        return f"CASE {whens} END"

    labels = " ".join(
        f"WHEN {k} THEN '{label}'" for k, label in enumerate(LABELS) if k <= max_label
    )
    return f"""
WITH p AS (
    SELECT s.*, c.confidence
    FROM {source} s CROSS JOIN (SELECT DISTINCT confidence FROM {table}) c
),
chosen AS (
    SELECT p.*,
           {pick("level")}::TINYINT AS backoff_level,
           {pick("promise_offset_days")} AS promise_offset_days,
           {pick("probability")} AS probability,
           coalesce({pick("sample_size")}, 0) AS sample_size,
           coalesce((hour(timezone('Asia/Shanghai', p.paid_at)) >= l0.cutoff_hour)::INTEGER, 0)
               AS start_shift_days
    FROM p
    {join_sql}
)
SELECT *,
       CAST(timezone('Asia/Shanghai', paid_at) AS DATE) + start_shift_days + promise_offset_days
           AS promised_date,
       CASE start_shift_days + promise_offset_days {labels} END AS label
FROM chosen
"""


@dataclass(frozen=True)
class _RouteRow:
    promise_offset_days: int | None
    probability: float | None
    sample_size: int


_RouteKey = tuple[int, str | None, str | None, str | None, str | None, str | None]


class PromiseIndex:
    """An in-memory promise table for single lookups (the API's hot path)."""

    def __init__(
        self,
        rows: dict[_RouteKey, _RouteRow],
        cutoffs: dict[str, int] | None = None,
        late: dict[tuple[str, str], list[RunningLate]] | None = None,
    ) -> None:
        self._rows = rows
        self._cutoffs = cutoffs or {}
        self._late = late or {}

    def cutoff_hour(self, merchant_id: str) -> int | None:
        """The merchant's observed cut-off hour (Shanghai), or None."""
        return self._cutoffs.get(merchant_id)

    def running_late(
        self, carrier: str | None, origin_province: str | None, destination_province: str | None
    ) -> RunningLate | None:
        """The carrier running late from the origin province or to the destination province;
        with no carrier named, the latest of any carrier there (the parcel may go with it:
        the safe side)."""
        found = [
            late
            for key in (("origin", origin_province), ("destination", destination_province))
            for late in self._late.get((key[0], key[1] or ""), [])
            if not carrier or late.carrier == carrier
        ]
        return min(found, key=lambda late: late.signed_share, default=None)

    @classmethod
    def from_table(cls, table: pa.Table, confidence: Decimal | None = None) -> PromiseIndex:
        """Index a promise table; pick `confidence` when the table holds several."""
        present = sorted(set(table.column("confidence").to_pylist()))
        if confidence is None:
            if len(present) > 1:
                raise InvalidInput(
                    "confidence_ambiguous",
                    f"the promise table holds confidences {present}; choose one",
                    "confidence",
                )
            wanted = present[0] if present else None
        else:
            wanted = float(confidence)
        rows: dict[_RouteKey, _RouteRow] = {}
        cutoffs: dict[str, int] = {}
        late: dict[tuple[str, str], list[RunningLate]] = {}
        for rec in table.to_pylist():
            if rec["confidence"] != wanted:
                continue
            if rec["level"] == CUTOFF_LEVEL:
                cutoffs[rec["merchant_id"]] = int(rec["cutoff_hour"])
                continue
            if rec["level"] == RUNNING_LATE_LEVEL:
                where = (
                    ("origin", rec["origin"])
                    if rec["origin"]
                    else ("destination", rec["destination"])
                )
                late.setdefault(where, []).append(
                    RunningLate(rec["carrier"], rec["probability"], rec["sample_size"])
                )
                continue
            key: _RouteKey = (
                int(rec["level"]),
                rec["product_id"],
                rec["merchant_id"],
                rec["origin"],
                rec["destination"],
                rec["carrier"],
            )
            rows[key] = _RouteRow(
                rec["promise_offset_days"], rec["probability"], rec["sample_size"]
            )
        return cls(rows, cutoffs, late)

    def get(self, key: _RouteKey) -> _RouteRow | None:
        return self._rows.get(key)

    def __len__(self) -> int:
        return len(self._rows)


def promise_for(
    source: PromiseIndex | pa.Table,
    *,
    product_id: str | None,
    merchant_id: str,
    origin_region: str,
    destination_region: str,
    carrier: str,
    paid_at: datetime,
    params: PromiseParams,
    origin_city: str | None = None,
    origin_province: str | None = None,
    destination_province: str | None = None,
) -> Promise:
    """Walk the back-off levels for one parcel and answer as policies.md §11 says.

    City and province codes are derived from GB/T 2260 region codes when not
    given; for ISO 3166-2 regions the origin city must be passed explicitly.
    """
    index = source if isinstance(source, PromiseIndex) else PromiseIndex.from_table(source)
    derived_city, derived_origin_province = region_levels(origin_region, field="origin_region")
    _, derived_destination_province = region_levels(destination_region, field="destination_region")
    city = origin_city or derived_city
    if city is None:
        raise InvalidInput(
            "origin_city_required",
            f"origin_city cannot be derived from {origin_region!r}; pass it",
            "origin_city",
        )
    o_province = origin_province or derived_origin_province
    d_province = destination_province or derived_destination_province
    keys: list[_RouteKey] = []
    if product_id is not None:
        keys.append((1, product_id, None, origin_region, destination_region, None))
    keys += [
        (2, None, merchant_id, city, d_province, None),
        (3, None, None, city, d_province, None),
        (4, None, None, o_province, d_province, None),
        (5, None, None, None, None, carrier),
    ]
    paid_day = local_date(paid_at)
    cutoff = index.cutoff_hour(merchant_id)
    late = cutoff is not None and ensure_utc(paid_at).astimezone(SHANGHAI).hour >= cutoff
    start = paid_day + timedelta(days=int(late))
    running_late = index.running_late(carrier, o_province, d_province)
    for key in keys:
        row = index.get(key)
        if row is None or row.sample_size < params.min_samples:
            continue
        if row.promise_offset_days is None:
            return Promise(None, None, None, row.sample_size, key[0], start, cutoff, running_late)
        promised = start + timedelta(days=row.promise_offset_days)
        offset = (promised - paid_day).days
        shown = offset <= params.max_label_offset_days and running_late is None
        label = LABELS[offset] if shown else None
        return Promise(
            promised, label, row.probability, row.sample_size, key[0], start, cutoff, running_late
        )
    return Promise(None, None, None, 0, None, start, cutoff, running_late)
