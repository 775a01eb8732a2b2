"""Decisions (the event feed, services/feed.py) and audit records, written with each command."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Insert, String, bindparam, case, cast, func, insert, select

from buyerguard.domain.decision import Decision
from buyerguard.errors import Conflict
from buyerguard.services.context import Context
from buyerguard.store.db import ignoring_insert
from buyerguard.store.tables import audit_log, decision_ordinal, decisions

_AUDIT_INSERT = insert(audit_log)
_LATEST_SEQUENCE = select(func.max(decisions.c.sequence)).where(
    decisions.c.kind == bindparam("decision_kind"),
    decisions.c.subject_id == bindparam("decision_subject"),
)


@functools.cache
def _decision_insert(dialect_name: str, repeated: bool = False) -> Insert:
    """Where a new decision goes, built into its (cached) insert: PostgreSQL takes an
    ordinal and leaves the position to the sequencer; SQLite (one writer, so write order
    is commit order) takes the next position at once, computed in the insert so that a
    skipped insert takes none. `repeated`: the insert also takes the next sequence of its
    kind on its subject, and the id that goes with it, in the same statement (no look
    first); the id's base comes as `decision_base`."""
    statement = ignoring_insert(dialect_name, decisions, decisions.c.id)
    if repeated:
        sequence = _LATEST_SEQUENCE.scalar_subquery()
        following_sequence = func.coalesce(sequence, 0) + 1
        statement = statement.values(
            sequence=following_sequence,
            id=case(
                (sequence.is_(None), bindparam("decision_base")),
                else_=bindparam("decision_base") + ":" + cast(following_sequence, String),
            ),
        )
    if dialect_name == "postgresql":
        return statement.values(ordinal=decision_ordinal.next_value(), position=None)
    following = select(func.coalesce(func.max(decisions.c.position), 0) + 1).scalar_subquery()
    return statement.values(ordinal=following, position=following)


def decision_id(decision: Decision, sequence: int = 1) -> str:
    """`kind:subject` for the first decision of its kind on a subject, then `kind:subject:n`."""
    base = f"{decision.kind}:{decision.subject_id}"
    return base if sequence == 1 else f"{base}:{sequence}"


def _content(decision: Decision, order_id: str | None) -> dict[str, Any]:
    """What a decision says: two records with one id must say the same."""
    return {
        "kind": decision.kind,
        "subject_id": decision.subject_id,
        "order_id": order_id,
        "amount_fen": decision.amount_fen,
        "payer": decision.payer,
        "payee": decision.payee,
        "rule_ids": list(decision.rule_ids),
        "rulebook_id": decision.rulebook_id,
        "explanation": decision.explanation,
        "details": dict(decision.details),
    }


def record_decision(
    ctx: Context,
    decision: Decision,
    occurred_at: datetime,
    order_id: str | None = None,
    sequence: int = 1,
) -> str:
    """Store the `sequence`-th decision of its kind on its subject; returns its id.

    The same decision again is a replay (nothing written); another decision
    under an id already taken is refused with `decision_conflict` — never
    silently dropped, so no transfer can post under a decision that was lost.
    """
    identifier = decision_id(decision, sequence)
    content = _content(decision, order_id)
    written = ctx.connection.execute(
        _decision_insert(ctx.connection.dialect.name),
        {
            "id": identifier,
            "sequence": sequence,
            "occurred_at": occurred_at,
            "recorded_at": ctx.now(),
            **content,
        },
    ).first()
    if written is not None:
        return identifier
    existing = (
        ctx.connection.execute(
            select(*(decisions.c[name] for name in content)).where(decisions.c.id == identifier)
        )
        .mappings()
        .one()
    )
    if dict(existing) != content:
        differing = sorted(name for name in content if existing[name] != content[name])
        raise Conflict(
            "decision_conflict",
            f"decision {identifier} was already recorded with other "
            f"{', '.join(differing)}; nothing was written",
            "decision",
        )
    return identifier


def next_decision_sequence(connection: Connection, kind: str, subject_id: str) -> int:
    """The sequence the next decision of `kind` on `subject_id` takes (1 for the first)."""
    latest = connection.execute(
        _LATEST_SEQUENCE, {"decision_kind": kind, "decision_subject": subject_id}
    ).scalar_one()
    return int(latest or 0) + 1


