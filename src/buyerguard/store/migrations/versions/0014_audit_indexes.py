"""the audit trail is read: indexes by subject and by actor

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 20:00:00

`GET /v1/audit` and `buyerguard audit show` filter by subject or actor and page
by id; these indexes serve both without a scan of the whole log.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_audit_log_subject", "audit_log", ["subject_id", "id"])
    op.create_index("ix_audit_log_actor", "audit_log", ["actor", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_actor", table_name="audit_log")
    op.drop_index("ix_audit_log_subject", table_name="audit_log")
