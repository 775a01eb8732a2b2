"""Command latency beside a webhook receiver that answers in 5 s (issue 16 acceptance:
"with a receiver answering in 5 s, command p99 stays within 10% of the p99 with no
endpoint").

The production shape, twice: two live `buyerguard serve --workers 2`, each over a fresh
SQLite demo and with its scheduler process, so with its webhook dispatcher. "quiet" has
no endpoint; "hooked" has one whose receiver (`tests.test_webhooks.Receiver`, a real
HTTP server in this process that verifies every signature) answers each message after
5 s, with a backlog of events that keeps its dispatcher delivering for the whole run.
The same order lifecycles (place, pay, ship, sign, confirm: five commands, each with an
`Idempotency-Key`, as a marketplace sends them) go to both at once, from one client
thread per server over one keep-alive connection, at a fixed pace: command k is due at
start + k * 20 ms, hooked's 10 ms after quiet's. A command's latency runs from when it
was due to the end of its answer, so a stall counts against every command that fell due
during it, as it would under real traffic. Timed instead from its own sending, as a
client that waits for each answer sees it, a 200 ms lock taken at each delivery (a
dispatcher gone wrong, tried on a patched copy) delayed one command in 350 and left
the p99 as it was; paced, the same lock put hooked's p99 at 11 times quiet's (the
pooled p99 below: 207.1 ms against 11.6, 17.9 times, on a quiet machine; the same run
without the lock 1.03).

Why two servers on one schedule, rather than one server whose endpoint is switched on
and off between rounds: on a shared machine the background load changes over seconds,
the length of such a round (and each switch off must wait out a 5-s delivery in
flight); an A/A trial of round switching, no endpoint in either half, put the halves'
p99s 20-25% apart. Two servers paced together meet the same background within 10 ms
of each other. The verdict is the issue's own figure, each server's p99 over all its
4,500 commands (the 45th slowest; the quantiles' "inclusive" method). An earlier verdict,
the median over 9 rounds of each round's p99 (the 5th slowest of 500), failed a clean-clone
CI run at 1.227 while the pooled p99s of that very run were 9.99 and 9.65 ms (1.035): a
round's p99 rests on five commands, so the rounds are printed, for where a slow spell fell,
and no longer decide. No absolute slack: latencies are milliseconds,
`perf_counter` resolves nanoseconds. What remains is each command's own luck with the
CPU: on a machine busy with other work the p99 is set by preemptions, and this very
comparison with no endpoint on either server came out 0.83 and 0.91 (load average 4-7
on 2 CPUs); it is sharp only on a quiet machine.

The hooked server must really have delivered meanwhile: its receiver completed
deliveries during the timed run at no less than half the rate a 5-s receiver allows,
and every attempt the endpoint logged was delivered and took at least 5 s.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.live_server import ROOT, free_port
from tests.test_webhooks import Receiver

RECEIVER_DELAY_SECONDS = 5.0
WARMUP_LIFECYCLES = 20  # at least; warming up also lasts until a first delivery completed
ROUNDS = 9
ROUND_LIFECYCLES = 100  # 500 commands per server per round, 4,500 in all
COMMAND_INTERVAL_SECONDS = 0.020  # a command due every 20 ms per server: 90 s in all
MAX_RATIO = 1.10
STARTUP_SECONDS = 180.0  # a loaded machine restarts slow-starting uvicorn workers
STOP_SECONDS = 60.0


@dataclass
class LiveServer:
    """A `buyerguard serve` this test started, and one keep-alive connection to it."""

    name: str
    port: int
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    tokens: dict[str, str] = field(default_factory=dict)
    connection: http.client.HTTPConnection | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def call(self, method: str, path: str, body: Any, role: str, key: str | None = None) -> Any:
        """One request on the keep-alive connection: (elapsed ms, status, decoded answer).

        uvicorn closes a connection idle for 5 s (in warm-up, the other server stalling
        that long); the request is then sent again on a new connection (safe: a command
        has its key), and the time of both tries counts."""
        headers = {"Authorization": f"Bearer {self.tokens[role]}"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if key is not None:
            headers["Idempotency-Key"] = key
        started = time.perf_counter()
        for retry in (False, True):
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.connection.request(method, path, body=payload, headers=headers)
                answer = self.connection.getresponse()
                text = answer.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.connection.close()
                self.connection = None
                if retry:
                    raise
        elapsed_ms = (time.perf_counter() - started) * 1000
        return elapsed_ms, answer.status, json.loads(text) if text else None


def _environment(directory: Path) -> dict[str, str]:
    directory.mkdir()
    bin_dir = Path(sys.executable).parent
    return {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "BUYERGUARD_DATABASE_URL": f"sqlite:///{directory / 'demo.sqlite3'}",
        "BUYERGUARD_DEMO_TOKENS": str(directory / "tokens.json"),
    }


def _stop(server: LiveServer) -> None:
    """SIGTERM (graceful: workers and scheduler); its whole session killed if it hangs."""
    if server.connection is not None:
        server.connection.close()
    server.process.terminate()
    try:
        server.process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()


@contextmanager
def live_servers(tmp_path: Path, names: list[str]) -> Iterator[dict[str, LiveServer]]:
    """Like tests/live_server.py's fixture, for several servers prepared and started side
    by side (one after the other would double the wait for their workers)."""
    envs = {name: _environment(tmp_path / name) for name in names}
    for command in (["db", "upgrade"], ["demo", "load"]):
        preparing = [
            subprocess.Popen(
                ["buyerguard", *command],
                env=env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            for env in envs.values()
        ]
        for process in preparing:
            output, _ = process.communicate()
            assert process.returncode == 0, output.decode()
    with ExitStack() as stack:
        servers: dict[str, LiveServer] = {}
        for name, env in envs.items():
            port = free_port()
            log_file = stack.enter_context((tmp_path / f"{name}.log").open("w"))
            process = subprocess.Popen(
                ["buyerguard", "serve", "--port", str(port), "--workers", "2"],
                env=env,
                cwd=ROOT,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, to kill all of it if it hangs
            )
            servers[name] = LiveServer(name, port, env, process)
            stack.callback(_stop, servers[name])
        deadline = time.monotonic() + STARTUP_SECONDS
        for server in servers.values():
            while True:
                try:
                    with urllib.request.urlopen(f"{server.base}/healthz", timeout=1) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline or server.process.poll() is not None:
                    pytest.fail(f"server {server.name} did not come up")
                time.sleep(0.1)
            server.tokens = json.loads(Path(server.env["BUYERGUARD_DEMO_TOKENS"]).read_text())
        yield servers


def lifecycle(order_id: str) -> list[tuple[str, dict[str, Any] | None]]:
    """The five commands of an order's life, as the marketplace reports them."""
    placed = {
        "id": order_id,
        "buyer_id": "B-shop",
        "lines": [{"product_id": "P-cups", "quantity": 10}],
    }
    return [
        ("/v1/orders", placed),
        (f"/v1/orders/{order_id}/payment", {"amount": "360.00"}),
        (f"/v1/orders/{order_id}/shipment", {"carrier": "SF", "tracking_number": f"SF-{order_id}"}),
        (f"/v1/orders/{order_id}/signing", None),
        (f"/v1/orders/{order_id}/confirmation", None),
    ]


