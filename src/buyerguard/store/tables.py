"""The schema, as SQLAlchemy Core tables; Alembic migrations create it.

Money columns are BIGINT fen. Idempotency and "one posting per purpose" are
enforced here by primary keys and unique constraints, not only in Python.
Instants are stored as timezone-aware UTC (`UtcDateTime`).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    Sequence,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from buyerguard.store import case_tables, logistics_tables, money_tables, webhook_tables
from buyerguard.store.columns import ID, UtcDateTime, code_point_string, money
from buyerguard.store.columns import metadata as metadata

# The ledger and money-out tables live in money_tables.py, the after-sales cases in
# case_tables.py, the logistics calendar in logistics_tables.py, the webhooks in
# webhook_tables.py; named here too, so that `tables` names every table.
case_transitions = case_tables.case_transitions
cases = case_tables.cases
logistics_disruptions = logistics_tables.logistics_disruptions
logistics_slowdowns = logistics_tables.logistics_slowdowns
instructions = money_tables.instructions
ledger_accounts = money_tables.ledger_accounts
ledger_checkpoint_balances = money_tables.ledger_checkpoint_balances
ledger_checkpoints = money_tables.ledger_checkpoints
ledger_entries = money_tables.ledger_entries
ledger_transfers = money_tables.ledger_transfers
merchant_payout_settings = money_tables.merchant_payout_settings
payout_runs = money_tables.payout_runs
webhook_deliveries = webhook_tables.webhook_deliveries
webhook_endpoints = webhook_tables.webhook_endpoints


merchants = Table(
    "merchants",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("tier", String(32), nullable=False),
    Column("industry", String(64), nullable=False),
    Column("origin_region", String(16), nullable=False),
    Column("services", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
)

buyers = Table(
    "buyers",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("super_buyer_marked", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

buyer_addresses = Table(
    "buyer_addresses",
    metadata,
    Column("buyer_id", ID, ForeignKey("buyers.id"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("province_code", String(6), nullable=False),
    Column("city_code", String(6), nullable=False),
    Column("district_code", String(6), nullable=False),
    Column("detail", String(400), nullable=False),
)

products = Table(
    "products",
    metadata,
    Column("id", ID, primary_key=True),
    Column("merchant_id", ID, ForeignKey("merchants.id"), nullable=False, index=True),
    Column("title", String(400), nullable=False),
    Column("weight_grams", Integer, nullable=False),
    Column("ship_from_region", String(16), nullable=False),
    Column("return_class", String(48), nullable=False),
    Column("shipping_commitment_hours", Integer),
    Column("one_piece_forms", JSON, nullable=False),
    Column("entrusted", Boolean, nullable=False),
    Column("rulebook_id", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    CheckConstraint("weight_grams >= 0", name="weight_not_negative"),
)

# A product's tiers (spot, custom, made to order) as listed now; `position` keeps
# the order they were given in. What they were before is in `catalogue_changes`.
product_tiers = Table(
    "product_tiers",
    metadata,
    Column("product_id", ID, ForeignKey("products.id"), primary_key=True),
    Column("kind", code_point_string(16), primary_key=True),
    Column("position", Integer, nullable=False),
    money("price_fen"),
    Column("moq", Integer, nullable=False),
    Column("seven_day_returns", Boolean, nullable=False),
    CheckConstraint("price_fen > 0", name="price_positive"),
    CheckConstraint("moq >= 1", name="moq_positive"),
)

# Every version of a merchant or a product: version 1 when created, one more per
# change. `occurred_at` is when the change took effect (a backdated payment reads
# the version in force at its own occurred_at), `recorded_at` when it arrived;
# `changes` says what changed ({field: {"from", "to"}}), `terms` the whole state
# after it, `rulebook_id` and `rule_ids` the listing rules that accepted a product.
catalogue_changes = Table(
    "catalogue_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("entity", String(16), nullable=False),
    Column("entity_id", ID, nullable=False),
    Column("version", Integer, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("actor", String(96), nullable=False),
    Column("token_id", String(64)),
    Column("changes", JSON, nullable=False),
    Column("terms", JSON, nullable=False),
    Column("rulebook_id", String(64)),
    Column("rule_ids", JSON, nullable=False),
    UniqueConstraint("entity", "entity_id", "version", name="uq_catalogue_changes_version"),
    CheckConstraint("entity IN ('merchant', 'product')", name="entity_known"),
    Index("ix_catalogue_changes_as_of", "entity", "entity_id", "occurred_at"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", ID, primary_key=True),
    Column("buyer_id", ID, ForeignKey("buyers.id"), nullable=False, index=True),
    Column("merchant_id", ID, ForeignKey("merchants.id"), nullable=False, index=True),
    Column("state", String(16), nullable=False),
    Column("destination_region", String(16), nullable=False),
    money("shipping_fen"),
    Column("placed_at", UtcDateTime, nullable=False),
    Column("paid_at", UtcDateTime),
    Column("paid_rulebook_id", String(64)),
    Column("merchant_services_at_payment", JSON, nullable=False),
    Column("shipped_at", UtcDateTime),
    Column("carrier", String(64)),
    Column("tracking_number", String(64)),
    Column("official_logistics", Boolean, nullable=False),
    Column("signed_at", UtcDateTime),
    Column("confirmed_at", UtcDateTime),
    Column("confirmed_by", String(16)),
    Column("completed_at", UtcDateTime),
    Column("cancelled_at", UtcDateTime),
    Column("refunded_at", UtcDateTime),
    Column("version", Integer, nullable=False),
    CheckConstraint("shipping_fen >= 0", name="shipping_not_negative"),
)

sub_orders = Table(
    "sub_orders",
    metadata,
    Column("id", ID, primary_key=True),
    Column("order_id", ID, ForeignKey("orders.id"), nullable=False, index=True),
    Column("line_no", Integer, nullable=False),
    Column("product_id", ID, ForeignKey("products.id"), nullable=False),
    Column("quantity", Integer, nullable=False),
    money("unit_price_fen"),
    money("goods_fen"),
    money("refunded_fen"),
    Column("entrusted", Boolean, nullable=False),
    Column("refunded_before_shipment", Boolean, nullable=False),
    Column("fee_fen", BigInteger),
    Column("tier", String(16), nullable=False),
    # What the sub-order was sold under, as of its payment (domain/sale_terms.py); null
    # until paid, never rewritten after.
    Column("terms_at_payment", JSON),
    UniqueConstraint("order_id", "line_no", name="uq_sub_orders_line"),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    CheckConstraint("refunded_fen >= 0 AND refunded_fen <= goods_fen", name="refund_in_range"),
)

order_transitions = Table(
    "order_transitions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("order_id", ID, ForeignKey("orders.id"), nullable=False, index=True),
    Column("command", String(32), nullable=False),
    Column("from_state", String(16), nullable=False),
    Column("to_state", String(16), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("actor", String(96), nullable=False),
)

# Decisions are the event feed. `ordinal` is taken when a decision is written
# (PostgreSQL: the `decision_ordinal` sequence, no lock); `position` is its
# place in the feed, given later by the one feed sequencer (services/feed.py)
# once everything before it has settled, so reading `position > cursor` never
# misses nor repeats an event. SQLite has one writer and gives both at once
# (the next position, computed in the insert). `sequence` numbers repeated
# decisions of one kind on one subject (a second partial refund, a badge
# awarded again): the first is 1.
decision_ordinal = Sequence("decision_ordinal", metadata=metadata)
decisions = Table(
    "decisions",
    metadata,
    Column("id", code_point_string(160), primary_key=True),
    Column("position", BigInteger, unique=True),
    Column("ordinal", BigInteger, nullable=False),
    Column("kind", String(48), nullable=False),
    Column("subject_id", String(128), nullable=False),
    Column("order_id", ID, index=True),
    money("amount_fen"),
    Column("payer", String(96), nullable=False),
    Column("payee", String(96), nullable=False),
    Column("rule_ids", JSON, nullable=False),
    Column("rulebook_id", String(64), nullable=False),
    Column("explanation", Text, nullable=False),
    Column("details", JSON, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("sequence", Integer, nullable=False),
    UniqueConstraint("kind", "subject_id", "sequence", name="uq_decisions_purpose"),
    Index(
        "ix_decisions_unpositioned",
        "ordinal",
        postgresql_where=text("position IS NULL"),
        sqlite_where=text("position IS NULL"),
    ),
)

# A timer acts as of `due_at`; it may run from `available_at` on: later than due
# while facts about its subject are still settling, or after a failed attempt
# (`attempts`, `last_error`) until it is dead-lettered as `failed`.
timers = Table(
    "timers",
    metadata,
    Column("id", code_point_string(160), primary_key=True),
    Column("kind", String(48), nullable=False),
    Column("subject_id", String(128), nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("fired_at", UtcDateTime),
    Column("fired_by", String(96)),
    Column("outcome", Text),
    Column("payload", JSON, nullable=False),
    Column("available_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text),
    CheckConstraint(
        "status IN ('pending', 'running', 'fired', 'cancelled', 'failed')", name="status_known"
    ),
    Index("ix_timers_status_due", "status", "due_at"),
    Index("ix_timers_status_available", "status", "available_at"),
    Index("ix_timers_subject", "subject_id"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("actor", String(96), nullable=False),
    Column("token_id", String(64)),
    Column("command", String(64), nullable=False),
    Column("subject_id", String(160), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("details", JSON, nullable=False),
    Index("ix_audit_log_subject", "subject_id", "id"),
    Index("ix_audit_log_actor", "actor", "id"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", code_point_string(64), primary_key=True),
    Column("token_hash", String(128), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("party_id", ID),
    Column("label", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime),
    Column("revoked_at", UtcDateTime),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("principal", code_point_string(96), primary_key=True),
    Column("route", code_point_string(300), primary_key=True),
    Column("key", code_point_string(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response_body", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_idempotency_keys_created_at", "created_at"),
)

# The arrival badge 亮标 (policies.md §11): one row per spell a merchant holds it.
merchant_badges = Table(
    "merchant_badges",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("merchant_id", ID, ForeignKey("merchants.id"), nullable=False, index=True),
    Column("since", UtcDateTime, nullable=False),
    Column("until", UtcDateTime),
    Column("orders", BigInteger, nullable=False),
    Column("signed_within", BigInteger, nullable=False),
    Column("industry", String(64), nullable=False),
    Column("industry_orders", BigInteger, nullable=False),
    Column("industry_signed_within", BigInteger, nullable=False),
    Column("rulebook_id", String(64), nullable=False),
)
