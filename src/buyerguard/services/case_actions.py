"""What each action on a case does: the domain move, the money, the next deadline, the feed.

`services/cases.py` loads and locks the case and calls the handler its action
names (`HANDLERS`); a handler may raise, and then nothing of the command is
written. Each transition is recorded as a decision (`case_<what>`) carrying
the case's state and goods after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from buyerguard.domain.cases import Case, CaseState, CaseType, Evidence, Goods, Outcome
from buyerguard.domain.cases import Role as CaseRole
from buyerguard.domain.decision import PLATFORM, Decision, party
from buyerguard.domain.orders import Order
from buyerguard.errors import Conflict, Forbidden, InvalidInput
from buyerguard.ledger.book import lock_accounts
from buyerguard.money import Fen, format_fen
from buyerguard.services import case_deadlines as deadlines
from buyerguard.services import case_money
from buyerguard.services.context import Context
from buyerguard.services.records import record_repeated_decision

CASE_RULE = "cases.after_shipment"  # a case may be opened once a sub-order has shipped
RULING_RULE = "operator.ruling"  # an operator's ruling on an escalated case
_BUYER_SIDE = (CaseRole.BUYER, CaseRole.MARKETPLACE, CaseRole.OPERATOR)
_MERCHANT_SIDE = (CaseRole.MERCHANT, CaseRole.MARKETPLACE, CaseRole.OPERATOR)
# Goods a ruling cannot send back: they never left the buyer.
_NEVER_CAME_BACK = (Goods.WITH_BUYER, Goods.AWAITING_PICKUP, Goods.NOT_RETURNED)


@dataclass(frozen=True)
class CaseAction:
    """What an action carries; each action reads the fields it needs."""

    amount_fen: Fen | None = None  # offer; ruling for the buyer (default: what was asked)
    note: str | None = None
    evidence: tuple[Evidence, ...] = ()
    official_logistics: bool = False  # handover: the buyer books the platform's pickup
    carrier: str | None = None  # handover, pickup
    tracking_number: str | None = None  # handover
    freight_fen: Fen | None = None  # pickup
    result: str | None = None  # inspection: ok | wrong_or_empty; ruling: buyer | merchant
    send_goods_back: bool = False  # ruling: the return cannot be resold
    buyer_malicious: bool = False  # ruling on an empty or wrong quick-refunded return
    occurred_at: datetime | None = None


def record(
    ctx: Context,
    case: Case,
    kind: str,
    amount_fen: Fen,
    when: datetime,
    explanation: str,
    rule_ids: tuple[str, ...] = (CASE_RULE,),
    **details: object,
) -> str:
    """A transition of the case on the feed: who would pay whom, with its state and goods."""
    payer, payee = party("merchant", case.merchant_id), party("buyer", case.buyer_id)
    if case.type is CaseType.TRANSIT_CLAIM:  # the platform pays the merchant's claim
        payer, payee = PLATFORM, party("merchant", case.merchant_id)
    return record_repeated_decision(
        ctx,
        Decision(
            kind,
            case.id,
            amount_fen,
            payer,
            payee,
            rule_ids,
            ctx.rulebook_at(when, field="occurred_at").id,
            explanation,
            {"state": case.state.value, "goods": case.goods.value, **details},
        ),
        when,
        case.order_id,
    )


# Outcomes in which a buyer's claim succeeded (what was agreed, granted or ruled is paid).
_BUYER_WINS = frozenset({Outcome.AGREED, Outcome.GRANTED_ON_TIMEOUT, Outcome.RULED_FOR_BUYER})


def finish(
    ctx: Context,
    case: Case,
    order: Order,
    outcome: Outcome,
    when: datetime,
    amount_fen: Fen,
    rule_id: str,
    *,
    fact: bool = False,
) -> None:
    """Close the case and settle it: refund the buyer what it settled on (less any quick
    refund) and, for failed custom goods, the platform's compensation (§5); pay a granted
    transit claim to the merchant (§7). Says why on the feed."""
    lock_accounts(ctx.connection, case_money.closing_accounts(order, case), ctx.now())
    if case.type is CaseType.TRANSIT_CLAIM:
        granted = outcome in (Outcome.GRANTED_ON_TIMEOUT, Outcome.RULED_FOR_MERCHANT)
        paid = case_money.pay_transit_claim(ctx, case, order, amount_fen, when) if granted else 0
        summary = f"{format_fen(paid)} paid to the merchant"
    else:
        # A timeout or a physical fact (`fact`: an inspection) cannot be refused: it refunds
        # what is left; a party's decision that would refund more is refused.
        strict = not fact and outcome is not Outcome.GRANTED_ON_TIMEOUT
        case_money.settle_refund(ctx, case, order, amount_fen, when, rule_id, strict=strict)
        if case.type is CaseType.CUSTOM_DISPUTE and outcome in _BUYER_WINS:
            case_money.compensate_custom(ctx, case, order, when)
        summary = f"{format_fen(case.refunded_fen)} refunded in all"
        if case.compensated_fen:
            summary += f", {format_fen(case.compensated_fen)} compensation"
    case.close(outcome, when)
    record(
        ctx,
        case,
        "case_closed",
        case.refunded_fen + case.compensated_fen,
        when,
        f"closed ({outcome.value}): {summary}",
        (rule_id,),
        outcome=outcome.value,
        refunded=format_fen(case.refunded_fen),
        compensated=format_fen(case.compensated_fen),
    )


def accept(
    ctx: Context, case: Case, order: Order, role: CaseRole, body: CaseAction, when: datetime
) -> None:
    if case.state is CaseState.NEGOTIATING:  # the buyer takes the merchant's offer
        require_side(role, _BUYER_SIDE, "accept an offer")
        assert case.offered_fen is not None
        case.agreed_fen = case.offered_fen
        step(
            ctx,
            case,
            body,
            when,
            "accept",
            state=CaseState.CLOSED,
            goods=Goods.NOT_RETURNED if case.type.is_return else case.goods,
        )
        finish(ctx, case, order, Outcome.AGREED, when, case.offered_fen, CASE_RULE)
        return
    require_side(role, _MERCHANT_SIDE, "accept a request")
    case.agreed_fen = case.requested_fen
    if case.type.is_return:
        step(ctx, case, body, when, "accept", state=CaseState.ACCEPTED)
        record(
            ctx,
            case,
            "case_accepted",
            case.requested_fen,
            when,
            "return approved: the buyer hands the goods over",
        )
        deadlines.set_deadline(ctx, case, deadlines.HANDOVER, when)
        return
    step(ctx, case, body, when, "accept", state=CaseState.CLOSED)
    finish(ctx, case, order, Outcome.AGREED, when, case.requested_fen, CASE_RULE)


def step(
    ctx: Context,
    case: Case,
    body: CaseAction,
    when: datetime,
    action: str,
    *,
    state: CaseState | None = None,
    goods: Goods | None = None,
    **details: object,
) -> None:
    """Move the case by the caller's action, keeping its note and evidence with it."""
    case.move(
        action,
        ctx.actor.label,
        when,
        state=state,
        goods=goods,
        note=body.note,
        evidence=body.evidence,
        **details,
    )


