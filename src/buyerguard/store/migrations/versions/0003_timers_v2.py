"""timers v2: payload, availability, attempts, dead letters

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 22:45:00

Every existing timer keeps its due instant and becomes available at it, with
no attempt made yet and an empty payload.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = "status IN ('pending', 'fired', 'cancelled')"
NEW_STATUSES = "status IN ('pending', 'fired', 'cancelled', 'failed')"


def upgrade() -> None:
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payload", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("available_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))
    op.execute("UPDATE timers SET payload = '{}', available_at = due_at")
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.alter_column("payload", existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column(
            "available_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
        batch_op.drop_constraint(op.f("ck_timers_status_known"), type_="check")
        batch_op.create_check_constraint(op.f("ck_timers_status_known"), NEW_STATUSES)
        batch_op.create_index(
            "ix_timers_status_available", ["status", "available_at"], unique=False
        )
        batch_op.create_index("ix_timers_subject", ["subject_id"], unique=False)


def downgrade() -> None:
    op.execute("UPDATE timers SET status = 'pending' WHERE status = 'failed'")
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.drop_index("ix_timers_subject")
        batch_op.drop_index("ix_timers_status_available")
        batch_op.drop_constraint(op.f("ck_timers_status_known"), type_="check")
        batch_op.create_check_constraint(op.f("ck_timers_status_known"), OLD_STATUSES)
        batch_op.drop_column("last_error")
        batch_op.drop_column("attempts")
        batch_op.drop_column("available_at")
        batch_op.drop_column("payload")
