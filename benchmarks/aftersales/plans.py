"""Each case's plan: its flow (the mix of issue 15), the facts it sends tick by tick, and
what it must end as."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ingest.common import yuan
from ingest.world import World

SHANGHAI = ZoneInfo("Asia/Shanghai")
QUICK_REFUND_FROM = datetime(2024, 10, 15, tzinfo=SHANGHAI)  # rulebooks/2024-10-15.toml
EARLY_START = datetime(2024, 10, 1, 9, tzinfo=SHANGHAI)  # pickups before QUICK_REFUND_FROM
LATE_START = datetime(2024, 10, 21, 9, tzinfo=SHANGHAI)  # pickups after it
SPREAD_MINUTES = 12 * 60  # orders start within 12 hours of their flow's start
CUSTOM_MOQ = 10
TARGET_RATIO = 0.5  # case facts/s >= 0.5 x pgbench tps (issue 15)
PASS_NAME = "bench-pass"  # the scheduler pass's name, recorded on the timers it fires
TRIGGERS = ("misprinted", "size_mismatch", "defective", "damaged")

# One slot = 5% of the cases: (flow, variant). Shuffled once per run with the seed.
SLOTS: tuple[tuple[str, int], ...] = (
    *(("return, quick refund", 0),) * 3,
    *(("return, no quick refund", 0),) * 3,
    *(("quality return", 0),) * 4,
    ("refund-only, answered", 0),  # not received: the merchant accepts
    ("refund-only, answered", 1),  # quality: the merchant offers, the buyer takes it
    ("refund-only, timed out", 0),  # not received
    ("refund-only, timed out", 1),  # quality
    ("custom dispute", 0),
    ("custom dispute", 1),
    ("after release", 0),  # clawed back from the merchant's payable
    ("after release", 1),  # paid out first: into debt
    ("escalated and ruled", -1),  # variant by cycle: 0 refused and ruled, 1 empty return
    ("transit claim", 0),
)
FLOWS = tuple(dict.fromkeys(flow for flow, _ in SLOTS))


@dataclass(frozen=True)
class Expect:
    """How a case must end: closed with `outcome`; quick-refunded or not, compensated or not
    (None: either)."""

    outcome: str
    quick: bool | None = None
    compensated: bool | None = None


@dataclass(frozen=True)
class Step:
    fact: dict[str, Any]
    operator: bool = False  # a ruling: sent with the operator's token
    payout: str | None = None  # once this step's tick is applied, pay this merchant out


@dataclass
class Plan:
    """One order and its case, step by step."""

    order_id: str
    case_id: str
    flow: str
    expect: Expect
    steps: list[Step] = field(default_factory=list)


def slot_of(index: int, clients: int, slots: list[tuple[str, int]]) -> tuple[str, int]:
    """The flow and variant of case `index`: each client walks the 20 slots in turn, so every
    client sends the same mix."""
    position = index // clients
    flow, variant = slots[position % len(slots)]
    if variant < 0:
        variant = (position // len(slots)) % 2
    return flow, variant


class Lifecycle:
    """Builds one order's facts on its own calendar: `at(hours)` after the order's start."""

    def __init__(self, order_id: str, start: datetime) -> None:
        self.order_id, self.start = order_id, start
        self.case_id = f"{order_id}-K"
        self.steps: list[Step] = []

    def at(self, hours: float) -> str:
        return (self.start + timedelta(hours=hours)).isoformat()

    def order_fact(
        self,
        kind: str,
        hours: float,
        body: dict[str, Any] | None = None,
        payout: str | None = None,
    ) -> None:
        fact = {"kind": kind, "body": {**(body or {}), "occurred_at": self.at(hours)}}
        if kind != "order":
            fact["order_id"] = self.order_id
        fact["idempotency_key"] = f"{kind}-{self.order_id}"
        self.steps.append(Step(fact, payout=payout))

    def open_case(self, hours: float, body: dict[str, Any]) -> None:
        fact = {
            "kind": "case",
            "order_id": self.order_id,
            "idempotency_key": f"case-{self.order_id}",
            "body": {
                "id": self.case_id,
                "sub_order_id": f"{self.order_id}-1",
                **body,
                "occurred_at": self.at(hours),
            },
        }
        self.steps.append(Step(fact))

    def act(
        self, action: str, hours: float, body: dict[str, Any] | None = None, operator: bool = False
    ) -> None:
        """A case action; the same action twice in one case gets its own key."""
        count = sum(s.fact["kind"] == f"case-{action}" for s in self.steps)
        fact = {
            "kind": f"case-{action}",
            "case_id": self.case_id,
            "idempotency_key": f"case-{action}-{self.case_id}" + (f"-{count}" if count else ""),
            "body": {**(body or {}), "occurred_at": self.at(hours)},
        }
        self.steps.append(Step(fact, operator=operator))


def plan(index: int, world: World, rng: random.Random, flow: str, variant: int) -> Plan:
    """The lifecycle of case `index`: placement to the case's end, as the marketplace reports
    it, on the calendar its flow needs (module docstring)."""
    order_id = f"A{index:07d}"
    base = EARLY_START if flow == "return, no quick refund" else LATE_START
    life = Lifecycle(order_id, base + timedelta(minutes=rng.randrange(SPREAD_MINUTES)))
    merchant = world.pick_merchant(rng)
    product, price = rng.choice(world.products[merchant])
    custom = flow == "custom dispute"
    quantity = rng.randint(CUSTOM_MOQ, 2 * CUSTOM_MOQ) if custom else rng.randint(1, 4)
    goods = (price * 5 // 4 if custom else price) * quantity
    shipping = rng.choice((0, 0, 800, 1200))
    line: dict[str, Any] = {"product_id": product, "quantity": quantity}
    if custom:
        line["tier"] = "custom"
    body = {"id": order_id, "buyer_id": rng.choice(world.buyers), "lines": [line]}
    life.order_fact("order", 0, {**body, "shipping": yuan(shipping)})
    life.order_fact("payment", 0.1, {"amount": yuan(goods + shipping)})
    life.order_fact(
        "shipment",
        24,
        {"carrier": "SF", "tracking_number": f"SF{order_id}", "official_logistics": True},
    )
    evidence = [{"uri": f"https://files.example.com/{order_id}/photo-1.jpg", "note": "photo"}]
    expect = Expect("agreed")
    if flow in ("return, quick refund", "return, no quick refund") or (
        flow == "escalated and ruled" and variant == 1
    ):
        empty = flow == "escalated and ruled"
        life.order_fact("signing", 72)
        life.open_case(96, {"type": "return_no_reason", "reason": "changed my mind"})
        life.act("accept", 98)
        life.act("handover", 99, {"official_logistics": True})
        freight = rng.choice((1200, 1800, 2500, 3000, 4000))  # capped at 25.00 mostly
        life.act("pickup", 102, {"carrier": "SF", "freight": yuan(freight)})
        quick = life.start + timedelta(hours=102) >= QUICK_REFUND_FROM  # §4 judges the pickup
        assert quick == (flow != "return, no quick refund"), f"{order_id}: pickup on a wrong day"
        life.act("arrival", 126)
        if empty:
            life.act("inspection", 128, {"result": "wrong_or_empty", "evidence": evidence})
            ruling = {"result": "merchant", "note": "the parcel arrived empty"}
            life.act("ruling", 140, ruling, operator=True)
            expect = Expect("ruled_for_merchant", quick=True)
        else:
            life.act("inspection", 128, {"result": "ok"})
            expect = Expect("agreed", quick=flow == "return, quick refund")
    elif flow == "quality return":
        life.order_fact("signing", 72)
        life.open_case(120, {"type": "return_quality", "reason": "arrived chipped"})
        life.act("accept", 122)
        life.act("handover", 124, {"carrier": "YTO", "tracking_number": f"YT{order_id}"})
        life.act("arrival", 168)
        life.act("inspection", 171, {"result": "ok"})
        expect = Expect("agreed", quick=False)
    elif flow in ("refund-only, answered", "refund-only, timed out"):
        answered = flow == "refund-only, answered"
        if variant == 0:  # never arrived: before signing
            life.open_case(144, {"type": "refund_only_not_received", "reason": "tracking stopped"})
            if answered:
                life.act("accept", 148)
        else:  # received with a quality problem: part of the goods asked back
            life.order_fact("signing", 72)
            asked = max(2, goods // 2)
            life.open_case(
                120,
                {
                    "type": "refund_only_quality",
                    "reason": "half of them cracked",
                    "amount": yuan(asked),
                    "evidence": evidence,
                },
            )
            if answered:
                life.act("offer", 123, {"amount": yuan(asked // 2)})
                life.act("accept", 126)  # the buyer (the marketplace for it) takes the offer
        expect = Expect("agreed" if answered else "granted_on_timeout")
    elif flow == "custom dispute":
        life.order_fact("signing", 72)
        life.open_case(
            120,
            {
                "type": "custom_dispute",
                "trigger": TRIGGERS[index % len(TRIGGERS)],
                "reason": "not as ordered",
                "amount": yuan(max(1, goods // 3)),
                "evidence": evidence,
            },
        )
        life.act("accept", 124)
        expect = Expect("agreed", compensated=True)
    elif flow == "after release":
        life.order_fact("signing", 72)
        payout = world.merchants[merchant] if variant == 1 else None
        life.order_fact("confirmation", 96, payout=payout)
        asked = goods if variant == 1 else max(1, goods // 2)
        life.open_case(
            144, {"type": "refund_only_quality", "reason": "faulty", "amount": yuan(asked)}
        )
        life.act("accept", 148)
    elif flow == "escalated and ruled":  # variant 0: refused after an offer, ruled for the buyer
        life.order_fact("signing", 72)
        life.open_case(120, {"type": "refund_only_quality", "reason": "wrong colour"})
        asked = goods
        life.act("offer", 122, {"amount": yuan(max(1, asked // 3))})
        life.act("decline", 125)  # the buyer declines the offer
        life.act("decline", 128)  # the merchant refuses
        life.act("escalate", 130, {"evidence": evidence})
        ruling = {"result": "buyer", "amount": yuan(max(1, asked * 2 // 3)), "note": "photos"}
        life.act("ruling", 150, ruling, operator=True)
        expect = Expect("ruled_for_buyer")
    elif flow == "transit claim":
        life.open_case(72, {"type": "transit_claim", "reason": "the truck burnt out"})
        ruling = {"result": "merchant", "note": "carrier's accident report"}
        life.act("ruling", 96, ruling, operator=True)
        expect = Expect("ruled_for_merchant", compensated=True)
    else:
        raise ValueError(flow)
    return Plan(order_id, life.case_id, flow, expect, life.steps)


def custom_tier_terms(price_fen: int) -> dict[str, Any]:
    """Every product: a spot tier with 7-day returns, and a custom tier (MOQ 10, +25%)."""
    return {
        "tiers": [
            {"kind": "spot", "price": yuan(price_fen), "moq": 1, "seven_day_returns": True},
            {"kind": "custom", "price": yuan(price_fen * 5 // 4), "moq": CUSTOM_MOQ},
        ]
    }


def is_case_fact(kind: str) -> bool:
    return kind == "case" or kind.startswith("case-")
