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

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from buyerguard.analytics.eta import LEVEL_NAMES
from buyerguard.analytics.promise_lookup import promise_for
from buyerguard.analytics.promise_params import PromiseParams
from buyerguard.clock import (
    FIXED_DATES_FALLBACK,
    HOLIDAY_CALENDAR,
    add_days_past_holidays,
    end_of_local_day,
    ensure_utc,
    format_instant,
    holiday_calendar_last_day,
    local_date,
    next_local_slot,
    transit_paused,
)
from buyerguard.domain.regions import validate_region
from buyerguard.errors import InvalidInput
from buyerguard.rulebook import Rulebook
from buyerguard.services import disruptions, slowdowns
from buyerguard.services.context import SCHEDULER, Context
from buyerguard.services.timers import DueTimer, ensure_pending_timer
from buyerguard.store import repositories
from buyerguard.store.shipment_history import ShipmentHistory

if TYPE_CHECKING:
    from buyerguard.bootstrap import Runtime
    from buyerguard.store.shipment_history import BuiltPromises

    _Builder = Callable[..., BuiltPromises]

PROMISES_REBUILD = "arrival.promises_rebuild"
PROMISES_UPDATE = "arrival.promises_update"


@dataclass(frozen=True)
class Adjusted:
    """A learned promise after what the table cannot know (docs/logistics.md)."""

    promised: date | None
    label: str | None
    holiday_days: int
    slowdown_days: int
    slowdowns: list[str]
    calendar: str
    disruption: disruptions.Disruption | None


def adjusted(
    promised: date | None,
    label: str | None,
    paid_at: datetime,
    regions: tuple[str, ...],
    carrier: str | None,
    declared: Iterable[disruptions.Disruption],
    declared_slowdowns: Iterable[slowdowns.Slowdown] = (),
    start: date | None = None,
) -> Adjusted:
    """Count a learned promise's days on normal days only, stepping over public holidays and
    declared slowdowns (the table was learned on normal days), push it by the worst declared
    disruption of its carrier (None: any) in `regions` (destination, origin), and withdraw the
    label of a span out of the ordinary. `start`: the day the learned offset counts from
    (`Promise.start_date`; default the pay day). Pure: the lookup and the walk-forward
    benchmark both call it."""
    if promised is None:
        return Adjusted(None, label, 0, 0, [], HOLIDAY_CALENDAR, None)
    found = tuple(declared_slowdowns)
    paused = slowdowns.slowdown_days(found)
    paid_day = local_date(paid_at)
    start = start or paid_day
    offset = (promised - start).days
    span = add_days_past_holidays(start, offset, paused)
    hit = disruptions.worst_disruption(
        declared, carrier, regions, paid_at, end_of_local_day(span.day)
    )
    if hit is not None:
        span = add_days_past_holidays(start, offset + hit.expected_extra_days, paused)
    if span.holiday_days or span.slowdown_days or hit is not None:
        label = None  # labels are for normal days
    return Adjusted(
        span.day,
        label,
        span.holiday_days,
        span.slowdown_days,
        slowdowns.names_over(found, paid_day, span.day) if span.slowdown_days else [],
        span.calendar,
        hit,
    )


def build(ctx: Context, as_of: datetime) -> dict[str, Any]:
    """Build and publish the promise table as of an instant (rulebook in force then); the
    caller stores the annual slowdowns first (`seed_slowdowns`)."""
    return _publish(ctx.history.build_promises, _inputs(ctx, as_of), ensure_utc(as_of))


def update(ctx: Context, as_of: datetime) -> dict[str, Any]:
    """`build`, folding the parcels changed since the served table into its sums when it can
    (ShipmentHistory.update_promises): the same table, read from the changes only."""
    return _publish(ctx.history.update_promises, _inputs(ctx, as_of), ensure_utc(as_of))


@dataclass(frozen=True)
class _Inputs:
    """What a build reads from the database."""

    facts: pa.Table  # the engine's own shipments
    rulebook: Rulebook
    slowdown_days: frozenset[date]

    def paused(self, day: date) -> bool:
        return transit_paused(day, self.slowdown_days)


def _inputs(ctx: Context, as_of: datetime) -> _Inputs:
    as_of = ctx.as_of(as_of)
    return _Inputs(
        ShipmentHistory.engine_facts(ctx.connection),
        ctx.rulebook_at(as_of, field="as_of"),
        slowdowns.slowdown_days(slowdowns.current_slowdowns(ctx.connection)),
    )


def seed_slowdowns(ctx: Context, as_of: datetime) -> list[str]:
    """Store the rulebook's annual slowdowns a build as of `as_of` needs (once each)."""
    return slowdowns.seed_annual(ctx, slowdowns.seed_years(local_date(as_of)))


def calendar_warning(as_of: datetime, horizon_days: int) -> str | None:
    """What an operator must do when promises made now may reach past the holiday package's
    last day (clock.holiday_calendar_last_day), or None. Past it only the fixed-date
    holidays are known and the next Spring Festival cannot be seeded as a slowdown."""
    last_day = holiday_calendar_last_day()
    if local_date(as_of) + timedelta(days=horizon_days) <= last_day:
        return None
    year = last_day.year + 1
    return (
        f"the holiday calendar ends {last_day.isoformat()}: promises past it step over the"
        f" fixed-date holidays only ({FIXED_DATES_FALLBACK}), and the Spring Festival of"
        f" {year} cannot be seeded as a slowdown: declare it (POST /v1/logistics/slowdowns)"
        f" until chinese-calendar knows {year}"
    )


