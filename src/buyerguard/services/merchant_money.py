"""A merchant's money with the platform: payable, reserve, debt, paid out.

Released sales accrue on the merchant's payable; a payout run keeps a reserve
share back and instructs the rest. What the merchant owes back (a refund after
release, a clawback, a compensation it bears) is taken from the payable while
it is there, then from the reserve; what is missing becomes recorded debt
(policies.md §6), which later releases settle before anything is paid out —
when the rulebook nets debt against sales. The ledger's floors keep every
account from going below zero, so racing commands can never take money twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from buyerguard.domain.decision import Decision, party
from buyerguard.errors import InvalidInput
from buyerguard.ledger import accounts
from buyerguard.ledger.balances import balance
from buyerguard.ledger.book import Transfer, TransferKind, record
from buyerguard.money import Fen, Rate, format_fen, format_rate, parse_rate
from buyerguard.services.context import Context
from buyerguard.services.records import audit, record_repeated_decision
from buyerguard.store.db import insert_if_absent
from buyerguard.store.tables import merchant_payout_settings

NETTING_RULE = "liability.net_merchant_debt_against_sales"


def merchant_accounts(merchant_id: str) -> list[accounts.AccountSpec]:
    """Every account of the merchant's own money out: lock them together (id order)."""
    return [
        accounts.merchant_debt(merchant_id),
        accounts.merchant_payable(merchant_id),
        accounts.merchant_reserve(merchant_id),
        accounts.party_paid_out(party("merchant", merchant_id)),
    ]


@dataclass(frozen=True)
class Taken:
    """Where a sum taken from a merchant came from."""

    from_payable_fen: Fen
    from_reserve_fen: Fen
    into_debt_fen: Fen


def take_from_merchant(
    ctx: Context,
    merchant_id: str,
    amount_fen: Fen,
    credit: accounts.AccountSpec,
    transfer_id: str,
    purpose: str,
    occurred_at: datetime,
    order_id: str | None,
    decision_id: str | None,
) -> Taken:
    """Move `amount_fen` the merchant owes to `credit`: from its payable while there is
    money on it, then its reserve, the rest as debt. The caller locked `merchant_accounts`
    and `credit`."""
    sources = (
        ("", accounts.merchant_payable(merchant_id)),
        (":reserve", accounts.merchant_reserve(merchant_id)),
    )
    left_fen = amount_fen
    moved: list[Fen] = []
    for suffix, source in sources:
        part_fen = min(left_fen, max(0, balance(ctx.connection, source.id).available_fen))
        if part_fen > 0:
            post_transfer(
                ctx,
                f"{transfer_id}{suffix}",
                source,
                credit,
                part_fen,
                purpose,
                occurred_at,
                order_id,
                decision_id,
            )
        moved.append(part_fen)
        left_fen -= part_fen
    if left_fen > 0:
        post_transfer(
            ctx,
            f"{transfer_id}:debt",
            accounts.merchant_debt(merchant_id),
            credit,
            left_fen,
            purpose,
            occurred_at,
            order_id,
            decision_id,
        )
    return Taken(moved[0], moved[1], left_fen)


def post_transfer(
    ctx: Context,
    transfer_id: str,
    debit: accounts.AccountSpec,
    credit: accounts.AccountSpec,
    amount_fen: Fen,
    purpose: str,
    occurred_at: datetime,
    order_id: str | None,
    decision_id: str | None,
) -> None:
    """Post one transfer on accounts the command has locked."""
    record(
        ctx.connection,
        Transfer(
            transfer_id,
            TransferKind.POSTED,
            debit,
            credit,
            amount_fen,
            purpose,
            occurred_at,
            order_id,
            decision_id,
        ),
        ctx.now(),
        accounts_locked=True,
    )


