"""Transfers recorded for later (`record_later`) and posted together: once, in one
statement on PostgreSQL, each account checked on its net change — alike on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, event, text

from buyerguard.errors import BuyerguardError
from buyerguard.ledger import accounts
from buyerguard.ledger.balances import Balance, balance
from buyerguard.ledger.book import Transfer, TransferKind, lock_accounts, record, record_later
from buyerguard.ledger.check import check_ledger
from buyerguard.money import MAX_FEN
from buyerguard.store.db import read_transaction, transaction
from tests.conftest import at, reset_postgres

CLEARING = accounts.rail_clearing("O1")
ESCROW = accounts.merchant_escrow("M1")  # credit-normal, floored
PAYABLE = accounts.merchant_payable("M1")  # credit-normal, floored
DEBT = accounts.merchant_debt("M1")  # debit-normal, floored
WHEN = at("2024-10-20T10:00:00+08:00")
Move = tuple[str, accounts.AccountSpec, accounts.AccountSpec, int]


def later(engine: Engine, *moves: Move, kind: TransferKind = TransferKind.POSTED) -> None:
    """One command: lock the accounts, record each move for later, commit."""
    with transaction(engine) as connection:
        lock_accounts(connection, [spec for move in moves for spec in move[1:3]], WHEN)
        for transfer_id, debit, credit, amount_fen in moves:
            transfer = Transfer(transfer_id, kind, debit, credit, amount_fen, "test", WHEN)
            record_later(connection, transfer, WHEN)


def balances(engine: Engine, *specs: accounts.AccountSpec) -> list[Balance]:
    with read_transaction(engine) as connection:
        return [balance(connection, spec.id) for spec in specs]


def refusal(engine: Engine, *moves: Move) -> str:
    with pytest.raises(BuyerguardError) as refused:
        later(engine, *moves)
    return refused.value.code


def test_a_command_posts_its_transfers_once_and_in_one_statement(engine: Engine) -> None:
    sent: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    later(engine, ("pay:1", CLEARING, ESCROW, 10_000), ("release:1", ESCROW, PAYABLE, 7_000))
    later(engine, ("pay:1", CLEARING, ESCROW, 10_000))  # a replay posts nothing
    escrow, payable = balances(engine, ESCROW, PAYABLE)
    assert (escrow.credit_balance_fen, payable.credit_balance_fen) == (3_000, 7_000)
    if engine.dialect.name == "postgresql":
        assert sum("INSERT INTO ledger_transfers" in statement for statement in sent) == 2
    with read_transaction(engine) as connection:
        assert check_ledger(connection).ok


def test_a_read_of_the_ledger_sees_what_the_command_recorded(engine: Engine) -> None:
    with transaction(engine) as connection:
        lock_accounts(connection, [CLEARING, ESCROW], WHEN)
        transfer = Transfer("pay:1", TransferKind.POSTED, CLEARING, ESCROW, 500, "test", WHEN)
        record_later(connection, transfer, WHEN)
        assert balance(connection, ESCROW.id).credit_balance_fen == 500


def test_one_id_with_other_fields_is_refused_and_writes_nothing(engine: Engine) -> None:
    later(engine, ("pay:1", CLEARING, ESCROW, 10_000))
    assert refusal(engine, ("pay:2", CLEARING, ESCROW, 1), ("pay:1", CLEARING, ESCROW, 9)) == (
        "transfer_id_reused"
    )
    assert refusal(engine, ("pay:3", CLEARING, ESCROW, 1), ("pay:3", CLEARING, ESCROW, 2)) == (
        "transfer_id_reused"
    )
    assert balances(engine, ESCROW)[0].credit_balance_fen == 10_000


def test_a_floor_is_checked_on_where_the_account_ends(engine: Engine) -> None:
    later(engine, ("pay:1", CLEARING, ESCROW, 1_000))
    # Out before in, within one command: the escrow ends at 1,000 + 500 - 1,200 = 300.
    later(engine, ("refund:1", ESCROW, CLEARING, 1_200), ("pay:2", CLEARING, ESCROW, 500))
    assert balances(engine, ESCROW)[0].credit_balance_fen == 300
    assert refusal(
        engine, ("refund:2", ESCROW, CLEARING, 200), ("refund:3", ESCROW, CLEARING, 101)
    ) == ("balance_floor")
    assert refusal(engine, ("debt:1", DEBT, PAYABLE, 1), ("debt:2", PAYABLE, DEBT, 2)) == (
        "balance_floor"
    )
    assert balances(engine, ESCROW)[0].credit_balance_fen == 300


def test_the_largest_amount_is_refused_alike(engine: Engine) -> None:
    later(engine, ("pay:1", CLEARING, ESCROW, MAX_FEN - 10))
    assert refusal(engine, ("pay:2", CLEARING, ESCROW, 6), ("pay:3", CLEARING, ESCROW, 5)) == (
        "amount_too_large"
    )
    later(engine, ("pay:2", CLEARING, ESCROW, 6), ("pay:3", CLEARING, ESCROW, 4))
    assert balances(engine, ESCROW)[0].credits_posted_fen == MAX_FEN


def test_holds_made_and_resolved_in_one_command(engine: Engine) -> None:
    later(engine, ("pay:1", CLEARING, ESCROW, 1_000))
    with transaction(engine) as connection:
        lock_accounts(connection, [ESCROW, PAYABLE], WHEN)
        for transfer in (
            Transfer("hold:1", TransferKind.PENDING, ESCROW, PAYABLE, 800, "test", WHEN),
            Transfer(
                "post:1",
                TransferKind.POST_PENDING,
                ESCROW,
                PAYABLE,
                600,
                "t",
                WHEN,
                None,
                None,
                "hold:1",
            ),
        ):
            record_later(connection, transfer, WHEN)
    escrow, payable = balances(engine, ESCROW, PAYABLE)
    assert (escrow.credit_balance_fen, escrow.debits_pending_fen) == (400, 0)
    assert payable.credit_balance_fen == 600
    with pytest.raises(BuyerguardError) as refused, transaction(engine) as connection:
        again = Transfer(
            "void:1",
            TransferKind.VOID_PENDING,
            ESCROW,
            PAYABLE,
            800,
            "t",
            WHEN,
            None,
            None,
            "hold:1",
        )
        record_later(connection, again, WHEN)
    assert refused.value.code == "pending_already_resolved"


def test_record_posts_what_was_recorded_before_it_first(engine: Engine) -> None:
    with transaction(engine) as connection:
        lock_accounts(connection, [CLEARING, ESCROW, PAYABLE], WHEN)
        paid = Transfer("pay:1", TransferKind.POSTED, CLEARING, ESCROW, 900, "test", WHEN)
        record_later(connection, paid, WHEN)
        moved = Transfer("move:1", TransferKind.POSTED, ESCROW, PAYABLE, 900, "test", WHEN)
        assert record(connection, moved, WHEN, accounts_locked=True) is True
    assert [b.credit_balance_fen for b in balances(engine, ESCROW, PAYABLE)] == [0, 900]


SPECS = [CLEARING, ESCROW, PAYABLE, DEBT]
moves = st.lists(
    st.tuples(
        st.integers(0, 3), st.integers(0, 3), st.integers(1, 2_000), st.sampled_from("abcdef")
    ).filter(lambda move: move[0] != move[1]),
    min_size=1,
    max_size=6,
)


def within_floor(spec: accounts.AccountSpec, before: list[int], after: list[int]) -> bool:
    """The rule, as the model has it: a floored side that grows (or whose other side
    shrinks) must end within the other side's posted total."""
    grown = [after[0] - before[0], after[1] - before[1]]  # debits, credits
    for flag, side, other in (
        (spec.debits_must_not_exceed_credits, 0, 1),
        (spec.credits_must_not_exceed_debits, 1, 0),
    ):
        if flag and (grown[side] > 0 or grown[other] < 0) and after[side] > after[other]:
            return False
    return True


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(commands=st.lists(moves, min_size=1, max_size=5))
def test_net_checks_agree_with_a_model(engine: Engine, commands: list[list[Any]]) -> None:
    """Random commands of posted transfers: each commits iff every floored account ends
    within its floor (a model of the rule), and the balances are the model's."""
    if engine.dialect.name == "postgresql":
        reset_postgres(engine)
    else:
        with engine.begin() as connection:
            for table in ("ledger_entries", "ledger_transfers", "ledger_accounts"):
                connection.execute(text(f"DELETE FROM {table}"))
    model = {spec.id: [0, 0] for spec in SPECS}  # debits, credits posted
    for number, command in enumerate(commands):
        after = {account: list(sides) for account, sides in model.items()}
        for debit, credit, amount_fen, _name in command:
            after[SPECS[debit].id][0] += amount_fen
            after[SPECS[credit].id][1] += amount_fen
        fits = all(within_floor(spec, model[spec.id], after[spec.id]) for spec in SPECS)
        transfers = [
            (f"t{number}-{index}", SPECS[debit], SPECS[credit], amount_fen)
            for index, (debit, credit, amount_fen, _name) in enumerate(command)
        ]
        if fits:
            later(engine, *transfers)
            model = after
        else:
            assert refusal(engine, *transfers) == "balance_floor"
        found = balances(engine, *SPECS)
        assert [[b.debits_posted_fen, b.credits_posted_fen] for b in found] == list(model.values())
    with read_transaction(engine) as connection:
        assert check_ledger(connection).ok


def test_a_naive_instant_is_refused_alike(engine: Engine) -> None:
    """The statement of many transfers passes instants raw: a naive one would be read in the
    session's zone on PostgreSQL, where the column type refuses it on SQLite."""
    naive = WHEN.replace(tzinfo=None)
    with pytest.raises(BuyerguardError) as refused, transaction(engine) as connection:
        lock_accounts(connection, [CLEARING, ESCROW], WHEN)
        paid = Transfer("pay:1", TransferKind.POSTED, CLEARING, ESCROW, 500, "test", WHEN)
        record_later(connection, paid, naive)
    assert refused.value.code == "instant_without_offset"
    assert balances(engine, ESCROW)[0].credit_balance_fen == 0
