"""Logistics disruptions an operator declares: a carrier slowed in some regions for a while.

A declaration moves delivery promises at the next lookup, not at the next
build: every API worker sees it on its next lookup after the declaring
transaction commits (services/declared_tables.py).

Regions are GB/T 2260 codes at any level: `440000` (a province) covers every
code starting `44`, `440300` (a city) every code starting `4403`, a district
only itself.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from buyerguard.clock import ensure_utc
from buyerguard.domain.regions import validate_gbt2260
from buyerguard.errors import Conflict, InvalidInput, NotFound, require_text
from buyerguard.services.context import Context
from buyerguard.services.declared_tables import StampedCache, close_row, locked_row, page_by_id
from buyerguard.services.records import audit
from buyerguard.store.tables import logistics_disruptions, orders

MAX_EXTRA_DAYS = 60
MAX_REGIONS = 100
_TABLE = logistics_disruptions.c


@dataclass(frozen=True)
class NewDisruption:
    carrier: str
    regions: tuple[str, ...]
    starts_at: datetime
    until: datetime
    expected_extra_days: int
    reason: str


@dataclass(frozen=True)
class Disruption:
    """A declaration as a lookup applies it."""

    id: str
    carrier: str
    regions: tuple[str, ...]
    starts_at: datetime
    until: datetime
    expected_extra_days: int
    reason: str
    ended_at: datetime | None

    @property
    def effective_until(self) -> datetime:
        """Where it stops acting: its `until`, or earlier when an operator ended it."""
        return self.until if self.ended_at is None else min(self.until, self.ended_at)

    def covers_region(self, region: str) -> bool:
        return any(region_covers(code, region) for code in self.regions)

    def applies(
        self, carrier: str | None, regions: Iterable[str], start: datetime, end: datetime
    ) -> bool:
        """Whether a parcel of `carrier` (None: not known, any) travelling [start, end) in
        one of `regions` (its origin, its destination) meets this disruption."""
        if carrier is not None and carrier != self.carrier:
            return False
        if not (self.starts_at < end and start < self.effective_until):
            return False
        return any(self.covers_region(region) for region in regions)


def region_covers(code: str, region: str) -> bool:
    """Whether GB/T 2260 `code` (province, city or district) contains `region`."""
    if len(region) != 6 or not region.isdigit():
        return False  # an ISO 3166-2 region (BR-SP) lies outside China's codes
    if code.endswith("0000"):
        return region[:2] == code[:2]
    if code.endswith("00"):
        return region[:4] == code[:4]
    return region == code


def known_carriers(ctx: Context) -> frozenset[str]:
    """The carriers the shipment history knows: its codebook and the engine's own orders."""
    imported = ctx.history.codebook().dictionary("carrier").to_pylist()
    engine_own = ctx.connection.execute(
        select(orders.c.carrier).where(orders.c.carrier.is_not(None)).distinct()
    ).scalars()
    return frozenset(str(value) for value in [*imported, *engine_own] if value)


def _check(ctx: Context, command: NewDisruption) -> tuple[str, ...]:
    """Refuse a declaration that cannot be right, before anything is written."""
    if command.until <= command.starts_at:
        raise InvalidInput("until_not_after_from", "until must be after from", "until")
    require_text(command.reason, "reason", "a disruption states its reason")
    if not 0 <= command.expected_extra_days <= MAX_EXTRA_DAYS:
        raise InvalidInput(
            "out_of_range",
            f"expected_extra_days must lie in 0..{MAX_EXTRA_DAYS}",
            "expected_extra_days",
        )
    if not 1 <= len(command.regions) <= MAX_REGIONS:
        raise InvalidInput(
            "out_of_range", f"regions must name 1..{MAX_REGIONS} GB/T 2260 codes", "regions"
        )
    for position, code in enumerate(command.regions):
        validate_gbt2260(code, field=f"regions[{position}]")
    if command.carrier not in known_carriers(ctx):
        raise InvalidInput(
            "carrier_unknown",
            f"no parcel of carrier {command.carrier!r} in the shipment history",
            "carrier",
        )
    return tuple(dict.fromkeys(command.regions))


def declare(ctx: Context, command: NewDisruption) -> dict[str, Any]:
    """Store a declaration; promises it covers move at their next lookup."""
    ctx.require_role("declare logistics disruptions")
    regions = _check(ctx, command)
    now = ctx.now()
    disruption_id = f"dis-{now:%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
    row: dict[str, Any] = {
        "id": disruption_id,
        "carrier": command.carrier,
        "regions": list(regions),
        "starts_at": ensure_utc(command.starts_at),
        "until": ensure_utc(command.until),
        "expected_extra_days": command.expected_extra_days,
        "reason": command.reason,
        "declared_at": now,
        "declared_by": ctx.actor.label,
        "ended_at": None,
        "ended_by": None,
    }
    ctx.connection.execute(insert(logistics_disruptions), row)
    audit(
        ctx,
        "declare_disruption",
        disruption_id,
        now,
        carrier=command.carrier,
        regions=list(regions),
        expected_extra_days=command.expected_extra_days,
    )
    return row


def end(ctx: Context, disruption_id: str) -> dict[str, Any]:
    """End a declaration now (one not yet begun is thereby withdrawn whole)."""
    ctx.require_role("end logistics disruptions")
    found = locked_row(ctx.connection, logistics_disruptions, disruption_id)
    if found is None:
        raise NotFound("disruption_not_found", f"no disruption {disruption_id}", "disruption_id")
    if found["ended_at"] is not None or found["until"] <= ctx.now():
        raise Conflict(
            "disruption_already_ended", f"disruption {disruption_id} has ended", "disruption_id"
        )
    return close_row(ctx, logistics_disruptions, found, "ended", "end_disruption")


def list_disruptions(ctx: Context, after: str | None, limit: int) -> list[dict[str, Any]]:
    """Declarations by id (ids sort by declaration time), `limit` of them after `after`."""
    return page_by_id(ctx.connection, logistics_disruptions, after, limit)


# ------------------------------------------------------------- the lookup's view
def _load(connection: Connection) -> tuple[Disruption, ...]:
    rows = connection.execute(select(logistics_disruptions).order_by(_TABLE.id)).mappings()
    return tuple(
        Disruption(
            id=row["id"],
            carrier=row["carrier"],
            regions=tuple(row["regions"]),
            starts_at=row["starts_at"],
            until=row["until"],
            expected_extra_days=row["expected_extra_days"],
            reason=row["reason"],
            ended_at=row["ended_at"],
        )
        for row in rows
    )


_CACHE = StampedCache(logistics_disruptions, _TABLE.ended_at, _load)


def current_disruptions(connection: Connection) -> tuple[Disruption, ...]:
    """Every declaration, cached per process and database until the stamp moves
    (services/declared_tables.py).

    All are kept, ended ones too: a lookup may ask about a past payment. Operators
    declare a handful a year, so the list stays small.
    """
    return _CACHE.get(connection)


def worst_disruption(
    found: Iterable[Disruption],
    carrier: str | None,
    regions: Iterable[str],
    start: datetime,
    end: datetime,
) -> Disruption | None:
    """The disruption that delays the parcel most (the earliest declared among equals)."""
    wanted = tuple(regions)
    hits = [item for item in found if item.applies(carrier, wanted, start, end)]
    return max(hits, key=lambda item: item.expected_extra_days, default=None)
