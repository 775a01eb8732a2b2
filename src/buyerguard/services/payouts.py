"""Payout runs: what merchants have earned becomes instructions to pay them.

The scheduler runs one a day (`payouts.run_minutes_after_midnight`, Shanghai);
an operator can run one at any time, for every merchant or a few. For each
merchant with money on its payable or reserve, in a transaction of its own
(so the run never holds a long write transaction, and a release or an
adjustment of that merchant simply queues behind one short payout): debt is
netted first, the reserve is brought to its share of what was released to the
merchant in the last `payouts.reserve_window_days` (so it follows the sales
that after-sales claims can still reach, and is paid as they age out), and
what is left on the payable — when it reaches the rulebook minimum — is
instructed as one payout (`payout_instructed`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, or_, select, update

from buyerguard.bootstrap import Runtime
from buyerguard.clock import SHANGHAI, format_instant, local_date, start_of_local_day
from buyerguard.domain.decision import party
from buyerguard.errors import Forbidden, NotFound
from buyerguard.ledger import accounts
from buyerguard.ledger.balances import balance
from buyerguard.ledger.book import lock_accounts
from buyerguard.money import Fen, apply_rate, format_fen, format_rate
from buyerguard.services import instructions
from buyerguard.services.context import SCHEDULER, Actor, Context, Role
from buyerguard.services.merchant_money import (
    merchant_accounts,
    net_debt,
    post_transfer,
    reserve_share,
)
from buyerguard.services.records import audit
from buyerguard.services.timers import DueTimer, ensure_pending_timer
from buyerguard.store.db import insert_if_absent, read_transaction, retrying
from buyerguard.store.tables import instructions as instruction_rows
from buyerguard.store.tables import (
    ledger_accounts,
    ledger_entries,
    ledger_transfers,
    merchants,
    payout_runs,
)

PAYOUT_RUN = "payouts.run"
SCHEDULED, OPERATOR_TRIGGER = "scheduled", "operator"
PAYOUT_RULES = ("payouts.minimum_yuan", "payouts.reserve_share")


def next_run_at(after: datetime, ctx: Context) -> datetime:
    """The first daily run instant after `after` (minutes after 00:00 Shanghai)."""
    minutes = ctx.rulebook_at(after, field=None).payouts.run_minutes_after_midnight
    day = local_date(after)
    while True:
        candidate = start_of_local_day(day) + timedelta(minutes=minutes)
        if candidate > after:
            return candidate
        day += timedelta(days=1)


def ensure_payout_timer(ctx: Context) -> None:
    """Keep one scheduled payout run pending (idempotent, race-safe)."""
    ensure_pending_timer(ctx, PAYOUT_RUN, next_run_at(ctx.now(), ctx))


def scheduled_run(runtime: Runtime, timer: DueTimer) -> str:
    """Timer job: one run as of its due instant (a scheduler that was down runs once, as of
    the latest instant it missed: the payables hold everything anyway); then the next."""
    with runtime.reading(SCHEDULER) as ctx:
        as_of = timer.due_at
        following = next_run_at(as_of, ctx)
        while following <= ctx.now():
            as_of, following = following, next_run_at(following, ctx)
    run_id = f"run-{as_of.astimezone(SHANGHAI):%Y%m%d-%H%M}"  # one per scheduled instant
    summary = run_payouts(runtime, SCHEDULER, SCHEDULED, as_of, run_id=run_id)
    with runtime.writing(SCHEDULER) as ctx:
        ensure_pending_timer(ctx, PAYOUT_RUN, following)
    return (
        f"payout run {summary['id']} as of {format_instant(as_of)}: "
        f"{summary['payouts']} payouts, {format_fen(summary['total_fen'])}"
    )


@dataclass(frozen=True)
class MerchantPayout:
    merchant_id: str
    instruction_id: str | None
    amount_fen: Fen
    reserve_moved_fen: Fen  # + into the reserve, - out of it
    debt_netted_fen: Fen


def _candidates(connection: Connection, merchant_ids: list[str] | None) -> list[str]:
    """Merchants with anything on their payable or reserve, by id."""
    table = ledger_accounts.c
    held = table.credits_posted_fen - table.debits_posted_fen - table.debits_pending_fen
    query = (
        select(func.distinct(table.party))
        .where(
            table.party.like("merchant:%"),
            or_(table.purpose == "payable", table.purpose == "reserve"),
            held > 0,
        )
        .order_by(table.party)
    )
    if merchant_ids is not None:
        query = query.where(table.party.in_([party("merchant", m) for m in merchant_ids]))
    return [str(row[0]).removeprefix("merchant:") for row in connection.execute(query)]


def released_since(connection: Connection, merchant_id: str, since: datetime) -> Fen:
    """What was released to the merchant's payable since `since` (by when it was recorded)."""
    entries, transfers = ledger_entries.c, ledger_transfers.c
    total = connection.execute(
        select(func.coalesce(func.sum(entries.amount_fen), 0))
        .select_from(ledger_entries.join(ledger_transfers, transfers.id == entries.transfer_id))
        .where(
            entries.account_id == accounts.merchant_payable(merchant_id).id,
            entries.phase == "posted",
            entries.direction == "credit",
            entries.recorded_at >= since,
            transfers.purpose == "escrow_release",
        )
    ).scalar_one()
    return int(total)


