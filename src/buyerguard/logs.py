"""Structured logs: one JSON object per line (structlog), the request id on every line.

Our own log calls and the standard-library ones (the scheduler's, uvicorn's)
go through the same processors, so a line from anywhere inside a request
carries the `request_id` that was bound for it (`structlog.contextvars`), and
a line from the scheduler carries the timer it fired.
"""

from __future__ import annotations

import logging
import sys
from typing import IO, Any

import structlog

from buyerguard.settings import LogFormat, LogLevel, settings

_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def _through_standard_logging() -> None:
    """structlog hands every line to the standard library's logging (filtered by its level):
    a process that never configured logging (a test, a library user) prints no info lines."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_SHARED,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


_through_standard_logging()


class _StandardError(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a line is written, not when logging was set up
    (a test runner, or the CLI's own runner, swaps it)."""

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, _value: IO[str]) -> None:
        pass


def configure_logging(
    level: LogLevel = "info", fmt: LogFormat = "json", stream: IO[str] | None = None
) -> None:
    """Send every log line (structlog's and the standard library's) to `stream` (stderr) in
    `fmt`, from `level` up. Safe to call again: the last call wins (tests point it at a buffer)."""
    renderer: Any = (
        structlog.processors.JSONRenderer(sort_keys=True)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    handler = logging.StreamHandler(stream) if stream is not None else _StandardError()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=_SHARED,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its per-connection chatter
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []  # through the root handler, as JSON
        logging.getLogger(name).propagate = True
    # Each request is logged once, by api/request_ids.py (with its id and duration); uvicorn
    # writes its access line only when this logger has a handler, the root's included.
    access = logging.getLogger("uvicorn.access")
    access.handlers = []
    access.propagate = False
    _through_standard_logging()


def get_logger(name: str) -> Any:
    """A structured logger named after its module (`log.info("event", key=value)`)."""
    return structlog.stdlib.get_logger(name)


def configure_logging_from_settings() -> None:
    """Logging as `$BUYERGUARD_LOG_LEVEL` and `$BUYERGUARD_LOG_FORMAT` say (every process
    configures its own: the server's workers, the scheduler, the CLI)."""
    configured = settings()
    configure_logging(configured.log_level, configured.log_format)
