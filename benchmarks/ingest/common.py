"""What every part of the ingest benchmark shares: the console, percentiles, fen to yuan
and the per-part error tally, so that each part counts and prints the same way."""

from __future__ import annotations

import statistics
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

console = Console(width=None if sys.stdout.isatty() else 160)


def percentile(samples: Sequence[float], share: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


@dataclass
class Errors:
    """What went wrong in one part: HTTP 5xx, connection errors, refusals by code."""

    http_5xx: int = 0
    connection: int = 0
    connection_kinds: Counter[str] = field(default_factory=Counter)  # by exception class
    refused: Counter[str] = field(default_factory=Counter)

    def broken(self, exc: Exception) -> None:
        self.connection += 1
        self.connection_kinds[type(exc).__name__] += 1

    @property
    def server_errors(self) -> int:
        return self.http_5xx + self.connection

    def view(self) -> dict[str, Any]:
        return {
            "http_5xx": self.http_5xx,
            "connection_errors": self.connection,
            "connection_error_kinds": dict(self.connection_kinds),
            "refused": dict(self.refused),
        }
