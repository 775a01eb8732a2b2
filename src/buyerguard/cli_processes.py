"""Commands that run the engine: the API server, the scheduler, the OpenAPI document.
A refused input exits 2 with one line on stderr, as everywhere."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from buyerguard.cli_common import (
    configured_runtime,
    print_json,
    refusals_exit_2,
    say,
)
from buyerguard.clock import format_instant
from buyerguard.errors import InvalidInput
from buyerguard.logs import configure_logging_from_settings, get_logger
from buyerguard.settings import MAX_WORKERS, settings

if TYPE_CHECKING:  # imported where used: a command loads only what it needs
    from buyerguard.scheduler import FiredTimer
    from buyerguard.webhook_dispatcher import EndpointPass

log = get_logger(__name__)

scheduler_app = typer.Typer(help="Due timers.", no_args_is_help=True)


@scheduler_app.command("run")
@refusals_exit_2
def scheduler_run(
    once: Annotated[bool, typer.Option(help="fire what is due now, then exit")] = False,
    interval: Annotated[
        float,
        # a pause: none (≤ 0, NaN) hammers the database, inf overflows the wait
        typer.Option(min=0.01, max=3600, help="seconds between ticks (0.01 to 3600)"),
    ] = 1.0,
    name: Annotated[str, typer.Option(help="name recorded on fired timers")] = "cli",
    max_attempts: Annotated[
        int | None,
        typer.Option(min=1, help="failed attempts before a timer is dead-lettered (default 8)"),
    ] = None,
    exit_with_parent: Annotated[
        int | None,
        typer.Option(
            min=1,
            metavar="PID",
            help="stop when PID, the process that started this one, is gone (serve passes its own)",
        ),
    ] = None,
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
    if exit_with_parent is not None:
        watch = (exit_with_parent, stop)
        threading.Thread(target=_stop_when_orphaned, args=watch, daemon=True).start()
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
    """Stop once the process that started us is gone (even if it was killed outright).

    The parent's pid comes from the command line: read here with os.getppid() once
    this process had started (seconds of imports), it was init's when serve had died
    meanwhile, and the scheduler never stopped."""
    while True:
        if os.getppid() != parent_pid:
            stop.set()
            return
        if stop.wait(1.0):
            return


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
        typer.Option(
            min=1,
            max=MAX_WORKERS,
            help="API worker processes (default: $BUYERGUARD_WORKERS, CPUs)",
        ),
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
    import uvicorn

    from buyerguard.api.serve import (
        NoDelayH11Protocol,
        SocketPerWorker,
        free_port,
        worker_sockets,
    )

    configured = settings()
    host = host or configured.host
    port = port or configured.port
    configure_logging_from_settings()
    configured_runtime().engine.dispose()  # refuses an unreachable or unmigrated database up front
    count = workers or configured.effective_workers
    # Several workers listen on sockets bound here, before anything starts, so a port in
    # use is refused in one line; one worker is served by uvicorn in this process.
    sockets = worker_sockets(host, port, count) if count > 1 else []
    port = int(sockets[0].getsockname()[1]) if sockets else free_port(host, port)
    timers = None
    if scheduler:
        command = ["scheduler", "run", "--name", "serve", "--exit-with-parent", str(os.getpid())]
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
            # uvicorn (0.54, Server.capture_signals) re-raises the SIGTERM it shut down on
            # into the handler it found: the default one killed this process, and the
            # cleanup below never ran. A no-op there lets uvicorn.run return, so one worker
            # exits 0 with its scheduler stopped, like several.
            signal.signal(signal.SIGTERM, _after_uvicorn_shutdown)
            uvicorn.run("buyerguard.api.serve:app", **options)
        else:
            config = uvicorn.Config("buyerguard.api.serve:app", **options)
            SocketPerWorker(config, sockets).run()
    finally:
        if timers is not None:
            _stop_scheduler(timers)


def _after_uvicorn_shutdown(signum: int, frame: object) -> None:
    """The SIGTERM uvicorn re-raises once it has shut down: already handled."""


SCHEDULER_STOP_SECONDS = 30  # a firing or webhook delivery under way may finish


def _stop_scheduler(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the scheduler serve started; one not gone in time is killed, never left
    behind: its firing rolls back and fires again (a heavy job once its lease runs out)."""
    process.terminate()
    try:
        process.wait(timeout=SCHEDULER_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        log.warning(
            "scheduler did not stop on SIGTERM; killing it",
            pid=process.pid,
            waited_seconds=SCHEDULER_STOP_SECONDS,
        )
        process.kill()
        process.wait()


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