def require_side(role: CaseRole, allowed: tuple[CaseRole, ...], what: str) -> None:
    """The action is allowed to the role, but this move belongs to the other party."""
    if role not in allowed:
        raise Forbidden("not_your_move", f"a {role.value} may not {what} here", "authorization")


def offer(
    ctx: Context, case: Case, order: Order, role: CaseRole, body: CaseAction, when: datetime
) -> None:
    if body.amount_fen is None:
        raise InvalidInput("amount_missing", "an offer names its amount", "amount")
    case.offer(body.amount_fen)
    step(ctx, case, body, when, "offer", state=CaseState.NEGOTIATING, amount_fen=body.amount_fen)
    record(
        ctx,
        case,
        "case_offered",
        body.amount_fen,
        when,
        f"the merchant offers {format_fen(body.amount_fen)} of the "
        f"{format_fen(case.requested_fen)} asked",
    )
    deadlines.set_deadline(ctx, case, deadlines.OFFER_RESPONSE, when)


def decline(
    ctx: Context, case: Case, order: Order, role: CaseRole, body: CaseAction, when: datetime
) -> None:
    if case.state is CaseState.NEGOTIATING:  # the buyer turns the offer down
        require_side(role, _BUYER_SIDE, "decline an offer")
        step(ctx, case, body, when, "decline", state=CaseState.PENDING)
        record(
            ctx,
            case,
            "case_offer_declined",
            0,
            when,
            "the buyer declines the offer: the merchant answers again",
        )
        answer = deadlines.MERCHANT_REVIEW if case.type.is_return else deadlines.MERCHANT_ANSWER
        deadlines.set_deadline(ctx, case, answer, when)
        return
    require_side(role, _MERCHANT_SIDE, "refuse a request")
    case.require_refusable()
    step(ctx, case, body, when, "decline", state=CaseState.REFUSED)
    record(
        ctx,
        case,
        "case_refused",
        0,
        when,
        "the merchant refuses after negotiating: the buyer may escalate",
    )
    deadlines.set_deadline(ctx, case, deadlines.ESCALATION_WINDOW, when)


def escalate(
    ctx: Context, case: Case, order: Order, role: CaseRole, body: CaseAction, when: datetime
) -> None:
    step(ctx, case, body, when, "escalate", state=CaseState.ESCALATED)
    record(ctx, case, "case_escalated", 0, when, f"{ctx.actor.label} asks the platform to rule")
    deadlines.set_deadline(ctx, case, deadlines.RULING, when)


