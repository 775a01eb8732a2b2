"""ledger checkpoints: where `ledger check` may start instead of re-deriving everything

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 02:00:00

Empty at first: the first `ledger check` after the upgrade is a full pass,
and writes the first checkpoint when it finds no breach.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ledger_checkpoints",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("horizon_entry_id", sa.BigInteger(), nullable=False),
        sa.Column("entries", sa.BigInteger(), nullable=False),
        sa.Column("transfers", sa.BigInteger(), nullable=False),
        sa.Column("accounts", sa.BigInteger(), nullable=False),
        sa.Column("total_debits_posted_fen", sa.BigInteger(), nullable=False),
        sa.Column("total_credits_posted_fen", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_checkpoints")),
    )
    op.create_table(
        "ledger_checkpoint_balances",
        sa.Column("checkpoint_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("debits_posted_fen", sa.BigInteger(), nullable=False),
        sa.Column("credits_posted_fen", sa.BigInteger(), nullable=False),
        sa.Column("debits_pending_fen", sa.BigInteger(), nullable=False),
        sa.Column("credits_pending_fen", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"],
            ["ledger_checkpoints.id"],
            name=op.f("fk_ledger_checkpoint_balances_checkpoint_id_ledger_checkpoints"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_checkpoint_balances_account_id_ledger_accounts"),
        ),
        sa.PrimaryKeyConstraint(
            "checkpoint_id", "account_id", name=op.f("pk_ledger_checkpoint_balances")
        ),
    )


def downgrade() -> None:
    op.drop_table("ledger_checkpoint_balances")
    op.drop_table("ledger_checkpoints")
