"""Posting transfers: balanced, idempotent, floor-checked, append-only.

Every movement is a transfer from one account to another with an id chosen by
the caller (`fee:SUB1`): posting the same id again with the same fields is a
no-op that returns the first transfer, with different fields an error. Holds
are pending transfers that are later posted (in full or in part) or voided,
each at most once (a unique `pending_id`). Balances are kept per account as
posted and pending debits and credits; the floor of a flagged account is
enforced by a conditional UPDATE, so concurrent writers cannot overdraw it.
Each transfer also writes its raw legs to `ledger_entries`, from which
`ledger check` re-derives every balance (the statements: `ledger/postings.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, bindparam, exists, false, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert

from buyerguard.clock import ensure_utc
from buyerguard.errors import Conflict, InvalidInput
from buyerguard.ledger.accounts import AccountSpec
from buyerguard.ledger.postings import (
    DEFERRED_TRANSFERS,
    post_transfers,
    write_deferred_transfers,
)
from buyerguard.money import Fen, format_fen, require_fen
from buyerguard.store.db import insert_if_absent, is_postgres, per_transaction
from buyerguard.store.deferred_writes import deferred_rows
from buyerguard.store.tables import ledger_accounts, ledger_transfers

_HELD_ACCOUNTS = "buyerguard.held_accounts"  # per_transaction: {account id: spec}
_NEW_ACCOUNT = postgresql_insert(ledger_accounts)
_CREATE_AND_LOCK_ACCOUNTS = _NEW_ACCOUNT.on_conflict_do_update(
    index_elements=[ledger_accounts.c.id], set_={"id": _NEW_ACCOUNT.excluded.id}, where=false()
)
_TRANSFERS_BY_IDS = select(ledger_transfers).where(
    ledger_transfers.c.id.in_(bindparam("transfer_ids", expanding=True))
)
_TRANSFERS_READ = "buyerguard.transfers_read"  # per_transaction: {transfer id: row}
_RESOLUTION = ledger_transfers.alias("resolution")
# A hold and whether a transfer resolved it, in one round trip (`open_hold_fen`).
_HOLD_AND_RESOLUTION = select(
    ledger_transfers.c.kind,
    ledger_transfers.c.amount_fen,
    exists().where(_RESOLUTION.c.pending_id == ledger_transfers.c.id).label("resolved"),
).where(ledger_transfers.c.id == bindparam("hold_id"))


TRANSFERS_RECORDED = "buyerguard.transfers_recorded"  # per connection: kind -> count, until commit


class TransferKind(StrEnum):
    POSTED = "posted"
    PENDING = "pending"
    POST_PENDING = "post_pending"
    VOID_PENDING = "void_pending"


@dataclass(frozen=True)
class Transfer:
    id: str
    kind: TransferKind
    debit: AccountSpec
    credit: AccountSpec
    amount_fen: Fen
    purpose: str
    occurred_at: datetime
    order_id: str | None = None
    decision_id: str | None = None
    pending_id: str | None = None


def lock_accounts(connection: Connection, specs: list[AccountSpec], now: datetime) -> None:
    """Create (on first use) and lock every account a command will post to, in id order.

    The one lock order of the ledger: whatever order a command then posts in,
    two commands that share accounts take them in the same order, so they
    queue instead of deadlocking. Creation is an insert that skips taken ids,
    never select-then-insert, so two commands touching a new account at once
    both go on. On PostgreSQL the same statement locks the accounts that exist
    (`ON CONFLICT … DO UPDATE … WHERE false` locks the conflicting row and
    writes nothing): one round trip. SQLite has one writer and needs no row locks.
    Accounts this transaction locked already are not locked again (a case that refunds
    and compensates asks twice); when it holds them all, no statement is sent.
    """
    held = per_transaction(connection, _HELD_ACCOUNTS)
    wanted = {spec.id: spec for spec in specs if spec.id not in held}
    if not wanted:
        return
    ordered = sorted(wanted.values(), key=lambda spec: spec.id)
    rows = [
        {
            "id": spec.id,
            "party": spec.party,
            "purpose": spec.purpose,
            "debits_must_not_exceed_credits": spec.debits_must_not_exceed_credits,
            "credits_must_not_exceed_debits": spec.credits_must_not_exceed_debits,
            "debits_posted_fen": 0,
            "credits_posted_fen": 0,
            "debits_pending_fen": 0,
            "credits_pending_fen": 0,
            "created_at": now,
        }
        for spec in ordered
    ]
    if is_postgres(connection):
        connection.execute(_CREATE_AND_LOCK_ACCOUNTS, rows)
    else:
        insert_if_absent(connection, ledger_accounts, rows)
    held.update(wanted)


def open_hold_fen(connection: Connection, hold_id: str) -> Fen:
    """What the hold `hold_id` holds, if it is open; 0 when it is resolved or absent.

    The cap on a refund before release: the ledger's hold, not a column of the order.
    """
    write_deferred_transfers(connection)
    hold = connection.execute(_HOLD_AND_RESOLUTION, {"hold_id": hold_id}).first()
    if hold is None or hold.kind != TransferKind.PENDING.value or hold.resolved:
        return 0
    amount: Fen = hold.amount_fen
    return amount


def _same(existing: dict[str, object], transfer: Transfer) -> bool:
    return (
        existing["kind"] == transfer.kind.value
        and existing["debit_account_id"] == transfer.debit.id
        and existing["credit_account_id"] == transfer.credit.id
        and existing["amount_fen"] == transfer.amount_fen
        and existing["pending_id"] == transfer.pending_id
    )


def _existing(connection: Connection, transfer_id: str) -> dict[str, object] | None:
    """The transfer `transfer_id`, if it exists (`read_transfers`)."""
    read_transfers(connection, [transfer_id])
    row: dict[str, object] | None = per_transaction(connection, _TRANSFERS_READ).get(transfer_id)
    return row


def read_transfers(connection: Connection, transfer_ids: list[str]) -> None:
    """Read these transfers, in one round trip, unless this transaction has read them: a
    transfer is never changed once written, so what it read still holds (a command reads
    the holds it will post or void against at once). One not found is not remembered: this
    or another transaction may write it yet."""
    known = per_transaction(connection, _TRANSFERS_READ)
    wanted = [transfer_id for transfer_id in transfer_ids if transfer_id not in known]
    if not wanted:
        return
    write_deferred_transfers(connection)
    rows = connection.execute(_TRANSFERS_BY_IDS, {"transfer_ids": wanted}).mappings()
    known.update((row["id"], dict(row)) for row in rows)


def _posting(
    connection: Connection, transfer: Transfer, now: datetime
) -> tuple[dict[str, object], dict[str, Fen]]:
    """A transfer's row and the phases it changes, its fields checked (and its hold read,
    for a post or void of one)."""
    require_fen(transfer.amount_fen, field="amount_fen")
    if transfer.amount_fen <= 0:
        raise InvalidInput("amount_not_positive", "a transfer moves more than 0", "amount")
    if transfer.debit.id == transfer.credit.id:
        raise InvalidInput("same_account", "a transfer needs two accounts", "account")
    row: dict[str, object] = {
        "id": transfer.id,
        "kind": transfer.kind.value,
        "debit_account_id": transfer.debit.id,
        "credit_account_id": transfer.credit.id,
        "amount_fen": transfer.amount_fen,
        "pending_id": transfer.pending_id,
        "purpose": transfer.purpose,
        "order_id": transfer.order_id,
        "decision_id": transfer.decision_id,
        "occurred_at": ensure_utc(transfer.occurred_at),
        # PostgreSQL's statement of many transfers takes raw instants (no column type to
        # refuse a naive one, which it would read in the session's zone): checked here.
        "recorded_at": ensure_utc(now, field="recorded_at"),
    }
    if transfer.kind is TransferKind.POSTED:
        return row, {"posted": transfer.amount_fen}
    if transfer.kind is TransferKind.PENDING:
        return row, {"pending": transfer.amount_fen}
    held_fen = _hold_to_resolve(connection, transfer)
    released = {"posted": transfer.amount_fen} if transfer.kind is TransferKind.POST_PENDING else {}
    return row, {"pending": -held_fen, **released}


def _count_recorded(connection: Connection, kinds: list[str]) -> None:
    recorded = connection.info.setdefault(TRANSFERS_RECORDED, {})  # counted at commit (metrics)
    for kind in kinds:
        recorded[kind] = recorded.get(kind, 0) + 1


def record(
    connection: Connection, transfer: Transfer, now: datetime, *, accounts_locked: bool = False
) -> bool:
    """Post a transfer now; returns False when this exact transfer was already posted.

    `accounts_locked`: the caller has already taken both accounts with
    `lock_accounts` (a command posting several transfers takes all its
    accounts at once, in one order). Transfers recorded for later (`record_later`) are
    posted first, so the ledger sees them in the order they were made.
    """
    row, phases = _posting(connection, transfer, now)
    if not accounts_locked:
        lock_accounts(connection, [transfer.debit, transfer.credit], now)
    write_deferred_transfers(connection)
    # skipped when the id is taken, or the hold already resolved
    if transfer.id not in post_transfers(connection, [(row, phases)]):
        return _not_inserted(connection, transfer)
    _count_recorded(connection, [transfer.kind.value])
    return True


def record_later(connection: Connection, transfer: Transfer, now: datetime) -> None:
    """Post a transfer with the others of this transaction, in one statement on PostgreSQL,
    when the ledger is next read or before the commit (store/deferred_writes.py). Its
    fields and its hold are checked now; a refusal of the posting itself (a floor, a taken
    id with other fields) comes when it is written, and rolls the command back alike. The
    caller locks every account of the command first (`lock_accounts`, in id order); one it
    did not is locked here (no statement for those already held), never left to the
    posting's UPDATE, which would lock in no set order."""
    row, phases = _posting(connection, transfer, now)
    lock_accounts(connection, [transfer.debit, transfer.credit], now)
    pending = deferred_rows(connection, DEFERRED_TRANSFERS, _write_transfers)
    earlier = pending.get(transfer.id)
    if earlier is not None:
        if not _same(earlier["row"], transfer):
            raise _id_reused(transfer)
        return  # the same transfer twice in one command: posted once
    pending[transfer.id] = {"row": row, "phases": phases, "transfer": transfer}


