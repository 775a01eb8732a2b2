"""ids and keys compared by code point on PostgreSQL (collation "C")

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 20:00:00

SQLite orders text by code point; PostgreSQL by the database's collation, which in a
language's locale (en_US.UTF-8, ICU en-US) ignores case and punctuation: the same rows
listed in another order, and a cursor (`after=`) that skipped or repeated rows between
the two. Every id and key column — each of the id type, every text primary and foreign
key, and the ledger account's party a payout run walks — is declared with collation "C",
so its index serves the lists' ORDER BY and cursor ranges. SQLite is unchanged.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYS = (  # (table, column, length)
    ("api_tokens", "id", 64),
    ("api_tokens", "party_id", 64),
    ("buyers", "id", 64),
    ("catalogue_changes", "entity_id", 64),
    ("decisions", "id", 160),
    ("decisions", "order_id", 64),
    ("idempotency_keys", "principal", 96),
    ("idempotency_keys", "route", 300),
    ("idempotency_keys", "key", 200),
    ("instructions", "id", 64),
    ("instructions", "order_id", 64),
    ("instructions", "run_id", 64),
    ("instructions", "retry_of", 64),
    ("ledger_accounts", "id", 128),
    ("ledger_accounts", "party", 96),
    ("logistics_disruptions", "id", 64),
    ("logistics_slowdowns", "id", 64),
    ("merchants", "id", 64),
    ("payout_runs", "id", 64),
    ("timers", "id", 160),
    ("webhook_endpoints", "id", 64),
    ("buyer_addresses", "buyer_id", 64),
    ("ledger_checkpoint_balances", "account_id", 128),
    ("ledger_transfers", "id", 160),
    ("ledger_transfers", "debit_account_id", 128),
    ("ledger_transfers", "credit_account_id", 128),
    ("ledger_transfers", "pending_id", 160),
    ("ledger_transfers", "order_id", 64),
    ("merchant_badges", "merchant_id", 64),
    ("merchant_payout_settings", "merchant_id", 64),
    ("orders", "id", 64),
    ("orders", "buyer_id", 64),
    ("orders", "merchant_id", 64),
    ("products", "id", 64),
    ("products", "merchant_id", 64),
    ("cases", "id", 64),
    ("cases", "order_id", 64),
    ("cases", "sub_order_id", 64),
    ("cases", "buyer_id", 64),
    ("cases", "merchant_id", 64),
    ("ledger_entries", "transfer_id", 160),
    ("ledger_entries", "account_id", 128),
    ("order_transitions", "order_id", 64),
    ("product_tiers", "product_id", 64),
    ("product_tiers", "kind", 16),
    ("sub_orders", "id", 64),
    ("sub_orders", "order_id", 64),
    ("sub_orders", "product_id", 64),
    ("case_transitions", "case_id", 64),
)


def _collate(collation: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    tables: dict[str, list[str]] = {}
    for table, column, length in KEYS:
        change = f'ALTER COLUMN "{column}" TYPE VARCHAR({length}) COLLATE {collation}'
        tables.setdefault(table, []).append(change)
    for table, changes in tables.items():
        op.execute(f'ALTER TABLE "{table}" {", ".join(changes)}')


def upgrade() -> None:
    _collate('"C"')


def downgrade() -> None:
    _collate('"default"')
