"""Decisions (the event feed, services/feed.py) and audit records, written with each command."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Insert,
    String,
    bindparam,
    case,
    cast,
    func,
    insert,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert

from buyerguard.domain.decision import Decision
from buyerguard.errors import Conflict
from buyerguard.services.context import Context
from buyerguard.store.db import ignoring_insert, is_postgres, numbered_parameters
from buyerguard.store.deferred_writes import deferred_rows, take_deferred, write_deferred
from buyerguard.store.tables import audit_log, decision_ordinal, decisions

DECISIONS = "decisions"  # the kind of deferred rows (store/deferred_writes.py)
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
    Written with the transaction's other decisions, in one statement, before any
    read of decisions and at the latest before the commit (store/deferred_writes.py):
    a conflict then refuses the whole command as before.
    """
    identifier = decision_id(decision, sequence)
    content = _content(decision, order_id)
    pending = deferred_rows(ctx.connection, DECISIONS, _write_decisions)
    earlier = pending.get(identifier)
    if earlier is not None:  # recorded twice by this transaction: the first one stands
        _refuse_other_content(identifier, {name: earlier[name] for name in content}, content)
        return identifier
    pending[identifier] = {
        "id": identifier,
        "sequence": sequence,
        "occurred_at": occurred_at,
        "recorded_at": ctx.now(),
        **content,
    }
    return identifier


def _refuse_other_content(
    identifier: str, existing: Mapping[str, Any], content: dict[str, Any]
) -> None:
    if dict(existing) != content:
        differing = sorted(name for name in content if existing[name] != content[name])
        raise Conflict(
            "decision_conflict",
            f"decision {identifier} was already recorded with other "
            f"{', '.join(differing)}; nothing was written",
            "decision",
        )


_NOT_CONTENT = ("id", "sequence", "occurred_at", "recorded_at")


@functools.cache
def decisions_insert(count: int) -> Insert:
    """PostgreSQL: `count` decisions in one statement, each taking its ordinal in the order
    given; a row whose id is taken is skipped; answers the ids it inserted."""
    columns = [c for c in decisions.c if c.name not in ("ordinal", "position")]
    rows = union_all(
        *(
            select(
                *(bindparam(f"decision{index}_{c.name}", type_=c.type) for c in columns),
                decision_ordinal.next_value(),
            )
            for index in range(count)
        )
    )
    names = [c.name for c in columns] + ["ordinal"]
    return (
        postgresql_insert(decisions)
        .from_select(names, rows)
        .on_conflict_do_nothing()
        .returning(decisions.c.id)
    )


def _write_decisions(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Write a transaction's recorded decisions (`check_decisions_written` then checks the
    ones the insert skipped)."""
    if is_postgres(connection):
        numbered = numbered_parameters(rows, "decision")
        written = set(connection.execute(decisions_insert(len(rows)), numbered).scalars())
    else:  # one writer, no round trip to save; each takes the next position as it goes in
        statement = _decision_insert(connection.dialect.name)
        written = {row["id"] for row in rows if connection.execute(statement, row).first()}
    check_decisions_written(connection, rows, written)


def check_decisions_written(
    connection: Connection, rows: list[dict[str, Any]], written: set[str]
) -> None:
    """Of `rows`, those not in `written` were skipped: an id already taken with the same
    content is a replay, with other content a `decision_conflict`."""
    skipped = {row["id"]: row for row in rows if row["id"] not in written}
    if not skipped:
        return
    compared = [name for name in rows[0] if name not in _NOT_CONTENT]
    existing = {
        found["id"]: found
        for found in connection.execute(
            select(decisions.c.id, *(decisions.c[name] for name in compared)).where(
                decisions.c.id.in_(list(skipped))
            )
        ).mappings()
    }
    for identifier, row in skipped.items():
        found = existing.get(identifier)
        if found is None:  # skipped for its (kind, subject, sequence), taken under another id
            raise Conflict(
                "decision_conflict",
                f"decision {identifier}: its kind, subject and sequence are taken; "
                "nothing was written",
                "decision",
            )
        _refuse_other_content(
            identifier,
            {name: found[name] for name in compared},
            {name: row[name] for name in compared},
        )


def take_pending_decisions(connection: Connection) -> list[dict[str, Any]]:
    """The decisions this transaction recorded and has not written, for the caller to write
    in its own statement (`decisions_insert`, then `check_decisions_written`)."""
    return take_deferred(connection, DECISIONS)


def write_pending_decisions(connection: Connection) -> None:
    """Write the decisions this transaction recorded, before something reads decisions."""
    write_deferred(connection, DECISIONS)


def next_decision_sequence(connection: Connection, kind: str, subject_id: str) -> int:
    """The sequence the next decision of `kind` on `subject_id` takes (1 for the first)."""
    write_pending_decisions(connection)
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
    write_pending_decisions(ctx.connection)
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
    write_pending_decisions(connection)
    latest: datetime | None = connection.execute(
        select(func.max(decisions.c.occurred_at)).where(  # typed as the column: aware UTC
            decisions.c.order_id == order_id, decisions.c.kind == kind
        )
    ).scalar_one()
    return latest


def has_decision(connection: Connection, kind: str, subject_id: str) -> bool:
    write_pending_decisions(connection)
    found = connection.execute(
        select(decisions.c.id).where(decisions.c.kind == kind, decisions.c.subject_id == subject_id)
    ).first()
    return found is not None


def order_decisions(connection: Connection, order_id: str) -> list[dict[str, Any]]:
    """Every decision on one order, in the order they were written (positioned or not yet)."""
    write_pending_decisions(connection)
    query = select(decisions).where(decisions.c.order_id == order_id).order_by(decisions.c.ordinal)
    return [dict(row) for row in connection.execute(query).mappings()]


def case_decisions(connection: Connection, order_id: str, case_id: str) -> list[dict[str, Any]]:
    """Every decision about one case of an order (its transitions, deadlines, eligibility)."""
    write_pending_decisions(connection)
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
    write_pending_decisions(connection)
    total = connection.execute(
        select(func.coalesce(func.sum(decisions.c.amount_fen), 0)).where(
            decisions.c.kind == kind, decisions.c.subject_id == subject_id
        )
    ).scalar_one()
    return int(total)
