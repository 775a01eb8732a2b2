"""The after-sales cases' tables: one row per case and one per transition of it.

Money is not here: it is in the ledger and in the decisions each transition records.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    text,
)

from buyerguard.store.columns import ID, UtcDateTime, metadata, money

# After-sales cases (domain/cases.py). One open case per type per sub-order: the
# partial unique index over rows not yet closed. Money is not here: it is in the
# ledger and the decisions each transition records.
cases = Table(
    "cases",
    metadata,
    Column("id", ID, primary_key=True),
    Column("type", String(32), nullable=False),
    Column("order_id", ID, ForeignKey("orders.id"), nullable=False, index=True),
    Column("sub_order_id", ID, nullable=False),
    Column("buyer_id", ID, nullable=False, index=True),
    Column("merchant_id", ID, nullable=False, index=True),
    Column("opened_by", String(96), nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
    money("requested_fen"),
    Column("reason", Text, nullable=False),
    Column("rulebook_id", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("goods", String(24), nullable=False),
    Column("offered_fen", BigInteger),
    Column("agreed_fen", BigInteger),
    Column("negotiated", Boolean, nullable=False),
    Column("official_pickup", Boolean, nullable=False),
    money("quick_refunded_fen"),
    money("refunded_fen"),
    money("compensated_fen"),
    Column("trigger", String(48)),
    Column("complained", Boolean, nullable=False),
    Column("outcome", String(24)),
    Column("closed_at", UtcDateTime),
    Column("version", Integer, nullable=False),
    Index(
        "uq_cases_open_per_type",
        "sub_order_id",
        "type",
        unique=True,
        postgresql_where=text("closed_at IS NULL"),
        sqlite_where=text("closed_at IS NULL"),
    ),
)

case_transitions = Table(
    "case_transitions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", ID, ForeignKey("cases.id"), nullable=False, index=True),
    Column("action", String(24), nullable=False),
    Column("actor", String(96), nullable=False),
    Column("from_state", String(16), nullable=False),
    Column("to_state", String(16), nullable=False),
    Column("goods_from", String(24), nullable=False),
    Column("goods_to", String(24), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("note", Text),
    Column("evidence", JSON, nullable=False),
    Column("details", JSON, nullable=False),
)
