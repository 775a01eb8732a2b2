"""Time: one clock, UTC instants, and the Asia/Shanghai calendar.

Instants are stored and passed as timezone-aware UTC datetimes. Days, months
and "today" are reasoned about in Asia/Shanghai, the marketplace's calendar.
Everything that needs "now" asks `get_clock()`, so tests and the simulator
can swap in a `SimulatedClock` and move time by hand.

Business days follow the Chinese public-holiday calendar (with make-up
workdays) from the `chinese_calendar` package. It knows a fixed range of
years; outside it we fall back to plain weekends and say so in the answer,
never crash.
"""

from __future__ import annotations

import calendar
import functools
import threading
from collections.abc import Container
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo

import chinese_calendar

from buyerguard.errors import InvalidInput

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The instants buyerguard accepts: wide enough for any business date (and the
# 1970 baseline rulebook), narrow enough that every store, every UTC/Shanghai
# conversion and every "+ N days" stays representable. Inclusive, exclusive.
EARLIEST_INSTANT = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_INSTANT = datetime(2200, 1, 1, tzinfo=UTC)
INSTANT_RANGE_TEXT = "1900-01-01T00:00:00Z to before 2200-01-01T00:00:00Z"
# The Shanghai days that lie wholly inside that range.
EARLIEST_LOCAL_DATE = date(1900, 1, 2)
LATEST_LOCAL_DATE = date(2199, 12, 31)
HOLIDAY_CALENDAR = "chinese_calendar"
WEEKEND_FALLBACK = "weekends_fallback"
# Past the package's last year only the public holidays fixed in the Gregorian calendar are
# known: New Year's Day, Labour Day (1-5 May) and National Day (1-7 October). The Spring
# Festival moves with the lunar calendar and is not guessed.
FIXED_DATES_FALLBACK = "fixed_dates_fallback"
FIXED_HOLIDAYS = frozenset(
    {(1, 1)} | {(5, day) for day in range(1, 6)} | {(10, day) for day in range(1, 8)}
)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...


class SystemClock:
    """The machine's wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class SimulatedClock:
    """A clock that only moves when told to; shared safely between threads."""

    def __init__(self, start: datetime) -> None:
        self._now = ensure_utc(start)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, instant: datetime) -> None:
        with self._lock:
            self._now = ensure_utc(instant)

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now = self._now + delta
            return self._now


_clock: Clock = SystemClock()


def get_clock() -> Clock:
    """The process-wide clock every "now" comes from."""
    return _clock


def set_clock(clock: Clock) -> Clock:
    """Install a clock (tests, simulator); returns the previous one."""
    global _clock
    previous, _clock = _clock, clock
    return previous


def now() -> datetime:
    return _clock.now()


def _out_of_range(field: str) -> InvalidInput:
    return InvalidInput(
        "instant_out_of_range", f"{field} must lie from {INSTANT_RANGE_TEXT}", field
    )


def ensure_utc(instant: datetime, *, field: str = "instant") -> datetime:
    """Return `instant` in UTC; naive or out-of-range instants are refused."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise InvalidInput(
            "instant_without_offset",
            f"{field} must carry a UTC offset (e.g. 2024-03-01T14:00:00+08:00)",
            field,
        )
    try:
        utc = instant.astimezone(UTC)
    except OverflowError as exc:  # year 1 at +08:00, year 9999 at -14:00
        raise _out_of_range(field) from exc
    if not EARLIEST_INSTANT <= utc < LATEST_INSTANT:
        raise _out_of_range(field)
    return utc


def require_local_date(day: date, *, field: str = "date") -> date:
    """A Shanghai calendar day whose whole span lies inside the accepted instants."""
    if not EARLIEST_LOCAL_DATE <= day <= LATEST_LOCAL_DATE:
        raise InvalidInput(
            "date_out_of_range",
            f"{field} must lie from {EARLIEST_LOCAL_DATE} to {LATEST_LOCAL_DATE}",
            field,
        )
    return day


