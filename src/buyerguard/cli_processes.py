"""Commands that run the engine and feed it: the API server, the scheduler and its timers,
facts in bulk. A refused input exits 2 with one line on stderr, as everywhere."""

from __future__ import annotations

import os
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from buyerguard.cli_common import (
    AsJson,
    configured_runtime,
    print_json,
    print_rows,
    progress_console,
    refusals_exit_2,
    say,
)
from buyerguard.clock import format_instant
from buyerguard.errors import InvalidInput
from buyerguard.logs import configure_logging_from_settings
from buyerguard.settings import settings

if TYPE_CHECKING:  # imported where used: a command loads only what it needs
    from buyerguard.facts_load import LoadSummary
    from buyerguard.scheduler import FiredTimer
    from buyerguard.webhook_dispatcher import EndpointPass

scheduler_app = typer.Typer(help="Due timers.", no_args_is_help=True)
timers_app = typer.Typer(help="Timers: list them, re-arm dead letters.", no_args_is_help=True)
facts_app = typer.Typer(help="Facts in bulk, through a running server.", no_args_is_help=True)


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
    as_json: Annotated[
        bool, typer.Option("--json", help="with --once: print the pass as one JSON document")
    ] = False,
) -> None:
    """Fire due timers exactly once (catching up on any backlog) and push the event feed to
    webhook endpoints; SIGTERM stops both cleanly.

    `--json` needs `--once`: a script gets the one pass as one document (`{"started_at",
    "timers", "fired", "failed", "by_kind", "webhooks"}`). A scheduler left running is a
    process, not a report: it logs each timer it fires as a JSON line on stderr
    (BUYERGUARD_LOG_FORMAT=json, the default), so it takes no --json.
    """
    from buyerguard.api.metrics import count_committed_transfers
    from buyerguard.scheduler import Scheduler
    from buyerguard.webhook_dispatcher import WebhookDispatcher

    if as_json and not once:
        raise InvalidInput(
            "json_needs_once",
            "--json prints one pass: add --once (a running scheduler logs each timer it "
            "fires as a JSON line on stderr)",
            "json",
        )
    configure_logging_from_settings()
    rt = configured_runtime()
    count_committed_transfers(rt.engine)  # beside `serve`, its counts join the workers'
    scheduler = Scheduler(
        rt.engine,
        rt.clock,
        rt.rulebooks,
        name=name,
        history=rt.history,
        recurring=True,
        max_attempts=max_attempts,
        isolate_jobs=True,
    )
    webhooks = WebhookDispatcher(rt.engine, rt.clock)
    if once:
        started_at = rt.clock.now()
        fired = scheduler.tick()
        if as_json:
            print_json(_pass_view(started_at, fired, webhooks.pass_once()))
            return
        for item in fired:
            say(f"{item.timer_id} due {format_instant(item.due_at)}: {item.outcome}")
        failed = sum(item.failed for item in fired)
        say(f"fired {len(fired) - failed:,} timer(s), {failed:,} failed")
        passes = webhooks.pass_once()
        if passes:
            delivered = sum(item.delivered for item in passes)
            say(f"webhooks: {delivered:,} event(s) delivered to {len(passes):,} endpoint(s)")
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # graceful: finish the tick, exit
    if exit_with_parent:
        parent = os.getppid()
        threading.Thread(target=_stop_when_orphaned, args=(parent, stop), daemon=True).start()
    # Webhooks in a thread of their own: a slow receiver never holds up a timer.
    delivering = threading.Thread(target=webhooks.run, args=(interval, stop), daemon=True)
    delivering.start()
    try:
        scheduler.run(interval, stop)
    except KeyboardInterrupt:
        stop.set()
    delivering.join(timeout=60)


