"""Speed of the hourly promise update against the full build, at 1688 scale (issue 17).

Usage (from the repository root):
    .venv/bin/python benchmarks/eta_update.py --rows 120000000 --changed 500000 [--check]
        [--out DIR] [--keep]

1. Writes the synthetic history of `eta_scale.py` (`eta.history`'s generator, same
   --rows/--seed/--as-of; a kept directory is reused) and stores it as a
   shipment history (`ShipmentHistory`'s data directory: one stored file per
   local day, the codebook beside them).
2. The baseline: `ShipmentHistory.build_promises` as of the as-of instant —
   the nightly full build, which also leaves its sums.
3. An hour of 1688: `--changed` parcel rows stamped within the next hour,
   a third each of new payments, shipments of unshipped parcels and sign-fors
   of parcels in transit, imported through `ShipmentHistory.store_parcels`
   (timed apart: it is the import, not the update).
4. `ShipmentHistory.update_promises` one hour later: it must fold (the run
   fails otherwise) and is timed; its ratio to the full build is printed.
   With --check a full build as of the same instant must give the very same
   table (another full build's time).

Figures: seconds of each step, rows/s of the update, the ratio update / full
build, and the process's peak resident memory (ru_maxrss). DuckDB runs on
every CPU of the process (2 here) with no memory limit, as the service runs it.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))

from buyerguard.analytics.shipments import SHIPMENT_FACTS_SCHEMA
from buyerguard.clock import parse_instant, transit_paused
from buyerguard.store.parcel_files import (
    KEYS_FILE,
    PARCEL_FACTS_SCHEMA,
    PARCEL_NUMBER,
    STORED_SCHEMA,
    stored_table,
    write_atomically,
)
from buyerguard.store.shipment_history import ShipmentHistory
from eta.common import OUT_ROOT, PROMISE, console
from eta.history import generate, keys_path

DEFAULT_OUT = OUT_ROOT / "eta_update"
NO_ENGINE = SHIPMENT_FACTS_SCHEMA.empty_table()
REPLACES = STORED_SCHEMA.field("replaces").type


def stored_history(source: Path, root: Path) -> ShipmentHistory:
    """The generated day files as a shipment history's stored files (import i = day i)."""
    history = ShipmentHistory(root)
    if history.imported_dir.exists():
        shutil.rmtree(history.imported_dir)
    shutil.rmtree(root / "promises", ignore_errors=True)
    shutil.rmtree(root / "shipments" / "changes", ignore_errors=True)
    history.imported_dir.mkdir(parents=True)
    shutil.copy(keys_path(source), root / "shipments" / KEYS_FILE)
    for seq, path in enumerate(sorted(source.glob("paid-*.parquet"))):
        table = pq.read_table(path)
        table = table.append_column(
            PARCEL_NUMBER, pa.repeat(pa.scalar(1, PARCEL_NUMBER.type), table.num_rows)
        )
        table = table.append_column("import_seq", pa.repeat(pa.scalar(seq, pa.int64()), len(table)))
        table = table.append_column("replaces", pa.nulls(table.num_rows, REPLACES))
        write_atomically(stored_table(table), history.imported_dir / f"{path.stem}.parquet")
    return history


