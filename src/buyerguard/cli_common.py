"""What every `buyerguard` command shares: the consoles, the runtime, how a refusal exits,
and how data is printed (a table on a terminal, tab-separated when piped, or `--json`).

Numbers for people are grouped in thousands: amounts by `money.format_fen(fen,
thousands=True)` ("5,359.84"), counts by the `,` format ("1,234,567 entries"), in lines,
tables and the tab-separated rows of a pipe alike; `--json` keeps the API's plain strings
("5359.84")."""

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

# Rich's highlighter is off: it colours the digits of an instant or an amount in pieces
# (2024-10-20 in three colours); colour is given on purpose, by markup ([green]passed).
console = Console(highlight=False)
"""stdout: what a command says."""
progress_console = Console(stderr=True, highlight=False)
"""stderr: progress bars and spinners, drawn only when it is a terminal (`progress.py`), so a
script reading stdout never reads a bar."""
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


def say(text: str) -> None:
    """One line for people: never wrapped (a pipe gets it whole) and never read as markup
    (ids, file names and notes may hold brackets)."""
    console.print(text, soft_wrap=True, markup=False)


# Columns of numbers: right-aligned, so their digits and thousands separators line up.
NUMBER_COLUMNS = frozenset(
    {"amount", "reserve moved", "debt netted", "debits", "credits", "net (Dr-Cr)", "attempts"}
)


def print_rows(title: str, header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    """A table on a terminal; piped, one tab-separated line per row, nothing truncated."""
    if not console.is_terminal:
        for row in rows:
            print("\t".join(row))
        return
    table = Table(title=title)
    for name in header:
        table.add_column(name, justify="right" if name in NUMBER_COLUMNS else "left")
    for row in rows:
        table.add_row(*row)
    console.print(table)
