"""The synthetic marketplace and its facts: merchants with Zipf(s=1) popularity, buyers,
products, whole order lifecycles and the interleaved feed a marketplace would send.

Kept apart from the HTTP and process code so the load itself can be read on its own."""

from __future__ import annotations

import itertools
import random
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ingest.common import yuan

MAX_STEPS = 6  # facts of the longest lifecycle: place, pay, refund a part, ship, sign, confirm


@dataclass(frozen=True)
class World:
    merchants: list[str]
    buyers: list[str]
    products: list[list[tuple[str, int]]]  # per merchant: (product id, unit price in fen)
    merchant_cum_weights: list[float]  # Zipf(s=1)

    @classmethod
    def make(cls, merchants: int, buyers: int, per_merchant: int, seed: int) -> World:
        rng = random.Random(seed)
        merchant_ids = [f"M{i:05d}" for i in range(merchants)]
        return cls(
            merchants=merchant_ids,
            buyers=[f"B{i:06d}" for i in range(buyers)],
            products=[
                [
                    (f"P{i:05d}-{j}", rng.randint(5, 500) * 100 + rng.choice((0, 50)))
                    for j in range(per_merchant)
                ]
                for i in range(merchants)
            ],
            merchant_cum_weights=list(itertools.accumulate(1 / (k + 1) for k in range(merchants))),
        )

    def pick_merchant(self, rng: random.Random) -> int:
        return rng.choices(range(len(self.merchants)), cum_weights=self.merchant_cum_weights)[0]

    def order_body(
        self, rng: random.Random, order_id: str | None
    ) -> tuple[dict[str, Any], int, int]:
        """A placement body, its total and its first line's goods, in fen."""
        merchant = self.pick_merchant(rng)
        lines = rng.sample(
            self.products[merchant], rng.randint(1, min(3, len(self.products[merchant])))
        )
        quantities = [rng.randint(1, 5) for _ in lines]
        shipping = rng.choice((0, 0, 800, 1200))
        goods = sum(
            price * quantity for (_, price), quantity in zip(lines, quantities, strict=True)
        )
        body: dict[str, Any] = {
            "buyer_id": rng.choice(self.buyers),
            "lines": [
                {"product_id": product, "quantity": q}
                for (product, _), q in zip(lines, quantities, strict=True)
            ],
            "shipping": yuan(shipping),
        }
        if order_id is not None:
            body["id"] = order_id
        first = lines[0][1] * quantities[0]
        return body, goods + shipping, first


def lifecycle(
    world: World, rng: random.Random, order_id: str, refund_share: float, cancel_share: float
) -> list[dict[str, Any]]:
    """The facts of one order, in order, as `POST /v1/facts` takes them."""
    body, total, first_goods = world.order_body(rng, order_id)
    facts: list[dict[str, Any]] = [{"kind": "order", "body": body}]
    draw = rng.random()
    if draw < cancel_share:
        facts.append({"kind": "cancellation", "order_id": order_id})
    else:
        facts.append({"kind": "payment", "order_id": order_id, "body": {"amount": yuan(total)}})
        if draw < cancel_share + refund_share:
            part = max(1, first_goods // 3)  # a part of the first sub-order
            facts.append(
                {
                    "kind": "refund-before-shipment",
                    "order_id": order_id,
                    "body": {"amounts": {f"{order_id}-1": yuan(part)}},
                }
            )
        facts += [
            {
                "kind": "shipment",
                "order_id": order_id,
                "body": {
                    "carrier": "SF",
                    "tracking_number": f"SF{order_id}",
                    "official_logistics": True,
                },
            },
            {"kind": "signing", "order_id": order_id},
            {"kind": "confirmation", "order_id": order_id},
        ]
    for fact in facts:
        fact["idempotency_key"] = f"{fact['kind']}-{order_id}"
    return facts


def interleaved(orders: Iterator[list[dict[str, Any]]], group: int) -> Iterator[dict[str, Any]]:
    """An order feed as a marketplace sends it: new orders mixed with later facts of older ones.

    Orders start in groups; each tick carries step s of the group started s ticks ago, so an
    order's facts come in order, one step per tick, and usually land in different batches.
    Only the last MAX_STEPS groups are in memory.
    """
    window: deque[list[list[dict[str, Any]]]] = deque(maxlen=MAX_STEPS)
    while True:
        window.appendleft(list(itertools.islice(orders, group)))
        if not any(window):
            return
        for step, started in enumerate(window):
            for facts in started:
                if step < len(facts):
                    yield facts[step]


def expected_facts(orders: int, refund_share: float, cancel_share: float) -> int:
    return round(
        orders * (2 * cancel_share + 6 * refund_share + 5 * (1 - cancel_share - refund_share))
    )
