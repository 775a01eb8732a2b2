"""Stateful test: random after-sales case sequences against the real API, store, ledger and
scheduler.

A Hypothesis `RuleBasedStateMachine` drives the HTTP API through FastAPI's TestClient (so
`Idempotency-Key` replays go through the real `execute_command`) on the real database of
the `engine` fixture (SQLite and PostgreSQL), with a simulated clock and the real
`Scheduler`. Every example starts from a wiped database with the demo marketplace and one
to three orders of the demo catalogue (spot cups; towels, 5,000.00 of them a large order
at a super factory; custom cups, 1,300 of them enough for the compensation's cap; cables
at the other merchant; bought by `B-shop`, or `B-chain`, a super buyer), each paid and
left unshipped, or shipped, signed or confirmed (released), sometimes paid out at once,
so cases run while the money is held in escrow and after its release, the merchant's
money taken back from its payable or, paid out, as debt. One to three cases are opened
at once and taken a few steps along their way.

The rules open cases of every type — `refund_only_not_received`, `refund_only_quality`,
`return_no_reason`, `return_quality`, `custom_dispute` (on the custom cups, with each of
the rulebook's triggers, an unknown one or none), `transit_claim` (the merchant) and
`false_shipment` (the marketplace or an operator) — asking the default, a fen, half, all
or more than is left (or 0.00), mostly by the claimant, else by anyone (another party's
order, an unknown sub-order or type, a trigger where none belongs, an order not shipped);
and take every action: accept, offer (part, a fen, all but a fen; all, 0.00, none),
decline, handover (a doorstep pickup, sent by the buyer, no tracking number), pickup
(freight 0, none, under, at and over what is left of the order's subsidy cap; negative, no
carrier), arrival, inspection (ok, wrong_or_empty, an unknown result), escalate, ruling
(for or against the claimant, as asked, part, all or more, an amount against the
claimant, send_goods_back, buyer_malicious, no note, an unknown result), complain,
expedite and withdraw — mostly the case's next natural step by whose move it is
(`a_case_moves_on`), else any action on
any case by anyone, sometimes dated before the case's last step, or reported late (dated
a second before a deadline that has passed unfired). Meanwhile orders are shipped, signed
and confirmed (by the buyer, even while a case is open), operators run payouts, the
marketplace reports instructions executed, earlier keyed POSTs are retried with the same
key and body (the stored answer is replayed and nothing is written) or another body (409
`idempotency_key_reused`), and the clock moves: by hours or days, exactly to the next
case deadline (ticked; or not, and every party is then `deadline_passed`) or a second
before it; the real `Scheduler` then fires the case deadlines and the orders'
auto-confirmation and completion (held while a case is open, re-armed when the last one
closes).

Beside the system the machine keeps its own model, derived from docs/aftersales.md, the
rulebook in force (2024-10-15) and the demo catalogue, never read back from the engine:
every case's state, goods, outcome and amounts (asked, offered, agreed, refunded, quick
refund, compensation, owed and paid) and its running deadline (kind, due instant, and
when the timer may run once the facts settled); what is left of each sub-order and its
fee, the shipping refunded with a whole order; the return-shipping subsidy per order (one
cap per order, the first that matches: super buyer 200.00, large order at a super factory
50.00, else 25.00), the quick refund at pickup, custom compensation (5% of the
sub-order's goods, at most 3,000.00), a transit claim's pay-out (at most 50,000.00), a
false shipment's charge (the platform's costs on the order so far), an absorbed quick
refund; one open case per type per sub-order; the orders' timers; and every posting those
imply (escrow holds and releases, fees and their adjustment, refunds from escrow or taken
from the merchant's payable, reserve and then debt, debt netting, payouts, instructions
and their execution). From it the machine predicts the status and error code of every
command (where the docs and the engine disagree, the model follows the docs), the answer
of every success, the case as `GET /v1/cases/{id}` shows it afterwards (deadline, owed,
paid) and what each scheduler tick fires.

After every step the invariants check that `check_ledger` passes; that every ledger
account's four columns equal the model's (zero where it expects none); that the
instructions are the model's; that each merchant's balance is the model's and its debt
never negative; that the subsidy per order is the model's; that every order (state,
instants, what is refunded of each sub-order, never beyond its goods, and its fee), every
case `GET /v1/cases` lists and every pending timer equal the model's, and the cases with
a running deadline are those the list's `deadline_before` filter finds. A refused command
must write nothing: the row count of every table, every account's balance, every case and
every timer are the same after it.

Isolation between examples is the orders machine's (tests/stateful_support.py): each
example wipes the database, reloads the demo marketplace, issues fresh tokens and resets
the clock to `START`, so every example (and every replay while shrinking) runs from the
same state. The `event()` labels name each outcome the machine means to reach; count them
by patching `event`.

CI runs 25 examples of 40 steps; `BUYERGUARD_FUZZ=400x60` (examples x steps) runs a long
hunt without editing the test (tests/stateful_support.py, `machine_settings`).
"""

from __future__ import annotations

import copy
import heapq
import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any, ClassVar, NamedTuple, NoReturn

import httpx2
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from buyerguard.api.app import create_app
from buyerguard.bootstrap import Runtime
from buyerguard.clock import SHANGHAI, SimulatedClock, parse_instant
from buyerguard.demo import BUYERS, MERCHANTS, PRODUCTS
from buyerguard.domain.catalog import TierKind
from buyerguard.ledger import accounts
from buyerguard.money import Rate, apply_rate, format_fen
from buyerguard.scheduler import Scheduler
from buyerguard.services.case_deadlines import DEADLINES
from buyerguard.services.context import OPERATOR, Role
from buyerguard.services.merchant_money import merchant_balance
from buyerguard.store.case_repository import list_cases
from buyerguard.store.db import read_transaction
from buyerguard.store.tables import (
    cases,
    instructions,
    ledger_accounts,
    ledger_transfers,
    metadata,
    orders,
    sub_orders,
    timers,
)
from buyerguard.timer_kinds import TIMER_KINDS
from tests.conftest import DEMO_CALLERS
from tests.schema_conformance import checked_client
from tests.stateful_support import (
    Harness,
    Sent,
    checked_ledger_columns,
    instant,
    machine_settings,
    often,
    rarely,
    wipe_and_seed,
)

SETTINGS = machine_settings(examples=25, steps=40)

# ------------------------------------------- the rules, from docs/aftersales.md and rulebooks/
FACTS_SETTLE = timedelta(seconds=60)  # orders.fact_settling_seconds
AUTO_CONFIRM_AFTER = timedelta(days=10)  # orders.auto_confirm_after_signing_days
RETURN_WINDOW_DAYS = 7  # returns.window_days
QUALITY_CLAIM_DAYS = 30  # returns.quality_claim_days
FEE_RATE, FEE_CAP_FEN = Rate(Decimal("0.006")), 1800  # fees.rate, fees.cap_yuan (§1)
# §3 free return shipping: the first cap that matches, one per order.
SUPER_BUYER_CAP_FEN = 20000  # free_return_shipping.super_buyer_cap_yuan
LARGE_ORDER_CAP_FEN = 5000  # free_return_shipping.large_order_tier_cap_yuan
DEFAULT_CAP_FEN = 2500  # free_return_shipping.default_cap_yuan
LARGE_ORDER_MIN_FEN = 500000  # free_return_shipping.large_order_min_goods_yuan
LARGE_ORDER_TIERS = ("super_factory", "powerful_merchant")  # ….large_order_tiers
SUPER_BUYER_MIN_NET_FEN = 50_000_000  # free_return_shipping.super_buyer_min_net_paid_yuan
# §4 quick refund from 2024-10-15 (the rulebook in force at the pickup).
QUICK_REFUND_FROM = datetime(2024, 10, 15, tzinfo=SHANGHAI)
# §5 custom compensation: 5% of the sub-order's goods, at most 3,000.00.
CUSTOM_RATE, CUSTOM_CAP_FEN = Rate(Decimal("0.05")), 300000  # once per sub-order
TRIGGERS = (
    "not_delivered_or_installed_as_promised",
    "defective",
    "size_mismatch",
    "misprinted",
    "damaged",
    "custom_delivery_delay",
)
TRANSIT_CAP_FEN = 5_000_000  # merchant_relief.transit_accident_cap_yuan (§7)
PAYOUT_MINIMUM_FEN = 100  # payouts.minimum_yuan (reserve share 0)

# Case types, states, goods, outcomes (docs/aftersales.md).
NOT_RECEIVED, QUALITY = "refund_only_not_received", "refund_only_quality"
NO_REASON, RETURN_QUALITY = "return_no_reason", "return_quality"
CUSTOM, TRANSIT, FALSE_SHIPMENT = "custom_dispute", "transit_claim", "false_shipment"
CASE_TYPES = (NOT_RECEIVED, QUALITY, NO_REASON, RETURN_QUALITY, CUSTOM, TRANSIT, FALSE_SHIPMENT)
RETURNS = (NO_REASON, RETURN_QUALITY)
TYPE_WEIGHT = {NO_REASON: 3, RETURN_QUALITY: 3, TRANSIT: 1, FALSE_SHIPMENT: 1}  # default 2
PENDING, NEGOTIATING, ACCEPTED = "pending", "negotiating", "accepted"
REFUSED, ESCALATED, CLOSED, WITHDRAWN = "refused", "escalated", "closed", "withdrawn"
OPEN_STATES = (PENDING, NEGOTIATING, ACCEPTED, REFUSED, ESCALATED)
WITH_BUYER, AWAITING_PICKUP, IN_TRANSIT = "with_buyer", "awaiting_pickup", "in_transit"
RECEIVED, WRONG_OR_EMPTY = "received_by_merchant", "wrong_or_empty"
SENT_BACK, NOT_RETURNED = "sent_back", "not_returned"
AGREED, GRANTED, CLOSED_ON_TIMEOUT = "agreed", "granted_on_timeout", "closed_on_timeout"
FOR_BUYER, FOR_MERCHANT = "ruled_for_buyer", "ruled_for_merchant"
FOR_PLATFORM = "ruled_for_platform"
BUYER_WINS = (AGREED, GRANTED, FOR_BUYER)

# Who opens each type (the claimant; the marketplace may act for it; an operator always).
OPENERS = {
    **{kind: ("buyer", "marketplace") for kind in (NOT_RECEIVED, QUALITY, *RETURNS, CUSTOM)},
    TRANSIT: ("merchant", "marketplace"),
    FALSE_SHIPMENT: ("marketplace",),
}
# action -> (the parties whose action it is, the states it runs from). The marketplace may
# take every action of the buyer and the merchant (and the pickup is its alone); an
# operator may do anything.
ACTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "accept": (("buyer", "merchant"), (PENDING, NEGOTIATING)),
    "offer": (("merchant",), (PENDING,)),
    "decline": (("buyer", "merchant"), (PENDING, NEGOTIATING)),
    "handover": (("buyer",), (ACCEPTED,)),
    "pickup": ((), (ACCEPTED,)),
    "arrival": (("merchant",), (ACCEPTED,)),
    "inspection": (("merchant",), (ACCEPTED,)),
    "escalate": (("buyer", "merchant"), (NEGOTIATING, ACCEPTED, REFUSED)),
    "ruling": ((), (ESCALATED,)),
    "complain": (("buyer",), (PENDING,)),
    "expedite": ((), (PENDING,)),
    "withdraw": (("buyer", "merchant"), OPEN_STATES),
}
# The natural next steps from each state (the goods and the case decide which fit).
NEXT_STEPS = {
    PENDING: ("accept", "offer", "decline", "complain", "expedite"),
    NEGOTIATING: ("accept", "decline", "escalate"),
    ACCEPTED: ("pickup", "handover", "arrival", "inspection"),
    REFUSED: ("escalate",),
    ESCALATED: ("ruling",),
}
RETURN_ACTIONS = ("handover", "pickup", "arrival", "inspection")  # the goods' journey
MARKETPLACE_ACTIONS = {action for action, (who, _) in ACTIONS.items() if who} | {"pickup"}
BUYER_SIDE, MERCHANT_SIDE = (
    ("buyer", "marketplace", "operator"),
    ("merchant", "marketplace", "operator"),
)

