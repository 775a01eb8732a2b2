"""Two changes of one product at once on PostgreSQL: the second waits for the first and
builds on what it committed, tiers included (they are rows of their own, replaced by
every change)."""

from __future__ import annotations

import threading
import time

import pytest

from buyerguard.bootstrap import Runtime
from buyerguard.demo import ensure_demo_catalog
from buyerguard.domain.catalog import Tier, TierKind
from buyerguard.services import catalog
from buyerguard.services.context import OPERATOR, Actor, Role

MARKETPLACE = Actor(Role.MARKETPLACE)
NEW_TIERS = (Tier(TierKind.SPOT, 3900, 2, seven_day_returns=True),)


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_a_change_that_waited_for_another_keeps_the_others_tiers(rt: Runtime) -> None:
    with rt.writing(OPERATOR) as ctx:
        ensure_demo_catalog(ctx)
    first_changed = threading.Event()
    let_first_commit = threading.Event()
    failures: list[BaseException] = []

    def first() -> None:
        try:
            with rt.writing(MARKETPLACE) as ctx:
                catalog.update_product(ctx, "P-cups", {"tiers": NEW_TIERS})
                first_changed.set()
                assert let_first_commit.wait(10)
        except BaseException as exc:  # reported by the test thread
            failures.append(exc)
            first_changed.set()

    def second() -> None:
        try:
            with rt.writing(MARKETPLACE) as ctx:
                catalog.update_product(ctx, "P-cups", {"title": "Ceramic cups, 12-pack, new box"})
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert first_changed.wait(10)
    threads[1].start()
    time.sleep(0.5)  # the second is now waiting for the product's row
    let_first_commit.set()
    for thread in threads:
        thread.join(20)
    assert not failures, failures
    with rt.reading(OPERATOR) as ctx:
        product = catalog.get_product(ctx, "P-cups")
        changes = catalog.product_changes(ctx, "P-cups", None, 10)
    assert product.title == "Ceramic cups, 12-pack, new box"
    assert product.tiers == NEW_TIERS
    assert [change["version"] for change in changes] == [1, 2, 3]
