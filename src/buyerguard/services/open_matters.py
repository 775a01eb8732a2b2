"""Is anything open on an order? The question automatic steps ask before they act.

Auto-confirmation and completion must not run over a dispute: money could be
released, or the return window closed, while a buyer's claim is pending.
Each kind of open matter (after-sales cases, later) registers a check here;
a timer that finds one is held (its outcome says why), and whoever closes
the matter calls `resume_after_matters` to arm the step again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from buyerguard.domain.orders import Order
from buyerguard.services.context import Context

OpenMatterCheck = Callable[[Context, Order], list[str]]

# The one registry of checks: each returns what is open on the order, in words.
OPEN_MATTER_CHECKS: list[OpenMatterCheck] = []


def open_matters(ctx: Context, order: Order) -> list[str]:
    """Everything open on the order that holds its automatic steps (empty: none)."""
    return [matter for check in OPEN_MATTER_CHECKS for matter in check(ctx, order)]


def held_outcome(matters: list[str], due_at: datetime) -> str:
    return f"held as of {due_at.isoformat()}: {'; '.join(matters)}"