def ruling(
    ctx: Context, case: Case, order: Order, role: CaseRole, body: CaseAction, when: datetime
) -> None:
    """The platform rules: in the claimant's favour (`buyer`, or `merchant` for a transit
    claim), or against it (`merchant`, or `platform` for a transit claim)."""
    parties = (
        ("merchant", "platform") if case.type is CaseType.TRANSIT_CLAIM else ("buyer", "merchant")
    )
    if body.result not in parties:
        raise InvalidInput(
            "invalid_choice", f"result must be {' or '.join(parties)}: {body.result!r}", "result"
        )
    if not (body.note or "").strip():
        raise InvalidInput("note_missing", "a ruling states its grounds", "note")
    amount_fen = case.requested_fen if body.amount_fen is None else body.amount_fen
    for_claimant = body.result == parties[0]
    if not for_claimant and body.amount_fen is not None:  # it would be silently ignored
        raise InvalidInput(
            "amount_not_allowed",
            f"a ruling for the {body.result} grants nothing: leave amount out",
            "amount",
        )
    if for_claimant and not 0 < amount_fen <= case.requested_fen:
        raise InvalidInput(
            "amount_out_of_range",
            f"a ruling grants above 0 and at most the {format_fen(case.requested_fen)} asked",
            "amount",
        )
    if for_claimant and amount_fen < case.refunded_fen:  # nothing takes a quick refund back
        raise InvalidInput(
            "amount_out_of_range",
            f"a ruling grants at least the {format_fen(case.refunded_fen)} this case already "
            "refunded",
            "amount",
        )
    if body.send_goods_back and not case.type.is_return:
        raise Conflict(
            "not_a_return",
            f"case {case.id} is {case.type.value}: nothing came back to send back",
            "send_goods_back",
        )
    if body.send_goods_back and case.goods in _NEVER_CAME_BACK:
        raise Conflict(
            "not_a_return",
            f"case {case.id}: the goods are {case.goods.value}, never picked up: nothing came "
            "back to send back",
            "send_goods_back",
        )
    found_wrong_or_empty = case.goods is Goods.WRONG_OR_EMPTY  # before a send-back moves them
    goods = Goods.SENT_BACK if body.send_goods_back else case.goods
    step(
        ctx,
        case,
        body,
        when,
        "ruling",
        state=CaseState.CLOSED,
        goods=goods,
        result=body.result,
        buyer_malicious=body.buyer_malicious,
    )
    rule = RULING_RULE
    if case.type is CaseType.TRANSIT_CLAIM:
        outcome = Outcome.RULED_FOR_MERCHANT if for_claimant else Outcome.RULED_FOR_PLATFORM
        finish(ctx, case, order, outcome, when, amount_fen if for_claimant else 0, rule)
        return
    if for_claimant:
        finish(ctx, case, order, Outcome.RULED_FOR_BUYER, when, amount_fen, rule)
        return
    if found_wrong_or_empty and not body.buyer_malicious:
        case_money.absorb_quick_refund(ctx, case, order, when)
    finish(ctx, case, order, Outcome.RULED_FOR_MERCHANT, when, 0, rule)


def complain(
    ctx: Context, case: Case, order: Order, role: CaseRole, body: CaseAction, when: datetime
) -> None:
    """The buyer complains that the merchant has not answered: an operator may expedite."""
    require_side(role, _BUYER_SIDE, "complain")
    case.complained = True
    step(ctx, case, body, when, "complain")
    record(ctx, case, "case_complaint", 0, when, "the buyer complains: no answer yet")


def expedite(
    ctx: Context, case: Case, order: Order, role: CaseRole, body: CaseAction, when: datetime
) -> None:
    """After a complaint, shorten the merchant's running deadline to
    `refund_only.complaint_response_hours` from now (never lengthen it)."""
    if not case.complained:
        raise Conflict("no_complaint", f"case {case.id}: the buyer has not complained", "action")
    hours = ctx.rulebook_at(when, field="occurred_at").refund_only.complaint_response_hours
    running = deadlines.running_deadline(ctx, case)
    shortened = when + timedelta(hours=hours)
    if running is None or shortened >= running[1]:
        raise Conflict(
            "deadline_already_sooner",
            f"case {case.id}: the merchant's deadline is already within {hours} hours",
            "action",
        )
    step(ctx, case, body, when, "expedite", hours=hours)
    deadlines.set_deadline(
        ctx,
        case,
        running[0],
        when,
        duration=timedelta(hours=hours),
        rule_id="refund_only.complaint_response_hours",
    )
    record(
        ctx,
        case,
        "case_expedited",
        0,
        when,
        f"after a complaint the merchant must answer within {hours} hours",
        ("refund_only.complaint_response_hours",),
    )


def withdraw(
    ctx: Context, case: Case, order: Order, role: CaseRole, body: CaseAction, when: datetime
) -> None:
    claimant = _MERCHANT_SIDE if case.type is CaseType.TRANSIT_CLAIM else _BUYER_SIDE
    require_side(role, claimant, "withdraw a case")
    if case.refunded_fen:
        raise Conflict(
            "case_refunded",
            f"case {case.id} already refunded {format_fen(case.refunded_fen)}: the platform "
            "rules it instead (escalate)",
            "action",
        )
    step(ctx, case, body, when, "withdraw", state=CaseState.WITHDRAWN)
    case.close(Outcome.WITHDRAWN, when)
    record(ctx, case, "case_withdrawn", 0, when, f"{ctx.actor.label} withdrew the case")
