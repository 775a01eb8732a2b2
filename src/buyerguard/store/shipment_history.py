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

import fcntl
import json
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from buyerguard.analytics.eta import (
    CUTOFF_LEVEL,
    LEVEL_NAMES,
    build_with_sums,
    fold_promise_table,
)
from buyerguard.analytics.promise_lookup import PromiseIndex
from buyerguard.analytics.promise_params import PromiseParams
from buyerguard.analytics.route_bind_values import promise_table_params
from buyerguard.analytics.sign_rate import SignRateParams, compute_sign_rates
from buyerguard.clock import format_instant
from buyerguard.errors import NotFound
from buyerguard.store.engine_shipments import engine_facts
from buyerguard.store.history_changes import trim_change_logs
from buyerguard.store.parcel_files import (
    DATA_DIR_ENV,
    KEYS_FILE,
    default_data_dir,
    write_atomically,
    write_text_atomically,
)
from buyerguard.store.parcel_updates import ParcelImport, ParcelStore
from buyerguard.store.promise_sums import (
    TABLE_PREFIX,
    StoredSums,
    drop_other_sums,
    drop_superseded_tables,
    load_sums,
    new_sums_dir,
    save_sums,
)
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
    built: str = "full"  # or "folded": the changed parcels folded into the last build's sums
    full_because: str | None = None  # why an update built in full (route_sums.py)
    changed_rows: int | None = None  # rows folded in (left and came in), when folded


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
        """Build, store and publish the promise table (`paused`: eta.build_promise_table).

        Reads the whole window, and leaves its sums for `update_promises`.
        """
        with self._promise_lock():
            return self._build_in_full(engine_facts, as_of, params, rulebook_id, paused, None)

    def update_promises(
        self,
        engine_facts: pa.Table,
        as_of: datetime,
        params: PromiseParams,
        rulebook_id: str,
        *,
        paused: Callable[[date], bool] | None = None,
    ) -> BuiltPromises:
        """`build_promises` by folding the parcels changed since the served table into its sums.

        Gives the table a full build would (analytics/route_sums.py), reading
        only the changed rows; builds in full when it cannot, and says why
        (`BuiltPromises.reason`): no sums yet, another as-of day or rulebook
        numbers or paused days, a merchant's cut-off moved, a new level-1 route.
        """
        with self._promise_lock():
            pointer = self._pointer()
            stored = None if pointer is None else load_sums(self.promises_dir, pointer)
            if stored is None:
                return self._build_in_full(
                    engine_facts, as_of, params, rulebook_id, paused, "no_sums"
                )
            with self.analytics_session() as con:
                opened = self.open_changes(con, engine_facts, stored.mark)
                if isinstance(opened, str):
                    why = opened
                else:
                    changes, keys, mark = opened
                    moved = con.execute(
                        f"SELECT count(*), coalesce(sum(sign), 0) FROM {changes}"
                    ).fetchall()[0]
                    folded = fold_promise_table(
                        con,
                        stored.sums,
                        changes,
                        keys,
                        as_of,
                        params,
                        paused=paused,
                        sums_dir=new_sums_dir(self.promises_dir),
                    )
                    why = folded if isinstance(folded, str) else ""
            if why:
                return self._build_in_full(engine_facts, as_of, params, rulebook_id, paused, why)
            assert not isinstance(folded, str)
            table, sums = folded
            shipments = stored.shipments + int(moved[1])
            return self._publish(
                table,
                StoredSums(sums, mark, shipments),
                as_of,
                params,
                rulebook_id,
                paused,
                changed_rows=int(moved[0]),
            )

    def _build_in_full(
        self,
        engine_facts: pa.Table,
        as_of: datetime,
        params: PromiseParams,
        rulebook_id: str,
        paused: Callable[[date], bool] | None,
        why: str | None,
    ) -> BuiltPromises:
        with self.analytics_session() as con:
            view, keys, mark = self.open_history_marked(con, engine_facts)
            shipments = int(con.execute(f"SELECT count(*) FROM {view}").fetchall()[0][0])
            table, sums = build_with_sums(
                con,
                view,
                keys,
                as_of,
                params,
                paused=paused,
                sums_dir=new_sums_dir(self.promises_dir),
            )
        return self._publish(
            table, StoredSums(sums, mark, shipments), as_of, params, rulebook_id, paused, why=why
        )

    def _publish(
        self,
        table: pa.Table,
        stored: StoredSums,
        as_of: datetime,
        params: PromiseParams,
        rulebook_id: str,
        paused: Callable[[date], bool] | None,
        *,
        why: str | None = None,
        changed_rows: int | None = None,
    ) -> BuiltPromises:
        """Store the table and its sums, repoint the API at them, drop what they supersede."""
        stamp = format_instant(as_of).replace(":", "")
        path = self.promises_dir / f"{TABLE_PREFIX}{stamp}.parquet"
        write_atomically(table, path)
        sums_name = save_sums(stored)
        built = "full" if changed_rows is None else "folded"
        levels = table.column("level")
        cutoffs = int(pc.sum(pc.equal(levels, CUTOFF_LEVEL)).as_py() or 0)
        routes = int(pc.sum(pc.is_in(levels, pa.array(list(LEVEL_NAMES), pa.int8()))).as_py() or 0)
        pointer = {
            "table": path.name,
            "as_of": format_instant(as_of),
            "rulebook_id": rulebook_id,
            "routes": routes,
            "merchant_cutoffs": cutoffs,
            "shipments": stored.shipments,
            "params": params.as_record(),
            # The days the build learned around (public holidays, declared slowdowns), and a
            # fresh id, so that a rebuild as of the same instant replaces the served index.
            "paused_days": [
                day.isoformat()
                for day in promise_table_params(as_of, params, paused=paused)["paused_days"]
            ],
            "build_id": secrets.token_hex(8),
            "built": built,
            "full_because": why,
            "changed_rows": changed_rows,
            "sums": sums_name,
        }
        write_text_atomically(json.dumps(pointer, indent=2), self.promises_dir / "current.json")
        drop_other_sums(self.promises_dir, sums_name)
        drop_superseded_tables(self.promises_dir, path.name)
        trim_change_logs(self.root, stored.mark.import_seq)
        return BuiltPromises(
            as_of,
            path,
            routes,
            stored.shipments,
            cutoffs,
            built=built,
            full_because=why,
            changed_rows=changed_rows,
        )

    def _pointer(self) -> dict[str, Any] | None:
        path = self.promises_dir / "current.json"
        if not path.exists():
            return None
        return dict(json.loads(path.read_text()))

    @contextmanager
    def _promise_lock(self) -> Iterator[None]:
        """One promise build at a time, across processes (each replaces the last one's sums)."""
        with self._locked(".promises", fcntl.LOCK_EX):
            yield

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