def _publish(builder: _Builder, inputs: _Inputs, as_of: datetime) -> dict[str, Any]:
    rulebook = inputs.rulebook
    params = PromiseParams.from_rulebook(rulebook)
    built = builder(inputs.facts, as_of, params, rulebook.id, paused=inputs.paused)
    return {
        "as_of": built.as_of,
        "routes": built.routes,
        "merchant_cutoffs": built.merchant_cutoffs,
        "shipments": built.shipments,
        "table": str(built.path),
        "rulebook_id": rulebook.id,
        "built": built.built,
        "full_because": built.full_because,
        "changed_rows": built.changed_rows,
        "calendar_warning": calendar_warning(as_of, params.max_horizon_days),
    }


def next_rebuild(after: datetime, ctx: Context) -> datetime:
    """The next scheduled full rebuild instant after `after` (rulebook in force then)."""
    hours = ctx.rulebook_at(after, field=None).arrival.promise_rebuild_interval_hours
    return next_local_slot(after, timedelta(hours=hours))


def next_update(after: datetime, ctx: Context) -> datetime:
    """The next scheduled update instant after `after` (rulebook in force then)."""
    hours = ctx.rulebook_at(after, field=None).arrival.promise_update_interval_hours
    return next_local_slot(after, timedelta(hours=hours))


def ensure_rebuild_timer(ctx: Context) -> None:
    """Make sure one scheduled rebuild is pending (idempotent, race-safe)."""
    ensure_pending_timer(ctx, PROMISES_REBUILD, next_rebuild(ctx.now(), ctx))


def ensure_update_timer(ctx: Context) -> None:
    """Make sure one scheduled update is pending (idempotent, race-safe)."""
    ensure_pending_timer(ctx, PROMISES_UPDATE, next_update(ctx.now(), ctx))


def scheduled_rebuild(runtime: Runtime, timer: DueTimer) -> str:
    """Timer job: rebuild in full as of the latest scheduled instant due by now; schedule the
    next. The nightly reference the hourly updates must agree with (`scheduled_update`).

    A heavy job (about 40 s at 1688's scale): it stores the annual slowdowns in
    a short write transaction, reads in one read-only transaction, builds with
    no transaction open, and writes the next timer in a short one — never
    holding a write transaction over the build (scheduler.py runs it
    outside its claim). Only the newest table is served, so a scheduler that
    was down builds once, as of the last instant it missed, instead of once
    per missed day (unlike the badge, whose every day is history).
    """
    return _scheduled(runtime, timer, PROMISES_REBUILD, next_rebuild, full=True)


def scheduled_update(runtime: Runtime, timer: DueTimer) -> str:
    """Timer job: every hour, fold the parcels changed since the served table into it, so that
    the day's late facts reach the promises within the hour (as `scheduled_rebuild` runs)."""
    return _scheduled(runtime, timer, PROMISES_UPDATE, next_update, full=False)


def _scheduled(
    runtime: Runtime,
    timer: DueTimer,
    kind: str,
    following_of: Callable[[datetime, Context], datetime],
    *,
    full: bool,
) -> str:
    with runtime.writing(SCHEDULER) as ctx:
        as_of = ensure_utc(timer.due_at, field="due_at")
        following = following_of(as_of, ctx)
        while following <= ctx.now():
            as_of, following = following, following_of(following, ctx)
        seed_slowdowns(ctx, as_of)
    with runtime.reading(SCHEDULER) as ctx:
        inputs = _inputs(ctx, as_of)
    history = runtime.history
    built = _publish(history.build_promises if full else history.update_promises, inputs, as_of)
    with runtime.writing(SCHEDULER) as ctx:
        ensure_pending_timer(ctx, kind, following)
    how = (
        f"folded {built['changed_rows']} changed row(s) in"
        if built["built"] == "folded"
        else f"built in full ({built['full_because'] or 'the nightly reference'})"
    )
    warning = f"; warning: {built['calendar_warning']}" if built["calendar_warning"] else ""
    return (
        f"promise table as of {format_instant(as_of)}: {built['routes']} routes,"
        f" {built['merchant_cutoffs']} merchant cut-offs"
        f" from {built['shipments']} shipments; {how}{warning}"
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
    shown = ctx.rulebook_at(when, field="paid_at").arrival.enabled
    found = adjusted(
        answer.promised_date,
        answer.label,
        when,
        (destination, product.ship_from_region),
        carrier or None,
        disruptions.current_disruptions(ctx.connection),
        slowdowns.current_slowdowns(ctx.connection),
        answer.start_date,
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
        "confidence": float(params.confidence),  # a number, as the schema declares
        "promise_table_as_of": pointer["as_of"],
        "rulebook_id": pointer["rulebook_id"],
        "counts_from": answer.start_date.isoformat() if answer.start_date else None,
        "merchant_cutoff_hour": answer.cutoff_hour,
        "holiday_days": found.holiday_days,
        "holiday_calendar": found.calendar,
        "slowdown_days": found.slowdown_days,
        "slowdowns": found.slowdowns,
        "disruption": None
        if hit is None
        else {"id": hit.id, "carrier": hit.carrier, "expected_extra_days": hit.expected_extra_days},
        "running_late": None
        if answer.running_late is None
        else {
            "carrier": answer.running_late.carrier,
            "signed_share": answer.running_late.signed_share,
            "recent_parcels": answer.running_late.recent_parcels,
        },
    }
