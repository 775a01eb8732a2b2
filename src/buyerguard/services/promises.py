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

import functools
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import chinese_calendar
import pyarrow as pa

from buyerguard.analytics.eta import LEVEL_NAMES, promise_for
from buyerguard.analytics.promise_params import PromiseParams
from buyerguard.clock import (
    HOLIDAY_CALENDAR,
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
# Past the `chinese_calendar` package's last year (clock.py falls back to plain weekends)
# only the holidays fixed in the Gregorian calendar are known: New Year's Day, Labour Day
# (1-5 May) and National Day (1-7 October). The Spring Festival moves with the lunar
# calendar: declare its slowdown as a disruption until the package learns the year.
FIXED_DATES_FALLBACK = "fixed_dates_fallback"
FIXED_HOLIDAYS = frozenset(
    {(1, 1)} | {(5, day) for day in range(1, 6)} | {(10, day) for day in range(1, 8)}
)


@functools.lru_cache(maxsize=4096)  # ~19 µs a call in chinese_calendar, on every lookup's span
def holiday_day(day: date) -> tuple[bool, str]:
    """Whether `day` lies in a public-holiday period, and which calendar said so.

    Every day of the period counts, its Saturday and Sunday too: parcels move
    seven days a week in normal weeks (the history's days are calendar days),
    but hardly at all through a holiday. Make-up workdays change nothing.
    """
    try:
        is_holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:  # past the package's last year (clock.py's fallback)
        return (day.month, day.day) in FIXED_HOLIDAYS, FIXED_DATES_FALLBACK
    return bool(is_holiday and name is not None), HOLIDAY_CALENDAR


def lengthened_for_holidays(paid_day: date, offset_days: int) -> tuple[date, int, str]:
    """The promised date `offset_days` normal days after `paid_day`, holiday days not
    counted (the paid day itself neither, when it is one): (date, holiday days, calendar).

    The promise table's offsets are calendar days learned mostly on normal weeks, so
    a span that crosses a holiday is lengthened by the holiday days in it; a
    lengthened span that reaches into more holiday is lengthened again.
    """
    holiday, calendar = holiday_day(paid_day)
    fell_back = calendar == FIXED_DATES_FALLBACK
    skipped, remaining, day = int(holiday), offset_days + int(holiday), paid_day
    while remaining:
        day += timedelta(days=1)
        holiday, calendar = holiday_day(day)
        fell_back = fell_back or calendar == FIXED_DATES_FALLBACK
        if holiday:
            skipped += 1
        else:
            remaining -= 1
    return day, skipped, FIXED_DATES_FALLBACK if fell_back else HOLIDAY_CALENDAR


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
    promised, label = answer.promised_date, answer.label
    holiday_days, calendar, disruption = 0, HOLIDAY_CALENDAR, None
    if promised is not None:
        paid_day = local_date(when)
        offset = (promised - paid_day).days
        promised, holiday_days, calendar = lengthened_for_holidays(paid_day, offset)
        hit = disruptions.worst_disruption(
            disruptions.current_disruptions(ctx.connection),
            carrier or None,
            (destination, product.ship_from_region),
            when,
            end_of_local_day(promised),
        )
        if hit is not None:
            disruption = {
                "id": hit.id,
                "carrier": hit.carrier,
                "expected_extra_days": hit.expected_extra_days,
            }
            extra = offset + hit.expected_extra_days
            promised, holiday_days, calendar = lengthened_for_holidays(paid_day, extra)
        if holiday_days or disruption is not None:
            label = None  # labels are for normal days: a span out of the ordinary shows none
    return {
        "product_id": product.id,
        "destination": destination,
        "paid_at": when,
        "promised_date": promised.isoformat() if promised else None,
        "label": label if shown else None,
        "probability": answer.probability,
        "sample_size": answer.sample_size,
        "backoff_level": answer.backoff_level,
        "backoff_level_name": LEVEL_NAMES.get(answer.backoff_level or 0),
        "confidence": built["confidence"],
        "promise_table_as_of": pointer["as_of"],
        "rulebook_id": pointer["rulebook_id"],
        "holiday_days": holiday_days,
        "holiday_calendar": calendar,
        "disruption": disruption,
    }