def pay_merchant(ctx: Context, run_id: str, merchant_id: str, as_of: datetime) -> MerchantPayout:
    """Net debt, set the reserve, instruct the rest; one merchant, one transaction."""
    done = ctx.connection.execute(
        select(instruction_rows.c.id, instruction_rows.c.amount_fen).where(
            instruction_rows.c.run_id == run_id,
            instruction_rows.c.party == party("merchant", merchant_id),
        )
    ).first()
    if done is not None:  # this run paid this merchant already (a run resumed)
        return MerchantPayout(merchant_id, done.id, done.amount_fen, 0, 0)
    lock_accounts(ctx.connection, merchant_accounts(merchant_id), ctx.now())
    rulebook = ctx.rulebook_at(as_of, field=None)
    netted_fen = net_debt(ctx, merchant_id, as_of, f"{run_id}:{merchant_id}")
    payable = accounts.merchant_payable(merchant_id)
    reserve = accounts.merchant_reserve(merchant_id)
    free_fen = max(0, balance(ctx.connection, payable.id).available_fen)
    reserved_fen = balance(ctx.connection, reserve.id).credit_balance_fen
    share, share_rule = reserve_share(ctx, merchant_id, as_of)
    window = timedelta(days=rulebook.payouts.reserve_window_days)
    recent_fen = released_since(ctx.connection, merchant_id, as_of - window)
    target_fen = min(apply_rate(recent_fen, share), free_fen + reserved_fen)
    amount_fen = free_fen + reserved_fen - target_fen
    if amount_fen < max(1, rulebook.payouts.minimum_fen):
        return MerchantPayout(merchant_id, None, 0, 0, netted_fen)
    moved_fen = target_fen - reserved_fen
    if moved_fen > 0:
        post_transfer(
            ctx,
            f"reserve:{run_id}:{merchant_id}",
            payable,
            reserve,
            moved_fen,
            "reserve_kept",
            as_of,
            None,
            None,
        )
    elif moved_fen < 0:
        post_transfer(
            ctx,
            f"reserve:{run_id}:{merchant_id}",
            reserve,
            payable,
            -moved_fen,
            "reserve_released",
            as_of,
            None,
            None,
        )
    instruction_id = instructions.instruct(
        ctx,
        kind=instructions.PAYOUT,
        party=party("merchant", merchant_id),
        amount_fen=amount_fen,
        occurred_at=as_of,
        rule_ids=(*PAYOUT_RULES, "payouts.reserve_window_days", share_rule),
        explanation=(
            f"pay merchant {merchant_id} {format_fen(amount_fen)}; "
            f"{format_fen(target_fen)} kept in reserve "
            f"({format_rate(share)} of {format_fen(recent_fen)} released in the last "
            f"{rulebook.payouts.reserve_window_days} days)"
        ),
        run_id=run_id,
        details={
            "run_id": run_id,
            "reserve_share": format_rate(share),
            "reserved": format_fen(target_fen),
            "debt_netted": format_fen(netted_fen),
        },
    )
    return MerchantPayout(merchant_id, instruction_id, amount_fen, moved_fen, netted_fen)


