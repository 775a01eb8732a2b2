"""What every `buyerguard` command shares: the consoles, the runtime, how a refusal exits,
and how data is printed (a table on a terminal, tab-separated when piped, or `--json`).

A refusal is one line on stderr, `error: CODE [FIELD]: MESSAGE`, and exit code 2, whoever
refused: the project (`refusals_exit_2`) or the command line's parser, before any command
ran (`OneLineUsageErrors`). FIELD is what the person typed: an option by its flag
(`--as-of`), an argument by its name; a field the command derived keeps the service's name.

Numbers for people are grouped in thousands: amounts by `money.format_fen(fen,
thousands=True)` ("5,359.84"), counts by the `,` format ("1,234,567 entries"), in lines,
tables and the tab-separated rows of a pipe alike; `--json` keeps the API's plain strings
("5359.84")."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import wraps
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

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
T = TypeVar("T")


def refusal(code: str, field: str | None, message: str) -> None:
    """The one line of a refusal, on stderr: `error: CODE [FIELD]: MESSAGE`."""
    where = f" [{field}]" if field else ""
    print(f"error: {code}{where}: {message}", file=sys.stderr)


def refusals_exit_2(function: F) -> F:
    """Turn a refused input into one line on stderr and exit code 2."""

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except BuyerguardError as exc:
            refusal(exc.code, _as_given(exc.field), exc.message)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


# The exceptions the command line's parser raises: click's, or (Typer 0.29 on) Typer's own
# copy of them; `typer.BadParameter` is one of them either way. Its current context is in
# the `globals` module beside them.
_parser = importlib.import_module(typer.BadParameter.__module__)
_parser_globals = importlib.import_module(_parser.__name__.rpartition(".")[0] + ".globals")


def _as_given(field: str | None) -> str | None:
    """A refused field as the running command's line names it, when one of its parameters
    carries that field (`--merchant` for `merchant_ids`): the person reads what they typed,
    not the service's name for it. Any other field (one the command derived) is kept."""
    context = _parser_globals.get_current_context(silent=True)
    if field is None or context is None:
        return field
    names = {field, *(field.removesuffix(unit) for unit in ("_ids", "_id", "_fen"))}
    flags = {"--" + name.replace("_", "-") for name in names}
    for param in context.command.params:
        if param.name in names or flags & set(getattr(param, "opts", ())):
            return _parameter(param)
    return field


def _flat(text: str) -> str:
    """A message on one line (click lists a choice's values one a line)."""
    return " ".join(text.split())


def _parameter(param: Any) -> str | None:
    """How the command line names a parameter: an option by its long name."""
    if param is None:
        return None
    opts = [str(opt) for opt in getattr(param, "opts", None) or ()]
    if param.param_type_name == "option" and opts:
        return next((opt for opt in opts if opt.startswith("--")), opts[0])
    return str(param.name)


def _usage_refusal(exc: Any) -> tuple[str, str | None]:
    """The code and field of a command line the parser refused."""
    if isinstance(exc, _parser.BadParameter):  # a value, or a missing one
        kind = getattr(exc, "param_type", None) or getattr(exc.param, "param_type_name", None)
        kind = kind if kind in ("option", "argument") else "parameter"
        state = "missing" if isinstance(exc, _parser.MissingParameter) else "invalid"
        return f"{kind}_{state}", _parameter(exc.param)
    if isinstance(exc, _parser.NoSuchOption):
        return "option_unknown", str(exc.option_name)
    if isinstance(exc, _parser.BadOptionUsage):  # an option without its value
        return "option_invalid", str(exc.option_name)
    if isinstance(exc, _parser.BadArgumentUsage):  # an extra argument
        return "argument_invalid", None
    if isinstance(exc, _parser.UsageError):
        return "usage_invalid", None
    return "command_failed", None  # a ClickException of another kind: its own exit code


@contextmanager
def _one_line_usage_errors() -> Iterator[None]:
    try:
        yield
    except _parser.ClickException as exc:
        if isinstance(exc, getattr(_parser, "NoArgsIsHelpError", ())):
            raise  # a group run without a command: its help, as before
        code, field = _usage_refusal(exc)
        refusal(code, field, _flat(exc.format_message()))
        raise typer.Exit(exc.exit_code) from None


class OneLineUsageErrors(TyperGroup):
    """A group whose command line, refused by the parser, is one line on stderr like any
    refusal (exit 2, nothing run), not click's usage text and box. Every error of the
    command line surfaces in the root group's `make_context` (its own options) or `invoke`
    (everything below it), so the root alone is enough; a sub-group with it also names an
    unknown command's siblings. A group without a command still shows its help."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with _one_line_usage_errors():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        with _one_line_usage_errors():
            return super().invoke(ctx)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except _parser.UsageError as exc:
            if type(exc) is not _parser.UsageError or not args:
                raise  # an option where the command was expected: the parser's own error
            known = ", ".join(
                name
                for name in self.list_commands(ctx)
                if not getattr(self.get_command(ctx, name), "hidden", False)
            )
            message = f"no command {args[0]!r} in {ctx.command_path!r} (known: {known})"
            refusal("command_unknown", "command", message)
            raise typer.Exit(2) from None


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


After = Annotated[
    str | None,
    typer.Option("--after", help="start after this id: the last one a listing before showed"),
]
"""A listing by id goes on from where an earlier one stopped, as the API's cursors do."""
PAGE_ROWS = 1000
"""Rows a listing reads in one statement: a large --limit is read a page at a time."""


def listed(
    fetch: Callable[[str | None, int], Sequence[T]],
    id_of: Callable[[T], str],
    after: str | None,
    limit: int | None,
) -> tuple[list[T], bool]:
    """Items by id after `after`, at most `limit` (None: every one), and whether more were
    left out; `fetch(after, rows)` reads one page of at most `rows`."""
    rows = PAGE_ROWS if limit is None else min(limit + 1, PAGE_ROWS)
    found: list[T] = []
    while limit is None or len(found) <= limit:
        page = fetch(id_of(found[-1]) if found else after, rows)
        found.extend(page)
        if len(page) < rows:
            break
    if limit is None:
        return found, False
    return found[:limit], len(found) > limit


def left_out(what: str, ids: Sequence[str], limit: int, more: bool) -> str:
    """The closing line of a listing of `ids`: how many, and, when more were left out, how
    to see them (a larger --limit, or --after the last one shown)."""
    line = f"{len(ids):,} {what}"
    if not more or not ids:
        return line
    return f"{line}; more left out (--limit is {limit}: raise it, or go on with --after {ids[-1]})"


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
