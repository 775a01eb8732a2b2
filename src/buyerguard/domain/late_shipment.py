"""A spot sub-order's shipping promise (policies.md §10b): its deadline, whether it was
broken, and what the merchant then pays the buyer.

Pure rules, like domain/aftersales_rules.py: facts in, an explained `Decision` out,
every number the rulebook's (`shipping_commitment`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from buyerguard.clock import ensure_utc
from buyerguard.domain.decision import Decision, party
from buyerguard.errors import InvalidInput
from buyerguard.money import Fen, apply_rate, format_fen, format_percent, require_fen
from buyerguard.rulebook import Rulebook

LATE_SHIPMENT_COMPENSATION = "late_shipment_compensation"


def shipping_deadline(*, paid_at: datetime, commitment_hours: int) -> datetime:
    """The instant a spot sub-order must have shipped by: payment + its promise (24/48/72 h)."""
    if isinstance(commitment_hours, bool) or not isinstance(commitment_hours, int):
        raise InvalidInput(
            "commitment_hours_invalid", "commitment_hours must be whole hours", "commitment_hours"
        )
    if commitment_hours <= 0:
        raise InvalidInput(
            "commitment_hours_invalid",
            f"commitment_hours must be positive: {commitment_hours}",
            "commitment_hours",
        )
    return ensure_utc(paid_at, field="paid_at") + timedelta(hours=commitment_hours)


def late_shipment(
    *,
    paid_at: datetime,
    shipped_at: datetime | None,
    commitment_hours: int | None,
    now: datetime,
) -> bool:
    """Did a spot sub-order break its shipping promise (§10b)?

    The deadline is `paid_at + commitment_hours`; shipping at the deadline is on
    time. Shipped: late when shipped after the deadline (`now` is not consulted).
    Not shipped: late once `now` reaches the deadline, so a timer due at the
    deadline finds it late. No commitment (custom or made-to-order goods, or a
    spot product that promised nothing) is never late under this rule.
    """
    now = ensure_utc(now, field="now")
    if commitment_hours is None:
        return False
    deadline = shipping_deadline(paid_at=paid_at, commitment_hours=commitment_hours)
    if shipped_at is not None:
        return ensure_utc(shipped_at, field="shipped_at") > deadline
    return now >= deadline


def late_shipment_compensation(
    *,
    sub_order_id: str,
    buyer_id: str,
    merchant_id: str,
    sub_order_goods_fen: Fen,
    rulebook: Rulebook,
) -> Decision:
    """What the merchant pays the buyer for a late spot shipment (§10b):
    `late_compensation_rate` of the sub-order's goods, half-up, raised to
    `late_compensation_min_yuan` and capped at `late_compensation_max_yuan`."""
    sub_order_goods_fen = require_fen(
        sub_order_goods_fen, field="sub_order_goods", allow_negative=False
    )
    rules = rulebook.shipping_commitment
    share_fen = apply_rate(sub_order_goods_fen, rules.late_compensation_rate)
    amount_fen = min(
        max(share_fen, rules.late_compensation_min_fen), rules.late_compensation_max_fen
    )
    explanation = (
        f"spot goods shipped late: {format_percent(rules.late_compensation_rate)} of "
        f"{format_fen(sub_order_goods_fen, thousands=True)}"
        f" = {format_fen(share_fen, thousands=True)}"
    )
    if amount_fen > share_fen:
        floor = format_fen(rules.late_compensation_min_fen, thousands=True)
        explanation += f", raised to the floor of {floor}"
    elif amount_fen < share_fen:
        explanation += f", capped at {format_fen(rules.late_compensation_max_fen, thousands=True)}"
    return Decision(
        kind=LATE_SHIPMENT_COMPENSATION,
        subject_id=sub_order_id,
        amount_fen=amount_fen,
        payer=party("merchant", merchant_id),
        payee=party("buyer", buyer_id),
        rule_ids=(
            "shipping_commitment.late_compensation_rate",
            "shipping_commitment.late_compensation_min_yuan",
            "shipping_commitment.late_compensation_max_yuan",
        ),
        rulebook_id=rulebook.id,
        explanation=(
            f"{explanation}: the merchant pays the buyer {format_fen(amount_fen, thousands=True)}"
        ),
        details={
            "sub_order_goods_fen": sub_order_goods_fen,
            "share_fen": share_fen,
            "min_fen": rules.late_compensation_min_fen,
            "max_fen": rules.late_compensation_max_fen,
        },
    )
