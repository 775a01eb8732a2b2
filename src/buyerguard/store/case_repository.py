"""Cases in the database: load (locked), add, save with their transitions, list."""

from __future__ import annotations

import functools
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Insert,
    ScalarSelect,
    Update,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)

from buyerguard.domain.cases import Case, CaseState, CaseType, Goods, Outcome
from buyerguard.domain.orders import Order
from buyerguard.errors import NotFound
from buyerguard.store.db import carrying_rows, is_postgres, numbered_parameters
from buyerguard.store.repositories import order_from_rows, order_with_subs_where
from buyerguard.store.tables import case_transitions, cases, orders, timers


def _latest_transition(column: Column[Any]) -> ScalarSelect[Any]:
    return (
        select(column)
        .where(case_transitions.c.case_id == cases.c.id)
        .order_by(case_transitions.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


# Built once: every case command runs these (parameters, not inlined values). A case with
# its latest transition (every case has its opening one), in one round trip; locked, the
# case never waits (its order's lock is taken first), so the transition is the latest.
_CASE_BY_ID = select(
    cases,
    _latest_transition(case_transitions.c.action).label("last_action"),
    _latest_transition(case_transitions.c.occurred_at).label("last_moved_at"),
).where(cases.c.id == bindparam("case_id"))
_CASE_FOR_UPDATE = _CASE_BY_ID.with_for_update()
# The order of a case and its sub-orders in one statement, locked on PostgreSQL (lock order
# 2): the case's row is only read here, to find its order, and is locked next
# (services/cases). SQLite, with one writer, reads the same without a lock.
_ORDER_OF_CASE = order_with_subs_where(
    orders.c.id
    == select(cases.c.order_id).where(cases.c.id == bindparam("case_id")).scalar_subquery()
)
_ORDER_OF_CASE_LOCKED = _ORDER_OF_CASE.with_for_update()
_CASE_UPDATE = (
    update(cases).where(cases.c.id == bindparam("case_id")).values(version=cases.c.version + 1)
)
_TRANSITION_INSERT = insert(case_transitions)
_CASE_INSERT = insert(cases).values(version=1)

_COLUMNS = (
    "type",
    "order_id",
    "sub_order_id",
    "buyer_id",
    "merchant_id",
    "opened_by",
    "opened_at",
    "requested_fen",
    "reason",
    "rulebook_id",
    "state",
    "goods",
    "offered_fen",
    "agreed_fen",
    "negotiated",
    "official_pickup",
    "quick_refunded_fen",
    "refunded_fen",
    "compensated_fen",
    "trigger",
    "complained",
    "outcome",
    "closed_at",
)


def _values(case: Case) -> dict[str, Any]:
    values = {name: getattr(case, name) for name in _COLUMNS}
    for name in ("type", "state", "goods", "outcome"):
        value = values[name]
        values[name] = None if value is None else str(value)
    return values


def case_not_found(case_id: str) -> NotFound:
    return NotFound("case_not_found", f"no case {case_id}", "case_id")


def _from_row(row: Any) -> Case:
    return Case(
        id=row.id,
        type=CaseType(row.type),
        order_id=row.order_id,
        sub_order_id=row.sub_order_id,
        buyer_id=row.buyer_id,
        merchant_id=row.merchant_id,
        opened_by=row.opened_by,
        opened_at=row.opened_at,
        requested_fen=row.requested_fen,
        reason=row.reason,
        rulebook_id=row.rulebook_id,
        state=CaseState(row.state),
        goods=Goods(row.goods),
        offered_fen=row.offered_fen,
        agreed_fen=row.agreed_fen,
        negotiated=row.negotiated,
        official_pickup=row.official_pickup,
        quick_refunded_fen=row.quick_refunded_fen,
        refunded_fen=row.refunded_fen,
        compensated_fen=row.compensated_fen,
        trigger=row.trigger,
        complained=row.complained,
        outcome=None if row.outcome is None else Outcome(row.outcome),
        closed_at=row.closed_at,
        last_action=getattr(row, "last_action", None),  # read by `get_case` only
        last_moved_at=getattr(row, "last_moved_at", None),
    )


def get_case(connection: Connection, case_id: str, *, for_update: bool = False) -> Case:
    """The case; `for_update` locks its row (PostgreSQL; the order is locked first)."""
    query = _CASE_FOR_UPDATE if for_update and is_postgres(connection) else _CASE_BY_ID
    row = connection.execute(query, {"case_id": case_id}).first()
    if row is None:
        raise case_not_found(case_id)
    return _from_row(row)


def lock_order_of_case(connection: Connection, case_id: str) -> Order:
    """The case's order with its sub-orders, locked (PostgreSQL) as `get_order` locks them;
    one round trip, the case's id being enough."""
    query = _ORDER_OF_CASE_LOCKED if is_postgres(connection) else _ORDER_OF_CASE
    rows = connection.execute(query, {"case_id": case_id}).all()
    if not rows:
        raise case_not_found(case_id)
    return order_from_rows(connection, rows)


def orders_of_cases(connection: Connection, case_ids: list[str]) -> dict[str, str]:
    """The order of each of these cases that exists, in one statement (a batch chains a
    case action's refusal to its case's order)."""
    if not case_ids:
        return {}
    query = select(cases.c.id, cases.c.order_id).where(cases.c.id.in_(sorted(set(case_ids))))
    return {row.id: row.order_id for row in connection.execute(query)}


def cases_in_the_way(
    connection: Connection, sub_order_id: str, case_type: CaseType, case_id: str | None
) -> tuple[str | None, bool]:
    """What stops opening a case, in one statement: the sub-order's open case of this type
    (its id, or None), and whether `case_id`, the caller's chosen id, names a case already."""
    wanted = and_(
        cases.c.sub_order_id == sub_order_id,
        cases.c.type == case_type.value,
        cases.c.closed_at.is_(None),
    )
    query = select(cases.c.id, wanted.label("open_of_type")).where(
        wanted if case_id is None else or_(wanted, cases.c.id == case_id)
    )
    rows = connection.execute(query).all()
    open_of_type = next((str(row.id) for row in rows if row.open_of_type), None)
    return open_of_type, any(row.id == case_id for row in rows)


def open_cases_of_order(connection: Connection, order_id: str) -> list[tuple[str, str]]:
    """(id, type) of every case of the order that is not closed."""
    rows = connection.execute(
        select(cases.c.id, cases.c.type)
        .where(cases.c.order_id == order_id, cases.c.closed_at.is_(None))
        .order_by(cases.c.id)
    )
    return [(row.id, row.type) for row in rows]


def compensated_cases(connection: Connection, sub_order_id: str, case_type: CaseType) -> int:
    """How many cases of this type on the sub-order paid a compensation (custom goods, §5)."""
    count = connection.execute(
        select(func.count()).where(
            cases.c.sub_order_id == sub_order_id,
            cases.c.type == case_type.value,
            cases.c.compensated_fen > 0,
        )
    ).scalar_one()
    return int(count)


def open_requests_fen(connection: Connection, sub_order_id: str) -> int:
    """What the open refund-asking cases of a sub-order ask, less what they refunded."""
    total = connection.execute(
        select(func.coalesce(func.sum(cases.c.requested_fen - cases.c.refunded_fen), 0)).where(
            cases.c.sub_order_id == sub_order_id,
            cases.c.closed_at.is_(None),
            cases.c.type != CaseType.TRANSIT_CLAIM.value,
        )
    ).scalar_one()
    return int(total)


@functools.lru_cache(maxsize=16)
def _case_write_with_transitions(new: bool, count: int) -> Insert | Update:
    """PostgreSQL: a case's INSERT (`new`) or UPDATE with its `count` new transitions, in
    one statement (their foreign key to a new case is checked at the statement's end)."""
    if new:
        return carrying_rows(_CASE_INSERT, case_transitions, count, "transition")
    return carrying_rows(_CASE_UPDATE, case_transitions, count, "transition")


def save_case(
    connection: Connection, case: Case, recorded_at: datetime, *, new: bool = False
) -> None:
    """Persist the case and the transitions made since it was loaded (one round trip on
    PostgreSQL). `new`: a case just opened, inserted at the end of its command; the
    caller refused a second open case of its type on the sub-order under the order's
    lock, and `uq_cases_open_per_type` keeps that true whatever happens."""
    transitions = [
        {
            "case_id": case.id,
            "action": transition.action,
            "actor": transition.actor,
            "from_state": transition.from_state.value,
            "to_state": transition.to_state.value,
            "goods_from": transition.goods_from.value,
            "goods_to": transition.goods_to.value,
            "occurred_at": transition.occurred_at,
            "recorded_at": recorded_at,
            "note": transition.note,
            "evidence": [asdict(item) for item in transition.evidence],
            "details": transition.details,
        }
        for transition in case.transitions
    ]
    values = {"id" if new else "case_id": case.id, **_values(case)}
    if transitions and is_postgres(connection):
        numbered = numbered_parameters(transitions, "transition")
        connection.execute(_case_write_with_transitions(new, len(transitions)), values | numbered)
    else:
        connection.execute(_CASE_INSERT if new else _CASE_UPDATE, values)
        if transitions:
            connection.execute(_TRANSITION_INSERT, transitions)
    case.transitions.clear()


def case_history(connection: Connection, case_id: str) -> list[dict[str, Any]]:
    query = (
        select(case_transitions)
        .where(case_transitions.c.case_id == case_id)
        .order_by(case_transitions.c.id)
    )
    return [dict(row) for row in connection.execute(query).mappings()]


def list_cases(
    connection: Connection,
    *,
    order_id: str | None = None,
    state: str | None = None,
    buyer_id: str | None = None,
    merchant_id: str | None = None,
    deadline_before: datetime | None = None,
    deadline_kinds: tuple[str, ...] = (),
    after: str | None = None,
    limit: int = 100,
) -> list[Case]:
    """Cases by id; `deadline_before`: those whose running deadline (a pending timer of
    one of `deadline_kinds`) falls before that instant."""
    query = select(cases).order_by(cases.c.id).limit(limit)
    if deadline_before is not None:
        due = select(timers.c.subject_id).where(
            timers.c.status == "pending",
            timers.c.kind.in_(deadline_kinds),
            timers.c.due_at < deadline_before,
        )
        query = query.where(cases.c.id.in_(due))
    for column, value in (
        (cases.c.order_id, order_id),
        (cases.c.state, state),
        (cases.c.buyer_id, buyer_id),
        (cases.c.merchant_id, merchant_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if after:
        query = query.where(cases.c.id > after)
    return [_from_row(row) for row in connection.execute(query)]