def parse_instant(text: str, *, field: str = "instant", allow_date: bool = True) -> datetime:
    """Parse an ISO-8601 instant with offset or, if allowed, a bare date (00:00 Shanghai)."""
    if not isinstance(text, str):
        raise InvalidInput("instant_malformed", f"{field} must be an ISO-8601 string", field)
    candidate = text.strip()
    try:
        if len(candidate) in (8, 10) and "T" not in candidate and ":" not in candidate:
            if not allow_date:
                raise ValueError("a date is not an instant")
            day = require_local_date(date.fromisoformat(candidate), field=field)
            return start_of_local_day(day)
        if candidate[-1:] in ("Z", "z"):  # UTC; RFC 3339 allows either case, as of its "T"
            candidate = candidate[:-1] + "+00:00"
        parsed = datetime.fromisoformat(candidate)
    except ValueError as exc:
        raise InvalidInput(
            "instant_malformed",
            f"{field} is not an ISO-8601 instant with an offset: {text!r}",
            field,
        ) from exc
    return ensure_utc(parsed, field=field)


def parse_local_date(text: str, *, field: str = "date") -> date:
    """Parse a Shanghai calendar day, YYYY-MM-DD, inside the range buyerguard accepts."""
    try:
        day = date.fromisoformat(text.strip()) if isinstance(text, str) else None
    except ValueError:
        day = None
    if day is None or len(text.strip()) != 10:
        raise InvalidInput("date_malformed", f"{field} is not a YYYY-MM-DD date: {text!r}", field)
    return require_local_date(day, field=field)


def format_instant(instant: datetime) -> str:
    """UTC ISO-8601 with a Z, to the second (or microsecond when present)."""
    return ensure_utc(instant).isoformat().replace("+00:00", "Z")


def local_date(instant: datetime) -> date:
    """The Asia/Shanghai calendar day an instant falls on."""
    return ensure_utc(instant).astimezone(SHANGHAI).date()


def start_of_local_day(day: date) -> datetime:
    """00:00 Shanghai on `day`, as a UTC instant."""
    return datetime.combine(day, time.min, tzinfo=SHANGHAI).astimezone(UTC)


def end_of_local_day(day: date) -> datetime:
    """The exclusive end of `day` in Shanghai (00:00 the next day), as UTC."""
    return start_of_local_day(day + timedelta(days=1))


def next_local_slot(after: datetime, interval: timedelta) -> datetime:
    """The first instant after `after` on the grid of Shanghai midnight + k·interval.

    Daily jobs run at local midnights whatever the UTC offset; the grid restarts
    at each midnight so an interval that does not divide a day still lands there.
    """
    if interval <= timedelta(0):
        raise InvalidInput("interval_invalid", "a job interval must be positive", "interval")
    candidate = start_of_local_day(local_date(after))
    while candidate <= after:
        candidate += interval
    return min(candidate, end_of_local_day(local_date(after)))


def window_end_after_day(instant: datetime, days: int) -> datetime:
    """End (exclusive) of an N-day window counted from the day after `instant`.

    Signed 2024-03-01 14:00 Shanghai with a 7-day window: the window covers
    03-02 .. 03-08, so the last moment to act is 03-08 23:59:59 and this
    returns 03-09 00:00 Shanghai.
    """
    if days < 0:
        raise InvalidInput("days_negative", f"days must not be negative: {days}", "days")
    return end_of_local_day(local_date(instant) + timedelta(days=days))


def months_before(instant: datetime, months: int) -> datetime:
    """The same Shanghai wall time `months` calendar months earlier (the day clamped to the
    month's last): a trailing window of N months."""
    local = instant.astimezone(SHANGHAI)
    year, month_index = divmod(local.year * 12 + local.month - 1 - months, 12)
    last_day = calendar.monthrange(year, month_index + 1)[1]
    earlier = local.replace(year=year, month=month_index + 1, day=min(local.day, last_day))
    return earlier.astimezone(UTC)


def nth_day_of_next_month(instant: datetime, day_of_month: int) -> date:
    """The `day_of_month`-th of the month after the Shanghai month of `instant`."""
    if not 1 <= day_of_month <= 28:
        raise InvalidInput(
            "day_of_month_out_of_range",
            f"day of month must be 1..28 to exist in every month: {day_of_month}",
            "day_of_month",
        )
    local = local_date(instant)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return date(year, month, day_of_month)


