"""Wire the pieces together from configuration (environment variables)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from buyerguard.clock import Clock, get_clock
from buyerguard.rulebook import RulebookSet, rulebooks
from buyerguard.services.context import Actor, Context
from buyerguard.store.db import make_engine, read_transaction, transaction
from buyerguard.store.shipment_history import ShipmentHistory


@dataclass
class Runtime:
    """The engine, clock and rulebooks every entry point works with."""

    engine: Engine
    clock: Clock
    rulebooks: RulebookSet
    history: ShipmentHistory = field(default_factory=ShipmentHistory)

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
    """Engine, clock and rulebooks, validated up front so a bad rulebook stops start-up."""
    return Runtime(
        engine=make_engine(database_url),
        clock=clock or get_clock(),
        rulebooks=rulebooks(rulebook_dir),
        history=ShipmentHistory(data_dir),
    )
