"""Heavy timer jobs (the promise rebuild) hold no write transaction.

The claim is a short transaction of its own (`running`, under a lease); the
job runs with nothing open — another writer can take the timer's own row
meanwhile — and a last short transaction marks it fired. A scheduler that
dies mid-job leaves the lease to run out; a job that fails waits its back-off.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text, update

from buyerguard.bootstrap import Runtime
from buyerguard.clock import SimulatedClock
from buyerguard.scheduler import JOB_LEASE, Scheduler, retry_delay
from buyerguard.services import promises
from buyerguard.services.timers import DueTimer
from buyerguard.store.db import make_engine, read_transaction
from buyerguard.store.tables import timers
from buyerguard.timer_kinds import TIMER_KINDS
from tests.conftest import Api, at
from tests.test_logistics import next_day_history, write_csv

MIDNIGHT = "2024-10-21T00:00:30+08:00"


def impatient(engine: Engine) -> Engine:
    """Another client of the same database that gives up on a held lock within 200 ms."""
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "sqlite":
        return make_engine(url, sqlite_busy_timeout_ms=200)
    return make_engine(url, connect_args={"options": "-c lock_timeout=200"})


def rebuild_timer_state(engine: Engine) -> tuple[str, int]:
    with read_transaction(engine) as connection:
        row = connection.execute(
            select(timers.c.status, timers.c.attempts).where(
                timers.c.kind == promises.PROMISES_REBUILD, timers.c.due_at <= at(MIDNIGHT)
            )
        ).one()
        return str(row.status), int(row.attempts)


def test_the_rebuild_runs_with_no_write_transaction_open(
    api: Api, rt: Runtime, clock: SimulatedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt.history.import_file(write_csv(tmp_path / "h.csv", next_day_history()), now=clock.now())
    real = TIMER_KINDS[promises.PROMISES_REBUILD]
    assert real.job is not None
    real_job = real.job
    seen_while_running: list[str] = []
    other = impatient(rt.engine)

    def observed_job(runtime: Runtime, timer: DueTimer) -> str:
        # The timer's own row, written by someone else while the job runs: this waits
        # (and fails after 200 ms) if any transaction of the job's still holds it.
        with other.begin() as connection:
            status = connection.execute(
                select(timers.c.status).where(timers.c.id == timer.id)
            ).scalar_one()
            connection.execute(
                update(timers).where(timers.c.id == timer.id).values(last_error=None)
            )
        seen_while_running.append(status)
        return real_job(runtime, timer)

    monkeypatch.setitem(TIMER_KINDS, promises.PROMISES_REBUILD, replace(real, job=observed_job))
    scheduler = Scheduler(rt.engine, clock, rt.rulebooks, history=rt.history, recurring=True)
    scheduler.tick()
    clock.set(at(MIDNIGHT))
    rebuilt = [item for item in scheduler.tick() if item.kind == promises.PROMISES_REBUILD]
    other.dispose()
    assert seen_while_running == ["running"]
    assert len(rebuilt) == 1 and "as of 2024-10-20T16:00:00Z" in rebuilt[0].outcome
    assert rebuild_timer_state(rt.engine) == ("fired", 0)
    body = api.get("buyer", "/v1/promises?product_id=P-cups&destination=440305").json()
    assert body["promise_table_as_of"] == "2024-10-20T16:00:00Z"
    # The rebuild stored the rulebook's Spring Festival slowdowns first (2023 .. 2025).
    seeded = api.get("operator", "/v1/logistics/slowdowns").json()["items"]
    assert [item["id"] for item in seeded] == [
        f"slow-spring-festival-{year}" for year in (2023, 2024, 2025)
    ]
    assert {item["declared_by"] for item in seeded} == {"system:scheduler"}


def test_a_job_left_running_by_a_dead_scheduler_runs_again_after_its_lease(
    rt: Runtime, clock: SimulatedClock
) -> None:
    scheduler = Scheduler(rt.engine, clock, rt.rulebooks, history=rt.history, recurring=True)
    scheduler.tick()
    clock.set(at(MIDNIGHT))
    with rt.engine.begin() as connection:  # what a scheduler killed mid-job leaves behind
        connection.execute(
            update(timers)
            .where(timers.c.kind == promises.PROMISES_REBUILD)
            .values(status="running", fired_by="dead", available_at=clock.now() + JOB_LEASE)
        )
    assert [i for i in scheduler.tick() if i.kind == promises.PROMISES_REBUILD] == []
    clock.advance(JOB_LEASE)
    rebuilt = [item for item in scheduler.tick() if item.kind == promises.PROMISES_REBUILD]
    assert len(rebuilt) == 1 and not rebuilt[0].failed
    assert rebuild_timer_state(rt.engine) == ("fired", 0)


def test_a_failing_job_waits_its_back_off_then_runs(
    rt: Runtime, clock: SimulatedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = TIMER_KINDS[promises.PROMISES_REBUILD]

    def broken(runtime: Runtime, timer: DueTimer) -> str:
        raise OSError("disk full")

    monkeypatch.setitem(TIMER_KINDS, promises.PROMISES_REBUILD, replace(real, job=broken))
    scheduler = Scheduler(rt.engine, clock, rt.rulebooks, history=rt.history, recurring=True)
    scheduler.tick()
    clock.set(at(MIDNIGHT))
    failed = [item for item in scheduler.tick() if item.kind == promises.PROMISES_REBUILD]
    assert [item.failed for item in failed] == [True] and "disk full" in failed[0].outcome
    assert rebuild_timer_state(rt.engine) == ("pending", 1)
    monkeypatch.setitem(TIMER_KINDS, promises.PROMISES_REBUILD, real)
    clock.advance(retry_delay(1) - timedelta(seconds=1))
    assert [i for i in scheduler.tick() if i.kind == promises.PROMISES_REBUILD] == []
    clock.advance(timedelta(seconds=1))
    rebuilt = [item for item in scheduler.tick() if item.kind == promises.PROMISES_REBUILD]
    assert len(rebuilt) == 1 and not rebuilt[0].failed
    assert rebuild_timer_state(rt.engine) == ("fired", 1)


def test_a_job_that_fails_after_its_lease_ran_out_leaves_the_new_claim_alone(
    rt: Runtime, clock: SimulatedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job ran past its lease, another scheduler claimed the timer again, then the first
    job failed: its failure was counted on the other scheduler's claim — set back to
    pending, so a third run could start beside the second. A job's failure now counts only
    while the timer is still its own lease."""
    real = TIMER_KINDS[promises.PROMISES_REBUILD]

    def overran_then_failed(runtime: Runtime, timer: DueTimer) -> str:
        with runtime.engine.begin() as connection:  # the other scheduler's claim, meanwhile
            connection.execute(
                update(timers)
                .where(timers.c.id == timer.id)
                .values(fired_by="system:other", available_at=clock.now() + 2 * JOB_LEASE)
            )
        raise OSError("disk full")

    monkeypatch.setitem(
        TIMER_KINDS, promises.PROMISES_REBUILD, replace(real, job=overran_then_failed)
    )
    scheduler = Scheduler(rt.engine, clock, rt.rulebooks, history=rt.history, recurring=True)
    scheduler.tick()
    clock.set(at(MIDNIGHT))
    assert [i for i in scheduler.tick() if i.kind == promises.PROMISES_REBUILD] == []
    with read_transaction(rt.engine) as connection:
        row = connection.execute(
            select(timers.c.status, timers.c.attempts, timers.c.fired_by).where(
                timers.c.kind == promises.PROMISES_REBUILD, timers.c.due_at <= at(MIDNIGHT)
            )
        ).one()
    assert (row.status, row.attempts, row.fired_by) == ("running", 0, "system:other")


def test_an_isolated_job_runs_in_a_child_process(
    api: Api, rt: Runtime, clock: SimulatedClock, tmp_path: Path
) -> None:
    """What `scheduler run` does: the rebuild in a process of its own, as of the tick."""
    rt.history.import_file(write_csv(tmp_path / "h.csv", next_day_history()), now=clock.now())
    scheduler = Scheduler(
        rt.engine, clock, rt.rulebooks, history=rt.history, recurring=True, isolate_jobs=True
    )
    scheduler.tick()
    clock.set(at(MIDNIGHT))
    rebuilt = [item for item in scheduler.tick() if item.kind == promises.PROMISES_REBUILD]
    assert len(rebuilt) == 1 and "as of 2024-10-20T16:00:00Z" in rebuilt[0].outcome
    assert rebuild_timer_state(rt.engine) == ("fired", 0)
    with read_transaction(rt.engine) as connection:
        running = connection.execute(text("SELECT count(*) FROM timers WHERE status = 'running'"))
        assert running.scalar_one() == 0
    body = api.get("buyer", "/v1/promises?product_id=P-cups&destination=440305").json()
    assert body["promise_table_as_of"] == "2024-10-20T16:00:00Z"
