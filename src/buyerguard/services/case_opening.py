"""Opening an after-sales case: who may open which type, whether the sub-order is
eligible (the window, the goods' terms, the claim), what it asks, and its first deadline.

The rest of a case's life — its actions and timeouts — is in services/cases.py; the
same lock order holds: the order is locked before anything is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
from buyerguard.domain.catalog import TierKind
from buyerguard.domain.decision import Decision
from buyerguard.domain.eligibility import no_reason_return, quality_claim
from buyerguard.domain.orders import Order, OrderState, SubOrder
from buyerguard.errors import Conflict, InvalidInput, require_text
from buyerguard.money import Fen, format_fen
from buyerguard.services import case_deadlines as deadlines
from buyerguard.services import case_money
from buyerguard.services.case_actions import CASE_RULE, finish, record
from buyerguard.services.context import Context, Role
from buyerguard.services.orders import load_visible_order, new_id
from buyerguard.services.records import audit, record_decision
from buyerguard.store import case_repository as repository
from buyerguard.store import repositories


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


def _eligibility(
    case_type: CaseType, order: Order, sub_id: str, when: datetime, ctx: Context
) -> Decision | None:
    rulebook = ctx.rulebook_at(when, field="occurred_at")
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
    require_text(command.reason, "reason", "a case states its reason")
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
    existing, id_taken = repository.cases_in_the_way(
        ctx.connection, sub.id, case_type, command.case_id
    )
    if existing is not None:
        raise Conflict(
            "case_already_open",
            f"sub-order {sub.id} already has an open {case_type.value} case ({existing})",
            "type",
        )
    case_id = new_id("case", command.case_id, "case_id")
    # A chosen id that names a case already is the caller's mistake, said before anything is
    # recorded under it (its eligibility decision would conflict, its insert fail).
    if id_taken:
        raise Conflict("case_exists", f"case {case_id} already exists", "id")
    eligibility = _eligibility(case_type, order, sub.id, when, ctx)
    amount_fen = _amount_asked(ctx, case_type, sub, command.amount_fen)
    case = Case(
        id=case_id,
        type=case_type,
        order_id=order.id,
        sub_order_id=sub.id,
        buyer_id=order.buyer_id,
        merchant_id=order.merchant_id,
        opened_by=ctx.actor.label,
        opened_at=when,
        requested_fen=amount_fen,
        reason=command.reason,
        rulebook_id=ctx.rulebook_at(when, field="occurred_at").id,
        trigger=command.trigger,
        goods=Goods.WITH_BUYER if case_type.is_return else Goods.NOT_RETURNED,
    )
    if case_type is CaseType.CUSTOM_DISPUTE:  # an unknown trigger is refused before anything
        check_trigger(ctx.rulebook_at(when, field="occurred_at"), command.trigger or "")
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
        deadlines.set_deadline(ctx, case, deadlines.RULING, when, opening=True)
    else:
        first = deadlines.MERCHANT_REVIEW if case_type.is_return else deadlines.MERCHANT_ANSWER
        deadlines.set_deadline(ctx, case, first, when, opening=True)
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
