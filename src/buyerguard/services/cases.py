"""After-sales case commands: open, act, and the deadlines' timeouts.

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
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from buyerguard.clock import format_instant
from buyerguard.domain.aftersales_rules import check_trigger
from buyerguard.domain.cases import (
    Case,
    CaseState,
    CaseType,
    Evidence,
    Goods,
    Outcome,
)
from buyerguard.domain.cases import Role as CaseRole
from buyerguard.domain.catalog import TierKind
from buyerguard.domain.decision import Decision
from buyerguard.domain.eligibility import no_reason_return, quality_claim
from buyerguard.domain.orders import Order, OrderState, SubOrder
from buyerguard.errors import Conflict, InvalidInput
from buyerguard.money import Fen, format_fen
from buyerguard.services import case_actions, case_money, case_returns
from buyerguard.services import case_deadlines as deadlines
from buyerguard.services.case_actions import CASE_RULE, CaseAction, finish, record
from buyerguard.services.context import Context, Role
from buyerguard.services.instructions import instructions_about
from buyerguard.services.open_matters import OPEN_MATTER_CHECKS
from buyerguard.services.orders import load_visible_order, new_id, resume_after_matters
from buyerguard.services.records import audit, case_decisions, record_decision
from buyerguard.services.timers import DueTimer, lock_timers_of, settle_subject
from buyerguard.store import case_repository as repository
from buyerguard.store import repositories

_ROLES = {
    Role.BUYER: CaseRole.BUYER,
    Role.MERCHANT: CaseRole.MERCHANT,
    Role.MARKETPLACE: CaseRole.MARKETPLACE,
    Role.OPERATOR: CaseRole.OPERATOR,
    Role.SYSTEM: CaseRole.SYSTEM,
}


@dataclass(frozen=True)
class OpenCase:
    type: str
    sub_order_id: str
    reason: str
    amount_fen: Fen | None = None  # None: all that is left of the sub-order
    trigger: str | None = None  # a custom dispute's failure (custom_compensation.triggers)
    evidence: tuple[Evidence, ...] = ()
    occurred_at: datetime | None = None
    case_id: str | None = None


def _open_matters(ctx: Context, order: Order) -> list[str]:
    return [
        f"case {case_id} ({case_type}) is open"
        for case_id, case_type in repository.open_cases_of_order(ctx.connection, order.id)
    ]


OPEN_MATTER_CHECKS.append(_open_matters)


# ------------------------------------------------------------------------ open
def _eligibility(
    case_type: CaseType, order: Order, sub_id: str, when: datetime, ctx: Context
) -> Decision | None:
    rulebook = ctx.rulebook_at(when)
    sub = order.sub_order(sub_id, field="sub_order_id")
    if case_type is CaseType.REFUND_ONLY_NOT_RECEIVED:
        if order.state in (OrderState.CONFIRMED, OrderState.COMPLETED):
            raise Conflict(
                "receipt_confirmed",
                f"receipt of order {order.id} was confirmed: ask for a quality refund instead",
                "type",
            )
        return None
    if case_type in (CaseType.TRANSIT_CLAIM, CaseType.FALSE_SHIPMENT):
        return None  # judged by the platform, not by a window
    if case_type is CaseType.CUSTOM_DISPUTE:
        tier = (sub.terms_at_payment or {}).get("tier")
        kind = tier.get("kind") if isinstance(tier, dict) else None
        if kind not in (TierKind.CUSTOM.value, TierKind.MADE_TO_ORDER.value):
            raise Conflict(
                "not_custom_goods",
                f"sub-order {sub.id} was sold on its {kind} tier: a custom dispute is for "
                "custom or made-to-order goods (§5)",
                "type",
            )
        return None
    if case_type is CaseType.RETURN_NO_REASON:
        decision = no_reason_return(
            sub_order_id=sub.id,
            terms=sub.terms_at_payment,
            signed_at=order.signed_at,
            requested_at=when,
            rulebook=rulebook,
        )
    else:
        decision = quality_claim(
            sub_order_id=sub.id, signed_at=order.signed_at, requested_at=when, rulebook=rulebook
        )
    if not decision.details.get("eligible"):
        raise Conflict(
            str(decision.details.get("code", "not_eligible")), decision.explanation, "type"
        )
    return decision


# Who opens each type: its claimant (the marketplace may act for anyone, the operator always).
_OPENERS = {
    "buyer": (Role.BUYER, Role.MARKETPLACE),
    "merchant": (Role.MERCHANT, Role.MARKETPLACE),
    "platform": (Role.MARKETPLACE,),
}


def open_case(ctx: Context, order_id: str, command: OpenCase) -> Case:
    """The claimant opens a case on a shipped sub-order: the buyer (or the marketplace for
    it); the merchant a transit claim; the operator or the marketplace a false shipment."""
    try:
        case_type = CaseType(command.type)
    except ValueError:
        choices = ", ".join(CaseType)
        raise InvalidInput(
            "invalid_choice", f"type must be one of {choices}: {command.type!r}", "type"
        ) from None
    ctx.require_role(f"open {case_type.value} cases", *_OPENERS[case_type.claimant])
    if case_type is CaseType.CUSTOM_DISPUTE and not command.trigger:
        raise InvalidInput(
            "trigger_missing",
            "a custom dispute names its trigger (custom_compensation.triggers)",
            "trigger",
        )
    if command.trigger is not None and case_type is not CaseType.CUSTOM_DISPUTE:
        raise InvalidInput(
            "trigger_not_applicable", "only a custom dispute names a trigger", "trigger"
        )
    if not command.reason.strip():
        raise InvalidInput("reason_missing", "a case states its reason", "reason")
    order = load_visible_order(ctx, order_id, for_update=True)
    when = ctx.occurred_at(command.occurred_at)
    if order.state not in case_money.refundable_states():
        raise Conflict(
            "case_before_shipment",
            f"order {order.id} is {order.state.value}: before shipment, refund it "
            "(refund-before-shipment)",
            "order_id",
        )
    if order.shipped_at is None or when < order.shipped_at:
        shipped = format_instant(order.shipped_at) if order.shipped_at else "not yet"
        raise Conflict(
            "case_before_shipment",
            f"order {order.id} shipped {shipped}: a case is about goods already shipped",
            "occurred_at",
        )
    sub = order.sub_order(command.sub_order_id, field="sub_order_id")
    existing = repository.open_case_of_type(ctx.connection, sub.id, case_type)
    if existing is not None:
        raise Conflict(
            "case_already_open",
            f"sub-order {sub.id} already has an open {case_type.value} case ({existing})",
            "type",
        )
    eligibility = _eligibility(case_type, order, sub.id, when, ctx)
    amount_fen = _amount_asked(ctx, case_type, sub, command.amount_fen)
    case = Case(
        id=new_id("case", command.case_id, "case_id"),
        type=case_type,
        order_id=order.id,
        sub_order_id=sub.id,
        buyer_id=order.buyer_id,
        merchant_id=order.merchant_id,
        opened_by=ctx.actor.label,
        opened_at=when,
        requested_fen=amount_fen,
        reason=command.reason,
        rulebook_id=ctx.rulebook_at(when).id,
        trigger=command.trigger,
        goods=Goods.WITH_BUYER if case_type.is_return else Goods.NOT_RETURNED,
    )
    if case_type is CaseType.CUSTOM_DISPUTE:  # an unknown trigger is refused before anything
        check_trigger(ctx.rulebook_at(when), command.trigger or "")
    case.move("open", ctx.actor.label, when, note=command.reason, evidence=command.evidence)
    rule_ids = (CASE_RULE, *(eligibility.rule_ids if eligibility else ()))
    if eligibility is not None:
        record_decision(ctx, _subject(eligibility, case), when, order.id)
    record(
        ctx,
        case,
        "case_opened",
        amount_fen,
        when,
        f"{case_type.value} on {sub.id}: {format_fen(amount_fen)} asked ({command.reason})",
        rule_ids,
        type=case_type.value,
        sub_order_id=sub.id,
    )
    if case_type is CaseType.FALSE_SHIPMENT:  # a finding: settled at once (§6)
        case.move("ruling", ctx.actor.label, when, state=CaseState.CLOSED, result="buyer")
        case_money.charge_false_shipment(ctx, case, order, when)
        finish(
            ctx, case, order, Outcome.RULED_FOR_BUYER, when, amount_fen, "liability.merchant_bears"
        )
        repositories.save_order(ctx.connection, order, ctx.actor.label, ctx.now())
    elif case_type is CaseType.TRANSIT_CLAIM:  # the platform decides a transit claim
        case.move("escalate", ctx.actor.label, when, state=CaseState.ESCALATED)
        deadlines.set_deadline(ctx, case, deadlines.RULING, when)
    else:
        first = deadlines.MERCHANT_REVIEW if case_type.is_return else deadlines.MERCHANT_ANSWER
        deadlines.set_deadline(ctx, case, first, when)
    repository.save_case(ctx.connection, case, ctx.now(), new=True)  # inserted at the end
    audit(ctx, "open_case", order.id, when, case_id=case.id, type=case_type.value)
    return case


def _amount_asked(ctx: Context, case_type: CaseType, sub: SubOrder, asked_fen: Fen | None) -> Fen:
    """What the case asks: by default all that may be asked — what is left of the
    sub-order less what its other open cases ask (a transit claim: the goods' value)."""
    if case_type is CaseType.TRANSIT_CLAIM:
        left_fen = sub.goods_fen
    else:
        asked_elsewhere_fen = repository.open_requests_fen(ctx.connection, sub.id)
        left_fen = sub.settled_goods_fen - asked_elsewhere_fen
        compensation_only = case_type is CaseType.CUSTOM_DISPUTE and not asked_fen
        if left_fen <= 0 and not compensation_only:
            # Nothing left to ask: refunded already, or asked by the sub-order's open cases.
            raise Conflict(
                "refund_already_asked",
                f"nothing is left of sub-order {sub.id} to ask: "
                f"{format_fen(sub.settled_goods_fen)} not yet refunded, "
                f"{format_fen(asked_elsewhere_fen)} asked by its open cases",
                "amount",
            )
    amount_fen = left_fen if asked_fen is None else asked_fen
    if amount_fen < 0 or (amount_fen == 0 and case_type is not CaseType.CUSTOM_DISPUTE):
        raise InvalidInput("amount_not_positive", "a case asks for more than 0", "amount")
    if amount_fen > max(left_fen, 0):
        raise InvalidInput(
            "refund_exceeds_remaining",
            f"sub-order {sub.id} may still be asked {format_fen(max(left_fen, 0))}, less than "
            f"{format_fen(amount_fen)}",
            "amount",
        )
    return amount_fen


def _subject(decision: Decision, case: Case) -> Decision:
    """An eligibility decision is about the case it let open."""
    return Decision(
        decision.kind,
        case.id,
        decision.amount_fen,
        decision.payer,
        decision.payee,
        decision.rule_ids,
        decision.rulebook_id,
        decision.explanation,
        decision.details,
    )


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
    settling = timedelta(seconds=ctx.rulebook_at(ctx.now()).orders.fact_settling_seconds)
    settle_subject(ctx, case.id, settling)  # its deadline waits for facts still arriving
    last_action, last_step_at = case.last_action, case.last_moved_at
    assert last_step_at is not None  # a stored case has moved at least once: its opening
    if when < last_step_at:
        raise InvalidInput(
            "occurred_before_previous_step",
            f"case {case.id} last moved at {format_instant(last_step_at)}; an action dated "
            "before it is out of order",
            "occurred_at",
        )
    # Deadlines are strict: an action dated at or after the running deadline is late, and
    # so is one after a timeout closed the case — whichever of the two ran first.
    running = deadlines.running_deadline(ctx, case)
    late = running is not None and when >= running[1]
    closed_by_timeout = last_action == "timeout" and not case.state.is_open
    if (late or closed_by_timeout) and role is not CaseRole.OPERATOR:
        passed = format_instant(running[1] if running else last_step_at)
        raise Conflict(
            "deadline_passed",
            f"case {case.id}: its deadline passed at {passed}; the timeout decides",
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
