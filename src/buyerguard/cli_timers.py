"""Timers from the command line: list them, re-arm a dead letter. A refused input exits 2
with one line on stderr, as everywhere."""

from __future__ import annotations

from typing import Annotated

import typer

from buyerguard.cli_common import (
    After,
    AsJson,
    configured_runtime,
    left_out,
    listed,
    print_json,
    print_rows,
    refusals_exit_2,
    say,
)
from buyerguard.clock import format_instant
from buyerguard.services.timers import FAILED, TIMER_STATES_TEXT

timers_app = typer.Typer(help="Timers: list them, re-arm dead letters.", no_args_is_help=True)


@timers_app.command("list")
@refusals_exit_2
def timers_list(
    state: Annotated[
        str | None, typer.Option(help=f"{TIMER_STATES_TEXT} ({FAILED}: the dead letters)")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 100,
    after: After = None,
    as_json: AsJson = False,
) -> None:
    """Timers by id, with attempts and the last error of a failing one."""
    from buyerguard.api.views import timer_view
    from buyerguard.services.context import OPERATOR
    from buyerguard.services.timers import list_timers

    rt = configured_runtime()
    with rt.reading(OPERATOR) as ctx:
        rows, more = listed(
            lambda start, rows: list_timers(ctx.connection, state=state, after=start, limit=rows),
            lambda row: str(row["id"]),
            after,
            limit,
        )
    if as_json:
        print_json([timer_view(row) for row in rows])
        return
    lines = [
        (
            row["id"],
            row["status"],
            format_instant(row["due_at"]),
            f"{row['attempts']:,}",
            row["last_error"] or "",
        )
        for row in rows
    ]
    header = ("id", "state", "due", "attempts", "last error")
    print_rows(f"{len(rows):,} timer(s)", header, lines)
    if more:
        say(left_out("timer(s)", [row["id"] for row in rows], limit, more))


@timers_app.command("retry")
@refusals_exit_2
def timers_retry(timer_id: str, as_json: AsJson = False) -> None:
    """Re-arm a dead-lettered timer: it runs on the next tick, attempts counted anew.

    `--json`: the re-armed timer as `timers list --json` shows it (pending, 0 attempts).
    """
    from sqlalchemy import select

    from buyerguard.api.views import timer_view
    from buyerguard.services.context import OPERATOR
    from buyerguard.services.timers import retry_timer
    from buyerguard.store.tables import timers

    rt = configured_runtime()
    with rt.writing(OPERATOR) as ctx:
        retry_timer(ctx, timer_id)
        query = select(timers).where(timers.c.id == timer_id)
        rearmed = dict(ctx.connection.execute(query).mappings().one())
    if as_json:
        print_json(timer_view(rearmed))
        return
    say(f"re-armed {timer_id}")
