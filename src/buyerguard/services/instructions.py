"""Instructions: every payment out of the platform, with the outcome the marketplace reports.

Money leaves only by instruction. An instruction holds its amount from the
party's payable to the party's paid_out account (a pending transfer) and puts
`{kind}_instructed` on the event feed: the marketplace executes it and reports
`executed` (the hold is posted: paid) or `failed` with a reason (the hold is
voided: the money is owed again). A report is final: the same report again is
answered as before, a different one is refused. A failed refund or
compensation is retried by a new instruction (`retry`); a failed payout's
money goes back to the merchant's payable, for the next payout run.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from buyerguard.domain.decision import PLATFORM, Decision
from buyerguard.errors import Conflict, InvalidInput, NotFound, require_text
from buyerguard.ledger import accounts
from buyerguard.ledger.balances import balance
from buyerguard.ledger.book import Transfer, TransferKind, lock_accounts, record, record_later
from buyerguard.money import Fen, format_fen
from buyerguard.services.context import Context, Role
from buyerguard.services.merchant_money import net_debt
from buyerguard.services.records import audit, record_decision
from buyerguard.store.tables import instructions

PAYOUT, REFUND, COMPENSATION, CARRIER_SUBSIDY = (
    "payout",
    "refund",
    "compensation",
    "carrier_subsidy",
)
INSTRUCTION_KINDS = (PAYOUT, REFUND, COMPENSATION, CARRIER_SUBSIDY)
INSTRUCTED, EXECUTED, FAILED = "instructed", "executed", "failed"
INSTRUCTION_STATES = (INSTRUCTED, EXECUTED, FAILED)
OVERDUE = "overdue"  # a filter: instructed, and past its `due_by`
OUTCOMES = (EXECUTED, FAILED)
OVERDUE_RULE = "instructions.overdue_after_hours"


def party_accounts(party: str) -> list[accounts.AccountSpec]:
    """The accounts an instruction to `party` posts to: lock them with the command's others."""
    return [accounts.party_payable(party), accounts.party_paid_out(party)]


def new_instruction_id(kind: str) -> str:
    prefix = "po" if kind == PAYOUT else "in"
    return f"{prefix}_{secrets.token_hex(8)}"


def instruct(
    ctx: Context,
    *,
    kind: str,
    party: str,
    amount_fen: Fen,
    occurred_at: datetime,
    rule_ids: tuple[str, ...],
    explanation: str,
    order_id: str | None = None,
    run_id: str | None = None,
    retry_of: str | None = None,
    details: dict[str, Any] | None = None,
) -> str:
    """Instruct paying `amount_fen` of what `party` is owed; returns the instruction id.

    The caller has locked `party_accounts(party)` with the rest of its command's
    accounts; the party's payable must hold the amount (the ledger refuses otherwise).
    """
    assert kind in INSTRUCTION_KINDS, kind
    instruction_id = new_instruction_id(kind)
    rulebook = ctx.rulebook_at(occurred_at, field="occurred_at")
    decision_ref = record_decision(
        ctx,
        Decision(
            f"{kind}_instructed",
            instruction_id,
            amount_fen,
            PLATFORM,
            party,
            (*rule_ids, OVERDUE_RULE),
            rulebook.id,
            explanation,
            {"instruction_id": instruction_id, **(details or {})},
        ),
        occurred_at,
        order_id,
    )
    transfer_id = f"instruct:{instruction_id}"
    # Held with the command's other transfers, in the one statement that posts them.
    record_later(
        ctx.connection,
        Transfer(
            transfer_id,
            TransferKind.PENDING,
            accounts.party_payable(party),
            accounts.party_paid_out(party),
            amount_fen,
            f"{kind}_instructed",
            occurred_at,
            order_id,
            decision_ref,
        ),
        ctx.now(),
    )
    now = ctx.now()
    ctx.connection.execute(
        insert(instructions).values(
            id=instruction_id,
            kind=kind,
            party=party,
            amount_fen=amount_fen,
            state=INSTRUCTED,
            order_id=order_id,
            run_id=run_id,
            retry_of=retry_of,
            transfer_id=transfer_id,
            decision_id=decision_ref,
            rulebook_id=rulebook.id,
            instructed_at=now,
            due_by=now + timedelta(hours=rulebook.instructions.overdue_after_hours),
            cut_over=False,
            details=details or {},
        )
    )
    return instruction_id


