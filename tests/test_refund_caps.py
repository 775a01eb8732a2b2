"""The ledger itself caps refunds, not only the order's columns.

Before release the cap is the sub-order's open hold: settlement reads it from
the ledger and refuses more, whatever the order object says. After release it
is the sub-order's refundable balance, an account that can never be
overdrawn. Both are shown here by going around the domain's own checks.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from buyerguard.bootstrap import Runtime
from buyerguard.errors import Conflict
from buyerguard.ledger import accounts
from buyerguard.ledger.balances import balance
from buyerguard.ledger.book import Transfer, TransferKind, record
from buyerguard.ledger.postings import BalanceFloorBreached
from buyerguard.money import parse_yuan
from buyerguard.services import orders, settlement
from buyerguard.services.context import OPERATOR
from buyerguard.store import repositories
from tests.test_order_service import BUYER, MARKETPLACE, demo, place

__all__ = ["demo"]  # the fixture, used by name


def test_a_refund_beyond_the_open_hold_is_refused_by_the_ledger(demo: Runtime) -> None:
    place(demo, "O1", ("P-cups", 10))
    with demo.writing(MARKETPLACE) as ctx:
        orders.pay_order(ctx, "O1", parse_yuan("380.00"))
        orders.refund_before_shipment(ctx, "O1", amounts_fen={"O1-1": parse_yuan("100.00")})
    with pytest.raises(Conflict) as refused, demo.writing(MARKETPLACE) as ctx:
        order = repositories.get_order(ctx.connection, "O1", for_update=True)
        sub = order.sub_orders[0]
        rulebook = ctx.rulebook_at(ctx.now(), field=None)
        # 260.00 is held; an order object that (wrongly) allowed 300.00 more is not enough
        settlement.refund_sub_orders(
            ctx, order, [(replace(sub), parse_yuan("300.00"))], rulebook, ctx.now()
        )
    assert refused.value.code == "refund_exceeds_hold"
    with demo.reading(OPERATOR) as ctx:
        escrow = balance(ctx.connection, accounts.merchant_escrow("M-yiwu").id)
    assert escrow.credit_balance_fen == parse_yuan("280.00")  # 360 + 20 shipping - 100


def test_after_release_the_refundable_balance_cannot_be_overdrawn(demo: Runtime) -> None:
    place(demo, "O1", ("P-cups", 10))
    with demo.writing(MARKETPLACE) as ctx:
        orders.pay_order(ctx, "O1", parse_yuan("380.00"))
        orders.ship_order(ctx, "O1", "sf", "SF1", True)
        orders.sign_order(ctx, "O1")
    with demo.writing(BUYER) as ctx:
        orders.confirm_order(ctx, "O1")
    refundable = accounts.sub_order_refundable("O1-1")
    issued = accounts.refundable_issued("O1-1")
    with demo.reading(OPERATOR) as ctx:
        assert balance(ctx.connection, refundable.id).credit_balance_fen == parse_yuan("360.00")

    def take_back(transfer_id: str, amount: str) -> None:
        with demo.writing(OPERATOR) as ctx:
            record(
                ctx.connection,
                Transfer(
                    transfer_id,
                    TransferKind.POSTED,
                    refundable,
                    issued,
                    parse_yuan(amount),
                    "refund_after_release",
                    ctx.now(),
                    order_id="O1",
                ),
                ctx.now(),
            )

    take_back("after:1", "300.00")
    with pytest.raises(BalanceFloorBreached):
        take_back("after:2", "60.01")
    take_back("after:3", "60.00")
    with demo.reading(OPERATOR) as ctx:
        assert balance(ctx.connection, refundable.id).credit_balance_fen == 0
