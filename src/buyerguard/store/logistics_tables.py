"""The logistics calendar an operator declares: carrier disruptions and slowdown days.

Rows are never deleted (ending or withdrawing one stamps it), so counting them gives the
version stamp every API worker checks before a promise lookup.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Date, Integer, String, Table, Text

from buyerguard.store.columns import ID, UtcDateTime, metadata

# Logistics disruptions an operator declares (services/disruptions.py): a carrier slowed
# in some GB/T 2260 regions over [starts_at, until), so promises there wait
# `expected_extra_days` more. Never deleted: ending one sets `ended_at`, so the count of
# rows and of ended rows (with the newest id) is the stamp every API worker checks.
logistics_disruptions = Table(
    "logistics_disruptions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("carrier", String(64), nullable=False),
    Column("regions", JSON, nullable=False),
    Column("starts_at", UtcDateTime, nullable=False),
    Column("until", UtcDateTime, nullable=False),
    Column("expected_extra_days", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("declared_at", UtcDateTime, nullable=False),
    Column("declared_by", String(96), nullable=False),
    Column("ended_at", UtcDateTime),
    Column("ended_by", String(96)),
)

# Logistics slowdowns (services/slowdowns.py): whole Shanghai days on which every carrier
# slows so much that promises do not count them, and the promise model does not learn from
# them, like public holidays: the Spring Festival's lead and recovery days (seeded from the
# rulebook, source "rulebook"), a Double 11 peak an operator declares. Never deleted:
# withdrawing one sets `withdrawn_at`, so the stamp every API worker checks moves.
logistics_slowdowns = Table(
    "logistics_slowdowns",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(96), nullable=False),
    Column("first_day", Date, nullable=False),
    Column("last_day", Date, nullable=False),
    Column("reason", Text, nullable=False),
    Column("source", String(16), nullable=False),
    Column("declared_at", UtcDateTime, nullable=False),
    Column("declared_by", String(96), nullable=False),
    Column("withdrawn_at", UtcDateTime),
    Column("withdrawn_by", String(96)),
)
