"""`buyerguard serve --workers N`: every worker gets its share of the connections.

Found by benchmarks/ingest_throughput.py: with uvicorn's one shared socket, the
worker that woke first accepted a whole burst of keep-alive clients and the other
worker sat idle for the rest of the run (one core busy of two).
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.live_server import ROOT, descendants, free_port
from tests.test_facts_load import migrated_env, start_server

CLIENTS = 32
# Spread by a hash of each connection's ports, 32 connections over 2 workers give one of
# them fewer than 6 about once in 4,500 runs; a shared socket gave one worker all of them.
AT_LEAST_PER_WORKER = 6
LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp


def _socket_owners(pids: list[int]) -> dict[int, int]:
    """Socket inode → the process holding it, for `pids` (Linux /proc)."""
    owners: dict[int, int] = {}
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = fd.readlink().as_posix()
            except OSError:
                continue
            if target.startswith("socket:["):
                owners[int(target[len("socket:[") : -1])] = pid
    return owners


def _tcp_sockets(server_port: int) -> list[tuple[int, str, int]]:
    """Every TCP socket on `server_port`: (remote port, state, inode), from /proc/net/tcp."""
    found = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
        if int(local.split(":")[1], 16) == server_port:
            found.append((int(remote.split(":")[1], 16), state, inode))
    return found


def _wait_for_listeners(port: int, count: int) -> None:
    """Until `count` sockets listen on `port`: a worker listens once its app has started."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if sum(state == LISTEN for _, state, _ in _tcp_sockets(port)) >= count:
            return
        time.sleep(0.1)
    pytest.fail(f"fewer than {count} sockets listen on port {port} after 60 s")


def _burst(port: int, server_pid: int) -> Counter[int | None]:
    """32 keep-alive connections made at once, one request on each: how many each worker served."""
    clients = [http.client.HTTPConnection("127.0.0.1", port, timeout=60) for _ in range(CLIENTS)]
    try:
        for client in clients:  # every connection made before any request is sent
            client.connect()
        for client in clients:
            client.request("GET", "/healthz")
        for client in clients:
            answer = client.getresponse()
            answer.read()
            assert answer.status == 200
        owners = _socket_owners(_workers(server_pid))
        inodes = {remote: inode for remote, state, inode in _tcp_sockets(port) if state != LISTEN}
        return Counter(
            owners.get(inodes.get(client.sock.getsockname()[1], -1)) for client in clients
        )
    finally:
        for client in clients:
            client.close()


def _workers(server_pid: int) -> list[int]:
    return [pid for pid, command in descendants(server_pid).items() if "spawn" in command]


@contextmanager
def _two_workers(tmp_path: Path) -> Iterator[tuple[int, int]]:
    """`serve --workers 2` on a fresh SQLite file: (its pid, its port), once both listen.

    Each worker listens on its own socket once its app has started; uvicorn's one
    shared socket never shows two listeners, and the old code failed here.
    """
    env = migrated_env(tmp_path, tmp_path / "serve.sqlite3")
    port = free_port()
    server = start_server(env, port)
    try:
        _wait_for_listeners(port, 2)
        yield server.pid, port
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_burst_of_keep_alive_clients_is_spread_over_the_workers(tmp_path: Path) -> None:
    with _two_workers(tmp_path) as (server_pid, port):
        workers = _workers(server_pid)
        served = _burst(port, server_pid)
    assert len(workers) == 2, workers
    assert set(served) == set(workers), served
    assert min(served.values()) >= AT_LEAST_PER_WORKER, served


def test_a_worker_that_dies_is_replaced_on_its_own_socket(tmp_path: Path) -> None:
    """The connections the kernel sends to a dead worker's socket wait for its successor."""
    with _two_workers(tmp_path) as (server_pid, port):
        first, second = _workers(server_pid)
        os.kill(first, signal.SIGKILL)
        served = _burst(port, server_pid)  # sent at once: some wait for the replacement
        workers = _workers(server_pid)
        _wait_for_listeners(port, 2)
    assert second in workers and first not in workers and len(workers) == 2, workers
    assert set(served) == set(workers), served


@pytest.mark.parametrize("workers", ["2", "1"])
def test_a_second_server_on_a_port_in_use_is_refused(tmp_path: Path, workers: str) -> None:
    """SO_REUSEPORT would let a second `serve` share the port (perhaps over another
    database) and take half the connections; it is refused in one line instead. One
    worker (served by uvicorn itself) printed uvicorn's JSON error line and exited 3."""
    with _two_workers(tmp_path) as (_, port):
        env = migrated_env(tmp_path, tmp_path / "second.sqlite3")
        second = subprocess.run(
            ["buyerguard", "serve", "--port", str(port), "--workers", workers, "--no-scheduler"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        still = len([state for _, state, _ in _tcp_sockets(port) if state == LISTEN])
    assert second.returncode == 2, second.stderr
    assert second.stderr.strip().splitlines() == [
        f"error: port_unavailable [--port]: cannot listen on 127.0.0.1:{port}: "
        "Address already in use"
    ]
    assert still == 2  # the first server's two workers, nobody else


@pytest.mark.parametrize(
    ("given", "env_workers"), [(["--workers", "100000"], None), ([], "100000")]
)
def test_more_workers_than_any_machine_needs_is_refused_before_one_starts(
    tmp_path: Path, given: list[str], env_workers: str | None
) -> None:
    """`--workers 100000` forked until the machine ran out of memory (each worker a process
    with its own pool of database connections); refused in one line, exit 2."""
    env = migrated_env(tmp_path, tmp_path / "many.sqlite3")
    if env_workers is not None:
        env["BUYERGUARD_WORKERS"] = env_workers
    refused = subprocess.run(
        ["buyerguard", "serve", "--port", str(free_port()), "--no-scheduler", *given],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2, refused.stderr
    [line] = refused.stderr.strip().splitlines()
    assert "64" in line and ("--workers" in line or "BUYERGUARD_WORKERS" in line), line