def _pass_view(
    started_at: datetime, fired: list[FiredTimer], passes: list[EndpointPass]
) -> dict[str, Any]:
    """One `scheduler run --once` pass for scripts: when it started (it fires what is
    available by then), every timer it fired with its outcome, the counts (`fired`
    succeeded, `failed` backed off or dead-lettered) overall and by kind, and each webhook
    endpoint's delivery."""
    by_kind: dict[str, dict[str, int]] = {}
    for item in fired:
        counts = by_kind.setdefault(item.kind, {"fired": 0, "failed": 0})
        counts["failed" if item.failed else "fired"] += 1
    failed = sum(item.failed for item in fired)
    return {
        "started_at": format_instant(started_at),
        "timers": [
            {
                "id": item.timer_id,
                "kind": item.kind,
                "subject_id": item.subject_id,
                "due_at": format_instant(item.due_at),
                "outcome": item.outcome,
                "failed": item.failed,
                "armed": [
                    {"id": timer_id, "available_at": format_instant(at)}
                    for timer_id, at in item.armed
                ],
            }
            for item in fired
        ],
        "fired": len(fired) - failed,
        "failed": failed,
        "by_kind": dict(sorted(by_kind.items())),
        "webhooks": [
            {
                "endpoint_id": item.endpoint_id,
                "delivered": item.delivered,
                "failed": item.failed,
                "disabled": item.disabled,
            }
            for item in passes
        ],
    }


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
    as_json: AsJson = False,
) -> None:
    """Timers by id, with attempts and the last error of a failing one."""
    from buyerguard.api.views import timer_view
    from buyerguard.services.context import OPERATOR
    from buyerguard.services.timers import list_timers

    rt = configured_runtime()
    with rt.reading(OPERATOR) as ctx:
        rows = list_timers(ctx.connection, state=state, after=None, limit=limit)
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


@facts_app.command("load")
@refusals_exit_2
def facts_load(
    file: Path,
    url: Annotated[str, typer.Option(help="the server")] = "http://127.0.0.1:8000",
    token: Annotated[
        str | None, typer.Option(envvar="BUYERGUARD_TOKEN", help="a marketplace token")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=1000)] = 1000,
    as_json: AsJson = False,
) -> None:
    """Stream an NDJSON file of facts (one `POST /v1/facts` fact a line) through the server.

    Every fact carries its idempotency key: a load cut short is finished by
    running the same file again. Exits 2 when any line was refused or skipped.
    `--json`: `{"file", "lines", "sent", "applied", "replayed", "skipped", "refused",
    "refused_lines"}`, every refused or skipped line (`{"line", "code", "message"}`), printed
    before that exit.
    """
    from buyerguard.facts_load import count_lines, load_file
    from buyerguard.progress import progress_bar

    if not token:
        raise InvalidInput("token_missing", "give --token or set BUYERGUARD_TOKEN", "token")
    if not file.is_file():
        raise InvalidInput("file_missing", f"no file {file}", "file")
    total = count_lines(file)
    with progress_bar(progress_console) as progress:
        task = progress.add_task(f"loading {file.name}", total=total)
        summary = load_file(
            file, url, token, batch_size, lambda lines: progress.advance(task, lines)
        )
    counts = summary.counts
    if as_json:
        print_json(
            {
                "file": str(file),
                "lines": summary.lines,
                "sent": summary.sent,
                **{outcome: counts[outcome] for outcome in FACT_OUTCOMES},
                "refused_lines": [
                    {"line": number, "code": code, "message": message}
                    for number, code, message in summary.refused
                ],
            }
        )
    else:
        _say_loaded(summary)
    if summary.refused:
        raise InvalidInput(
            "facts_refused",
            f"{len(summary.refused):,} of {summary.lines:,} fact(s) refused or skipped"
            + (" (listed in refused_lines)" if as_json else " (listed above)"),
            "file",
        )


FACT_OUTCOMES = ("applied", "replayed", "skipped", "refused")


def _say_loaded(summary: LoadSummary) -> None:
    """The counts of a load and its first 20 refused lines, for people."""
    counts = summary.counts
    say(
        f"{summary.lines:,} fact(s): {counts['applied']:,} applied, "
        f"{counts['replayed']:,} replayed, {counts['skipped']:,} skipped, "
        f"{counts['refused']:,} refused"
    )
    for number, code, message in summary.refused[:20]:
        say(f"  line {number}: {code}: {message}")
    if len(summary.refused) > 20:
        say(f"  … and {len(summary.refused) - 20:,} more")