@dataclass(frozen=True)
class BusinessDay:
    """Whether a day is a working day, and which calendar said so."""

    day: date
    is_business_day: bool
    calendar: str

    @property
    def fell_back(self) -> bool:
        return self.calendar == WEEKEND_FALLBACK


def business_day(day: date) -> BusinessDay:
    """Chinese working day (holidays and make-up workdays), or weekends beyond the data."""
    try:
        return BusinessDay(day, bool(chinese_calendar.is_workday(day)), HOLIDAY_CALENDAR)
    except NotImplementedError:
        return BusinessDay(day, day.weekday() < 5, WEEKEND_FALLBACK)


def add_business_days(start: date, count: int) -> tuple[date, bool]:
    """The date `count` business days after `start`; True when any step fell back."""
    if count < 0:
        raise InvalidInput("days_negative", f"count must not be negative: {count}", "count")
    day, fell_back, remaining = start, False, count
    while remaining:
        day += timedelta(days=1)
        answer = business_day(day)
        fell_back = fell_back or answer.fell_back
        remaining -= answer.is_business_day
    return day, fell_back


@functools.lru_cache(maxsize=4096)  # ~19 µs a call in chinese_calendar; lookups ask per day
def public_holiday(day: date) -> tuple[bool, str]:
    """Whether `day` lies in a public-holiday period, and which calendar said so.

    Every day of the period counts, its Saturday and Sunday too (parcels move seven
    days a week, but hardly at all through a holiday); make-up workdays are not
    holidays. Past the package's range: the fixed-date holidays only.
    """
    try:
        is_holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return (day.month, day.day) in FIXED_HOLIDAYS, FIXED_DATES_FALLBACK
    return bool(is_holiday and name is not None), HOLIDAY_CALENDAR


@functools.cache
def holiday_calendar_last_day() -> date:
    """The last day the holiday package knows (31 December of its last year): past it,
    `public_holiday` knows the fixed-date holidays only."""
    return date(max(day.year for day in chinese_calendar.holidays), 12, 31)


def holiday_period(year: int, name: str) -> tuple[date, date] | None:
    """The first and last day of the public holiday `name` (as `chinese_calendar` names it,
    e.g. "Spring Festival") in `year`, or None when the package does not know that year."""
    days = sorted(
        day
        for day, holiday in chinese_calendar.holidays.items()
        if day.year == year and str(holiday) == name
    )
    return (days[0], days[-1]) if days else None


class SpanPastPauses(NamedTuple):
    """Where a span of normal days ends, and what it stepped over to get there."""

    day: date
    holiday_days: int
    slowdown_days: int
    calendar: str


def transit_paused(day: date, slowdown_days: Container[date] = frozenset()) -> bool:
    """Whether parcels' transit time stops on `day`: a public holiday or a declared
    slowdown's day. Promises count, and the promise model learns on, the other days."""
    return day in slowdown_days or public_holiday(day)[0]


def add_days_past_holidays(
    start: date, count: int, slowdown_days: Container[date] = frozenset()
) -> SpanPastPauses:
    """The date `count` normal days after `start`, stepping over public holidays and the
    days of declared slowdowns (`start` itself counts as paused time when it is paused).
    Holiday days are counted before slowdown days when a day is both. The calendar is
    FIXED_DATES_FALLBACK if any day fell back."""
    if count < 0:
        raise InvalidInput("days_negative", f"count must not be negative: {count}", "count")
    day, holidays, slowdowns, fell_back = start, 0, 0, False

    def next_normal(day: date) -> date:
        """`day` itself when normal, else the first normal day after it, counting the rest."""
        nonlocal holidays, slowdowns, fell_back
        while True:
            holiday, calendar_name = public_holiday(day)
            fell_back = fell_back or calendar_name == FIXED_DATES_FALLBACK
            if holiday:
                holidays += 1
            elif day in slowdown_days:
                slowdowns += 1
            else:
                return day
            day += timedelta(days=1)

    day = next_normal(start)
    for _ in range(count):
        day = next_normal(day + timedelta(days=1))
    return SpanPastPauses(
        day, holidays, slowdowns, FIXED_DATES_FALLBACK if fell_back else HOLIDAY_CALENDAR
    )
