"""Edges of transfers posted together (`ledger.book.record_later`, 7d72a6c): two resolutions
of one hold in one statement, an account never created, pending columns near the largest
amount, instants whatever the session's zone, and racing commands on shared accounts."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import Connection, Engine, func, select, text

from buyerguard.errors import BuyerguardError
from buyerguard.ledger import accounts
from buyerguard.ledger.balances import balance
from buyerguard.ledger.book import (
    Transfer,
    TransferKind,
    lock_accounts,
    read_transfers,
    record_later,
)
from buyerguard.ledger.check import check_ledger
from buyerguard.money import MAX_FEN
from buyerguard.store.db import read_transaction, retrying, transaction
from buyerguard.store.tables import ledger_entries, ledger_transfers
from tests.conftest import at

CLEARING = accounts.rail_clearing("O1")
ESCROW = accounts.merchant_escrow("M1")
PAYABLE = accounts.merchant_payable("M1")
WHEN = at("2024-10-20T10:00:00+08:00")
POSTED, PENDING = TransferKind.POSTED, TransferKind.PENDING
POST, VOID = TransferKind.POST_PENDING, TransferKind.VOID_PENDING


def move(
    transfer_id: str,
    kind: TransferKind,
    debit: accounts.AccountSpec,
    credit: accounts.AccountSpec,
    amount_fen: int,
    hold: str | None = None,
) -> Transfer:
    return Transfer(transfer_id, kind, debit, credit, amount_fen, "test", WHEN, None, None, hold)


def command(engine: Engine, *transfers: Transfer, holds: tuple[str, ...] = ()) -> None:
    """Lock the accounts, read `holds` at once (as a confirmation does), record each later."""
    with transaction(engine) as connection:
        lock_accounts(connection, [CLEARING, ESCROW, PAYABLE], WHEN)
        read_transfers(connection, list(holds))
        for transfer in transfers:
            record_later(connection, transfer, WHEN)


def rows(engine: Engine) -> tuple[int, int]:
    with read_transaction(engine) as connection:
        count = select(func.count())
        return (
            connection.execute(count.select_from(ledger_transfers)).scalar_one(),
            connection.execute(count.select_from(ledger_entries)).scalar_one(),
        )


def test_two_resolutions_of_one_hold_in_one_statement_are_refused(engine: Engine) -> None:
    command(engine, move("pay", POSTED, CLEARING, ESCROW, 1_000))
    command(engine, move("hold", PENDING, ESCROW, PAYABLE, 800))
    before = rows(engine)
    with pytest.raises(BuyerguardError) as refused:
        command(
            engine,
            move("post", POST, ESCROW, PAYABLE, 800, "hold"),
            move("void", VOID, ESCROW, PAYABLE, 800, "hold"),
            holds=("hold",),
        )
    assert refused.value.code == "pending_already_resolved"
    assert rows(engine) == before
    with read_transaction(engine) as connection:
        assert balance(connection, ESCROW.id).debits_pending_fen == 800


def test_an_account_not_locked_first_is_locked_when_recorded(engine: Engine) -> None:
    """Not left to the posting's UPDATE (no set order), nor refused by the foreign key: the
    account is created and locked when the transfer is recorded, as `record` does."""
    command(engine, move("pay", POSTED, CLEARING, ESCROW, 1_000))
    ghost = accounts.merchant_escrow("GHOST")  # never locked before
    with transaction(engine) as connection:
        record_later(connection, move("x", POSTED, ESCROW, ghost, 10), WHEN)
    with read_transaction(engine) as connection:
        assert balance(connection, ghost.id).credit_balance_fen == 10


def test_pending_columns_near_the_largest_amount(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's ledger check overflows summing these legs (not this change)")
    command(engine, move("pay", POSTED, CLEARING, ESCROW, MAX_FEN))
    command(engine, move("hold", PENDING, ESCROW, PAYABLE, MAX_FEN - 5))
    # a hold made and another voided in one command: judged where it ends (MAX - 1)
    command(
        engine,
        move("hold2", PENDING, ESCROW, PAYABLE, MAX_FEN - 1),
        move("void", VOID, ESCROW, PAYABLE, MAX_FEN - 5, "hold"),
        holds=("hold",),
    )
    post = move("post2", POST, ESCROW, PAYABLE, MAX_FEN - 1, "hold2")
    with pytest.raises(BuyerguardError) as refused:
        command(engine, post, move("hold3", PENDING, ESCROW, PAYABLE, 2), holds=("hold2",))
    assert refused.value.code == "balance_floor"
    command(engine, post, move("hold3", PENDING, ESCROW, PAYABLE, 1), holds=("hold2",))
    with read_transaction(engine) as connection:
        escrow = balance(connection, ESCROW.id)
        assert (escrow.debits_posted_fen, escrow.debits_pending_fen) == (MAX_FEN - 1, 1)
        assert check_ledger(connection).ok


def test_instants_are_stored_as_given_whatever_the_session_zone(engine: Engine) -> None:
    later = WHEN + timedelta(hours=1)
    with transaction(engine) as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL TimeZone = 'Pacific/Chatham'"))
        lock_accounts(connection, [CLEARING, ESCROW], WHEN)
        record_later(connection, move("pay", POSTED, CLEARING, ESCROW, 5), later)
    with read_transaction(engine) as connection:
        row = connection.execute(select(ledger_transfers)).mappings().one()
        assert (row["occurred_at"], row["recorded_at"]) == (WHEN, later)
        entries = connection.execute(select(ledger_entries.c.recorded_at)).scalars().all()
        assert entries == [later, later]


def test_racing_commands_on_shared_accounts_neither_deadlock_nor_overdraw(
    engine: Engine,
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    shared = [accounts.merchant_escrow(name) for name in ("MA", "MB", "MC")]
    with transaction(engine) as connection:
        lock_accounts(connection, [CLEARING, *shared], WHEN)
        for spec in shared:
            record_later(connection, move(f"fund:{spec.id}", POSTED, CLEARING, spec, 1_000), WHEN)
    a, b, c = shared
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def worker(number: int) -> None:
        pairs = [(a, b), (b, c), (c, a)] if number % 2 else [(c, b), (b, a), (a, c)]
        start.wait()
        for round_ in range(25):

            def work(connection: Connection, round_: int = round_) -> None:
                lock_accounts(connection, shared, WHEN)
                for index, (debit, credit) in enumerate(pairs):
                    transfer = move(f"w{number}-{round_}-{index}", POSTED, debit, credit, 7)
                    record_later(connection, transfer, WHEN)
                balance(connection, a.id)  # written midway, then more
                last = move(f"w{number}-{round_}-z", POSTED, *pairs[0], 3)
                record_later(connection, last, WHEN)

            try:
                retrying(engine, work)
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(number,)) for number in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with read_transaction(engine) as connection:
        held = [balance(connection, spec.id).credit_balance_fen for spec in shared]
        assert sum(held) == 3_000 and min(held) >= 0
        assert check_ledger(connection).ok
