"""Two changes of one product at once on PostgreSQL: the second waits for the first and
builds on what it committed, tiers included (they are rows of their own, replaced by
every change)."""

from __future__ import annotations

import pytest

from buyerguard.bootstrap import Runtime
from buyerguard.demo import ensure_demo_catalog
from buyerguard.domain.catalog import Tier, TierKind
from buyerguard.services import catalog
from buyerguard.services.context import OPERATOR, Actor, Role
from tests.races import second_waits_for_first

MARKETPLACE = Actor(Role.MARKETPLACE)
NEW_TITLE = "Ceramic cups, 12-pack, new box"
NEW_TIERS = (Tier(TierKind.SPOT, 3900, 2, seven_day_returns=True),)


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_a_change_that_waited_for_another_keeps_the_others_tiers(rt: Runtime) -> None:
    with rt.writing(OPERATOR) as ctx:
        ensure_demo_catalog(ctx)
    outcomes = second_waits_for_first(
        rt,
        MARKETPLACE,
        lambda ctx: catalog.update_product(ctx, "P-cups", {"tiers": NEW_TIERS}),
        lambda ctx: catalog.update_product(
            ctx, "P-cups", {"title": "Ceramic cups, 12-pack, new box"}
        ),
    )
    assert not [outcome for outcome in outcomes if isinstance(outcome, BaseException)], outcomes
    with rt.reading(OPERATOR) as ctx:
        product = catalog.get_product(ctx, "P-cups")
        changes = catalog.product_changes(ctx, "P-cups", None, 10)
    assert product.title == NEW_TITLE
    assert product.tiers == NEW_TIERS
    assert [change["version"] for change in changes] == [1, 2, 3]
