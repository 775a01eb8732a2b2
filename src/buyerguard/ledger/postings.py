"""The statements that post transfers — one (`ledger.book.record`) or many: those a command
records for later (`ledger.book.record_later`), written together when the ledger is next
read or before the commit — on PostgreSQL one statement whatever their number, on SQLite
one after the other (one writer, no round trip to save).

A command's transfers are atomic, so each account is checked once, on its net change: its
floor (a flagged side may not exceed the other's posted total) and the largest amount a
BIGINT holds, applied to where the account ends, on both databases alike (`_refusal` is the
one rule; PostgreSQL's statement applies the same conditions and, when one fails,
`_refusal` names why). Only transfers whose insert went in (not a taken id, not a hold
already resolved) write legs and move balances, so a replay writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, text, update

from buyerguard.errors import BuyerguardError, Conflict, InvalidInput
from buyerguard.money import MAX_FEN, Fen, format_fen
from buyerguard.store.db import insert_if_absent, is_postgres
from buyerguard.store.deferred_writes import write_deferred
from buyerguard.store.tables import ledger_accounts, ledger_entries, ledger_transfers

SIDES = ("debit", "credit")
DEFERRED_TRANSFERS = "ledger_transfers"  # the kind of deferred rows (store/deferred_writes.py)
Posting = tuple[Mapping[str, object], Mapping[str, Fen]]  # a transfer's row, its phases
COLUMNS = ("debits_posted_fen", "debits_pending_fen", "credits_posted_fen", "credits_pending_fen")
_ACCOUNTS_BY_IDS = select(ledger_accounts).where(
    ledger_accounts.c.id.in_(bindparam("account_ids", expanding=True))
)
_MOVE_ACCOUNT = (
    update(ledger_accounts)
    .where(ledger_accounts.c.id == bindparam("account_id"))
    .values({name: ledger_accounts.c[name] + bindparam(f"add_{name}") for name in COLUMNS})
)
_LEG_COLUMNS = ("transfer_id", "account_id", "phase", "direction", "amount_fen", "recorded_at")
_LEG_ARRAYS = (
    "leg_transfer_ids",
    "leg_account_ids",
    "leg_phases",
    "leg_directions",
    "leg_amounts",
    "leg_recorded_ats",
)


class BalanceFloorBreached(Conflict):
    def __init__(self, account_id: str, amount_fen: Fen) -> None:
        super().__init__(
            "balance_floor",
            f"moving {format_fen(amount_fen)} would breach the floor of account {account_id}",
            "amount",
        )


def write_deferred_transfers(connection: Connection) -> None:
    """Post the transfers this transaction has recorded and not written yet: whoever reads
    the ledger (a balance, a transfer, a hold) calls this first, or would miss them."""
    write_deferred(connection, DEFERRED_TRANSFERS)


# PostgreSQL: the rows as arrays, so the text is one whatever their number; the sums are
# numeric, so no comparison can overflow BIGINT. The conditions are `_refusal`'s.
_POST_MANY = text(
    """
