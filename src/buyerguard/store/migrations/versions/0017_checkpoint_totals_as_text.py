"""ledger checkpoints: the totals over every account as exact decimal text

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 10:30:00

Each amount and each account's posted sums fit a BIGINT (the ledger refuses a posting that
would pass it), but the sum over every account does not: two transfers near the largest
amount pass it, and `ledger check --full` then failed to write its checkpoint. The two
totals are kept as the decimal digits of their fen, exact on both backends (SQLite would
turn a NUMERIC past 64 bits into a float).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOTALS = ("total_debits_posted_fen", "total_credits_posted_fen")


def upgrade() -> None:
    with op.batch_alter_table("ledger_checkpoints") as batch:
        for name in TOTALS:
            batch.alter_column(
                name,
                existing_type=sa.BigInteger(),
                type_=sa.String(length=40),
                existing_nullable=False,
                postgresql_using=f"{name}::text",
            )


def downgrade() -> None:
    with op.batch_alter_table("ledger_checkpoints") as batch:
        for name in TOTALS:
            batch.alter_column(
                name,
                existing_type=sa.String(length=40),
                type_=sa.BigInteger(),
                existing_nullable=False,
                postgresql_using=f"{name}::bigint",
            )
