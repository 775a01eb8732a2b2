"""`ledger check` and the trial balance: trust nothing, re-derive everything.

The check recomputes every account's balances from the raw entries and
compares them with the running balances the book keeps, verifies that each
transfer's legs balance (per phase), that each transfer's entries are the
ones its kind implies, that holds are resolved at most once and never
over-posted, and that no account's floor is breached.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, Row, select

from buyerguard.clock import end_of_local_day
from buyerguard.money import Fen, format_fen
from buyerguard.store.tables import ledger_accounts, ledger_entries, ledger_transfers


@dataclass
class CheckReport:
    accounts: int = 0
    transfers: int = 0
    entries: int = 0
    total_debits_posted_fen: Fen = 0
    total_credits_posted_fen: Fen = 0
    breaches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaches


def check_ledger(connection: Connection) -> CheckReport:
    report = CheckReport()
    transfers = {row.id: row for row in connection.execute(select(ledger_transfers))}
    report.transfers = len(transfers)
    derived: dict[str, dict[str, Fen]] = defaultdict(lambda: defaultdict(int))
    per_transfer: dict[tuple[str, str], dict[str, Fen]] = defaultdict(lambda: defaultdict(int))
    for entry in connection.execute(select(ledger_entries)):
        report.entries += 1
        derived[entry.account_id][f"{entry.direction}s_{entry.phase}_fen"] += entry.amount_fen
        per_transfer[(entry.transfer_id, entry.phase)][entry.direction] += entry.amount_fen
        if entry.transfer_id not in transfers:
            report.breaches.append(f"entry {entry.id} belongs to no transfer")
    for (transfer_id, phase), sides in per_transfer.items():
        if sides["debit"] != sides["credit"]:
            report.breaches.append(
                f"transfer {transfer_id} {phase} legs do not sum to zero: debits "
                f"{format_fen(sides['debit'])} vs credits {format_fen(sides['credit'])}"
            )
    for transfer in transfers.values():
        expected = _expected_legs(transfer, transfers)
        actual = {
            phase: per_transfer.get((transfer.id, phase), {}).get("debit", 0)
            for phase in ("pending", "posted")
        }
        if expected != actual:
            report.breaches.append(
                f"transfer {transfer.id} ({transfer.kind}) has legs {actual}, expected {expected}"
            )
    for row in connection.execute(select(ledger_accounts)).mappings():
        report.accounts += 1
        account = derived.get(row["id"], {})
        for column in (
            "debits_posted_fen",
            "credits_posted_fen",
            "debits_pending_fen",
            "credits_pending_fen",
        ):
            if account.get(column, 0) != row[column]:
                report.breaches.append(
                    f"account {row['id']} {column}: stored {row[column]} but entries give "
                    f"{account.get(column, 0)}"
                )
        debits = account.get("debits_posted_fen", 0)
        credits = account.get("credits_posted_fen", 0)
        report.total_debits_posted_fen += debits
        report.total_credits_posted_fen += credits
        pending_debits = account.get("debits_pending_fen", 0)
        pending_credits = account.get("credits_pending_fen", 0)
        if row["debits_must_not_exceed_credits"] and debits + pending_debits > credits:
            report.breaches.append(
                f"account {row['id']} overdrawn: debits {format_fen(debits + pending_debits)} "
                f"exceed credits {format_fen(credits)}"
            )
        if row["credits_must_not_exceed_debits"] and credits + pending_credits > debits:
            report.breaches.append(
                f"account {row['id']} in credit: credits {format_fen(credits + pending_credits)} "
                f"exceed debits {format_fen(debits)}"
            )
        if pending_debits < 0 or pending_credits < 0:
            report.breaches.append(f"account {row['id']} has negative pending balances")
    if report.total_debits_posted_fen != report.total_credits_posted_fen:
        report.breaches.append(
            f"ledger does not balance: debits {format_fen(report.total_debits_posted_fen)} vs "
            f"credits {format_fen(report.total_credits_posted_fen)}"
        )
    return report


def _expected_legs(transfer: Row[Any], transfers: Mapping[str, Row[Any]]) -> dict[str, Fen]:
    """The debit total per phase a transfer of this kind must have written."""
    kind = transfer.kind
    amount = int(transfer.amount_fen)
    if kind == "posted":
        return {"pending": 0, "posted": amount}
    if kind == "pending":
        return {"pending": amount, "posted": 0}
    hold = transfers.get(str(transfer.pending_id))
    held = int(hold.amount_fen) if hold is not None else 0
    if amount > held:
        return {"pending": -held, "posted": -1}  # over-posted: can never match
    return {"pending": -held, "posted": amount if kind == "post_pending" else 0}


@dataclass(frozen=True)
class TrialBalanceLine:
    account_id: str
    debits_fen: Fen
    credits_fen: Fen

    @property
    def net_fen(self) -> Fen:
        return self.debits_fen - self.credits_fen


def trial_balance(connection: Connection, day: date) -> list[TrialBalanceLine]:
    """Posted debits and credits per account at the end of a Shanghai day."""
    cutoff = end_of_local_day(day)
    totals: dict[str, dict[str, Fen]] = defaultdict(lambda: defaultdict(int))
    query = (
        select(ledger_entries.c.account_id, ledger_entries.c.direction, ledger_entries.c.amount_fen)
        .join(ledger_transfers, ledger_transfers.c.id == ledger_entries.c.transfer_id)
        .where(ledger_entries.c.phase == "posted", ledger_transfers.c.occurred_at < cutoff)
    )
    for account_id, direction, amount_fen in connection.execute(query):
        totals[account_id][direction] += amount_fen
    return [
        TrialBalanceLine(account_id, sides["debit"], sides["credit"])
        for account_id, sides in sorted(totals.items())
    ]
