"""Where a promise build leaves its sums, for the next build to fold changes into, and which
superseded tables a publication deletes.

Beside each published table, under the data directory:

    promises/sums-<build id>/<table>.parquet the sums (analytics/route_sums.py writes them)
    promises/sums-<build id>/engine.parquet  the engine's rows the build read
    promises/sums-<build id>/sums.json       the sums' key, the history mark, the row count

The pointer (`promises/current.json`) names the table it serves
(`promises/promises-<as of>.parquet`) and the directory of its sums. When a
build publishes, the other sums directories are deleted, and so are the
superseded tables but the latest `KEPT_SUPERSEDED_TABLES` (builds run one at a
time: ShipmentHistory holds the promise lock); an hourly update would
otherwise leave 24 tables a day behind.
"""

from __future__ import annotations

import json
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from buyerguard.analytics.route_sums import RouteSums
from buyerguard.store.history_changes import HistoryMark
from buyerguard.store.parcel_files import write_atomically, write_text_atomically

SUMS_PREFIX = "sums-"
TABLE_PREFIX = "promises-"
# Superseded promise tables kept beside the served one: an API worker that read the pointer
# just before a publication may still be opening its table.
KEPT_SUPERSEDED_TABLES = 2


@dataclass(frozen=True)
class StoredSums:
    """A build's sums, the history mark they were summed to, and the parcels they cover."""

    sums: RouteSums
    mark: HistoryMark
    shipments: int


def new_sums_dir(promises_dir: Path) -> Path:
    """A directory name for a build's sums, not yet there (the build writes its tables)."""
    return promises_dir / f"{SUMS_PREFIX}{secrets.token_hex(8)}"


def save_sums(stored: StoredSums) -> str:
    """Add the mark and the count beside the sums' tables; returns the directory's name."""
    target = stored.sums.directory
    write_atomically(stored.mark.engine, target / "engine.parquet")
    record = {
        "key": stored.sums.key,
        "import_seq": stored.mark.import_seq,
        "shipments": stored.shipments,
    }
    write_text_atomically(json.dumps(record, indent=1), target / "sums.json")
    return target.name


def load_sums(promises_dir: Path, pointer: dict[str, Any]) -> StoredSums | None:
    """The sums the pointer's table was selected from; None when none (or they are gone)."""
    name = pointer.get("sums")
    if not isinstance(name, str) or not name.startswith(SUMS_PREFIX):
        return None
    source = promises_dir / name
    try:
        record = json.loads((source / "sums.json").read_text())
        engine = pq.read_table(source / "engine.parquet")
    except FileNotFoundError:
        return None
    if not all((source / f"{table}.parquet").exists() for table in RouteSums.TABLES):
        return None
    return StoredSums(
        RouteSums(record["key"], source),
        HistoryMark(int(record["import_seq"]), engine),
        int(record["shipments"]),
    )


def drop_other_sums(promises_dir: Path, keep: str) -> None:
    """Delete every sums directory but `keep` (an earlier build's, or a failed one's)."""
    for path in promises_dir.glob(f"{SUMS_PREFIX}*"):
        if path.name != keep and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)


def drop_superseded_tables(promises_dir: Path, served: str) -> None:
    """Delete the promise tables older than the served one's `KEPT_SUPERSEDED_TABLES`
    predecessors (by modification time: publication order)."""
    others = [path for path in promises_dir.glob(f"{TABLE_PREFIX}*.parquet") if path.name != served]
    others.sort(key=lambda path: path.stat().st_mtime_ns, reverse=True)
    for path in others[KEPT_SUPERSEDED_TABLES:]:
        path.unlink(missing_ok=True)
