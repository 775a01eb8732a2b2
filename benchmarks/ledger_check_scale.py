"""Ledger check at scale: a full pass, writing its checkpoint, and an incremental pass.

Fills a fresh database with N realistic transfers by bulk insert (COPY on
PostgreSQL): orders paid into escrow and held for one of many merchants, then
released with the technical service fee (80%), voided and refunded (15%) or
still held (5%); the stored running balances are the sums of the entries. Then
times the full pass (`ledger check --full`), writing the checkpoint, and an
incremental pass (`ledger check`) after 1% more transfers. The baseline is the
full pass in the same process: the ratio says what the checkpoint saves.

    .venv/bin/python benchmarks/ledger_check_scale.py [--transfers 10000000]
        [--database-url postgresql://postgres@127.0.0.1:5432/bg_bench]   (default: temp SQLite)
"""

from __future__ import annotations

import argparse
import io
import resource
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from rich.console import Console
from rich.progress import Progress
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from buyerguard.ledger.check import BALANCE_COLUMNS, full_pass
from buyerguard.ledger.checkpoint import run_ledger_check, snapshot, write_checkpoint
from buyerguard.progress import progress_bar
from buyerguard.store.db import make_engine, normalise_url
from buyerguard.store.migrate import upgrade

console = Console()
NOW = datetime(2024, 10, 20, 2, 0, tzinfo=UTC)
ORDERS_PER_BATCH = 250_000
FIXED = ["rail:clearing", "platform:escrow", "platform:fee_revenue"]
TRANSFER_COLUMNS = ["id", "kind", "debit_account_id", "credit_account_id", "amount_fen"]
TRANSFER_COLUMNS += ["pending_id", "purpose", "order_id", "occurred_at", "recorded_at"]
ENTRY_COLUMNS = ["id", "transfer_id", "account_id", "phase", "direction", "amount_fen"]
ENTRY_COLUMNS += ["recorded_at"]
# leg index into an account's four balances (BALANCE_COLUMNS order)
DEBIT_POSTED, CREDIT_POSTED, DEBIT_PENDING, CREDIT_PENDING = range(4)


@dataclass
class Ledger:
    """What has been generated so far: the next order and entry id, and each account's sums."""

    merchants: int
    next_order: int = 0
    next_entry: int = 1
    transfers: int = 0
    entries: int = 0

    def __post_init__(self) -> None:
        self.accounts = FIXED + [f"merchant:M{i:06d}:payable" for i in range(self.merchants)]
        self.balances = np.zeros((len(self.accounts), 4), dtype=np.int64)