# The deadline table: kind -> how long (an inspection of a return the buyer sent: 7 days).
MERCHANT_ANSWER, MERCHANT_REVIEW = "case.merchant_answer", "case.merchant_review"
OFFER_RESPONSE, HANDOVER, INSPECTION = "case.offer_response", "case.handover", "case.inspection"
ESCALATION_WINDOW, RULING = "case.escalation_window", "case.ruling"
LASTS = {
    MERCHANT_ANSWER: timedelta(hours=36),  # refund_only.seller_response_hours
    MERCHANT_REVIEW: timedelta(hours=24),  # returns.merchant_review_hours
    OFFER_RESPONSE: timedelta(hours=48),  # cases.offer_response_hours
    HANDOVER: timedelta(days=7),  # returns.handover_days_after_approval
    INSPECTION: timedelta(hours=24),  # returns.picked_up_inspection_hours
    ESCALATION_WINDOW: timedelta(days=7),  # cases.escalation_days_after_refusal
    RULING: timedelta(hours=72),  # cases.ruling_hours
}
BUYER_SENT_INSPECTION = timedelta(days=7)  # returns.buyer_sent_inspection_days
COMPLAINT_RESPONSE = timedelta(hours=12)  # refund_only.complaint_response_hours
AUTO_CONFIRM, COMPLETE = "order.auto_confirm", "order.complete"
SHIPPING_DEADLINE = "order.shipping_deadline"
TICKED_KINDS = {kind: TIMER_KINDS[kind] for kind in (AUTO_CONFIRM, COMPLETE, SHIPPING_DEADLINE)}
TICKED_KINDS.update({kind: TIMER_KINDS[kind] for kind in LASTS})

# Orders: paid, shipped, signed, confirmed (released), completed.
PAID, SHIPPED, SIGNED = "paid", "shipped", "signed"
CONFIRMED, COMPLETED = "confirmed", "completed"
RELEASED = (CONFIRMED, COMPLETED)

CATALOGUE = {product.id: product for product in PRODUCTS}
MERCHANT_TIER = {merchant.id: merchant.tier.value for merchant in MERCHANTS}
MARKED_SUPER = {buyer.id for buyer in BUYERS if buyer.super_buyer_marked}
BUYER_ROLE = {"B-shop": "buyer", "B-chain": "other_buyer"}
MERCHANT_ROLE = {"M-yiwu": "merchant", "M-shenzhen": "other_merchant"}
# Who calls: name -> (role, party), a token each (buyer B-shop, other_buyer B-chain,
# merchant M-yiwu, other_merchant M-shenzhen, marketplace, operator).
CALLERS = {name: (role, party) for name, role, party in DEMO_CALLERS}
CALLER_NAMES = tuple(CALLERS)
FAR_FUTURE = "2100-01-01T00:00:00+08:00"  # every running deadline falls before it

# The lines an order may have, per merchant: (product, tier, quantity).
LINES = {
    "M-yiwu": (
        ("P-cups", TierKind.SPOT, 10),
        ("P-towels", TierKind.SPOT, 2),  # 5,000.00: a large order at a super factory
        ("P-cups", TierKind.CUSTOM, 50),
        ("P-cups", TierKind.SPOT, 1),
        ("P-towels", TierKind.SPOT, 3),
        ("P-cups", TierKind.CUSTOM, 1300),  # 62,400.00: the compensation reaches its cap
    ),
    "M-shenzhen": (("P-cables", TierKind.SPOT, 1), ("P-cables", TierKind.SPOT, 3)),
}
CARRIERS = ("SF", "ZTO")


def promised(line: tuple[str, TierKind, int]) -> bool:
    """Sold with a shipping promise (spot goods of a product that makes one)."""
    product_id, tier_kind, _ = line
    return (
        tier_kind is TierKind.SPOT and CATALOGUE[product_id].shipping_commitment_hours is not None
    )


# How far the clock moves: short steps mostly, past one deadline or another, or days on.
CLOCK_STEPS_HOURS = (1, 3, 11, 13, 23, 25, 35, 37, 47, 49, 71, 73, 24 * 7 + 1, 24 * 11)
ORDER_FACTS = {"ship": "shipment", "sign": "signing", "confirm": "confirmation"}


def kind_of(caller: str) -> str:
    return CALLERS[caller][0].value


def fee_fen(goods_fen: int) -> int:
    """The technical service fee on goods (rulebook at payment: capped since 2024-09-13)."""
    return min(FEE_CAP_FEN, apply_rate(goods_fen, FEE_RATE))


def window_end(signed_at: datetime, days: int) -> datetime:
    """The first instant after a window of `days` counted from the Shanghai day after."""
    last_day = signed_at.astimezone(SHANGHAI).date() + timedelta(days=days + 1)
    return datetime.combine(last_day, time.min, tzinfo=SHANGHAI)


def yuan(amount_fen: int) -> str:
    return format_fen(amount_fen)


def to_fen(amount: str) -> int:
    """A yuan string the machine wrote (no thousands separators) in fen."""
    negative = amount.startswith("-")
    whole, _, part = amount.lstrip("-").partition(".")
    fen = int(whole) * 100 + int((part + "00")[:2])
    return -fen if negative else fen


class Refused(Exception):
    """The model's prediction that the system refuses a command."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(f"{status} {code}")
        self.status, self.code = status, code


def refuse(status: int, code: str) -> NoReturn:
    raise Refused(status, code)


# ------------------------------------------------------------------- the model
Columns = list[int]  # debits posted, credits posted, debits pending, credits pending
DP, CP, DPEND, CPEND = 0, 1, 2, 3
INSTRUCTED, EXECUTED = "instructed", "executed"


class Instruction(NamedTuple):
    """A payment the platform instructs: to whom, how much, about what, and its state."""

    kind: str
    party: str
    amount_fen: int
    order_id: str | None
    case_id: str | None
    state: str = INSTRUCTED


def instruction_of(row: Any) -> Instruction:
    """An instruction row as the model writes it."""
    case_id = row.details.get("case_id")
    return Instruction(row.kind, row.party, row.amount_fen, row.order_id, case_id, row.state)


def _columns() -> Columns:
    return [0, 0, 0, 0]


@dataclass
class Ledger:
    """Every posting the model expects, and every instruction to pay someone."""

    columns: dict[str, Columns] = field(default_factory=lambda: defaultdict(_columns))
    instructions: list[Instruction] = field(default_factory=list)

    def post(self, debit: accounts.AccountSpec, credit: accounts.AccountSpec, fen: int) -> None:
        assert fen >= 0, fen
        self.columns[debit.id][DP] += fen
        self.columns[credit.id][CP] += fen

    def hold(self, debit: accounts.AccountSpec, credit: accounts.AccountSpec, fen: int) -> None:
        """A pending transfer (negative: part of one voided or posted)."""
        self.columns[debit.id][DPEND] += fen
        self.columns[credit.id][CPEND] += fen

    def available(self, spec: accounts.AccountSpec) -> int:
        """What a credit-normal account can still give."""
        found = self.columns[spec.id]
        return found[CP] - found[DP] - found[DPEND]

    def debt(self, merchant_id: str) -> int:
        found = self.columns[accounts.merchant_debt(merchant_id).id]
        return found[DP] - found[CP]

    def instruct(
        self, kind: str, party: str, fen: int, order_id: str | None, case_id: str | None
    ) -> None:
        """Pay `party` by instruction: held from its payable towards paid-out."""
        assert fen > 0
        self.hold(accounts.party_payable(party), accounts.party_paid_out(party), fen)
        self.instructions.append(Instruction(kind, party, fen, order_id, case_id))

    def execute(self, instruction: Instruction) -> None:
        """The marketplace paid it: the held amount is posted to the party's paid-out."""
        at = self.instructions.index(instruction)
        self.instructions[at] = instruction._replace(state=EXECUTED)
        payable = accounts.party_payable(instruction.party)
        paid_out = accounts.party_paid_out(instruction.party)
        self.hold(payable, paid_out, -instruction.amount_fen)
        self.post(payable, paid_out, instruction.amount_fen)

    def take_from_merchant(
        self, merchant_id: str, fen: int, credit: accounts.AccountSpec
    ) -> tuple[int, int]:
        """From the payable, then the reserve, the rest as debt; returns (payable, debt)."""
        payable, reserve = (
            accounts.merchant_payable(merchant_id),
            accounts.merchant_reserve(merchant_id),
        )
        from_payable = min(fen, max(0, self.available(payable)))
        from_reserve = min(fen - from_payable, max(0, self.available(reserve)))
        into_debt = fen - from_payable - from_reserve
        self.post(payable, credit, from_payable)
        self.post(reserve, credit, from_reserve)
        self.post(accounts.merchant_debt(merchant_id), credit, into_debt)
        return from_payable, into_debt

    def net_debt(self, merchant_id: str) -> int:
        """Debt settled from the payable as far as it goes."""
        payable = accounts.merchant_payable(merchant_id)
        settled_fen = min(self.debt(merchant_id), max(0, self.available(payable)))
        if settled_fen > 0:
            self.post(payable, accounts.merchant_debt(merchant_id), settled_fen)
        return max(settled_fen, 0)


@dataclass
class Timer:
    kind: str
    subject: str
    due_at: datetime
    available_at: datetime  # the due instant, or later while its subject's facts settle

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.subject}"


@dataclass
class SubModel:
    id: str
    goods_fen: int
    custom: bool  # sold on the custom tier
    seven_day_returns: bool  # the tier as sold offered them
    refunded_fen: int = 0
    fee_fen: int | None = None

    @property
    def left_fen(self) -> int:
        return self.goods_fen - self.refunded_fen


@dataclass
class OrderModel:
    id: str
    buyer_id: str
    merchant_id: str
    subs: list[SubModel]
    shipping_fen: int
    state: str
    paid_at: datetime
    signed_at: datetime | None = None
    confirmed_at: datetime | None = None
    confirmed_by: str | None = None
    completed_at: datetime | None = None
    shipping_refunded: bool = False
    subsidy_fen: int = 0  # §3, one cap per order
    platform_costs_fen: int = 0  # subsidies, absorbed quick refunds, compensation
    charged_fen: int = 0  # of those, charged to the merchant by false shipments
    compensated_subs: set[str] = field(default_factory=set)  # §5: once per sub-order

    @property
    def released(self) -> bool:
        return self.state in RELEASED

    def sub(self, sub_id: str) -> SubModel | None:
        return next((sub for sub in self.subs if sub.id == sub_id), None)