def commands(order_ids: list[str]) -> list[tuple[str, str, dict[str, Any] | None]]:
    """(idempotency key, path, body) of every command of these lifecycles, in order."""
    return [
        (f"{order_id}-{step}", path, body)
        for order_id in order_ids
        for step, (path, body) in enumerate(lifecycle(order_id))
    ]


def send(server: LiveServer, key: str, path: str, body: dict[str, Any] | None) -> None:
    _, status, answer = server.call("POST", path, body, "marketplace", key=key)
    assert status in (200, 201), (server.name, path, status, answer)


def paced(server: LiveServer, order_ids: list[str], start: float) -> list[float]:
    """The lifecycles through one server, command k due at `start` + k * the interval;
    each latency in ms, from when the command was due to the end of its answer."""
    latencies_ms = []
    for index, (key, path, body) in enumerate(commands(order_ids)):
        due = start + index * COMMAND_INTERVAL_SECONDS
        if (ahead := due - time.perf_counter()) > 0:
            time.sleep(ahead)
        send(server, key, path, body)
        latencies_ms.append((time.perf_counter() - due) * 1000)
    return latencies_ms


def close(receiver: Receiver) -> None:
    receiver.server.shutdown()
    receiver.server.server_close()


def p99(samples_ms: list[float]) -> float:
    return statistics.quantiles(samples_ms, n=100, method="inclusive")[98]