WORKER_PING_TIMEOUT_SECONDS = 60


@refusals_exit_2
def serve(
    host: Annotated[
        str | None, typer.Option(help="where to listen (default: $BUYERGUARD_HOST, 127.0.0.1)")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="the port (default: $BUYERGUARD_PORT, 8000)"),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="API worker processes (default: $BUYERGUARD_WORKERS, CPUs)"),
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
    import shutil
    import tempfile

    # Before anything imports prometheus_client: the workers count into files here, and a
    # scrape of any of them adds them all up (api/metrics.py).
    metrics_dir = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.mkdtemp(prefix="buyerguard-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        _serve(host, port, workers, scheduler)
    finally:
        if metrics_dir is not None:  # also after a refusal: nothing left behind in-process
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _serve(host: str | None, port: int | None, workers: int | None, scheduler: bool) -> None:
    """`serve` once its metrics directory is set: check the database, bind, run."""
    import subprocess

    import uvicorn

    from buyerguard.api.serve import NoDelayH11Protocol, SocketPerWorker, worker_sockets

    configured = settings()
    host = host or configured.host
    port = port or configured.port
    configure_logging_from_settings()
    configured_runtime().engine.dispose()  # refuses an unreachable or unmigrated database up front
    count = workers or configured.effective_workers
    # Several workers listen on sockets bound here, before anything starts, so a port in
    # use is refused in one line; one worker is served by uvicorn in this process.
    sockets = worker_sockets(host, port, count) if count > 1 else []
    port = int(sockets[0].getsockname()[1]) if sockets else port  # port 0: the one taken
    timers = None
    if scheduler:
        command = ["scheduler", "run", "--name", "serve", "--exit-with-parent"]
        timers = subprocess.Popen([sys.executable, "-m", "buyerguard.cli", *command])
    say(
        f"serving on http://{host}:{port} with {count:,} worker(s)"
        f"{' and a scheduler process' if timers else ''}  (docs: http://{host}:{port}/docs)"
    )
    options: dict[str, Any] = {
        "factory": True,
        "host": host,
        "port": port,
        "workers": count,
        "http": NoDelayH11Protocol,
        # asyncio's own loop, even where uvloop happens to be installed: httptools on uvloop
        # saved 0.05 ms of CPU a request but the feed's lag p99 rose in 5 runs of 5
        # (docs/benchmarks.md, "Ingest throughput").
        "loop": "asyncio",
        "access_log": False,  # each request is logged once, with its id (api/request_ids.py)
        "log_config": None,  # uvicorn's lines go through our JSON handler
        # uvicorn kills a worker that misses a 5 s ping; a loaded 2-core machine took
        # 13-21 s to start two workers, so each was killed and restarted (tests saw
        # "Child process died"). A worker really hung is still replaced, later.
        "timeout_worker_healthcheck": WORKER_PING_TIMEOUT_SECONDS,
    }
    try:
        if count == 1:
            uvicorn.run("buyerguard.api.serve:app", **options)
        else:
            config = uvicorn.Config("buyerguard.api.serve:app", **options)
            SocketPerWorker(config, sockets).run()
    finally:
        if timers is not None:
            timers.terminate()
            timers.wait(timeout=30)


@refusals_exit_2
def openapi(
    output: Annotated[
        Path | None, typer.Option(help="write the schema here instead of standard output")
    ] = None,
) -> None:
    """Print the API's OpenAPI schema (what /openapi.json serves), for generators and reviews.

    No database is opened: the schema is the code's, whatever the data.
    """
    import json

    from buyerguard.api.app import create_app
    from buyerguard.bootstrap import build_runtime

    schema = json.dumps(create_app(build_runtime()).openapi(), indent=2, ensure_ascii=False)
    if output is None:
        print(schema)
    else:
        output.write_text(schema + "\n", encoding="utf-8")
