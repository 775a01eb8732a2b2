"""A live `buyerguard serve` on a free port over a fresh SQLite demo, for tests that
need a real server: the README tour, browsers, the generated client, metrics."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "BUYERGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'tour.sqlite3'}",
        "BUYERGUARD_DEMO_TOKENS": str(tmp_path / "tokens.json"),
        # The shipment history too is the test's own, never the checkout's var/data.
        "BUYERGUARD_DATA_DIR": str(tmp_path / "data"),
    }
    for command in (["db", "upgrade"], ["demo", "load"]):
        subprocess.run(["buyerguard", *command], env=env, cwd=ROOT, check=True, capture_output=True)
    port = free_port()
    log_file = (tmp_path / "server.log").open("w")  # a file, not a pipe nobody drains
    server = subprocess.Popen(
        ["buyerguard", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        cwd=ROOT,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # Two workers importing the app on a loaded 2-core machine took 13-21 s (seen while
        # other suites ran): wait a minute, polling, before calling it a failure.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if server.poll() is not None:
                log_file.flush()
                tail = (tmp_path / "server.log").read_text()[-2000:]
                pytest.fail(f"server exited with {server.returncode}; its log ends:\n{tail}")
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        else:
            log_file.flush()
            tail = (tmp_path / "server.log").read_text()[-2000:]
            pytest.fail(f"server did not come up in 60 s; its log ends:\n{tail}")
        yield base, env
    finally:
        server.terminate()
        server.wait(timeout=10)
        log_file.close()


def post_json(base: str, path: str, token: str, body: object) -> int:
    """POST a JSON body to a live server with a bearer token; the status (a refusal raises)."""
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return int(response.status)


def descendants(pid: int) -> dict[int, str]:
    """Every process descended from `pid`, with its command line (Linux /proc)."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            commands[int(entry.name)] = (
                (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            )
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        current = frontier.pop()
        for child, parent in parents.items():
            if parent == current and child not in found:
                found[child] = commands.get(child, "")
                frontier.append(child)
    return found
