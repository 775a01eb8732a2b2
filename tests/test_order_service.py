"""The order lifecycle through the service layer, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from buyerguard.bootstrap import Runtime
from buyerguard.clock import SimulatedClock
from buyerguard.demo import PRODUCTS
from buyerguard.domain.orders import OrderState
from buyerguard.domain.parties import Address, Buyer, Merchant, MerchantService, MerchantTier
from buyerguard.errors import BuyerguardError
from buyerguard.ledger.accounts import SPLIT_ACCOUNTS
from buyerguard.ledger.balances import balance, split_account_balances, total_balance
from buyerguard.money import parse_yuan
from buyerguard.services import catalog, instructions, orders
from buyerguard.services.context import OPERATOR, Actor, Role
from buyerguard.services.records import order_decisions
from buyerguard.store.tables import audit_log, ledger_transfers, order_transitions
from tests.conftest import at

MARKETPLACE = Actor(Role.MARKETPLACE)
BUYER = Actor(Role.BUYER, "B-shop")


@pytest.fixture
def demo(rt: Runtime) -> Runtime:
    from buyerguard.demo import ensure_demo_catalog

    with rt.writing(OPERATOR) as ctx:
        ensure_demo_catalog(ctx)
    return rt


def place(rt: Runtime, order_id: str, *lines: tuple[str, int], shipping: str = "20.00") -> None:
    with rt.writing(MARKETPLACE) as ctx:
        orders.place_order(
            ctx,
            orders.PlaceOrder(
                buyer_id="B-shop",
                lines=tuple(orders.OrderLine(product, quantity) for product, quantity in lines),
                shipping_fen=parse_yuan(shipping),
                order_id=order_id,
            ),
        )


def account(rt: Runtime, account_id: str) -> int:
    """An account's credit balance; a split account (`rail:clearing`) summed over its parts."""
    with rt.reading(OPERATOR) as ctx:
        if account_id in SPLIT_ACCOUNTS:
            parts = split_account_balances(ctx.connection, account_id)
            return total_balance(account_id, parts).credit_balance_fen
        return balance(ctx.connection, account_id).credit_balance_fen


def test_paid_order_holds_goods_and_shipping_in_escrow(demo: Runtime) -> None:
    place(demo, "O1", ("P-cups", 10), ("P-towels", 2))
    with demo.writing(MARKETPLACE) as ctx:
        orders.pay_order(ctx, "O1", parse_yuan("5,380.00"))
    with demo.reading(OPERATOR) as ctx:
        escrow = balance(ctx.connection, "merchant:M-yiwu:escrow")
        payable = balance(ctx.connection, "merchant:M-yiwu:payable")
    assert escrow.credit_balance_fen == parse_yuan("5,380.00")
    assert escrow.debits_pending_fen == parse_yuan("5,380.00")
    assert payable.credits_pending_fen == parse_yuan("5,380.00")
    assert payable.credit_balance_fen == 0
    assert account(demo, "rail:clearing") == -parse_yuan("5,380.00")


def test_confirmation_releases_escrow_minus_fee_and_shipping_never_counts(demo: Runtime) -> None:
    place(demo, "O1", ("P-cups", 10), ("P-towels", 2))
    with demo.writing(MARKETPLACE) as ctx:
        orders.pay_order(ctx, "O1", parse_yuan("5,380.00"))
        orders.ship_order(ctx, "O1", "sf", "SF1", True)
        orders.sign_order(ctx, "O1")
    with demo.writing(BUYER) as ctx:
        order = orders.confirm_order(ctx, "O1")
    # 360.00 x 0.6% = 2.16; 5,000.00 x 0.6% = 30.00 capped at 18.00; shipping 20.00 free of fee
    assert [sub.fee_fen for sub in order.sub_orders] == [216, 1800]
    assert account(demo, "merchant:M-yiwu:payable") == parse_yuan("5,380.00") - 216 - 1800
    assert account(demo, "platform:fee_revenue") == 216 + 1800
    assert account(demo, "merchant:M-yiwu:escrow") == 0
    with demo.reading(OPERATOR) as ctx:
        kinds = [row["kind"] for row in order_decisions(ctx.connection, "O1")]
    assert kinds == [
        "escrow_held",
        "escrow_held",
        "fee_charged",
        "escrow_released",
        "fee_charged",
        "escrow_released",
        "shipping_released",
    ]