@dataclass
class CaseModel:
    id: str
    type: str
    order_id: str
    sub_id: str
    buyer_id: str
    merchant_id: str
    opened_at: datetime
    requested_fen: int
    trigger: str | None
    state: str
    goods: str
    last_step_at: datetime
    offered_fen: int | None = None
    agreed_fen: int | None = None
    negotiated: bool = False
    official_pickup: bool = False
    quick_refunded_fen: int = 0
    refunded_fen: int = 0
    compensated_fen: int = 0
    complained: bool = False
    found_wrong_or_empty: bool = False  # the merchant's inspection: the platform rules
    outcome: str | None = None
    closed_at: datetime | None = None
    closed_by_timeout: bool = False
    owed_fen: int = 0  # instructed in its name: refunds, compensation, subsidies
    paid_fen: int = 0  # of which the marketplace reported paid

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def is_return(self) -> bool:
        return self.type in RETURNS

    def view(self) -> dict[str, Any]:
        """What the API must show of it."""
        return {
            "id": self.id,
            "type": self.type,
            "order_id": self.order_id,
            "sub_order_id": self.sub_id,
            "buyer_id": self.buyer_id,
            "merchant_id": self.merchant_id,
            "state": self.state,
            "goods": self.goods,
            "requested": yuan(self.requested_fen),
            "offered": None if self.offered_fen is None else yuan(self.offered_fen),
            "agreed": None if self.agreed_fen is None else yuan(self.agreed_fen),
            "refunded": yuan(self.refunded_fen),
            "quick_refunded": yuan(self.quick_refunded_fen),
            "compensated": yuan(self.compensated_fen),
            "trigger": self.trigger,
            "official_pickup": self.official_pickup,
            "negotiated": self.negotiated,
            "outcome": self.outcome,
            "opened_at": self.opened_at,
            "closed_at": self.closed_at,
        }


def shown(view: dict[str, Any]) -> dict[str, Any]:
    """The fields of a case view the model predicts (instants parsed)."""
    kept = {key: view[key] for key in VIEW_KEYS}
    kept["opened_at"] = instant(view["opened_at"])
    kept["closed_at"] = instant(view["closed_at"])
    return kept


VIEW_KEYS = (
    "id",
    "type",
    "order_id",
    "sub_order_id",
    "buyer_id",
    "merchant_id",
    "state",
    "goods",
    "requested",
    "offered",
    "agreed",
    "refunded",
    "quick_refunded",
    "compensated",
    "trigger",
    "official_pickup",
    "negotiated",
    "outcome",
    "opened_at",
    "closed_at",
)


