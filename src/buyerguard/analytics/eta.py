"""Delivery promises (预计达, policies.md §11): a Kaplan–Meier promise table per route.

For every route at every back-off level we estimate P(signed by the end of
local day k | not lost), where k counts Asia/Shanghai calendar days from the
local pay date (k = 0: signed the day it was paid). The promise is the
smallest k with that probability ≥ the confidence. Parcels still in transit
are right-censored rather than dropped: dropping them keeps only the fast ones
among recent parcels and biases every promise short.

The model (rulebook `[arrival]`; it beat Olist's own promise on the Olist
walk-forward, docs/benchmarks.md):

- Lost after L days (`lost_after_days`, 60). A parcel not signed within L
  local days of its pay day is lost (the refund fact the engine will have)
  and leaves the history; a parcel signed later than day L counts as lost
  too, so the same parcel is lost at every as-of. Until it is L days old and
  unsigned it is censored as usual, so there is no look-ahead.
- Observed window (`history_window_basis` = "observed"). The
  `history_window_days` W select the local days on which parcels were
  observed, D − W .. D − 1 (D the as-of day), not the days they were paid: a
  parcel paid before D − W enters the risk set on the day the window starts
  (Kaplan–Meier with delayed entry, "period analysis") and counts for the
  days it was in transit inside the window. Every daily hazard then comes
  from the last W days, and a short window still sees a long tail. The scan
  reaches back W + horizon + 1 days; a route's sample size (for
  min_samples) counts only the parcels paid inside the window. With "paid"
  the window selects pay instants [as_of − W days, as_of) (the round-1
  model).
- Shrinkage (`hazard_prior_strength` m, 20). Each route's daily hazard is
  shrunk toward its parent route's, empirical-Bayes style with m
  pseudo-parcels: h(k) = (d(k) + m·h_parent(k)) / (n(k) + m), with d the
  signed and n the at-risk parcels on day k. Parents: product + origin region
  → destination region → (its merchant, origin city, destination province);
  merchant route → origin city → destination province → origin province →
  destination province → the province pair's most used carrier (ties: the
  smallest carrier code) → none. The parent is shrunk first (coarsest level
  first). A day with nobody at risk follows the parent; a well-sampled route
  keeps about its own hazard. A route whose parent has too few samples to be
  kept is not shrunk. m = 0 turns shrinkage off. The min_samples cut-off
  still decides which level answers.
- Normal days (the production build passes `paused`: public holidays and
  declared slowdowns). A parcel is watched until the first paused day after
  its pay day and censored there if unsigned; one paid on a paused day is
  left out. Offsets then count normal days, and the lookup steps over paused
  days (clock.add_days_past_holidays), so a holiday is neither learned as a
  slow route nor added twice. docs/logistics.md has the why.

With basis "paid", m = 0 and L ≥ window + horizon the build gives exactly the
round-1 tables (`PromiseParams.old_model()`; tests/analytics keep those
expectations).

Censoring convention. The build sees whole local days only: a parcel counts as
signed on day k when it was signed before 00:00 Shanghai of the as-of date D.
Otherwise it is censored at c = D − pay date, meaning it is known unsigned
through the end of day c − 1 and is in the risk set for days 0 .. c − 1 only.
(A sign-for earlier on day D itself is treated as not yet seen, so a build
run at 15:00 gives the same table as one run at 00:00.) Parcels paid on day D
contribute nothing, and so do parcels with a sign date before the pay date
(bad data). A parcel signed after the horizon is censored at the horizon.

Back-off levels (policies.md §11), finest first:
1. product + origin region → destination region
2. merchant + origin city → destination province
3. origin city → destination province
4. origin province → destination province
5. carrier-wide
A lookup takes the first level whose route has ≥ min_samples parcels and stops
there, even when that route's promise is "none within the horizon": backing
off past a slow route to a faster coarse one would promise what the route's
own history says it cannot keep.

The build has two stages. `route_days` is SQL over the shipment history: it
reduces the parcels to per-route, per-day counts of the kept routes (≥
min_samples), with each route's parent; it is the only part whose cost grows
with the parcels, and it ports to Spark SQL (docs/logistics.md). `survival`
turns those counts into risk sets, shrunk hazards, CDFs and promises with
numpy, level by level; its input is bounded by routes × horizon (about 9 M
rows for 1.2 M routes at 1688 scale), whatever the parcel volume.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from buyerguard.analytics.promise_params import (
    PromiseParams,
    chosen_confidences,
)
from buyerguard.analytics.route_days import KeptRoutes, collect_routes, fold_routes
from buyerguard.analytics.route_selection import ROUTE_KEYS
from buyerguard.analytics.route_sums import RouteSums
from buyerguard.analytics.shipments import IDENTIFIER, write_table
from buyerguard.analytics.survival import promise_offsets
from buyerguard.errors import InvalidInput

LEVEL_NAMES: dict[int, str] = {
    1: "product+origin_region->destination_region",
    2: "merchant+origin_city->destination_province",
    3: "origin_city->destination_province",
    4: "origin_province->destination_province",
    5: "carrier",
}


PROMISE_TABLE_SCHEMA: pa.Schema = pa.schema(
    [
        pa.field("level", pa.int8(), nullable=False),
        pa.field("confidence", pa.float64(), nullable=False),
        pa.field("product_id", pa.string()),
        pa.field("merchant_id", pa.string()),
        pa.field("origin", pa.string()),
        pa.field("destination", pa.string()),
        pa.field("carrier", pa.string()),
        pa.field("promise_offset_days", pa.int32()),
        pa.field("probability", pa.float64()),
        pa.field("sample_size", pa.int64(), nullable=False),
        pa.field("cutoff_hour", pa.int8()),
    ]
)
# Level 0 rows are not routes: each is a merchant's observed cut-off (merchant_cutoffs.py),
# `cutoff_hour` set and `sample_size` the parcels it was read from, once per confidence.
CUTOFF_LEVEL = 0
# Nor are level 6 rows: each is a carrier running late from or to a province (the early
# signal, route_selection.running_late_sql): `carrier`, and `origin` or `destination` the
# province, `sample_size` the recent parcels, `probability` the share of them signed.
RUNNING_LATE_LEVEL = 6


def build_promise_table(
    con: duckdb.DuckDBPyConnection,
    shipments: str,
    keys: str,
    as_of: datetime,
    params: PromiseParams,
    *,
    confidences: Sequence[Decimal] | None = None,
    paused: Callable[[date], bool] | None = None,
) -> pa.Table:
    """The promise table as of `as_of`: one row per (level, route, confidence).

    Only routes with ≥ min_samples parcels are kept, since no lookup can use
    the others; that also keeps the table small at marketplace scale.
    `confidences` builds several levels in one pass (benchmarks sweep them).
    `shipments` is the history and `keys` its codebook (`key_codes`), each a
    table or view name or a Parquet path or glob. The SQL stage
    (`route_days`) runs on `con`; the per-route arithmetic (`survival`) on
    its small output. `paused` names the days transit time stops on (public
    holidays, declared slowdowns): the model learns on the other days, and its
    offsets count normal days, as the lookup's clock.add_days_past_holidays
    does; None (the benchmarks on foreign data): every day counts.
    """
    kept = collect_routes(con, shipments, keys, as_of, params, paused)
    return promise_table(kept, params, confidences)


def build_with_sums(
    con: duckdb.DuckDBPyConnection,
    shipments: str,
    keys: str,
    as_of: datetime,
    params: PromiseParams,
    *,
    paused: Callable[[date], bool] | None = None,
    sums_dir: Path,
) -> tuple[pa.Table, RouteSums]:
    """`build_promise_table`, and the sums it was selected from, written to `sums_dir` (a new
    directory) for `fold_promise_table`."""
    kept = collect_routes(con, shipments, keys, as_of, params, paused, sums_dir=sums_dir)
    assert kept.sums is not None
    return promise_table(kept, params), kept.sums


def fold_promise_table(
    con: duckdb.DuckDBPyConnection,
    sums: RouteSums,
    changes: str,
    keys: str,
    as_of: datetime,
    params: PromiseParams,
    *,
    paused: Callable[[date], bool] | None = None,
    sums_dir: Path,
) -> tuple[pa.Table, RouteSums] | str:
    """The table `build_with_sums` gives after the rows in `changes` (route_sums.py) changed,
    and its sums, written to `sums_dir` (a new directory).

    Reads only the changed rows; answers why not when it cannot (the caller
    then builds in full).
    """
    kept = fold_routes(con, sums, changes, keys, as_of, params, paused, sums_dir)
    if isinstance(kept, str):
        return kept
    assert kept.sums is not None
    return promise_table(kept, params), kept.sums


def promise_table(
    kept: KeptRoutes, params: PromiseParams, confidences: Sequence[Decimal] | None = None
) -> pa.Table:
    """The promise table of the kept routes: survival's promises, and the cut-offs as level 0."""
    chosen = chosen_confidences(params, confidences)
    found = promise_offsets(
        kept.days,
        kept.parent,
        kept.level,
        float(params.hazard_prior_strength),
        [float(c) for c in chosen],
    )
    parts = []
    for column, confidence in enumerate(chosen):
        offsets = found.offset_days[:, column]
        probability = found.probability[:, column]
        parts.append(
            kept.routes.select(["level", *ROUTE_KEYS])
            .add_column(1, "confidence", pa.repeat(pa.scalar(float(confidence)), len(offsets)))
            .append_column("promise_offset_days", pa.array(offsets, pa.int32(), mask=offsets < 0))
            .append_column("probability", pa.array(probability, mask=np.isnan(probability)))
            .append_column("sample_size", kept.routes.column("sample_size"))
        )
    cutoffs, late = kept.cutoffs, kept.running_late
    for confidence in chosen:
        parts.append(
            _side_rows(
                CUTOFF_LEVEL,
                confidence,
                {
                    "merchant_id": cutoffs.column("merchant_id"),
                    "sample_size": cutoffs.column("cutoff_parcels"),
                    "cutoff_hour": cutoffs.column("cutoff_hour"),
                },
            )
        )
        parts.append(
            _side_rows(
                RUNNING_LATE_LEVEL,
                confidence,
                {
                    "carrier": late.column("carrier"),
                    "origin": late.column("origin"),
                    "destination": late.column("destination"),
                    "sample_size": late.column("recent_parcels"),
                    "probability": late.column("signed_share"),
                },
            )
        )
    table = (
        pa.concat_tables(parts, promote_options="default")
        .select(PROMISE_TABLE_SCHEMA.names)
        .cast(PROMISE_TABLE_SCHEMA)
    )
    order = [(name, "ascending", "at_end") for name in PROMISE_TABLE_SCHEMA.names]
    return table.take(pc.sort_indices(table, sort_keys=order))


def create_promise_table(
    con: duckdb.DuckDBPyConnection,
    shipments: str,
    keys: str,
    as_of: datetime,
    params: PromiseParams,
    table_name: str,
    *,
    confidences: Sequence[Decimal] | None = None,
) -> None:
    """Like `build_promise_table`, but (re)writes a DuckDB table and returns nothing."""
    if not IDENTIFIER.match(table_name):
        raise InvalidInput("table_name_invalid", f"bad table name {table_name!r}", "table_name")
    table = build_promise_table(con, shipments, keys, as_of, params, confidences=confidences)
    write_table(con, table_name, table)


def _side_rows(level: int, confidence: Decimal, columns: dict[str, pa.ChunkedArray]) -> pa.Table:
    """Rows that are not routes (the cut-offs, the carriers running late), for one confidence."""
    size = len(next(iter(columns.values())))
    return pa.table(
        {
            "level": pa.repeat(pa.scalar(level, pa.int8()), size),
            "confidence": pa.repeat(pa.scalar(float(confidence)), size),
            **columns,
        }
    )
