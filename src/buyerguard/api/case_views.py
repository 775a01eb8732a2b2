"""How a case is shown: its state, goods, money, deadline and history."""

from __future__ import annotations

from typing import Any

from buyerguard.api.views import instant
from buyerguard.domain.cases import Case
from buyerguard.money import format_fen
from buyerguard.services.cases import CaseRecord
from buyerguard.services.feed import event_view


def case_view(case: Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "type": case.type.value,
        "order_id": case.order_id,
        "sub_order_id": case.sub_order_id,
        "buyer_id": case.buyer_id,
        "merchant_id": case.merchant_id,
        "state": case.state.value,
        "goods": case.goods.value,
        "requested": format_fen(case.requested_fen),
        "offered": None if case.offered_fen is None else format_fen(case.offered_fen),
        "agreed": None if case.agreed_fen is None else format_fen(case.agreed_fen),
        "refunded": format_fen(case.refunded_fen),
        "quick_refunded": format_fen(case.quick_refunded_fen),
        "compensated": format_fen(case.compensated_fen),
        "trigger": case.trigger,
        "official_pickup": case.official_pickup,
        "negotiated": case.negotiated,
        "outcome": None if case.outcome is None else case.outcome.value,
        "reason": case.reason,
        "opened_by": case.opened_by,
        "opened_at": instant(case.opened_at),
        "closed_at": instant(case.closed_at),
        "rulebook_id": case.rulebook_id,
    }


def case_detail_view(record: CaseRecord) -> dict[str, Any]:
    """A case with its running deadline, what it owes and what was paid (its instructions),
    each transition and each decision."""
    case, history, decisions = record.case, record.history, record.decisions
    deadline, payments = record.deadline, record.payments
    live = [row for row in payments if row["state"] != "failed"]
    return {
        **case_view(case),
        "owed": format_fen(sum(row["amount_fen"] for row in live)),
        "paid": format_fen(sum(row["amount_fen"] for row in live if row["state"] == "executed")),
        "payments": [
            {
                "instruction_id": row["id"],
                "kind": row["kind"],
                "party": row["party"],
                "amount": format_fen(row["amount_fen"]),
                "state": row["state"],
            }
            for row in payments
        ],
        "deadline": None
        if deadline is None
        else {"kind": deadline["kind"], "due_at": instant(deadline["due_at"])},
        "history": [
            {
                "action": row["action"],
                "actor": row["actor"],
                "from_state": row["from_state"],
                "to_state": row["to_state"],
                "goods_from": row["goods_from"],
                "goods_to": row["goods_to"],
                "occurred_at": instant(row["occurred_at"]),
                "note": row["note"],
                "evidence": row["evidence"],
                "details": row["details"],
            }
            for row in history
        ],
        "decisions": [event_view(row) for row in decisions],
    }
