"""idempotency keys expire: an index on when each was stored

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 18:00:00

The expiry job (services/idempotency.py) deletes keys older than the retention
in small batches, oldest first; the index lets it find them without a scan.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
