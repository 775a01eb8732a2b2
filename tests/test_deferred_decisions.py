"""A command's decisions are written together at its end (store/deferred_writes.py), and
still never lost, never doubled, never out of order, never seen missing by a reader."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event, select

from buyerguard.bootstrap import Runtime
from buyerguard.errors import Conflict
from buyerguard.services.context import OPERATOR, Context
from buyerguard.services.records import (
    audit,
    has_decision,
    order_decisions,
    record_decision,
    record_repeated_decision,
)
from buyerguard.services.timers import ensure_pending_timer
from buyerguard.store.db import retrying
from buyerguard.store.tables import audit_log, decisions, timers
from tests.conftest import LAST_RESORT_ALLOWED
from tests.test_decisions import refund


@contextmanager
def decision_inserts(engine: Engine) -> Iterator[list[str]]:
    """The statements that write decisions while the block runs."""
    seen: list[str] = []

    def note(*args: Any) -> None:
        statement = args[2]
        if statement.lstrip().upper().startswith(("INSERT INTO DECISIONS", "WITH")) and (
            "INSERT INTO decisions" in statement
        ):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def stored(rt: Runtime) -> list[tuple[str, int]]:
    with rt.reading(OPERATOR) as ctx:
        rows = ctx.connection.execute(
            select(decisions.c.subject_id, decisions.c.amount_fen).order_by(decisions.c.ordinal)
        ).all()
    return [(row.subject_id, row.amount_fen) for row in rows]


def test_a_commands_decisions_go_in_one_statement_at_its_end_in_the_order_recorded(
    rt: Runtime,
) -> None:
    with decision_inserts(rt.engine) as inserts, rt.writing(OPERATOR) as ctx:
        for subject, amount in (("O1-3", 300), ("O1-1", 100), ("O1-2", 200)):
            record_decision(ctx, refund(amount, subject_id=subject), ctx.now(), "O1")
        assert inserts == []  # nothing written yet
    # PostgreSQL: one round trip for the three; SQLite (one writer, no round trip) one each
    assert len(inserts) == (1 if rt.engine.dialect.name == "postgresql" else 3)
    assert stored(rt) == [("O1-3", 300), ("O1-1", 100), ("O1-2", 200)]


def test_a_read_of_decisions_in_the_same_command_sees_those_recorded_before_it(
    rt: Runtime,
) -> None:
    with rt.writing(OPERATOR) as ctx:
        record_decision(ctx, refund(1000), ctx.now(), "O1")
        assert has_decision(ctx.connection, "refund_due", "O1-1")
        assert [row["amount_fen"] for row in order_decisions(ctx.connection, "O1")] == [1000]
        # a decision that repeats takes the sequence after the one recorded just before
        later = record_repeated_decision(ctx, refund(500, explanation="again"), ctx.now(), "O1")
    assert later == "refund_due:O1-1:2"
    assert stored(rt) == [("O1-1", 1000), ("O1-1", 500)]


def test_a_rolled_back_command_writes_none_of_its_decisions(rt: Runtime) -> None:
    with pytest.raises(RuntimeError), rt.writing(OPERATOR) as ctx:
        record_decision(ctx, refund(1000), ctx.now(), "O1")
        raise RuntimeError("refused after deciding")
    with rt.writing(OPERATOR) as ctx:  # the next transaction (a pooled connection) inherits none
        record_decision(ctx, refund(700, subject_id="O2-1"), ctx.now(), "O2")
    assert stored(rt) == [("O2-1", 700)]


def test_a_rolled_back_savepoint_drops_what_it_recorded_and_keeps_what_came_before(
    rt: Runtime,
) -> None:
    with rt.writing(OPERATOR) as ctx:
        record_decision(ctx, refund(100, subject_id="O1-1"), ctx.now(), "O1")
        with pytest.raises(RuntimeError), ctx.connection.begin_nested():
            record_decision(ctx, refund(200, subject_id="O1-2"), ctx.now(), "O1")
            raise RuntimeError("the savepoint's part is refused")
        with ctx.connection.begin_nested():  # released: kept
            record_decision(ctx, refund(300, subject_id="O1-3"), ctx.now(), "O1")
    assert stored(rt) == [("O1-1", 100), ("O1-3", 300)]


def test_the_same_decision_twice_in_one_command_is_one_and_another_under_its_id_is_refused(
    rt: Runtime,
) -> None:
    with rt.writing(OPERATOR) as ctx:
        first = record_decision(ctx, refund(1000), ctx.now(), "O1")
        assert record_decision(ctx, refund(1000), ctx.now(), "O1") == first
    assert stored(rt) == [("O1-1", 1000)]
    with pytest.raises(Conflict) as refused, rt.writing(OPERATOR) as ctx:
        record_decision(ctx, refund(2000, subject_id="O2-1"), ctx.now(), "O2")
        record_decision(ctx, refund(2500, subject_id="O2-1"), ctx.now(), "O2")
    assert refused.value.code == "decision_conflict"
    assert stored(rt) == [("O1-1", 1000)]


def test_a_conflict_found_at_the_end_refuses_the_whole_command(rt: Runtime) -> None:
    with rt.writing(OPERATOR) as ctx:
        record_decision(ctx, refund(1000), ctx.now(), "O1")
    with pytest.raises(Conflict) as refused, rt.writing(OPERATOR) as ctx:
        record_decision(ctx, refund(400, subject_id="O3-1"), ctx.now(), "O3")
        record_decision(ctx, refund(999), ctx.now(), "O1")  # O1-1's id, other amount
    assert refused.value.code == "decision_conflict"
    assert stored(rt) == [("O1-1", 1000)]  # O3-1 went with it


def test_a_read_past_pending_decisions_is_caught_by_every_test(rt: Runtime) -> None:
    """The suite's guard (conftest.py): a reader that forgot to write the pending decisions
    first fails whichever test drives it."""
    with pytest.raises(AssertionError, match="past pending"), rt.writing(OPERATOR) as ctx:
        record_decision(ctx, refund(1000), ctx.now(), "O1")
        ctx.connection.execute(select(decisions.c.id)).all()


def clash(rt: Runtime) -> None:
    """O1-1's decision, stored: recording it again with another amount is a conflict."""
    with rt.writing(OPERATOR) as ctx:
        record_decision(ctx, refund(1000), ctx.now(), "O1")


