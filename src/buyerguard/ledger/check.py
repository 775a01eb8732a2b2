"""`ledger check` and the trial balance: trust nothing, re-derive everything.

The full pass recomputes every account's balances from the raw entries and
compares them with the running balances the book keeps, verifies that each
transfer's legs balance (per phase), that each transfer's entries are the
ones its kind implies, that holds are never over-posted (resolved at most
once is the unique `pending_id`), that no account's floor is breached and
that the whole ledger balances.

It copes with 10 M transfers (20 M+ entries) in memory bounded by the number
of accounts, not of transfers: the database sums the entries per account in
ranges of entry ids (which also drive the progress bar); one SQL statement
groups each transfer's legs, compares them with its kind and returns only the
transfers that disagree; at most `MAX_BREACHES` breaches are kept. The caller
gives one consistent snapshot (`ledger/checkpoint.py` takes it, and starts an
incremental check from the last checkpoint instead when it may).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, Row, and_, case, func, literal, or_, select

from buyerguard.clock import end_of_local_day
from buyerguard.money import Fen, format_fen
from buyerguard.store.tables import ledger_accounts, ledger_entries, ledger_transfers

# The four running balances of an account, in this order wherever a list of four is kept.
BALANCE_COLUMNS = (
    "debits_posted_fen",
    "credits_posted_fen",
    "debits_pending_fen",
    "credits_pending_fen",
)
_LEG_INDEX = {("debit", "posted"): 0, ("credit", "posted"): 1}
_LEG_INDEX |= {("debit", "pending"): 2, ("credit", "pending"): 3}
MAX_BREACHES = 1_000  # kept and printed; the rest are only counted, so memory stays bounded
ENTRY_CHUNK = 1_000_000  # entry ids summed per statement: one progress step

Balances = dict[str, list[Fen]]  # account id → its four balances (BALANCE_COLUMNS)
Progress = Callable[[str, int, int], None]  # (step, done, total): shown as a bar by the CLI


def no_progress(step: str, done: int, total: int) -> None:
    """The default: report nothing."""


@dataclass
class CheckReport:
    accounts: int = 0
    transfers: int = 0
    entries: int = 0
    total_debits_posted_fen: Fen = 0
    total_credits_posted_fen: Fen = 0
    breaches: list[str] = field(default_factory=list)
    breaches_omitted: int = 0
    full: bool = True
    horizon_entry_id: int = 0  # the highest entry id this pass counted
    checkpoint_from: int | None = None  # incremental: the checkpoint it started from
    checkpoint_written: int | None = None  # full and clean: the checkpoint it wrote
    checkpoint_note: str = ""  # why no checkpoint was written, when none was
    new_entries: int = 0  # entries re-derived by this pass (all of them when full)

    @property
    def ok(self) -> bool:
        return not self.breaches and not self.breaches_omitted

    def breach(self, message: str) -> None:
        if len(self.breaches) < MAX_BREACHES:
            self.breaches.append(message)
        else:
            self.breaches_omitted += 1


def check_ledger(connection: Connection, progress: Progress = no_progress) -> CheckReport:
    """The full pass over the caller's transaction (give it one snapshot: repeatable read)."""
    return full_pass(connection, progress)[0]


def full_pass(
    connection: Connection, progress: Progress = no_progress
) -> tuple[CheckReport, Balances]:
    """Every check over every entry; also the re-derived balances, for a checkpoint."""
    report = CheckReport()
    upto = max_entry_id(connection)
    report.horizon_entry_id = upto
    balances: Balances = {}
    sum_entries(connection, report, balances, after=0, upto=upto, progress=progress)
    progress("checking transfer legs", 0, 1)
    check_transfer_legs(connection, report)
    report.transfers = connection.execute(
        select(func.count()).select_from(ledger_transfers)
    ).scalar_one()
    progress("checking transfer legs", 1, 1)
    compare_accounts(connection, report, balances, progress)
    return report, balances


def max_entry_id(connection: Connection) -> int:
    return int(
        connection.execute(select(func.coalesce(func.max(ledger_entries.c.id), 0))).scalar_one()
    )


def sum_entries(
    connection: Connection,
    report: CheckReport,
    balances: Balances,
    *,
    after: int,
    upto: int,
    progress: Progress = no_progress,
) -> None:
    """Add each entry with `after < id <= upto` to its account's balances, by ranges of ids."""
    e = ledger_entries.c
    step = "summing entries"
    progress(step, 0, max(upto - after, 0))
    start = after
    while start < upto:
        stop = min(start + ENTRY_CHUNK, upto)
        query = (
            select(e.account_id, e.direction, e.phase, func.sum(e.amount_fen), func.count())
            .where(e.id > start, e.id <= stop)
            .group_by(e.account_id, e.direction, e.phase)
        )
        for account_id, direction, phase, total, count in connection.execute(query):
            index = _LEG_INDEX.get((direction, phase))
            if index is None:
                report.breach(f"{count} entries of account {account_id} are {direction} {phase}")
                continue
            balances.setdefault(account_id, [0, 0, 0, 0])[index] += int(total)
            report.entries += int(count)
            report.new_entries += int(count)
        progress(step, stop - after, upto - after)
        start = stop


def _leg(phase: str, direction: str) -> Any:
    e = ledger_entries.c
    amount = case((and_(e.phase == phase, e.direction == direction), e.amount_fen), else_=0)
    return func.sum(amount).label(f"{phase}_{direction}")


