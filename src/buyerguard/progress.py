"""The one progress bar long commands and benchmarks show (Rich)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def progress_bar(console: Console, *, time_remaining: bool = True) -> Progress:
    """Description, bar, done/total, elapsed (and remaining) time."""
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    columns.append(TimeElapsedColumn())
    if time_remaining:
        columns.append(TimeRemainingColumn())
    return Progress(*columns, console=console, transient=False)
