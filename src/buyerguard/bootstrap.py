"""Wire the pieces together from configuration (environment variables)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from buyerguard.clock import Clock, get_clock
from buyerguard.errors import Busy
from buyerguard.rulebook import RulebookSet, rulebooks
from buyerguard.services.context import Actor, Context
from buyerguard.settings import settings
from buyerguard.store.db import make_engine, read_transaction, transaction
from buyerguard.store.shipment_history import ShipmentHistory

# How long a command waits for a place before it is answered 503 (SQLAlchemy's pool waits
# as long for a connection).
COMMAND_WAIT_SECONDS = 30.0


class CommandSlots:
    """What a command enters before its transaction opens: at most `limit` of this
    process's commands run at once (0: no limit).

    An API worker runs its commands in threads that share one interpreter lock: with
    more of them open at once, each holds its transaction — and the row locks in it,
    such as a busy merchant's accounts — while it waits for its turn to compute, and
    the other workers' commands wait on those locks. Queued before their transaction
    opens, they hold no lock while they wait (docs/benchmarks.md, "Commands a worker
    runs at once"). A command that finds no place within `wait_seconds` is `Busy`
    (503, send it again), as when every pooled connection stays busy.
    """

    def __init__(self, limit: int, wait_seconds: float = COMMAND_WAIT_SECONDS) -> None:
        self._places = threading.BoundedSemaphore(limit) if limit else None
        self.wait_seconds = wait_seconds

    def __enter__(self) -> None:
        if self._places is not None and not self._places.acquire(timeout=self.wait_seconds):
            raise Busy(
                "worker_busy",
                "this worker's commands stayed busy; nothing was written: send it again",
                None,
            )

    def __exit__(self, *_exc: object) -> None:
        if self._places is not None:
            self._places.release()


@dataclass
class Runtime:
    """The engine, clock and rulebooks every entry point works with, and how many
    commands may run at once (`command_slots`; no limit unless built from settings)."""

    engine: Engine
    clock: Clock
    rulebooks: RulebookSet
    history: ShipmentHistory = field(default_factory=ShipmentHistory)
    command_slots: CommandSlots = field(default_factory=lambda: CommandSlots(0))

    @contextmanager
    def reading(self, actor: Actor) -> Iterator[Context]:
        with read_transaction(self.engine) as connection:
            yield Context(connection, actor, self.clock, self.rulebooks, self.history)

    @contextmanager
    def writing(self, actor: Actor) -> Iterator[Context]:
        with transaction(self.engine) as connection:
            yield Context(connection, actor, self.clock, self.rulebooks, self.history)


def build_runtime(
    database_url: str | None = None,
    clock: Clock | None = None,
    rulebook_dir: Path | None = None,
    data_dir: Path | None = None,
) -> Runtime:
    """Engine, clock and rulebooks, validated up front so a bad rulebook stops start-up;
    commands limited to the setting `commands_per_worker` at once."""
    return Runtime(
        engine=make_engine(database_url),
        clock=clock or get_clock(),
        rulebooks=rulebooks(rulebook_dir),
        history=ShipmentHistory(data_dir),
        command_slots=CommandSlots(settings().commands_per_worker),
    )
