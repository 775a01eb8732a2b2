"""Checkpoints: `ledger check` re-derives only the entries written after the last clean full pass.

A checkpoint holds a horizon H (an entry id) and every account's balances
re-derived from exactly the entries with id <= H. It is written only after a
full pass that found no breach. An incremental check starts from the latest
checkpoint's balances, adds every entry with id > H that its snapshot sees,
compares the result with the stored running balances (all of them), checks
the legs of the transfers those entries belong to, and checks that no
transfer appeared without entries. It trusts the checkpoint: an entry or
transfer at or below H changed afterwards is found only by `--full`.

The horizon rule. Entry ids come from a sequence (PostgreSQL) and are drawn
when a transaction inserts, not when it commits, so a transaction in flight
when the full pass takes its snapshot can commit later an entry with an id
below the highest id that snapshot sees. Counting "ids up to the highest
seen" would then miss that entry for ever. So on PostgreSQL the full pass
takes its REPEATABLE READ snapshot while another connection holds
`LOCK TABLE ledger_entries IN SHARE MODE`, released right after the
snapshot's first statement; H is the highest entry id in that snapshot.

Why no entry with id <= H can commit after the snapshot: a transaction takes
ROW EXCLUSIVE on `ledger_entries` when its INSERT is planned, before the
sequence is asked for an id, and keeps it until it ends; SHARE conflicts with
ROW EXCLUSIVE. So when the SHARE lock is granted every transaction that drew
an entry id has committed (its entries are in the snapshot) or rolled back
(its entries never exist), and none can draw an id until the lock is
released, which is after the snapshot, hence after H was drawn: its ids are
> H (the sequence only grows; ids are drawn only by inserts into
`ledger_entries`). Conversely every entry the snapshot sees has id <= H.
The checkpoint therefore counts exactly the entries with id <= H, each once.

The pause: the lock is asked for with a short `lock_timeout` (writers queue
behind it at most that long) and retried within a budget; when writers never
pause the full pass still runs and reports, but writes no checkpoint. SQLite
needs no pause: there is one writer, a reader's snapshot sees every commit
before it, and a writer's new rowids exceed every committed one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, delete, func, insert, select, text
from sqlalchemy.exc import DBAPIError

from buyerguard.ledger.check import (
    BALANCE_COLUMNS,
    Balances,
    CheckReport,
    Progress,
    check_transfer_legs,
    compare_accounts,
    full_pass,
    max_entry_id,
    no_progress,
    sum_entries,
)
from buyerguard.store.db import read_transaction
from buyerguard.store.tables import (
    ledger_checkpoint_balances,
    ledger_checkpoints,
    ledger_entries,
    ledger_transfers,
)

PAUSE_ATTEMPT_MS = 250  # writers wait behind the pause request at most this long per try
PAUSE_BUDGET_SECONDS = 5.0  # then the full pass runs without writing a checkpoint
CHECK_WORK_MEM = "256MB"  # PostgreSQL: let the legs' GROUP BY and joins hash in memory
WRITE_BATCH = 10_000


@dataclass(frozen=True)
class Checkpoint:
    id: int
    horizon_entry_id: int
    entries: int
    transfers: int
    accounts: int
    created_at: datetime


def latest_checkpoint(connection: Connection) -> Checkpoint | None:
    c = ledger_checkpoints.c
    row = connection.execute(
        select(c.id, c.horizon_entry_id, c.entries, c.transfers, c.accounts, c.created_at)
        .order_by(c.id.desc())
        .limit(1)
    ).first()
    return Checkpoint(*row) if row else None


def run_ledger_check(
    engine: Engine,
    now: datetime,
    *,
    full: bool = False,
    progress: Progress = no_progress,
    pause_budget_seconds: float = PAUSE_BUDGET_SECONDS,
) -> CheckReport:
    """Incremental from the latest checkpoint unless `full` or none exists.

    A full pass that finds no breach writes a new checkpoint (when writers paused).
    """
    if not full:
        with snapshot(engine, pause_budget_seconds=None) as (connection, _pinned):
            checkpoint = latest_checkpoint(connection)
            if checkpoint is not None:
                return incremental_pass(connection, checkpoint, progress)
    with snapshot(engine, pause_budget_seconds=pause_budget_seconds) as (connection, pinned):
        report, balances = full_pass(connection, progress)
    if not report.ok:
        report.checkpoint_note = "no checkpoint written: the full pass found breaches"
    elif not pinned:
        report.checkpoint_note = (
            f"no checkpoint written: writers did not pause within {pause_budget_seconds:g} s"
        )
    else:
        report.checkpoint_written = write_checkpoint(engine, report, balances, now)
    return report


@contextmanager
def snapshot(
    engine: Engine, *, pause_budget_seconds: float | None
) -> Iterator[tuple[Connection, bool]]:
    """A read-only snapshot; `pinned` when every entry id up to its highest is in it for good.

    `pause_budget_seconds` None: no pause asked (an incremental pass needs none).
    """
    if engine.dialect.name != "postgresql":
        with read_transaction(engine) as connection:
            max_entry_id(connection)  # SQLite: the snapshot starts with the first read
            yield connection, True
        return
    pause = _pause_entry_writers(engine, pause_budget_seconds) if pause_budget_seconds else None
    try:
        with engine.connect() as connection:
            connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                connection.execute(text("SET TRANSACTION READ ONLY"))
                max_entry_id(connection)  # the snapshot is taken here, while writers pause
                if pause is not None:
                    pause.close()
                connection.execute(text(f"SET LOCAL work_mem = '{CHECK_WORK_MEM}'"))
                yield connection, pause is not None
    finally:
        if pause is not None:
            pause.close()


def _pause_entry_writers(engine: Engine, budget_seconds: float) -> Connection | None:
    """A connection holding SHARE on `ledger_entries`: no entry id is in flight while it lasts."""
    deadline = time.monotonic() + budget_seconds
    connection = engine.connect()
    while True:
        transaction = connection.begin()
        try:
            connection.execute(text(f"SET LOCAL lock_timeout = '{PAUSE_ATTEMPT_MS}ms'"))
            connection.execute(text("LOCK TABLE ledger_entries IN SHARE MODE"))
            return connection
        except DBAPIError as exc:
            transaction.rollback()
            if getattr(exc.orig, "sqlstate", None) != "55P03" or time.monotonic() > deadline:
                connection.close()
                if getattr(exc.orig, "sqlstate", None) != "55P03":
                    raise
                return None


def incremental_pass(
    connection: Connection, checkpoint: Checkpoint, progress: Progress = no_progress
) -> CheckReport:
    """The checkpoint's balances plus every entry after its horizon, against the stored ones."""
    report = CheckReport(full=False, checkpoint_from=checkpoint.id)
    horizon = checkpoint.horizon_entry_id
    upto = max_entry_id(connection)
    report.horizon_entry_id = max(upto, horizon)
    if upto < horizon:
        report.breach(
            f"checkpoint {checkpoint.id} counted entries up to id {horizon} but the highest "
            f"now is {upto}: entries were removed; run `ledger check --full`"
        )
    balances = checkpoint_balances(connection, checkpoint.id)
    report.entries = checkpoint.entries
    sum_entries(connection, report, balances, after=horizon, upto=upto, progress=progress)
    progress("checking new transfers", 0, 1)
    check_transfer_legs(connection, report, after=horizon)
    e = ledger_entries.c
    new_transfers = connection.execute(
        select(func.count(func.distinct(e.transfer_id))).where(e.id > horizon)
    ).scalar_one()
    report.transfers = connection.execute(
        select(func.count()).select_from(ledger_transfers)
    ).scalar_one()
    if report.transfers != checkpoint.transfers + new_transfers:
        report.breach(
            f"{report.transfers} transfers, but checkpoint {checkpoint.id} had "
            f"{checkpoint.transfers} and entries since name {new_transfers}: a transfer "
            "without entries, or one changed below the checkpoint; run `ledger check --full`"
        )
    progress("checking new transfers", 1, 1)
    compare_accounts(connection, report, balances, progress)
    return report


