"""Delivery promises 预计达 for a product, a destination and a payment instant.

The promise table is built in batch (`eta build`, and by the scheduler every
`promise_rebuild_interval_hours` from each Shanghai midnight, so the trailing
window moves with the calendar) and served from memory; a lookup walks the
back-off levels of policies.md §11 for the product's route. What the table
cannot know is added at the lookup (docs/logistics.md): public-holiday days the
span crosses lengthen it, and a declared disruption (services/disruptions.py)
pushes it; either withdraws the label.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from buyerguard.analytics.eta import LEVEL_NAMES, promise_for
from buyerguard.analytics.promise_params import PromiseParams
from buyerguard.clock import (
    HOLIDAY_CALENDAR,
    add_days_past_holidays,
    end_of_local_day,
    ensure_utc,
    format_instant,
    local_date,
    next_local_slot,
)
from buyerguard.domain.regions import validate_region
from buyerguard.errors import InvalidInput
from buyerguard.rulebook import Rulebook
from buyerguard.services import disruptions
from buyerguard.services.context import SCHEDULER, Context
from buyerguard.services.timers import DueTimer, ensure_pending_timer
from buyerguard.store import repositories
from buyerguard.store.shipment_history import ShipmentHistory

if TYPE_CHECKING:
    from buyerguard.bootstrap import Runtime

PROMISES_REBUILD = "arrival.promises_rebuild"


@dataclass(frozen=True)
class Adjusted:
    """A learned promise after what the table cannot know (docs/logistics.md)."""

    promised: date | None
    label: str | None
    holiday_days: int
    calendar: str
    disruption: disruptions.Disruption | None


def adjusted(
    promised: date | None,
    label: str | None,
    paid_at: datetime,
    regions: tuple[str, ...],
    carrier: str | None,
    declared: Iterable[disruptions.Disruption],
) -> Adjusted:
    """Lengthen a learned promise by the public-holiday days its span crosses, push it by the
    worst declared disruption of its carrier (None: any) in `regions` (destination, origin),
    and withdraw the label of a span out of the ordinary. Pure: the lookup and the
    walk-forward benchmark both call it."""
    if promised is None:
        return Adjusted(None, label, 0, HOLIDAY_CALENDAR, None)
    paid_day = local_date(paid_at)
    offset = (promised - paid_day).days
    promised, holiday_days, calendar = add_days_past_holidays(paid_day, offset)
    hit = disruptions.worst_disruption(
        declared, carrier, regions, paid_at, end_of_local_day(promised)
    )
    if hit is not None:
        extra = offset + hit.expected_extra_days
        promised, holiday_days, calendar = add_days_past_holidays(paid_day, extra)
    if holiday_days or hit is not None:
        label = None  # labels are for normal days
    return Adjusted(promised, label, holiday_days, calendar, hit)


def build(ctx: Context, as_of: datetime) -> dict[str, Any]:
    """Build and publish the promise table as of an instant (rulebook in force then)."""
    facts, rulebook = _inputs(ctx, as_of)
    return _publish(ctx.history, facts, ensure_utc(as_of), rulebook)


def _inputs(ctx: Context, as_of: datetime) -> tuple[pa.Table, Rulebook]:
    """What a build reads from the database: the engine's own shipments, the rulebook."""
    as_of = ensure_utc(as_of, field="as_of")
    if as_of > ctx.now():
        raise InvalidInput("as_of_in_future", "as_of must not be in the future", "as_of")
    return ShipmentHistory.engine_facts(ctx.connection), ctx.rulebook_at(as_of)


def _publish(
    history: ShipmentHistory, facts: pa.Table, as_of: datetime, rulebook: Rulebook
) -> dict[str, Any]:
    built = history.build_promises(facts, as_of, PromiseParams.from_rulebook(rulebook), rulebook.id)
    return {
        "as_of": built.as_of,
        "routes": built.routes,
        "shipments": built.shipments,
        "table": str(built.path),
        "rulebook_id": rulebook.id,
    }


def next_rebuild(after: datetime, ctx: Context) -> datetime:
    """The next scheduled rebuild instant after `after` (rulebook in force then)."""
    hours = ctx.rulebook_at(after).arrival.promise_rebuild_interval_hours
    return next_local_slot(after, timedelta(hours=hours))


def ensure_rebuild_timer(ctx: Context) -> None:
    """Make sure one scheduled rebuild is pending (idempotent, race-safe)."""
    ensure_pending_timer(ctx, PROMISES_REBUILD, next_rebuild(ctx.now(), ctx))


def scheduled_rebuild(runtime: Runtime, timer: DueTimer) -> str:
    """Timer job: rebuild as of the latest scheduled instant due by now; schedule the next.

    A heavy job (about 40 s at 1688's scale): it reads in one read-only
    transaction, builds with no transaction open, and writes the next timer in
    a short one — never holding a write transaction (scheduler.py runs it
    outside its claim). Only the newest table is served, so a scheduler that
    was down builds once, as of the last instant it missed, instead of once
    per missed day (unlike the badge, whose every day is history).
    """
    with runtime.reading(SCHEDULER) as ctx:
        as_of = ensure_utc(timer.due_at, field="due_at")
        following = next_rebuild(as_of, ctx)
        while following <= ctx.now():
            as_of, following = following, next_rebuild(following, ctx)
        facts, rulebook = _inputs(ctx, as_of)
    built = _publish(runtime.history, facts, as_of, rulebook)
    with runtime.writing(SCHEDULER) as ctx:
        ensure_pending_timer(ctx, PROMISES_REBUILD, following)
    return (
        f"promise table as of {format_instant(as_of)}: {built['routes']} rows"
        f" from {built['shipments']} shipments"
    )


def promise(
    ctx: Context,
    product_id: str,
    destination: str,
    paid_at: datetime | None,
    carrier: str | None = None,
) -> dict[str, Any]:
    product = repositories.get_product(ctx.connection, product_id)
    validate_region(destination, field="destination")
    when = ctx.now() if paid_at is None else ensure_utc(paid_at, field="paid_at")
    if when > ctx.now():
        raise InvalidInput("paid_at_in_future", "paid_at must not be in the future", "paid_at")
    index, pointer = ctx.history.current_promises()
    built = pointer["params"]
    params = PromiseParams.from_record(built)
    answer = promise_for(
        index,
        product_id=product.id,
        merchant_id=product.merchant_id,
        origin_region=product.ship_from_region,
        destination_region=destination,
        carrier=carrier or "",
        paid_at=when,
        params=params,
    )
    shown = ctx.rulebook_at(when).arrival.enabled
    found = adjusted(
        answer.promised_date,
        answer.label,
        when,
        (destination, product.ship_from_region),
        carrier or None,
        disruptions.current_disruptions(ctx.connection),
    )
    hit = found.disruption
    return {
        "product_id": product.id,
        "destination": destination,
        "paid_at": when,
        "promised_date": found.promised.isoformat() if found.promised else None,
        "label": found.label if shown else None,
        "probability": answer.probability,
        "sample_size": answer.sample_size,
        "backoff_level": answer.backoff_level,
        "backoff_level_name": LEVEL_NAMES.get(answer.backoff_level or 0),
        "confidence": built["confidence"],
        "promise_table_as_of": pointer["as_of"],
        "rulebook_id": pointer["rulebook_id"],
        "holiday_days": found.holiday_days,
        "holiday_calendar": found.calendar,
        "disruption": None
        if hit is None
        else {"id": hit.id, "carrier": hit.carrier, "expected_extra_days": hit.expected_extra_days},
    }
