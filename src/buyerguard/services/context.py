"""Who is acting, on which connection, at what time, under which rulebooks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection

from buyerguard.clock import Clock, ensure_utc
from buyerguard.errors import Forbidden, InvalidInput, NotFound
from buyerguard.rulebook import Rulebook, RulebookSet
from buyerguard.store.shipment_history import ShipmentHistory


class Role(StrEnum):
    OPERATOR = "operator"  # everything
    MARKETPLACE = "marketplace"  # reports facts: payment, shipment, signing, pickups
    MERCHANT = "merchant"  # its own products and orders
    BUYER = "buyer"  # its own orders
    SYSTEM = "system"  # the scheduler and other automatic steps


@dataclass(frozen=True)
class Actor:
    role: Role
    party_id: str | None = None
    token_id: str | None = None

    @property
    def label(self) -> str:
        return f"{self.role.value}:{self.party_id}" if self.party_id else self.role.value


OPERATOR = Actor(Role.OPERATOR)
SCHEDULER = Actor(Role.SYSTEM, "scheduler")


@dataclass
class Context:
    """Everything a command handler needs; handlers never reach for globals."""

    connection: Connection
    actor: Actor
    clock: Clock
    rulebooks: RulebookSet
    history: ShipmentHistory = field(default_factory=ShipmentHistory)
    # A list: audit records wait here and the command writes them with its answer (one
    # round trip, api/runtime.py); None: each is written at once.
    audit_rows: list[dict[str, Any]] | None = None

    def now(self) -> datetime:
        return ensure_utc(self.clock.now())

    def rulebook_at(self, instant: datetime, *, field: str | None) -> Rulebook:
        """The rulebook in force at `instant`; `field` names where the caller sent it
        (`paid_at`, `as_of`, `occurred_at`), None for an instant of the engine's own (now, a
        timer's due instant, one stored), to name in `no_rulebook_in_force`."""
        return self.rulebooks.at(instant, field=field)

    def as_of(self, instant: datetime) -> datetime:
        """A job's as-of instant (a promise build, a badge evaluation) in UTC. Not in the
        future: nothing is known of it yet, and a result dated then would stand in the
        history (a badge withdrawn as of 2199 stayed withdrawn, on the event feed)."""
        as_of = ensure_utc(instant, field="as_of")
        if as_of > self.now():
            raise InvalidInput("as_of_in_future", "as_of must not be in the future", "as_of")
        return as_of

    def occurred_at(self, reported: datetime | None) -> datetime:
        """The fact's own instant (default: now); facts from the future are refused."""
        now = self.now()
        if reported is None:
            return now
        instant = ensure_utc(reported, field="occurred_at")
        if instant > now:
            raise InvalidInput(
                "occurred_in_future", "occurred_at must not be in the future", "occurred_at"
            )
        return instant

    def require_role(self, command: str, *roles: Role) -> None:
        if self.actor.role not in (Role.OPERATOR, *roles):
            raise Forbidden(
                "forbidden", f"role {self.actor.role.value} may not {command}", "authorization"
            )

    def require_party(self, kind: Role, party_id: str, not_found: NotFound) -> None:
        """Merchants and buyers see only their own: anything else does not exist for them."""
        if self.actor.role is kind and self.actor.party_id != party_id:
            raise not_found
