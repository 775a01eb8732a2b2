"""The deadlines of after-sales cases: each a rulebook key, a timer, and what a timeout does.

A case has at most one running deadline, the one its state calls for; a
transition cancels it and sets the next (recorded as `deadline_set` on the
feed, so a merchant learns at once that its 36 hours have started). A timer
acts as of its due instant and only if the case is still where the deadline
found it: an answer that committed first wins, and the timeout does nothing.
docs/aftersales.md has one row per deadline of `DEADLINES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from buyerguard.clock import format_instant
from buyerguard.domain.cases import Case, CaseState, Goods
from buyerguard.domain.decision import Decision
from buyerguard.rulebook import Rulebook
from buyerguard.services.context import Context, Role
from buyerguard.services.records import record_repeated_decision
from buyerguard.services.timers import cancel_timers_of, pending_timers_of, schedule_timer

MERCHANT_ANSWER = "case.merchant_answer"
MERCHANT_REVIEW = "case.merchant_review"
OFFER_RESPONSE = "case.offer_response"
HANDOVER = "case.handover"
INSPECTION = "case.inspection"
ESCALATION_WINDOW = "case.escalation_window"
RULING = "case.ruling"


@dataclass(frozen=True)
class Deadline:
    """One deadline: the key that sets it, who must act, and what a timeout does."""

    rule_id: str
    who: str
    state: CaseState  # the state the case waits in; a timeout in any other does nothing
    at_timeout: str  # in words, for the feed and docs/aftersales.md

    def duration(self, rulebook: Rulebook, case: Case) -> timedelta:
        section, key = self.rule_id.split(".")
        if self.rule_id == "returns.picked_up_inspection_hours" and not case.official_pickup:
            return timedelta(days=rulebook.returns.buyer_sent_inspection_days)
        value = getattr(getattr(rulebook, section), key)
        assert isinstance(value, int)
        unit = key.rsplit("_", 1)[1]
        return timedelta(hours=value) if unit == "hours" else timedelta(days=value)


DEADLINES: dict[str, Deadline] = {
    MERCHANT_ANSWER: Deadline(
        "refund_only.seller_response_hours",
        "merchant",
        CaseState.PENDING,
        "the refund is granted as asked",
    ),
    MERCHANT_REVIEW: Deadline(
        "returns.merchant_review_hours",
        "merchant",
        CaseState.PENDING,
        "the return is approved",
    ),
    OFFER_RESPONSE: Deadline(
        "cases.offer_response_hours",
        "buyer",
        CaseState.NEGOTIATING,
        "the case closes with nothing refunded",
    ),
    HANDOVER: Deadline(
        "returns.handover_days_after_approval",
        "buyer",
        CaseState.ACCEPTED,
        "the case closes with nothing refunded",
    ),
    INSPECTION: Deadline(
        # a return the buyer sent itself: returns.buyer_sent_inspection_days
        "returns.picked_up_inspection_hours",
        "merchant",
        CaseState.ACCEPTED,
        "the refund is released",
    ),
    ESCALATION_WINDOW: Deadline(
        "cases.escalation_days_after_refusal",
        "buyer",
        CaseState.REFUSED,
        "the case closes on the merchant's refusal",
    ),
    RULING: Deadline(
        "cases.ruling_hours",
        "platform",
        CaseState.ESCALATED,
        "the claimant's request is granted",
    ),
}


def rule_id_of(kind: str, case: Case) -> str:
    """The rulebook key that sets this deadline for this case (a buyer-sent return's
    inspection has its own)."""
    if kind == INSPECTION and not case.official_pickup:
        return "returns.buyer_sent_inspection_days"
    return DEADLINES[kind].rule_id


def running_deadline(
    ctx: Context, case: Case, timers: list[dict[str, Any]] | None = None
) -> tuple[str, datetime] | None:
    """The case's running deadline (kind, due instant), if one runs; `timers` are the
    case's pending and running timers when the caller has them (`settle_and_read`)."""
    for timer in pending_timers_of(ctx.connection, case.id) if timers is None else timers:
        if timer["kind"] in DEADLINES:
            due_at: datetime = timer["due_at"]
            return str(timer["kind"]), due_at
    return None


def clear_deadlines(ctx: Context, case: Case, why: str) -> None:
    cancel_timers_of(ctx, case.id, DEADLINES, why)


def set_deadline(
    ctx: Context,
    case: Case,
    kind: str,
    starts_at: datetime,
    *,
    duration: timedelta | None = None,
    rule_id: str | None = None,
    opening: bool = False,
) -> datetime:
    """Cancel the case's running deadline and start `kind` from `starts_at`; returns its due
    instant. `duration` and `rule_id` override the rulebook's (an operator shortening it
    after a complaint); the timer keeps the rule id, so its timeout cites it too. `opening`:
    the case is being opened, so no deadline runs yet (no statement to cancel one)."""
    deadline = DEADLINES[kind]
    rulebook = ctx.rulebook_at(starts_at, field=None)
    due_at = starts_at + (duration or deadline.duration(rulebook, case))
    if not opening:
        clear_deadlines(ctx, case, f"replaced by {kind}")
    # Like an order's timers, a deadline a party's fact sets waits for facts that may still
    # be arriving late; one a timeout sets follows at once (the case had settled).
    settling = timedelta(
        seconds=ctx.rulebook_at(ctx.now(), field=None).orders.fact_settling_seconds
    )
    not_before = None if ctx.actor.role is Role.SYSTEM else ctx.now() + settling
    rule_id = rule_id or rule_id_of(kind, case)
    schedule_timer(ctx, kind, case.id, due_at, {"rule_id": rule_id}, not_before=not_before)
    record_repeated_decision(
        ctx,
        Decision(
            "deadline_set",
            case.id,
            0,
            deadline.who,
            "platform",
            (rule_id,),
            rulebook.id,
            f"the {deadline.who} must act by {format_instant(due_at)}, else {deadline.at_timeout}",
            {"deadline": kind, "due_at": format_instant(due_at), "who": deadline.who},
        ),
        starts_at,
        case.order_id,
    )
    return due_at


def deadline_applies(kind: str, case: Case) -> bool:
    """The case still waits where the deadline found it (else the timeout does nothing)."""
    deadline = DEADLINES[kind]
    if case.state is not deadline.state:
        return False
    if kind == HANDOVER:
        return case.goods in (Goods.WITH_BUYER, Goods.AWAITING_PICKUP)
    if kind == INSPECTION:
        return case.goods is Goods.RECEIVED_BY_MERCHANT
    return True
