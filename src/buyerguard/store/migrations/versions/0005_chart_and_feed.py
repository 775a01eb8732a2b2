"""chart of accounts without hot rows; an event feed without a global counter row

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 01:00:00

The chart of accounts is re-homed, history included, so every transfer keeps
its id, kind and amount and every hold stays resolvable by its id:
- `platform:escrow` becomes the escrow of each order's merchant
  (`merchant:{M}:escrow`);
- `rail:clearing` and `platform:fee_revenue` become their parts (`:{k:02d}`,
  the part of the order, resp. of the sub-order, as `ledger.accounts` picks);
- every released sub-order gets its refundable balance (`refundable:{sub}`),
  the cap on refunds after release.
Balances are then re-derived from the entries, so they stay what the entries
say. Decisions keep their feed position (`seq` becomes `position`, so every
consumer's cursor stays valid) and get an `ordinal`; on PostgreSQL new
ordinals come from the `decision_ordinal` sequence.
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from buyerguard.ledger.accounts import part_of

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK = 500


def _now() -> datetime:
    return datetime.now(UTC)


def _ensure_account(
    connection: sa.Connection, account_id: str, party: str, purpose: str, floor: str
) -> None:
    """`floor`: "debits" (credit-normal: never overdrawn), "credits" (debit-normal) or ""."""
    exists = connection.execute(
        sa.text("SELECT 1 FROM ledger_accounts WHERE id = :id"), {"id": account_id}
    ).first()
    if exists:
        return
    connection.execute(
        sa.text(
            "INSERT INTO ledger_accounts (id, party, purpose, debits_must_not_exceed_credits, "
            "credits_must_not_exceed_debits, debits_posted_fen, credits_posted_fen, "
            "debits_pending_fen, credits_pending_fen, created_at) VALUES "
            "(:id, :party, :purpose, :dr, :cr, 0, 0, 0, 0, :now)"
        ),
        {
            "id": account_id,
            "party": party,
            "purpose": purpose,
            "dr": floor == "debits",
            "cr": floor == "credits",
            "now": _now(),
        },
    )


def _rehome(connection: sa.Connection, old_id: str, new_of_transfer: dict[str, str]) -> None:
    """Point every transfer (and its entries) on `old_id` to its new account."""
    by_new: dict[str, list[str]] = defaultdict(list)
    for transfer_id, new_id in new_of_transfer.items():
        by_new[new_id].append(transfer_id)
    for new_id, transfer_ids in by_new.items():
        for start in range(0, len(transfer_ids), CHUNK):
            chunk = transfer_ids[start : start + CHUNK]
            params = {"old": old_id, "new": new_id, "ids": chunk}
            for column in ("debit_account_id", "credit_account_id"):
                connection.execute(
                    sa.text(
                        f"UPDATE ledger_transfers SET {column} = :new "
                        f"WHERE {column} = :old AND id IN :ids"
                    ).bindparams(sa.bindparam("ids", expanding=True)),
                    params,
                )
            connection.execute(
                sa.text(
                    "UPDATE ledger_entries SET account_id = :new "
                    "WHERE account_id = :old AND transfer_id IN :ids"
                ).bindparams(sa.bindparam("ids", expanding=True)),
                params,
            )


def _transfers_on(connection: sa.Connection, account_id: str) -> list[sa.Row[tuple[str, str]]]:
    return list(
        connection.execute(
            sa.text(
                "SELECT id, order_id FROM ledger_transfers "
                "WHERE debit_account_id = :a OR credit_account_id = :a"
            ),
            {"a": account_id},
        )
    )


def _split_chart(connection: sa.Connection) -> None:
    merchant_of: dict[str, str] = dict(
        connection.execute(sa.text("SELECT id, merchant_id FROM orders")).all()
    )
    escrow = {
        row.id: f"merchant:{merchant_of[row.order_id]}:escrow"
        for row in _transfers_on(connection, "platform:escrow")
    }
    for new_id in set(escrow.values()):
        _ensure_account(connection, new_id, new_id.rsplit(":", 1)[0], "escrow", "debits")
    _rehome(connection, "platform:escrow", escrow)

    clearing = {
        row.id: f"rail:clearing:{part_of(row.order_id):02d}"
        for row in _transfers_on(connection, "rail:clearing")
    }
    for new_id in set(clearing.values()):
        _ensure_account(connection, new_id, "rail", "clearing", "")
    _rehome(connection, "rail:clearing", clearing)

    fees: dict[str, str] = {}
    for row in _transfers_on(connection, "platform:fee_revenue"):
        sub_id = row.id.split(":", 1)[1]  # fee:{sub}
        fees[row.id] = f"platform:fee_revenue:{part_of(sub_id):02d}"
    for new_id in set(fees.values()):
        _ensure_account(connection, new_id, "platform", "fee_revenue", "debits")
    _rehome(connection, "platform:fee_revenue", fees)

    _open_refundable_balances(connection)
    _rederive_balances(connection)
    for old_id in ("platform:escrow", "rail:clearing", "platform:fee_revenue"):
        connection.execute(
            sa.text(
                "DELETE FROM ledger_accounts WHERE id = :id AND NOT EXISTS "
                "(SELECT 1 FROM ledger_entries WHERE account_id = :id)"
            ),
            {"id": old_id},
        )


def _open_refundable_balances(connection: sa.Connection) -> None:
    """Every sub-order released before this release gets the balance a release now opens."""
    releases = connection.execute(
        sa.text(
            "SELECT id, amount_fen, order_id, decision_id, occurred_at FROM ledger_transfers "
            "WHERE kind = 'post_pending' AND purpose = 'escrow_release' AND id LIKE 'release:%' "
            "AND id NOT LIKE 'release-shipping:%'"
        )
    ).all()
    now = _now()
    for release in releases:
        sub_id = release.id.split(":", 1)[1]
        transfer_id = f"refundable:{sub_id}"
        if connection.execute(
            sa.text("SELECT 1 FROM ledger_transfers WHERE id = :id"), {"id": transfer_id}
        ).first():
            continue
        control = f"platform:refundable_issued:{part_of(sub_id):02d}"
        refundable = f"sub_order:{sub_id}:refundable"
        _ensure_account(connection, control, "platform", "refundable_issued", "credits")
        _ensure_account(connection, refundable, f"sub_order:{sub_id}", "refundable", "debits")
        connection.execute(
            sa.text(
                "INSERT INTO ledger_transfers (id, kind, debit_account_id, credit_account_id, "
                "amount_fen, pending_id, purpose, order_id, decision_id, occurred_at, "
                "recorded_at) VALUES (:id, 'posted', :debit, :credit, :amount, NULL, "
                "'refundable_after_release', :order_id, :decision_id, :occurred_at, :now)"
            ),
            {
                "id": transfer_id,
                "debit": control,
                "credit": refundable,
                "amount": release.amount_fen,
                "order_id": release.order_id,
                "decision_id": release.decision_id,
                "occurred_at": release.occurred_at,
                "now": now,
            },
        )
        for account_id, direction in ((control, "debit"), (refundable, "credit")):
            connection.execute(
                sa.text(
                    "INSERT INTO ledger_entries (transfer_id, account_id, phase, direction, "
                    "amount_fen, recorded_at) VALUES (:t, :a, 'posted', :d, :amount, :now)"
                ),
                {
                    "t": transfer_id,
                    "a": account_id,
                    "d": direction,
                    "amount": release.amount_fen,
                    "now": now,
                },
            )


def _rederive_balances(connection: sa.Connection) -> None:
    """Every account's running balances from its entries (the entries moved, not the money)."""
    for direction in ("debit", "credit"):
        for phase in ("posted", "pending"):
            connection.execute(
                sa.text(
                    f"UPDATE ledger_accounts SET {direction}s_{phase}_fen = COALESCE(("
                    "SELECT SUM(amount_fen) FROM ledger_entries e WHERE "
                    f"e.account_id = ledger_accounts.id AND e.phase = '{phase}' "
                    f"AND e.direction = '{direction}'), 0)"
                )
            )