def test_refund_before_shipment_voids_hold_and_returns_money(demo: Runtime) -> None:
    place(demo, "O1", ("P-cups", 10), ("P-towels", 2))
    with demo.writing(MARKETPLACE) as ctx:
        orders.pay_order(ctx, "O1", parse_yuan("5,380.00"))
        partly = orders.refund_before_shipment(ctx, "O1", ["O1-2"])
    assert partly.state is OrderState.PAID
    assert account(demo, "merchant:M-yiwu:escrow") == parse_yuan("380.00")
    with demo.writing(BUYER) as ctx:
        fully = orders.refund_before_shipment(ctx, "O1")
    assert fully.state is OrderState.REFUNDED
    assert account(demo, "merchant:M-yiwu:escrow") == 0
    assert account(demo, "merchant:M-yiwu:payable") == 0
    with demo.reading(OPERATOR) as ctx:
        pending = balance(ctx.connection, "merchant:M-yiwu:payable").credits_pending_fen
        owed = balance(ctx.connection, "buyer:B-shop:payable")
        refunds = instructions.list_instructions(ctx.connection, now=ctx.now(), kind="refund")
    assert pending == 0
    # The buyer's money came from the rails and is owed back by instruction: one per
    # refunding command (the second refunds the rest of the goods and the shipping).
    assert account(demo, "rail:clearing") == -parse_yuan("5,380.00")
    assert owed.credit_balance_fen == owed.debits_pending_fen == parse_yuan("5,380.00")
    assert [(row["state"], row["amount_fen"]) for row in refunds] in (
        [("instructed", parse_yuan("5,000.00")), ("instructed", parse_yuan("380.00"))],
        [("instructed", parse_yuan("380.00")), ("instructed", parse_yuan("5,000.00"))],
    )


def test_partly_refunded_order_pays_fee_only_on_what_shipped(demo: Runtime) -> None:
    place(demo, "O1", ("P-cups", 10), ("P-towels", 2), shipping="0.00")
    with demo.writing(MARKETPLACE) as ctx:
        orders.pay_order(ctx, "O1", parse_yuan("5,360.00"))
        orders.refund_before_shipment(ctx, "O1", ["O1-2"])
        orders.ship_order(ctx, "O1", "sf", "SF1", False)
        orders.sign_order(ctx, "O1")
        order = orders.confirm_order(ctx, "O1")
    assert [sub.fee_fen for sub in order.sub_orders] == [216, 0]
    assert account(demo, "merchant:M-yiwu:payable") == parse_yuan("360.00") - 216


def test_anxingou_fee_follows_the_rulebook_at_payment(rt: Runtime, clock: SimulatedClock) -> None:
    clock.set(at("2024-09-01T09:00:00+08:00"))
    with rt.writing(OPERATOR) as ctx:
        catalog.create_merchant(
            ctx,
            Merchant(
                "M-anx",
                "Anxingou shop",
                MerchantTier.STANDARD,
                "toys",
                "330782",
                frozenset({MerchantService.ANXINGOU}),
            ),
        )
        catalog.create_buyer(
            ctx, Buyer("B1", "buyer", False, (Address("440000", "440300", "440305"),))
        )
        spot = replace(PRODUCTS[0].tiers[0], price_fen=1_000_000)
        big = replace(PRODUCTS[0], id="P-big", merchant_id="M-anx", tiers=(spot,))
        catalog.create_product(ctx, big)
    with rt.writing(MARKETPLACE) as ctx:
        orders.place_order(
            ctx, orders.PlaceOrder("B1", (orders.OrderLine("P-big", 1),), order_id="OA")
        )
        orders.pay_order(ctx, "OA", parse_yuan("10,000.00"))
        orders.ship_order(ctx, "OA", "yto", "Y1", False)
        orders.sign_order(ctx, "OA")
    clock.set(at("2024-09-20T09:00:00+08:00"))  # confirmed after the switch: payment rules
    with rt.writing(MARKETPLACE) as ctx:
        order = orders.confirm_order(ctx, "OA")
    assert order.sub_orders[0].fee_fen == parse_yuan("60.00")
    assert account(rt, "platform:fee_revenue") == parse_yuan("60.00")


