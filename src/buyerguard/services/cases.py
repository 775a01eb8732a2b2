"""After-sales case commands once a case is open: its actions and its deadlines'
timeouts (opening one: services/case_opening.py).

Each command locks the order, then the case (the order's lock order), checks
who may act and what the state allows (domain/cases.py), moves the case,
settles the money (services/case_money.py), sets the next deadline
(services/case_deadlines.py) and records every transition as a decision on
the feed (`case_opened`, `case_offered`, … with the case's state and goods).
An open case holds the order's auto-confirmation and completion; closing it
arms them again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection

from buyerguard.clock import format_instant
from buyerguard.domain.cases import (
    Case,
    CaseState,
    Outcome,
)
from buyerguard.domain.cases import Role as CaseRole
from buyerguard.domain.orders import Order
from buyerguard.errors import Conflict, InvalidInput
from buyerguard.services import case_actions, case_returns
from buyerguard.services import case_deadlines as deadlines
from buyerguard.services.case_actions import CaseAction, finish, record
from buyerguard.services.context import Context, Role
from buyerguard.services.instructions import instructions_about
from buyerguard.services.open_matters import OPEN_MATTER_CHECKS
from buyerguard.services.orders import resume_after_matters
from buyerguard.services.records import audit, case_decisions
from buyerguard.services.timers import DueTimer, lock_timers_of, settle_and_read
from buyerguard.store import case_repository as repository
from buyerguard.store import repositories

_ROLES = {
    Role.BUYER: CaseRole.BUYER,
    Role.MERCHANT: CaseRole.MERCHANT,
    Role.MARKETPLACE: CaseRole.MARKETPLACE,
    Role.OPERATOR: CaseRole.OPERATOR,
    Role.SYSTEM: CaseRole.SYSTEM,
}


def _open_matters(ctx: Context, order: Order) -> list[str]:
    return [
        f"case {case_id} ({case_type}) is open"
        for case_id, case_type in repository.open_cases_of_order(ctx.connection, order.id)
    ]


OPEN_MATTER_CHECKS.append(_open_matters)


# ------------------------------------------------------------------------- act
HANDLERS = {
    "accept": case_actions.accept,
    "offer": case_actions.offer,
    "decline": case_actions.decline,
    "handover": case_returns.handover,
    "pickup": case_returns.pickup,
    "arrival": case_returns.arrival,
    "inspection": case_returns.inspection,
    "escalate": case_actions.escalate,
    "ruling": case_actions.ruling,
    "withdraw": case_actions.withdraw,
    "complain": case_actions.complain,
    "expedite": case_actions.expedite,
}


def lock_case(connection: Connection, case_id: str) -> tuple[Case, Order]:
    """Take a case's row locks in the documented order: its order, the case, then the
    timers of both (a case command cancels and arms them after it has moved money, so it
    holds them from the start). Returns the case and its order, as locked."""
    order = repository.lock_order_of_case(connection, case_id)
    case = repository.get_case(connection, case_id, for_update=True)
    lock_timers_of(connection, (order.id, case_id))
    return case, order


@dataclass(frozen=True)
class CaseRecord:
    """Everything a case shows: itself, its transitions, its decisions, its running
    deadline, and the instructions that pay what it owes (the API and the CLI alike)."""

    case: Case
    history: list[dict[str, Any]]
    decisions: list[dict[str, Any]]
    deadline: dict[str, Any] | None
    payments: list[dict[str, Any]]


def case_record(ctx: Context, case_id: str) -> CaseRecord:
    """A case as the caller may see it (a party: its own; another's does not exist)."""
    case = repository.get_case(ctx.connection, case_id)
    not_found = repository.case_not_found(case_id)
    ctx.require_party(Role.BUYER, case.buyer_id, not_found)
    ctx.require_party(Role.MERCHANT, case.merchant_id, not_found)
    running = deadlines.running_deadline(ctx, case)
    return CaseRecord(
        case,
        repository.case_history(ctx.connection, case.id),
        case_decisions(ctx.connection, case.order_id, case.id),
        None if running is None else {"kind": running[0], "due_at": running[1]},
        instructions_about(ctx.connection, case.order_id, "case_id", case.id),
    )


def load_case(ctx: Context, case_id: str) -> tuple[Case, Order]:
    """Lock the case (`lock_case`) and load it; a party sees only its own cases."""
    case, order = lock_case(ctx.connection, case_id)
    ctx.require_party(Role.BUYER, case.buyer_id, repository.case_not_found(case_id))
    ctx.require_party(Role.MERCHANT, case.merchant_id, repository.case_not_found(case_id))
    return case, order


def act(ctx: Context, case_id: str, action: str, body: CaseAction) -> Case:
    """One party's action on a case (policies.md §2–§8), as domain/cases.ACTIONS allows."""
    case, order = load_case(ctx, case_id)
    role = _ROLES[ctx.actor.role]
    when = ctx.occurred_at(body.occurred_at)
    settling = timedelta(
        seconds=ctx.rulebook_at(ctx.now(), field=None).orders.fact_settling_seconds
    )
    # Its deadline waits for facts still arriving.
    timers = settle_and_read(ctx, case.id, settling)
    last_action, last_step_at = case.last_action, case.last_moved_at
    assert last_step_at is not None  # a stored case has moved at least once: its opening
    # Deadlines are strict: an action dated at or after the running deadline is late, and
    # so is one after a timeout closed the case — whichever of the two ran first, and
    # however the action is dated (it lost the race; it is not out of order).
    running = deadlines.running_deadline(ctx, case, timers)
    late = running is not None and when >= running[1]
    closed_by_timeout = last_action == "timeout" and not case.state.is_open
    if (late or closed_by_timeout) and role is not CaseRole.OPERATOR:
        passed = format_instant(running[1] if running else last_step_at)
        raise Conflict(
            "deadline_passed",
            f"case {case.id}: its deadline passed at {passed}; the timeout decides",
            "occurred_at",
        )
    if when < last_step_at:
        raise InvalidInput(
            "occurred_before_previous_step",
            f"case {case.id} last moved at {format_instant(last_step_at)}; an action dated "
            "before it is out of order",
            "occurred_at",
        )
    if action in case_returns.RETURN_ACTIONS:
        case_returns.require_return(case)
    case.require(action, role)
    handler = HANDLERS[action]
    handler(ctx, case, order, role, body, when)
    if not case.state.is_open:
        deadlines.clear_deadlines(ctx, case, f"case {case.state.value}")
        case.closed_at = case.closed_at or when
    repository.save_case(ctx.connection, case, ctx.now())
    repositories.save_order(ctx.connection, order, ctx.actor.label, ctx.now())
    if not case.state.is_open:
        resume_after_matters(ctx, order)
    audit(ctx, f"case_{action}", order.id, when, case_id=case.id, state=case.state.value)
    return case


# ------------------------------------------------------------------- timeouts
def on_deadline(ctx: Context, timer: DueTimer) -> str:
    """A case's deadline passed (its order is locked): act as of the due instant, if the
    case still waits where the deadline found it."""
    case = repository.get_case(ctx.connection, timer.subject_id, for_update=True)
    if not deadlines.deadline_applies(timer.kind, case):
        return f"skipped: case is {case.state.value}, goods {case.goods.value}"
    order = repositories.get_order(ctx.connection, case.order_id, for_update=True)
    when, kind = timer.due_at, timer.kind
    rule_id = str(timer.payload.get("rule_id") or deadlines.rule_id_of(kind, case))
    actor = ctx.actor.label
    if kind == deadlines.MERCHANT_REVIEW:
        case.agreed_fen = case.requested_fen
        case.move("timeout", actor, when, state=CaseState.ACCEPTED, deadline=kind)
        record(
            ctx,
            case,
            "case_accepted",
            case.requested_fen,
            when,
            "not reviewed in time: the return is approved",
            (rule_id,),
        )
        deadlines.set_deadline(ctx, case, deadlines.HANDOVER, when)
    elif kind in (deadlines.MERCHANT_ANSWER, deadlines.RULING, deadlines.INSPECTION):
        case.move("timeout", actor, when, state=CaseState.CLOSED, deadline=kind)
        finish(ctx, case, order, Outcome.GRANTED_ON_TIMEOUT, when, case.requested_fen, rule_id)
    else:  # the buyer let its deadline pass, or did not escalate a refusal
        case.move("timeout", actor, when, state=CaseState.CLOSED, deadline=kind)
        case.close(Outcome.CLOSED_ON_TIMEOUT, when)
        record(
            ctx,
            case,
            "case_closed",
            0,
            when,
            f"closed: {deadlines.DEADLINES[kind].at_timeout}",
            (rule_id,),
            outcome=Outcome.CLOSED_ON_TIMEOUT.value,
        )
    if not case.state.is_open:
        deadlines.clear_deadlines(ctx, case, f"case {case.state.value}")
    repository.save_case(ctx.connection, case, ctx.now())
    repositories.save_order(ctx.connection, order, actor, ctx.now())
    if not case.state.is_open:
        resume_after_matters(ctx, order)
    return f"{kind}: case {case.state.value}"
