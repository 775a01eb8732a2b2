"""Wire the pieces together from configuration (environment variables)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from buyerguard.clock import Clock, get_clock
from buyerguard.rulebook import RulebookSet, rulebooks
from buyerguard.services.context import Actor, Context
from buyerguard.settings import settings
from buyerguard.store.db import make_engine, read_transaction, transaction
from buyerguard.store.shipment_history import ShipmentHistory


def command_slots(limit: int) -> AbstractContextManager[Any]:
    """What a command enters before its transaction opens: at most `limit` of this
    process's commands run at once (0: no limit).

    An API worker runs its commands in threads that share one interpreter lock: with
    more of them open at once, each holds its transaction — and the row locks in it,
    such as a busy merchant's accounts — while it waits for its turn to compute, and
    the other workers' commands wait on those locks. Queued before their transaction
    opens, they hold no lock while they wait (docs/benchmarks.md, "Commands a worker
    runs at once").
    """
    return threading.BoundedSemaphore(limit) if limit else nullcontext()


@dataclass
class Runtime:
    """The engine, clock and rulebooks every entry point works with, and how many
    commands may run at once (`command_slots`; no limit unless built from settings)."""

    engine: Engine
    clock: Clock
    rulebooks: RulebookSet
    history: ShipmentHistory = field(default_factory=ShipmentHistory)
    command_slots: AbstractContextManager[Any] = field(default_factory=nullcontext)

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
        command_slots=command_slots(settings().commands_per_worker),
    )
