"""What every `buyerguard` command shares: the console, the runtime, how a refusal exits,
and how data is printed (a table on a terminal, tab-separated when piped, or `--json`)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

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


AsJson = Annotated[
    bool, typer.Option("--json", help="print the API's JSON shape instead of a table")
]


def print_json(document: object) -> None:
    """One JSON document on stdout, unstyled (the API's shapes: yuan strings, ISO instants)."""
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")


AMOUNT_COLUMNS = frozenset({"amount", "reserve moved", "debt netted"})


def print_rows(title: str, header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    """A table on a terminal; piped, one tab-separated line per row, nothing truncated."""
    if not console.is_terminal:
        for row in rows:
            print("\t".join(row))
        return
    table = Table(title=title)
    for name in header:
        table.add_column(name, justify="right" if name in AMOUNT_COLUMNS else "left")
    for row in rows:
        table.add_row(*row)
    console.print(table)
