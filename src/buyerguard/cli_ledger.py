"""`buyerguard ledger|rulebook|audit`: the ledger's check and trial balance, the rulebooks,
and the audit trail of every command."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from buyerguard.cli_common import (
    AsJson,
    configured_runtime,
    console,
    print_json,
    print_rows,
    progress_console,
    refusals_exit_2,
    say,
)
from buyerguard.clock import (
    format_instant,
    get_clock,
    local_date,
    parse_instant,
    require_local_date,
)
from buyerguard.errors import InvalidInput
from buyerguard.money import format_fen
from buyerguard.rulebook import describe_keys, load_rulebook_dir, render_value, rulebooks

ledger_app = typer.Typer(help="Double-entry ledger.", no_args_is_help=True)
rulebook_app = typer.Typer(help="Effective-dated rulebooks.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail: who did what, when.", no_args_is_help=True)
RulebookDir = Annotated[
    Path | None, typer.Option("--rulebooks", help="Rulebook directory (default: ./rulebooks)")
]


@ledger_app.command("check")
@refusals_exit_2
def ledger_check(
    full: Annotated[
        bool, typer.Option("--full", help="re-derive everything, not only since the checkpoint")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Re-derive balances from raw postings; exit 1 with a report on any breach.

    From the latest checkpoint on (`--full`, or no checkpoint yet: from the
    start); a full pass that finds no breach writes a new checkpoint.
    """
    from rich.markup import escape
    from rich.progress import TaskID

    from buyerguard.ledger.checkpoint import run_ledger_check
    from buyerguard.progress import progress_bar

    rt = configured_runtime()
    if as_json:  # no progress bar: stdout is one JSON document
        report = run_ledger_check(rt.engine, rt.clock.now(), full=full)
        print_json(
            {
                "ok": report.ok,
                "full": report.full,
                "accounts": report.accounts,
                "transfers": report.transfers,
                "entries": report.entries,
                "entries_rederived": report.new_entries,
                "posted_debits": format_fen(report.total_debits_posted_fen),
                "posted_credits": format_fen(report.total_credits_posted_fen),
                "checkpoint_from": report.checkpoint_from,
                "checkpoint_written": report.checkpoint_written,
                "breaches": report.breaches,
                "breaches_omitted": report.breaches_omitted,
            }
        )
        if not report.ok:
            raise typer.Exit(1)
        return
    with progress_bar(progress_console) as bar:
        tasks: dict[str, TaskID] = {}

        def show(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = bar.add_task(step, total=total)
            bar.update(tasks[step], completed=done, total=total)

        report = run_ledger_check(rt.engine, rt.clock.now(), full=full, progress=show)
    if report.full:
        say(f"full pass: {report.new_entries:,} entries re-derived")
    else:
        say(
            f"incremental from checkpoint {report.checkpoint_from}: {report.new_entries:,} "
            f"entries re-derived after it (run --full to re-derive everything)"
        )
    say(
        f"{report.accounts:,} accounts, {report.transfers:,} transfers, {report.entries:,} "
        f"entries; posted debits {format_fen(report.total_debits_posted_fen, thousands=True)}"
        f" = credits {format_fen(report.total_credits_posted_fen, thousands=True)}"
    )
    if report.checkpoint_written is not None:
        say(
            f"checkpoint {report.checkpoint_written} written (entries up to id "
            f"{report.horizon_entry_id})"
        )
    elif report.checkpoint_note:
        say(report.checkpoint_note)
    if not report.ok:
        for breach in report.breaches:
            console.print(f"[red]BREACH[/red] {escape(breach)}", soft_wrap=True)
        if report.breaches_omitted:
            console.print(f"[red]BREACH[/red] … and {report.breaches_omitted:,} more")
        raise typer.Exit(1)
    console.print("[green]ledger check passed[/green]")


@ledger_app.command("trial-balance")
@refusals_exit_2
def ledger_trial_balance(
    day: Annotated[
        str | None, typer.Option("--date", help="Shanghai date (default: today)")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Posted debits and credits per account at the end of a Shanghai day."""
    from buyerguard.ledger.check import trial_balance
    from buyerguard.store.db import read_transaction

    try:
        as_of = date.fromisoformat(day) if day is not None else local_date(get_clock().now())
    except ValueError as exc:
        raise InvalidInput("date_malformed", f"not a date: {day!r}", "date") from exc
    require_local_date(as_of, field="date")
    rt = configured_runtime()
    with read_transaction(rt.engine) as connection:
        lines = trial_balance(connection, as_of)
    if as_json:
        print_json(
            {
                "date": as_of.isoformat(),
                "accounts": [
                    {
                        "account_id": line.account_id,
                        "debits": format_fen(line.debits_fen),
                        "credits": format_fen(line.credits_fen),
                        "net": format_fen(line.net_fen),
                    }
                    for line in lines
                ],
            }
        )
        return
    rows = [
        (
            line.account_id,
            format_fen(line.debits_fen, thousands=True),
            format_fen(line.credits_fen, thousands=True),
            format_fen(line.net_fen, thousands=True),
        )
        for line in lines
    ]
    debits = sum(line.debits_fen for line in lines)
    credits = sum(line.credits_fen for line in lines)
    rows.append(
        ("TOTAL", format_fen(debits, thousands=True), format_fen(credits, thousands=True), "")
    )
    header = ("account", "debits", "credits", "net (Dr-Cr)")
    print_rows(f"trial balance {as_of}", header, rows)


@rulebook_app.command("show")
@refusals_exit_2
def rulebook_show(
    at: Annotated[str | None, typer.Option(help="instant (default: now)")] = None,
    directory: RulebookDir = None,
    as_json: AsJson = False,
) -> None:
    """The rulebook in force at an instant, every key with its value and meaning."""
    instant = parse_instant(at, field="at") if at is not None else get_clock().now()
    books = load_rulebook_dir(directory) if directory else rulebooks()
    book = books.at(instant, field="at")
    if as_json:
        flat = book.flat()
        print_json(
            {
                "id": book.id,
                "title": book.title,
                "effective_from": format_instant(book.effective_from),
                "keys": {key: render_value(flat[key]) for key, _doc in describe_keys()},
            }
        )
        return
    console.print(
        f"[bold]{book.id}[/bold] — {book.title}\n"
        f"effective from {format_instant(book.effective_from)} ({book.source})"
    )
    flat = book.flat()
    if not console.is_terminal:  # piped: one greppable line per key, nothing truncated
        for key, doc in describe_keys():
            print(f"{key} = {render_value(flat[key])}  # {doc}")
        return
    table = Table("key", "value", "meaning")
    table.columns[0].no_wrap = True
    for key, doc in describe_keys():
        table.add_row(key, render_value(flat[key]), doc)
    console.print(table)


@rulebook_app.command("diff")
@refusals_exit_2
def rulebook_diff(
    first: str, second: str, directory: RulebookDir = None, as_json: AsJson = False
) -> None:
    """Keys whose values differ between two rulebooks (by id).

    `--json`: `{"from", "to", "keys": {key: {"from", "to"}}}`, values as `rulebook show
    --json` writes them; `keys` is empty when the two set every key alike.
    """
    books = load_rulebook_dir(directory) if directory else rulebooks()
    left, right = books.by_id(first).flat(), books.by_id(second).flat()
    if as_json:
        changed = {
            key: {"from": render_value(left[key]), "to": render_value(right[key])}
            for key in sorted(left)
            if left[key] != right[key]
        }
        print_json({"from": first, "to": second, "keys": changed})
        return
    table = Table("key", first, second, title=f"{first} → {second}")
    for key in sorted(left):
        if left[key] != right[key]:
            table.add_row(key, render_value(left[key]), render_value(right[key]))
    console.print(table if table.row_count else f"{first} and {second} set every key alike")


@audit_app.command("show")
@refusals_exit_2
def audit_show(
    subject: str,
    actor: Annotated[str | None, typer.Option(help="only this actor's records")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 500,
    as_json: AsJson = False,
) -> None:
    """Every audit record about SUBJECT (an order, case, merchant… id), oldest first."""
    from buyerguard.api.audit_routes import audit_view
    from buyerguard.services.records import AuditQuery, audit_entries
    from buyerguard.store.db import read_transaction

    rt = configured_runtime()
    with read_transaction(rt.engine) as connection:
        rows = audit_entries(
            connection, AuditQuery(subject_id=subject, actor=actor), after_id=None, limit=limit
        )
    views = [audit_view(row) for row in rows]
    if as_json:
        print_json(views)
        return
    header = ("recorded", "occurred", "actor", "command", "details")
    lines = [
        (
            str(view["recorded_at"]),
            str(view["occurred_at"]),
            str(view["actor"]),
            str(view["command"]),
            json.dumps(view["details"], ensure_ascii=False, sort_keys=True),
        )
        for view in views
    ]
    print_rows(f"audit trail of {subject}: {len(lines):,} record(s)", header, lines)
