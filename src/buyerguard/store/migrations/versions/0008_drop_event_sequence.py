"""drop `event_sequence`: no counter row left

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 02:30:00

PostgreSQL positions the feed with its sequencer (migration 0005); SQLite
computes a decision's position in its own insert. Nothing reads the counter.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table("event_sequence")


def downgrade() -> None:
    op.create_table(
        "event_sequence",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_event_sequence")),
    )
    op.execute(
        "INSERT INTO event_sequence (name, last_seq) "
        "SELECT 'events', COALESCE(MAX(position), 0) FROM decisions"
    )
