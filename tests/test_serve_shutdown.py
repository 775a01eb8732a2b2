"""`buyerguard serve` stops cleanly on SIGTERM: exit 0, its scheduler gone, nothing left behind.

Found by an outside tester: a scheduler mid-pass ran its whole backlog and serve died with a
traceback after 30 s leaving it orphaned; one worker died by the re-raised signal, skipping its
cleanup; a scheduler orphaned while it started never stopped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from buyerguard.store.db import make_engine
from buyerguard.store.tables import timers
from tests.live_server import ROOT, descendants, free_port
from tests.test_facts_load import migrated_env

BACKLOG_TIMERS = 20_000  # far more than one pass fires in the time the test waits
STOP_SECONDS = 15  # what a clean stop may take here; serve used to wait 30 s, then fail


def _alive(pid: int) -> bool:
    """Running, not a zombie nobody reaped (Linux /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_gone(pid: int, timeout_seconds: float) -> bool:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


def _scheduler_of(serve_pid: int, timeout_seconds: float = 60) -> int:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        for pid, command in descendants(serve_pid).items():
            if "scheduler run" in command:
                return pid
        time.sleep(0.05)
    raise AssertionError("serve started no scheduler")


def _wait_healthy(port: int, timeout_seconds: float = 60) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"serve did not answer on port {port} in {timeout_seconds} s")


@contextmanager
def _serving(env: dict[str, str], *arguments: str) -> Iterator[subprocess.Popen[bytes]]:
    """`serve` in a session of its own, every process of it killed at the end (by process
    group: a scheduler orphaned by a failing test is no descendant of serve any more)."""
    server = subprocess.Popen(
        ["buyerguard", "serve", *arguments],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,  # a pipe nobody reads would fill and stall the scheduler
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield server
    finally:
        with suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)


def _backlog(url: str, count: int) -> None:
    """`count` timers of a kind no handler knows, all due: each firing fails and is recorded."""
    now = datetime.now(UTC) - timedelta(hours=1)
    rows = [
        {
            "id": f"backlog-{n:06d}",
            "kind": "test.backlog",
            "subject_id": f"S{n}",
            "due_at": now,
            "status": "pending",
            "created_at": now,
            "payload": {},
            "available_at": now,
            "attempts": 0,
        }
        for n in range(count)
    ]
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(insert(timers), rows)
    finally:
        engine.dispose()


def _attempted(url: str) -> tuple[int, int]:
    """(timers tried at least once, timers left running)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            tried = connection.execute(
                select(func.count()).select_from(timers).where(timers.c.attempts > 0)
            ).scalar_one()
            running = connection.execute(
                select(func.count()).select_from(timers).where(timers.c.status == "running")
            ).scalar_one()
    finally:
        engine.dispose()
    return int(tried), int(running)


def test_sigterm_mid_pass_stops_the_scheduler_between_firings(tmp_path: Path) -> None:
    env = migrated_env(tmp_path, tmp_path / "backlog.sqlite3")
    url = env["BUYERGUARD_DATABASE_URL"]
    _backlog(url, BACKLOG_TIMERS)
    with _serving(env, "--port", str(free_port()), "--workers", "2") as server:
        scheduler = _scheduler_of(server.pid)
        deadline = time.monotonic() + 60
        while _attempted(url)[0] == 0:  # the pass has begun
            assert time.monotonic() < deadline, "the scheduler fired nothing in 60 s"
            time.sleep(0.2)
        server.send_signal(signal.SIGTERM)
        try:
            returncode = server.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            returncode = None
        scheduler_gone = _wait_gone(scheduler, 1)
    tried, running = _attempted(url)
    assert returncode == 0
    assert scheduler_gone
    assert 0 < tried < BACKLOG_TIMERS and running == 0  # stopped midway, each firing whole


def test_sigterm_with_one_worker_runs_the_cleanup_and_exits_0(tmp_path: Path) -> None:
    env = migrated_env(tmp_path, tmp_path / "one.sqlite3")
    (tmp_path / "tmp").mkdir()
    env["TMPDIR"] = str(tmp_path / "tmp")  # where serve makes its metrics directory
    port = free_port()
    with _serving(env, "--port", str(port), "--workers", "1") as server:
        scheduler = _scheduler_of(server.pid)
        assert list((tmp_path / "tmp").glob("buyerguard-metrics-*"))
        _wait_healthy(port)  # uvicorn has installed its signal handlers
        server.send_signal(signal.SIGTERM)
        returncode = server.wait(timeout=STOP_SECONDS + 30)
        scheduler_gone = _wait_gone(scheduler, 1)
    assert returncode == 0
    assert scheduler_gone
    assert not list((tmp_path / "tmp").glob("buyerguard-metrics-*"))


def test_a_scheduler_orphaned_while_it_starts_stops(tmp_path: Path) -> None:
    """serve killed outright before its scheduler finished importing: the scheduler must
    not take its new parent (init) for serve and run on forever."""
    env = migrated_env(tmp_path, tmp_path / "orphan.sqlite3")
    with _serving(env, "--port", str(free_port()), "--workers", "1") as server:
        scheduler = _scheduler_of(server.pid)
        server.kill()  # at once: the scheduler is still importing
        server.wait(timeout=30)
        stopped = _wait_gone(scheduler, STOP_SECONDS)
    assert stopped
