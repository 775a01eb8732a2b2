"""Reading the ledger: an account's balances, a split account's parts and their sum, and
the accounts there are (book.py posts; check.py re-derives)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, RowMapping, bindparam, select

from buyerguard.ledger.accounts import split_part_ids
from buyerguard.ledger.postings import write_deferred_transfers
from buyerguard.money import Fen
from buyerguard.store.tables import ledger_accounts

_ACCOUNT_BY_ID = select(ledger_accounts).where(ledger_accounts.c.id == bindparam("account_id"))


@dataclass(frozen=True)
class Balance:
    account_id: str
    debits_posted_fen: Fen
    credits_posted_fen: Fen
    debits_pending_fen: Fen
    credits_pending_fen: Fen

    @property
    def credit_balance_fen(self) -> Fen:
        """Posted credits minus posted debits (what a payable or escrow holds)."""
        return self.credits_posted_fen - self.debits_posted_fen

    @property
    def available_fen(self) -> Fen:
        """What a credit-normal account can still give: its balance less what is held out
        of it (an instructed payout, an open hold) — exactly what its floor lets a debit take."""
        return self.credits_posted_fen - self.debits_posted_fen - self.debits_pending_fen

    @property
    def debit_balance_fen(self) -> Fen:
        """Posted debits minus posted credits (what a debt or receivable holds)."""
        return self.debits_posted_fen - self.credits_posted_fen


def _balance_of(row: RowMapping) -> Balance:
    """A `ledger_accounts` row's balances."""
    return Balance(
        row["id"],
        row["debits_posted_fen"],
        row["credits_posted_fen"],
        row["debits_pending_fen"],
        row["credits_pending_fen"],
    )


def account_balance(connection: Connection, account_id: str) -> Balance | None:
    """The account's balances, or None when nothing has ever touched it."""
    write_deferred_transfers(connection)
    row = connection.execute(_ACCOUNT_BY_ID, {"account_id": account_id}).mappings().first()
    return None if row is None else _balance_of(row)


def balance(connection: Connection, account_id: str) -> Balance:
    """The account's balances; an account never touched holds zero."""
    return account_balance(connection, account_id) or Balance(account_id, 0, 0, 0, 0)


def split_account_balances(connection: Connection, base_id: str) -> list[Balance]:
    """The parts of a split account (`rail:clearing` …) that have been touched, in part order
    (one statement)."""
    write_deferred_transfers(connection)
    table = ledger_accounts.c
    rows = connection.execute(
        select(ledger_accounts).where(table.id.in_(split_part_ids(base_id))).order_by(table.id)
    ).mappings()
    return [_balance_of(row) for row in rows]


def total_balance(account_id: str, parts: list[Balance]) -> Balance:
    """One balance for the whole of a split account: the sum of its parts."""
    return Balance(
        account_id,
        sum(part.debits_posted_fen for part in parts),
        sum(part.credits_posted_fen for part in parts),
        sum(part.debits_pending_fen for part in parts),
        sum(part.credits_pending_fen for part in parts),
    )


@dataclass(frozen=True)
class ListedAccount:
    """An account with what it is: whose (`party`) and what for (`purpose`)."""

    balance: Balance
    party: str
    purpose: str


def list_accounts(
    connection: Connection, *, party: str | None, after: str | None, limit: int
) -> list[ListedAccount]:
    """Accounts by id (of one party, when given), from after `after`; at most `limit`."""
    write_deferred_transfers(connection)
    table = ledger_accounts.c
    query = select(ledger_accounts).order_by(table.id).limit(limit)
    if party is not None:
        query = query.where(table.party == party)
    if after is not None:
        query = query.where(table.id > after)
    return [
        ListedAccount(_balance_of(row), row["party"], row["purpose"])
        for row in connection.execute(query).mappings()
    ]
