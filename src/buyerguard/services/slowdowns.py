"""Logistics slowdowns: whole Shanghai days on which every carrier slows, like a holiday.

A slowdown's days are stepped over the way public holidays are: a promise counts
only normal days (clock.add_days_past_holidays), and the promise model learns on
normal days only (analytics/route_scans.py censors a parcel in transit when a
paused day comes). The Spring Festival's slowdown — couriers slow days before the
official holiday and recover days after it — is seeded every year from the
rulebook (`[arrival] spring_festival_lead_days`, `spring_festival_recovery_days`)
and the holiday's dates in `chinese_calendar`; an operator declares the others (a
Double 11 peak) and may withdraw any. Like a disruption, a declaration acts from
the next lookup in every API worker (services/declared_tables.py).
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select

from buyerguard.clock import (
    holiday_period,
    require_local_date,
    start_of_local_day,
)
from buyerguard.errors import Conflict, InvalidInput, NotFound, require_text
from buyerguard.rulebook import Rulebook
from buyerguard.services.context import Context
from buyerguard.services.declared_tables import (
    StampedCache,
    close_row,
    lock_for_declaring,
    locked_row,
    page_by_id,
)
from buyerguard.services.records import audit
from buyerguard.store.db import insert_if_absent
from buyerguard.store.tables import logistics_slowdowns

MAX_SLOWDOWN_DAYS = 60
SPRING_FESTIVAL = "Spring Festival"  # chinese_calendar's name of the holiday
FROM_RULEBOOK, FROM_OPERATOR = "rulebook", "operator"
_TABLE = logistics_slowdowns.c


@dataclass(frozen=True)
class NewSlowdown:
    name: str
    first_day: date
    last_day: date
    reason: str


@dataclass(frozen=True)
class Slowdown:
    """A slowdown as lookups and builds apply it: its days, unless withdrawn."""

    id: str
    name: str
    first_day: date
    last_day: date
    withdrawn: bool

    def days(self) -> Iterable[date]:
        day = self.first_day
        while day <= self.last_day:
            yield day
            day += timedelta(days=1)


def slowdown_days(found: Iterable[Slowdown]) -> frozenset[date]:
    """Every day a slowdown in force pauses (withdrawn ones pause nothing)."""
    return _days_of(tuple(found))


@functools.lru_cache(maxsize=16)
def _days_of(found: tuple[Slowdown, ...]) -> frozenset[date]:
    """Computed once per set of slowdowns: every lookup asks, the set changes a few times a
    year (the per-worker cache hands back the same tuple until the table's stamp moves)."""
    return frozenset(day for item in found if not item.withdrawn for day in item.days())


def names_over(found: Iterable[Slowdown], first: date, last: date) -> list[str]:
    """The slowdowns in force with a day in [first, last], by first day."""
    hits = [
        item
        for item in found
        if not item.withdrawn and item.first_day <= last and first <= item.last_day
    ]
    return [item.name for item in sorted(hits, key=lambda item: (item.first_day, item.id))]


def _check(command: NewSlowdown) -> None:
    if command.last_day < command.first_day:
        raise InvalidInput(
            "last_day_before_first_day", "last_day must not precede first_day", "last_day"
        )
    if (command.last_day - command.first_day).days + 1 > MAX_SLOWDOWN_DAYS:
        raise InvalidInput(
            "out_of_range", f"a slowdown lasts at most {MAX_SLOWDOWN_DAYS} days", "last_day"
        )
    require_local_date(command.first_day, field="first_day")
    require_local_date(command.last_day, field="last_day")
    require_text(command.name, "name", "a slowdown has a name")
    require_text(command.reason, "reason", "a slowdown states its reason")


def _refuse_repeated(ctx: Context, command: NewSlowdown) -> None:
    """One slowdown in force per name and days: a second (a retry under another key) would
    pause nothing more, and every promise over it would name it twice."""
    standing = ctx.connection.execute(
        select(_TABLE.id).where(
            _TABLE.name == command.name,
            _TABLE.first_day == command.first_day,
            _TABLE.last_day == command.last_day,
            _TABLE.withdrawn_at.is_(None),
        )
    ).scalar()
    if standing is not None:
        raise Conflict(
            "slowdown_already_declared",
            f"slowdown {standing} already pauses {command.first_day} .. {command.last_day} as"
            f" {command.name!r}: withdraw it first to declare it anew",
            "name",
        )


def _row(ctx: Context, slowdown_id: str, command: NewSlowdown, source: str) -> dict[str, Any]:
    return {
        "id": slowdown_id,
        "name": command.name,
        "first_day": command.first_day,
        "last_day": command.last_day,
        "reason": command.reason,
        "source": source,
        "declared_at": ctx.now(),
        "declared_by": ctx.actor.label,
        "withdrawn_at": None,
        "withdrawn_by": None,
    }


def declare(ctx: Context, command: NewSlowdown) -> dict[str, Any]:
    """Store a slowdown; the promises whose span it touches step over its days from the
    next lookup, and the next build learns around it."""
    ctx.require_role("declare logistics slowdowns")
    _check(command)
    lock_for_declaring(ctx.connection, logistics_slowdowns)  # two at once: one is refused
    _refuse_repeated(ctx, command)
    now = ctx.now()
    row = _row(ctx, f"slow-{now:%Y%m%dT%H%M%S}-{secrets.token_hex(4)}", command, FROM_OPERATOR)
    ctx.connection.execute(insert(logistics_slowdowns), row)
    audit(
        ctx,
        "declare_slowdown",
        row["id"],
        now,
        name=command.name,
        first_day=command.first_day.isoformat(),
        last_day=command.last_day.isoformat(),
    )
    return row


def withdraw(ctx: Context, slowdown_id: str) -> dict[str, Any]:
    """Withdraw a slowdown whole: its days count as normal again, from the next lookup."""
    ctx.require_role("withdraw logistics slowdowns")
    found = locked_row(ctx.connection, logistics_slowdowns, slowdown_id)
    if found is None:
        raise NotFound("slowdown_not_found", f"no slowdown {slowdown_id}", "slowdown_id")
    if found["withdrawn_at"] is not None:
        raise Conflict(
            "slowdown_already_withdrawn", f"slowdown {slowdown_id} was withdrawn", "slowdown_id"
        )
    return close_row(ctx, logistics_slowdowns, found, "withdrawn", "withdraw_slowdown")


def list_slowdowns(ctx: Context, after: str | None, limit: int) -> list[dict[str, Any]]:
    """Slowdowns by id, withdrawn ones too, `limit` of them after `after`."""
    return page_by_id(ctx.connection, logistics_slowdowns, after, limit)


# ------------------------------------------------------------------ annual seeds
def annual_slowdowns(
    year: int, rulebook_at: Callable[[datetime], Rulebook]
) -> list[tuple[str, NewSlowdown]]:
    """The slowdowns the rulebook seeds for `year`, as (id, slowdown): the Spring Festival
    holiday widened by its lead and recovery days (the rulebook in force on the holiday's
    first day). None past the calendar package's last year: the lunar date is not guessed.
    `rulebook_at` maps an instant to the rulebook in force then."""
    period = holiday_period(year, SPRING_FESTIVAL)
    if period is None:
        return []
    first, last = period
    rules = rulebook_at(start_of_local_day(first))
    lead, recovery = (
        rules.arrival.spring_festival_lead_days,
        rules.arrival.spring_festival_recovery_days,
    )
    for field, days in (
        ("spring_festival_lead_days", lead),
        ("spring_festival_recovery_days", recovery),
    ):
        if not 0 <= days <= MAX_SLOWDOWN_DAYS:
            raise InvalidInput("out_of_range", f"{field} must lie in 0..{MAX_SLOWDOWN_DAYS}", field)
    seeded = NewSlowdown(
        name=f"{SPRING_FESTIVAL} {year}",
        first_day=first - timedelta(days=lead),
        last_day=last + timedelta(days=recovery),
        reason=(
            f"couriers slow {lead} day(s) before the holiday ({first} .. {last}) and recover"
            f" over {recovery} day(s) after it (rulebook {rules.id})"
        ),
    )
    return [(f"slow-spring-festival-{year}", seeded)]


def seed_annual(ctx: Context, years: Iterable[int]) -> list[str]:
    """Store the rulebook's slowdowns of `years` that were never stored (an operator's
    withdrawal stands: a withdrawn seed is not stored again); the ids stored now."""
    stored = []
    for year in sorted(set(years)):
        for slowdown_id, command in annual_slowdowns(
            year, lambda instant: ctx.rulebook_at(instant, field=None)
        ):
            row = _row(ctx, slowdown_id, command, FROM_RULEBOOK)
            inserted = insert_if_absent(ctx.connection, logistics_slowdowns, row, _TABLE.id)
            if inserted.first() is not None:
                audit(ctx, "seed_slowdown", slowdown_id, ctx.now(), name=command.name)
                stored.append(slowdown_id)
    return stored


def seed_years(day: date) -> range:
    """The years whose seeds a build on Shanghai `day` may need: its own, and one either
    side (a window reaching back into last year's festival, promises into next year's)."""
    return range(day.year - 1, day.year + 2)


# ------------------------------------------------------------------ the lookup's view
def _load(connection: Connection) -> tuple[Slowdown, ...]:
    rows = connection.execute(select(logistics_slowdowns).order_by(_TABLE.id)).mappings()
    return tuple(
        Slowdown(
            id=row["id"],
            name=row["name"],
            first_day=row["first_day"],
            last_day=row["last_day"],
            withdrawn=row["withdrawn_at"] is not None,
        )
        for row in rows
    )


_CACHE = StampedCache(logistics_slowdowns, _TABLE.withdrawn_at, _load)


def current_slowdowns(connection: Connection) -> tuple[Slowdown, ...]:
    """Every slowdown, withdrawn ones too, cached per process until the table's stamp moves."""
    return _CACHE.get(connection)