@dataclass
class World:
    """The model: orders, cases, pending timers and the ledger, moved as the docs say.

    A command runs on a copy (`copy.deepcopy`): a refusal (`Refused`) leaves the model as
    it was, as the system must; `notes` collects the outcomes to count once it succeeded.
    """

    now: datetime
    orders: dict[str, OrderModel] = field(default_factory=dict)
    cases: dict[str, CaseModel] = field(default_factory=dict)
    timers: dict[str, Timer] = field(default_factory=dict)
    ledger: Ledger = field(default_factory=Ledger)
    notes: list[str] = field(default_factory=list)

    # ------------------------------------------------------------- timers
    def schedule(
        self, kind: str, subject: str, due_at: datetime, *, by_party: bool = True
    ) -> Timer:
        """A timer set by a party's fact waits until the facts settle; one the scheduler
        sets (a timeout's next deadline, a re-armed step) runs from its due instant."""
        available_at = max(due_at, self.now + FACTS_SETTLE) if by_party else due_at
        timer = Timer(kind, subject, due_at, available_at)
        self.timers[timer.id] = timer
        return timer

    def settle(self, subject: str) -> None:
        """A fact about `subject` arrived: its pending timers wait until it settles."""
        for timer in self.timers.values():
            if timer.subject == subject:
                timer.available_at = max(timer.available_at, self.now + FACTS_SETTLE)

    def deadline(self, case: CaseModel) -> Timer | None:
        return next((t for t in self.timers.values() if t.subject == case.id), None)

    def clear_deadline(self, case: CaseModel) -> None:
        for timer_id in [t.id for t in self.timers.values() if t.subject == case.id]:
            del self.timers[timer_id]

    def set_deadline(
        self,
        case: CaseModel,
        kind: str,
        starts_at: datetime,
        *,
        lasts: timedelta | None = None,
        by_party: bool = True,
    ) -> None:
        self.clear_deadline(case)
        if lasts is None:
            lasts = LASTS[kind]
            if kind == INSPECTION and not case.official_pickup:
                lasts = BUYER_SENT_INSPECTION
        self.schedule(kind, case.id, starts_at + lasts, by_party=by_party)

    # ------------------------------------------------------------- orders
    def open_cases_of(self, order_id: str) -> list[CaseModel]:
        return [c for c in self.cases.values() if c.order_id == order_id and c.is_open]

    def release(self, order: OrderModel, at: datetime, by: str) -> None:
        """Confirmation: post the holds to the merchant, charge each sub-order's fee on its
        goods left, open its refundable balance, release the shipping unless a case
        refunded it, then net the merchant's debt."""
        self.notes.append(
            f"released ({by}){' with open cases' if self.open_cases_of(order.id) else ''}"
        )
        order.state, order.confirmed_at, order.confirmed_by = CONFIRMED, at, by
        ledger = self.ledger
        escrow = accounts.merchant_escrow(order.merchant_id)
        payable = accounts.merchant_payable(order.merchant_id)
        for sub in order.subs:
            sub.fee_fen = fee_fen(sub.left_fen)
            if sub.left_fen <= 0:
                continue
            ledger.hold(escrow, payable, -sub.left_fen)
            ledger.post(escrow, payable, sub.left_fen)
            ledger.post(
                accounts.refundable_issued(sub.id),
                accounts.sub_order_refundable(sub.id),
                sub.left_fen,
            )
            ledger.post(payable, accounts.platform_fee_revenue(sub.id), sub.fee_fen)
        if order.shipping_fen and not order.shipping_refunded:
            ledger.hold(escrow, payable, -order.shipping_fen)
            ledger.post(escrow, payable, order.shipping_fen)
        if ledger.net_debt(order.merchant_id):
            self.notes.append("debt netted at a release")

    def resume(self, order: OrderModel) -> None:
        """The last open case of the order closed: arm the automatic step it held again
        (due when it was, or now), unless it is still pending."""
        if self.open_cases_of(order.id):
            return
        if order.state == SIGNED:
            assert order.signed_at is not None
            kind, due_at = AUTO_CONFIRM, order.signed_at + AUTO_CONFIRM_AFTER
        elif order.state == CONFIRMED:
            assert order.signed_at is not None and order.confirmed_at is not None
            kind = COMPLETE
            due_at = max(order.confirmed_at, window_end(order.signed_at, RETURN_WINDOW_DAYS))
        else:
            return
        if f"{kind}:{order.id}" not in self.timers:
            self.schedule(kind, order.id, max(due_at, self.now), by_party=False)

    def pay(self, order: OrderModel) -> None:
        """The buyer's payment into the merchant's escrow, held per sub-order (and for the
        shipping) towards its payable."""
        self.orders[order.id] = order
        escrow = accounts.merchant_escrow(order.merchant_id)
        payable = accounts.merchant_payable(order.merchant_id)
        goods_fen = sum(sub.goods_fen for sub in order.subs)
        self.ledger.post(accounts.rail_clearing(order.id), escrow, goods_fen + order.shipping_fen)
        for sub in order.subs:
            self.ledger.hold(escrow, payable, sub.goods_fen)
        self.ledger.hold(escrow, payable, order.shipping_fen)

    def ship(self, order: OrderModel) -> None:
        if order.state != PAID:
            refuse(409, "illegal_transition")
        self.settle(order.id)
        order.state = SHIPPED

    def sign(self, order: OrderModel) -> None:
        if order.state != SHIPPED:
            refuse(409, "illegal_transition")
        self.settle(order.id)
        order.state, order.signed_at = SIGNED, self.now
        self.schedule(AUTO_CONFIRM, order.id, self.now + AUTO_CONFIRM_AFTER)

    def confirm(self, order: OrderModel) -> None:
        if order.state != SIGNED:
            refuse(409, "illegal_transition")
        self.settle(order.id)
        self.timers.pop(f"{AUTO_CONFIRM}:{order.id}", None)
        self.release(order, self.now, "buyer")
        assert order.signed_at is not None
        self.schedule(
            COMPLETE, order.id, max(self.now, window_end(order.signed_at, RETURN_WINDOW_DAYS))
        )

    # -------------------------------------------------------------- money
    def refund(self, order: OrderModel, sub: SubModel, fen: int, case: CaseModel) -> None:
        """Refund part of a shipped sub-order: from the escrow hold while held; after release
        within the refundable balance, the fee on what is no longer sold posted back, the
        money taken from the merchant. One instruction pays the buyer."""
        ledger = self.ledger
        owed = accounts.buyer_payable(order.buyer_id)
        payable = accounts.merchant_payable(order.merchant_id)
        sub.refunded_fen += fen
        if not order.released:
            ledger.hold(accounts.merchant_escrow(order.merchant_id), payable, -fen)
            ledger.post(accounts.merchant_escrow(order.merchant_id), owed, fen)
            self.notes.append("refund from escrow")
        else:
            ledger.post(
                accounts.sub_order_refundable(sub.id), accounts.refundable_issued(sub.id), fen
            )
            assert sub.fee_fen is not None
            fee_now_fen = fee_fen(sub.left_fen)
            if fee_now_fen < sub.fee_fen:
                ledger.post(
                    accounts.platform_fee_revenue(sub.id), payable, sub.fee_fen - fee_now_fen
                )
                sub.fee_fen = fee_now_fen
            _, into_debt = ledger.take_from_merchant(order.merchant_id, fen, owed)
            self.notes.append(f"refund after release{' into debt' if into_debt else ''}")
        self.instruct("refund", f"buyer:{order.buyer_id}", fen, order, case)

    def instruct(
        self, kind: str, party: str, fen: int, order: OrderModel, case: CaseModel | None
    ) -> None:
        self.ledger.instruct(kind, party, fen, order.id, None if case is None else case.id)
        if case is not None:
            case.owed_fen += fen

    def refund_shipping(self, order: OrderModel, case: CaseModel) -> None:
        """Every sub-order refunded in full: the shipping goes back too, once per order."""
        if order.shipping_fen <= 0 or order.shipping_refunded:
            return
        if any(sub.left_fen for sub in order.subs):
            return
        order.shipping_refunded = True
        owed = accounts.buyer_payable(order.buyer_id)
        escrow = accounts.merchant_escrow(order.merchant_id)
        if not order.released:
            self.ledger.hold(
                escrow, accounts.merchant_payable(order.merchant_id), -order.shipping_fen
            )
            self.ledger.post(escrow, owed, order.shipping_fen)
        else:
            self.ledger.take_from_merchant(order.merchant_id, order.shipping_fen, owed)
        self.notes.append(f"shipping refunded with the whole order ({order.state})")
        self.instruct("refund", f"buyer:{order.buyer_id}", order.shipping_fen, order, case)

    def settle_refund(self, case: CaseModel, order: OrderModel, fen: int, *, strict: bool) -> int:
        """What the case settles on, less what it refunded already, never more than it
        asked; more than is left of the sub-order is refused for a party's decision
        (`strict`) and cut to what is left for a timeout or a fact."""
        sub = order.sub(case.sub_id)
        assert sub is not None
        due_fen = min(fen, case.requested_fen) - case.refunded_fen
        if strict and due_fen > sub.left_fen:
            refuse(409, "refund_exceeds_remaining")
        due_fen = min(due_fen, sub.left_fen)
        if due_fen <= 0:
            return 0
        self.refund(order, sub, due_fen, case)
        case.refunded_fen += due_fen
        self.refund_shipping(order, case)
        return due_fen

    def net_paid_fen(self, buyer_id: str) -> int:
        """What the buyer paid (every order here was paid within the trailing 12 months),
        less refunds: the super-buyer test."""
        return sum(
            sub.left_fen
            for order in self.orders.values()
            if order.buyer_id == buyer_id
            for sub in order.subs
        )

    def subsidy_cap_fen(self, case: CaseModel, order: OrderModel) -> int:
        sub = order.sub(case.sub_id)
        assert sub is not None
        super_buyer = order.buyer_id in MARKED_SUPER
        if self.net_paid_fen(order.buyer_id) >= SUPER_BUYER_MIN_NET_FEN:
            super_buyer = True
        if super_buyer:
            return SUPER_BUYER_CAP_FEN
        large = sub.goods_fen >= LARGE_ORDER_MIN_FEN
        if large and MERCHANT_TIER[order.merchant_id] in LARGE_ORDER_TIERS:
            return LARGE_ORDER_CAP_FEN
        return DEFAULT_CAP_FEN

    def pickup_subsidy(
        self, case: CaseModel, order: OrderModel, carrier: str, freight_fen: int
    ) -> int:
        """§3: min(freight, the cap less what earlier pickups of the order got)."""
        cap_fen = self.subsidy_cap_fen(case, order)
        subsidy_fen = min(freight_fen, max(cap_fen - order.subsidy_fen, 0))
        if order.subsidy_fen and subsidy_fen < freight_fen:
            self.notes.append("subsidy: the order's cap shared with an earlier pickup")
        elif subsidy_fen < freight_fen:
            self.notes.append(f"subsidy: freight over the cap ({yuan(cap_fen)})")
        else:
            self.notes.append(f"subsidy: freight {'0' if not freight_fen else 'within the cap'}")
        order.subsidy_fen += subsidy_fen
        order.platform_costs_fen += subsidy_fen
        if subsidy_fen > 0:
            self.ledger.post(
                accounts.platform_subsidy_expense(order.id),
                accounts.carrier_payable(carrier),
                subsidy_fen,
            )
            self.instruct("carrier_subsidy", f"carrier:{carrier}", subsidy_fen, order, case)
        return subsidy_fen

    def compensate_custom(self, case: CaseModel, order: OrderModel) -> None:
        """§5: the platform pays the buyer 5% of the sub-order's goods, capped, once per
        sub-order (custom_compensation.per_sub_order)."""
        sub = order.sub(case.sub_id)
        assert sub is not None
        if sub.id in order.compensated_subs:
            self.notes.append("custom compensation: the sub-order had its one")
            return
        order.compensated_subs.add(sub.id)
        uncapped_fen = apply_rate(sub.goods_fen, CUSTOM_RATE)
        fen = min(uncapped_fen, CUSTOM_CAP_FEN)
        self.notes.append(f"custom compensation{' capped' if fen < uncapped_fen else ''}")
        order.platform_costs_fen += fen
        self.ledger.post(
            accounts.platform_subsidy_expense(sub.id), accounts.buyer_payable(order.buyer_id), fen
        )
        self.instruct("compensation", f"buyer:{order.buyer_id}", fen, order, case)
        case.compensated_fen += fen

    def pay_transit_claim(self, case: CaseModel, order: OrderModel, value_fen: int) -> None:
        """§7: the platform pays the merchant the goods' value, capped."""
        fen = min(value_fen, TRANSIT_CAP_FEN)
        self.notes.append(f"transit claim paid{' (capped)' if fen < value_fen else ''}")
        self.ledger.post(
            accounts.platform_subsidy_expense(case.sub_id),
            accounts.merchant_payable(order.merchant_id),
            fen,
        )
        case.compensated_fen += fen

    def absorb_quick_refund(self, case: CaseModel, order: OrderModel) -> None:
        """§4: an empty or wrong quick-refunded return ruled for the merchant: the platform
        bears the quick refund, paid back to the merchant's payable."""
        fen = case.quick_refunded_fen
        if fen <= 0:
            return
        self.notes.append("quick refund absorbed by the platform")
        order.platform_costs_fen += fen
        self.ledger.post(
            accounts.platform_subsidy_expense(case.sub_id),
            accounts.merchant_payable(order.merchant_id),
            fen,
        )

    def charge_false_shipment(self, case: CaseModel, order: OrderModel) -> None:
        """§6: every platform cost decided on the order so far is the merchant's."""
        cost_fen = order.platform_costs_fen - order.charged_fen
        order.charged_fen += max(cost_fen, 0)
        self.notes.append(f"false shipment charged {'nothing' if cost_fen <= 0 else 'costs'}")
        if cost_fen > 0:
            self.ledger.take_from_merchant(
                order.merchant_id, cost_fen, accounts.platform_recoveries(case.sub_id)
            )

    def finish(
        self,
        case: CaseModel,
        order: OrderModel,
        outcome: str,
        when: datetime,
        fen: int,
        *,
        strict: bool,
    ) -> None:
        """Close the case and settle it."""
        if case.type == TRANSIT:
            if outcome in (GRANTED, FOR_MERCHANT):
                self.pay_transit_claim(case, order, fen)
        else:
            self.settle_refund(case, order, fen, strict=strict)
            if case.type == CUSTOM and outcome in BUYER_WINS:
                self.compensate_custom(case, order)
        case.outcome, case.closed_at = outcome, when
        self.notes.append(f"closed {case.type}: {outcome}")

    # ------------------------------------------------------------ visibility
    @staticmethod
    def visible(caller: str, buyer_id: str, merchant_id: str) -> bool:
        role, party = CALLERS[caller]
        if role is Role.BUYER:
            return party == buyer_id
        if role is Role.MERCHANT:
            return party == merchant_id
        return True

    # -------------------------------------------------------------- open
    def left_to_ask_fen(self, case_type: str, sub: SubModel) -> int:
        """What is left of the sub-order less what its other open cases ask (a transit
        claim asks the goods' value and is not counted)."""
        if case_type == TRANSIT:
            return sub.goods_fen
        asked_fen = sum(
            c.requested_fen - c.refunded_fen
            for c in self.cases.values()
            if c.sub_id == sub.id and c.is_open and c.type != TRANSIT
        )
        return sub.left_fen - asked_fen

    def open_case(self, caller: str, order_id: str, body: dict[str, Any]) -> CaseModel:
        case_type = body["type"]
        if case_type not in CASE_TYPES:
            refuse(422, "invalid_choice")
        if kind_of(caller) not in (*OPENERS[case_type], "operator"):
            refuse(403, "forbidden")
        trigger = body.get("trigger")
        if case_type == CUSTOM and not trigger:
            refuse(422, "trigger_missing")
        if trigger is not None and case_type != CUSTOM:
            refuse(422, "trigger_not_applicable")
        order = self.orders[order_id]
        if not self.visible(caller, order.buyer_id, order.merchant_id):
            refuse(404, "order_not_found")
        if order.state == PAID:
            refuse(409, "case_before_shipment")
        sub = order.sub(body["sub_order_id"])
        if sub is None:
            refuse(422, "unknown_sub_order")
        if any(
            c.sub_id == sub.id and c.type == case_type and c.is_open for c in self.cases.values()
        ):
            refuse(409, "case_already_open")
        self.check_eligible(case_type, order, sub)
        left_fen = self.left_to_ask_fen(case_type, sub)
        compensation_only = case_type == CUSTOM and not to_fen(body.get("amount") or "0")
        if case_type != TRANSIT and left_fen <= 0 and not compensation_only:
            refuse(409, "refund_already_asked")  # docs/aftersales.md: nothing left to ask
        amount_fen = left_fen if body.get("amount") is None else to_fen(body["amount"])
        if amount_fen < 0 or (amount_fen == 0 and case_type != CUSTOM):
            refuse(422, "amount_not_positive")
        if amount_fen > max(left_fen, 0):
            refuse(422, "refund_exceeds_remaining")
        if case_type == CUSTOM and trigger not in TRIGGERS:
            refuse(422, "invalid_choice")
        case = CaseModel(
            id=body["id"],
            type=case_type,
            order_id=order.id,
            sub_id=sub.id,
            buyer_id=order.buyer_id,
            merchant_id=order.merchant_id,
            opened_at=self.now,
            requested_fen=amount_fen,
            trigger=trigger,
            state=PENDING,
            goods=WITH_BUYER if case_type in RETURNS else NOT_RETURNED,
            last_step_at=self.now,
        )
        self.cases[case.id] = case
        self.notes.append(f"opened {case_type} ({order.state})")
        if case_type == FALSE_SHIPMENT:  # a finding, settled at once
            case.state = CLOSED
            self.charge_false_shipment(case, order)
            self.finish(case, order, FOR_BUYER, self.now, amount_fen, strict=True)
        elif case_type == TRANSIT:  # the platform decides at once
            case.state = ESCALATED
            self.set_deadline(case, RULING, self.now)
        else:
            self.set_deadline(
                case, MERCHANT_REVIEW if case.is_return else MERCHANT_ANSWER, self.now
            )
        return case

    def check_eligible(self, case_type: str, order: OrderModel, sub: SubModel) -> None:
        if case_type == NOT_RECEIVED and order.released:
            refuse(409, "receipt_confirmed")
        if case_type == CUSTOM and not sub.custom:
            refuse(409, "not_custom_goods")
        if case_type == NO_REASON:
            if not sub.seven_day_returns:
                refuse(409, "not_offered")
            if order.signed_at is None:
                refuse(409, "not_signed")
            if self.now >= window_end(order.signed_at, RETURN_WINDOW_DAYS):
                refuse(409, "window_closed")
        if case_type in (QUALITY, RETURN_QUALITY):
            if order.signed_at is None:
                refuse(409, "not_signed")
            if self.now >= window_end(order.signed_at, QUALITY_CLAIM_DAYS):
                refuse(409, "window_closed")

    # --------------------------------------------------------------- act
    def act(self, caller: str, case_id: str, action: str, body: dict[str, Any]) -> CaseModel:
        role = kind_of(caller)
        parties, states = ACTIONS[action]
        allowed = (
            *parties,
            "operator",
            *(("marketplace",) if action in MARKETPLACE_ACTIONS else ()),
        )
        if role not in allowed:
            refuse(403, "forbidden")
        if any(to_fen(body.get(name) or "0") < 0 for name in ("amount", "freight")):
            refuse(422, "amount_negative")  # amounts are read before anything else
        case = self.cases.get(case_id)
        if case is None or not self.visible(caller, case.buyer_id, case.merchant_id):
            refuse(404, "case_not_found")
        when = instant(body.get("occurred_at")) or self.now
        running = self.deadline(case)
        late = running is not None and when >= running.due_at
        if (late or case.closed_by_timeout) and role != "operator":
            refuse(409, "deadline_passed")  # however dated: it lost the race to the timeout
        if when < case.last_step_at:
            refuse(422, "occurred_before_previous_step")
        if action in RETURN_ACTIONS and not case.is_return:
            refuse(409, "not_a_return")  # docs: "a return's action on a refund-only case"
        if case.state not in states:
            refuse(409, "illegal_case_transition")
        order = self.orders[case.order_id]
        self.settle(case.id)
        getattr(self, f"do_{action}")(case, order, role, body, when)
        case.last_step_at = when
        if not case.is_open:
            self.clear_deadline(case)
            case.closed_at = case.closed_at or when
            self.resume(order)
        return case

    @staticmethod
    def side(role: str, allowed: tuple[str, ...]) -> None:
        if role not in allowed:
            refuse(403, "not_your_move")

    def do_accept(
        self, case: CaseModel, order: OrderModel, role: str, body: dict[str, Any], when: datetime
    ) -> None:
        if case.state == NEGOTIATING:  # the buyer takes the offer
            self.side(role, BUYER_SIDE)
            assert case.offered_fen is not None
            case.agreed_fen, case.state = case.offered_fen, CLOSED
            if case.is_return:
                case.goods = NOT_RETURNED
            self.finish(case, order, AGREED, when, case.offered_fen, strict=True)
            return
        self.side(role, MERCHANT_SIDE)
        case.agreed_fen = case.requested_fen
        if case.is_return:
            case.state = ACCEPTED
            self.set_deadline(case, HANDOVER, when)
            return
        case.state = CLOSED
        self.finish(case, order, AGREED, when, case.requested_fen, strict=True)

    def do_offer(
        self, case: CaseModel, order: OrderModel, role: str, body: dict[str, Any], when: datetime
    ) -> None:
        if body.get("amount") is None:
            refuse(422, "amount_missing")
        amount_fen = to_fen(body["amount"])
        if not 0 < amount_fen < case.requested_fen:
            refuse(422, "offer_out_of_range")
        case.offered_fen, case.negotiated, case.state = amount_fen, True, NEGOTIATING
        self.set_deadline(case, OFFER_RESPONSE, when)

    def do_decline(
        self, case: CaseModel, order: OrderModel, role: str, body: dict[str, Any], when: datetime
    ) -> None:
        if case.state == NEGOTIATING:  # the buyer turns the offer down
            self.side(role, BUYER_SIDE)
            case.state = PENDING
            self.set_deadline(case, MERCHANT_REVIEW if case.is_return else MERCHANT_ANSWER, when)
            return
        self.side(role, MERCHANT_SIDE)
        if not case.negotiated:
            refuse(409, "refusal_before_negotiation")
        case.state = REFUSED
        self.set_deadline(case, ESCALATION_WINDOW, when)

    @staticmethod
    def goods_at(case: CaseModel, *allowed: str) -> None:
        if case.goods not in allowed:
            refuse(409, "illegal_case_transition")

    def do_handover(
        self, case: CaseModel, order: OrderModel, role: str, body: dict[str, Any], when: datetime
    ) -> None:
        self.goods_at(case, WITH_BUYER)
        if body.get("official_logistics"):
            case.goods = AWAITING_PICKUP  # the handover deadline keeps running
            return
        if not (body.get("carrier") and body.get("tracking_number")):
            refuse(422, "tracking_missing")
        case.goods = IN_TRANSIT
        self.clear_deadline(case)

    def do_pickup(
        self, case: CaseModel, order: OrderModel, role: str, body: dict[str, Any], when: datetime
    ) -> None:
        self.goods_at(case, WITH_BUYER, AWAITING_PICKUP)
        carrier = body.get("carrier")
        if not carrier:
            refuse(422, "carrier_missing")
        freight_fen = 0 if body.get("freight") is None else to_fen(body["freight"])
        if freight_fen < 0:
            refuse(422, "amount_negative")
        case.official_pickup, case.goods = True, IN_TRANSIT
        self.clear_deadline(case)
        self.pickup_subsidy(case, order, carrier, freight_fen)
        if when >= QUICK_REFUND_FROM:
            refunded_fen = self.settle_refund(case, order, case.requested_fen, strict=False)
            case.quick_refunded_fen = refunded_fen
            self.notes.append(f"quick refund{'' if refunded_fen else ': nothing left'}")

    def do_arrival(
        self, case: CaseModel, order: OrderModel, role: str, body: dict[str, Any], when: datetime
    ) -> None:
        self.goods_at(case, IN_TRANSIT)
        case.goods = RECEIVED
        self.set_deadline(case, INSPECTION, when)

    def do_inspection(
        self, case: CaseModel, order: OrderModel, role: str, body: dict[str, Any], when: datetime
    ) -> None:
        self.goods_at(case, RECEIVED)
        if body.get("result") == "ok":
            case.state = CLOSED
            self.finish(case, order, AGREED, when, case.requested_fen, strict=False)
            return
        if body.get("result") != "wrong_or_empty":
            refuse(422, "invalid_choice")
        case.state, case.goods, case.found_wrong_or_empty = ESCALATED, WRONG_OR_EMPTY, True
        self.set_deadline(case, RULING, when)

    def do_escalate(
        self, case: CaseModel, order: OrderModel, role: str, body: dict[str, Any], when: datetime
    ) -> None:
        case.state = ESCALATED
        self.set_deadline(case, RULING, when)

    def do_ruling(
        self, case: CaseModel, order: OrderModel, role: str, body: dict[str, Any], when: datetime
    ) -> None:
        claimant, against = (
            ("merchant", "platform") if case.type == TRANSIT else ("buyer", "merchant")
        )
        result = body.get("result")
        if result not in (claimant, against):
            refuse(422, "invalid_choice")
        if not (body.get("note") or "").strip():
            refuse(422, "note_missing")
        if result != claimant and body.get("amount") is not None:
            refuse(422, "amount_not_allowed")  # a ruling against the claimant grants nothing
        amount_fen = case.requested_fen if body.get("amount") is None else to_fen(body["amount"])
        # Above 0, at most what was asked, and never below what a quick refund already paid.
        least_fen = max(case.refunded_fen, 1)
        if result == claimant and not least_fen <= amount_fen <= case.requested_fen:
            refuse(422, "amount_out_of_range")
        if body.get("send_goods_back") and not case.is_return:
            refuse(409, "not_a_return")
        if body.get("send_goods_back") and case.goods in (WITH_BUYER, AWAITING_PICKUP):
            refuse(409, "not_a_return")  # never picked up: nothing came back
        case.state = CLOSED
        if body.get("send_goods_back"):
            case.goods = SENT_BACK
        if case.type == TRANSIT:
            outcome = FOR_MERCHANT if result == claimant else FOR_PLATFORM
            self.finish(
                case, order, outcome, when, amount_fen if result == claimant else 0, strict=True
            )
            return
        if result == claimant:
            self.finish(case, order, FOR_BUYER, when, amount_fen, strict=True)
            return
        # A ruling for the merchant: the platform bears a quick refund the merchant proved
        # empty or wrong, unless the buyer was malicious (docs: "Quick refund (§4)"),
        # whether or not the goods are sent back.
        if case.found_wrong_or_empty:
            sent_back = " (goods sent back)" if body.get("send_goods_back") else ""
            if not body.get("buyer_malicious"):
                self.notes.append(f"empty return ruled for the merchant{sent_back}")
                self.absorb_quick_refund(case, order)
            else:
                self.notes.append(
                    f"empty return ruled for the merchant, buyer malicious{sent_back}"
                )
        self.finish(case, order, FOR_MERCHANT, when, 0, strict=True)

    def do_complain(
        self, case: CaseModel, order: OrderModel, role: str, body: dict[str, Any], when: datetime
    ) -> None:
        self.side(role, BUYER_SIDE)
        case.complained = True

    def do_expedite(
        self, case: CaseModel, order: OrderModel, role: str, body: dict[str, Any], when: datetime
    ) -> None:
        if not case.complained:
            refuse(409, "no_complaint")
        running = self.deadline(case)
        shortened = when + COMPLAINT_RESPONSE
        if running is None or shortened >= running.due_at:
            refuse(409, "deadline_already_sooner")
        self.set_deadline(case, running.kind, when, lasts=COMPLAINT_RESPONSE)

    def do_withdraw(
        self, case: CaseModel, order: OrderModel, role: str, body: dict[str, Any], when: datetime
    ) -> None:
        self.side(role, MERCHANT_SIDE if case.type == TRANSIT else BUYER_SIDE)
        if case.refunded_fen:
            refuse(409, "case_refunded")
        case.state, case.outcome, case.closed_at = WITHDRAWN, "withdrawn", when
        self.notes.append(f"closed {case.type}: withdrawn")

    # -------------------------------------------------------------- ticks
    def tick(self) -> list[tuple[str, str, str]]:
        """What the scheduler fires by now, in order of (available, id), each timer acting
        as of its due instant; a timer a firing arms or moves takes its place in that order
        when the clock has reached it (a handover armed by a review's timeout, due before
        an auto-confirmation of the same pass, fires first)."""
        fired: list[tuple[str, str, str]] = []
        queue = [(t.available_at, t.id) for t in self.timers.values() if t.available_at <= self.now]
        heapq.heapify(queue)
        while queue:
            _, timer_id = heapq.heappop(queue)
            timer = self.timers.get(timer_id)  # what an earlier firing cancelled is skipped
            if timer is None or timer.available_at > self.now:
                continue
            before = {t.id: t.available_at for t in self.timers.values()}
            del self.timers[timer.id]
            fired.append((timer.kind, timer.subject, self.fire(timer)))
            for armed in self.timers.values():
                if before.get(armed.id) != armed.available_at and armed.available_at <= self.now:
                    heapq.heappush(queue, (armed.available_at, armed.id))
        return fired

    def fire(self, timer: Timer) -> str:
        if timer.kind == AUTO_CONFIRM:
            order = self.orders[timer.subject]
            if order.state != SIGNED:
                return f"skipped: order is {order.state}"
            if self.open_cases_of(order.id):
                self.notes.append("auto-confirmation held by an open case")
                return "held"
            self.release(order, timer.due_at, "automatic")
            assert order.signed_at is not None
            due_at = max(timer.due_at, window_end(order.signed_at, RETURN_WINDOW_DAYS))
            self.schedule(COMPLETE, order.id, due_at, by_party=False)
            return "confirmed"
        if timer.kind == COMPLETE:
            order = self.orders[timer.subject]
            if order.state != CONFIRMED:
                return f"skipped: order is {order.state}"
            if self.open_cases_of(order.id):
                self.notes.append("completion held by an open case")
                return "held"
            order.state, order.completed_at = COMPLETED, timer.due_at
            return "completed"
        case = self.cases[timer.subject]
        order = self.orders[case.order_id]
        when = timer.due_at
        case.last_step_at = when
        if timer.kind == MERCHANT_REVIEW:
            case.agreed_fen, case.state = case.requested_fen, ACCEPTED
            self.set_deadline(case, HANDOVER, when, by_party=False)
        elif timer.kind in (MERCHANT_ANSWER, RULING, INSPECTION):
            case.state = CLOSED
            self.finish(case, order, GRANTED, when, case.requested_fen, strict=False)
        else:
            case.state, case.outcome, case.closed_at = CLOSED, CLOSED_ON_TIMEOUT, when
            self.notes.append(f"closed {case.type}: {CLOSED_ON_TIMEOUT}")
        self.notes.append(f"timeout {timer.kind}: case {case.state}")
        if not case.is_open:
            case.closed_by_timeout = True
            self.clear_deadline(case)
            self.resume(order)
        return f"{timer.kind}: case {case.state}"

    # ------------------------------------------------------------ payouts
    def payout_run(self) -> list[dict[str, Any]]:
        """An operator's run: each merchant with money on its payable, by id: debt netted,
        the rest instructed from the minimum up (no reserve share)."""
        results = []
        for merchant_id in sorted(MERCHANT_TIER):
            payable = accounts.merchant_payable(merchant_id)
            if self.ledger.available(payable) <= 0:
                continue
            netted_fen = self.ledger.net_debt(merchant_id)
            free_fen = max(0, self.ledger.available(payable))
            paid_fen = free_fen if free_fen >= PAYOUT_MINIMUM_FEN else 0
            if paid_fen:
                self.ledger.instruct("payout", f"merchant:{merchant_id}", paid_fen, None, None)
                self.notes.append("payout run: paid")
            results.append(
                {
                    "merchant_id": merchant_id,
                    "amount": yuan(paid_fen),
                    "reserve_moved": "0.00",
                    "debt_netted": yuan(netted_fen),
                }
            )
        return results


