"""Public holidays lengthen the promises whose span crosses them (clock.py; services/promises.py
applies it at each lookup)."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from pathlib import Path

import chinese_calendar
import pytest
from typer.testing import CliRunner

from buyerguard.bootstrap import Runtime
from buyerguard.cli import app
from buyerguard.clock import (
    FIXED_DATES_FALLBACK,
    HOLIDAY_CALENDAR,
    SHANGHAI,
    SimulatedClock,
    holiday_calendar_last_day,
)
from buyerguard.clock import add_days_past_holidays as lengthened_for_holidays
from buyerguard.services import promises
from buyerguard.services.promises import calendar_warning
from tests.conftest import Api
from tests.test_cli_json import cli
from tests.test_disruptions import built

__all__ = ["cli"]

PROMISES = "/v1/promises?product_id=P-cups&destination=440305&paid_at="


def test_a_span_over_national_day_is_lengthened_by_its_seven_days() -> None:
    # 2024-09-30 + 1 day would be 10-01; 10-01..10-07 is National Day: 10-08.
    assert lengthened_for_holidays(date(2024, 9, 30), 1) == (
        date(2024, 10, 8),
        7,
        0,
        HOLIDAY_CALENDAR,
    )
    # Paid on a holiday: the paid day does not count either (same day becomes 10-08).
    assert lengthened_for_holidays(date(2024, 10, 3), 0) == (
        date(2024, 10, 8),
        5,
        0,
        HOLIDAY_CALENDAR,
    )
    # A normal span is left alone, weekends included (they are in the history).
    assert lengthened_for_holidays(date(2024, 10, 18), 2) == (
        date(2024, 10, 20),
        0,
        0,
        HOLIDAY_CALENDAR,
    )


def test_the_spring_festival_with_its_weekend_and_make_up_workday() -> None:
    # 2026: 02-14 (Saturday) is a make-up workday, 02-15..02-23 the Spring Festival.
    assert lengthened_for_holidays(date(2026, 2, 13), 2) == (
        date(2026, 2, 24),
        9,
        0,
        HOLIDAY_CALENDAR,
    )
    # Paid the day before, promised within it: only the days it spans are added.
    assert lengthened_for_holidays(date(2026, 2, 13), 1) == (
        date(2026, 2, 14),
        0,
        0,
        HOLIDAY_CALENDAR,
    )


def test_past_the_packages_last_year_only_fixed_date_holidays_are_known() -> None:
    last_year = max(chinese_calendar.holidays).year
    beyond = max(last_year + 1, 2099)
    assert lengthened_for_holidays(date(beyond, 9, 30), 1) == (
        date(beyond, 10, 8),
        7,
        0,
        FIXED_DATES_FALLBACK,
    )
    assert lengthened_for_holidays(date(beyond, 5, 1), 0) == (
        date(beyond, 5, 6),
        5,
        0,
        FIXED_DATES_FALLBACK,
    )
    # The lunar Spring Festival is not guessed: a February span is left as learned, and the
    # answer says which calendar judged it.
    assert lengthened_for_holidays(date(beyond, 2, 1), 3) == (
        date(beyond, 2, 4),
        0,
        0,
        FIXED_DATES_FALLBACK,
    )


def test_a_promise_over_a_holiday_is_later_and_shows_no_label(
    api: Api, rt: Runtime, tmp_path: Path
) -> None:
    built(api, rt, tmp_path)
    normal = api.get("buyer", PROMISES + "2024-10-20T09:00:00%2B08:00").json()
    assert (normal["promised_date"], normal["label"], normal["holiday_days"]) == (
        "2024-10-21",
        "tomorrow",
        0,
    )
    assert normal["holiday_calendar"] == HOLIDAY_CALENDAR
    spanning = api.get("buyer", PROMISES + "2024-09-30T09:00:00%2B08:00").json()
    assert (spanning["promised_date"], spanning["label"], spanning["holiday_days"]) == (
        "2024-10-08",
        None,
        7,
    )
    assert spanning["disruption"] is None


def test_a_build_warns_when_promises_may_reach_past_the_calendars_last_day() -> None:
    """Promises reach max_horizon_days past a payment: from that far before the package's
    last day on, every build says what the operator must do about the next year."""
    last_day = holiday_calendar_last_day()
    assert last_day == date(max(chinese_calendar.holidays).year, 12, 31)
    horizon_days = 60
    in_time = datetime.combine(last_day - timedelta(days=horizon_days), time(23, 59), SHANGHAI)
    assert calendar_warning(in_time, horizon_days) is None
    warned = calendar_warning(in_time + timedelta(minutes=1), horizon_days)
    assert warned is not None
    assert last_day.isoformat() in warned
    assert f"Spring Festival of {last_day.year + 1}" in warned
    assert "POST /v1/logistics/slowdowns" in warned
    assert calendar_warning(datetime(2024, 10, 20, tzinfo=SHANGHAI), horizon_days) is None


def test_eta_build_prints_the_calendar_warning_on_stderr_and_in_json(
    cli: tuple[Runtime, SimulatedClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As of 2024-10-20 the 60-day horizon stays inside a calendar said to end on 2024-11-30
    only past it: a build then warns, in its --json and on stderr."""
    monkeypatch.setattr(promises, "holiday_calendar_last_day", lambda: date(2024, 11, 30))
    runner = CliRunner()
    args = ["eta", "build", "--as-of", "2024-10-20T00:00:00+08:00"]
    text = runner.invoke(app, args)
    assert text.exit_code == 0, text.output
    assert "warning: the holiday calendar ends 2024-11-30" in text.stderr
    answer = runner.invoke(app, [*args, "--json"])
    assert answer.exit_code == 0, answer.output
    assert "Spring Festival of 2025" in json.loads(answer.stdout)["calendar_warning"]
    monkeypatch.setattr(promises, "holiday_calendar_last_day", lambda: date(2024, 12, 31))
    quiet = runner.invoke(app, [*args, "--json"])
    assert json.loads(quiet.stdout)["calendar_warning"] is None