def net_debt(ctx: Context, merchant_id: str, occurred_at: datetime, cause: str) -> Fen:
    """Settle the merchant's debt from its payable, as far as it goes (when the rulebook in
    force nets debt against sales); returns what was settled. The caller locked
    `merchant_accounts`; `cause` (what put money on the payable) names the transfer."""
    rulebook = ctx.rulebook_at(occurred_at, field="occurred_at")
    if not rulebook.liability.net_merchant_debt_against_sales:
        return 0
    debt = accounts.merchant_debt(merchant_id)
    owed_fen = balance(ctx.connection, debt.id).debit_balance_fen
    if owed_fen <= 0:
        return 0
    payable = accounts.merchant_payable(merchant_id)
    settled_fen = min(owed_fen, max(0, balance(ctx.connection, payable.id).available_fen))
    if settled_fen <= 0:
        return 0
    decision_ref = record_repeated_decision(
        ctx,
        Decision(
            "merchant_debt_netted",
            party("merchant", merchant_id),
            settled_fen,
            party("merchant", merchant_id),
            "platform",
            (NETTING_RULE,),
            rulebook.id,
            f"{format_fen(settled_fen)} of the merchant's debt of {format_fen(owed_fen)} "
            "settled from its payable",
            {"cause": cause},
        ),
        occurred_at,
    )
    post_transfer(
        ctx,
        f"net-debt:{cause}",
        payable,
        debt,
        settled_fen,
        "debt_netted",
        occurred_at,
        None,
        decision_ref,
    )
    return settled_fen


# ------------------------------------------------------------------ reserve share
def reserve_share(ctx: Context, merchant_id: str, at: datetime) -> tuple[Rate, str]:
    """The share kept back at payout, and the setting it comes from (the merchant's own,
    `merchant_payout_settings.reserve_share`, or the rule key `payouts.reserve_share`)."""
    chosen = ctx.connection.execute(
        select(merchant_payout_settings.c.reserve_share).where(
            merchant_payout_settings.c.merchant_id == merchant_id
        )
    ).scalar_one_or_none()
    if chosen is not None:
        return parse_rate(chosen), "merchant_payout_settings.reserve_share"
    return ctx.rulebook_at(at, field=None).payouts.reserve_share, "payouts.reserve_share"


def parse_reserve_share(text: object) -> Rate:
    """A share from 0 to 1 as a decimal string ("0.10"); anything else is refused."""
    share = parse_rate(text, field="reserve_share")
    if not Decimal(0) <= share <= Decimal(1):
        raise InvalidInput(
            "reserve_share_out_of_range",
            f"reserve_share must be from 0 to 1: {text!r}",
            "reserve_share",
        )
    return share


def set_reserve_share(ctx: Context, merchant_id: str, share: Rate | None) -> None:
    """Keep back `share` at this merchant's payouts; None returns it to the rulebook's."""
    table = merchant_payout_settings
    shown = None if share is None else format_rate(share)
    audit(ctx, "set_payout_settings", merchant_id, ctx.now(), reserve_share=shown)
    if share is None:
        ctx.connection.execute(table.delete().where(table.c.merchant_id == merchant_id))
        return
    values = {
        "reserve_share": shown,
        "updated_at": ctx.now(),
        "updated_by": ctx.actor.label,
    }
    inserted = insert_if_absent(
        ctx.connection, table, {"merchant_id": merchant_id, **values}, returning=table.c.merchant_id
    ).first()
    if inserted is None:
        ctx.connection.execute(
            table.update().where(table.c.merchant_id == merchant_id).values(values)
        )


# ------------------------------------------------------------------------- balance
@dataclass(frozen=True)
class MerchantBalance:
    """Where the merchant's money stands, read from its ledger accounts."""

    in_escrow_fen: Fen  # paid by buyers, held until receipt is confirmed
    payable_fen: Fen  # released, not yet instructed
    reserved_fen: Fen  # kept back at payout against after-sales
    in_flight_fen: Fen  # instructed, awaiting the execution report
    paid_out_fen: Fen  # executed payouts, to date
    debt_fen: Fen  # owed by the merchant, to be netted against sales

    @property
    def net_fen(self) -> Fen:
        """What the platform owes the merchant, all told (negative: the merchant owes)."""
        return self.payable_fen + self.reserved_fen + self.in_flight_fen - self.debt_fen


def merchant_balance(ctx: Context, merchant_id: str) -> MerchantBalance:
    payable = balance(ctx.connection, accounts.merchant_payable(merchant_id).id)
    return MerchantBalance(
        in_escrow_fen=payable.credits_pending_fen,
        payable_fen=payable.available_fen,
        reserved_fen=balance(
            ctx.connection, accounts.merchant_reserve(merchant_id).id
        ).credit_balance_fen,
        in_flight_fen=payable.debits_pending_fen,
        paid_out_fen=balance(
            ctx.connection, accounts.party_paid_out(party("merchant", merchant_id)).id
        ).credit_balance_fen,
        debt_fen=balance(ctx.connection, accounts.merchant_debt(merchant_id).id).debit_balance_fen,
    )
