"""`buyerguard payouts|instructions`: payout runs, instructions and their outcomes."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from buyerguard.cli_common import (
    After,
    AsJson,
    configured_runtime,
    left_out,
    listed,
    print_json,
    print_rows,
    progress_console,
    refusals_exit_2,
    say,
)
from buyerguard.clock import (
    format_instant,
)
from buyerguard.money import format_fen

payouts_app = typer.Typer(help="Payouts to merchants.", no_args_is_help=True)
instructions_app = typer.Typer(
    help="Instructions to pay out (payouts, refunds, compensation) and their outcomes.",
    no_args_is_help=True,
)


@payouts_app.command("run")
@refusals_exit_2
def payouts_run(
    merchant: Annotated[
        list[str] | None,
        typer.Option("--merchant", help="pay only this merchant (repeat for more)"),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Run payouts now, as the operator: every merchant with money payable, or the named ones.

    Each merchant commits on its own: debt is netted, the reserve set to its
    share, the rest instructed as one payout when it reaches payouts.minimum_yuan.
    An unknown merchant is refused before anything runs.
    """
    from buyerguard.api.money_views import payout_run_view
    from buyerguard.services.context import OPERATOR
    from buyerguard.services.payouts import run_on_demand

    rt = configured_runtime()
    with progress_console.status("running payouts", spinner="dots"):
        summary = run_on_demand(rt, OPERATOR, merchant or None)
    if as_json:
        print_json(payout_run_view(summary))
        return
    rows: list[tuple[str, ...]] = [
        (
            result.merchant_id,
            result.instruction_id or "-",
            format_fen(result.amount_fen, thousands=True),
            format_fen(result.reserve_moved_fen, thousands=True),
            format_fen(result.debt_netted_fen, thousands=True),
        )
        for result in summary["results"]
    ]
    header = ("merchant", "payout", "amount", "reserve moved", "debt netted")
    print_rows(f"payout run {summary['id']}", header, rows)
    say(
        f"payout run {summary['id']} as of {format_instant(summary['as_of'])}: "
        f"{summary['payouts']:,} payout(s) of {summary['merchants_considered']:,} merchant(s) "
        f"considered, total {format_fen(summary['total_fen'], thousands=True)}"
    )


def _instruction_rows(rows: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    return [
        (
            row["id"],
            row["kind"],
            row["party"],
            format_fen(row["amount_fen"], thousands=True),
            row["state"],
            format_instant(row["instructed_at"]),
            format_instant(row["due_by"]),
            row["order_id"] or "",
            row["failure_reason"] or "",
        )
        for row in rows
    ]


INSTRUCTION_HEADER = (
    "id",
    "kind",
    "party",
    "amount",
    "state",
    "instructed",
    "overdue after",
    "order",
    "failure",
)


def _instructions(
    state: str | None, kind: str | None, after: str | None, limit: int | None
) -> tuple[list[dict[str, Any]], bool, int]:
    """Instructions by id after `after` (every one when `limit` is None), whether more were
    left out, and `instructions.overdue_after_hours` in force now."""
    from buyerguard.services.context import OPERATOR
    from buyerguard.services.instructions import list_instructions

    rt = configured_runtime()
    with rt.reading(OPERATOR) as ctx:
        now = ctx.now()
        hours = ctx.rulebook_at(now, field=None).instructions.overdue_after_hours
        rows, more = listed(
            lambda start, rows: list_instructions(
                ctx.connection, now=now, state=state, kind=kind, after=start, limit=rows
            ),
            lambda row: str(row["id"]),
            after,
            limit,
        )
    return rows, more, hours


@instructions_app.command("list")
@refusals_exit_2
def instructions_list(
    state: Annotated[
        str | None,
        typer.Option(help="instructed, executed, failed, or overdue (instructed, past its time)"),
    ] = None,
    kind: Annotated[
        str | None, typer.Option(help="payout, refund, compensation or carrier_subsidy")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 100,
    after: After = None,
    as_json: AsJson = False,
) -> None:
    """Instructions by id, with their state, when they fall overdue and why one failed."""
    from buyerguard.api.money_views import instruction_view

    rows, more, _ = _instructions(state, kind, after, limit)
    if as_json:
        print_json({"items": [instruction_view(row) for row in rows], "more": more})
        return
    print_rows(f"{len(rows):,} instruction(s)", INSTRUCTION_HEADER, _instruction_rows(rows))
    say(left_out("instruction(s)", [row["id"] for row in rows], limit, more))


@instructions_app.command("overdue")
@refusals_exit_2
def instructions_overdue(as_json: AsJson = False) -> None:
    """Every instruction still without an outcome after instructions.overdue_after_hours.

    Exits 0 even when some are overdue (this is a report, not a check); the
    last line says how many.
    """
    from buyerguard.api.money_views import instruction_view

    rows, _, hours = _instructions("overdue", None, None, None)
    if as_json:
        items = [instruction_view(row) for row in rows]
        print_json({"overdue": len(rows), "overdue_after_hours": hours, "items": items})
        return
    if rows:
        print_rows(f"{len(rows):,} overdue", INSTRUCTION_HEADER, _instruction_rows(rows))
    say(
        f"{len(rows):,} instruction(s) overdue: instructed and not reported executed or failed "
        f"within instructions.overdue_after_hours ({hours} h now)"
    )