def test_a_receiver_answering_in_5_s_keeps_command_p99_within_10_percent(
    tmp_path: Path,
) -> None:
    load_before = os.getloadavg()[0]
    with ExitStack() as stack:
        servers = stack.enter_context(live_servers(tmp_path, ["quiet", "hooked"]))
        receiver = Receiver()
        receiver.delay_seconds = RECEIVER_DELAY_SECONDS
        # Closed before the servers stop: the dispatcher's next message is refused at
        # once, so the scheduler is not held by a 30-s batch of 5-s deliveries.
        stack.callback(close, receiver)
        quiet, hooked = servers["quiet"], servers["hooked"]
        _, status, endpoint = hooked.call(
            "POST", "/v1/webhook-endpoints", {"url": receiver.url}, "operator", key="hook-1"
        )
        assert status == 201, endpoint
        receiver.secrets = [endpoint["secret"]]

        # Warm up both until the dispatcher has delivered once: from then on it works
        # through a backlog far longer than the run, 5 s a message.
        warmup_deadline = time.monotonic() + 60
        warmed = 0
        while warmed < WARMUP_LIFECYCLES or not receiver.received:
            assert time.monotonic() < warmup_deadline, (
                f"warm-up over 60 s: {warmed} lifecycles, {len(receiver.received)} deliveries"
            )
            for command in commands([f"W-{warmed}"]):
                for server in (quiet, hooked):
                    send(server, *command)
            warmed += 1

        delivered_before = len(receiver.received)
        order_ids = [f"R-{index}" for index in range(ROUNDS * ROUND_LIFECYCLES)]
        started = time.monotonic()
        # One schedule, hooked half a step behind quiet: they take turns at the CPU,
        # and meet whatever else runs on the machine within 10 ms of each other.
        start = {"quiet": time.perf_counter() + 0.1}
        start["hooked"] = start["quiet"] + COMMAND_INTERVAL_SECONDS / 2
        with ThreadPoolExecutor(max_workers=2) as pool:
            running = {
                s.name: pool.submit(paced, s, order_ids, start[s.name]) for s in (quiet, hooked)
            }
            latencies_ms = {name: future.result() for name, future in running.items()}
        measured_seconds = time.monotonic() - started
        delivered_during = len(receiver.received) - delivered_before

        _, status, deliveries = hooked.call(
            "GET", f"/v1/webhook-endpoints/{endpoint['id']}/deliveries?limit=500", None, "operator"
        )
        assert status == 200, deliveries

    per_round = ROUND_LIFECYCLES * len(lifecycle("O"))
    p99s_ms = {
        name: [p99(samples[at : at + per_round]) for at in range(0, len(samples), per_round)]
        for name, samples in latencies_ms.items()
    }
    median_ms = {name: statistics.median(values) for name, values in p99s_ms.items()}
    pooled_ms = {name: p99(samples) for name, samples in latencies_ms.items()}
    figures = {
        "pooled_p99_ms": {name: round(ms, 2) for name, ms in pooled_ms.items()},
        "ratio": round(pooled_ms["hooked"] / pooled_ms["quiet"], 3),
        "pooled_p50_ms": {n: round(statistics.median(v), 2) for n, v in latencies_ms.items()},
        "rounds_p99_ms": {name: [round(ms, 2) for ms in v] for name, v in p99s_ms.items()},
        "median_round_p99_ms": {name: round(ms, 2) for name, ms in median_ms.items()},
        "commands_per_server": len(latencies_ms["quiet"]),
        "measured_seconds": round(measured_seconds, 1),
        "warmup_lifecycles": warmed,
        "deliveries_during": delivered_during,
        "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    print(f"\nwebhook latency figures: {json.dumps(figures)}")

    # The endpoint was live: deliveries kept coming, each one answered in 5 s.
    assert delivered_during >= max(1, int(measured_seconds / (2 * RECEIVER_DELAY_SECONDS)))
    assert receiver.rejected == 0
    attempts = deliveries["items"]
    assert attempts and {item["outcome"] for item in attempts} == {"delivered"}
    assert min(item["duration_ms"] for item in attempts) >= RECEIVER_DELAY_SECONDS * 1000
    assert pooled_ms["hooked"] <= MAX_RATIO * pooled_ms["quiet"], figures