def record_repeated_decision(
    ctx: Context, decision: Decision, occurred_at: datetime, order_id: str | None = None
) -> str:
    """Record a decision that may repeat on its subject (a badge awarded again): the next one.

    One statement takes the next sequence and writes; only if a concurrent writer took
    that sequence first (its insert then skipped) is the sequence read and written again.
    """
    written = ctx.connection.execute(
        _decision_insert(ctx.connection.dialect.name, repeated=True),
        {
            "decision_base": decision_id(decision),
            "decision_kind": decision.kind,
            "decision_subject": decision.subject_id,
            "occurred_at": occurred_at,
            "recorded_at": ctx.now(),
            **_content(decision, order_id),
        },
    ).scalar()
    if written is not None:
        return str(written)
    sequence = next_decision_sequence(ctx.connection, decision.kind, decision.subject_id)
    return record_decision(ctx, decision, occurred_at, order_id, sequence)


def latest_decision_at(connection: Connection, order_id: str, kind: str) -> datetime | None:
    """When the latest decision of `kind` on the order happened (None: there is none)."""
    latest: datetime | None = connection.execute(
        select(func.max(decisions.c.occurred_at)).where(  # typed as the column: aware UTC
            decisions.c.order_id == order_id, decisions.c.kind == kind
        )
    ).scalar_one()
    return latest


def has_decision(connection: Connection, kind: str, subject_id: str) -> bool:
    found = connection.execute(
        select(decisions.c.id).where(decisions.c.kind == kind, decisions.c.subject_id == subject_id)
    ).first()
    return found is not None


def order_decisions(connection: Connection, order_id: str) -> list[dict[str, Any]]:
    """Every decision on one order, in the order they were written (positioned or not yet)."""
    query = select(decisions).where(decisions.c.order_id == order_id).order_by(decisions.c.ordinal)
    return [dict(row) for row in connection.execute(query).mappings()]


def case_decisions(connection: Connection, order_id: str, case_id: str) -> list[dict[str, Any]]:
    """Every decision about one case of an order (its transitions, deadlines, eligibility)."""
    query = (
        select(decisions)
        .where(decisions.c.order_id == order_id, decisions.c.subject_id == case_id)
        .order_by(decisions.c.ordinal)
    )
    return [dict(row) for row in connection.execute(query).mappings()]


def audit(
    ctx: Context, command: str, subject_id: str, occurred_at: datetime, **details: Any
) -> None:
    """Record who did what to which subject: at once, or with the command's answer when the
    command collects its audit rows (`Context.audit_rows`)."""
    row = {
        "actor": ctx.actor.label,
        "token_id": ctx.actor.token_id,
        "command": command,
        "subject_id": subject_id,
        "occurred_at": occurred_at,
        "recorded_at": ctx.now(),
        "details": details,
    }
    if ctx.audit_rows is not None:
        ctx.audit_rows.append(row)
    else:
        ctx.connection.execute(_AUDIT_INSERT, row)


def write_audit_rows(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Write audit rows a command collected (`Context.audit_rows`)."""
    if rows:
        connection.execute(_AUDIT_INSERT, rows)


@dataclass(frozen=True)
class AuditQuery:
    """Which audit records to read: about a subject, by an actor, recorded in [since, until)."""

    subject_id: str | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def audit_entries(
    connection: Connection, query: AuditQuery, *, after_id: int | None, limit: int
) -> list[dict[str, Any]]:
    """Audit records in the order they were written, filtered by `query`."""
    table = audit_log.c
    statement = select(audit_log).order_by(table.id).limit(limit)
    if query.subject_id is not None:
        statement = statement.where(table.subject_id == query.subject_id)
    if query.actor is not None:
        statement = statement.where(table.actor == query.actor)
    if query.since is not None:
        statement = statement.where(table.recorded_at >= query.since)
    if query.until is not None:
        statement = statement.where(table.recorded_at < query.until)
    if after_id is not None:
        statement = statement.where(table.id > after_id)
    return [dict(row) for row in connection.execute(statement).mappings()]


def decided_total_fen(connection: Connection, kind: str, subject_id: str) -> int:
    """The sum of every decision of `kind` on `subject_id` so far (0: none)."""
    total = connection.execute(
        select(func.coalesce(func.sum(decisions.c.amount_fen), 0)).where(
            decisions.c.kind == kind, decisions.c.subject_id == subject_id
        )
    ).scalar_one()
    return int(total)