@dataclass(frozen=True)
class ExecutionReport:
    outcome: str  # executed or failed
    occurred_at: datetime | None = None
    reason: str | None = None  # why it failed (required then)
    reference: str | None = None  # the marketplace's own id of the payment


def _row(
    connection: Connection, instruction_id: str, *, for_update: bool, what: str = "instruction"
) -> dict[str, Any]:
    """The instruction; none is `{what}_not_found` (`payout` on the payout routes)."""
    query = select(instructions).where(instructions.c.id == instruction_id)
    row = connection.execute(query.with_for_update() if for_update else query).mappings().first()
    if row is None:
        raise NotFound(f"{what}_not_found", f"no {what} {instruction_id}", f"{what}_id")
    return dict(row)


def visible_instruction(
    ctx: Context, instruction_id: str, *, kind: str | None = None, for_update: bool = False
) -> dict[str, Any]:
    """The instruction, if the caller may see it (a merchant its own payouts only) and it
    is of `kind` when one is asked for (a refund is no payout)."""
    what = "payout" if kind == PAYOUT else "instruction"
    row = _row(ctx.connection, instruction_id, for_update=for_update, what=what)
    own = ctx.actor.role is not Role.MERCHANT or row["party"] == f"merchant:{ctx.actor.party_id}"
    if not own or (kind is not None and row["kind"] != kind):
        raise NotFound(f"{what}_not_found", f"no {what} {instruction_id}", f"{what}_id")
    return row


def report_execution(
    ctx: Context, instruction_id: str, report: ExecutionReport, *, kind: str | None = None
) -> dict[str, Any]:
    """Record the outcome of an instruction; the same report again answers as before."""
    ctx.require_role("report executions", Role.MARKETPLACE)
    if report.outcome not in OUTCOMES:
        raise InvalidInput(
            "invalid_choice", f"outcome must be executed or failed: {report.outcome!r}", "outcome"
        )
    if report.outcome == FAILED:
        require_text(report.reason, "reason", "a failed execution names its reason")
    row = visible_instruction(ctx, instruction_id, kind=kind, for_update=True)
    if row["state"] != INSTRUCTED:
        if row["state"] == report.outcome and row["reference"] == report.reference:
            return row  # the same report again
        raise Conflict(
            "instruction_already_reported",
            f"instruction {instruction_id} was already reported {row['state']}; "
            "an outcome is final",
            "outcome",
        )
    when = ctx.occurred_at(report.occurred_at)
    if when < row["instructed_at"]:
        raise InvalidInput(
            "occurred_before_instruction",
            f"instruction {instruction_id} was issued at {row['instructed_at'].isoformat()}; "
            "it cannot have been carried out before",
            "occurred_at",
        )
    party = str(row["party"])
    extra = _failure_accounts(row) if report.outcome == FAILED else []
    lock_accounts(ctx.connection, party_accounts(party) + extra, ctx.now())
    kind_name = str(row["kind"])
    amount_fen = int(row["amount_fen"])
    explanation = (
        f"{format_fen(amount_fen)} paid to {party}"
        if report.outcome == EXECUTED
        else f"{format_fen(amount_fen)} to {party} failed ({report.reason}); owed again"
    )
    decision_ref = record_decision(
        ctx,
        Decision(
            f"{kind_name}_{report.outcome}",
            instruction_id,
            amount_fen,
            PLATFORM,
            party,
            (OVERDUE_RULE,),
            ctx.rulebook_at(when, field="occurred_at").id,
            explanation,
            {
                "instruction_id": instruction_id,
                "reference": report.reference,
                "reason": report.reason,
            },
        ),
        when,
        row["order_id"],
    )
    record(
        ctx.connection,
        Transfer(
            f"{'execute' if report.outcome == EXECUTED else 'fail'}:{instruction_id}",
            TransferKind.POST_PENDING if report.outcome == EXECUTED else TransferKind.VOID_PENDING,
            accounts.party_payable(party),
            accounts.party_paid_out(party),
            amount_fen,
            f"{kind_name}_{report.outcome}",
            when,
            row["order_id"],
            decision_ref,
            pending_id=str(row["transfer_id"]),
        ),
        ctx.now(),
        accounts_locked=True,
    )
    ctx.connection.execute(
        update(instructions)
        .where(instructions.c.id == instruction_id)
        .values(
            state=report.outcome,
            reported_at=ctx.now(),
            outcome_at=when,
            reported_by=ctx.actor.label,
            failure_reason=report.reason if report.outcome == FAILED else None,
            reference=report.reference,
        )
    )
    if report.outcome == FAILED and kind_name == PAYOUT:
        net_debt(ctx, party.removeprefix("merchant:"), when, f"fail:{instruction_id}")
    audit(
        ctx,
        f"report_{report.outcome}",
        instruction_id,
        when,
        kind=kind_name,
        amount_fen=amount_fen,
        reference=report.reference,
        reason=report.reason,
    )
    return _row(ctx.connection, instruction_id, for_update=False)