@pytest.mark.parametrize(
    ("steps", "command"),
    [
        ([], "ship"),
        ([], "sign"),
        ([], "confirm"),
        (["pay"], "pay"),
        (["pay"], "cancel"),
        (["pay", "ship"], "refund"),
        (["pay", "ship"], "ship"),
        (["cancel"], "pay"),
    ],
)
def test_illegal_transitions_are_refused_and_change_nothing(
    demo: Runtime, steps: list[str], command: str
) -> None:
    place(demo, "O1", ("P-cups", 1), shipping="0.00")
    actions = {
        "pay": lambda ctx: orders.pay_order(ctx, "O1", parse_yuan("36.00")),
        "ship": lambda ctx: orders.ship_order(ctx, "O1", "sf", "SF1", True),
        "sign": lambda ctx: orders.sign_order(ctx, "O1"),
        "confirm": lambda ctx: orders.confirm_order(ctx, "O1"),
        "cancel": lambda ctx: orders.cancel_order(ctx, "O1"),
        "refund": lambda ctx: orders.refund_before_shipment(ctx, "O1"),
    }
    for step in steps:
        with demo.writing(MARKETPLACE) as ctx:
            actions[step](ctx)
    with demo.reading(OPERATOR) as ctx:
        before = (
            ctx.connection.execute(select(func.count()).select_from(ledger_transfers)).scalar(),
            ctx.connection.execute(select(func.count()).select_from(order_transitions)).scalar(),
            ctx.connection.execute(select(func.count()).select_from(audit_log)).scalar(),
        )
        state = orders.load_visible_order(ctx, "O1").state
    with pytest.raises(BuyerguardError) as refused, demo.writing(MARKETPLACE) as ctx:
        actions[command](ctx)
    assert refused.value.code == "illegal_transition"
    assert state.value in refused.value.message and refused.value.field == "state"
    with demo.reading(OPERATOR) as ctx:
        after = (
            ctx.connection.execute(select(func.count()).select_from(ledger_transfers)).scalar(),
            ctx.connection.execute(select(func.count()).select_from(order_transitions)).scalar(),
            ctx.connection.execute(select(func.count()).select_from(audit_log)).scalar(),
        )
        assert orders.load_visible_order(ctx, "O1").state is state
    assert after == before


def test_wrong_payment_amount_is_refused(demo: Runtime) -> None:
    place(demo, "O1", ("P-cups", 1))
    with pytest.raises(BuyerguardError) as refused, demo.writing(MARKETPLACE) as ctx:
        orders.pay_order(ctx, "O1", parse_yuan("36.00"))
    assert refused.value.code == "amount_mismatch"


def test_facts_from_the_future_or_before_the_previous_fact_are_refused(
    demo: Runtime, clock: SimulatedClock
) -> None:
    place(demo, "O1", ("P-cups", 1), shipping="0.00")
    with pytest.raises(BuyerguardError) as future, demo.writing(MARKETPLACE) as ctx:
        orders.pay_order(ctx, "O1", 3600, clock.now() + timedelta(minutes=1))
    assert future.value.code == "occurred_in_future"
    with pytest.raises(BuyerguardError) as early, demo.writing(MARKETPLACE) as ctx:
        orders.pay_order(ctx, "O1", 3600, clock.now() - timedelta(days=1))
    assert early.value.code == "occurred_before_previous_fact"


def test_moq_and_single_merchant_rules_on_placing(demo: Runtime) -> None:
    with pytest.raises(BuyerguardError) as below, demo.writing(MARKETPLACE) as ctx:
        orders.place_order(ctx, orders.PlaceOrder("B-shop", (orders.OrderLine("P-towels", 1),)))
    assert below.value.code == "below_moq"
    with pytest.raises(BuyerguardError) as mixed, demo.writing(MARKETPLACE) as ctx:
        orders.place_order(
            ctx,
            orders.PlaceOrder(
                "B-shop", (orders.OrderLine("P-cups", 1), orders.OrderLine("P-cables", 1))
            ),
        )
    assert mixed.value.code == "mixed_merchants"


