"""Wire the pieces together from configuration (environment variables)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from buyerguard.clock import Clock, get_clock
from buyerguard.rulebook import RulebookSet, rulebooks
from buyerguard.services.context import Actor, Context
from buyerguard.store.db import make_engine, read_transaction, transaction


@dataclass
class Runtime:
    """The engine, clock and rulebooks every entry point works with."""

    engine: Engine
    clock: Clock
    rulebooks: RulebookSet

    @contextmanager
    def reading(self, actor: Actor) -> Iterator[Context]:
        with read_transaction(self.engine) as connection:
            yield Context(connection, actor, self.clock, self.rulebooks)

    @contextmanager
    def writing(self, actor: Actor) -> Iterator[Context]:
        with transaction(self.engine) as connection:
            yield Context(connection, actor, self.clock, self.rulebooks)


def build_runtime(
    database_url: str | None = None, clock: Clock | None = None, rulebook_dir: Path | None = None
) -> Runtime:
    """Engine, clock and rulebooks, validated up front so a bad rulebook stops start-up."""
    return Runtime(
        engine=make_engine(database_url),
        clock=clock or get_clock(),
        rulebooks=rulebooks(rulebook_dir),
    )
