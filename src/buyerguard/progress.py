"""The one progress bar long commands and benchmarks show (Rich).

A bar is drawn only when its console is a terminal: piped or redirected, the
console gets nothing, not even the bar's last frame, so a script reading the
output reads only what the command says. The CLI draws its bars on stderr
(`cli_common.progress_console`), so stdout stays clean even on a terminal.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def progress_bar(console: Console, *, time_remaining: bool = True) -> Progress:
    """Description, bar, done/total, elapsed (and remaining) time; silent off a terminal."""
    columns: list[ProgressColumn] = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ]
    if time_remaining:
        columns.append(TimeRemainingColumn())
    return Progress(*columns, console=console, transient=False, disable=not console.is_terminal)


def steps_bar(console: Console) -> Progress:
    """For steps whose size is not known in advance (`step`): description, a bar that pulses
    while the step runs and fills when it is done, and the step's elapsed time."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal,
    )


@contextmanager
def step(bar: Progress, description: str) -> Iterator[None]:
    """One step on `bar`: pulsing while the block runs, full once it returns (a step that
    raises stays unfilled, so the last bar drawn names the step that failed)."""
    task = bar.add_task(description, total=None)
    yield
    bar.update(task, total=1, completed=1)
