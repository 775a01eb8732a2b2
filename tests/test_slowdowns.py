"""Logistics slowdowns: days every carrier slows, stepped over by promises and left out of
what the model learns (services/slowdowns.py, POST/GET /v1/logistics/slowdowns)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import chinese_calendar
import pytest
from sqlalchemy import func, select

from buyerguard.analytics.promise_params import PromiseParams
from buyerguard.analytics.route_bind_values import promise_table_params
from buyerguard.bootstrap import Runtime
from buyerguard.clock import HOLIDAY_CALENDAR, add_days_past_holidays, transit_paused
from buyerguard.errors import Conflict
from buyerguard.rulebook import rulebooks
from buyerguard.services import promises, slowdowns
from buyerguard.services.context import OPERATOR
from buyerguard.store.tables import audit_log, logistics_slowdowns
from tests.conftest import Api, at
from tests.races import second_waits_for_first
from tests.test_disruptions import built, lookup
from tests.test_logistics import next_day_history, parcel, write_csv

SLOWDOWNS = "/v1/logistics/slowdowns"


def slowdown(**changes: Any) -> dict[str, Any]:
    body = {
        "name": "typhoon week",
        "first_day": "2024-10-21",
        "last_day": "2024-10-22",
        "reason": "every carrier's hubs in the south closed",
    }
    return body | changes


def stored(rt: Runtime) -> int:
    with rt.engine.connect() as connection:
        return int(
            connection.execute(select(func.count()).select_from(logistics_slowdowns)).scalar_one()
        )


def test_the_spring_festival_is_seeded_from_the_rulebook_and_the_calendar() -> None:
    # 2026: the holiday is 02-15 .. 02-23; the rulebook widens it by 7 days each side.
    [(slowdown_id, seeded)] = slowdowns.annual_slowdowns(2026, rulebooks().at)
    assert slowdown_id == "slow-spring-festival-2026"
    assert (seeded.first_day, seeded.last_day) == (date(2026, 2, 8), date(2026, 3, 2))
    assert seeded.name == "Spring Festival 2026"
    # Past the calendar package's last year the lunar date is not guessed: nothing seeded.
    beyond = max(max(chinese_calendar.holidays).year + 1, 2099)
    assert slowdowns.annual_slowdowns(beyond, rulebooks().at) == []


def test_a_build_seeds_each_year_once_and_a_withdrawn_seed_stays_withdrawn(
    api: Api, rt: Runtime
) -> None:
    with rt.writing(OPERATOR) as ctx:
        first = promises.seed_slowdowns(ctx, at("2026-01-10T00:00:00+08:00"))
    assert first == [f"slow-spring-festival-{year}" for year in (2025, 2026)]  # 2027: unknown
    with rt.writing(OPERATOR) as ctx:
        assert promises.seed_slowdowns(ctx, at("2026-01-11T00:00:00+08:00")) == []
    withdrawn = api.post("operator", f"{SLOWDOWNS}/slow-spring-festival-2026/withdraw")
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["source"] == "rulebook"
    with rt.writing(OPERATOR) as ctx:
        assert promises.seed_slowdowns(ctx, at("2026-01-12T00:00:00+08:00")) == []
    listed = api.get("marketplace", SLOWDOWNS).json()["items"]
    assert [(item["id"], item["withdrawn_at"] is not None) for item in listed] == [
        ("slow-spring-festival-2025", False),
        ("slow-spring-festival-2026", True),
    ]
    assert stored(rt) == 2


def test_a_declared_slowdown_moves_the_next_lookup_and_withdrawing_it_restores_it(
    api: Api, rt: Runtime, tmp_path: Path
) -> None:
    built(api, rt, tmp_path)
    assert (lookup(api)["promised_date"], lookup(api)["label"]) == ("2024-10-21", "tomorrow")
    declared = api.post("operator", SLOWDOWNS, slowdown())
    assert declared.status_code == 201, declared.text
    shown = declared.json()
    assert (shown["first_day"], shown["last_day"], shown["source"]) == (
        "2024-10-21",
        "2024-10-22",
        "operator",
    )
    # Paid 10-20, one normal day to go: 10-21 and 10-22 do not count, so 10-23, no label.
    moved = lookup(api)
    assert (moved["promised_date"], moved["label"], moved["slowdown_days"]) == (
        "2024-10-23",
        None,
        2,
    )
    assert moved["slowdowns"] == ["typhoon week"] and moved["holiday_days"] == 0
    # Paid on a slowdown day: the first normal day after it is day 0.
    typhoon = frozenset({date(2024, 10, 21), date(2024, 10, 22)})
    assert add_days_past_holidays(date(2024, 10, 21), 1, typhoon) == (
        date(2024, 10, 24),
        0,
        2,
        HOLIDAY_CALENDAR,
    )
    assert api.post("operator", f"{SLOWDOWNS}/{shown['id']}/withdraw").status_code == 200
    restored = lookup(api)
    assert (restored["promised_date"], restored["label"], restored["slowdowns"]) == (
        "2024-10-21",
        "tomorrow",
        [],
    )
    again = api.post("operator", f"{SLOWDOWNS}/{shown['id']}/withdraw")
    assert (again.status_code, again.json()["code"]) == (409, "slowdown_already_withdrawn")
    missing = api.post("operator", f"{SLOWDOWNS}/slow-none/withdraw")
    assert (missing.status_code, missing.json()["code"]) == (404, "slowdown_not_found")
    with rt.engine.connect() as connection:
        commands = connection.execute(
            select(audit_log.c.command).where(audit_log.c.command.like("%slowdown"))
        ).scalars()
        assert sorted(commands) == ["declare_slowdown", "withdraw_slowdown"]


def test_the_same_slowdown_twice_is_refused_while_the_first_stands(
    api: Api, rt: Runtime, tmp_path: Path
) -> None:
    """Declared twice (another key), it was stored twice and the lookup named it twice."""
    built(api, rt, tmp_path)
    october = slowdown(name="Oct24", first_day="2024-10-20", last_day="2024-10-21", reason="r")
    first = api.post("operator", SLOWDOWNS, october, key="first")
    assert first.status_code == 201, first.text
    twice = api.post("operator", SLOWDOWNS, october | {"reason": "again"}, key="second")
    assert twice.status_code == 409, twice.text
    assert (twice.json()["code"], twice.json()["field"]) == ("slowdown_already_declared", "name")
    assert first.json()["id"] in twice.json()["message"]
    assert stored(rt) == 1
    assert lookup(api)["slowdowns"] == ["Oct24"]
    # Other days, or another name, are another slowdown.
    longer = api.post("operator", SLOWDOWNS, october | {"last_day": "2024-10-22"}, key="longer")
    assert longer.status_code == 201, longer.text
    renamed = api.post("operator", SLOWDOWNS, october | {"name": "Oct24 south"}, key="renamed")
    assert renamed.status_code == 201, renamed.text
    # Withdrawn, it may be declared again.
    assert api.post("operator", f"{SLOWDOWNS}/{first.json()['id']}/withdraw").status_code == 200
    again = api.post("operator", SLOWDOWNS, october, key="third")
    assert again.status_code == 201, again.text
    assert stored(rt) == 4


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_the_same_slowdown_declared_twice_at_once_is_stored_once(rt: Runtime) -> None:
    """Two operators (or a retry under another key) declaring one slowdown at the same
    moment: on PostgreSQL each looked for a standing one before either had committed, so
    both were stored and every promise over it named it twice (SQLite's writer lock
    serialised them). Now the second waits for the first and is refused, 409."""
    command = slowdowns.NewSlowdown("Double 11 peak", date(2024, 11, 11), date(2024, 11, 14), "r")
    first, refused = second_waits_for_first(
        rt,
        OPERATOR,
        lambda ctx: slowdowns.declare(ctx, command)["id"],
        lambda ctx: slowdowns.declare(ctx, command)["id"],
    )
    assert isinstance(first, str), (first, refused)
    assert isinstance(refused, Conflict) and refused.code == "slowdown_already_declared", refused
    assert stored(rt) == 1


def test_the_build_learns_around_a_slowdown(api: Api, rt: Runtime, tmp_path: Path) -> None:
    """Ten parcels paid 10-14 sat through a three-day slowdown (10-15 .. 10-17) and signed
    10-18. Counted as ordinary days they make the route a 4-day one; declared, the build
    watches them only until the slowdown began, and the route stays next-day."""
    slow = [parcel(f"S{i}", at("2024-10-14T11:00:00+08:00"), timedelta(days=4)) for i in range(10)]
    rt.history.import_file(
        write_csv(tmp_path / "h.csv", next_day_history() + slow), now=rt.clock.now()
    )
    as_of = at("2024-10-20T00:00:00+08:00")
    with rt.reading(OPERATOR) as ctx:
        promises.build(ctx, as_of)
    assert lookup(api)["promised_date"] == "2024-10-24"
    declared = api.post(
        "operator", SLOWDOWNS, slowdown(first_day="2024-10-15", last_day="2024-10-17")
    )
    assert declared.status_code == 201, declared.text
    with rt.reading(OPERATOR) as ctx:
        promises.build(ctx, as_of)
    learned = lookup(api)
    assert (learned["promised_date"], learned["label"], learned["slowdown_days"]) == (
        "2024-10-21",
        "tomorrow",
        0,
    )
    # The parcels paid inside the slowdown are left out of the sample too.
    assert learned["sample_size"] == 25 - 6 + 10  # 6 of the 25 were paid 10-15 .. 10-17


def test_bad_slowdowns_are_refused_and_write_nothing(api: Api, rt: Runtime) -> None:
    cases = [
        (slowdown(last_day="2024-10-20"), "last_day_before_first_day", "last_day"),
        (slowdown(last_day="2024-12-20"), "out_of_range", "last_day"),
        (slowdown(first_day="2024-02-30"), "date_malformed", "first_day"),
        (slowdown(first_day="2024-1-01"), None, None),
        (slowdown(first_day="2024-10-21T00:00:00+08:00"), None, None),
        (slowdown(name=""), None, None),
        (slowdown(name="   "), "name_missing", "name"),
        (slowdown(reason=" \t "), "reason_missing", "reason"),
        (slowdown(colour="red"), None, None),
        ({key: value for key, value in slowdown().items() if key != "reason"}, None, None),
    ]
    for number, (body, code, field) in enumerate(cases):
        answer = api.post("operator", SLOWDOWNS, body, key=f"refused-{number}")
        assert answer.status_code == 422, (body, answer.text)
        if code is not None:
            assert (answer.json()["code"], answer.json()["field"]) == (code, field), body
    assert api.post("marketplace", SLOWDOWNS, slowdown()).status_code == 403
    assert api.post("merchant", f"{SLOWDOWNS}/slow-x/withdraw").status_code == 403
    assert api.get("buyer", SLOWDOWNS).status_code == 403
    assert stored(rt) == 0


def test_the_window_holds_thirty_normal_days_whatever_the_pauses() -> None:
    """After the 2026 Spring Festival slowdown (02-08 .. 03-02, 23 days) a build as of 03-03
    looks back to 01-09 for its 30 normal days, so it sees whole weeks, every weekday."""
    params = PromiseParams.from_rulebook(rulebooks().at(at("2026-03-03T00:00:00+08:00")))
    [(_, seeded)] = slowdowns.annual_slowdowns(2026, rulebooks().at)
    days = slowdowns.slowdown_days(
        [slowdowns.Slowdown("s", seeded.name, seeded.first_day, seeded.last_day, False)]
    )
    bound = promise_table_params(
        at("2026-03-03T00:00:00+08:00"), params, paused=lambda day: transit_paused(day, days)
    )
    first_day = date(1970, 1, 1) + timedelta(days=bound["entry_day"])
    assert first_day == date(2026, 1, 9)
    # The scan's paused pay days: New Year's Day 2026 (01-01 .. 01-03) and the slowdown.
    assert len(bound["paused_days"]) == 3 + 23
    assert date(2025, 12, 31) not in bound["paused_days"]