def _failure_accounts(row: dict[str, Any]) -> list[accounts.AccountSpec]:
    """A failed payout's money returns to the payable, where any debt is netted first."""
    if row["kind"] != PAYOUT:
        return []
    merchant_id = str(row["party"]).removeprefix("merchant:")
    return [accounts.merchant_debt(merchant_id)]


def retry(ctx: Context, instruction_id: str) -> dict[str, Any]:
    """Instruct again what a failed refund, compensation or subsidy did not pay."""
    ctx.require_role("retry instructions", Role.MARKETPLACE)
    row = visible_instruction(ctx, instruction_id, for_update=True)
    if row["kind"] == PAYOUT:
        raise Conflict(
            "payout_not_retried",
            f"a failed payout's money is back on the merchant's payable: the next payout run "
            f"pays it ({instruction_id})",
            "instruction_id",
        )
    if row["state"] != FAILED:
        raise Conflict(
            "instruction_not_failed",
            f"instruction {instruction_id} is {row['state']}: only a failed one is retried",
            "instruction_id",
        )
    retried = ctx.connection.execute(
        select(instructions.c.id).where(instructions.c.retry_of == instruction_id)
    ).first()
    if retried is not None:
        return _row(ctx.connection, retried.id, for_update=False)  # retried already: that one
    party = str(row["party"])
    amount_fen = int(row["amount_fen"])
    lock_accounts(ctx.connection, party_accounts(party), ctx.now())
    owed_fen = balance(ctx.connection, accounts.party_payable(party).id).available_fen
    if owed_fen < amount_fen:  # the ledger would refuse too; say why in words
        raise Conflict(
            "not_owed",
            f"{party} is owed {format_fen(owed_fen)}, less than the {format_fen(amount_fen)} "
            "to retry",
            "instruction_id",
        )
    new_id = instruct(
        ctx,
        kind=str(row["kind"]),
        party=party,
        amount_fen=amount_fen,
        occurred_at=ctx.now(),
        rule_ids=(),
        explanation=f"retry of {instruction_id}: pay {party} {format_fen(amount_fen)}",
        order_id=row["order_id"],
        retry_of=instruction_id,
        details={**row["details"], "retry_of": instruction_id},
    )
    audit(ctx, "retry_instruction", instruction_id, ctx.now(), instruction_id=new_id)
    return _row(ctx.connection, new_id, for_update=False)


def list_instructions(
    connection: Connection,
    *,
    now: datetime,
    state: str | None = None,
    kind: str | None = None,
    party: str | None = None,
    after: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Instructions by id; `state=overdue`: instructed and past the time to report."""
    if state is not None and state not in (*INSTRUCTION_STATES, OVERDUE):
        choices = ", ".join((*INSTRUCTION_STATES, OVERDUE))
        raise InvalidInput("invalid_choice", f"state must be one of {choices}: {state!r}", "state")
    if kind is not None and kind not in INSTRUCTION_KINDS:
        choices = ", ".join(INSTRUCTION_KINDS)
        raise InvalidInput("invalid_choice", f"kind must be one of {choices}: {kind!r}", "kind")
    query = select(instructions).order_by(instructions.c.id).limit(limit)
    if state == OVERDUE:
        query = query.where(instructions.c.state == INSTRUCTED, instructions.c.due_by < now)
    elif state is not None:
        query = query.where(instructions.c.state == state)
    if kind is not None:
        query = query.where(instructions.c.kind == kind)
    if party is not None:
        query = query.where(instructions.c.party == party)
    if after:
        query = query.where(instructions.c.id > after)
    return [dict(row) for row in connection.execute(query).mappings()]


def instructions_about(
    connection: Connection, order_id: str, key: str, value: str
) -> list[dict[str, Any]]:
    """The order's instructions whose details name `key` = `value` (a case's payments)."""
    query = (
        select(instructions)
        .where(instructions.c.order_id == order_id)
        .order_by(instructions.c.instructed_at, instructions.c.id)
    )
    return [
        dict(row)
        for row in connection.execute(query).mappings()
        if (row["details"] or {}).get(key) == value
    ]
