"""logistics disruptions an operator declares

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 21:00:00

A new table only: no disruption was declared before this release.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "logistics_disruptions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("carrier", sa.String(length=64), nullable=False),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expected_extra_days", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("declared_by", sa.String(length=96), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.String(length=96), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_logistics_disruptions")),
    )


def downgrade() -> None:
    op.drop_table("logistics_disruptions")