def audited(rt: Runtime) -> list[str]:
    with rt.reading(OPERATOR) as ctx:
        return list(ctx.connection.execute(select(audit_log.c.subject_id)).scalars())


def test_a_conflict_in_the_last_write_leaves_a_held_connection_clean_for_the_next_command(
    rt: Runtime,
) -> None:
    """A batch runs its facts on one connection: a fact refused by its decisions' write must
    leave nothing behind for the next fact's commit to carry."""
    clash(rt)

    def refused(connection: Connection) -> None:
        ctx = Context(connection, OPERATOR, rt.clock, rt.rulebooks)
        audit(ctx, "refused", "A-1", ctx.now())
        record_decision(ctx, refund(999), ctx.now(), "O1")

    def accepted(connection: Connection) -> None:
        ctx = Context(connection, OPERATOR, rt.clock, rt.rulebooks)
        audit(ctx, "accepted", "A-2", ctx.now())
        record_decision(ctx, refund(500, subject_id="O2-1"), ctx.now(), "O2")

    with rt.engine.connect() as held:
        with pytest.raises(Conflict):
            retrying(rt.engine, refused, held)
        retrying(rt.engine, accepted, held)
    assert audited(rt) == ["A-2"]
    assert stored(rt) == [("O1-1", 1000), ("O2-1", 500)]


def test_a_conflict_of_decisions_recorded_before_a_savepoint_is_not_the_savepoints_to_swallow(
    rt: Runtime,
) -> None:
    """`ensure_pending_timer` ignores a conflict of its own timer; not one of the command's
    decisions, written as its savepoint starts."""
    clash(rt)
    with pytest.raises(Conflict) as refused, rt.writing(OPERATOR) as ctx:
        record_decision(ctx, refund(999), ctx.now(), "O1")
        ensure_pending_timer(ctx, "promise.rebuild", ctx.now())
    assert refused.value.code == "decision_conflict"
    with rt.reading(OPERATOR) as ctx:
        assert ctx.connection.execute(select(timers.c.id)).all() == []


def test_the_commits_last_resort_writes_what_a_unit_of_work_left_and_rolls_back_if_refused(
    rt: Runtime,
) -> None:
    """A commit outside `transaction()`/`retrying()` still writes recorded decisions; refused,
    it leaves no transaction open on the connection for the next one to commit."""
    clash(rt)
    with rt.engine.connect() as held:
        held.info[LAST_RESORT_ALLOWED] = True
        with held.begin():
            ctx = Context(held, OPERATOR, rt.clock, rt.rulebooks)
            record_decision(ctx, refund(300, subject_id="O3-1"), ctx.now(), "O3")
        with pytest.raises(Conflict), held.begin():
            ctx = Context(held, OPERATOR, rt.clock, rt.rulebooks)
            audit(ctx, "refused", "A-1", ctx.now())
            record_decision(ctx, refund(999), ctx.now(), "O1")
        with held.begin():
            ctx = Context(held, OPERATOR, rt.clock, rt.rulebooks)
            audit(ctx, "accepted", "A-2", ctx.now())
    assert audited(rt) == ["A-2"]
    assert stored(rt) == [("O1-1", 1000), ("O3-1", 300)]


def test_decisions_recorded_outside_a_transaction_are_refused_not_lost(rt: Runtime) -> None:
    with rt.engine.connect() as connection:
        ctx = Context(connection, OPERATOR, rt.clock, rt.rulebooks)
        with pytest.raises(RuntimeError, match="inside a transaction"):
            record_decision(ctx, refund(1000), ctx.now(), "O1")


def test_a_lost_connection_rolls_back_with_its_own_error(rt: Runtime) -> None:
    """Dropping what a lost connection recorded must not raise in place of what lost it."""
    with rt.engine.connect() as connection:
        transaction = connection.begin()
        ctx = Context(connection, OPERATOR, rt.clock, rt.rulebooks)
        record_decision(ctx, refund(1000), ctx.now(), "O1")
        connection.invalidate()
        transaction.rollback()
    assert stored(rt) == []