def orders_batch(ledger: Ledger, count: int, rng: np.random.Generator) -> tuple[pa.Table, pa.Table]:
    """`count` orders' transfers and entries, in the order a live book would write them."""
    first = ledger.next_order
    ledger.next_order += count
    order = np.arange(first, first + count)
    fate = rng.choice(3, size=count, p=[0.80, 0.15, 0.05])  # released, voided, still held
    amount = rng.integers(100, 500_000, size=count, dtype=np.int64)
    payable = 3 + rng.integers(0, ledger.merchants, size=count)
    fee = np.maximum(1, amount * 6 // 1000)
    names = np.char.add("O", order.astype(str))
    legs: list[tuple[Any, ...]] = []  # per transfer step: (mask, id, kind, dr, cr, amt, pend)

    def step(
        mask: Any, prefix: str, kind: str, debit: Any, credit: Any, value: Any, pend: Any
    ) -> None:
        legs.append((mask, np.char.add(prefix, names), kind, debit, credit, value, pend))

    everyone = np.ones(count, dtype=bool)
    hold_ids = np.char.add("hold:", names)
    step(everyone, "payment:", "posted", 0, 1, amount, None)
    step(everyone, "hold:", "pending", 1, payable, amount, None)
    step(fate == 0, "release:", "post_pending", 1, payable, amount, hold_ids)
    step(fate == 0, "fee:", "posted", payable, 2, fee, None)
    step(fate == 1, "void:", "void_pending", 1, payable, amount, hold_ids)
    step(fate == 1, "refund:", "posted", 1, 0, amount, None)
    transfer_parts: list[dict[str, Any]] = []
    entry_parts: list[tuple[Any, ...]] = []
    for mask, ids, kind, debit, credit, value, pend in legs:
        rows = np.flatnonzero(mask)
        debit_a = np.broadcast_to(debit, count)[rows]
        credit_a = np.broadcast_to(credit, count)[rows]
        value_a = value[rows]
        transfer_parts.append(
            {
                "id": ids[rows],
                "kind": np.full(rows.size, kind),
                "debit": debit_a,
                "credit": credit_a,
                "amount_fen": value_a,
                "pending_id": pend[rows] if pend is not None else None,
                "order_id": names[rows],
                "seq": rows * 8 + len(transfer_parts),
            }
        )
        phases = {
            "posted": [("posted", value_a)],
            "pending": [("pending", value_a)],
            "post_pending": [("pending", -value_a), ("posted", value_a)],
            "void_pending": [("pending", -value_a)],
        }[kind]
        for phase, leg_value in phases:
            for direction, account in (("debit", debit_a), ("credit", credit_a)):
                column = {"posted": 0, "pending": 2}[phase] + (direction == "credit")
                np.add.at(ledger.balances[:, column], account, leg_value)
                entry_parts.append(
                    (
                        rows * 8 + len(transfer_parts) - 1,
                        ids[rows],
                        account,
                        phase,
                        direction,
                        leg_value,
                    )
                )
    transfers = _transfers_table(ledger, transfer_parts)
    entries = _entries_table(ledger, entry_parts)
    return transfers, entries


def _transfers_table(ledger: Ledger, parts: list[dict[str, Any]]) -> pa.Table:
    seq = np.concatenate([p["seq"] for p in parts])
    order = np.argsort(seq, kind="stable")
    accounts = np.array(ledger.accounts)
    pending = pa.concat_arrays(
        [
            pa.array(p["pending_id"], pa.string())
            if p["pending_id"] is not None
            else pa.nulls(len(p["id"]), pa.string())
            for p in parts
        ]
    ).take(pa.array(order))
    count = len(order)
    ledger.transfers += count
    stamp = pa.array(np.full(count, np.datetime64(NOW.replace(tzinfo=None), "us")))
    return pa.table(
        {
            "id": np.concatenate([p["id"] for p in parts])[order],
            "kind": np.concatenate([p["kind"] for p in parts])[order],
            "debit_account_id": accounts[np.concatenate([p["debit"] for p in parts])[order]],
            "credit_account_id": accounts[np.concatenate([p["credit"] for p in parts])[order]],
            "amount_fen": np.concatenate([p["amount_fen"] for p in parts])[order],
            "pending_id": pending,
            "purpose": np.full(count, "bench"),
            "order_id": np.concatenate([p["order_id"] for p in parts])[order],
            "occurred_at": stamp,
            "recorded_at": stamp,
        }
    )


def _entries_table(ledger: Ledger, parts: list[tuple[Any, ...]]) -> pa.Table:
    seq = np.concatenate([p[0] for p in parts])
    order = np.argsort(seq, kind="stable")
    count = len(order)
    ids = np.arange(ledger.next_entry, ledger.next_entry + count)
    ledger.next_entry += count
    ledger.entries += count
    accounts = np.array(ledger.accounts)
    return pa.table(
        {
            "id": ids,
            "transfer_id": np.concatenate([p[1] for p in parts])[order],
            "account_id": accounts[np.concatenate([p[2] for p in parts])[order]],
            "phase": np.concatenate([np.full(len(p[0]), p[3]) for p in parts])[order],
            "direction": np.concatenate([np.full(len(p[0]), p[4]) for p in parts])[order],
            "amount_fen": np.concatenate([p[5] for p in parts])[order],
            "recorded_at": pa.array(np.full(count, np.datetime64(NOW.replace(tzinfo=None), "us"))),
        }
    )


class Loader:
    """Bulk insert: COPY on PostgreSQL, executemany on SQLite; foreign keys off while loading."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"

    def insert(self, table: str, data: pa.Table) -> None:
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            if self.postgres:
                cursor.execute("SET session_replication_role = replica")  # no FK triggers
                buffer = io.BytesIO()
                options = pacsv.WriteOptions(include_header=False)
                pacsv.write_csv(data, buffer, write_options=options)
                columns = ", ".join(data.column_names)
                with cursor.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT csv)") as copy:
                    copy.write(buffer.getvalue())
                cursor.execute("RESET session_replication_role")
            else:
                cursor.execute("PRAGMA foreign_keys=OFF")
                cursor.execute("PRAGMA synchronous=OFF")
                cursor.execute("BEGIN")
                marks = ", ".join("?" for _ in data.column_names)
                rows = list(zip(*(_column(data, name) for name in data.column_names), strict=True))
                columns = ", ".join(data.column_names)
                cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
            raw.commit()
        finally:
            raw.close()

    def add_balances(self, ledger: Ledger, delta: Any) -> None:
        touched = np.flatnonzero(delta.any(axis=1))
        sets = ", ".join(f"{name} = {name} + :{name}" for name in BALANCE_COLUMNS)
        rows = [
            {"id": ledger.accounts[i]} | dict(zip(BALANCE_COLUMNS, map(int, delta[i]), strict=True))
            for i in touched
        ]
        with self.engine.begin() as connection:
            connection.execute(text(f"UPDATE ledger_accounts SET {sets} WHERE id = :id"), rows)


def _column(data: pa.Table, name: str) -> list[Any]:
    values = data.column(name)
    if pa.types.is_timestamp(values.type):
        return ["2024-10-20 02:00:00.000000"] * len(values)
    return list(values.to_pylist())


def fill(
    loader: Loader, ledger: Ledger, transfers: int, rng: np.random.Generator, progress: Progress
) -> None:
    """About `transfers` more transfers (whole orders), and the stored balances they move."""
    before = ledger.balances.copy()
    task = progress.add_task(f"loading {transfers:,} transfers", total=transfers)
    goal = ledger.transfers + transfers
    while ledger.transfers < goal:
        count = max(1, min(ORDERS_PER_BATCH, int((goal - ledger.transfers) / 3.9) + 1))
        made = ledger.transfers
        transfer_rows, entry_rows = orders_batch(ledger, count, rng)
        loader.insert("ledger_transfers", transfer_rows)
        loader.insert("ledger_entries", entry_rows)
        progress.advance(task, ledger.transfers - made)
    if before.any():
        loader.add_balances(ledger, ledger.balances - before)
        return
    rows = [
        {"id": account, "party": account.rsplit(":", 1)[0], "purpose": account.rsplit(":", 1)[1]}
        | {
            "debits_must_not_exceed_credits": account != "rail:clearing",
            "credits_must_not_exceed_debits": False,
            "created_at": NOW,
        }
        | dict(zip(BALANCE_COLUMNS, map(int, ledger.balances[i]), strict=True))
        for i, account in enumerate(ledger.accounts)
    ]
    from buyerguard.store.tables import ledger_accounts

    with loader.engine.begin() as connection:
        connection.execute(ledger_accounts.insert(), rows)


@contextmanager
def measured(label: str, figures: dict[str, tuple[float, int]]) -> Iterator[None]:
    tracemalloc.reset_peak()
    started = time.perf_counter()
    yield
    figures[label] = (time.perf_counter() - started, tracemalloc.get_traced_memory()[1])


@contextmanager
def fresh_database(url: str | None) -> Iterator[Engine]:
    if url is None:
        with tempfile.TemporaryDirectory(prefix="bg-ledger-") as tmp:
            engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
            yield engine
            engine.dispose()
        return
    parsed = make_url(normalise_url(url))
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    engine = make_engine(parsed.render_as_string(hide_password=False))
    yield engine
    engine.dispose()
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--transfers", type=int, default=10_000_000)
    parser.add_argument("--merchants", type=int, default=20_000)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    figures: dict[str, tuple[float, int]] = {}
    with fresh_database(args.database_url) as engine:
        upgrade(engine)
        loader, ledger = Loader(engine), Ledger(args.merchants)
        with progress_bar(console) as progress:
            started = time.perf_counter()
            fill(loader, ledger, args.transfers, rng, progress)
            settle(engine)
            load_s = time.perf_counter() - started
        console.print(
            f"{engine.dialect.name}: {ledger.transfers:,} transfers, {ledger.entries:,} entries, "
            f"{len(ledger.accounts):,} accounts loaded in {load_s:,.0f} s"
        )
        tracemalloc.start()
        with progress_bar(console) as progress:
            with (
                measured("full pass", figures),
                snapshot(engine, pause_budget_seconds=5.0) as (connection, pinned),
            ):
                full, balances = full_pass(connection, steps(progress, "full"))
            assert full.ok and pinned, full.breaches[:5]
            with measured("write checkpoint", figures):
                write_checkpoint(engine, full, balances, NOW)
            fill(loader, ledger, max(1, args.transfers // 100), rng, progress)
            settle(engine)
            with measured("incremental pass", figures):
                incremental = run_ledger_check(engine, NOW, progress=steps(progress, "incremental"))
        assert incremental.ok and not incremental.full, incremental.breaches[:5]
    report(figures, full.transfers, incremental)


def steps(progress: Progress, phase: str) -> Any:
    tasks: dict[str, Any] = {}

    def show(step: str, done: int, total: int) -> None:
        if step not in tasks:
            tasks[step] = progress.add_task(f"{phase}: {step}", total=total)
        progress.update(tasks[step], completed=done, total=total)

    return show


def settle(engine: Engine) -> None:
    """As a live database would be: statistics known (and on PostgreSQL, vacuumed)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(
                text("SELECT setval('ledger_entries_id_seq', max(id)) FROM ledger_entries")
            )
            connection.execute(
                text("VACUUM ANALYZE ledger_transfers, ledger_entries, ledger_accounts")
            )
    else:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))


def report(figures: dict[str, tuple[float, int]], transfers: int, incremental: Any) -> None:
    full_s = figures["full pass"][0]
    for label, (seconds, peak) in figures.items():
        console.print(f"{label:18} {seconds:9.2f} s   Python peak {peak / 2**20:7.1f} MiB")
    console.print(
        f"full pass: {transfers / full_s:,.0f} transfers/s over {transfers:,} transfers; "
        f"incremental: {incremental.new_entries:,} new entries, "
        f"{incremental.transfers:,} transfers in all"
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    console.print(
        f"ratio incremental / full = {figures['incremental pass'][0] / full_s:.3f}; "
        f"process peak RSS {rss:,.0f} MiB (loading included)"
    )


if __name__ == "__main__":
    main()
