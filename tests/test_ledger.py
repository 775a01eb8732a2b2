"""The double-entry book: idempotent ids, holds resolved once, floors, and the check."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text, update

from buyerguard.clock import SimulatedClock
from buyerguard.errors import BuyerguardError
from buyerguard.ledger import accounts
from buyerguard.ledger.balances import balance
from buyerguard.ledger.book import Transfer, TransferKind, record
from buyerguard.ledger.check import check_ledger, trial_balance
from buyerguard.store.db import read_transaction, transaction
from buyerguard.store.tables import ledger_accounts
from tests.conftest import at

CLEARING = accounts.rail_clearing("O1")
ESCROW = accounts.merchant_escrow("M1")
PAYABLE = accounts.merchant_payable("M1")
FEES = accounts.platform_fee_revenue("O1-1")
WHEN = at("2024-10-20T10:00:00+08:00")


def move(
    engine: Engine,
    transfer_id: str,
    debit: accounts.AccountSpec,
    credit: accounts.AccountSpec,
    amount_fen: int,
    kind: TransferKind = TransferKind.POSTED,
    pending_id: str | None = None,
) -> bool:
    with transaction(engine) as connection:
        return record(
            connection,
            Transfer(
                transfer_id, kind, debit, credit, amount_fen, "test", WHEN, pending_id=pending_id
            ),
            WHEN,
        )


def test_same_id_twice_posts_once(engine: Engine) -> None:
    assert move(engine, "pay:1", CLEARING, ESCROW, 10_000) is True
    assert move(engine, "pay:1", CLEARING, ESCROW, 10_000) is False
    with read_transaction(engine) as connection:
        assert balance(connection, ESCROW.id).credit_balance_fen == 10_000


def test_same_id_with_other_fields_is_refused(engine: Engine) -> None:
    move(engine, "pay:1", CLEARING, ESCROW, 10_000)
    with pytest.raises(BuyerguardError) as refused:
        move(engine, "pay:1", CLEARING, ESCROW, 10_001)
    assert refused.value.code == "transfer_id_reused"


def test_escrow_cannot_be_overdrawn(engine: Engine) -> None:
    move(engine, "pay:1", CLEARING, ESCROW, 10_000)
    move(engine, "hold:1", ESCROW, PAYABLE, 8_000, TransferKind.PENDING)
    with pytest.raises(BuyerguardError) as refused:
        move(engine, "refund:1", ESCROW, CLEARING, 2_001)  # 8,000 held + 2,001 > 10,000
    assert refused.value.code == "balance_floor"
    move(engine, "refund:1", ESCROW, CLEARING, 2_000)


def test_hold_posts_or_voids_once(engine: Engine) -> None:
    move(engine, "pay:1", CLEARING, ESCROW, 10_000)
    move(engine, "hold:1", ESCROW, PAYABLE, 10_000, TransferKind.PENDING)
    move(engine, "release:1", ESCROW, PAYABLE, 10_000, TransferKind.POST_PENDING, "hold:1")
    with pytest.raises(BuyerguardError) as again:
        move(engine, "void:1", ESCROW, PAYABLE, 10_000, TransferKind.VOID_PENDING, "hold:1")
    assert again.value.code == "pending_already_resolved"
    with read_transaction(engine) as connection:
        payable = balance(connection, PAYABLE.id)
    assert (payable.credits_posted_fen, payable.credits_pending_fen) == (10_000, 0)


def test_partial_post_releases_the_rest(engine: Engine) -> None:
    move(engine, "pay:1", CLEARING, ESCROW, 10_000)
    move(engine, "hold:1", ESCROW, PAYABLE, 10_000, TransferKind.PENDING)
    with pytest.raises(BuyerguardError) as over:
        move(engine, "release:1", ESCROW, PAYABLE, 10_001, TransferKind.POST_PENDING, "hold:1")
    assert over.value.code == "post_exceeds_pending"
    move(engine, "release:1", ESCROW, PAYABLE, 6_000, TransferKind.POST_PENDING, "hold:1")
    with read_transaction(engine) as connection:
        escrow = balance(connection, ESCROW.id)
    assert (escrow.credit_balance_fen, escrow.debits_pending_fen) == (4_000, 0)
    move(engine, "refund:1", ESCROW, CLEARING, 4_000)


def test_payable_cannot_pay_a_fee_it_does_not_hold(engine: Engine) -> None:
    with pytest.raises(BuyerguardError) as refused:
        move(engine, "fee:1", PAYABLE, FEES, 1)
    assert refused.value.code == "balance_floor"


def test_non_positive_and_self_transfers_are_refused(engine: Engine) -> None:
    for amount in (0, -5):
        with pytest.raises(BuyerguardError) as refused:
            move(engine, f"x:{amount}", CLEARING, ESCROW, amount)
        assert refused.value.code == "amount_not_positive"
    with pytest.raises(BuyerguardError) as same:
        move(engine, "x:self", ESCROW, ESCROW, 5)
    assert same.value.code == "same_account"


def test_check_detects_a_tampered_balance(engine: Engine) -> None:
    move(engine, "pay:1", CLEARING, ESCROW, 10_000)
    with transaction(engine) as connection:
        connection.execute(
            update(ledger_accounts)
            .where(ledger_accounts.c.id == ESCROW.id)
            .values(credits_posted_fen=ledger_accounts.c.credits_posted_fen + 1)
        )
    with read_transaction(engine) as connection:
        report = check_ledger(connection)
    assert not report.ok
    assert any("merchant:M1:escrow credits_posted_fen" in breach for breach in report.breaches)
    with transaction(engine) as connection:  # repair so the fixture's own check passes
        connection.execute(
            update(ledger_accounts)
            .where(ledger_accounts.c.id == ESCROW.id)
            .values(credits_posted_fen=ledger_accounts.c.credits_posted_fen - 1)
        )


def test_check_detects_an_unbalanced_entry(engine: Engine) -> None:
    move(engine, "pay:1", CLEARING, ESCROW, 10_000)
    with transaction(engine) as connection:
        connection.execute(
            text("UPDATE ledger_entries SET amount_fen = 9999 WHERE direction = 'credit'")
        )
        connection.execute(
            text(
                "UPDATE ledger_accounts SET credits_posted_fen = 9999 "
                "WHERE id = 'merchant:M1:escrow'"
            )
        )
    with read_transaction(engine) as connection:
        report = check_ledger(connection)
    assert any("do not sum to zero" in breach for breach in report.breaches)
    assert any("ledger does not balance" in breach for breach in report.breaches)
    with transaction(engine) as connection:
        connection.execute(
            text("UPDATE ledger_entries SET amount_fen = 10000 WHERE direction = 'credit'")
        )
        connection.execute(
            text(
                "UPDATE ledger_accounts SET credits_posted_fen = 10000 "
                "WHERE id = 'merchant:M1:escrow'"
            )
        )


def test_trial_balance_per_shanghai_day(engine: Engine, clock: SimulatedClock) -> None:
    move(engine, "pay:1", CLEARING, ESCROW, 10_000)
    with read_transaction(engine) as connection:
        before = trial_balance(connection, at("2024-10-19T12:00:00+08:00").date())
        on_day = trial_balance(connection, WHEN.date())
    assert before == []
    assert sum(line.debits_fen for line in on_day) == sum(line.credits_fen for line in on_day)
    assert {line.account_id: line.net_fen for line in on_day} == {
        "merchant:M1:escrow": -10_000,
        CLEARING.id: 10_000,
    }


def test_two_writers_creating_one_account_both_go_on(engine: Engine) -> None:
    """The first use of an account by two transactions at once never fails (issue 11, item 3).

    The first writer creates the payable and holds its transaction open; the
    second, in another thread, touches the same new payable. It must wait for
    the first and then post, not fail on the primary key (select-then-insert
    did: both saw no account, the second insert hit the first's row).
    """
    import threading

    created = threading.Event()
    release = threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with transaction(engine) as connection:
                record(
                    connection,
                    Transfer("pay:a", TransferKind.POSTED, CLEARING, PAYABLE, 100, "test", WHEN),
                    WHEN,
                )
                created.set()
                release.wait(timeout=30)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
            created.set()

    def second() -> None:
        try:
            move(engine, "pay:b", CLEARING, PAYABLE, 200)
        except BaseException as exc:
            errors.append(exc)

    first_thread = threading.Thread(target=first)
    first_thread.start()
    assert created.wait(timeout=30)
    second_thread = threading.Thread(target=second)
    second_thread.start()
    second_thread.join(timeout=1)
    # PostgreSQL: blocked on the first's uncommitted row; SQLite: queued for the one writer.
    assert second_thread.is_alive()
    release.set()
    first_thread.join(timeout=30)
    second_thread.join(timeout=30)
    assert errors == []
    with read_transaction(engine) as connection:
        assert balance(connection, PAYABLE.id).credit_balance_fen == 300


def test_accounts_locked_once_per_transaction(engine: Engine) -> None:
    """A command asking again for accounts it holds sends nothing; a new one is locked (and
    created); the next transaction, and a savepoint, lock again."""
    from sqlalchemy import event

    from buyerguard.ledger.book import lock_accounts

    sent: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "ledger_accounts" in statement:
            sent.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        with transaction(engine) as connection:
            lock_accounts(connection, [CLEARING, PAYABLE], WHEN)
            lock_accounts(connection, [PAYABLE, CLEARING], WHEN)
            assert len(sent) == 1
            lock_accounts(connection, [PAYABLE, ESCROW], WHEN)  # escrow is new to it
            assert len(sent) == 2
            with connection.begin_nested():
                lock_accounts(connection, [PAYABLE], WHEN)
            assert len(sent) == 3
        with transaction(engine) as connection:
            lock_accounts(connection, [CLEARING], WHEN)
        assert len(sent) == 4
    finally:
        event.remove(engine, "before_cursor_execute", count)
    with read_transaction(engine) as connection:
        for spec in (CLEARING, PAYABLE, ESCROW):
            assert balance(connection, spec.id).debits_posted_fen == 0


def test_an_open_hold_is_what_it_holds_until_posted_or_voided(engine: Engine) -> None:
    """`open_hold_fen`, the cap on a refund before release: the hold's amount while no
    transfer resolved it; 0 once one did, for an absent id and for a posted transfer."""
    from buyerguard.ledger.book import open_hold_fen

    def open_fen(hold_id: str) -> int:
        with read_transaction(engine) as connection:
            return open_hold_fen(connection, hold_id)

    move(engine, "pay:1", CLEARING, ESCROW, 10_000)
    move(engine, "hold:1", ESCROW, PAYABLE, 6_000, TransferKind.PENDING)
    move(engine, "hold:2", ESCROW, PAYABLE, 4_000, TransferKind.PENDING)
    assert [open_fen(i) for i in ("hold:1", "hold:2", "pay:1", "hold:none")] == [6_000, 4_000, 0, 0]
    move(engine, "release:1", ESCROW, PAYABLE, 5_000, TransferKind.POST_PENDING, "hold:1")
    move(engine, "void:2", ESCROW, PAYABLE, 4_000, TransferKind.VOID_PENDING, "hold:2")
    assert [open_fen("hold:1"), open_fen("hold:2")] == [0, 0]
