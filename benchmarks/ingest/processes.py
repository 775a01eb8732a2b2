"""The processes a round runs beside the benchmark: PostgreSQL databases, `buyerguard
serve` and its CLI, pgbench, and the samplers of CPU use and `pg_stat_activity`.

Everything that starts, watches or stops another process lives here, not in the parts."""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import psycopg
from rich.progress import Progress

SAMPLE_EVERY_S = 0.25  # pg_stat_activity sampling


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Postgres:
    url: str  # server URL without a database
    owned: list[str] = field(default_factory=list)

    def dsn(self, database: str) -> str:
        return f"{self.url.rstrip('/')}/{database}"

    def admin(self, sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as connection:
            cursor = connection.execute(sql.encode())  # our own literals, no parameters
            return list(cursor.fetchall()) if cursor.description else []

    def create(self, name: str, template: str | None = None) -> None:
        self.drop(name)
        self.admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        self.owned.append(name)

    def drop(self, name: str) -> None:
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def drop_all(self) -> None:
        for name in reversed(self.owned):
            self.drop(name)
        self.owned.clear()


def buyerguard_command() -> list[str]:
    script = Path(sys.executable).with_name("buyerguard")
    return [str(script)] if script.exists() else [sys.executable, "-m", "buyerguard.cli"]


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*buyerguard_command(), *args], env=env, capture_output=True, text=True, check=False
    )


