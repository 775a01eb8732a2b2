"""Time: the swappable clock, UTC instants and the Asia/Shanghai calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from buyerguard import clock as clock_module
from buyerguard.clock import (
    HOLIDAY_CALENDAR,
    SHANGHAI,
    WEEKEND_FALLBACK,
    SimulatedClock,
    SystemClock,
    add_business_days,
    business_day,
    end_of_local_day,
    ensure_utc,
    format_instant,
    get_clock,
    local_date,
    next_local_slot,
    nth_day_of_next_month,
    parse_instant,
    set_clock,
    start_of_local_day,
    window_end_after_day,
)
from buyerguard.errors import InvalidInput
from tests.conftest import at

# Shanghai has had no daylight saving since 1991; keep generated instants well after it.
INSTANTS = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
DAYS = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1))
# chinese_calendar knows 2004..2026; this range spans both sides of its end.
CALENDAR_DAYS = st.dates(min_value=date(2003, 6, 1), max_value=date(2028, 12, 31))


def shanghai(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """A wall-clock time in Shanghai."""
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


# --------------------------------------------------------------------------- clocks
def test_simulated_clock_only_moves_when_told() -> None:
    clock = SimulatedClock(at("2024-03-01T14:00:00+08:00"))
    assert clock.now() == datetime(2024, 3, 1, 6, 0, tzinfo=UTC)
    assert clock.now() == clock.now()
    assert clock.now().tzinfo is UTC


def test_simulated_clock_set_converts_to_utc() -> None:
    clock = SimulatedClock(at("2024-03-01T00:00:00Z"))
    clock.set(shanghai(2024, 10, 15, 8, 0))
    assert clock.now() == datetime(2024, 10, 15, 0, 0, tzinfo=UTC)
    assert clock.now().utcoffset() == timedelta(0)


def test_simulated_clock_advance_returns_the_new_now() -> None:
    clock = SimulatedClock(at("2024-03-01T00:00:00Z"))
    moved = clock.advance(timedelta(days=10, hours=3))
    assert moved == at("2024-03-11T03:00:00Z")
    assert clock.now() == moved
    assert clock.advance(timedelta(0)) == moved


def test_simulated_clock_refuses_naive_instants() -> None:
    with pytest.raises(InvalidInput) as info:
        SimulatedClock(datetime(2024, 3, 1, 14, 0))
    assert info.value.code == "instant_without_offset"
    clock = SimulatedClock(at("2024-03-01T00:00:00Z"))
    with pytest.raises(InvalidInput):
        clock.set(datetime(2024, 3, 2))
    assert clock.now() == at("2024-03-01T00:00:00Z")


def test_system_clock_is_aware_utc_and_close_to_now() -> None:
    before = datetime.now(UTC)
    reading = SystemClock().now()
    after = datetime.now(UTC)
    assert reading.utcoffset() == timedelta(0)
    assert before <= reading <= after


def test_set_clock_swaps_the_process_clock_and_returns_the_previous() -> None:
    simulated = SimulatedClock(at("2024-09-13T00:00:00+08:00"))
    previous = set_clock(simulated)
    try:
        assert get_clock() is simulated
        assert clock_module.now() == at("2024-09-12T16:00:00Z")
        simulated.advance(timedelta(minutes=5))
        assert clock_module.now() == at("2024-09-12T16:05:00Z")
        second = SimulatedClock(at("2030-01-01T00:00:00Z"))
        assert set_clock(second) is simulated
        assert clock_module.now() == at("2030-01-01T00:00:00Z")
    finally:
        set_clock(previous)
    assert get_clock() is previous


# --------------------------------------------------------------------------- instants
def test_ensure_utc_converts_aware_instants() -> None:
    converted = ensure_utc(shanghai(2024, 3, 1, 8, 0))
    assert converted == datetime(2024, 3, 1, 0, 0, tzinfo=UTC)
    assert converted.tzinfo is UTC
    fixed = ensure_utc(datetime(2024, 3, 1, 0, 0, tzinfo=timezone(timedelta(hours=-5))))
    assert fixed == datetime(2024, 3, 1, 5, 0, tzinfo=UTC)


def test_ensure_utc_refuses_naive_and_names_the_field() -> None:
    with pytest.raises(InvalidInput) as info:
        ensure_utc(datetime(2024, 3, 1), field="paid_at")
    assert info.value.code == "instant_without_offset"
    assert info.value.field == "paid_at"


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2024-03-01T14:00:00+08:00", datetime(2024, 3, 1, 6, 0, tzinfo=UTC)),
        ("2024-03-01T06:00:00Z", datetime(2024, 3, 1, 6, 0, tzinfo=UTC)),
        ("2024-03-01T06:00:00+00:00", datetime(2024, 3, 1, 6, 0, tzinfo=UTC)),
        ("2024-03-01T01:00:00-05:00", datetime(2024, 3, 1, 6, 0, tzinfo=UTC)),
        ("2024-03-01T06:00:00.250Z", datetime(2024, 3, 1, 6, 0, 0, 250000, tzinfo=UTC)),
        ("2024-03-01 14:00+08:00", datetime(2024, 3, 1, 6, 0, tzinfo=UTC)),
        ("  2024-03-01T06:00:00Z  ", datetime(2024, 3, 1, 6, 0, tzinfo=UTC)),
        # RFC 3339 allows a lower-case "t" and "z": the "t" was read, the "z" refused
        ("2024-03-01t06:00:00z", datetime(2024, 3, 1, 6, 0, tzinfo=UTC)),
        ("2024-03-01T06:00:00.5z", datetime(2024, 3, 1, 6, 0, 0, 500000, tzinfo=UTC)),
    ],
)
def test_parse_instant_with_offset(text: str, utc: datetime) -> None:
    parsed = parse_instant(text)
    assert parsed == utc
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2024-03-01", datetime(2024, 2, 29, 16, 0, tzinfo=UTC)),  # leap day before
        ("2024-01-01", datetime(2023, 12, 31, 16, 0, tzinfo=UTC)),
        (" 2024-10-15 ", datetime(2024, 10, 14, 16, 0, tzinfo=UTC)),
    ],
)
def test_parse_instant_bare_date_is_midnight_in_shanghai(text: str, utc: datetime) -> None:
    parsed = parse_instant(text)
    assert parsed == utc
    assert parsed.astimezone(SHANGHAI).hour == 0


@pytest.mark.parametrize(
    "text",
    [
        "garbage",
        "",
        "   ",
        "2024-13-01",
        "2024-02-30",
        "2023-02-29",
        "2024-03-01T25:00:00Z",
        "2024-03-01T14:00:00+25:00",
        "yesterday at noon",
        "01/03/2024",
        "2024-03-01T06:00:00ZZ",
        "2024-03-01T06:00:00Z+08:00",
    ],
)
def test_parse_instant_refuses_malformed_text(text: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_instant(text, field="at")
    assert info.value.code == "instant_malformed"
    assert info.value.field == "at"
    assert repr(text) in info.value.message


def test_parse_instant_refuses_a_datetime_without_offset() -> None:
    with pytest.raises(InvalidInput) as info:
        parse_instant("2024-03-01T14:00:00", field="paid_at")
    assert info.value.code == "instant_without_offset"
    assert info.value.field == "paid_at"


def test_format_instant_is_utc_with_z() -> None:
    assert format_instant(at("2024-03-01T14:00:00+08:00")) == "2024-03-01T06:00:00Z"
    with_micros = datetime(2024, 3, 1, 6, 0, 0, 500, tzinfo=UTC)
    assert format_instant(with_micros) == "2024-03-01T06:00:00.000500Z"


@given(INSTANTS)
def test_format_then_parse_round_trips(instant: datetime) -> None:
    assert parse_instant(format_instant(instant)) == instant


# --------------------------------------------------------------------------- local days
def test_local_date_across_shanghai_midnight() -> None:
    assert local_date(at("2024-03-01T15:59:59Z")) == date(2024, 3, 1)
    assert at("2024-03-01T15:59:59Z").astimezone(SHANGHAI) == shanghai(2024, 3, 1, 23, 59, 59)
    assert local_date(at("2024-03-01T16:00:00Z")) == date(2024, 3, 2)
    assert local_date(at("2024-03-01T00:30:00Z")) == date(2024, 3, 1)
    assert local_date(at("2024-02-29T16:00:00Z")) == date(2024, 3, 1)  # leap year
    assert local_date(at("2024-12-31T16:00:00Z")) == date(2025, 1, 1)


def test_local_date_refuses_naive() -> None:
    with pytest.raises(InvalidInput):
        local_date(datetime(2024, 3, 1))


def test_start_and_end_of_local_day() -> None:
    assert start_of_local_day(date(2024, 3, 2)) == at("2024-03-01T16:00:00Z")
    assert end_of_local_day(date(2024, 3, 1)) == at("2024-03-01T16:00:00Z")
    assert start_of_local_day(date(2024, 3, 2)).tzinfo is UTC


@given(DAYS)
def test_local_day_bounds(day: date) -> None:
    start, end = start_of_local_day(day), end_of_local_day(day)
    assert end - start == timedelta(days=1)
    assert local_date(start) == day
    assert local_date(end - timedelta(microseconds=1)) == day
    assert local_date(end) == day + timedelta(days=1)


@given(INSTANTS)
def test_every_instant_falls_inside_its_local_day(instant: datetime) -> None:
    day = local_date(instant)
    assert start_of_local_day(day) <= instant < end_of_local_day(day)


# --------------------------------------------------------------------------- windows
def test_seven_day_return_window_from_the_day_after_signing() -> None:
    signed = at("2024-03-01T14:00:00+08:00")
    end = window_end_after_day(signed, 7)
    assert end == shanghai(2024, 3, 9, 0, 0)
    assert end.tzinfo is UTC
    last_moment = shanghai(2024, 3, 8, 23, 59, 59)
    assert last_moment < end
    assert last_moment + timedelta(seconds=1) == end


@pytest.mark.parametrize(
    ("signed", "days", "end"),
    [
        ("2024-03-01T00:00:00+08:00", 7, "2024-03-09"),  # signing at local midnight
        ("2024-03-01T23:59:59+08:00", 7, "2024-03-09"),
        ("2024-03-01T15:59:59Z", 7, "2024-03-09"),  # 23:59:59 local on 03-01
        ("2024-03-01T16:00:00Z", 7, "2024-03-10"),  # 00:00 local on 03-02
        ("2024-02-25T10:00:00+08:00", 7, "2024-03-04"),  # across the leap day
        ("2024-12-28T10:00:00+08:00", 7, "2025-01-05"),
        ("2024-03-01T14:00:00+08:00", 0, "2024-03-02"),  # only the rest of the day
        ("2024-03-01T14:00:00+08:00", 10, "2024-03-12"),
    ],
)
def test_window_end_after_day(signed: str, days: int, end: str) -> None:
    assert window_end_after_day(at(signed), days) == at(end)


def test_window_end_refuses_negative_days() -> None:
    with pytest.raises(InvalidInput) as info:
        window_end_after_day(at("2024-03-01T14:00:00+08:00"), -1)
    assert info.value.code == "days_negative"


@given(INSTANTS, st.integers(min_value=0, max_value=400))
def test_window_end_is_a_shanghai_midnight_days_plus_one_later(
    instant: datetime, days: int
) -> None:
    end = window_end_after_day(instant, days)
    local_end = end.astimezone(SHANGHAI)
    assert (local_end.hour, local_end.minute, local_end.second) == (0, 0, 0)
    assert local_date(end) == local_date(instant) + timedelta(days=days + 1)
    assert local_date(end - timedelta(seconds=1)) == local_date(instant) + timedelta(days=days)
    assert end > instant


# --------------------------------------------------------------------------- next month
@pytest.mark.parametrize(
    ("confirmed", "repaid"),
    [
        ("2024-03-31T23:30:00+08:00", date(2024, 4, 8)),
        ("2024-12-15T12:00:00+08:00", date(2025, 1, 8)),
        ("2024-03-31T16:30:00Z", date(2024, 5, 8)),  # = 2024-04-01 00:30 Shanghai
        ("2024-03-31T15:59:59Z", date(2024, 4, 8)),  # = 2024-03-31 23:59:59 Shanghai
        ("2024-01-31T10:00:00+08:00", date(2024, 2, 8)),
        ("2024-12-31T16:00:00Z", date(2025, 2, 8)),  # = 2025-01-01 00:00 Shanghai
        ("2024-03-01T00:00:00+08:00", date(2024, 4, 8)),
    ],
)
def test_repayment_on_the_8th_of_next_month(confirmed: str, repaid: date) -> None:
    assert nth_day_of_next_month(at(confirmed), 8) == repaid


@pytest.mark.parametrize("day", [1, 28])
def test_nth_day_accepts_days_existing_in_every_month(day: int) -> None:
    assert nth_day_of_next_month(at("2024-01-31T12:00:00+08:00"), day) == date(2024, 2, day)


@pytest.mark.parametrize("day", [0, 29, 31, -1])
def test_nth_day_refuses_days_missing_from_some_months(day: int) -> None:
    with pytest.raises(InvalidInput) as info:
        nth_day_of_next_month(at("2024-03-01T12:00:00+08:00"), day)
    assert info.value.code == "day_of_month_out_of_range"
    assert info.value.field == "day_of_month"


@given(INSTANTS, st.integers(min_value=1, max_value=28))
def test_nth_day_is_in_the_month_after_the_local_month(instant: datetime, day: int) -> None:
    local = local_date(instant)
    result = nth_day_of_next_month(instant, day)
    assert result.day == day
    assert (result.year * 12 + result.month) - (local.year * 12 + local.month) == 1
    assert result > local


# --------------------------------------------------------------------------- business days
def test_national_day_is_a_holiday() -> None:
    answer = business_day(date(2024, 10, 1))
    assert answer.is_business_day is False
    assert answer.calendar == HOLIDAY_CALENDAR
    assert answer.fell_back is False
    assert answer.day == date(2024, 10, 1)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2024, 9, 29), True),  # Sunday, make-up workday for National Day
        (date(2024, 10, 12), True),  # Saturday, make-up workday
        (date(2024, 10, 7), False),  # last day of the holiday (a Monday)
        (date(2024, 10, 8), True),
        (date(2024, 9, 30), True),
        (date(2024, 9, 28), False),  # an ordinary Saturday
        (date(2024, 3, 1), True),  # an ordinary Friday
        (date(2024, 2, 10), False),  # Spring Festival
        (date(2024, 2, 4), True),  # Sunday make-up workday for Spring Festival
    ],
)
def test_chinese_working_days(day: date, working: bool) -> None:
    answer = business_day(day)
    assert answer.is_business_day is working
    assert answer.calendar == HOLIDAY_CALENDAR
    assert not answer.fell_back


def test_make_up_sunday_is_a_weekend_day_yet_a_business_day() -> None:
    assert date(2024, 9, 29).weekday() == 6
    assert business_day(date(2024, 9, 29)).is_business_day


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2027, 1, 1), True),  # a Friday; New Year is unknown beyond the data
        (date(2027, 1, 2), False),  # Saturday
        (date(2027, 1, 3), False),  # Sunday
        (date(2027, 10, 1), True),  # National Day 2027 is a Friday: weekends only
        (date(2003, 1, 6), True),  # before the data too
        (date(2003, 1, 5), False),
    ],
)
def test_years_beyond_the_calendar_fall_back_to_weekends(day: date, working: bool) -> None:
    answer = business_day(day)
    assert answer.is_business_day is working
    assert answer.calendar == WEEKEND_FALLBACK
    assert answer.fell_back is True


@given(st.dates(min_value=date(2027, 1, 1), max_value=date(2100, 12, 31)))
def test_fallback_never_raises_and_follows_weekdays(day: date) -> None:
    answer = business_day(day)
    assert answer.fell_back
    assert answer.is_business_day == (day.weekday() < 5)


@pytest.mark.parametrize(
    ("start", "count", "result"),
    [
        (date(2024, 9, 27), 1, date(2024, 9, 29)),  # Friday -> make-up Sunday
        (date(2024, 9, 27), 2, date(2024, 9, 30)),
        (date(2024, 9, 27), 3, date(2024, 10, 8)),  # skips the whole holiday
        (date(2024, 9, 30), 1, date(2024, 10, 8)),
        (date(2024, 10, 1), 1, date(2024, 10, 8)),  # from inside the holiday
        (date(2024, 10, 8), 4, date(2024, 10, 12)),  # make-up Saturday counts
        (date(2024, 10, 11), 2, date(2024, 10, 14)),
        (date(2024, 9, 30), 0, date(2024, 9, 30)),  # zero steps: the start itself
        (date(2024, 10, 1), 0, date(2024, 10, 1)),
    ],
)
def test_add_business_days_across_national_day(start: date, count: int, result: date) -> None:
    assert add_business_days(start, count) == (result, False)


def test_add_business_days_reports_a_fallback_into_unknown_years() -> None:
    day, fell_back = add_business_days(date(2026, 12, 31), 1)
    assert fell_back is True
    assert day == date(2027, 1, 1)
    assert add_business_days(date(2027, 1, 1), 1) == (date(2027, 1, 4), True)


def test_add_business_days_refuses_negative_counts() -> None:
    with pytest.raises(InvalidInput) as info:
        add_business_days(date(2024, 10, 1), -1)
    assert info.value.code == "days_negative"


@given(CALENDAR_DAYS, st.integers(min_value=1, max_value=40))
def test_add_business_days_lands_on_a_business_day_after_start(start: date, count: int) -> None:
    result, fell_back = add_business_days(start, count)
    assert result > start
    assert business_day(result).is_business_day
    stepped = [start + timedelta(days=offset) for offset in range(1, (result - start).days + 1)]
    assert sum(business_day(day).is_business_day for day in stepped) == count
    assert fell_back == any(business_day(day).fell_back for day in stepped)


@given(CALENDAR_DAYS, st.integers(min_value=0, max_value=20), st.integers(0, 20))
def test_add_business_days_composes(start: date, first: int, second: int) -> None:
    middle, _ = add_business_days(start, first)
    assert add_business_days(middle, second)[0] == add_business_days(start, first + second)[0]


def test_next_local_slot_runs_on_shanghai_midnights() -> None:
    day = timedelta(days=1)
    midnight = parse_instant("2024-10-21T00:00:00+08:00")
    assert next_local_slot(parse_instant("2024-10-20T10:00:00+08:00"), day) == midnight
    assert next_local_slot(midnight - timedelta(microseconds=1), day) == midnight
    assert next_local_slot(midnight, day) == midnight + day  # strictly after
    # An interval that does not divide the day restarts at each midnight.
    seven = timedelta(hours=7)
    late = parse_instant("2024-10-20T22:00:00+08:00")
    assert next_local_slot(late, seven) == midnight
    assert next_local_slot(midnight, seven) == midnight + seven


def test_next_local_slot_refuses_a_non_positive_interval() -> None:
    with pytest.raises(InvalidInput) as caught:
        next_local_slot(parse_instant("2024-10-20T10:00:00+08:00"), timedelta(0))
    assert caught.value.code == "interval_invalid"
