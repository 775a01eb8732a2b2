"""A decision is never lost: a reused id with other content is refused, the same replays,
and a decision that may repeat on its subject takes the next sequence."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from buyerguard.bootstrap import Runtime
from buyerguard.domain.decision import PLATFORM, Decision, party
from buyerguard.errors import Conflict
from buyerguard.services.context import OPERATOR
from buyerguard.services.records import (
    order_decisions,
    record_decision,
    record_repeated_decision,
)
from buyerguard.store.tables import decisions
from tests.test_api import row_counts


def refund(amount_fen: int, **change: Any) -> Decision:
    fields: dict[str, Any] = {
        "kind": "refund_due",
        "subject_id": "O1-1",
        "amount_fen": amount_fen,
        "payer": PLATFORM,
        "payee": party("buyer", "B1"),
        "rule_ids": ("lifecycle.refund_before_shipment",),
        "rulebook_id": "2024-10-15",
        "explanation": f"refund {amount_fen} fen",
        **change,
    }
    return Decision(**fields)


def test_a_reused_decision_id_with_other_content_is_refused_and_writes_nothing(
    rt: Runtime,
) -> None:
    with rt.writing(OPERATOR) as ctx:
        first = record_decision(ctx, refund(1000), ctx.now(), "O1")
    before = row_counts(rt)
    with pytest.raises(Conflict) as refused, rt.writing(OPERATOR) as ctx:
        record_decision(ctx, refund(2500, explanation="refund 1000 fen"), ctx.now(), "O1")
    assert refused.value.code == "decision_conflict"
    assert "amount_fen" in refused.value.message and first in refused.value.message
    assert row_counts(rt) == before
    with rt.writing(OPERATOR) as ctx:  # the same content replays: nothing new
        assert record_decision(ctx, refund(1000), ctx.now() + timedelta(hours=1), "O1") == first
    assert row_counts(rt) == before
    with rt.reading(OPERATOR) as ctx:
        amounts = [row["amount_fen"] for row in order_decisions(ctx.connection, "O1")]
    assert amounts == [1000]


@pytest.mark.parametrize(
    "change",
    [
        {"payer": "platform:other"},
        {"payee": "buyer:B2"},
        {"rule_ids": ("another.rule",)},
        {"rulebook_id": "2024-09-13"},
        {"details": {"reason": "x"}},
    ],
)
def test_any_other_field_is_a_conflict_too(rt: Runtime, change: dict[str, Any]) -> None:
    with rt.writing(OPERATOR) as ctx:
        record_decision(ctx, refund(1000), ctx.now(), "O1")
    with pytest.raises(Conflict), rt.writing(OPERATOR) as ctx:
        record_decision(ctx, refund(1000, **change), ctx.now(), "O1")


def test_a_decision_that_repeats_takes_the_next_sequence(rt: Runtime) -> None:
    with rt.writing(OPERATOR) as ctx:
        first = record_repeated_decision(ctx, refund(1000), ctx.now(), "O1")
        second = record_repeated_decision(
            ctx, refund(500, explanation="refund 500 fen"), ctx.now(), "O1"
        )
    assert (first, second) == ("refund_due:O1-1", "refund_due:O1-1:2")
    with rt.reading(OPERATOR) as ctx:
        rows = ctx.connection.execute(
            select(decisions.c.id, decisions.c.sequence, decisions.c.amount_fen).order_by(
                decisions.c.ordinal
            )
        ).all()
    assert [tuple(row) for row in rows] == [
        ("refund_due:O1-1", 1, 1000),
        ("refund_due:O1-1:2", 2, 500),
    ]


def test_two_writers_of_a_repeating_decision_on_one_subject_take_two_sequences(
    rt: Runtime,
) -> None:
    """The second computes the first's sequence too (it cannot see the uncommitted row),
    waits for it on the id, and then takes the next one instead of being refused."""
    if rt.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: the second cannot start before the first ends")
    taken: dict[str, Any] = {}

    def second() -> None:
        try:
            with rt.writing(OPERATOR) as ctx:
                later = refund(500, explanation="refund 500 fen")
                taken["id"] = record_repeated_decision(ctx, later, ctx.now(), "O1")
        except Exception as exc:  # reported below, not lost in the thread
            taken["error"] = exc

    writer = threading.Thread(target=second)
    with rt.writing(OPERATOR) as ctx:
        taken["first"] = record_repeated_decision(ctx, refund(1000), ctx.now(), "O1")
        writer.start()
        writer.join(timeout=1.0)
        assert writer.is_alive()  # waiting for this transaction's row
    writer.join(timeout=30)
    assert "error" not in taken, taken.get("error")
    assert (taken["first"], taken["id"]) == ("refund_due:O1-1", "refund_due:O1-1:2")