def an_hour_of_changes(history: ShipmentHistory, as_of: datetime, count: int) -> pa.Table:
    """`count` rows stamped in [as_of, as_of + 1 h): new payments, shipments and sign-fors."""
    third = count // 3
    facts = ", ".join(name for name in SHIPMENT_FACTS_SCHEMA.names)
    with history.analytics_session() as con:
        view, _ = history.open_history(con, NO_ENGINE)
        stamp = "$as_of + to_microseconds((hash(order_id) % 3600000000)::BIGINT)"
        shipped = con.sql(
            f"SELECT {facts}, parcel_number FROM {view} WHERE shipped_at IS NULL"
            f" AND NOT refunded_before_shipment LIMIT {third}"
        ).to_arrow_table()
        signed = con.sql(
            f"SELECT {facts}, parcel_number FROM {view} WHERE shipped_at IS NOT NULL"
            f" AND signed_at IS NULL LIMIT {third}"
        ).to_arrow_table()
        fresh = con.sql(
            f"SELECT {facts}, parcel_number FROM {view} LIMIT {count - 2 * third}"
        ).to_arrow_table()
        con.register("shipped_rows", shipped)
        con.register("signed_rows", signed)
        con.register("fresh_rows", fresh)
        names = (*SHIPMENT_FACTS_SCHEMA.names, "parcel_number")
        parts = []
        for rel, changes in (
            ("shipped_rows", {"shipped_at": stamp}),
            ("signed_rows", {"signed_at": stamp}),
            (
                "fresh_rows",
                {
                    "order_id": "'new-' || order_id",
                    "paid_at": stamp,
                    "shipped_at": "NULL::TIMESTAMPTZ",
                    "signed_at": "NULL::TIMESTAMPTZ",
                    "refunded_before_shipment": "false",
                },
            ),
        ):
            columns = ", ".join(f"{changes.get(name, name)} AS {name}" for name in names)
            parts.append(f"SELECT {columns} FROM {rel}")
        rows = con.sql(" UNION ALL ".join(parts), params={"as_of": as_of}).to_arrow_table()
    return rows.cast(PARCEL_FACTS_SCHEMA)


def peak_gib() -> float:
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024**2


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=120_000_000)
    parser.add_argument("--changed", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=1688)
    parser.add_argument("--as-of", default="2024-10-15T00:00:00+08:00")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--keep", action="store_true", help="keep the generated data")
    parser.add_argument("--check", action="store_true", help="compare with a full build")
    args = parser.parse_args(argv)
    as_of = parse_instant(args.as_of)
    source = args.out / f"rows-{args.rows}-seed-{args.seed}"
    root = args.out / "history"
    try:
        generate(source, args.rows, as_of, args.seed, "history")
        started = time.perf_counter()
        history = stored_history(source, root)
        console.print(f"stored as a shipment history in {time.perf_counter() - started:.1f} s")

        started = time.perf_counter()
        full = history.build_promises(NO_ENGINE, as_of, PROMISE, "bench", paused=transit_paused)
        full_s = time.perf_counter() - started
        console.print(
            f"full build: {full_s:.2f} s, {full.routes:,} routes from {full.shipments:,} parcels"
        )
        changes = an_hour_of_changes(history, as_of, args.changed)
        started = time.perf_counter()
        stored = history.store_parcels(changes, as_of + timedelta(minutes=59))
        import_s = time.perf_counter() - started
        console.print(
            f"import of {changes.num_rows:,} rows: {import_s:.2f} s"
            f" ({stored.new:,} new, {stored.updated:,} updated)"
        )
        later = as_of + timedelta(hours=1)
        started = time.perf_counter()
        update = history.update_promises(NO_ENGINE, later, PROMISE, "bench", paused=transit_paused)
        update_s = time.perf_counter() - started
        if update.built != "folded" or update.changed_rows is None:
            console.print(f"[red]the update built in full: {update.full_because}[/red]")
            return 1
        folded = update.changed_rows
        console.print(
            f"update: {update_s:.2f} s, {folded:,} changed rows folded"
            f" ({folded / update_s:,.0f} rows/s);"
            f" ratio update / full build {update_s / full_s:.3f}"
        )
        if args.check:
            table = pq.read_table(update.path)
            started = time.perf_counter()
            again = history.build_promises(
                NO_ENGINE, later, PROMISE, "bench", paused=transit_paused
            )
            check_s = time.perf_counter() - started
            console.print(f"check: a full build as of the update's instant {check_s:.2f} s")
            same = table.equals(pq.read_table(again.path))
            console.print(f"same table as the full build: {same}")
            if not same:
                return 1
        console.print(f"peak resident memory: {peak_gib():.2f} GiB")
        levels = pc.value_counts(pq.read_table(full.path).column("level")).to_pylist()
        console.print(f"rows per level: { {v['values']: v['counts'] for v in levels} }")
    finally:
        if not args.keep:
            shutil.rmtree(args.out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