WITH input AS (
  SELECT * FROM unnest(
    CAST(:ids AS text[]), CAST(:kinds AS text[]), CAST(:debit_ids AS text[]),
    CAST(:credit_ids AS text[]), CAST(:amounts AS bigint[]), CAST(:pending_ids AS text[]),
    CAST(:purposes AS text[]), CAST(:order_ids AS text[]), CAST(:decision_ids AS text[]),
    CAST(:occurred_ats AS timestamptz[]), CAST(:recorded_ats AS timestamptz[])
  ) WITH ORDINALITY AS t(id, kind, debit_account_id, credit_account_id, amount_fen, pending_id,
                         purpose, order_id, decision_id, occurred_at, recorded_at, position)
),
new_transfers AS (
  INSERT INTO ledger_transfers (id, kind, debit_account_id, credit_account_id, amount_fen,
                                pending_id, purpose, order_id, decision_id, occurred_at,
                                recorded_at)
  SELECT id, kind, debit_account_id, credit_account_id, amount_fen, pending_id, purpose,
         order_id, decision_id, occurred_at, recorded_at
  FROM input ORDER BY position
  ON CONFLICT DO NOTHING
  RETURNING id
),
legs AS (
  SELECT l.* FROM unnest(
    CAST(:leg_transfer_ids AS text[]), CAST(:leg_account_ids AS text[]),
    CAST(:leg_phases AS text[]), CAST(:leg_directions AS text[]), CAST(:leg_amounts AS bigint[]),
    CAST(:leg_recorded_ats AS timestamptz[])
  ) WITH ORDINALITY AS l(transfer_id, account_id, phase, direction, amount_fen, recorded_at,
                         position)
  WHERE l.transfer_id IN (SELECT id FROM new_transfers)
),
written_legs AS (
  INSERT INTO ledger_entries (transfer_id, account_id, phase, direction, amount_fen, recorded_at)
  SELECT transfer_id, account_id, phase, direction, amount_fen, recorded_at
  FROM legs ORDER BY position
  RETURNING 1
),
deltas AS (
  SELECT account_id,
    coalesce(sum(amount_fen) FILTER (WHERE direction = 'debit' AND phase = 'posted'), 0) AS dp,
    coalesce(sum(amount_fen) FILTER (WHERE direction = 'debit' AND phase = 'pending'), 0) AS dq,
    coalesce(sum(amount_fen) FILTER (WHERE direction = 'credit' AND phase = 'posted'), 0) AS cp,
    coalesce(sum(amount_fen) FILTER (WHERE direction = 'credit' AND phase = 'pending'), 0) AS cq
  FROM legs GROUP BY account_id
),
moved AS (
  UPDATE ledger_accounts AS a SET
    debits_posted_fen = a.debits_posted_fen + d.dp,
    debits_pending_fen = a.debits_pending_fen + d.dq,
    credits_posted_fen = a.credits_posted_fen + d.cp,
    credits_pending_fen = a.credits_pending_fen + d.cq
  FROM deltas AS d
  WHERE a.id = d.account_id
    AND (d.dp <= 0 OR a.debits_posted_fen <= :max_fen - d.dp)
    AND (d.dq <= 0 OR a.debits_pending_fen <= :max_fen - d.dq)
    AND (d.cp <= 0 OR a.credits_posted_fen <= :max_fen - d.cp)
    AND (d.cq <= 0 OR a.credits_pending_fen <= :max_fen - d.cq)
    AND (NOT a.debits_must_not_exceed_credits OR (d.dp + d.dq <= 0 AND d.cp >= 0)
         OR CAST(a.debits_posted_fen AS numeric) + a.debits_pending_fen + d.dp + d.dq
            <= CAST(a.credits_posted_fen AS numeric) + d.cp)
    AND (NOT a.credits_must_not_exceed_debits OR (d.cp + d.cq <= 0 AND d.dp >= 0)
         OR CAST(a.credits_posted_fen AS numeric) + a.credits_pending_fen + d.cp + d.cq
            <= CAST(a.debits_posted_fen AS numeric) + d.dp)
  RETURNING a.id
)
SELECT
  (SELECT coalesce(array_agg(id), '{}') FROM new_transfers) AS inserted,
  (SELECT coalesce(array_agg(account_id ORDER BY account_id), '{}') FROM deltas) AS touched,
  (SELECT coalesce(array_agg(id), '{}') FROM moved) AS moved
"""
)


def _legs_of(row: Mapping[str, object], phases: Mapping[str, Fen]) -> list[tuple[Any, ...]]:
    """(transfer id, account, phase, direction, amount, recorded at) of each leg of one
    transfer."""
    return [
        (row["id"], row[f"{side}_account_id"], phase, side, amount_fen, row["recorded_at"])
        for phase, amount_fen in phases.items()
        for side in SIDES
    ]


def _changes(legs: list[tuple[Any, ...]]) -> dict[str, dict[str, Fen]]:
    """Each account's net change, by balance column."""
    changes: dict[str, dict[str, Fen]] = {}
    for _transfer, account_id, phase, direction, amount_fen, _recorded_at in legs:
        change = changes.setdefault(account_id, dict.fromkeys(COLUMNS, 0))
        change[f"{direction}s_{phase}_fen"] += amount_fen
    return changes


