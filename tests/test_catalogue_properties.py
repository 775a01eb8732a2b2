"""Properties of catalogue v2 on SQLite and PostgreSQL, through the service layer (Hypothesis):
the price an order line takes, and a snapshot no sequence of later edits can change."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from buyerguard.bootstrap import Runtime
from buyerguard.clock import SimulatedClock
from buyerguard.demo import ensure_demo_catalog
from buyerguard.domain.catalog import Product, Tier, TierKind
from buyerguard.domain.parties import MerchantService
from buyerguard.errors import NotFound
from buyerguard.money import MAX_FEN
from buyerguard.services import catalog, orders
from buyerguard.services.context import OPERATOR, Actor, Role
from buyerguard.store import catalogue, repositories
from buyerguard.store.catalogue import MERCHANT, PRODUCT

MARKETPLACE = Actor(Role.MARKETPLACE)
ON_DB = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
TIERS = (
    Tier(TierKind.SPOT, 800, 1, True),
    Tier(TierKind.CUSTOM, 1150, 10),
    Tier(TierKind.MADE_TO_ORDER, 720, 50),
)
MUGS = Product("P-mugs", "M-yiwu", "mugs", TIERS, 350, "330782", shipping_commitment_hours=48)
serial = itertools.count()


def set_up(rt: Runtime) -> None:
    with rt.writing(OPERATOR) as ctx:
        try:
            repositories.get_product(ctx.connection, MUGS.id)
        except NotFound:
            ensure_demo_catalog(ctx)
            catalog.create_product(ctx, MUGS)


@ON_DB
@given(
    kind=st.sampled_from([None, *TierKind]),
    explicit=st.none() | st.integers(1, 10**9),
    extra=st.integers(0, 5),
)
def test_a_line_takes_the_marketplaces_price_else_its_tiers(
    rt: Runtime, kind: TierKind | None, explicit: int | None, extra: int
) -> None:
    set_up(rt)
    tier = MUGS.tier(kind) if kind is not None else MUGS.default_tier
    assert tier is not None
    quantity = tier.moq + extra
    order_id = f"O-{next(serial)}"
    line = orders.OrderLine(MUGS.id, quantity, explicit, kind.value if kind else None)
    with rt.writing(MARKETPLACE) as ctx:
        placed = orders.place_order(ctx, orders.PlaceOrder("B-shop", (line,), order_id=order_id))
    sub = placed.sub_orders[0]
    expected = tier.price_fen if explicit is None else explicit
    assert (sub.tier, sub.unit_price_fen, sub.goods_fen) == (
        tier.kind.value,
        expected,
        expected * quantity,
    )
    assert sub.goods_fen <= MAX_FEN


edits = st.one_of(
    st.builds(
        lambda price, hours, optional: (
            PRODUCT,
            {
                "tiers": (Tier(TierKind.SPOT, price, 1, not optional), *TIERS[1:]),
                "shipping_commitment_hours": hours,
                "return_class": "fresh_perishable" if optional else "mandatory",
            },
        ),
        st.integers(1, 10**6),
        st.sampled_from([None, 24, 48, 72]),
        st.booleans(),
    ),
    st.builds(
        lambda services: (MERCHANT, {"services": frozenset(services)}),
        st.sets(st.sampled_from(list(MerchantService))),
    ),
)


@ON_DB
@given(sequence=st.lists(st.tuples(edits, st.booleans()), min_size=1, max_size=6))
def test_no_sequence_of_later_edits_changes_a_paid_snapshot(
    rt: Runtime, clock: SimulatedClock, sequence: list[tuple[tuple[str, dict[str, Any]], bool]]
) -> None:
    set_up(rt)
    order_id = f"O-{next(serial)}"
    line = orders.OrderLine(MUGS.id, 2)
    with rt.writing(MARKETPLACE) as ctx:
        placed = orders.place_order(ctx, orders.PlaceOrder("B-shop", (line,), order_id=order_id))
        paid = orders.pay_order(ctx, order_id, placed.total_fen)
    snapshot = paid.sub_orders[0].terms_at_payment
    assert snapshot is not None and snapshot["source"] == "payment"
    paid_at = paid.paid_at
    assert paid_at is not None
    for (entity, patch), backdated in sequence:
        clock.advance(timedelta(minutes=1))
        entity_id = MUGS.id if entity == PRODUCT else "M-yiwu"
        with rt.writing(MARKETPLACE) as ctx:
            # backdated: to the payment's own instant, or the latest change if that is later
            latest = catalogue.latest_change_at(ctx.connection, entity, entity_id) or paid_at
            when = max(paid_at, latest) if backdated else ctx.now()
            if entity == PRODUCT:
                catalog.update_product(ctx, MUGS.id, dict(patch), when)
            else:
                catalog.update_merchant(ctx, entity_id, dict(patch), when)
        with rt.reading(MARKETPLACE) as ctx:
            kept = repositories.get_order(ctx.connection, order_id).sub_orders[0]
        assert kept.terms_at_payment == snapshot


@ON_DB
@given(
    changes=st.lists(st.tuples(st.integers(1, 10**6), st.booleans()), min_size=1, max_size=5),
    placed_minutes=st.integers(0, 600),
)
def test_a_backdated_order_takes_the_price_in_force_at_its_own_occurred_at(
    rt: Runtime, clock: SimulatedClock, changes: list[tuple[int, bool]], placed_minutes: int
) -> None:
    """An order reported late took the catalogue as it is now: placed dated 11:00 while
    the price was 8.00, after a change to 9.00 dated 12:00 arrived, its line was 9.00 a
    piece (and the entrusted flag, which waives the fee, today's), though its payment, dated
    11:30, recorded the 8.00 tier it was sold under. A line now takes the version of the
    product in force at the order's `occurred_at`, as a payment reads it."""
    set_up(rt)
    product_id = f"P-dated-{next(serial)}"
    listed_at = clock.now() - timedelta(hours=10)
    versions = [(listed_at, 800, False)]
    with rt.writing(MARKETPLACE) as ctx:
        spot = Tier(TierKind.SPOT, 800, 1, True)
        catalog.create_product(ctx, replace(MUGS, id=product_id, tiers=(spot,)), listed_at)
    for hour, (price_fen, entrusted) in enumerate(changes, start=1):
        when = listed_at + timedelta(hours=hour)
        with rt.writing(MARKETPLACE) as ctx:
            patch = {"tiers": (Tier(TierKind.SPOT, price_fen, 1, True),), "entrusted": entrusted}
            catalog.update_product(ctx, product_id, patch, when)
        versions.append((when, price_fen, entrusted))
    placed_at = listed_at + timedelta(minutes=placed_minutes)
    _, price_fen, entrusted = [v for v in versions if v[0] <= placed_at][-1]
    order_id = f"O-{next(serial)}"
    line = orders.OrderLine(product_id, 3)
    command = orders.PlaceOrder("B-shop", (line,), order_id=order_id, occurred_at=placed_at)
    with rt.writing(MARKETPLACE) as ctx:
        placed = orders.place_order(ctx, command)
        paid = orders.pay_order(ctx, order_id, placed.total_fen, occurred_at=placed_at)
    sub = paid.sub_orders[0]
    assert (sub.unit_price_fen, sub.goods_fen, sub.entrusted) == (
        price_fen,
        price_fen * 3,
        entrusted,
    )
    assert sub.terms_at_payment is not None
    assert sub.terms_at_payment["tier"]["price_fen"] == sub.unit_price_fen  # type: ignore[index]
