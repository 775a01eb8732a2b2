"""What `buyerguard serve` hands uvicorn: an app factory, the HTTP protocol to run it with, and
a supervisor that gives each worker a listening socket of its own."""

from __future__ import annotations

import asyncio
import socket

from fastapi import FastAPI
from uvicorn.config import STARTUP_FAILURE, Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.supervisors.multiprocess import Multiprocess, Process

from buyerguard.api.app import create_app
from buyerguard.bootstrap import build_runtime
from buyerguard.errors import InvalidInput
from buyerguard.logs import configure_logging_from_settings, get_logger

log = get_logger(__name__)


def app() -> FastAPI:
    """The API without the background scheduler (run `buyerguard scheduler run` beside it);
    each worker process configures its own logging."""
    configure_logging_from_settings()
    return create_app(build_runtime(), run_scheduler=False)


class NoDelayH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with TCP_NODELAY on every connection.

    With more than one worker, uvicorn's supervisor binds the listening socket
    without naming TCP (`proto` 0), so asyncio does not set TCP_NODELAY on the
    sockets it accepts, and every response on a keep-alive connection waited
    about 40 ms for the client's delayed ACK (uvicorn issue #3149).
    """

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        connected = transport.get_extra_info("socket")
        if connected is not None and connected.family in (socket.AF_INET, socket.AF_INET6):
            connected.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)  # type: ignore[arg-type]


def worker_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """One listening socket per worker, all on one port with SO_REUSEPORT.

    uvicorn's supervisor shares one socket among its workers, and asyncio
    accepts every waiting connection when its worker wakes: a burst of
    keep-alive clients all went to the worker that woke first, and the other
    sat idle (benchmarks/ingest_throughput.py: one worker at a full core, the
    other at none). With a socket of its own per worker the kernel spreads
    new connections over them by a hash of each connection's addresses.
    Port 0 takes one free port for all of them.
    """
    family = _family(host)
    # SO_REUSEPORT would let us share a port another server listens on (a second `serve`
    # on the same port, perhaps on another database): a plain bind first refuses a port
    # in use.
    port = free_port(host, port)
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            sock.set_inheritable(True)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise _unavailable(host, port, exc) from exc
    return sockets


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _unavailable(host: str, port: int, exc: OSError) -> InvalidInput:
    return InvalidInput(
        "port_unavailable", f"cannot listen on {host}:{port}: {exc.strerror or exc}", "port"
    )


def free_port(host: str, port: int) -> int:
    """`port` (or, for 0, a port the system picks) if nothing listens on it at `host`;
    else the one-line refusal. One worker is bound by uvicorn itself, which answered a
    port in use with a JSON log line and exit code 3: checked here first."""
    try:
        with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
            return int(probe.getsockname()[1])
    except OSError as exc:
        raise _unavailable(host, port, exc) from exc


class SocketPerWorker(Multiprocess):
    """uvicorn's supervisor (health pings, restarts, SIGTERM), each worker on its own socket.

    Worker i always serves socket i: one that dies or hangs is replaced on the
    same socket, so the connections the kernel queued there are served by its
    successor. Changing the number of workers with SIGTTIN/SIGTTOU is not
    offered (it would need a socket bound at run time).
    """

    def __init__(self, config: Config, sockets: list[socket.socket]) -> None:
        super().__init__(config, sockets)
        self.processes_num = len(sockets)  # one worker per socket, whatever config.workers says

    def _started(self, slot: int) -> Process:
        process = Process(self.config, [self.sockets[slot]])
        process.start()
        return process

    def init_processes(self) -> None:
        self.processes = [self._started(slot) for slot in range(self.processes_num)]

    def keep_subprocess_alive(self) -> None:
        for slot, process in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                # The app or its settings are broken: every restart would fail alike.
                log.error("worker failed to start; stopping", pid=process.pid)
                self.should_exit.set()
                return
            log.warning("worker died; starting another on its socket", pid=process.pid)
            self.processes[slot] = self._started(slot)

    def restart_all(self) -> None:
        """SIGHUP: each worker replaced in turn, the new one serving before the old one stops."""
        for slot, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._started(slot)
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                log.error("replacement worker not ready; restart stopped", pid=new.pid)
                return
            old.terminate()
            old.join()
            self.processes[slot] = new

    def handle_ttin(self) -> None:
        log.warning("SIGTTIN ignored: the number of workers is fixed while serving")

    def handle_ttou(self) -> None:
        log.warning("SIGTTOU ignored: the number of workers is fixed while serving")
