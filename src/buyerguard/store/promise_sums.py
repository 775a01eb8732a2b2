"""Where a promise build leaves its sums, for the next build to fold changes into.

Beside each published table, under the data directory:

    promises/sums-<build id>/<table>.parquet the sums (analytics/route_sums.py writes them)
    promises/sums-<build id>/engine.parquet  the engine's rows the build read
    promises/sums-<build id>/sums.json       the sums' key, the history mark, the row count

The pointer (`promises/current.json`) names the directory of the table it
serves; the others are deleted when a build publishes (builds run one at a
time: ShipmentHistory holds the promise lock).
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
