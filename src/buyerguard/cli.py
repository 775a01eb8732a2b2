"""The `buyerguard` command. A refused input exits 2 with one line on stderr."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from datetime import date
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from buyerguard.bootstrap import Runtime, build_runtime
from buyerguard.clock import (
    format_instant,
    get_clock,
    local_date,
    parse_instant,
    require_local_date,
)
from buyerguard.errors import BuyerguardError, InvalidInput
from buyerguard.money import format_fen
from buyerguard.rulebook import describe_keys, load_rulebook_dir, render_value, rulebooks

app = typer.Typer(
    help="buyerguard: buyer-protection engine for B2B marketplaces.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo marketplace.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
scheduler_app = typer.Typer(help="Due timers.", no_args_is_help=True)
timers_app = typer.Typer(help="Timers: list them, re-arm dead letters.", no_args_is_help=True)
facts_app = typer.Typer(help="Facts in bulk, through a running server.", no_args_is_help=True)
ledger_app = typer.Typer(help="Double-entry ledger.", no_args_is_help=True)
rulebook_app = typer.Typer(help="Effective-dated rulebooks.", no_args_is_help=True)
shipments_app = typer.Typer(
    help="Shipment history (for promises and sign rates).", no_args_is_help=True
)
eta_app = typer.Typer(help="Delivery promises 预计达.", no_args_is_help=True)
badge_app = typer.Typer(help="The arrival badge 亮标.", no_args_is_help=True)
for sub_app, name in (
    (db_app, "db"),
    (demo_app, "demo"),
    (token_app, "token"),
    (scheduler_app, "scheduler"),
    (timers_app, "timers"),
    (facts_app, "facts"),
    (ledger_app, "ledger"),
    (rulebook_app, "rulebook"),
    (shipments_app, "shipments"),
    (eta_app, "eta"),
    (badge_app, "badge"),
):
    app.add_typer(sub_app, name=name)

console = Console()
F = TypeVar("F", bound=Callable[..., Any])
RulebookDir = Annotated[
    Path | None, typer.Option("--rulebooks", help="Rulebook directory (default: ./rulebooks)")
]


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


def _runtime(*, needs_schema: bool = True) -> Runtime:
    """The runtime from configuration; by default refuses a database not at the schema head."""
    rt = build_runtime()
    if needs_schema:
        from buyerguard.store.migrate import require_migrated

        require_migrated(rt.engine)
    return rt


@db_app.command("upgrade")
@refusals_exit_2
def db_upgrade() -> None:
    """Apply migrations (SQLite file by default, or $BUYERGUARD_DATABASE_URL)."""
    from buyerguard.store.migrate import upgrade

    rt = _runtime(needs_schema=False)
    upgrade(rt.engine)
    console.print(f"database at head: {rt.engine.url.render_as_string(hide_password=True)}")


@demo_app.command("load")
@refusals_exit_2
def demo_load() -> None:
    """Load the demo marketplace (idempotent) and print a token per role."""
    from buyerguard.demo import load_demo

    result = load_demo(_runtime())
    console.print(f"demo loaded; created: {', '.join(result.created) or 'nothing (already there)'}")
    table = Table("role", "token", title=f"demo tokens (kept in {result.tokens_file})")
    for role, secret in result.tokens.items():
        table.add_row(role, secret)
    console.print(table)


@demo_app.command("token")
@refusals_exit_2
def demo_token_show(role: str) -> None:
    """Print the saved demo token of a role (operator, marketplace, merchant, buyer)."""
    from buyerguard.demo import demo_token

    print(demo_token(role))


@token_app.command("create")
@refusals_exit_2
def token_create(
    role: Annotated[str, typer.Option(help="operator, marketplace, merchant or buyer")],
    party: Annotated[str | None, typer.Option(help="merchant or buyer id")] = None,
    expires: Annotated[str | None, typer.Option(help="expiry instant (ISO-8601)")] = None,
    label: Annotated[str, typer.Option(help="what the token is for")] = "",
) -> None:
    """Create a token; the secret is printed once and only its hash is stored."""
    from buyerguard.domain.parties import parse_enum
    from buyerguard.services.context import Role
    from buyerguard.services.tokens import create_token

    parsed_role = parse_enum(Role, role, "role")
    expires_at = parse_instant(expires, field="expires") if expires else None
    rt = _runtime()
    with rt.engine.begin() as connection:
        issued = create_token(
            connection, parsed_role, party, rt.clock.now(), expires_at=expires_at, label=label
        )
    print(issued.secret)
    print(f"token id {issued.token_id} (role {issued.role.value})", file=sys.stderr)


@token_app.command("revoke")
@refusals_exit_2
def token_revoke(token_id: str) -> None:
    """Revoke a token by its id."""
    from buyerguard.services.tokens import revoke_token

    rt = _runtime()
    with rt.engine.begin() as connection:
        revoke_token(connection, token_id, rt.clock.now())
    console.print(f"revoked {token_id}")


@scheduler_app.command("run")
@refusals_exit_2
def scheduler_run(
    once: Annotated[bool, typer.Option(help="fire what is due now, then exit")] = False,
    interval: Annotated[float, typer.Option(help="seconds between ticks")] = 1.0,
    name: Annotated[str, typer.Option(help="name recorded on fired timers")] = "cli",
    max_attempts: Annotated[
        int | None,
        typer.Option(min=1, help="failed attempts before a timer is dead-lettered (default 8)"),
    ] = None,
    exit_with_parent: Annotated[
        bool, typer.Option(help="stop when the starting process is gone (used by serve)")
    ] = False,
) -> None:
    """Fire due timers exactly once (catching up on any backlog); SIGTERM stops it cleanly."""
    from buyerguard.scheduler import Scheduler

    rt = _runtime()
    scheduler = Scheduler(
        rt.engine,
        rt.clock,
        rt.rulebooks,
        name=name,
        history=rt.history,
        recurring=True,
        max_attempts=max_attempts,
    )
    if once:
        fired = scheduler.tick()
        for item in fired:
            console.print(f"{item.timer_id} due {format_instant(item.due_at)}: {item.outcome}")
        failed = sum(item.failed for item in fired)
        console.print(f"fired {len(fired) - failed} timer(s), {failed} failed")
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # graceful: finish the tick, exit
    if exit_with_parent:
        parent = os.getppid()
        threading.Thread(target=_stop_when_orphaned, args=(parent, stop), daemon=True).start()
    try:
        scheduler.run(interval, stop)
    except KeyboardInterrupt:
        stop.set()


def _stop_when_orphaned(parent_pid: int, stop: threading.Event) -> None:
    """Stop once the process that started us is gone (even if it was killed outright)."""
    while not stop.wait(1.0):
        if os.getppid() != parent_pid:
            stop.set()


@timers_app.command("list")
@refusals_exit_2
def timers_list(
    state: Annotated[
        str | None, typer.Option(help="pending, fired, cancelled or failed (dead letters)")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
) -> None:
    """Timers by id, with attempts and the last error of a failing one."""
    from buyerguard.services.context import OPERATOR
    from buyerguard.services.timers import list_timers

    rt = _runtime()
    with rt.reading(OPERATOR) as ctx:
        rows = list_timers(ctx.connection, state=state, after=None, limit=limit)
    lines = [
        (
            row["id"],
            row["status"],
            format_instant(row["due_at"]),
            str(row["attempts"]),
            row["last_error"] or "",
        )
        for row in rows
    ]
    if not console.is_terminal:  # piped: one greppable line per timer, nothing truncated
        for line in lines:
            print("\t".join(line))
        return
    table = Table("id", "state", "due", "attempts", "last error", title=f"{len(rows)} timer(s)")
    for line in lines:
        table.add_row(*line)
    console.print(table)


@timers_app.command("retry")
@refusals_exit_2
def timers_retry(timer_id: str) -> None:
    """Re-arm a dead-lettered timer: it runs on the next tick, attempts counted anew."""
    from buyerguard.services.context import OPERATOR
    from buyerguard.services.timers import retry_timer

    rt = _runtime()
    with rt.writing(OPERATOR) as ctx:
        retry_timer(ctx, timer_id)
    console.print(f"re-armed {timer_id}")


@facts_app.command("load")
@refusals_exit_2
def facts_load(
    file: Path,
    url: Annotated[str, typer.Option(help="the server")] = "http://127.0.0.1:8000",
    token: Annotated[
        str | None, typer.Option(envvar="BUYERGUARD_TOKEN", help="a marketplace token")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=1000)] = 1000,
) -> None:
    """Stream an NDJSON file of facts (one `POST /v1/facts` fact a line) through the server.

    Every fact carries its idempotency key: a load cut short is finished by
    running the same file again. Exits 2 when any line was refused or skipped.
    """
    from buyerguard.facts_load import count_lines, load_file
    from buyerguard.progress import progress_bar

    if not token:
        raise InvalidInput("token_missing", "give --token or set BUYERGUARD_TOKEN", "token")
    if not file.is_file():
        raise InvalidInput("file_missing", f"no file {file}", "file")
    total = count_lines(file)
    with progress_bar(console) as progress:
        task = progress.add_task(f"loading {file.name}", total=total)
        summary = load_file(
            file, url, token, batch_size, lambda lines: progress.advance(task, lines)
        )
    counts = summary.counts
    console.print(
        f"{summary.lines} fact(s): {counts['applied']} applied, {counts['replayed']} replayed, "
        f"{counts['skipped']} skipped, {counts['refused']} refused"
    )
    for number, code, message in summary.refused[:20]:
        console.print(f"  line {number}: {code}: {message}", markup=False)
    if len(summary.refused) > 20:
        console.print(f"  … and {len(summary.refused) - 20} more")
    if summary.refused:
        raise InvalidInput(
            "facts_refused",
            f"{len(summary.refused)} of {summary.lines} fact(s) refused or skipped (listed above)",
            "file",
        )


@ledger_app.command("check")
@refusals_exit_2
def ledger_check() -> None:
    """Re-derive every balance from raw postings; exit 1 with a report on any breach."""
    from buyerguard.ledger.check import check_ledger
    from buyerguard.store.db import read_transaction

    rt = _runtime()
    with read_transaction(rt.engine) as connection:
        report = check_ledger(connection)
    console.print(
        f"{report.accounts} accounts, {report.transfers} transfers, {report.entries} entries; "
        f"posted debits {format_fen(report.total_debits_posted_fen)} = credits "
        f"{format_fen(report.total_credits_posted_fen)}"
    )
    if not report.ok:
        for breach in report.breaches:
            console.print(f"[red]BREACH[/red] {breach}")
        raise typer.Exit(1)
    console.print("[green]ledger check passed[/green]")


@ledger_app.command("trial-balance")
@refusals_exit_2
def ledger_trial_balance(
    day: Annotated[
        str | None, typer.Option("--date", help="Shanghai date (default: today)")
    ] = None,
) -> None:
    """Posted debits and credits per account at the end of a Shanghai day."""
    from buyerguard.ledger.check import trial_balance
    from buyerguard.store.db import read_transaction

    try:
        as_of = date.fromisoformat(day) if day else local_date(get_clock().now())
    except ValueError as exc:
        raise InvalidInput("date_malformed", f"not a date: {day!r}", "date") from exc
    require_local_date(as_of, field="date")
    rt = _runtime()
    with read_transaction(rt.engine) as connection:
        lines = trial_balance(connection, as_of)
    table = Table("account", "debits", "credits", "net (Dr-Cr)", title=f"trial balance {as_of}")
    for line in lines:
        table.add_row(
            line.account_id,
            format_fen(line.debits_fen, thousands=True),
            format_fen(line.credits_fen, thousands=True),
            format_fen(line.net_fen, thousands=True),
        )
    debits = sum(line.debits_fen for line in lines)
    credits = sum(line.credits_fen for line in lines)
    table.add_row(
        "TOTAL", format_fen(debits, thousands=True), format_fen(credits, thousands=True), ""
    )
    console.print(table)


@rulebook_app.command("show")
@refusals_exit_2
def rulebook_show(
    at: Annotated[str | None, typer.Option(help="instant (default: now)")] = None,
    directory: RulebookDir = None,
) -> None:
    """The rulebook in force at an instant, every key with its value and meaning."""
    instant = parse_instant(at, field="at") if at else get_clock().now()
    books = load_rulebook_dir(directory) if directory else rulebooks()
    book = books.at(instant)
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
def rulebook_diff(first: str, second: str, directory: RulebookDir = None) -> None:
    """Keys whose values differ between two rulebooks (by id)."""
    books = load_rulebook_dir(directory) if directory else rulebooks()
    left, right = books.by_id(first).flat(), books.by_id(second).flat()
    table = Table("key", first, second, title=f"{first} → {second}")
    for key in sorted(left):
        if left[key] != right[key]:
            table.add_row(key, render_value(left[key]), render_value(right[key]))
    console.print(table if table.row_count else f"{first} and {second} set every key alike")


@shipments_app.command("import")
@refusals_exit_2
def shipments_import(file: Path) -> None:
    """Load Parquet or CSV shipment history; one bad row refuses the whole file."""
    rt = _runtime(needs_schema=False)
    rows = rt.history.import_file(file, now=rt.clock.now())
    console.print(f"imported {rows} shipment(s) from {file}")


@eta_app.command("build")
@refusals_exit_2
def eta_build(
    as_of: Annotated[str | None, typer.Option("--as-of", help="instant (default: now)")] = None,
) -> None:
    """Build the promise table from the trailing window and publish it to the API."""
    from buyerguard.services import promises
    from buyerguard.services.context import OPERATOR

    rt = _runtime()
    instant = parse_instant(as_of, field="as_of") if as_of else rt.clock.now()
    with console.status("building promise table"), rt.reading(OPERATOR) as ctx:
        built = promises.build(ctx, instant)
    console.print(
        f"promise table as of {format_instant(built['as_of'])}: {built['routes']} route(s) "
        f"from {built['shipments']} shipment(s), rulebook {built['rulebook_id']}"
    )


@badge_app.command("evaluate")
@refusals_exit_2
def badge_evaluate(
    as_of: Annotated[str | None, typer.Option("--as-of", help="instant (default: now)")] = None,
) -> None:
    """Re-evaluate the arrival badge now (the scheduler does it daily)."""
    from buyerguard.services import badges
    from buyerguard.services.context import OPERATOR

    rt = _runtime()
    instant = parse_instant(as_of, field="as_of") if as_of else rt.clock.now()
    with rt.writing(OPERATOR) as ctx:
        changes = badges.evaluate_badges(ctx, instant)
    console.print(
        f"evaluated {changes.evaluated} merchant(s) as of {format_instant(instant)}: "
        f"awarded {sorted(changes.awarded)}, withdrawn {sorted(changes.withdrawn)}"
    )


@app.command("serve")
@refusals_exit_2
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[
        int | None, typer.Option(min=1, help="API worker processes (default: CPUs)")
    ] = None,
    scheduler: Annotated[
        bool, typer.Option(help="fire due timers in one scheduler process beside the API")
    ] = True,
) -> None:
    """Serve the API (with /docs, /openapi.json, /healthz) in N worker processes.

    Timers fire in one scheduler process (`buyerguard scheduler run`), started
    here unless --no-scheduler and stopped with the server; SIGTERM shuts both
    down gracefully.
    """
    import subprocess

    import uvicorn

    _runtime().engine.dispose()  # refuses an unreachable or unmigrated database up front
    count = workers or os.cpu_count() or 1
    timers = None
    if scheduler:
        command = ["scheduler", "run", "--name", "serve", "--exit-with-parent"]
        timers = subprocess.Popen([sys.executable, "-m", "buyerguard.cli", *command])
    console.print(
        f"serving on http://{host}:{port} with {count} worker(s)"
        f"{' and a scheduler process' if timers else ''}  (docs: http://{host}:{port}/docs)"
    )
    try:
        uvicorn.run("buyerguard.api.serve:app", factory=True, host=host, port=port, workers=count)
    finally:
        if timers is not None:
            timers.terminate()
            timers.wait(timeout=30)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
