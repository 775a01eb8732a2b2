"""What `buyerguard serve` hands uvicorn: an app factory and the HTTP protocol to run it with."""

from __future__ import annotations

import asyncio
import socket

from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

from buyerguard.api.app import create_app
from buyerguard.bootstrap import build_runtime
from buyerguard.logs import configure_logging_from_settings


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
