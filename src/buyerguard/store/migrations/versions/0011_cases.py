"""after-sales cases and their transitions

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 12:00:00

New tables only: no case existed before this release.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("sub_order_id", sa.String(length=64), nullable=False),
        sa.Column("buyer_id", sa.String(length=64), nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.Column("opened_by", sa.String(length=96), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_fen", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("rulebook_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("goods", sa.String(length=24), nullable=False),
        sa.Column("offered_fen", sa.BigInteger(), nullable=True),
        sa.Column("agreed_fen", sa.BigInteger(), nullable=True),
        sa.Column("negotiated", sa.Boolean(), nullable=False),
        sa.Column("official_pickup", sa.Boolean(), nullable=False),
        sa.Column("quick_refunded_fen", sa.BigInteger(), nullable=False),
        sa.Column("refunded_fen", sa.BigInteger(), nullable=False),
        sa.Column("compensated_fen", sa.BigInteger(), nullable=False),
        sa.Column("trigger", sa.String(length=48), nullable=True),
        sa.Column("complained", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_cases_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
    )
    op.create_index(op.f("ix_cases_order_id"), "cases", ["order_id"])
    op.create_index(op.f("ix_cases_buyer_id"), "cases", ["buyer_id"])
    op.create_index(op.f("ix_cases_merchant_id"), "cases", ["merchant_id"])
    op.create_index(
        "uq_cases_open_per_type",
        "cases",
        ["sub_order_id", "type"],
        unique=True,
        postgresql_where=sa.text("closed_at IS NULL"),
        sqlite_where=sa.text("closed_at IS NULL"),
    )
    op.create_table(
        "case_transitions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("actor", sa.String(length=96), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=False),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("goods_from", sa.String(length=24), nullable=False),
        sa.Column("goods_to", sa.String(length=24), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_transitions_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_transitions")),
    )
    op.create_index(op.f("ix_case_transitions_case_id"), "case_transitions", ["case_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_case_transitions_case_id"), table_name="case_transitions")
    op.drop_table("case_transitions")
    op.drop_index("uq_cases_open_per_type", table_name="cases")
    op.drop_index(op.f("ix_cases_merchant_id"), table_name="cases")
    op.drop_index(op.f("ix_cases_buyer_id"), table_name="cases")
    op.drop_index(op.f("ix_cases_order_id"), table_name="cases")
    op.drop_table("cases")