def _feed_columns(connection: sa.Connection) -> None:
    postgres = connection.dialect.name == "postgresql"
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.alter_column(
            "seq", new_column_name="position", existing_type=sa.BigInteger(), nullable=True
        )
        batch_op.add_column(sa.Column("ordinal", sa.BigInteger(), nullable=True))
    connection.execute(sa.text("UPDATE decisions SET ordinal = position"))
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.alter_column("ordinal", existing_type=sa.BigInteger(), nullable=False)
        batch_op.drop_constraint("uq_decisions_seq", type_="unique")
        batch_op.create_unique_constraint("uq_decisions_position", ["position"])
    op.create_index(
        "ix_decisions_unpositioned",
        "decisions",
        ["ordinal"],
        postgresql_where=sa.text("position IS NULL"),
        sqlite_where=sa.text("position IS NULL"),
    )
    if postgres:
        op.execute("CREATE SEQUENCE decision_ordinal")
        last = connection.execute(sa.text("SELECT MAX(ordinal) FROM decisions")).scalar()
        if last:
            connection.execute(sa.text("SELECT setval('decision_ordinal', :v)"), {"v": last})


def upgrade() -> None:
    connection = op.get_bind()
    _split_chart(connection)
    _feed_columns(connection)


def downgrade() -> None:
    raise NotImplementedError("0005 re-homes ledger history: restore a backup to go back")