def run_payouts(
    runtime: Runtime,
    actor: Actor,
    trigger: str,
    as_of: datetime,
    *,
    run_id: str | None = None,
    merchant_ids: list[str] | None = None,
) -> dict[str, Any]:
    """Run payouts for every merchant with money (or `merchant_ids`); each merchant commits
    on its own. Running the same `run_id` again pays nobody twice."""
    identifier = run_id or f"run_{secrets.token_hex(8)}"
    with runtime.writing(actor) as ctx:
        insert_if_absent(
            ctx.connection,
            payout_runs,
            {
                "id": identifier,
                "trigger": trigger,
                "as_of": as_of,
                "actor": actor.label,
                "started_at": ctx.now(),
                "merchants_considered": 0,
                "payouts": 0,
                "total_fen": 0,
            },
        )
    with read_transaction(runtime.engine) as connection:
        candidates = _candidates(connection, merchant_ids)
    results = [
        retrying(
            runtime.engine,
            lambda connection, merchant_id=merchant_id: pay_merchant(  # type: ignore[misc]
                Context(connection, actor, runtime.clock, runtime.rulebooks, runtime.history),
                identifier,
                merchant_id,
                as_of,
            ),
        )
        for merchant_id in candidates
    ]
    with runtime.writing(actor) as ctx:
        paid = ctx.connection.execute(
            select(func.count(), func.coalesce(func.sum(instruction_rows.c.amount_fen), 0)).where(
                instruction_rows.c.run_id == identifier
            )
        ).one()
        ctx.connection.execute(
            update(payout_runs)
            .where(payout_runs.c.id == identifier)
            .values(
                finished_at=ctx.now(),
                merchants_considered=payout_runs.c.merchants_considered + len(candidates),
                payouts=int(paid[0]),
                total_fen=int(paid[1]),
            )
        )
        row = ctx.connection.execute(select(payout_runs).where(payout_runs.c.id == identifier))
        summary = dict(row.mappings().one())
        audit(
            ctx,
            "run_payouts",
            identifier,
            as_of,
            trigger=trigger,
            merchant_ids=merchant_ids,
            payouts=summary["payouts"],
            total_fen=summary["total_fen"],
        )
    summary["results"] = results
    return summary


def run_on_demand(runtime: Runtime, actor: Actor, merchant_ids: list[str] | None) -> dict[str, Any]:
    """An operator's payout run, now; unknown merchant ids are refused before anything runs."""
    if actor.role is not Role.OPERATOR:
        role = actor.role.value
        raise Forbidden("forbidden", f"role {role} may not run payouts", "authorization")
    if merchant_ids:
        with read_transaction(runtime.engine) as connection:
            known = {
                row.id
                for row in connection.execute(
                    select(merchants.c.id).where(merchants.c.id.in_(merchant_ids))
                )
            }
        missing = [m for m in merchant_ids if m not in known]
        if missing:
            raise NotFound(
                "merchant_not_found", f"no merchant {', '.join(missing)}", "merchant_ids"
            )
    with runtime.reading(actor) as ctx:
        now = ctx.now()
    return run_payouts(runtime, actor, OPERATOR_TRIGGER, now, merchant_ids=merchant_ids)
