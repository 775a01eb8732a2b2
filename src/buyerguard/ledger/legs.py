"""A transfer's row, its two account updates and its raw legs: the statements that post it.

Both databases run the same checks: each side of a transfer is one conditional
UPDATE that refuses to cross the account's floor or the largest amount the
ledger holds. On PostgreSQL the four writes of a transfer (the transfer row,
both sides, the legs) are one statement (data-modifying `WITH`), so a posting
is one round trip instead of four; the account updates and the legs run only
if the transfer row was inserted, so a replay writes nothing. SQLite has no
data-modifying `WITH` and runs them one after the other (it has one writer and
no round trip to save).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Select,
    String,
    Update,
    bindparam,
    exists,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert

from buyerguard.errors import Conflict, InvalidInput
from buyerguard.money import MAX_FEN, Fen, format_fen
from buyerguard.store.db import insert_if_absent, is_postgres
from buyerguard.store.tables import ledger_accounts, ledger_entries, ledger_transfers

SIDES = ("debit", "credit")
_ENTRIES_INSERT = insert(ledger_entries)
Shape = tuple[tuple[str, bool], ...]  # (phase, whether its amount adds) for each phase changed


class BalanceFloorBreached(Conflict):
    def __init__(self, account_id: str, amount_fen: Fen) -> None:
        super().__init__(
            "balance_floor",
            f"moving {format_fen(amount_fen)} would breach the floor of account {account_id}",
            "amount",
        )


@functools.cache
def _account_update(side: str, shape: Shape, floored: bool) -> Update:
    """The conditional UPDATE of one side of an account, built once per shape: the
    phases it changes, whether each adds (then checked against the largest amount),
    and whether the whole adds (then checked against the floor, `added_fen`).
    The account is the parameter `<side>_account_id`, amounts are `add_<phase>`."""
    table = ledger_accounts.c
    columns = {phase: getattr(table, f"{side}s_{phase}_fen") for phase, _adds in shape}
    amounts = {phase: bindparam(f"add_{phase}", type_=BigInteger) for phase, _adds in shape}
    added = bindparam("added_fen", type_=BigInteger)
    statement = update(ledger_accounts).where(table.id == bindparam(f"{side}_account_id"))
    if floored:
        if side == "debit":
            floor = or_(
                not_(table.debits_must_not_exceed_credits),
                table.debits_posted_fen + table.debits_pending_fen
                <= table.credits_posted_fen - added,
            )
        else:
            floor = or_(
                not_(table.credits_must_not_exceed_debits),
                table.credits_posted_fen + table.credits_pending_fen
                <= table.debits_posted_fen - added,
            )
        statement = statement.where(floor)
    for phase, adds in shape:
        if adds:
            # Written so that the comparison itself cannot overflow BIGINT on PostgreSQL
            # (nor turn into a float on SQLite): `column + amount <= MAX` would.
            statement = statement.where(columns[phase] <= MAX_FEN - amounts[phase])
    return statement.values({columns[phase]: columns[phase] + amounts[phase] for phase in columns})


def _param(column: str) -> str:
    """The parameter of a transfer column in `_posting`. Not the column's own name: an UPDATE
    executed with a parameter named like a column of its table (`id`) also SETs it."""
    return (
        column
        if column in ("debit_account_id", "credit_account_id", "recorded_at")
        else (f"transfer_{column}")
    )


@functools.cache
def _posting(shape: Shape, floored: bool) -> Select[Any]:
    """PostgreSQL: insert the transfer (skipped if its id or its hold is taken) and, only if
    it went in, update both accounts and write the legs; answers how many rows each wrote."""
    new_transfer = (
        postgresql_insert(ledger_transfers)
        .values({c.name: bindparam(_param(c.name), type_=c.type) for c in ledger_transfers.columns})
        .on_conflict_do_nothing()
        .returning(ledger_transfers.c.id)
        .cte("new_transfer")
    )
    inserted = exists(select(new_transfer.c.id))
    sides = {
        side: _account_update(side, shape, floored)
        .where(inserted)
        .returning(ledger_accounts.c.id)
        .cte(f"{side}_side")
        for side in SIDES
    }
    legs = union_all(
        *(
            select(
                new_transfer.c.id,
                bindparam(f"{side}_account_id", type_=String),
                literal(phase, String),
                literal(side, String),
                bindparam(f"add_{phase}", type_=BigInteger),
                bindparam("recorded_at", type_=ledger_entries.c.recorded_at.type),
            )
            for phase, _adds in shape
            for side in SIDES
        )
    )
    write_legs = (
        insert(ledger_entries)
        .from_select(
            ["transfer_id", "account_id", "phase", "direction", "amount_fen", "recorded_at"], legs
        )
        .cte("legs")
    )

    def count(cte: Any) -> Any:
        return select(func.count()).select_from(cte).scalar_subquery()

    return select(count(new_transfer), count(sides["debit"]), count(sides["credit"])).add_cte(
        write_legs
    )


def post_transfer(
    connection: Connection,
    row: Mapping[str, object],
    phases: dict[str, Fen],
    now: datetime,
) -> bool:
    """Insert the transfer `row` and, if it went in, add `phases` to both its accounts and
    write its legs; False (nothing written) when the insert skipped it. A side that would
    cross its floor or the largest amount is refused (the command then rolls back)."""
    added_fen = sum(phases.values())
    shape = tuple((phase, amount_fen > 0) for phase, amount_fen in phases.items())
    amounts = {f"add_{phase}": amount_fen for phase, amount_fen in phases.items()}
    if added_fen > 0:
        amounts["added_fen"] = added_fen
    if is_postgres(connection):
        parameters = {**{_param(name): value for name, value in row.items()}, **amounts}
        transfers, *sides = connection.execute(_posting(shape, added_fen > 0), parameters).one()
        if transfers == 0:
            return False
        for side, updated in zip(SIDES, sides, strict=True):
            if updated != 1:
                _refuse(connection, str(row[f"{side}_account_id"]), side, phases)
        return True
    inserted = insert_if_absent(connection, ledger_transfers, dict(row), ledger_transfers.c.id)
    if inserted.first() is None:
        return False
    for side in SIDES:
        account_id = str(row[f"{side}_account_id"])
        statement = _account_update(side, shape, added_fen > 0)
        parameters = {f"{side}_account_id": account_id, **amounts}
        if connection.execute(statement, parameters).rowcount != 1:
            _refuse(connection, account_id, side, phases)
    connection.execute(
        _ENTRIES_INSERT,
        [
            {
                "transfer_id": row["id"],
                "account_id": row[f"{side}_account_id"],
                "phase": phase,
                "direction": side,
                "amount_fen": amount_fen,
                "recorded_at": now,
            }
            for phase, amount_fen in phases.items()
            for side in SIDES
        ],
    )
    return True


def _refuse(connection: Connection, account_id: str, side: str, phases: dict[str, Fen]) -> None:
    """Why a side's update changed no row: an amount beyond the largest, else the floor."""
    table = ledger_accounts.c
    for phase, amount_fen in phases.items():
        column = getattr(table, f"{side}s_{phase}_fen")
        current = connection.execute(
            select(column).where(table.id == account_id)
        ).scalar_one_or_none()
        if amount_fen > 0 and current is not None and current > MAX_FEN - amount_fen:
            raise InvalidInput(
                "amount_too_large",
                f"moving {format_fen(amount_fen)} would take account {account_id} beyond "
                f"the largest amount the ledger holds ({format_fen(MAX_FEN)})",
                "amount",
            )
    raise BalanceFloorBreached(account_id, max(phases.values()))