class Server:
    """`buyerguard serve --workers N` as a subprocess on a free port, output to a log file.

    `scheduler=False` serves with `--no-scheduler`, for a benchmark that fires the timers
    itself (`buyerguard scheduler run --once`) at a moment it chooses."""

    def __init__(
        self, env: dict[str, str], workers: int, log: Path, *, scheduler: bool = True
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    *buyerguard_command(),
                    "serve",
                    "--port",
                    str(self.port),
                    "--workers",
                    str(workers),
                    *([] if scheduler else ["--no-scheduler"]),
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(
                    f"buyerguard serve exited {self.process.returncode}:\n{self.tail()}"
                )
            try:
                if httpx2.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx2.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise SystemExit(f"buyerguard serve did not answer /healthz in 60 s:\n{self.tail()}")

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])

    def pids(self) -> set[int]:
        """The serve process and everything under it (workers, scheduler)."""
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                parent = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
        found, todo = set(), [self.process.pid]
        while todo:
            pid = todo.pop()
            found.add(pid)
            todo += children.get(pid, [])
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def cpu_by_process() -> dict[int, tuple[str, float]]:
    """(command name, CPU seconds so far) of every process."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        found[int(entry.name)] = (name, (int(fields[11]) + int(fields[12])) / tick)
    return found


def cpu_cores(
    before: dict[int, tuple[str, float]],
    after: dict[int, tuple[str, float]],
    server: set[int],
    seconds: float,
) -> dict[str, float]:
    """Cores used between two snapshots by the server, PostgreSQL and this benchmark.

    A process that ended in between is not counted (its last CPU seconds are lost)."""
    used = {"server": 0.0, "postgres": 0.0, "benchmark": 0.0}
    for pid, (name, seconds_now) in after.items():
        spent = seconds_now - before.get(pid, (name, 0.0))[1]
        if pid == os.getpid():
            used["benchmark"] += spent
        elif pid in server:
            used["server"] += spent
        elif name.startswith("postgres"):
            used["postgres"] += spent
    return {name: value / seconds for name, value in used.items()}


class Sampler(threading.Thread):
    """Samples `pg_stat_activity` of one database: what its busy backends wait on, per part."""

    def __init__(self, pg: Postgres, database: str) -> None:
        super().__init__(daemon=True)
        self.pg, self.database = pg, database
        self.part = "setup"
        self.samples: dict[str, Counter[str]] = {}
        self.ticks: Counter[str] = Counter()
        self.done = threading.Event()

    def run(self) -> None:
        query = (
            "SELECT state, coalesce(wait_event_type, 'CPU'), coalesce(wait_event, '-') "
            "FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() "
            "AND state IN ('active', 'idle in transaction')"
        )
        with psycopg.connect(self.pg.dsn("postgres"), autocommit=True) as connection:
            while not self.done.wait(SAMPLE_EVERY_S):
                rows = connection.execute(query, (self.database,)).fetchall()
                part = self.part
                self.ticks[part] += 1
                counter = self.samples.setdefault(part, Counter())
                for state, kind, event in rows:
                    label = (
                        "idle in transaction (server-side Python)"
                        if state != "active"
                        else f"{kind}:{event}"
                    )
                    counter[label] += 1

    def summary(self, part: str, top: int = 6) -> dict[str, float]:
        """Average number of backends in each state/wait during the part."""
        ticks = self.ticks[part] or 1
        return {
            label: count / ticks
            for label, count in self.samples.get(part, Counter()).most_common(top)
        }


def pgbench(host: str, port: int, user: str, args: list[str]) -> str:
    """Run pgbench against the benchmark's PostgreSQL with `args` after the connection."""
    args = ["-h", host, "-p", str(port), "-U", user, *args]
    done = subprocess.run(["pgbench", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"pgbench {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout + done.stderr


def pgbench_round(
    args: argparse.Namespace, round_no: int, progress: Progress
) -> tuple[float, list[str]]:
    """One TPC-B run, `pgbench -c 4 -j 2 -T args.pgbench_seconds` on `args.pgbench_db`, with a
    progress bar: its tps (without initial connection time) and the last lines it printed."""
    task = progress.add_task(
        f"round {round_no} pgbench -c 4 -j 2 -T {args.pgbench_seconds}", total=args.pgbench_seconds
    )
    out: list[str] = []
    failed: list[SystemExit] = []

    def run() -> None:
        command = ["-c", "4", "-j", "2", "-T", str(args.pgbench_seconds), args.pgbench_db]
        try:
            out.append(pgbench(args.pg_host, args.pg_port, args.pg_user, command))
        except SystemExit as exc:  # a thread would swallow it: raised below instead
            failed.append(exc)

    bench = threading.Thread(target=run)
    started = time.monotonic()
    bench.start()
    while bench.is_alive():
        progress.update(task, completed=min(args.pgbench_seconds, time.monotonic() - started))
        bench.join(0.5)
    progress.update(task, completed=args.pgbench_seconds)
    if failed:
        raise failed[0]
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out[0])
    if match is None:
        raise SystemExit(f"no tps in pgbench output:\n{out[0]}")
    return float(match.group(1)), out[0].strip().splitlines()[-3:]


@dataclass
class RoundStart:
    """A round under way: pgbench's figures, the round's database, its environment (for the
    CLI), the server on it and the sampler of its backends (started)."""

    figures: dict[str, Any]
    database: str
    env: dict[str, str]
    server: Server
    sampler: Sampler


def start_round(
    args: argparse.Namespace,
    pg: Postgres,
    template: str,
    round_no: int,
    tmp: Path,
    progress: Progress,
    *,
    scheduler: bool = True,
) -> RoundStart:
    """How every round starts: pgbench alone on the machine, then a fresh copy of the
    template served by `buyerguard serve`, its backends sampled."""
    figures: dict[str, Any] = {"round": round_no}
    figures["pgbench_tps"], figures["pgbench"] = pgbench_round(args, round_no, progress)
    database = f"{template}_r{round_no}"
    pg.create(database, template)
    env = {**os.environ, "BUYERGUARD_DATABASE_URL": pg.dsn(database)}
    server = Server(env, args.workers, tmp / f"serve-r{round_no}.log", scheduler=scheduler)
    sampler = Sampler(pg, database)
    sampler.start()
    return RoundStart(figures, database, env, server, sampler)