def test_a_save_writes_what_changed_in_place_and_across_transactions(demo: Runtime) -> None:
    """save_order skips the sub-orders that did not change since the transaction loaded
    them; a field changed on the loaded sub-order, a second save in one transaction and a
    save in the next transaction on the same pooled connection are all written. (Terms at
    payment are replaced whole, never changed in place: domain/orders.py.)"""
    from buyerguard.store import repositories

    place(demo, "O1", ("P-cups", 10), ("P-towels", 2))
    with demo.writing(MARKETPLACE) as ctx:
        order = repositories.get_order(ctx.connection, "O1", for_update=True)
        order.sub_orders[0].terms_at_payment = {"note": "first"}
        repositories.save_order(ctx.connection, order, "test", ctx.now())
        order.sub_orders[0].terms_at_payment = {"note": "replaced"}
        order.sub_orders[1].fee_fen = 7
        repositories.save_order(ctx.connection, order, "test", ctx.now())
    for note, fee_fen in (("replaced", 7), ("next transaction", 9)):
        with demo.writing(MARKETPLACE) as ctx:
            order = repositories.get_order(ctx.connection, "O1")
            assert order.sub_orders[0].terms_at_payment == {"note": note}
            assert order.sub_orders[1].fee_fen == fee_fen
            order.sub_orders[0].terms_at_payment = {"note": "next transaction"}
            order.sub_orders[1].fee_fen = 9
            repositories.save_order(ctx.connection, order, "test", ctx.now())


def test_a_save_writes_the_order_row_only_when_it_changed(demo: Runtime) -> None:
    """A command that changes nothing of the order itself (many case actions) writes no
    order row; a change, and another in the same transaction, are each written."""
    from buyerguard.store import repositories
    from buyerguard.store.tables import orders as orders_table

    place(demo, "O1", ("P-cups", 10))

    def stored() -> tuple[int, str | None, str | None]:
        with demo.reading(OPERATOR) as ctx:
            row = ctx.connection.execute(
                select(
                    orders_table.c.version,
                    orders_table.c.carrier,
                    orders_table.c.tracking_number,
                ).where(orders_table.c.id == "O1")
            ).one()
        return row.version, row.carrier, row.tracking_number

    version, _, _ = stored()
    with demo.writing(MARKETPLACE) as ctx:
        order = repositories.get_order(ctx.connection, "O1", for_update=True)
        repositories.save_order(ctx.connection, order, "test", ctx.now())
    assert stored() == (version, None, None)
    with demo.writing(MARKETPLACE) as ctx:
        order = repositories.get_order(ctx.connection, "O1", for_update=True)
        order.carrier = "SF"
        repositories.save_order(ctx.connection, order, "test", ctx.now())
        order.tracking_number = "T1"
        repositories.save_order(ctx.connection, order, "test", ctx.now())
        repositories.save_order(ctx.connection, order, "test", ctx.now())  # nothing new
    assert stored() == (version + 2, "SF", "T1")


def test_an_order_id_taken_or_a_product_missing_refuses_the_order_and_writes_nothing(
    demo: Runtime,
) -> None:
    """Placement reads every line's product in one statement and inserts the order and its
    sub-orders in one (PostgreSQL): a missing product on any line, or an id already taken,
    still refuses the whole order."""
    from buyerguard.store.tables import sub_orders

    place(demo, "O1", ("P-cups", 10))
    with pytest.raises(BuyerguardError) as taken:
        place(demo, "O1", ("P-towels", 2), ("P-cups", 3))
    assert taken.value.code == "order_exists"
    with pytest.raises(BuyerguardError) as missing:
        place(demo, "O2", ("P-cups", 10), ("P-none", 1))
    assert (missing.value.code, missing.value.field) == ("product_not_found", "product_id")
    with demo.reading(OPERATOR) as ctx:
        lines = ctx.connection.execute(
            select(sub_orders.c.id, sub_orders.c.product_id).order_by(sub_orders.c.id)
        ).all()
    assert [tuple(line) for line in lines] == [("O1-1", "P-cups")]
