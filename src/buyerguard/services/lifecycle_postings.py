"""How the order lifecycle writes its money: decisions under one rule, transfers, their ids.

Every money path of an order (services/settlement.py, refund_steps.py,
refunds_after_shipment.py, adjustments.py, case_money.py) records its
decisions and transfers through these, so each transfer id names its purpose
and subject, and a retried command cannot move money twice. A command locks
every account it will post to first, in one order (`ledger.book.lock_accounts`),
so `post` never locks.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from buyerguard.domain.decision import Decision
from buyerguard.domain.orders import Order
from buyerguard.ledger import accounts
from buyerguard.ledger.book import Transfer, TransferKind, record_later
from buyerguard.money import Fen
from buyerguard.rulebook import Rulebook
from buyerguard.services.context import Context

OPERATOR_RULE = "operator.adjustment"  # the rule id of an operator's decision (money out)


def lifecycle_decision(
    kind: str,
    subject_id: str,
    amount_fen: Fen,
    payer: str,
    payee: str,
    rulebook: Rulebook,
    rule_id: str,
    explanation: str,
    details: Mapping[str, object] | None = None,
) -> Decision:
    """A decision of the lifecycle names one rule (a rulebook key, or a named rule)."""
    return Decision(
        kind,
        subject_id,
        amount_fen,
        payer,
        payee,
        (rule_id,),
        rulebook.id,
        explanation,
        dict(details or {}),
    )


def post(
    ctx: Context,
    transfer_id: str,
    kind: TransferKind,
    debit: accounts.AccountSpec,
    credit: accounts.AccountSpec,
    amount_fen: Fen,
    purpose: str,
    order: Order,
    occurred_at: datetime,
    decision_id: str | None = None,
    pending_id: str | None = None,
) -> None:
    """Record one transfer of `order`, posted with the command's others in one statement
    (`record_later`); the command has locked its accounts already."""
    record_later(
        ctx.connection,
        Transfer(
            id=transfer_id,
            kind=kind,
            debit=debit,
            credit=credit,
            amount_fen=amount_fen,
            purpose=purpose,
            occurred_at=occurred_at,
            order_id=order.id,
            decision_id=decision_id,
            pending_id=pending_id,
        ),
        ctx.now(),
    )


def nth(base_id: str, sequence: int) -> str:
    """The id of the `sequence`-th transfer of one purpose on one subject: `base`, `base:2`…"""
    return base_id if sequence == 1 else f"{base_id}:{sequence}"