def _refusal(account: Any, change: Mapping[str, Fen]) -> BuyerguardError | None:
    """Why `account` (its row) cannot take `change`, or None: a column beyond the largest
    amount; a floor crossed where the account would end, when the change could cross it."""
    for name, amount_fen in change.items():
        if amount_fen > 0 and getattr(account, name) > MAX_FEN - amount_fen:
            return InvalidInput(
                "amount_too_large",
                f"moving {format_fen(amount_fen)} would take account {account.id} beyond "
                f"the largest amount the ledger holds ({format_fen(MAX_FEN)})",
                "amount",
            )
    ends = {name: getattr(account, name) + change[name] for name in COLUMNS}
    for side, other, flag in (
        ("debits", "credits", account.debits_must_not_exceed_credits),
        ("credits", "debits", account.credits_must_not_exceed_debits),
    ):
        added = change[f"{side}_posted_fen"] + change[f"{side}_pending_fen"]
        could_cross = added > 0 or change[f"{other}_posted_fen"] < 0
        if (
            flag
            and could_cross
            and ends[f"{side}_posted_fen"] + ends[f"{side}_pending_fen"]
            > ends[f"{other}_posted_fen"]
        ):
            return BalanceFloorBreached(account.id, max(added, -change[f"{other}_posted_fen"]))
    return None


def post_transfers(connection: Connection, postings: list[Posting]) -> set[str]:
    """Post transfers (each a `ledger_transfers` row and the phases it changes: posted and
    pending amounts, a resolved hold's negative) and answer the ids that went in; the others
    were skipped (a taken id, a resolved hold). An account that cannot take its net change
    refuses the whole (the command rolls back)."""
    if is_postgres(connection):
        return _post_in_one_statement(connection, postings)
    inserted = set()
    for row, _phases in postings:
        went_in = insert_if_absent(connection, ledger_transfers, dict(row), ledger_transfers.c.id)
        if went_in.first() is not None:
            inserted.add(str(row["id"]))
    legs = [
        leg for row, phases in postings if row["id"] in inserted for leg in _legs_of(row, phases)
    ]
    changes = _changes(legs)
    found = connection.execute(_ACCOUNTS_BY_IDS, {"account_ids": sorted(changes)})
    for account in sorted(found, key=lambda account: str(account.id)):
        refusal = _refusal(account, changes[account.id])
        if refusal is not None:
            raise refusal
    if legs:
        rows = [dict(zip(_LEG_COLUMNS, leg, strict=True)) for leg in legs]
        connection.execute(insert(ledger_entries), rows)
        connection.execute(
            _MOVE_ACCOUNT,
            [
                {"account_id": account_id} | {f"add_{name}": change[name] for name in COLUMNS}
                for account_id, change in sorted(changes.items())
            ],
        )
    return inserted


def _post_in_one_statement(connection: Connection, postings: list[Posting]) -> set[str]:
    legs = [leg for row, phases in postings for leg in _legs_of(row, phases)]

    def column(name: str) -> list[object]:
        return [row[name] for row, _phases in postings]

    parameters = {
        "ids": column("id"),
        "kinds": column("kind"),
        "debit_ids": column("debit_account_id"),
        "credit_ids": column("credit_account_id"),
        "amounts": column("amount_fen"),
        "pending_ids": column("pending_id"),
        "purposes": column("purpose"),
        "order_ids": column("order_id"),
        "decision_ids": column("decision_id"),
        "occurred_ats": column("occurred_at"),
        "recorded_ats": column("recorded_at"),
        "max_fen": MAX_FEN,
        **{name: [leg[index] for leg in legs] for index, name in enumerate(_LEG_ARRAYS)},
    }
    inserted, touched, moved = connection.execute(_POST_MANY, parameters).one()
    refused = sorted(set(touched) - set(moved))
    if refused:
        changes = _changes([leg for leg in legs if leg[0] in set(inserted)])
        found = connection.execute(_ACCOUNTS_BY_IDS, {"account_ids": refused})
        for account in sorted(found, key=lambda account: str(account.id)):
            refusal = _refusal(account, changes[account.id])
            if refusal is not None:
                raise refusal
        raise BalanceFloorBreached(refused[0], 0)  # the statement's check, whatever the row
    return set(inserted)
