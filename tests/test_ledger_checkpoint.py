"""Ledger check from a checkpoint: agrees with the full pass, catches what it must, and
never misses nor double-counts an entry that commits after the full pass's snapshot."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, RootTransaction, insert, select, text, update

from buyerguard.ledger import accounts
from buyerguard.ledger.book import Transfer, TransferKind, record
from buyerguard.ledger.check import CheckReport, check_ledger
from buyerguard.ledger.checkpoint import latest_checkpoint, run_ledger_check
from buyerguard.store.db import read_transaction, transaction
from buyerguard.store.tables import (
    ledger_accounts,
    ledger_checkpoint_balances,
    ledger_checkpoints,
    ledger_entries,
    ledger_transfers,
)
from tests.test_ledger import CLEARING, ESCROW, FEES, PAYABLE, WHEN, move

NOW = WHEN


def figures(report: CheckReport) -> tuple[int, int, int, int, int, bool]:
    return (
        report.accounts,
        report.transfers,
        report.entries,
        report.total_debits_posted_fen,
        report.total_credits_posted_fen,
        report.ok,
    )


def checkpoint_now(engine: Engine) -> CheckReport:
    report = run_ledger_check(engine, NOW, full=True)
    assert report.ok, report.breaches
    assert report.checkpoint_written is not None
    return report


def tamper(engine: Engine, sql: str) -> None:
    with transaction(engine) as connection:
        connection.execute(text(sql))


@dataclass
class Book:
    """Drives realistic, always-valid transfers: payments held for merchants, released
    (in full or in part) with a fee, or voided and refunded."""

    engine: Engine
    prefix: str
    holds: list[tuple[str, accounts.AccountSpec, int]]
    count: itertools.count[int]

    def pay(self, merchant: int, amount: int) -> None:
        n = next(self.count)
        payable = accounts.merchant_payable(f"M{merchant}")
        move(self.engine, f"{self.prefix}pay:{n}", CLEARING, ESCROW, amount)
        hold_id = f"{self.prefix}hold:{n}"
        move(self.engine, hold_id, ESCROW, payable, amount, TransferKind.PENDING)
        self.holds.append((hold_id, payable, amount))

    def release(self, pick: int, share: float) -> None:
        if not self.holds:
            return
        hold_id, payable, amount = self.holds.pop(pick % len(self.holds))
        posted = max(1, int(amount * share))
        kind = TransferKind.POST_PENDING
        move(self.engine, f"{hold_id}:release", ESCROW, payable, posted, kind, hold_id)
        if posted < amount:
            move(self.engine, f"{hold_id}:refund", ESCROW, CLEARING, amount - posted)
        if posted >= 100:
            move(self.engine, f"{hold_id}:fee", payable, FEES, posted // 100)

    def void(self, pick: int) -> None:
        if not self.holds:
            return
        hold_id, payable, amount = self.holds.pop(pick % len(self.holds))
        kind = TransferKind.VOID_PENDING
        move(self.engine, f"{hold_id}:void", ESCROW, payable, amount, kind, hold_id)
        move(self.engine, f"{hold_id}:refund", ESCROW, CLEARING, amount)

    def run(self, steps: list[tuple[str, int, int, float]]) -> None:
        for action, merchant, amount, share in steps:
            if action == "pay":
                self.pay(merchant, amount)
            elif action == "release":
                self.release(merchant, share)
            else:
                self.void(merchant)


STEPS = st.lists(
    st.tuples(
        st.sampled_from(["pay", "pay", "release", "void"]),
        st.integers(0, 4),
        st.integers(1, 1_000_000),
        st.floats(0.01, 1.0),
    ),
    max_size=12,
)
_examples = itertools.count()


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(before=STEPS, after=STEPS)
def test_incremental_agrees_with_full(
    engine: Engine,
    before: list[tuple[str, int, int, float]],
    after: list[tuple[str, int, int, float]],
) -> None:
    """Whatever was posted before and after the checkpoint, both passes find the same ledger."""
    book = Book(engine, f"x{next(_examples)}:", [], itertools.count())
    book.run(before)
    checkpoint_now(engine)
    book.run(after)
    incremental = run_ledger_check(engine, NOW)
    full = run_ledger_check(engine, NOW, full=True)
    assert not incremental.full and full.full
    assert incremental.ok, incremental.breaches
    assert figures(incremental) == figures(full)
    assert incremental.checkpoint_written is None  # only a full pass writes one


def test_first_check_is_full_then_incremental(engine: Engine) -> None:
    book = Book(engine, "", [], itertools.count())
    book.pay(1, 10_000)
    first = run_ledger_check(engine, NOW)
    assert first.full and first.ok and first.checkpoint_written is not None
    assert first.horizon_entry_id == first.entries == 4
    book.release(0, 1.0)
    second = run_ledger_check(engine, NOW)
    assert not second.full and second.checkpoint_from == first.checkpoint_written
    assert (second.new_entries, second.entries) == (4 + 2, 10)
    again = run_ledger_check(engine, NOW, full=True)
    assert (
        again.checkpoint_written is not None and again.checkpoint_written > first.checkpoint_written
    )
    with read_transaction(engine) as connection:
        kept = connection.execute(
            select(ledger_checkpoint_balances.c.checkpoint_id).distinct()
        ).scalars()
        assert list(kept) == [again.checkpoint_written]  # older balances are pruned


def test_a_tampered_balance_after_the_checkpoint_is_caught_incrementally(engine: Engine) -> None:
    book = Book(engine, "", [], itertools.count())
    book.pay(1, 10_000)
    book.pay(2, 5_000)
    checkpoint_now(engine)
    book.release(0, 0.5)
    for account in ("merchant:M1:escrow", "merchant:M2:payable"):  # one moved since, one not
        tamper(
            engine,
            f"UPDATE ledger_accounts SET credits_posted_fen = credits_posted_fen + 7 "
            f"WHERE id = '{account}'",
        )
        report = run_ledger_check(engine, NOW)
        assert not report.full and not report.ok
        assert any(f"{account} credits_posted_fen" in breach for breach in report.breaches)
        tamper(
            engine,
            f"UPDATE ledger_accounts SET credits_posted_fen = credits_posted_fen - 7 "
            f"WHERE id = '{account}'",
        )
    assert run_ledger_check(engine, NOW).ok


def test_a_tampered_entry_before_the_checkpoint_needs_full(engine: Engine) -> None:
    """The incremental pass trusts the checkpoint: only --full re-derives what is below it."""
    move(engine, "pay:1", CLEARING, ESCROW, 10_000)
    checkpoint_now(engine)
    move(engine, "pay:2", CLEARING, ESCROW, 20_000)
    tamper(
        engine,
        "UPDATE ledger_entries SET amount_fen = 9999 "
        "WHERE transfer_id = 'pay:1' AND direction = 'credit'",
    )
    assert run_ledger_check(engine, NOW).ok
    full = run_ledger_check(engine, NOW, full=True)
    assert not full.ok and full.checkpoint_written is None
    assert any("pay:1 posted legs do not sum to zero" in breach for breach in full.breaches)
    assert any("merchant:M1:escrow credits_posted_fen" in breach for breach in full.breaches)
    tamper(engine, "UPDATE ledger_entries SET amount_fen = 10000 WHERE transfer_id = 'pay:1'")


def test_no_checkpoint_when_the_full_pass_fails(engine: Engine) -> None:
    move(engine, "pay:1", CLEARING, ESCROW, 10_000)
    first = checkpoint_now(engine)
    move(engine, "pay:2", CLEARING, ESCROW, 1_000)
    tamper(
        engine, "UPDATE ledger_accounts SET debits_pending_fen = 3 WHERE id = 'merchant:M1:escrow'"
    )
    report = run_ledger_check(engine, NOW, full=True)
    assert not report.ok and report.checkpoint_written is None
    assert "breaches" in report.checkpoint_note
    with read_transaction(engine) as connection:
        latest = latest_checkpoint(connection)
        assert latest is not None and latest.id == first.checkpoint_written
    assert not run_ledger_check(engine, NOW).ok  # the incremental pass sees it too
    tamper(
        engine, "UPDATE ledger_accounts SET debits_pending_fen = 0 WHERE id = 'merchant:M1:escrow'"
    )


def test_a_transfer_without_entries_after_the_checkpoint_is_caught(engine: Engine) -> None:
    move(engine, "pay:1", CLEARING, ESCROW, 10_000)
    checkpoint_now(engine)
    with transaction(engine) as connection:
        connection.execute(
            insert(ledger_transfers).values(
                id="ghost",
                kind="posted",
                debit_account_id=CLEARING.id,
                credit_account_id=ESCROW.id,
                amount_fen=5,
                purpose="test",
                occurred_at=WHEN,
                recorded_at=WHEN,
            )
        )
    report = run_ledger_check(engine, NOW)
    assert any("a transfer without entries" in breach for breach in report.breaches)
    full = run_ledger_check(engine, NOW, full=True)
    assert any("transfer ghost (posted) has legs" in breach for breach in full.breaches)
    with transaction(engine) as connection:
        connection.execute(ledger_transfers.delete().where(ledger_transfers.c.id == "ghost"))


def test_breaches_beyond_the_cap_are_counted(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("buyerguard.ledger.check.MAX_BREACHES", 2)
    for n in range(4):
        move(engine, f"pay:{n}", CLEARING, accounts.merchant_payable(f"M{n}"), 100)
    tamper(engine, "UPDATE ledger_accounts SET credits_posted_fen = 1 WHERE id LIKE 'merchant:%'")
    report = check_ledger_in(engine)
    assert (len(report.breaches), report.breaches_omitted) == (2, 2)  # one per account
    tamper(engine, "UPDATE ledger_accounts SET credits_posted_fen = 100 WHERE id LIKE 'merchant:%'")


def check_ledger_in(engine: Engine) -> CheckReport:
    with read_transaction(engine) as connection:
        return check_ledger(connection)


# --- the out-of-order commit hazard (PostgreSQL: entry ids come from a sequence) ---

LATE_DEBIT = accounts.merchant_debt("M9")  # accounts no other writer here touches,
LATE_CREDIT = accounts.merchant_payable("M9")  # so the held transaction blocks no one


def hold_open_transfer(engine: Engine) -> tuple[Connection, RootTransaction]:
    connection = engine.connect()
    held = connection.begin()
    record(
        connection,
        Transfer("late", TransferKind.POSTED, LATE_DEBIT, LATE_CREDIT, 300, "test", WHEN),
        WHEN,
    )
    return connection, held


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_an_entry_committed_after_the_snapshot_below_its_horizon_is_never_missed(
    engine: Engine,
) -> None:
    """One connection holds an uncommitted transfer (entry ids 3, 4) while a later one
    commits (5, 6): a snapshot then sees id 6 but not 3 and 4, which commit afterwards.
    The full pass waits for the writer before taking its snapshot, so its horizon
    counts 3 and 4 exactly once."""
    move(engine, "pay:0", CLEARING, ESCROW, 1_000)
    connection, held = hold_open_transfer(engine)
    move(engine, "pay:1", CLEARING, ESCROW, 500)
    with read_transaction(engine) as reader:
        seen = reader.execute(select(ledger_entries.c.id).order_by(ledger_entries.c.id))
        assert list(seen.scalars()) == [1, 2, 5, 6]  # the hazard: 3 and 4 are still to come
    result: dict[str, CheckReport] = {}
    checking = threading.Thread(
        target=lambda: result.update(report=run_ledger_check(engine, NOW, full=True))
    )
    checking.start()
    checking.join(timeout=0.6)
    assert checking.is_alive()  # waiting for the writer to finish, not snapshotting around it
    held.commit()
    connection.close()
    checking.join(timeout=30)
    report = result["report"]
    assert report.ok and report.checkpoint_written is not None
    assert (report.horizon_entry_id, report.entries) == (6, 6)
    move(engine, "pay:2", CLEARING, ESCROW, 700)
    incremental = run_ledger_check(engine, NOW)
    assert not incremental.full and incremental.ok, incremental.breaches
    assert (incremental.new_entries, incremental.entries) == (2, 8)
    assert figures(incremental) == figures(run_ledger_check(engine, NOW, full=True))


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_writers_that_never_pause_leave_no_checkpoint(engine: Engine) -> None:
    move(engine, "pay:0", CLEARING, ESCROW, 1_000)
    connection, held = hold_open_transfer(engine)
    move(engine, "pay:1", CLEARING, ESCROW, 500)
    try:
        report = run_ledger_check(engine, NOW, full=True, pause_budget_seconds=0.3)
    finally:
        held.commit()
        connection.close()
    assert report.ok and report.entries == 4  # a consistent snapshot without the late one
    assert report.checkpoint_written is None and "did not pause" in report.checkpoint_note
    with read_transaction(engine) as reader:
        assert latest_checkpoint(reader) is None
    assert run_ledger_check(engine, NOW).checkpoint_written is not None  # now it can


def test_the_stored_balances_are_what_the_checkpoint_holds(engine: Engine) -> None:
    move(engine, "pay:1", CLEARING, ESCROW, 10_000)
    written = checkpoint_now(engine).checkpoint_written
    with read_transaction(engine) as connection:
        stored = {
            row.id: row.credits_posted_fen
            for row in connection.execute(
                select(ledger_accounts.c.id, ledger_accounts.c.credits_posted_fen)
            )
        }
        kept = {
            row.account_id: row.credits_posted_fen
            for row in connection.execute(
                select(ledger_checkpoint_balances).where(
                    ledger_checkpoint_balances.c.checkpoint_id == written
                )
            )
        }
        header = connection.execute(select(ledger_checkpoints)).one()
    assert kept == stored and header.horizon_entry_id == 2 and header.transfers == 1
    with transaction(engine) as connection:
        connection.execute(update(ledger_accounts).values(created_at=WHEN))  # no balance moves
    assert run_ledger_check(engine, NOW).ok


def test_the_command_checks_from_the_checkpoint_and_full_on_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from buyerguard.cli import app
    from buyerguard.store.db import make_engine

    runner = CliRunner()
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("BUYERGUARD_DATABASE_URL", url)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    engine = make_engine(url)
    move(engine, "pay:1", CLEARING, ESCROW, 10_000)
    first = runner.invoke(app, ["ledger", "check"])
    assert first.exit_code == 0 and "full pass" in first.output
    assert "checkpoint 1 written (entries up to id 2)" in first.output
    move(engine, "pay:2", CLEARING, ESCROW, 10_000)
    second = runner.invoke(app, ["ledger", "check"])
    assert second.exit_code == 0 and "incremental from checkpoint 1: 2 entries" in second.output
    again = runner.invoke(app, ["ledger", "check", "--full"])
    assert again.exit_code == 0 and "checkpoint 2 written" in again.output
    tamper(
        engine, "UPDATE ledger_accounts SET credits_posted_fen = 1 WHERE id = 'merchant:M1:escrow'"
    )
    broken = runner.invoke(app, ["ledger", "check"])
    assert broken.exit_code == 1 and "BREACH" in broken.output
    assert "incremental from checkpoint 2" in broken.output
    full = runner.invoke(app, ["ledger", "check", "--full"])
    assert full.exit_code == 1 and "no checkpoint written" in full.output
    tamper(
        engine,
        "UPDATE ledger_accounts SET credits_posted_fen = 20000 WHERE id = 'merchant:M1:escrow'",
    )
    engine.dispose()


def test_a_ledger_whose_total_passes_a_bigint_still_checks_and_checkpoints(engine: Engine) -> None:
    """Every amount may be as large as a BIGINT holds, and each account's posted sums are
    kept within it, but the sum over every account is not bounded: two transfers near the
    largest amount pass it. The full check must still pass and write its checkpoint (found
    by a tester: `ledger check --full` crashed with bigint out of range), and the stored
    totals read back exactly."""
    largest_fen = 2**63 - 1
    amount_fen = largest_fen - 5
    assert move(engine, "T-big-1", CLEARING, ESCROW, amount_fen)
    assert move(engine, "T-big-2", ESCROW, PAYABLE, amount_fen)
    report = checkpoint_now(engine)
    assert report.total_debits_posted_fen == report.total_credits_posted_fen == 2 * amount_fen
    with read_transaction(engine) as connection:
        stored = connection.execute(
            select(
                ledger_checkpoints.c.total_debits_posted_fen,
                ledger_checkpoints.c.total_credits_posted_fen,
            ).where(ledger_checkpoints.c.id == report.checkpoint_written)
        ).one()
    assert [int(value) for value in stored] == [2 * amount_fen] * 2
    again = run_ledger_check(engine, NOW)
    assert again.ok and not again.full
