"""timers: a `running` state for heavy jobs claimed under a lease

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 01:30:00

A heavy job (the promise rebuild) is claimed in a short transaction as
`running`, with `available_at` as the end of its lease, and runs outside it;
a scheduler that dies mid-job leaves it to be claimed again when the lease ends.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = "status IN ('pending', 'fired', 'cancelled', 'failed')"
NEW_STATUSES = "status IN ('pending', 'running', 'fired', 'cancelled', 'failed')"


def upgrade() -> None:
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_timers_status_known"), type_="check")
        batch_op.create_check_constraint(op.f("ck_timers_status_known"), NEW_STATUSES)


def downgrade() -> None:
    op.execute("UPDATE timers SET status = 'pending' WHERE status = 'running'")
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_timers_status_known"), type_="check")
        batch_op.create_check_constraint(op.f("ck_timers_status_known"), OLD_STATUSES)