def check_transfer_legs(connection: Connection, report: CheckReport, *, after: int = 0) -> None:
    """Each transfer's legs against its kind; only transfers with entries after `after`
    when it is set (an incremental pass), else every transfer, entries or not."""
    e = ledger_entries.c
    grouped = select(
        e.transfer_id.label("transfer_id"),
        _leg("pending", "debit"),
        _leg("pending", "credit"),
        _leg("posted", "debit"),
        _leg("posted", "credit"),
        func.count().label("entries"),
    )
    if after:
        grouped = grouped.where(e.id > after)
    legs = grouped.group_by(e.transfer_id).subquery("legs")
    transfer = ledger_transfers.alias("transfer")
    hold = ledger_transfers.alias("hold")
    t, h = transfer.c, hold.c
    held = func.coalesce(h.amount_fen, 0)
    kind = func.coalesce(t.kind, literal("none"))
    expected_pending = case((kind == "posted", 0), (kind == "pending", t.amount_fen), else_=-held)
    expected_posted = case(
        (kind == "posted", t.amount_fen),
        (kind == "pending", 0),
        (t.amount_fen > held, -1),  # over-posted: can never match
        (kind == "post_pending", t.amount_fen),
        else_=0,
    )
    columns = [func.coalesce(getattr(legs.c, name), 0) for name in _LEG_NAMES]
    pending_debit, pending_credit, posted_debit, posted_credit = columns
    # entries without a transfer are kept (full outer when every transfer is checked)
    joined = legs.join(transfer, t.id == legs.c.transfer_id, isouter=True, full=not after)
    query = (
        select(
            func.coalesce(t.id, legs.c.transfer_id),
            t.id.is_(None),
            kind,
            *columns,
            func.coalesce(expected_pending, 0),
            func.coalesce(expected_posted, 0),
            func.coalesce(legs.c.entries, 0),
        )
        .select_from(joined.outerjoin(hold, h.id == t.pending_id))
        .where(
            or_(
                t.id.is_(None),
                pending_debit != pending_credit,
                posted_debit != posted_credit,
                pending_debit != expected_pending,
                posted_debit != expected_posted,
            )
        )
    )
    for row in connection.execute(query.execution_options(yield_per=10_000)):
        _report_legs(report, row)


_LEG_NAMES = ("pending_debit", "pending_credit", "posted_debit", "posted_credit")


def _report_legs(report: CheckReport, row: Row[Any]) -> None:
    transfer_id, orphan, kind, pd, pc, qd, qc, expected_pd, expected_qd, entries = tuple(row)
    if orphan:
        report.breach(f"{entries} entries of {transfer_id} belong to no transfer")
        return
    for phase, debits, credits in (("pending", pd, pc), ("posted", qd, qc)):
        if debits != credits:
            report.breach(
                f"transfer {transfer_id} {phase} legs do not sum to zero: debits "
                f"{format_fen(int(debits))} vs credits {format_fen(int(credits))}"
            )
    actual = {"pending": int(pd), "posted": int(qd)}
    expected = {"pending": int(expected_pd), "posted": int(expected_qd)}
    if actual != expected:
        report.breach(f"transfer {transfer_id} ({kind}) has legs {actual}, expected {expected}")


def compare_accounts(
    connection: Connection,
    report: CheckReport,
    derived: Balances,
    progress: Progress = no_progress,
) -> None:
    """Stored running balances against the re-derived ones; floors; the whole ledger balances."""
    step = "comparing accounts"
    total = connection.execute(select(func.count()).select_from(ledger_accounts)).scalar_one()
    progress(step, 0, total)
    seen: set[str] = set()
    query = (
        select(ledger_accounts).order_by(ledger_accounts.c.id).execution_options(yield_per=10_000)
    )
    for row in connection.execute(query).mappings():
        report.accounts += 1
        seen.add(row["id"])
        _compare_account(report, row, derived.get(row["id"], [0, 0, 0, 0]))
        if report.accounts % 10_000 == 0:
            progress(step, report.accounts, total)
    progress(step, report.accounts, total)
    for account_id in sorted(set(derived) - seen):
        report.breach(f"entries name account {account_id}, which does not exist")
    if report.total_debits_posted_fen != report.total_credits_posted_fen:
        report.breach(
            f"ledger does not balance: debits {format_fen(report.total_debits_posted_fen)} vs "
            f"credits {format_fen(report.total_credits_posted_fen)}"
        )


def _compare_account(report: CheckReport, row: Any, account: list[Fen]) -> None:
    account_id = row["id"]
    for column, value in zip(BALANCE_COLUMNS, account, strict=True):
        if value != row[column]:
            report.breach(
                f"account {account_id} {column}: stored {row[column]} but entries give {value}"
            )
    debits, credits, pending_debits, pending_credits = account
    report.total_debits_posted_fen += debits
    report.total_credits_posted_fen += credits
    if row["debits_must_not_exceed_credits"] and debits + pending_debits > credits:
        report.breach(
            f"account {account_id} overdrawn: debits {format_fen(debits + pending_debits)} "
            f"exceed credits {format_fen(credits)}"
        )
    if row["credits_must_not_exceed_debits"] and credits + pending_credits > debits:
        report.breach(
            f"account {account_id} in credit: credits {format_fen(credits + pending_credits)} "
            f"exceed debits {format_fen(debits)}"
        )
    if pending_debits < 0 or pending_credits < 0:
        report.breach(f"account {account_id} has negative pending balances")


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
