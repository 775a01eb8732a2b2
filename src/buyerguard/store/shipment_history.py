"""The shipment history and the jobs run over it: the promise build, the sign rates, serving.

`ShipmentHistory` is the stored parcels (`store.parcel_updates` on
`store.parcel_files`: files, codebook, locks, one live row per parcel) plus
the jobs that read them, which is why this is the one store module that
imports analytics jobs (`analytics.eta`, `analytics.sign_rate`): the
storage modules below it import only the schema and the codebook, and
nothing in analytics imports the store. It keeps its old name and place
because the services, the scheduler and the tests hold a `ShipmentHistory`.

Beside the history, under the data directory:

    promises/promises-<as-of>.parquet  one promise table per build
    promises/current.json              which table the API serves

The engine's own lifecycle facts (`store.engine_shipments`) are read from the
SQL store at build time and joined to the history as parcels of their own.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from buyerguard.analytics.eta import CUTOFF_LEVEL, build_promise_table
from buyerguard.analytics.promise_lookup import PromiseIndex
from buyerguard.analytics.promise_params import PromiseParams
from buyerguard.analytics.route_bind_values import promise_table_params
from buyerguard.analytics.sign_rate import SignRateParams, compute_sign_rates
from buyerguard.clock import format_instant
from buyerguard.errors import NotFound
from buyerguard.store.engine_shipments import engine_facts
from buyerguard.store.parcel_files import (
    DATA_DIR_ENV,
    KEYS_FILE,
    default_data_dir,
    write_atomically,
    write_text_atomically,
)
from buyerguard.store.parcel_updates import ParcelImport, ParcelStore
from buyerguard.store.shipment_import import MAX_REPORTED_ERRORS, ImportRefused, validated_import

__all__ = [
    "DATA_DIR_ENV",
    "KEYS_FILE",
    "MAX_REPORTED_ERRORS",
    "BuiltPromises",
    "ImportRefused",
    "ParcelImport",
    "ShipmentHistory",
    "default_data_dir",
]


@dataclass(frozen=True)
class BuiltPromises:
    as_of: datetime
    path: Path
    routes: int  # route rows (levels 1-5)
    shipments: int
    merchant_cutoffs: int  # level-0 rows: merchants with an observed cut-off


class ShipmentHistory(ParcelStore):
    """The stored parcels, imports into them, and the jobs that read them."""

    engine_facts = staticmethod(engine_facts)

    def __init__(self, root: Path | None = None) -> None:
        super().__init__(root or default_data_dir())
        self._index_lock = threading.Lock()
        self._index: tuple[str, PromiseIndex, dict[str, Any]] | None = None

    @property
    def promises_dir(self) -> Path:
        return self.root / "promises"

    # ------------------------------------------------------------------ import
    def import_parcels(self, path: Path, *, now: datetime) -> ParcelImport:
        """Validate a Parquet or CSV file whole, then store its new and changed parcels."""
        return self.store_parcels(validated_import(path, now), now)

    def import_file(self, path: Path, *, now: datetime) -> int:
        """`import_parcels`, returning how many rows were stored (new or changed parcels)."""
        return self.import_parcels(path, now=now).stored

    # ------------------------------------------------------------- promises
    def build_promises(
        self,
        engine_facts: pa.Table,
        as_of: datetime,
        params: PromiseParams,
        rulebook_id: str,
        *,
        paused: Callable[[date], bool] | None = None,
    ) -> BuiltPromises:
        """Build, store and publish the promise table (`paused`: eta.build_promise_table)."""
        with self.analytics_session() as con:
            view, keys = self.open_history(con, engine_facts)
            shipments = int(con.execute(f"SELECT count(*) FROM {view}").fetchall()[0][0])
            table = build_promise_table(con, view, keys, as_of, params, paused=paused)
        stamp = format_instant(as_of).replace(":", "")
        path = self.promises_dir / f"promises-{stamp}.parquet"
        write_atomically(table, path)
        cutoffs = int(pc.sum(pc.equal(table.column("level"), CUTOFF_LEVEL)).as_py() or 0)
        pointer = {
            "table": path.name,
            "as_of": format_instant(as_of),
            "rulebook_id": rulebook_id,
            "routes": table.num_rows - cutoffs,
            "merchant_cutoffs": cutoffs,
            "shipments": shipments,
            "params": params.as_record(),
            # The days the build learned around (public holidays, declared slowdowns), and a
            # fresh id, so that a rebuild as of the same instant replaces the served index.
            "paused_days": [
                day.isoformat()
                for day in promise_table_params(as_of, params, paused=paused)["paused_days"]
            ],
            "build_id": secrets.token_hex(8),
        }
        write_text_atomically(json.dumps(pointer, indent=2), self.promises_dir / "current.json")
        return BuiltPromises(as_of, path, table.num_rows - cutoffs, shipments, cutoffs)

    def current_promises(self) -> tuple[PromiseIndex, dict[str, Any]]:
        """The served promise table, reloaded when a new build replaces it."""
        pointer_path = self.promises_dir / "current.json"
        if not pointer_path.exists():
            raise NotFound(
                "promises_not_built", "no promise table yet: run `buyerguard eta build`", None
            )
        pointer_text = pointer_path.read_text()
        with self._index_lock:
            if self._index is None or self._index[0] != pointer_text:
                pointer = json.loads(pointer_text)
                table = pq.read_table(self.promises_dir / pointer["table"])
                self._index = (pointer_text, PromiseIndex.from_table(table), pointer)
            return self._index[1], self._index[2]

    # ------------------------------------------------------------ sign rates
    def sign_rates(
        self, engine_facts: pa.Table, as_of: datetime, params: SignRateParams
    ) -> pa.Table:
        with self.analytics_session() as con:
            view, keys = self.open_history(con, engine_facts)
            return compute_sign_rates(con, view, keys, as_of, params)