# ------------------------------------------------------------------- commands
@dataclass(frozen=True)
class Command:
    kind: str  # open, act (a case action); ship, sign, confirm (order facts)
    caller: str
    subject: str  # the order (open, sign, confirm) or the case (act)
    body: dict[str, Any] | None
    action: str | None = None

    @property
    def path(self) -> str:
        if self.kind == "open":
            return f"/v1/orders/{self.subject}/cases"
        if self.kind == "act":
            return f"/v1/cases/{self.subject}/{self.action}"
        return f"/v1/orders/{self.subject}/{ORDER_FACTS[self.kind]}"

    @property
    def label(self) -> str:
        return self.action if self.kind == "act" and self.action else self.kind


# ------------------------------------------------------------------ the machine
class CaseMachine(RuleBasedStateMachine):
    harness: ClassVar[Harness]  # bound by the test function

    def __init__(self) -> None:
        super().__init__()
        self.rt = self.harness.rt
        self.clock = self.harness.clock
        self.client = self.harness.client
        self.clock.set(self.harness.start)
        self.tokens = wipe_and_seed(self.rt, DEMO_CALLERS)
        self.world = World(self.clock.now())
        self.sent: list[Sent] = []
        self.keys = itertools.count(1)
        self.case_numbers = itertools.count(1)

    # ------------------------------------------------------------- plumbing
    def _headers(self, caller: str, key: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.tokens[caller]}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    def _post(self, command: Command, key: str | None) -> httpx2.Response:
        return self.client.post(
            command.path, json=command.body, headers=self._headers(command.caller, key)
        )

    def _get(self, path: str, **params: Any) -> Any:
        response = self.client.get(path, params=params, headers=self._headers("operator"))
        assert response.status_code == 200, response.text
        return response.json()

    def _key(self, data: st.DataObject) -> str | None:
        return f"key-{next(self.keys)}" if data.draw(st.booleans(), label="keyed") else None

    def _now(self) -> datetime:
        return self.clock.now()

    def _set_clock(self, at: datetime) -> None:
        self.clock.set(at)
        self.world.now = at

    def _snapshot(self) -> tuple[Any, ...]:
        """Row counts of every table, every account's balance, every case and timer."""
        counts = [
            select(func.count()).select_from(t).scalar_subquery() for t in metadata.sorted_tables
        ]
        with read_transaction(self.rt.engine) as connection:
            rows = tuple(connection.execute(select(*counts)).one())
            balances = sorted(
                tuple(row)
                for row in connection.execute(
                    select(
                        ledger_accounts.c.id,
                        ledger_accounts.c.debits_posted_fen,
                        ledger_accounts.c.credits_posted_fen,
                        ledger_accounts.c.debits_pending_fen,
                        ledger_accounts.c.credits_pending_fen,
                    )
                )
            )
            case_rows = sorted(
                tuple(row)
                for row in connection.execute(
                    select(cases.c.id, cases.c.state, cases.c.goods, cases.c.version)
                )
            )
            timer_rows = sorted(
                tuple(row)
                for row in connection.execute(
                    select(timers.c.id, timers.c.status, timers.c.due_at, timers.c.available_at)
                )
            )
        return rows, balances, case_rows, timer_rows

    def _model_run(self, world: World, command: Command) -> CaseModel | OrderModel:
        body = command.body or {}
        if command.kind == "open":
            return world.open_case(command.caller, command.subject, body)
        if command.kind == "act":
            assert command.action is not None
            return world.act(command.caller, command.subject, command.action, body)
        order = world.orders[command.subject]
        if command.kind == "ship":
            world.ship(order)
        elif command.kind == "sign":
            world.sign(order)
        else:
            world.confirm(order)
        return order

    def _execute(self, command: Command, key: str | None) -> None:
        """Send a command the system has not stored: the model predicts its answer (on a
        copy of itself, kept only if the command succeeds); a refusal writes nothing."""
        trial = copy.deepcopy(self.world)
        trial.now, trial.notes = self._now(), []
        code: str | None = None
        try:
            subject = self._model_run(trial, command)
            status = 201 if command.kind == "open" else 200
        except Refused as refused:
            status, code = refused.status, refused.code
        before = self._snapshot() if code is not None else None
        response = self._post(command, key)
        payload = response.json()
        assert response.status_code == status, (command, key, response.status_code, payload)
        assert "idempotent-replayed" not in response.headers
        event(f"{command.label}: {code or status}")
        if code is not None:
            assert payload["code"] == code, (command, payload)
            assert self._snapshot() == before, ("a refusal wrote", command, payload)
        else:
            self.world = trial
            for note in trial.notes:
                event(note)
            trial.notes = []
            if isinstance(subject, CaseModel):
                assert shown(payload) == subject.view(), (command, payload, subject)
                self._check_detail(subject)
            else:
                assert payload["state"] == subject.state, (command, payload)
        if key is not None:
            previous = [s for s in self.sent if s.key == key and s.command == command]
            if previous:  # a refusal retried: the key now holds whatever this answered
                previous[0].status, previous[0].payload = response.status_code, payload
            else:
                self.sent.append(Sent(command, key, response.status_code, payload))

    def _check_detail(self, case: CaseModel) -> None:
        """The case the command acted on, as `GET /v1/cases/{id}` shows it."""
        detail = self._get(f"/v1/cases/{case.id}")
        assert shown(detail) == case.view()
        running = self.world.deadline(case)
        want = None if running is None else (running.kind, running.due_at)
        got = detail["deadline"]
        assert (None if got is None else (got["kind"], instant(got["due_at"]))) == want
        assert (detail["owed"], detail["paid"]) == (yuan(case.owed_fen), yuan(case.paid_fen))

    def _tick(self) -> None:
        """Tick the real scheduler; it must fire what the model says, in effect."""
        scheduler = Scheduler(
            self.rt.engine,
            self.clock,
            self.rt.rulebooks,
            history=self.rt.history,
            kinds=TICKED_KINDS,
        )
        fired = scheduler.tick()
        self.world.now = self._now()
        expected = self.world.tick()
        for note in self.world.notes:
            event(note)
        self.world.notes = []
        assert not [item for item in fired if item.failed], fired
        got = sorted(
            (
                item.kind,
                item.subject_id,
                "held" if item.outcome.startswith("held") else item.outcome,
            )
            for item in fired
        )
        assert got == sorted(expected), (got, expected)

    # ----------------------------------------------------------------- rules
    @initialize(data=st.data())
    def place_orders(self, data: st.DataObject) -> None:
        """One to three orders, paid and shipped now, then signed or confirmed (released),
        sometimes paid out at once (so the merchant's payable is empty when cases come)."""
        for number in range(1, data.draw(st.integers(1, 3), label="orders") + 1):
            merchant_id = data.draw(st.sampled_from(sorted(LINES, reverse=True)), label="merchant")
            buyer_id = data.draw(st.sampled_from(sorted(BUYER_ROLE, reverse=True)), label="buyer")
            last = data.draw(st.sampled_from([SIGNED, SHIPPED, CONFIRMED, PAID]), label="taken to")
            # An order left unshipped buys nothing with a shipping promise (§10b is not modelled).
            choices = [line for line in LINES[merchant_id] if last != PAID or not promised(line)]
            count = data.draw(st.integers(1, 3), label="lines")
            lines = [data.draw(st.sampled_from(choices), label="line") for _ in range(count)]
            shipping = data.draw(st.sampled_from(["0.00", "20.00"]), label="shipping")
            self._place(f"O{number}", merchant_id, buyer_id, lines, shipping, last)
        if data.draw(st.booleans(), label="paid out at once"):
            self._payout_run()
        for _ in range(data.draw(st.integers(1, 3), label="cases at once")):
            self.a_claimant_opens_a_case(data)
        for case in list(self.world.cases.values()):  # each some way along its path at once
            for _ in range(data.draw(st.sampled_from([0, 3, 5, 1, 2, 4]), label="steps at once")):
                self._next_step(data, case)

    def _place(
        self,
        order_id: str,
        merchant_id: str,
        buyer_id: str,
        lines: list[tuple[str, TierKind, int]],
        shipping: str,
        last: str,
    ) -> None:
        body_lines: list[dict[str, Any]] = []
        subs = []
        for number, (product_id, tier_kind, quantity) in enumerate(lines, start=1):
            line: dict[str, Any] = {"product_id": product_id, "quantity": quantity}
            if tier_kind is TierKind.CUSTOM:
                line["tier"] = tier_kind.value
            body_lines.append(line)
            tier = next(t for t in CATALOGUE[product_id].tiers if t.kind is tier_kind)
            subs.append(
                SubModel(
                    f"{order_id}-{number}",
                    tier.price_fen * quantity,
                    tier_kind is TierKind.CUSTOM,
                    tier.seven_day_returns,
                )
            )
        body = {"id": order_id, "buyer_id": buyer_id, "lines": body_lines, "shipping": shipping}
        placed = self.client.post("/v1/orders", json=body, headers=self._headers("marketplace"))
        assert placed.status_code == 201, placed.text
        now = self._now()
        state = PAID if last == PAID else SHIPPED
        order = OrderModel(order_id, buyer_id, merchant_id, subs, to_fen(shipping), state, now)
        assert placed.json()["total"] == yuan(sum(s.goods_fen for s in subs) + order.shipping_fen)
        facts = [("payment", {"amount": placed.json()["total"]})]
        if last != PAID:
            facts.append(("shipment", {"carrier": "SF", "tracking_number": f"SF-{order_id}"}))
        for suffix, fact in facts:
            answer = self.client.post(
                f"/v1/orders/{order_id}/{suffix}", json=fact, headers=self._headers("marketplace")
            )
            assert answer.status_code == 200, answer.text
        self.world.pay(order)
        steps = {PAID: [], SHIPPED: [], SIGNED: ["sign"], CONFIRMED: ["sign", "confirm"]}[last]
        for step in steps:
            self._execute(Command(step, "marketplace", order_id, None), None)

    def _order_fact(self, data: st.DataObject) -> None:
        """The marketplace reports a signing, or the buyer confirms receipt (releasing the
        money even while a case is open)."""
        movable = [o for o in self.world.orders.values() if o.state in (PAID, SHIPPED, SIGNED)]
        if not movable:
            return
        order = data.draw(st.sampled_from(movable), label="order")
        if order.state == PAID:
            body = {"carrier": "SF", "tracking_number": f"SF-{order.id}"}
            command = Command("ship", "marketplace", order.id, body)
        elif order.state == SHIPPED:
            command = Command("sign", "marketplace", order.id, None)
        else:
            caller = data.draw(st.sampled_from([BUYER_ROLE[order.buyer_id], "marketplace"]))
            command = Command("confirm", caller, order.id, None)
        self._execute(command, self._key(data))

    @rule(data=st.data())
    def a_case_moves_on(self, data: st.DataObject) -> None:
        """Happy path: an open case takes one of its next natural steps, by whose move it is
        (with no case open, a claimant opens one).

        Named to sort first: Hypothesis draws the first rule by name more often, and this
        is the rule that takes cases through negotiation, the goods' journey and rulings.
        """
        world = self.world
        movable = sorted((c for c in world.cases.values() if c.is_open), key=lambda c: c.id)
        if not movable or rarely(data, "a new case instead"):
            self.a_claimant_opens_a_case(data)
            return
        returning = [c for c in movable if c.is_return]
        if returning and often(data, "a return on its way"):
            movable = returning
        self._next_step(data, data.draw(st.sampled_from(movable), label="case"))

    def _next_step(self, data: st.DataObject, case: CaseModel) -> None:
        """One of the case's next natural steps, if it has one now."""
        case = self.world.cases[case.id]  # the model is replaced by each command
        steps = [action for action in NEXT_STEPS.get(case.state, ()) if self._fits(case, action)]
        if case.is_return and "accept" in steps:
            steps.append("accept")  # a return approved goes further
        if steps:
            self._act(data, steps, case)

    @rule(data=st.data())
    def a_claimant_opens_a_case(self, data: st.DataObject) -> None:
        """A type on a sub-order, by its claimant, asking all that is left or part of it."""
        shipped = [o for o in self.world.orders.values() if o.state != PAID]
        if not shipped or rarely(data, "an order not shipped"):
            shipped = list(self.world.orders.values())
        order = data.draw(st.sampled_from(shipped), label="order")
        sub = data.draw(st.sampled_from(order.subs), label="sub-order")
        types = [t for t in CASE_TYPES if self._may_open(order, sub, t)]
        if not types or rarely(data, "any type"):
            types = list(CASE_TYPES)
        # The buyer's cases (returns most: they go furthest) more often than the platform's.
        types = [t for t in types for _ in range(TYPE_WEIGHT.get(t, 2))]
        case_type = data.draw(st.sampled_from(types), label="type")
        caller = data.draw(st.sampled_from(self._claimants(order, case_type)), label="by")
        mode = data.draw(st.sampled_from(["default", "all", "half", "fen"]), label="amount")
        body = self._open_body(case_type, sub, mode)
        if case_type == CUSTOM:
            body["trigger"] = data.draw(st.sampled_from(TRIGGERS), label="trigger")
        self._execute(Command("open", caller, order.id, body), self._key(data))

    @rule(data=st.data())
    def someone_opens_a_case_anyhow(self, data: st.DataObject) -> None:
        """Any type, any sub-order (or none), by anyone, asking anything, with any trigger."""
        order = data.draw(st.sampled_from(list(self.world.orders.values())), label="order")
        case_type = data.draw(st.sampled_from(CASE_TYPES), label="type")
        sub = data.draw(st.sampled_from(order.subs), label="sub-order")
        callers = self._claimants(order, case_type)
        if not rarely(data, "the claimant"):
            callers = list(CALLER_NAMES)
        caller = data.draw(st.sampled_from(callers), label="by")
        mode = data.draw(
            st.sampled_from(["more", "zero", "default", "all", "half", "fen"]), label="amount"
        )
        body = self._open_body(case_type, sub, mode)
        trigger = data.draw(st.sampled_from([None, "misprinted", "nonsense"]), label="trigger")
        if trigger is not None:
            body["trigger"] = trigger
        if rarely(data, "unknown sub"):
            body["sub_order_id"] = f"{order.id}-9"
        if rarely(data, "unknown type"):
            body["type"] = "refund_anything"
        self._execute(Command("open", caller, order.id, body), self._key(data))

    def _may_open(self, order: OrderModel, sub: SubModel, case_type: str) -> bool:
        """Would the model let the claimant open a case of this type now?"""
        body = {"id": "C00", "type": case_type, "sub_order_id": sub.id, "trigger": TRIGGERS[3]}
        if case_type != CUSTOM:
            del body["trigger"]
        try:
            copy.deepcopy(self.world).open_case("operator", order.id, body)
        except Refused:
            return False
        return True

    def _claimants(self, order: OrderModel, case_type: str) -> list[str]:
        claimants = {
            "buyer": BUYER_ROLE[order.buyer_id],
            "merchant": MERCHANT_ROLE[order.merchant_id],
            "marketplace": "marketplace",
        }
        return [claimants[who] for who in OPENERS[case_type]] + ["operator"]

    def _open_body(self, case_type: str, sub: SubModel, mode: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": f"C{next(self.case_numbers):02d}",
            "type": case_type,
            "sub_order_id": sub.id,
            "reason": "after-sales test",
        }
        left_fen = max(self.world.left_to_ask_fen(case_type, sub), 0)
        amounts = {
            "all": left_fen,
            "half": max(left_fen // 2, 1),
            "fen": 1,
            "more": left_fen + 1,
            "zero": 0,
        }
        if mode in amounts:
            body["amount"] = yuan(amounts[mode])
        event(f"open {case_type}: amount {mode}")
        return body

    # ------------------------------------------------------------- actions
    def _fits(self, case: CaseModel, action: str) -> bool:
        """The action is legal on the case now (the model's view)."""
        running = self.world.deadline(case)
        if running is not None and self._now() >= running.due_at:
            return False
        if case.state not in ACTIONS[action][1] or case.closed_by_timeout:
            return False
        goods = {
            "handover": (WITH_BUYER,),
            "pickup": (WITH_BUYER, AWAITING_PICKUP),
            "arrival": (IN_TRANSIT,),
            "inspection": (RECEIVED,),
        }
        if action in goods:
            return case.is_return and case.goods in goods[action]
        if action == "decline" and case.state == PENDING:
            return case.negotiated
        if action == "expedite":
            return case.complained
        if action == "withdraw":
            return not case.refunded_fen
        if action == "offer":
            return case.requested_fen > 1
        return True

    def _whose_move(self, case: CaseModel, action: str) -> list[str]:
        """The callers whose move the action is on this case."""
        buyer, merchant = BUYER_ROLE[case.buyer_id], MERCHANT_ROLE[case.merchant_id]
        if action in ("ruling", "expedite"):
            return ["operator"]
        if action == "pickup":
            return ["marketplace", "operator"]
        if action in ("accept", "decline"):
            party = buyer if case.state == NEGOTIATING else merchant
        elif action in ("offer", "arrival", "inspection"):
            party = merchant
        elif action == "withdraw":
            party = merchant if case.type == TRANSIT else buyer
        elif action == "escalate":
            return [buyer, merchant, "marketplace", "operator"]
        else:
            party = buyer
        return [party, "marketplace", "operator"]

    def _act(self, data: st.DataObject, actions: list[str], only: CaseModel | None = None) -> None:
        """Mostly one of `actions` on a case it is legal on, by whose move it is; else one on
        any case (or `only`), by anyone. On `only` (the happy path) the body is a valid one."""
        world = self.world
        by_id = [only] if only else sorted(world.cases.values(), key=lambda c: c.id)
        legal = [(c.id, action) for c in by_id for action in actions if self._fits(c, action)]
        if legal and not rarely(data, "out of turn"):
            case_id, action = data.draw(st.sampled_from(legal), label="case and action")
            case = world.cases[case_id]
            movers = self._whose_move(case, action)
        else:
            action = data.draw(st.sampled_from(actions), label="action")
            case = data.draw(st.sampled_from(by_id), label="case")
            movers = self._whose_move(case, action)
            if rarely(data, "anyone"):
                movers = list(CALLER_NAMES)
        caller = data.draw(st.sampled_from(movers), label="by")
        body = self._body(data, case, action, valid=only is not None)
        running = world.deadline(case)
        if data.draw(st.integers(0, 15), label="dated before the last step") == 7:
            body["occurred_at"] = (case.last_step_at - timedelta(seconds=1)).isoformat()
            event(f"{action}: dated before the case's last step")
        elif (
            running is not None
            and running.due_at <= self._now()
            and running.due_at - timedelta(seconds=1) >= case.last_step_at
            and data.draw(st.booleans(), label="an answer reported late")
        ):
            body["occurred_at"] = (running.due_at - timedelta(seconds=1)).isoformat()
            event(f"{action}: reported late, dated a second before the deadline")
        self._execute(Command("act", caller, case.id, body or None, action), self._key(data))

    @staticmethod
    def _mode(data: st.DataObject, valid: bool, good: list[str], bad: list[str], label: str) -> str:
        """One of the `good` choices, or (unless `valid`) of the `bad` ones too."""
        return data.draw(st.sampled_from(good if valid else good + bad), label=label)

    def _body(
        self, data: st.DataObject, case: CaseModel, action: str, *, valid: bool = False
    ) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if data.draw(st.booleans(), label="note"):
            body["note"] = f"{action} note"
        if action == "offer":
            good = ["part", "fen", "all but a fen"]
            mode = self._mode(data, valid, good, ["all", "zero", "none"], "offer")
            amounts = {
                "part": max(case.requested_fen // 2, 1),
                "fen": 1,
                "all but a fen": case.requested_fen - 1,
                "all": case.requested_fen,
                "zero": 0,
            }
            if mode in amounts:
                body["amount"] = yuan(max(amounts[mode], 0))
        elif action == "handover":
            how = self._mode(data, valid, ["pickup", "sent"], ["no tracking"], "handover")
            if how == "pickup":
                body["official_logistics"] = True
            else:
                body["carrier"] = "YTO"
                if how == "sent":
                    body["tracking_number"] = f"YT{case.id}"
        elif action == "pickup":
            body.update(self._pickup_body(data, case, valid))
        elif action == "inspection":
            body["result"] = self._mode(data, valid, ["ok", "wrong_or_empty"], ["maybe"], "result")
        elif action == "ruling":
            body.update(self._ruling_body(data, case, valid))
        return body

    def _pickup_body(self, data: st.DataObject, case: CaseModel, valid: bool) -> dict[str, Any]:
        order = self.world.orders[case.order_id]
        left_fen = max(self.world.subsidy_cap_fen(case, order) - order.subsidy_fen, 0)
        good = ["under", "at", "over", "zero", "none"]
        mode = self._mode(data, valid, good, ["negative", "no carrier"], "freight")
        freights = {"under": max(left_fen - 700, 1), "at": left_fen, "over": left_fen + 500}
        freights.update({"zero": 0, "negative": -100})
        body: dict[str, Any] = {}
        if mode != "no carrier":
            body["carrier"] = data.draw(st.sampled_from(CARRIERS), label="carrier")
        if mode in freights:
            body["freight"] = yuan(freights[mode])
        event(f"pickup: freight {mode}")
        return body

    def _ruling_body(self, data: st.DataObject, case: CaseModel, valid: bool) -> dict[str, Any]:
        claimant, against = (
            ("merchant", "platform") if case.type == TRANSIT else ("buyer", "merchant")
        )
        result = self._mode(data, valid, [claimant, against], ["nobody"], "result")
        body: dict[str, Any] = {"result": result}
        if valid or not rarely(data, "no note"):
            body["note"] = "ruled on the evidence"
        mode = self._mode(data, valid, ["as asked", "part", "all"], ["more"], "ruled")
        amounts = {
            "part": max(case.requested_fen // 2, 1),
            "all": case.requested_fen,
            "more": case.requested_fen + 1,
        }
        if mode in amounts and (result == claimant or rarely(data, "an amount against")):
            body["amount"] = yuan(amounts[mode])
        for flag, likely in (
            ("send_goods_back", case.is_return and case.goods not in (WITH_BUYER, AWAITING_PICKUP)),
            ("buyer_malicious", case.found_wrong_or_empty),
        ):
            if likely or rarely(data, f"{flag} elsewhere"):
                value = data.draw(st.sampled_from([None, True, False]), label=flag)
                if value is not None:
                    body[flag] = value
        return body

    @precondition(lambda self: bool(self.world.cases))
    @rule(data=st.data())
    def merchant_answers(self, data: st.DataObject) -> None:
        """Accept a request, offer part of it, refuse after negotiating."""
        self._act(data, ["accept", "offer", "decline"])

    @precondition(lambda self: bool(self.world.cases))
    @rule(data=st.data())
    def buyer_answers(self, data: st.DataObject) -> None:
        """Take or decline an offer, escalate, complain, withdraw; sometimes the buyer
        confirms receipt of an order (or the marketplace reports its signing) instead."""
        if rarely(data, "an order fact instead"):
            self._order_fact(data)
            return
        self._act(data, ["accept", "decline", "escalate", "complain", "withdraw"])

    @precondition(lambda self: any(c.is_return for c in self.world.cases.values()))
    @rule(data=st.data())
    def goods_move(self, data: st.DataObject) -> None:
        """A return handed over, picked up, arrived, inspected."""
        self._act(data, ["handover", "pickup", "arrival", "inspection"])

    @precondition(lambda self: bool(self.world.cases))
    @rule(data=st.data())
    def platform_acts(self, data: st.DataObject) -> None:
        """An operator rules or expedites."""
        self._act(data, ["ruling", "expedite"])

    @precondition(lambda self: bool(self.world.cases))
    @rule(data=st.data())
    def any_action_anywhere(self, data: st.DataObject) -> None:
        """Any action on any case by any caller."""
        action = data.draw(st.sampled_from(sorted(ACTIONS)), label="action")
        world = self.world
        case = data.draw(st.sampled_from(sorted(world.cases.values(), key=lambda c: c.id)))
        caller = data.draw(st.sampled_from(CALLER_NAMES), label="by")
        body = self._body(data, case, action)
        self._execute(Command("act", caller, case.id, body or None, action), self._key(data))

    # ---------------------------------------------------------- idempotency
    @precondition(lambda self: bool(self.sent))
    @rule(data=st.data())
    def retry_with_same_key(self, data: st.DataObject) -> None:
        """Same key, same body: a stored answer is replayed verbatim and nothing is written;
        a refusal runs afresh."""
        sent = data.draw(st.sampled_from(self.sent), label="retried request")
        if not sent.stored:
            self._execute(sent.command, sent.key)
            return
        event(f"replayed {sent.command.label}")
        before = self._snapshot()
        response = self._post(sent.command, sent.key)
        assert response.status_code == sent.status, (sent, response.json())
        assert response.json() == sent.payload
        assert response.headers.get("idempotent-replayed") == "true"
        assert self._snapshot() == before

    @precondition(lambda self: any(s.stored for s in self.sent))
    @rule(data=st.data())
    def reuse_key_with_other_body(self, data: st.DataObject) -> None:
        """A stored key sent again with another body is refused and writes nothing."""
        sent = data.draw(st.sampled_from([s for s in self.sent if s.stored]), label="reused")
        body = dict(sent.command.body or {})
        if sent.command.kind == "open":
            body["reason"] += " (again)"
        elif sent.command.kind == "act":
            body["note"] = f"{body.get('note')} (again)"
        else:
            body["occurred_at"] = self._now().isoformat()
        event(f"key reused on {sent.command.label}")
        before = self._snapshot()
        command = Command(
            sent.command.kind, sent.command.caller, sent.command.subject, body, sent.command.action
        )
        response = self._post(command, sent.key)
        assert response.status_code == 409, response.json()
        assert response.json()["code"] == "idempotency_key_reused"
        assert self._snapshot() == before

    # ---------------------------------------------------------------- time
    @rule(data=st.data())
    def advance_clock_and_tick(self, data: st.DataObject) -> None:
        """Random hours, or days (every deadline runs out), then a tick; sometimes an order
        is signed or confirmed first."""
        hours = data.draw(st.sampled_from(CLOCK_STEPS_HOURS), label="hours")
        if rarely(data, "an order fact first"):
            self._order_fact(data)
        self._set_clock(self._now() + timedelta(hours=hours))
        self._tick()

    def _next_deadline(self) -> datetime | None:
        dues = [t.due_at for t in self.world.timers.values() if t.kind in LASTS]
        return min(dues, default=None)

    @precondition(lambda self: self._next_deadline() is not None)
    @rule(data=st.data())
    def advance_to_the_next_case_deadline(self, data: st.DataObject) -> None:
        """Exactly to the next case deadline (ticked, or not: the parties are then late), or
        a second before it (nothing fires; an answer still counts)."""
        due = self._next_deadline()
        assert due is not None
        how = data.draw(st.sampled_from(["at, ticked", "a second before", "at, not ticked"]))
        event(f"clock to the next case deadline: {how}")
        target = due - timedelta(seconds=1) if how == "a second before" else due
        if target > self._now():
            self._set_clock(target)
        if how != "at, not ticked":
            self._tick()

    # ------------------------------------------------------------- money out
    @precondition(lambda self: any(i[5] == INSTRUCTED for i in self.world.ledger.instructions))
    @rule(data=st.data())
    def the_marketplace_reports_a_payment(self, data: st.DataObject) -> None:
        """An instruction (a refund, a compensation, a carrier's subsidy, a payout) executed:
        the party is paid; a case shows it as paid."""
        with read_transaction(self.rt.engine) as connection:
            rows = connection.execute(
                select(instructions)
                .where(instructions.c.state == INSTRUCTED)
                .order_by(instructions.c.instructed_at, instructions.c.id)
            ).all()
        row = data.draw(st.sampled_from(rows), label="instruction")
        response = self.client.post(
            f"/v1/instructions/{row.id}/execution",
            json={"outcome": EXECUTED, "reference": f"bank-{row.id}"},
            headers=self._headers("marketplace"),
        )
        assert response.status_code == 200, response.text
        assert response.json()["state"] == EXECUTED
        instruction = instruction_of(row)
        self.world.ledger.execute(instruction)
        if instruction.case_id is not None:
            self.world.cases[instruction.case_id].paid_fen += instruction.amount_fen
        event(f"paid: {row.kind}")

    @precondition(
        lambda self: any(
            self.world.ledger.available(accounts.merchant_payable(m)) > 0 for m in MERCHANT_TIER
        )
    )
    @rule()
    def run_payouts(self) -> None:
        """An operator pays merchants out: later refunds after release run into debt."""
        self._payout_run()

    def _payout_run(self) -> None:
        response = self.client.post("/v1/payouts/runs", headers=self._headers("operator"))
        payload = response.json()
        assert response.status_code == 201, payload
        want = self.world.payout_run()
        for note in self.world.notes:
            event(note)
        self.world.notes = []
        got = [{k: v for k, v in r.items() if k != "payout_id"} for r in payload["results"]]
        assert got == want, (payload, want)

    # ------------------------------------------------------------ invariants
    @invariant()
    def ledger_and_money_equal_the_model(self) -> None:
        world = self.world
        with self.rt.reading(OPERATOR) as ctx:
            found = checked_ledger_columns(ctx.connection)
            balances = {m: merchant_balance(ctx, m) for m in MERCHANT_TIER}
            instructed = Counter(
                instruction_of(row) for row in ctx.connection.execute(select(instructions))
            )
            subsidies = {
                row.order_id: int(row.total)
                for row in ctx.connection.execute(
                    select(
                        ledger_transfers.c.order_id,
                        func.sum(ledger_transfers.c.amount_fen).label("total"),
                    )
                    .where(ledger_transfers.c.purpose == "return_shipping_subsidy")
                    .group_by(ledger_transfers.c.order_id)
                )
            }
            pending = {
                row.id: (row.due_at, row.available_at)
                for row in ctx.connection.execute(
                    select(timers).where(timers.c.status == "pending")
                )
            }
        expected = {name: cols for name, cols in world.ledger.columns.items() if any(cols)}
        assert set(expected) <= set(found), set(expected) - set(found)
        for account_id, columns in found.items():
            assert columns == expected.get(account_id, [0, 0, 0, 0]), (
                account_id,
                columns,
                expected.get(account_id),
            )
        assert instructed == Counter(world.ledger.instructions), (
            instructed,
            world.ledger.instructions,
        )
        for merchant_id, balance in balances.items():
            payable = world.ledger.columns[accounts.merchant_payable(merchant_id).id]
            assert balance.debt_fen >= 0
            assert balance.debt_fen == world.ledger.debt(merchant_id), (merchant_id, balance)
            assert balance.payable_fen == world.ledger.available(
                accounts.merchant_payable(merchant_id)
            )
            assert (balance.in_escrow_fen, balance.in_flight_fen) == (
                payable[CPEND],
                payable[DPEND],
            )
            if balance.debt_fen:
                event("a merchant in debt")
        assert subsidies == {o.id: o.subsidy_fen for o in world.orders.values() if o.subsidy_fen}
        want_timers = {t.id: (t.due_at, t.available_at) for t in world.timers.values()}
        assert pending == want_timers, (pending, want_timers)

    @invariant()
    def orders_and_cases_equal_the_model(self) -> None:
        """Every order's state and instants, what is refunded of each sub-order and its fee;
        every case as `GET /v1/cases` lists it; the cases with a running deadline (the
        list's `deadline_before` filter)."""
        world = self.world
        with read_transaction(self.rt.engine) as connection:
            states = {
                row.id: (row.state, row.confirmed_by, row.confirmed_at, row.completed_at)
                for row in connection.execute(select(orders))
            }
            subs = {
                row.id: (row.refunded_fen, row.fee_fen)
                for row in connection.execute(select(sub_orders))
                if 0 <= row.refunded_fen <= row.goods_fen  # never beyond what was paid
            }
            running = {
                case.id
                for case in list_cases(
                    connection,
                    deadline_before=parse_instant(FAR_FUTURE),
                    deadline_kinds=tuple(LASTS),
                    limit=500,
                )
            }
        assert states == {
            o.id: (o.state, o.confirmed_by, o.confirmed_at, o.completed_at)
            for o in world.orders.values()
        }
        assert subs == {
            s.id: (s.refunded_fen, s.fee_fen) for o in world.orders.values() for s in o.subs
        }
        listed = {view["id"]: shown(view) for view in self._get("/v1/cases", limit=500)["items"]}
        assert listed == {case.id: case.view() for case in world.cases.values()}
        assert running == {c.id for c in world.cases.values() if world.deadline(c) is not None}


def test_random_case_commands_keep_ledger_equal_to_model(
    rt: Runtime, clock: SimulatedClock
) -> None:
    """See the module docstring; runs once per backend of the `engine` fixture."""
    assert set(LASTS) == set(DEADLINES)  # the deadline table of the docs, no more, no less
    with checked_client(create_app(rt)) as client:

        class Bound(CaseMachine):
            harness = Harness(rt, clock, client)

        run_state_machine_as_test(Bound, settings=SETTINGS)


def test_the_model_fires_what_a_firing_arms_in_order_of_availability() -> None:
    """The model's tick orders timers as the scheduler does (tests/test_scheduler_pass.py,
    "review timed out"): a deadline a timeout arms, due before another timer of the same
    pass, fires before it. The model once left every armed timer to a later batch, so an
    auto-confirmation due on day 10 was "held" by a case whose handover deadline (armed by
    the review's timeout on day 1, due on day 8) had already closed it."""

    class Arming(World):
        def fire(self, timer: Timer) -> str:
            if timer.kind == "review":
                self.schedule(
                    "handover", timer.subject, timer.due_at + timedelta(days=7), by_party=False
                )
            return timer.kind

    start = datetime(2024, 10, 20, 2, tzinfo=UTC)
    world = Arming(now=start + timedelta(days=11))
    world.schedule("review", "C1", start + timedelta(days=1), by_party=False)
    world.schedule("auto_confirm", "O1", start + timedelta(days=10), by_party=False)
    assert [outcome for _, _, outcome in world.tick()] == ["review", "handover", "auto_confirm"]
