"""money out: instructions with outcomes, payout runs, reserve shares; the cut-over

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 10:00:00

From this release money leaves only by instruction (`*_instructed` on the
feed, executed or failed by the marketplace's report). What was on the feed
before it (`escrow_released`, `fee_charged`, `refund_due`) the marketplace has
already acted on, so the cut-over books it as done, and nobody is paid twice:
- every merchant's payable is booked as paid out: a posted transfer
  `cutover-payout:{M}` from `merchant:{M}:payable` to `merchant:{M}:paid_out`
  and an executed payout instruction `po-cutover-{M}` (`cut_over` true). The
  first payout run therefore pays only what is released after the upgrade;
- every earlier refund (its money already went to the rails, `rail:clearing`)
  gets an executed refund instruction (`cut_over` true, no hold of its own),
  so the buyer's refunds read as paid.
An open hold (an order paid, not yet confirmed) is untouched: its release
comes after the cut-over and is paid by a payout run.
"""

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTOR = "migration:0010"
RULEBOOK = "migration:0010"

accounts = sa.table(
    "ledger_accounts",
    sa.column("id", sa.String),
    sa.column("party", sa.String),
    sa.column("purpose", sa.String),
    sa.column("debits_must_not_exceed_credits", sa.Boolean),
    sa.column("credits_must_not_exceed_debits", sa.Boolean),
    sa.column("debits_posted_fen", sa.BigInteger),
    sa.column("credits_posted_fen", sa.BigInteger),
    sa.column("debits_pending_fen", sa.BigInteger),
    sa.column("credits_pending_fen", sa.BigInteger),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
transfers = sa.table(
    "ledger_transfers",
    sa.column("id", sa.String),
    sa.column("kind", sa.String),
    sa.column("debit_account_id", sa.String),
    sa.column("credit_account_id", sa.String),
    sa.column("amount_fen", sa.BigInteger),
    sa.column("pending_id", sa.String),
    sa.column("purpose", sa.String),
    sa.column("order_id", sa.String),
    sa.column("decision_id", sa.String),
    sa.column("occurred_at", sa.DateTime(timezone=True)),
    sa.column("recorded_at", sa.DateTime(timezone=True)),
)
entries = sa.table(
    "ledger_entries",
    sa.column("transfer_id", sa.String),
    sa.column("account_id", sa.String),
    sa.column("phase", sa.String),
    sa.column("direction", sa.String),
    sa.column("amount_fen", sa.BigInteger),
    sa.column("recorded_at", sa.DateTime(timezone=True)),
)
orders = sa.table("orders", sa.column("id", sa.String), sa.column("buyer_id", sa.String))
instructions = sa.table(
    "instructions",
    *(
        sa.column(name, sa.String)
        for name in (
            "id",
            "kind",
            "party",
            "state",
            "order_id",
            "run_id",
            "retry_of",
            "transfer_id",
            "decision_id",
            "rulebook_id",
            "reported_by",
            "failure_reason",
            "reference",
        )
    ),
    sa.column("amount_fen", sa.BigInteger),
    *(
        sa.column(name, sa.DateTime(timezone=True))
        for name in ("instructed_at", "due_by", "reported_at", "outcome_at")
    ),
    sa.column("cut_over", sa.Boolean),
    sa.column("details", sa.JSON),
)


def _instant(value: datetime, connection: sa.Connection) -> datetime:
    """An instant as the column stores it (SQLite: naive UTC)."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.replace(tzinfo=None) if connection.dialect.name == "sqlite" else value


def _create_tables() -> None:
    op.create_table(
        "instructions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("party", sa.String(length=96), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("retry_of", sa.String(length=64), nullable=True),
        sa.Column("transfer_id", sa.String(length=160), nullable=True),
        sa.Column("decision_id", sa.String(length=160), nullable=True),
        sa.Column("rulebook_id", sa.String(length=64), nullable=False),
        sa.Column("instructed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reported_by", sa.String(length=96), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("reference", sa.String(length=128), nullable=True),
        sa.Column("cut_over", sa.Boolean(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_instructions_amount_positive")),
        sa.CheckConstraint(
            "state IN ('instructed', 'executed', 'failed')",
            name=op.f("ck_instructions_state_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instructions")),
        sa.UniqueConstraint("retry_of", name=op.f("uq_instructions_retry_of")),
        sa.UniqueConstraint("run_id", "party", name="uq_instructions_run_party"),
    )
    op.create_index(op.f("ix_instructions_order_id"), "instructions", ["order_id"])
    op.create_index("ix_instructions_state_due", "instructions", ["state", "due_by"])
    op.create_index("ix_instructions_party", "instructions", ["party", "instructed_at"])
    op.create_table(
        "payout_runs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=96), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("merchants_considered", sa.Integer(), nullable=False),
        sa.Column("payouts", sa.Integer(), nullable=False),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_runs")),
    )
    op.create_table(
        "merchant_payout_settings",
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.Column("reserve_share", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=96), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_merchant_payout_settings_merchant_id_merchants"),
        ),
        sa.PrimaryKeyConstraint("merchant_id", name=op.f("pk_merchant_payout_settings")),
    )


def _instruction(**values: Any) -> dict[str, Any]:
    return {
        "state": "executed",
        "run_id": None,
        "retry_of": None,
        "decision_id": None,
        "rulebook_id": RULEBOOK,
        "reported_by": ACTOR,
        "failure_reason": None,
        "reference": None,
        "cut_over": True,
        **values,
    }


def _book_payables_paid(connection: sa.Connection, now: datetime) -> list[dict[str, Any]]:
    """Every merchant payable, booked as paid out: a transfer and an executed payout."""
    rows = connection.execute(
        sa.select(accounts).where(
            accounts.c.purpose == "payable", accounts.c.party.like("merchant:%")
        )
    ).mappings()
    made: list[dict[str, Any]] = []
    for account in list(rows):
        owed = (
            account["credits_posted_fen"]
            - account["debits_posted_fen"]
            - account["debits_pending_fen"]
        )
        if owed <= 0:
            continue
        party = account["party"]
        merchant_id = party.removeprefix("merchant:")
        paid_out_id = f"{party}:paid_out"
        exists = sa.select(accounts.c.id).where(accounts.c.id == paid_out_id)
        if connection.execute(exists).first() is None:
            connection.execute(
                sa.insert(accounts).values(
                    id=paid_out_id,
                    party=party,
                    purpose="paid_out",
                    debits_must_not_exceed_credits=True,
                    credits_must_not_exceed_debits=False,
                    debits_posted_fen=0,
                    credits_posted_fen=0,
                    debits_pending_fen=0,
                    credits_pending_fen=0,
                    created_at=now,
                )
            )
        transfer_id = f"cutover-payout:{merchant_id}"
        connection.execute(
            sa.insert(transfers).values(
                id=transfer_id,
                kind="posted",
                debit_account_id=account["id"],
                credit_account_id=paid_out_id,
                amount_fen=owed,
                pending_id=None,
                purpose="payout_executed",
                order_id=None,
                decision_id=None,
                occurred_at=now,
                recorded_at=now,
            )
        )
        connection.execute(
            sa.insert(entries),
            [
                {
                    "transfer_id": transfer_id,
                    "account_id": account["id"],
                    "phase": "posted",
                    "direction": "debit",
                    "amount_fen": owed,
                    "recorded_at": now,
                },
                {
                    "transfer_id": transfer_id,
                    "account_id": paid_out_id,
                    "phase": "posted",
                    "direction": "credit",
                    "amount_fen": owed,
                    "recorded_at": now,
                },
            ],
        )
        connection.execute(
            sa.update(accounts)
            .where(accounts.c.id == account["id"])
            .values(debits_posted_fen=accounts.c.debits_posted_fen + owed)
        )
        connection.execute(
            sa.update(accounts)
            .where(accounts.c.id == paid_out_id)
            .values(credits_posted_fen=accounts.c.credits_posted_fen + owed)
        )
        made.append(
            _instruction(
                id=f"po-cutover-{merchant_id}"[:64],
                kind="payout",
                party=party,
                amount_fen=owed,
                order_id=None,
                transfer_id=transfer_id,
                instructed_at=now,
                due_by=now,
                reported_at=now,
                outcome_at=now,
                details={"cut_over": "payable booked as paid out at the upgrade to money out"},
            )
        )
    if made:
        connection.execute(sa.insert(instructions), made)
    return made


def _book_refunds_executed(connection: sa.Connection, now: datetime) -> None:
    """Every earlier refund (money already sent to the rails) as an executed instruction."""
    rows = connection.execute(
        sa.select(
            transfers.c.id,
            transfers.c.amount_fen,
            transfers.c.order_id,
            transfers.c.occurred_at,
            orders.c.buyer_id,
        )
        .select_from(transfers.join(orders, orders.c.id == transfers.c.order_id))
        .where(transfers.c.purpose == "refund", transfers.c.credit_account_id.like("rail:%"))
        .order_by(transfers.c.id)
    )
    made = [
        _instruction(
            id="in-cutover-" + hashlib.sha256(row.id.encode()).hexdigest()[:24],
            kind="refund",
            party=f"buyer:{row.buyer_id}",
            amount_fen=row.amount_fen,
            order_id=row.order_id,
            transfer_id=None,
            instructed_at=_instant(row.occurred_at, connection),
            due_by=_instant(row.occurred_at, connection),
            reported_at=now,
            outcome_at=_instant(row.occurred_at, connection),
            details={"cut_over": "refund paid on refund_due before money out", "transfer": row.id},
        )
        for row in rows
    ]
    if made:
        connection.execute(sa.insert(instructions), made)


def upgrade() -> None:
    _create_tables()
    connection = op.get_bind()
    now = _instant(datetime.now(UTC), connection)
    _book_payables_paid(connection, now)
    _book_refunds_executed(connection, now)


def downgrade() -> None:
    """The tables go; the cut-over transfers stay (the ledger is append-only), so the
    payables stay paid out: an older release would not pay them again."""
    op.drop_table("merchant_payout_settings")
    op.drop_table("payout_runs")
    op.drop_index("ix_instructions_party", table_name="instructions")
    op.drop_index("ix_instructions_state_due", table_name="instructions")
    op.drop_index(op.f("ix_instructions_order_id"), table_name="instructions")
    op.drop_table("instructions")
