"""A merchant's monthly statement, read from the ledger so that it adds up to it.

The balance a statement follows is what the platform owes the merchant: its
payable and reserve less its debt (posted amounts; a payout still in flight
is owed until it is executed). Lines are the month's postings on those
accounts grouped by purpose; a movement between them (a reserve kept, a debt
netted) changes nothing and shows as 0. A month is the Shanghai calendar
month of when each posting was recorded, so a month's statement never
changes once the month is over.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, case, func, select

from buyerguard.clock import LATEST_LOCAL_DATE, start_of_local_day
from buyerguard.errors import InvalidInput
from buyerguard.ledger import accounts
from buyerguard.money import Fen
from buyerguard.services.context import Context
from buyerguard.store.tables import ledger_entries, ledger_transfers

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
# Purpose of a posting -> the statement line it belongs to.
LINES = {
    "escrow_release": "releases",
    "technical_service_fee": "fees",
    "fee_refund": "fee_refunds",
    "refund_after_release": "refunds",
    "clawback": "clawbacks",
    "compensation": "compensation",
    "transit_claim": "transit_claims",
    "quick_refund_absorbed": "quick_refunds_absorbed",
    "payout_executed": "payouts",
    "debt_netted": "transfers_between_accounts",
    "reserve_kept": "transfers_between_accounts",
    "reserve_released": "transfers_between_accounts",
}
LINE_ORDER = (
    "releases",
    "fees",
    "fee_refunds",
    "refunds",
    "clawbacks",
    "compensation",
    "transit_claims",
    "quick_refunds_absorbed",
    "payouts",
    "transfers_between_accounts",
    "other",
)


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """[start, end) of a `YYYY-MM` Shanghai month, in UTC."""
    match = _MONTH.match(month)
    if (
        match is None
        or not 1 <= int(match.group(2)) <= 12
        or not 1970 <= int(match.group(1)) <= LATEST_LOCAL_DATE.year
    ):
        raise InvalidInput(
            "month_malformed",
            f"month must be YYYY-MM, from 1970-01 to {LATEST_LOCAL_DATE:%Y-%m}: {month!r}",
            "month",
        )
    year, number = int(match.group(1)), int(match.group(2))
    following = date(year + number // 12, number % 12 + 1, 1)
    return start_of_local_day(date(year, number, 1)), start_of_local_day(following)


def _signed() -> Any:
    """An entry's effect on what the platform owes the merchant: credits add, debits take."""
    return case(
        (ledger_entries.c.direction == "credit", ledger_entries.c.amount_fen),
        else_=-ledger_entries.c.amount_fen,
    )


def _owed_before(connection: Connection, account_ids: list[str], instant: datetime) -> Fen:
    total = connection.execute(
        select(func.coalesce(func.sum(_signed()), 0)).where(
            ledger_entries.c.account_id.in_(account_ids),
            ledger_entries.c.phase == "posted",
            ledger_entries.c.recorded_at < instant,
        )
    ).scalar_one()
    return int(total)


def _in_flight_before(connection: Connection, payable_id: str, instant: datetime) -> Fen:
    """Payouts instructed and not yet resolved at `instant` (a resolved hold's entries
    include its release, a negative pending debit)."""
    total = connection.execute(
        select(func.coalesce(func.sum(ledger_entries.c.amount_fen), 0)).where(
            ledger_entries.c.account_id == payable_id,
            ledger_entries.c.phase == "pending",
            ledger_entries.c.direction == "debit",
            ledger_entries.c.recorded_at < instant,
        )
    ).scalar_one()
    return int(total)


def monthly_statement(ctx: Context, merchant_id: str, month: str) -> dict[str, Any]:
    """Opening balance, the month's lines, closing balance; exact to the fen."""
    start, end = month_bounds(month)
    payable = accounts.merchant_payable(merchant_id).id
    account_ids = [payable, accounts.merchant_reserve(merchant_id).id]
    debt = accounts.merchant_debt(merchant_id).id
    owed_ids = [*account_ids, debt]
    opening_fen = _owed_before(ctx.connection, owed_ids, start)
    rows = ctx.connection.execute(
        select(ledger_transfers.c.purpose, func.sum(_signed()))
        .select_from(
            ledger_entries.join(
                ledger_transfers, ledger_transfers.c.id == ledger_entries.c.transfer_id
            )
        )
        .where(
            ledger_entries.c.account_id.in_(owed_ids),
            ledger_entries.c.phase == "posted",
            ledger_entries.c.recorded_at >= start,
            ledger_entries.c.recorded_at < end,
        )
        .group_by(ledger_transfers.c.purpose)
    )
    lines = dict.fromkeys(LINE_ORDER, 0)
    for purpose, amount in rows:
        lines[LINES.get(str(purpose), "other")] += int(amount)
    closing_fen = opening_fen + sum(lines.values())
    return {
        "merchant_id": merchant_id,
        "month": month,
        "from": start,
        "until": end,
        "complete": ctx.now() >= end,
        "opening_balance_fen": opening_fen,
        "lines_fen": lines,
        "closing_balance_fen": closing_fen,
        "in_flight_at_close_fen": _in_flight_before(ctx.connection, payable, end),
        "debt_at_close_fen": -_owed_before(ctx.connection, [debt], end),
    }
