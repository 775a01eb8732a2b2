"""What every `buyerguard` command shares: the console, the runtime, and how a refusal exits."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import typer
from rich.console import Console

from buyerguard.bootstrap import Runtime, build_runtime
from buyerguard.errors import BuyerguardError

console = Console()
F = TypeVar("F", bound=Callable[..., Any])


def refusals_exit_2(function: F) -> F:
    """Turn a refused input into one line on stderr and exit code 2."""

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except BuyerguardError as exc:
            where = f" [{exc.field}]" if exc.field else ""
            print(f"error: {exc.code}{where}: {exc.message}", file=sys.stderr)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def configured_runtime(*, needs_schema: bool = True) -> Runtime:
    """The runtime from configuration; by default refuses a database not at the schema head."""
    rt = build_runtime()
    if needs_schema:
        from buyerguard.store.migrate import require_migrated

        require_migrated(rt.engine)
    return rt
