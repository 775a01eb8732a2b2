"""Decisions (the event feed), audit records and timers, written with each command."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from buyerguard.domain.decision import Decision
from buyerguard.services.context import Context
from buyerguard.store.tables import audit_log, decisions, event_sequence


def _next_sequence(connection: Connection) -> int:
    """Take the next event number. The row lock it takes (PostgreSQL) or the
    database write lock (SQLite) is held to commit, so numbers follow commit order."""
    connection.execute(
        update(event_sequence)
        .where(event_sequence.c.name == "events")
        .values(last_seq=event_sequence.c.last_seq + 1)
    )
    value = connection.execute(
        select(event_sequence.c.last_seq).where(event_sequence.c.name == "events")
    ).scalar_one()
    return int(value)


def lock_event_feed(connection: Connection) -> None:
    """Take the event feed's lock before any ledger account: the one lock order.

    Every money-moving command locks, in this order, its order row, the event
    feed (`event_sequence`), then ledger accounts. A payment used to post to
    escrow before taking the feed while a confirmation took the feed before
    escrow: two such commands on PostgreSQL deadlocked.
    """
    connection.execute(
        select(event_sequence.c.last_seq).where(event_sequence.c.name == "events").with_for_update()
    )


def decision_id(decision: Decision) -> str:
    return f"{decision.kind}:{decision.subject_id}"


def record_decision(
    ctx: Context, decision: Decision, occurred_at: datetime, order_id: str | None = None
) -> str:
    """Store a decision once per (kind, subject); returns its id."""
    identifier = decision_id(decision)
    existing = ctx.connection.execute(
        select(decisions.c.id).where(decisions.c.id == identifier)
    ).first()
    if existing:
        return identifier
    ctx.connection.execute(
        insert(decisions).values(
            id=identifier,
            seq=_next_sequence(ctx.connection),
            kind=decision.kind,
            subject_id=decision.subject_id,
            order_id=order_id,
            amount_fen=decision.amount_fen,
            payer=decision.payer,
            payee=decision.payee,
            rule_ids=list(decision.rule_ids),
            rulebook_id=decision.rulebook_id,
            explanation=decision.explanation,
            details=dict(decision.details),
            occurred_at=occurred_at,
            recorded_at=ctx.now(),
        )
    )
    return identifier


def list_decisions(
    connection: Connection, *, after_seq: int, limit: int, order_id: str | None = None
) -> list[dict[str, Any]]:
    query = select(decisions).where(decisions.c.seq > after_seq).order_by(decisions.c.seq)
    if order_id is not None:
        query = query.where(decisions.c.order_id == order_id)
    return [dict(row) for row in connection.execute(query.limit(limit)).mappings()]


def audit(
    ctx: Context, command: str, subject_id: str, occurred_at: datetime, **details: Any
) -> None:
    ctx.connection.execute(
        insert(audit_log).values(
            actor=ctx.actor.label,
            token_id=ctx.actor.token_id,
            command=command,
            subject_id=subject_id,
            occurred_at=occurred_at,
            recorded_at=ctx.now(),
            details=details,
        )
    )
