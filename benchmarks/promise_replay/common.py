"""What the replay's parts share: the rules in force, the console and one-row queries."""

from __future__ import annotations

from typing import Any

import duckdb
from rich.console import Console
from rich.progress import Progress

from buyerguard.analytics.promise_params import PromiseParams
from buyerguard.clock import parse_instant
from buyerguard.progress import progress_bar
from buyerguard.rulebook import rulebook_at

# The rules in force at the end of the programme's rollout (policies.md §11).
DEFAULT_PROMISE = PromiseParams.from_rulebook(rulebook_at(parse_instant("2024-10-15")))

console = Console()


def progress() -> Progress:
    return progress_bar(console, time_remaining=False)


def one(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...]:
    """The single row of an aggregate query."""
    rows = con.sql(sql).fetchall()
    return tuple(rows[0])
