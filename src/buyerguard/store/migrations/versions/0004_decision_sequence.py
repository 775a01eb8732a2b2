"""decisions: a sequence per (kind, subject), so a decision may repeat

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 23:00:00

Every existing decision is the first of its kind on its subject (sequence 1);
its id does not change.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sequence", sa.Integer(), nullable=False, server_default="1"))
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.alter_column("sequence", existing_type=sa.Integer(), server_default=None)
        batch_op.drop_constraint("uq_decisions_purpose", type_="unique")
        batch_op.create_unique_constraint(
            "uq_decisions_purpose", ["kind", "subject_id", "sequence"]
        )


def downgrade() -> None:
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_constraint("uq_decisions_purpose", type_="unique")
        batch_op.create_unique_constraint("uq_decisions_purpose", ["kind", "subject_id"])
        batch_op.drop_column("sequence")
