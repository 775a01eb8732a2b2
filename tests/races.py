"""Two transactions in a set order on PostgreSQL: the first holds its work open while the
second starts and runs into it, then commits, so a test sees what the second does when it
had to wait (the row, table or key the first holds)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import text

from buyerguard.bootstrap import Runtime
from buyerguard.services.context import Actor, Context

WAIT_SECONDS = 10


def second_waits_for_first(
    rt: Runtime,
    actor: Actor,
    first: Callable[[Context], object],
    second: Callable[[Context], object],
) -> tuple[object, object]:
    """Each one's result, or the exception it raised: `first` runs in a transaction held
    open until `second`, in its own, has had half a second to wait for it."""
    first_done, let_first_commit = threading.Event(), threading.Event()
    outcomes: dict[str, object] = {}

    def run_first() -> None:
        try:
            with rt.writing(actor) as ctx:
                outcomes["first"] = first(ctx)
                first_done.set()
                assert let_first_commit.wait(WAIT_SECONDS)
        except BaseException as exc:  # reported to the test by the outcomes
            outcomes["first"] = exc
            first_done.set()

    def run_second() -> None:
        try:
            with rt.writing(actor) as ctx:
                outcomes["second"] = second(ctx)
        except BaseException as exc:
            outcomes["second"] = exc

    threads = [threading.Thread(target=run_first), threading.Thread(target=run_second)]
    threads[0].start()
    assert first_done.wait(WAIT_SECONDS)
    threads[1].start()
    time.sleep(0.5)  # the second is now waiting for the first, or already done
    let_first_commit.set()
    for thread in threads:
        thread.join(2 * WAIT_SECONDS)
    return outcomes.get("first"), outcomes.get("second")


def waiting_on_locks(rt: Runtime) -> int:
    """PostgreSQL: how many sessions of the test's database wait on a lock now."""
    with rt.engine.connect() as connection:
        return int(
            connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()"
                )
            ).scalar_one()
        )
