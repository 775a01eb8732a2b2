"""How money-out records are shown: instructions, payout runs, balances, statements.

Amounts are decimal yuan strings, instants ISO-8601 UTC, like every other view.
"""

from __future__ import annotations

from typing import Any

from buyerguard.api.views import instant, order_view
from buyerguard.money import format_fen
from buyerguard.services.merchant_money import MerchantBalance
from buyerguard.services.payouts import MerchantPayout


def instruction_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "kind": row["kind"],
        "party": row["party"],
        "amount": format_fen(row["amount_fen"]),
        "state": row["state"],
        "order_id": row["order_id"],
        "run_id": row["run_id"],
        "retry_of": row["retry_of"],
        "decision_id": row["decision_id"],
        "instructed_at": instant(row["instructed_at"]),
        "overdue_after": instant(row["due_by"]),
        "reported_at": instant(row["reported_at"]),
        "outcome_at": instant(row["outcome_at"]),
        "reported_by": row["reported_by"],
        "failure_reason": row["failure_reason"],
        "reference": row["reference"],
        "cut_over": row["cut_over"],
        "details": row["details"],
    }


def payout_result_view(result: MerchantPayout) -> dict[str, Any]:
    return {
        "merchant_id": result.merchant_id,
        "payout_id": result.instruction_id,
        "amount": format_fen(result.amount_fen),
        "reserve_moved": format_fen(result.reserve_moved_fen),
        "debt_netted": format_fen(result.debt_netted_fen),
    }


def payout_run_view(summary: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": summary["id"],
        "trigger": summary["trigger"],
        "as_of": instant(summary["as_of"]),
        "actor": summary["actor"],
        "started_at": instant(summary["started_at"]),
        "finished_at": instant(summary["finished_at"]),
        "merchants_considered": summary["merchants_considered"],
        "payouts": summary["payouts"],
        "total": format_fen(summary["total_fen"]),
        "results": [payout_result_view(result) for result in summary.get("results", [])],
    }


def merchant_balance_view(merchant_id: str, found: MerchantBalance) -> dict[str, Any]:
    return {
        "merchant_id": merchant_id,
        "in_escrow": format_fen(found.in_escrow_fen),
        "payable": format_fen(found.payable_fen),
        "reserved": format_fen(found.reserved_fen),
        "in_flight": format_fen(found.in_flight_fen),
        "paid_out": format_fen(found.paid_out_fen),
        "debt": format_fen(found.debt_fen),
        "net_owed": format_fen(found.net_fen),
    }


def statement_view(statement: dict[str, Any]) -> dict[str, Any]:
    return {
        "merchant_id": statement["merchant_id"],
        "month": statement["month"],
        "from": instant(statement["from"]),
        "until": instant(statement["until"]),
        "complete": statement["complete"],
        "opening_balance": format_fen(statement["opening_balance_fen"]),
        "lines": {name: format_fen(amount) for name, amount in statement["lines_fen"].items()},
        "closing_balance": format_fen(statement["closing_balance_fen"]),
        "in_flight_at_close": format_fen(statement["in_flight_at_close_fen"]),
        "debt_at_close": format_fen(statement["debt_at_close_fen"]),
    }


def adjustment_view(decided: dict[str, Any]) -> dict[str, Any]:
    taken = decided["taken"]
    return {
        "id": decided["id"],
        "kind": decided["kind"],
        "order_id": decided["order_id"],
        "sub_order_id": decided["sub_order_id"],
        "amount": format_fen(decided["amount_fen"]),
        "borne_by": decided["borne_by"],
        "reason": decided["reason"],
        "operator": decided["operator"],
        "instruction_id": decided["instruction_id"],
        "taken_from_merchant": None
        if taken is None
        else {
            "payable": format_fen(taken.from_payable_fen),
            "reserve": format_fen(taken.from_reserve_fen),
            "debt": format_fen(taken.into_debt_fen),
        },
        "occurred_at": instant(decided["occurred_at"]),
        "order": order_view(decided["order"]),
    }
