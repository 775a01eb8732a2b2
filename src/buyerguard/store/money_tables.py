"""The ledger's tables and the money-out records: accounts, transfers, entries,
checkpoints, instructions and payout runs.

Money columns are BIGINT fen. A transfer's id is chosen by the caller, so a
retried command cannot post twice; an instruction records the transfer that
holds its money and, once reported, its outcome.
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
    String,
    Table,
    Text,
    UniqueConstraint,
)

from buyerguard.store.columns import ID, UtcDateTime, code_point_string, metadata, money

ACCOUNT_ID = code_point_string(128)
TRANSFER_ID = code_point_string(160)

ledger_accounts = Table(
    "ledger_accounts",
    metadata,
    Column("id", ACCOUNT_ID, primary_key=True),
    Column("party", code_point_string(96), nullable=False),
    Column("purpose", String(48), nullable=False),
    Column("debits_must_not_exceed_credits", Boolean, nullable=False),
    Column("credits_must_not_exceed_debits", Boolean, nullable=False),
    money("debits_posted_fen"),
    money("credits_posted_fen"),
    money("debits_pending_fen"),
    money("credits_pending_fen"),
    Column("created_at", UtcDateTime, nullable=False),
)

# A transfer's id is chosen by the caller (`fee:SUB1`), so a retry cannot post
# twice; `pending_id` is unique, so a hold is posted or voided at most once.
ledger_transfers = Table(
    "ledger_transfers",
    metadata,
    Column("id", TRANSFER_ID, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("debit_account_id", ACCOUNT_ID, ForeignKey("ledger_accounts.id"), nullable=False),
    Column("credit_account_id", ACCOUNT_ID, ForeignKey("ledger_accounts.id"), nullable=False),
    money("amount_fen"),
    Column("pending_id", TRANSFER_ID, ForeignKey("ledger_transfers.id"), unique=True),
    Column("purpose", String(48), nullable=False),
    Column("order_id", ID, index=True),
    Column("decision_id", String(160)),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
    CheckConstraint("debit_account_id <> credit_account_id", name="distinct_accounts"),
    CheckConstraint(
        "kind IN ('posted', 'pending', 'post_pending', 'void_pending')", name="kind_known"
    ),
)

# Raw legs of every transfer: the ledger check re-derives balances from these.
ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "transfer_id", TRANSFER_ID, ForeignKey("ledger_transfers.id"), nullable=False, index=True
    ),
    Column("account_id", ACCOUNT_ID, ForeignKey("ledger_accounts.id"), nullable=False, index=True),
    Column("phase", String(8), nullable=False),
    Column("direction", String(8), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    CheckConstraint("phase IN ('pending', 'posted')", name="phase_known"),
    CheckConstraint("direction IN ('debit', 'credit')", name="direction_known"),
)

# A checkpoint of `ledger check`: written only after a full pass found no breach.
# Every entry with id <= `horizon_entry_id` is counted in its balances and no
# other (see ledger/checkpoint.py for why no later commit can fall below it).
ledger_checkpoints = Table(
    "ledger_checkpoints",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("horizon_entry_id", BigInteger, nullable=False),
    Column("entries", BigInteger, nullable=False),
    Column("transfers", BigInteger, nullable=False),
    Column("accounts", BigInteger, nullable=False),
    # Sums over every account: each fits a BIGINT, their sum may not, so the decimal
    # digits of the fen (migration 0017), exact on both backends.
    Column("total_debits_posted_fen", String(40), nullable=False),
    Column("total_credits_posted_fen", String(40), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

# The re-derived balances of each account at a checkpoint (only the latest keeps them).
ledger_checkpoint_balances = Table(
    "ledger_checkpoint_balances",
    metadata,
    Column("checkpoint_id", Integer, ForeignKey("ledger_checkpoints.id"), primary_key=True),
    Column("account_id", ACCOUNT_ID, ForeignKey("ledger_accounts.id"), primary_key=True),
    money("debits_posted_fen"),
    money("credits_posted_fen"),
    money("debits_pending_fen"),
    money("credits_pending_fen"),
)

# Money out: one row per instruction to pay a party (a payout, a buyer refund, a
# compensation, a carrier subsidy). Its money is held from the party's payable to
# its paid_out (`transfer_id`); the execution report posts or voids that hold.
# `due_by` is when it becomes overdue without a report. A failed one may be
# retried once (`retry_of`), by a new instruction; a failed payout's money returns
# to the payable for the next run. `cut_over` marks rows the migration to money
# out booked as already executed (no hold of their own).
instructions = Table(
    "instructions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("kind", String(24), nullable=False),
    Column("party", String(96), nullable=False),
    money("amount_fen"),
    Column("state", String(16), nullable=False),
    Column("order_id", ID, index=True),
    Column("run_id", ID),
    Column("retry_of", ID, unique=True),
    Column("transfer_id", String(160)),
    Column("decision_id", String(160)),
    Column("rulebook_id", String(64), nullable=False),
    Column("instructed_at", UtcDateTime, nullable=False),
    Column("due_by", UtcDateTime, nullable=False),
    Column("reported_at", UtcDateTime),
    Column("outcome_at", UtcDateTime),
    Column("reported_by", String(96)),
    Column("failure_reason", Text),
    Column("reference", String(128)),
    Column("cut_over", Boolean, nullable=False),
    Column("details", JSON, nullable=False),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
    CheckConstraint("state IN ('instructed', 'executed', 'failed')", name="state_known"),
    UniqueConstraint("run_id", "party", name="uq_instructions_run_party"),
    Index("ix_instructions_state_due", "state", "due_by"),
    Index("ix_instructions_party", "party", "instructed_at"),
)

# A payout run: the scheduler's daily one (`scheduled`, its id from its instant)
# or an operator's (`operator`); each merchant's payout commits on its own.
payout_runs = Table(
    "payout_runs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("trigger", String(16), nullable=False),
    Column("as_of", UtcDateTime, nullable=False),
    Column("actor", String(96), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Column("merchants_considered", Integer, nullable=False),
    Column("payouts", Integer, nullable=False),
    money("total_fen"),
)

# An operator's choice of reserve share for one merchant (else the rulebook's).
merchant_payout_settings = Table(
    "merchant_payout_settings",
    metadata,
    Column("merchant_id", ID, ForeignKey("merchants.id"), primary_key=True),
    Column("reserve_share", String(16), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by", String(96), nullable=False),
)
