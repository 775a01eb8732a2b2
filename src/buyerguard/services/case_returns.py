"""The actions of a return: the goods handed over, picked up, arrived and inspected.

An official pickup pays the carrier's return-shipping subsidy (§3) and, from
2024-10-15, refunds the buyer at once (§4); an arrival starts the merchant's
inspection deadline; an inspection settles the refund or escalates an empty or
wrong return to the platform.
"""

from __future__ import annotations

from datetime import datetime

from buyerguard.domain.cases import Case, CaseState, Goods, Outcome
from buyerguard.domain.cases import Role as CaseRole
from buyerguard.domain.orders import Order
from buyerguard.errors import Conflict, InvalidInput
from buyerguard.ledger.book import lock_accounts
from buyerguard.money import format_fen, require_fen
from buyerguard.services import case_deadlines as deadlines
from buyerguard.services import case_money
from buyerguard.services.case_actions import CASE_RULE, CaseAction, finish, record, step
from buyerguard.services.context import Context
from buyerguard.services.orders import require_id

RETURN_ACTIONS = frozenset({"handover", "pickup", "arrival", "inspection"})


def require_return(case: Case) -> None:
    """A return's own actions on a case where nothing comes back: `not_a_return` (checked
    before the state, which would only say the action is out of order)."""
    if not case.type.is_return:
        raise Conflict(
            "not_a_return", f"case {case.id} is {case.type.value}: nothing comes back", "action"
        )


def _goods_at(case: Case, *allowed: Goods) -> None:
    if case.goods not in allowed:
        raise Conflict(
            "illegal_case_transition",
            f"case {case.id}: the goods are {case.goods.value}",
            "goods",
        )


def handover(
    ctx: Context, case: Case, order: Order, role: CaseRole, body: CaseAction, when: datetime
) -> None:
    require_return(case)
    _goods_at(case, Goods.WITH_BUYER)
    if body.official_logistics:
        step(
            ctx, case, body, when, "handover", goods=Goods.AWAITING_PICKUP, official_logistics=True
        )
        record(ctx, case, "case_handed_over", 0, when, "a doorstep pickup is booked")
        return  # the handover deadline runs until the carrier picks it up
    if not ((body.carrier or "").strip() and (body.tracking_number or "").strip()):
        raise InvalidInput(
            "tracking_missing",
            "a return the buyer sends names carrier and tracking_number",
            "tracking_number",
        )
    step(
        ctx,
        case,
        body,
        when,
        "handover",
        goods=Goods.IN_TRANSIT,
        carrier=body.carrier,
        tracking_number=body.tracking_number,
    )
    record(
        ctx,
        case,
        "case_handed_over",
        0,
        when,
        f"the buyer sent the return with {body.carrier} {body.tracking_number}",
    )
    deadlines.clear_deadlines(ctx, case, "handed over")


def pickup(
    ctx: Context, case: Case, order: Order, role: CaseRole, body: CaseAction, when: datetime
) -> None:
    require_return(case)
    _goods_at(case, Goods.WITH_BUYER, Goods.AWAITING_PICKUP)
    if not body.carrier:
        raise InvalidInput("carrier_missing", "a pickup names its carrier", "carrier")
    # The carrier is the party the platform pays (`carrier:<id>:payable`): an id, or its
    # money would sit on an account no one can name.
    require_id(body.carrier, "carrier")
    freight_fen = require_fen(
        body.freight_fen if body.freight_fen is not None else 0,
        field="freight",
        allow_negative=False,
    )
    lock_accounts(ctx.connection, case_money.pickup_accounts(order, case, body.carrier), ctx.now())
    case.official_pickup = True
    step(
        ctx,
        case,
        body,
        when,
        "pickup",
        goods=Goods.IN_TRANSIT,
        carrier=body.carrier,
        freight_fen=freight_fen,
    )
    deadlines.clear_deadlines(ctx, case, "picked up")
    subsidy = case_money.pickup_subsidy(
        ctx,
        case,
        order,
        carrier=body.carrier,
        freight_fen=freight_fen,
        official_logistics=True,
        when=when,
    )
    record(
        ctx,
        case,
        "case_picked_up",
        subsidy["subsidy_fen"],
        when,
        f"picked up by {body.carrier}; return shipping subsidy "
        f"{format_fen(subsidy['subsidy_fen'])}",
        ("free_return_shipping.enabled",),
    )
    quick = case_money.quick_refund_decision(ctx, when)
    if quick.details.get("applies"):
        refunded = case_money.settle_refund(
            ctx, case, order, case.requested_fen, when, "quick_refund.enabled", strict=False
        )
        case.quick_refunded_fen = refunded
        record(ctx, case, "case_quick_refunded", refunded, when, quick.explanation, quick.rule_ids)


def arrival(
    ctx: Context, case: Case, order: Order, role: CaseRole, body: CaseAction, when: datetime
) -> None:
    require_return(case)
    _goods_at(case, Goods.IN_TRANSIT)
    step(ctx, case, body, when, "arrival", goods=Goods.RECEIVED_BY_MERCHANT)
    record(ctx, case, "case_arrived", 0, when, "the return reached the merchant")
    deadlines.set_deadline(ctx, case, deadlines.INSPECTION, when)


def inspection(
    ctx: Context, case: Case, order: Order, role: CaseRole, body: CaseAction, when: datetime
) -> None:
    require_return(case)
    _goods_at(case, Goods.RECEIVED_BY_MERCHANT)
    if body.result == "ok":
        step(ctx, case, body, when, "inspection", state=CaseState.CLOSED, result="ok")
        finish(ctx, case, order, Outcome.AGREED, when, case.requested_fen, CASE_RULE, fact=True)
        return
    if body.result != "wrong_or_empty":
        raise InvalidInput(
            "invalid_choice", f"result must be ok or wrong_or_empty: {body.result!r}", "result"
        )
    step(
        ctx,
        case,
        body,
        when,
        "inspection",
        state=CaseState.ESCALATED,
        goods=Goods.WRONG_OR_EMPTY,
        result="wrong_or_empty",
    )
    record(
        ctx,
        case,
        "case_escalated",
        0,
        when,
        "the merchant found the return empty or wrong: the platform rules",
    )
    deadlines.set_deadline(ctx, case, deadlines.RULING, when)