def _write_transfers(connection: Connection, postings: list[dict[str, Any]]) -> None:
    """The deferred writer of transfers: post them together, then say why any was skipped."""
    inserted = post_transfers(connection, [(p["row"], p["phases"]) for p in postings])
    for posting in postings:
        if posting["row"]["id"] not in inserted:
            _not_inserted(connection, posting["transfer"])
    _count_recorded(connection, [p["row"]["kind"] for p in postings if p["row"]["id"] in inserted])


def _not_inserted(connection: Connection, transfer: Transfer) -> bool:
    """Why the insert did nothing: this very transfer again (a replay: False), or a refusal."""
    existing = _existing(connection, transfer.id)
    if existing is not None:
        if _same(existing, transfer):
            return False
        raise _id_reused(transfer)
    resolved = connection.execute(
        select(ledger_transfers.c.id).where(ledger_transfers.c.pending_id == transfer.pending_id)
    ).scalar_one()
    raise Conflict(
        "pending_already_resolved",
        f"hold {transfer.pending_id} was already resolved by {resolved}",
        "pending_id",
    )


def _id_reused(transfer: Transfer) -> Conflict:
    return Conflict(
        "transfer_id_reused", f"transfer {transfer.id} already exists with different fields", "id"
    )


def _hold_to_resolve(connection: Connection, transfer: Transfer) -> Fen:
    """The amount of the hold a post or void names; checks it is a hold of these accounts."""
    if transfer.pending_id is None:
        raise InvalidInput("pending_id_missing", "post/void needs a pending_id", "pending_id")
    hold = _existing(connection, transfer.pending_id)
    if hold is None or hold["kind"] != TransferKind.PENDING.value:
        raise InvalidInput(
            "unknown_pending", f"no pending transfer {transfer.pending_id}", "pending_id"
        )
    if (hold["debit_account_id"], hold["credit_account_id"]) != (
        transfer.debit.id,
        transfer.credit.id,
    ):
        raise InvalidInput(
            "pending_accounts_differ", "post/void must name the hold's accounts", "pending_id"
        )
    amount = hold["amount_fen"]
    assert isinstance(amount, int)
    if transfer.amount_fen > amount:
        raise InvalidInput(
            "post_exceeds_pending",
            f"cannot post {format_fen(transfer.amount_fen)} of a {format_fen(amount)} hold",
            "amount",
        )
    return amount
