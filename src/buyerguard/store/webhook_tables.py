"""Webhook endpoints and their delivery log.

An endpoint is delivered by a cursor over the event feed (`cursor_position`):
one row per endpoint, never one job per event. Its secret signs every message
(Standard Webhooks); after a rotation the previous one keeps signing beside it
until `previous_secret_until`, so a receiver can switch without losing a message.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from buyerguard.store.columns import UtcDateTime, code_point_string, metadata

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", code_point_string(64), primary_key=True),
    Column("url", Text, nullable=False),
    Column("description", String(200), nullable=False),
    Column("event_kinds", JSON),  # None: every kind
    Column("secret", String(100), nullable=False),
    Column("previous_secret", String(100)),
    Column("previous_secret_until", UtcDateTime),
    Column("cursor_position", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("failing_since", UtcDateTime),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime),
    Column("lease_until", UtcDateTime),
    Column("disabled_at", UtcDateTime),
    Column("disabled_reason", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(96), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("state IN ('active', 'disabled')", name="webhook_state_known"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("endpoint_id", String(64), nullable=False),
    Column("event_id", String(160), nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Column("duration_ms", Integer, nullable=False),
    Column("attempted_at", UtcDateTime, nullable=False),
    CheckConstraint("outcome IN ('delivered', 'failed')", name="webhook_outcome_known"),
    Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
)
