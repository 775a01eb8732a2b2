"""The README's curl tour, run verbatim against a live `buyerguard serve`."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_tour() -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- tour:start -->\s*```sh\n(.*?)```\s*<!-- tour:end -->", text, re.S)
    assert match, "README.md lost its tour block"
    return match.group(1)


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
    }
    for command in (["db", "upgrade"], ["demo", "load"]):
        subprocess.run(["buyerguard", *command], env=env, cwd=ROOT, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen(
        ["buyerguard", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("server did not come up")
        yield base, env
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_readme_tour_against_live_server(live_server: tuple[str, dict[str, str]]) -> None:
    base, env = live_server
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", readme_tour()],
        env={**env, "BG": base},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert '"account_id":"merchant:M-yiwu:payable","balance":"5359.84"' in out
    assert '"account_id":"platform:fee_revenue","balance":"20.16"' in out
    assert '"state":"confirmed"' in out
    assert "ledger check passed" in out
    with urllib.request.urlopen(f"{base}/docs", timeout=5) as docs:
        assert b"/static/swagger/swagger-ui-bundle.js" in docs.read()