def checkpoint_balances(connection: Connection, checkpoint_id: int) -> Balances:
    b = ledger_checkpoint_balances.c
    columns = [getattr(b, name) for name in BALANCE_COLUMNS]
    query = select(b.account_id, *columns).where(b.checkpoint_id == checkpoint_id)
    return {row[0]: [int(value) for value in row[1:]] for row in connection.execute(query)}


def write_checkpoint(engine: Engine, report: CheckReport, balances: Balances, now: datetime) -> int:
    """Record a clean full pass; only the newest checkpoint keeps its balances."""
    with engine.begin() as connection:
        checkpoint_id = connection.execute(
            insert(ledger_checkpoints)
            .values(
                horizon_entry_id=report.horizon_entry_id,
                entries=report.entries,
                transfers=report.transfers,
                accounts=report.accounts,
                total_debits_posted_fen=str(report.total_debits_posted_fen),
                total_credits_posted_fen=str(report.total_credits_posted_fen),
                created_at=now,
            )
            .returning(ledger_checkpoints.c.id)
        ).scalar_one()
        rows = [
            {"checkpoint_id": checkpoint_id, "account_id": account_id}
            | dict(zip(BALANCE_COLUMNS, values, strict=True))
            for account_id, values in balances.items()
            if any(values)
        ]
        for start in range(0, len(rows), WRITE_BATCH):
            connection.execute(
                insert(ledger_checkpoint_balances), rows[start : start + WRITE_BATCH]
            )
        connection.execute(
            delete(ledger_checkpoint_balances).where(
                ledger_checkpoint_balances.c.checkpoint_id < checkpoint_id
            )
        )
    return int(checkpoint_id)
