"""Acceptance of after-sales cases through the API, on SQLite and PostgreSQL, simulated clock.

Every case type end to end; every deadline of `services/case_deadlines.DEADLINES`
timing out at its due instant and not a second earlier (a key without a
scenario here fails); where each refund's money comes from (escrow before
release, the merchant's payable or debt after it, the platform for the
return-shipping subsidy and an absorbed quick refund); every bad request a
clear 4xx that writes nothing; the hold an open case puts on the order's
auto-confirmation; and cases sent through the batch path. Money is compared
in integer fen; the ledger is checked after every test (conftest).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from buyerguard.bootstrap import Runtime
from buyerguard.clock import SimulatedClock, parse_instant
from buyerguard.ledger.balances import balance
from buyerguard.money import Fen, format_fen, parse_yuan
from buyerguard.scheduler import Scheduler
from buyerguard.services.case_deadlines import DEADLINES
from buyerguard.services.context import OPERATOR
from buyerguard.store.tables import cases, ledger_accounts
from tests.conftest import Api
from tests.test_api import NEW_BUYER, assert_refused, row_counts

PRICES_FEN = {"P-cups": 3_600, "P-towels": 250_000}  # demo spot prices, one piece
CUPS_FEN = 36_000  # the usual sub-order: 10 cups
FEE_RATE_PER_MILLE = 6  # M-yiwu's technical service fee: 0.6% (capped at 18.00, never reached)
DOCS = Path(__file__).resolve().parents[1] / "docs" / "aftersales.md"
FACTS = {"pay": "payment", "ship": "shipment", "sign": "signing", "confirm": "confirmation"}


# ----------------------------------------------------------------- helpers
def fen(text: str) -> Fen:
    return parse_yuan(text)


def fee_fen(goods_fen: Fen) -> Fen:
    """An independent model of the fee on net goods, rounded half up to the fen."""
    return (goods_fen * FEE_RATE_PER_MILLE + 500) // 1000


def order(
    api: Api,
    order_id: str,
    *steps: str,
    quantities: tuple[int, ...] = (10,),
    dated: Mapping[str, str] | None = None,
    product: str = "P-cups",
    buyer: str = "B-shop",
) -> str:
    """A fresh order of `buyer` at M-yiwu (cups by default), one sub-order per quantity,
    moved through `steps` (pay, ship, sign, confirm) by the marketplace; `dated` backdates
    a step's fact (and `place`). Returns the first sub-order's id."""
    dated = dated or {}

    def when(step: str) -> dict[str, str]:
        return {"occurred_at": dated[step]} if step in dated else {}

    lines = [{"product_id": product, "quantity": quantity} for quantity in quantities]
    body = {"id": order_id, "buyer_id": buyer, "lines": lines, **when("place")}
    placed = api.post("marketplace", "/v1/orders", body)
    assert placed.status_code == 201, placed.text
    facts: dict[str, dict[str, str]] = {
        "pay": {"amount": format_fen(PRICES_FEN[product] * sum(quantities))},
        "ship": {"carrier": "SF", "tracking_number": f"SF-{order_id}"},
        "sign": {},
        "confirm": {},
    }
    for step in steps:
        answer = api.post(
            "marketplace", f"/v1/orders/{order_id}/{FACTS[step]}", {**facts[step], **when(step)}
        )
        assert answer.status_code == 200, answer.text
    return f"{order_id}-1"


def case_body(
    order_id: str,
    case_type: str,
    *,
    sub: str | None = None,
    amount: str | None = None,
    occurred_at: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": case_type,
        "sub_order_id": sub or f"{order_id}-1",
        "reason": f"{case_type}: test",
        **extra,
    }
    if amount is not None:
        body["amount"] = amount
    if occurred_at is not None:
        body["occurred_at"] = occurred_at
    return body


def open_case(
    api: Api, order_id: str, case_type: str, *, role: str = "buyer", **fields: Any
) -> dict[str, Any]:
    answer = api.post(
        role, f"/v1/orders/{order_id}/cases", case_body(order_id, case_type, **fields)
    )
    assert answer.status_code == 201, answer.text
    opened: dict[str, Any] = answer.json()
    return opened


def act(
    api: Api,
    role: str,
    case_id: str,
    action: str,
    body: dict[str, Any] | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    answer = api.post(role, f"/v1/cases/{case_id}/{action}", body, key=key)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def detail(api: Api, case_id: str) -> dict[str, Any]:
    answer = api.get("operator", f"/v1/cases/{case_id}")
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def decisions_of(api: Api, order_id: str, kind: str) -> list[dict[str, Any]]:
    answer = api.get("operator", f"/v1/orders/{order_id}/decisions?limit=500")
    assert answer.status_code == 200, answer.text
    return [item for item in answer.json()["items"] if item["kind"] == kind]


def tick(rt: Runtime) -> list[str]:
    return [item.outcome for item in Scheduler(rt.engine, rt.clock, rt.rulebooks).tick()]


def credit(rt: Runtime, account_id: str) -> Fen:
    """What an account holds, posted (a payable's instructed part is still on it)."""
    with rt.reading(OPERATOR) as ctx:
        return balance(ctx.connection, account_id).credit_balance_fen


def instructions(api: Api, kind: str, party: str) -> list[dict[str, Any]]:
    answer = api.get("operator", f"/v1/instructions?kind={kind}&party={party}&limit=500")
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def refunds_of(api: Api, case_id: str) -> list[Fen]:
    """The refund instructions to the buyer that name this case, in fen."""
    return [
        fen(item["amount"])
        for item in instructions(api, "refund", "buyer:B-shop")
        if item["details"].get("case_id") == case_id
    ]


def merchant_balance(api: Api) -> dict[str, Fen]:
    answer = api.get("merchant", "/v1/merchants/M-yiwu/balance")
    assert answer.status_code == 200, answer.text
    return {key: fen(value) for key, value in answer.json().items() if key != "merchant_id"}


def snapshot(rt: Runtime) -> tuple[Any, ...]:
    """Row counts of every table, every ledger balance and every case's state."""
    with rt.reading(OPERATOR) as ctx:
        accounts = sorted(
            tuple(row)
            for row in ctx.connection.execute(
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
            for row in ctx.connection.execute(
                select(cases.c.id, cases.c.state, cases.c.goods, cases.c.version)
            )
        )
    return row_counts(rt), accounts, case_rows


def refused_cleanly(
    rt: Runtime, send: Callable[[], Any], status: int, code: str, field: str | None = None
) -> None:
    """The request is refused with `status`/`code` and nothing at all is written."""
    before = snapshot(rt)
    assert_refused(send(), status, code, field)
    assert snapshot(rt) == before


def last_decision(case: Mapping[str, Any], kind: str) -> dict[str, Any]:
    found = [item for item in case["decisions"] if item["kind"] == kind]
    assert found, f"no {kind} decision in {[item['kind'] for item in case['decisions']]}"
    last: dict[str, Any] = found[-1]
    return last


# --------------------------------------------------------- case types, end to end
def test_refund_only_not_received_accepted_by_the_merchant_refunds_from_escrow(
    api: Api, rt: Runtime
) -> None:
    """The whole sub-order by default; the evidence stays with the transition that brought
    it; the refund is owed to the buyer by one instruction."""
    order(api, "E-1", "pay", "ship")
    evidence = [{"uri": "s3://cases/parcel.jpg", "sha256": "ab" * 32, "note": "no parcel"}]
    case = open_case(api, "E-1", "refund_only_not_received", evidence=evidence)
    assert (case["state"], case["goods"], case["requested"]) == (
        "pending",
        "not_returned",
        "360.00",
    )
    closed = act(api, "merchant", case["id"], "accept", {"note": "sorry"})
    assert (closed["state"], closed["outcome"], fen(closed["refunded"])) == (
        "closed",
        "agreed",
        CUPS_FEN,
    )
    shown = detail(api, case["id"])
    assert shown["deadline"] is None
    assert [step["action"] for step in shown["history"]] == ["open", "accept"]
    assert shown["history"][0]["evidence"] == evidence
    assert shown["history"][1]["note"] == "sorry"
    assert refunds_of(api, case["id"]) == [CUPS_FEN]
    assert credit(rt, "buyer:B-shop:payable") == CUPS_FEN
    assert merchant_balance(api)["in_escrow"] == 0  # nothing held for the merchant any more
    assert api.get("buyer", "/v1/orders/E-1").json()["sub_orders"][0]["refunded"] == "360.00"


def test_refund_only_quality_settles_on_the_merchants_offer(api: Api, rt: Runtime) -> None:
    """The buyer keeps the goods and takes part of what it asked: the offer is what is refunded."""
    order(api, "E-2", "pay", "ship", "sign")
    case = open_case(api, "E-2", "refund_only_quality", amount="120.00")
    offered = act(api, "merchant", case["id"], "offer", {"amount": "45.50"})
    assert (offered["state"], offered["offered"], offered["negotiated"]) == (
        "negotiating",
        "45.50",
        True,
    )
    closed = act(api, "buyer", case["id"], "accept")
    assert (closed["state"], closed["outcome"], closed["agreed"], closed["refunded"]) == (
        "closed",
        "agreed",
        "45.50",
        "45.50",
    )
    assert refunds_of(api, case["id"]) == [4_550]
    assert credit(rt, "buyer:B-shop:payable") == 4_550
    kinds = [item["kind"] for item in detail(api, case["id"])["decisions"]]
    assert kinds[:3] == ["quality_claim_eligibility", "case_opened", "deadline_set"]
    assert kinds[-1] == "case_closed" and "case_offered" in kinds


def test_return_no_reason_with_official_pickup_refunds_once_and_subsidises_the_carrier(
    api: Api, rt: Runtime
) -> None:
    """Quick-refunded at pickup (§4); the inspection later settles nothing more."""
    order(api, "E-3", "pay", "ship", "sign")
    case = open_case(api, "E-3", "return_no_reason")
    assert act(api, "merchant", case["id"], "accept")["state"] == "accepted"
    booked = act(api, "buyer", case["id"], "handover", {"official_logistics": True})
    assert booked["goods"] == "awaiting_pickup"
    picked = act(api, "marketplace", case["id"], "pickup", {"carrier": "SF", "freight": "30.00"})
    assert (picked["goods"], fen(picked["quick_refunded"]), picked["official_pickup"]) == (
        "in_transit",
        CUPS_FEN,
        True,
    )
    assert act(api, "merchant", case["id"], "arrival")["goods"] == "received_by_merchant"
    done = act(api, "merchant", case["id"], "inspection", {"result": "ok"})
    assert (done["state"], done["outcome"], fen(done["refunded"])) == ("closed", "agreed", CUPS_FEN)
    assert refunds_of(api, case["id"]) == [CUPS_FEN]  # once, at the pickup
    assert credit(rt, "buyer:B-shop:payable") == CUPS_FEN
    assert credit(rt, "carrier:SF:payable") == 2_500


def test_return_quality_sent_by_the_buyer_is_refunded_after_inspection(
    api: Api, rt: Runtime, clock: SimulatedClock
) -> None:
    """No official pickup: no subsidy, no quick refund, no deadline while in transit; the
    merchant then has 7 days (a buyer-sent return) to inspect."""
    order(api, "E-4", "pay", "ship", "sign")
    case = open_case(api, "E-4", "return_quality", amount="180.00")
    act(api, "merchant", case["id"], "accept")
    sent = act(api, "buyer", case["id"], "handover", {"carrier": "YTO", "tracking_number": "YT123"})
    assert (sent["goods"], sent["refunded"]) == ("in_transit", "0.00")
    assert detail(api, case["id"])["deadline"] is None
    arrived_at = clock.advance(timedelta(days=2))
    act(api, "merchant", case["id"], "arrival")
    deadline = detail(api, case["id"])["deadline"]
    assert deadline["kind"] == "case.inspection"
    assert parse_instant(deadline["due_at"]) == arrived_at + timedelta(days=7)
    assert credit(rt, "buyer:B-shop:payable") == 0
    done = act(api, "merchant", case["id"], "inspection", {"result": "ok"})
    assert (done["state"], done["outcome"], done["refunded"]) == ("closed", "agreed", "180.00")
    assert refunds_of(api, case["id"]) == [18_000]
    assert decisions_of(api, "E-4", "return_shipping_subsidy") == []
    assert instructions(api, "carrier_subsidy", "carrier:YTO") == []


def test_a_ruling_for_the_buyer_can_send_unsellable_goods_back(api: Api, rt: Runtime) -> None:
    """A return that cannot be resold closes with its goods `sent_back`, refunded as ruled."""
    order(api, "E-5", "pay", "ship", "sign")
    case = open_case(api, "E-5", "return_quality")
    act(api, "merchant", case["id"], "accept")
    act(api, "buyer", case["id"], "handover", {"carrier": "YTO", "tracking_number": "YT5"})
    act(api, "merchant", case["id"], "arrival")
    assert act(api, "merchant", case["id"], "escalate")["state"] == "escalated"
    ruled = act(
        api,
        "operator",
        case["id"],
        "ruling",
        {"result": "buyer", "amount": "300.00", "note": "stained", "send_goods_back": True},
    )
    assert (ruled["state"], ruled["goods"], ruled["outcome"], ruled["refunded"]) == (
        "closed",
        "sent_back",
        "ruled_for_buyer",
        "300.00",
    )
    assert refunds_of(api, case["id"]) == [30_000]


def test_a_ruling_cannot_send_back_goods_that_never_came_back(api: Api, rt: Runtime) -> None:
    """On a refund-only case nothing was returned, so nothing can be sent back: the ruling
    is refused and nothing moves (found by a tester: it closed with the goods `sent_back`)."""
    order(api, "E-9", "pay", "ship", "sign")
    case = open_case(api, "E-9", "refund_only_not_received")
    act(api, "merchant", case["id"], "offer", {"amount": "100.00"})
    act(api, "buyer", case["id"], "escalate", {"note": "never arrived"})
    before = snapshot(rt)
    ruling = {"result": "buyer", "note": "lost", "send_goods_back": True}
    refused = api.post("operator", f"/v1/cases/{case['id']}/ruling", ruling)
    assert_refused(refused, 409, "not_a_return", "send_goods_back")
    assert snapshot(rt) == before
    ruled = act(api, "operator", case["id"], "ruling", {**ruling, "send_goods_back": False})
    assert (ruled["goods"], ruled["outcome"]) == ("not_returned", "ruled_for_buyer")


@pytest.mark.parametrize("booked", [False, True], ids=["with-buyer", "awaiting-pickup"])
def test_a_ruling_cannot_send_back_a_return_never_picked_up(
    api: Api, rt: Runtime, booked: bool
) -> None:
    """A return escalated before its goods left the buyer (`with_buyer`, `awaiting_pickup`):
    nothing came back, so `send_goods_back` is refused `409 not_a_return` and nothing moves
    (found by a tester: it closed with the goods `sent_back`)."""
    order(api, "E-10", "pay", "ship", "sign")
    case = open_case(api, "E-10", "return_quality")
    act(api, "merchant", case["id"], "accept")
    if booked:
        act(api, "buyer", case["id"], "handover", {"official_logistics": True})
    goods = act(api, "merchant", case["id"], "escalate")["goods"]
    assert goods == ("awaiting_pickup" if booked else "with_buyer")
    ruling = {"result": "buyer", "note": "stained", "send_goods_back": True}
    refused_cleanly(
        rt,
        lambda: api.post("operator", f"/v1/cases/{case['id']}/ruling", ruling),
        409,
        "not_a_return",
        "send_goods_back",
    )
    ruled = act(api, "operator", case["id"], "ruling", {**ruling, "send_goods_back": False})
    assert (ruled["goods"], ruled["outcome"]) == (goods, "ruled_for_buyer")


def test_a_buyer_withdraws_and_nothing_is_owed(api: Api, rt: Runtime) -> None:
    """A withdrawn case stops its deadline and owes nothing; the list filters find it."""
    order(api, "E-6", "pay", "ship", "sign")
    case = open_case(api, "E-6", "return_no_reason")
    gone = act(api, "buyer", case["id"], "withdraw", {"note": "found a use for them"})
    assert (gone["state"], gone["outcome"], gone["refunded"]) == ("withdrawn", "withdrawn", "0.00")
    assert detail(api, case["id"])["deadline"] is None
    assert credit(rt, "buyer:B-shop:payable") == 0
    listed = api.get("buyer", "/v1/cases?order_id=E-6&state=withdrawn").json()["items"]
    assert [item["id"] for item in listed] == [case["id"]]


def test_a_retried_answer_is_replayed_and_refunds_once(api: Api, rt: Runtime) -> None:
    """A retried request with the same Idempotency-Key replays the answer: money moves once."""
    order(api, "E-7", "pay", "ship", "sign")
    case = open_case(api, "E-7", "refund_only_quality", amount="80.00")
    first = act(api, "merchant", case["id"], "accept", key="answer-1")
    before = snapshot(rt)
    again = api.post("merchant", f"/v1/cases/{case['id']}/accept", key="answer-1")
    assert again.status_code == 200 and again.json() == first
    assert snapshot(rt) == before
    assert refunds_of(api, case["id"]) == [8_000]


# ------------------------------------------------------------------ deadlines
@dataclass(frozen=True)
class Timeout:
    """A case brought to where `deadline` runs (setup returns its id), how long the
    rulebook gives from that moment, and what the timeout must have done by its due
    instant (effect gets the case id and the due instant)."""

    name: str
    deadline: str
    lasts: timedelta
    setup: Callable[[Api], str]
    effect: Callable[[Api, Runtime, str, datetime], None]


def _refund_only(api: Api, case_type: str = "refund_only_quality") -> str:
    order(api, "T-1", "pay", "ship", "sign")
    case_id: str = open_case(api, "T-1", case_type, amount="200.00")["id"]
    return case_id


def _offered(api: Api) -> str:
    case_id = _refund_only(api)
    act(api, "merchant", case_id, "offer", {"amount": "50.00"})
    return case_id


def _refused(api: Api) -> str:
    case_id = _offered(api)
    act(api, "buyer", case_id, "decline")
    act(api, "merchant", case_id, "decline", {"note": "the cups were fine"})
    return case_id


def _escalated(api: Api) -> str:
    case_id = _offered(api)
    act(api, "buyer", case_id, "escalate", {"note": "50.00 is not enough"})
    return case_id


def _return(api: Api, case_type: str = "return_no_reason") -> str:
    order(api, "T-1", "pay", "ship", "sign")
    case_id: str = open_case(api, "T-1", case_type)["id"]
    return case_id


def _approved_return(api: Api) -> str:
    case_id = _return(api)
    act(api, "merchant", case_id, "accept")
    return case_id


def _booked(api: Api) -> str:
    case_id = _approved_return(api)
    act(api, "buyer", case_id, "handover", {"official_logistics": True})
    return case_id


def _picked_up_and_arrived(api: Api) -> str:
    case_id = _booked(api)
    act(api, "marketplace", case_id, "pickup", {"carrier": "SF", "freight": "12.00"})
    act(api, "merchant", case_id, "arrival")
    return case_id


def _sent_and_arrived(api: Api) -> str:
    case_id = _return(api, "return_quality")
    act(api, "merchant", case_id, "accept")
    act(api, "buyer", case_id, "handover", {"carrier": "YTO", "tracking_number": "YT9"})
    act(api, "merchant", case_id, "arrival")
    return case_id


def _closed_by(case: Mapping[str, Any]) -> dict[str, Any]:
    """The closing decision must name the rule of the deadline that ran out."""
    closing = last_decision(case, "case_closed")
    assert closing["rule_ids"] == last_decision(case, "deadline_set")["rule_ids"], closing
    return closing


def _granted(amount_fen: Fen) -> Callable[[Api, Runtime, str, datetime], None]:
    def effect(api: Api, rt: Runtime, case_id: str, due: datetime) -> None:
        case = detail(api, case_id)
        assert (case["state"], case["outcome"], fen(case["refunded"])) == (
            "closed",
            "granted_on_timeout",
            amount_fen,
        )
        assert parse_instant(case["closed_at"]) == due and case["deadline"] is None
        assert case["history"][-1]["action"] == "timeout"
        assert refunds_of(api, case_id) == [amount_fen]  # once, whatever refunded it
        assert credit(rt, "buyer:B-shop:payable") == amount_fen
        assert fen(_closed_by(case)["amount"]) == amount_fen

    return effect


def _closed_with_nothing(api: Api, rt: Runtime, case_id: str, due: datetime) -> None:
    case = detail(api, case_id)
    assert (case["state"], case["outcome"], case["refunded"]) == (
        "closed",
        "closed_on_timeout",
        "0.00",
    )
    assert parse_instant(case["closed_at"]) == due and case["deadline"] is None
    assert refunds_of(api, case_id) == []
    assert credit(rt, "buyer:B-shop:payable") == 0
    assert fen(_closed_by(case)["amount"]) == 0


def _approved(api: Api, rt: Runtime, case_id: str, due: datetime) -> None:
    case = detail(api, case_id)
    assert (case["state"], case["outcome"], case["agreed"], case["goods"]) == (
        "accepted",
        None,
        "360.00",
        "with_buyer",
    )
    accepted = last_decision(case, "case_accepted")
    assert accepted["rule_ids"] == ["returns.merchant_review_hours"]
    assert case["deadline"]["kind"] == "case.handover"
    assert parse_instant(case["deadline"]["due_at"]) == due + timedelta(days=7)
    assert refunds_of(api, case_id) == [] and credit(rt, "buyer:B-shop:payable") == 0


TIMEOUTS: dict[str, tuple[Timeout, ...]] = {
    "case.merchant_answer": (
        Timeout(
            "not_received_granted",
            "case.merchant_answer",
            timedelta(hours=36),
            lambda api: _refund_only(api, "refund_only_not_received"),
            _granted(20_000),
        ),
        Timeout(
            "quality_granted",
            "case.merchant_answer",
            timedelta(hours=36),
            _refund_only,
            _granted(20_000),
        ),
    ),
    "case.merchant_review": (
        Timeout("return_approved", "case.merchant_review", timedelta(hours=24), _return, _approved),
    ),
    "case.offer_response": (
        Timeout(
            "offer_lapses",
            "case.offer_response",
            timedelta(hours=48),
            _offered,
            _closed_with_nothing,
        ),
    ),
    "case.handover": (
        Timeout(
            "never_handed_over",
            "case.handover",
            timedelta(days=7),
            _approved_return,
            _closed_with_nothing,
        ),
        Timeout(
            "pickup_never_came",
            "case.handover",
            timedelta(days=7),
            _booked,
            _closed_with_nothing,
        ),
    ),
    "case.inspection": (
        Timeout(
            "picked_up_24h",
            "case.inspection",
            timedelta(hours=24),
            _picked_up_and_arrived,
            _granted(CUPS_FEN),
        ),
        Timeout(
            "buyer_sent_7d",
            "case.inspection",
            timedelta(days=7),
            _sent_and_arrived,
            _granted(CUPS_FEN),
        ),
    ),
    "case.escalation_window": (
        Timeout(
            "refusal_stands",
            "case.escalation_window",
            timedelta(days=7),
            _refused,
            _closed_with_nothing,
        ),
    ),
    "case.ruling": (
        Timeout("buyer_granted", "case.ruling", timedelta(hours=72), _escalated, _granted(20_000)),
    ),
}
SCENARIOS = [timeout for timeouts in TIMEOUTS.values() for timeout in timeouts]


@pytest.mark.parametrize("key", sorted(DEADLINES))
def test_every_deadline_has_a_timeout_scenario(key: str) -> None:
    """A deadline added to DEADLINES without a timeout test here fails."""
    assert TIMEOUTS.get(key), f"{key}: add a Timeout scenario to TIMEOUTS"
    assert all(timeout.deadline == key for timeout in TIMEOUTS[key])


def test_no_scenario_names_a_deadline_that_does_not_exist() -> None:
    """A renamed deadline key fails here instead of silently losing its test."""
    assert set(TIMEOUTS) <= set(DEADLINES)


def test_every_deadline_has_a_row_in_the_aftersales_docs() -> None:
    """Issue 15: each deadline is a row of the deadline table in docs/aftersales.md, naming
    its key and its rulebook key."""
    assert DOCS.exists(), "docs/aftersales.md is missing"
    text = DOCS.read_text()
    if "<!-- deadlines:start -->" in text:
        text = text.split("<!-- deadlines:start -->")[1].split("<!-- deadlines:end -->")[0]
    rows = {
        cells[0].strip("` "): line
        for line in text.splitlines()
        if line.lstrip().startswith("|") and (cells := line.strip().strip("|").split("|"))
    }
    missing = [
        key
        for key, deadline in DEADLINES.items()
        if key not in rows or deadline.rule_id not in rows[key]
    ]
    assert missing == [], f"no row (with its rulebook key) in docs/aftersales.md for {missing}"


@pytest.mark.parametrize("timeout", SCENARIOS, ids=[f"{t.deadline}-{t.name}" for t in SCENARIOS])
def test_a_deadline_times_out_at_its_due_instant_and_not_a_second_earlier(
    api: Api, rt: Runtime, clock: SimulatedClock, timeout: Timeout
) -> None:
    """The timer announces its instant, does nothing a second before it, and at it does what
    the deadline table says, with the money to match."""
    case_id = timeout.setup(api)
    started = clock.now()
    running = detail(api, case_id)
    assert running["deadline"]["kind"] == timeout.deadline
    due = parse_instant(running["deadline"]["due_at"])
    assert due == started + timeout.lasts
    announced = last_decision(running, "deadline_set")  # on the feed the moment it starts
    assert announced["details"]["deadline"] == timeout.deadline
    assert parse_instant(announced["details"]["due_at"]) == due
    before = snapshot(rt)

    clock.set(due - timedelta(seconds=1))
    early = tick(rt)
    assert not [outcome for outcome in early if outcome.startswith("case.")], early
    assert detail(api, case_id) == running
    assert snapshot(rt)[1:] == before[1:]  # the ledger and the cases did not move

    clock.set(due)
    outcomes = tick(rt)
    assert any(outcome.startswith(f"{timeout.deadline}: case") for outcome in outcomes), outcomes
    timeout.effect(api, rt, case_id, due)


def test_an_offer_at_35h59_beats_the_36_hour_deadline(
    api: Api, rt: Runtime, clock: SimulatedClock
) -> None:
    """An answer in time replaces the merchant's deadline: at 36:00 nothing is granted."""
    case_id = _refund_only(api)
    answered_at = clock.advance(timedelta(hours=35, minutes=59))
    act(api, "merchant", case_id, "offer", {"amount": "50.00"})
    clock.advance(timedelta(minutes=1))  # 36:00: the merchant_answer deadline's instant
    outcomes = tick(rt)
    assert not [outcome for outcome in outcomes if outcome.startswith("case.")], outcomes
    case = detail(api, case_id)
    assert (case["state"], case["outcome"], case["refunded"]) == ("negotiating", None, "0.00")
    assert case["deadline"]["kind"] == "case.offer_response"
    assert parse_instant(case["deadline"]["due_at"]) == answered_at + timedelta(hours=48)
    assert refunds_of(api, case_id) == []


def test_an_answer_reported_late_as_of_35h59_wins_over_the_unfired_deadline(
    api: Api, rt: Runtime, clock: SimulatedClock
) -> None:
    """The answer commits before the scheduler runs: the timer then finds it answered."""
    case_id = _refund_only(api)
    opened_at = clock.now()
    clock.advance(timedelta(hours=36, seconds=5))
    answered = (opened_at + timedelta(hours=35, minutes=59)).isoformat()
    act(api, "merchant", case_id, "offer", {"amount": "150.00", "occurred_at": answered})
    outcomes = tick(rt)
    assert not [outcome for outcome in outcomes if outcome.startswith("case.merchant")], outcomes
    case = detail(api, case_id)
    assert (case["state"], case["offered"], case["refunded"]) == ("negotiating", "150.00", "0.00")
    assert refunds_of(api, case_id) == []


def test_an_answer_dated_in_time_but_sent_after_the_timeout_fired_lost_the_race(
    api: Api, rt: Runtime, clock: SimulatedClock
) -> None:
    """Once the timeout has decided, a party's action is `409 deadline_passed`, however it
    is dated: it lost the race, its input was not malformed (found by a tester: it was
    `422 occurred_before_previous_step`, the timeout's instant being the last step)."""
    case_id = _refund_only(api)
    opened_at = clock.now()
    clock.advance(timedelta(hours=37))
    outcomes = tick(rt)
    assert any(outcome.startswith("case.merchant") for outcome in outcomes), outcomes
    before = snapshot(rt)
    for dated in (timedelta(hours=35), timedelta(hours=36, minutes=30)):
        answer = api.post(
            "merchant",
            f"/v1/cases/{case_id}/offer",
            {"amount": "50.00", "occurred_at": (opened_at + dated).isoformat()},
        )
        assert_refused(answer, 409, "deadline_passed", "occurred_at")
    assert snapshot(rt) == before


# ---------------------------------------------------------------------- money
def test_a_refund_before_release_comes_from_escrow_and_the_fee_is_on_net_goods(
    api: Api, rt: Runtime
) -> None:
    """Before release the refunded part never reaches the merchant; the fee is on what was sold."""
    order(api, "M-1", "pay", "ship", "sign")
    case = open_case(api, "M-1", "refund_only_quality", amount="100.00")
    act(api, "merchant", case["id"], "accept")
    assert credit(rt, "buyer:B-shop:payable") == 10_000
    before_release = merchant_balance(api)
    assert (before_release["in_escrow"], before_release["payable"]) == (26_000, 0)
    confirmed = api.post("buyer", "/v1/orders/M-1/confirmation")
    assert confirmed.status_code == 200, confirmed.text
    net_fen = CUPS_FEN - 10_000
    (fee,) = decisions_of(api, "M-1", "fee_charged")
    assert fen(fee["amount"]) == fee_fen(net_fen) == 156
    released = merchant_balance(api)
    assert (released["in_escrow"], released["payable"], released["debt"]) == (
        0,
        net_fen - fee_fen(net_fen),
        0,
    )
    with rt.reading(OPERATOR) as ctx:
        payable = balance(ctx.connection, "merchant:M-yiwu:payable")
    assert payable.credits_posted_fen == net_fen  # never credited for the refunded part
    assert decisions_of(api, "M-1", "fee_adjusted") == []


def test_a_case_after_release_takes_from_the_payable_then_into_debt(api: Api, rt: Runtime) -> None:
    """After release the refund comes back from the merchant: its payable first, then as debt,
    the fee on the part no longer sold posted back (`fee_adjusted`)."""
    order(api, "M-2", "pay", "ship", "sign", "confirm")
    assert merchant_balance(api)["payable"] == CUPS_FEN - fee_fen(CUPS_FEN) == 35_784
    first = open_case(api, "M-2", "refund_only_quality", amount="100.00")
    act(api, "merchant", first["id"], "accept")
    after_first = merchant_balance(api)
    # 100.00 taken back, the fee on the 100.00 no longer sold (0.60) posted back
    assert (after_first["payable"], after_first["debt"]) == (35_784 - 10_000 + 60, 0)
    adjusted = decisions_of(api, "M-2", "fee_adjusted")
    assert [fen(item["amount"]) for item in adjusted] == [fee_fen(26_000)]
    assert refunds_of(api, first["id"]) == [10_000]

    paid_out = api.post("operator", "/v1/payouts/runs", {"merchant_ids": ["M-yiwu"]})
    assert paid_out.status_code == 201, paid_out.text
    assert merchant_balance(api)["payable"] == 0
    second = open_case(api, "M-2", "refund_only_quality", amount="200.00")
    act(api, "merchant", second["id"], "accept")
    short = merchant_balance(api)
    fee_back = fee_fen(26_000) - fee_fen(6_000)  # 1.20
    assert (short["payable"], short["debt"]) == (0, 20_000 - fee_back)
    assert short["in_flight"] == 35_784 - 10_000 + 60
    adjusted = decisions_of(api, "M-2", "fee_adjusted")
    assert [fen(item["amount"]) for item in adjusted] == [fee_fen(26_000), fee_fen(6_000)]
    assert refunds_of(api, second["id"]) == [20_000]
    assert credit(rt, "buyer:B-shop:payable") == 30_000


@pytest.mark.parametrize("released", [False, True], ids=["held", "released"])
def test_a_case_refund_names_the_cases_rule_before_and_after_release(
    api: Api, rt: Runtime, released: bool
) -> None:
    """Every decision names its rule: a refund a case decided is not an operator adjustment."""
    order(api, "M-7", "pay", "ship", "sign", *(["confirm"] if released else []))
    case = open_case(api, "M-7", "refund_only_quality", amount="100.00")
    act(api, "merchant", case["id"], "accept")
    (due,) = decisions_of(api, "M-7", "refund_due")
    (instructed,) = decisions_of(api, "M-7", "refund_instructed")
    assert due["details"]["case_id"] == case["id"]
    assert due["rule_ids"] == ["cases.after_shipment"], due
    assert instructed["rule_ids"][0] == "cases.after_shipment", instructed


@pytest.mark.parametrize(
    ("product", "quantity", "buyer", "freight", "subsidy_fen"),
    [
        ("P-cups", 10, "B-shop", "30.00", 2_500),  # ordinary: the 25.00 cap
        ("P-cups", 10, "B-shop", "18.00", 1_800),  # under the cap: the freight
        ("P-towels", 2, "B-shop", "80.00", 5_000),  # 5,000.00 at a super factory: 50.00
        ("P-cups", 10, "B-super", "260.00", 20_000),  # a buyer an operator marked super: 200
    ],
    ids=["ordinary", "under_cap", "large_order", "super_buyer"],
)
def test_the_return_shipping_subsidy_is_paid_by_the_platform_to_the_carrier(
    api: Api, rt: Runtime, product: str, quantity: int, buyer: str, freight: str, subsidy_fen: Fen
) -> None:
    """§3: min(freight, the first matching cap), paid by instruction to the carrier."""
    super_buyer = {**NEW_BUYER, "id": "B-super", "super_buyer_marked": True}
    assert api.post("operator", "/v1/buyers", super_buyer).status_code == 201
    order(api, "M-3", "pay", "ship", "sign", quantities=(quantity,), product=product, buyer=buyer)
    case_id = open_case(api, "M-3", "return_no_reason", role="marketplace")["id"]
    act(api, "merchant", case_id, "accept")
    act(api, "marketplace", case_id, "handover", {"official_logistics": True})
    act(api, "marketplace", case_id, "pickup", {"carrier": "SF", "freight": freight})
    (subsidy,) = decisions_of(api, "M-3", "return_shipping_subsidy")
    assert (fen(subsidy["amount"]), subsidy["payer"], subsidy["payee"]) == (
        subsidy_fen,
        "platform",
        "carrier:SF",
    )
    (paid,) = instructions(api, "carrier_subsidy", "carrier:SF")
    assert (fen(paid["amount"]), paid["state"], paid["order_id"]) == (
        subsidy_fen,
        "instructed",
        "M-3",
    )
    assert credit(rt, "carrier:SF:payable") == subsidy_fen
    assert fen(last_decision(detail(api, case_id), "case_picked_up")["amount"]) == subsidy_fen


def _pickup_ready(api: Api, order_id: str, sub: str | None = None) -> str:
    """A return approved and booked for a doorstep pickup."""
    case_id: str = open_case(api, order_id, "return_no_reason", sub=sub)["id"]
    act(api, "merchant", case_id, "accept")
    act(api, "buyer", case_id, "handover", {"official_logistics": True})
    return case_id


def test_two_pickups_on_one_order_share_one_subsidy_cap(api: Api, rt: Runtime) -> None:
    """§3: one cap per order, whatever the number of its pickups."""
    order(api, "M-4", "pay", "ship", "sign", quantities=(10, 5))
    first = _pickup_ready(api, "M-4", "M-4-1")
    second = _pickup_ready(api, "M-4", "M-4-2")
    act(api, "marketplace", first, "pickup", {"carrier": "SF", "freight": "20.00"})
    act(api, "marketplace", second, "pickup", {"carrier": "SF", "freight": "20.00"})
    subsidies = decisions_of(api, "M-4", "return_shipping_subsidy")
    assert [fen(item["amount"]) for item in subsidies] == [2_000, 500]  # 25.00 in all
    paid = instructions(api, "carrier_subsidy", "carrier:SF")
    assert sorted(fen(item["amount"]) for item in paid) == [500, 2_000]
    assert credit(rt, "carrier:SF:payable") == 2_500


# An order placed, paid, shipped and signed on fixed Shanghai days, before 2024-10-15.
SIGNED_2024_10_12 = {
    "place": "2024-10-10T09:00:00+08:00",
    "pay": "2024-10-10T09:05:00+08:00",
    "ship": "2024-10-11T09:00:00+08:00",
    "sign": "2024-10-12T09:00:00+08:00",
}


def test_an_action_dated_before_the_cases_last_step_is_refused_and_writes_nothing(
    api: Api, rt: Runtime
) -> None:
    """Every case carries its latest transition; an action dated before it is out of order."""
    order(api, "M-6", "pay", "ship", "sign", dated=SIGNED_2024_10_12)
    opened_at = "2024-10-12T12:00:00+08:00"
    case_id = open_case(api, "M-6", "return_no_reason", occurred_at=opened_at)["id"]
    early = {"occurred_at": "2024-10-12T11:59:59+08:00"}  # before the opening
    refused_cleanly(
        rt,
        lambda: api.post("merchant", f"/v1/cases/{case_id}/accept", early),
        422,
        "occurred_before_previous_step",
        "occurred_at",
    )
    act(api, "merchant", case_id, "accept", {"occurred_at": "2024-10-13T10:00:00+08:00"})
    before_accept = {"official_logistics": True, "occurred_at": "2024-10-13T09:00:00+08:00"}
    refused_cleanly(
        rt,
        lambda: api.post("buyer", f"/v1/cases/{case_id}/handover", before_accept),
        422,
        "occurred_before_previous_step",
        "occurred_at",
    )
    on_time = {**before_accept, "occurred_at": "2024-10-13T10:00:00+08:00"}  # the same instant
    assert act(api, "buyer", case_id, "handover", on_time)["goods"] == "awaiting_pickup"


@pytest.mark.parametrize(
    ("picked_up_at", "quick"),
    [("2024-10-14T23:59:59+08:00", False), ("2024-10-15T00:00:00+08:00", True)],
)
def test_a_quick_refund_needs_a_pickup_from_2024_10_15(
    api: Api, rt: Runtime, picked_up_at: str, quick: bool
) -> None:
    """Before the day the refund waits for the inspection; from it, the pickup refunds."""
    order(api, "M-5", "pay", "ship", "sign", dated=SIGNED_2024_10_12)
    case_id = open_case(api, "M-5", "return_no_reason", occurred_at="2024-10-12T12:00:00+08:00")[
        "id"
    ]
    act(api, "merchant", case_id, "accept", {"occurred_at": "2024-10-13T10:00:00+08:00"})
    act(
        api,
        "buyer",
        case_id,
        "handover",
        {"official_logistics": True, "occurred_at": "2024-10-14T10:00:00+08:00"},
    )
    pickup = {"carrier": "SF", "freight": "30.00", "occurred_at": picked_up_at}
    picked = act(api, "marketplace", case_id, "pickup", pickup)
    expected = CUPS_FEN if quick else 0
    assert (fen(picked["quick_refunded"]), fen(picked["refunded"])) == (expected, expected)
    assert credit(rt, "buyer:B-shop:payable") == expected
    assert credit(rt, "carrier:SF:payable") == 2_500  # free return shipping either way
    kinds = [item["kind"] for item in detail(api, case_id)["decisions"]]
    assert ("case_quick_refunded" in kinds) is quick
    act(api, "merchant", case_id, "arrival")
    done = act(api, "merchant", case_id, "inspection", {"result": "ok"})
    assert (done["state"], fen(done["refunded"])) == ("closed", CUPS_FEN)
    assert refunds_of(api, case_id) == [CUPS_FEN]
    assert credit(rt, "buyer:B-shop:payable") == CUPS_FEN


@pytest.mark.parametrize(
    ("malicious", "send_back"),
    [(False, False), (True, False), (False, True)],
    ids=["honest", "malicious", "honest-sent-back"],
)
def test_an_empty_quick_refunded_return_ruled_for_the_merchant(
    api: Api, rt: Runtime, malicious: bool, send_back: bool
) -> None:
    """The platform bears the quick refund (pays the merchant back) unless the operator finds
    the buyer malicious, whether or not the goods are sent back (found by the case state
    machine: sending them back used to skip it); the buyer keeps what was refunded."""
    order(api, "M-6", "pay", "ship", "sign")
    case_id = _pickup_ready(api, "M-6")
    act(api, "marketplace", case_id, "pickup", {"carrier": "SF", "freight": "30.00"})
    act(api, "merchant", case_id, "arrival")
    found = act(api, "merchant", case_id, "inspection", {"result": "wrong_or_empty"})
    assert (found["state"], found["goods"]) == ("escalated", "wrong_or_empty")
    assert detail(api, case_id)["deadline"]["kind"] == "case.ruling"
    ruling = {
        "result": "merchant",
        "note": "box was empty",
        "buyer_malicious": malicious,
        "send_goods_back": send_back,
    }
    ruled = act(api, "operator", case_id, "ruling", ruling)
    assert ruled["goods"] == ("sent_back" if send_back else "wrong_or_empty")
    assert (ruled["state"], ruled["outcome"], fen(ruled["refunded"])) == (
        "closed",
        "ruled_for_merchant",
        CUPS_FEN,
    )
    absorbed = [
        item
        for item in detail(api, case_id)["decisions"]
        if item["kind"] == "quick_refund_absorbed"
    ]
    if malicious:
        assert absorbed == []
        assert merchant_balance(api)["payable"] == 0
    else:
        (decision,) = absorbed
        assert (fen(decision["amount"]), decision["payer"], decision["payee"]) == (
            CUPS_FEN,
            "platform",
            "merchant:M-yiwu",
        )
        assert merchant_balance(api)["payable"] == CUPS_FEN
    assert refunds_of(api, case_id) == [CUPS_FEN]
    assert credit(rt, "buyer:B-shop:payable") == CUPS_FEN


# ------------------------------------------------------------------ bad input
def test_a_refund_above_what_is_left_is_refused_and_writes_nothing(api: Api, rt: Runtime) -> None:
    """Never beyond what was paid: the request, an offer and a ruling are each capped."""
    order(api, "B-1", "pay", "ship", "sign")

    def ask(amount: str, case_type: str = "refund_only_quality") -> Any:
        return api.post("buyer", "/v1/orders/B-1/cases", case_body("B-1", case_type, amount=amount))

    refused_cleanly(rt, lambda: ask("360.01"), 422, "refund_exceeds_remaining", "amount")
    first = open_case(api, "B-1", "refund_only_quality", amount="300.00")
    act(api, "merchant", first["id"], "accept")
    refused_cleanly(rt, lambda: ask("60.01", "return_quality"), 422, "refund_exceeds_remaining")
    refused_cleanly(rt, lambda: ask("0.00"), 422, "amount_not_positive")
    second = open_case(api, "B-1", "refund_only_quality", amount="60.00")
    refused_cleanly(
        rt,
        lambda: api.post("merchant", f"/v1/cases/{second['id']}/offer", {"amount": "60.00"}),
        422,
        "offer_out_of_range",
    )
    act(api, "merchant", second["id"], "offer", {"amount": "10.00"})
    act(api, "buyer", second["id"], "escalate")
    refused_cleanly(
        rt,
        lambda: api.post(
            "operator",
            f"/v1/cases/{second['id']}/ruling",
            {"result": "buyer", "amount": "60.01", "note": "more than asked"},
        ),
        422,
        "amount_out_of_range",
    )
    assert credit(rt, "buyer:B-shop:payable") == 30_000


def test_a_ruling_below_what_the_case_already_refunded_is_refused(api: Api, rt: Runtime) -> None:
    """A quick-refunded return ruled for the buyer: a ruling's amount below the quick refund
    could not be honoured (nothing takes money back from the buyer), so it is refused and
    writes nothing, instead of closing `ruled_for_buyer` with the whole quick refund kept."""
    order(api, "B-11", "pay", "ship", "sign")
    case = open_case(api, "B-11", "return_no_reason")
    act(api, "merchant", case["id"], "accept")
    act(api, "marketplace", case["id"], "pickup", {"carrier": "SF", "freight": "30.00"})
    act(api, "merchant", case["id"], "escalate")
    ruling = {"result": "buyer", "note": "a part only", "amount": "100.00"}
    refused_cleanly(
        rt,
        lambda: api.post("operator", f"/v1/cases/{case['id']}/ruling", ruling),
        422,
        "amount_out_of_range",
        "amount",
    )
    ruled = act(api, "operator", case["id"], "ruling", {**ruling, "amount": "360.00"})
    assert (ruled["outcome"], fen(ruled["refunded"])) == ("ruled_for_buyer", CUPS_FEN)
    assert refunds_of(api, case["id"]) == [CUPS_FEN]


@pytest.mark.parametrize(
    ("case_type", "against"),
    [("refund_only_quality", "merchant"), ("transit_claim", "platform")],
    ids=["for-the-merchant", "for-the-platform"],
)
def test_a_ruling_against_the_claimant_with_an_amount_is_refused(
    api: Api, rt: Runtime, case_type: str, against: str
) -> None:
    """A ruling against the claimant grants nothing, so an `amount` sent with it is refused
    `422 amount_not_allowed` and writes nothing (found by a tester: it was accepted and the
    amount silently ignored)."""
    order(api, "B-12", "pay", "ship", "sign")
    if case_type == "transit_claim":  # escalated at once
        case = open_case(api, "B-12", case_type, role="merchant")
    else:
        case = open_case(api, "B-12", case_type)
        act(api, "merchant", case["id"], "offer", {"amount": "10.00"})
        act(api, "buyer", case["id"], "escalate")
    ruling = {"result": against, "note": "no grounds", "amount": "5.00"}
    refused_cleanly(
        rt,
        lambda: api.post("operator", f"/v1/cases/{case['id']}/ruling", ruling),
        422,
        "amount_not_allowed",
        "amount",
    )
    ruled = act(api, "operator", case["id"], "ruling", {"result": against, "note": "no grounds"})
    assert (ruled["state"], ruled["refunded"]) == ("closed", "0.00")


def test_a_case_on_someone_elses_order_does_not_exist_for_the_caller(api: Api, rt: Runtime) -> None:
    """Another party's order or case answers 404, as if it did not exist, and lists omit it."""
    order(api, "B-2", "pay", "ship", "sign")
    refused_cleanly(
        rt,
        lambda: api.post(
            "other_buyer", "/v1/orders/B-2/cases", case_body("B-2", "refund_only_quality")
        ),
        404,
        "order_not_found",
    )
    case = open_case(api, "B-2", "refund_only_quality", amount="10.00")
    refused_cleanly(
        rt,
        lambda: api.post("other_merchant", f"/v1/cases/{case['id']}/accept"),
        404,
        "case_not_found",
    )
    refused_cleanly(
        rt,
        lambda: api.post("other_buyer", f"/v1/cases/{case['id']}/withdraw"),
        404,
        "case_not_found",
    )
    refused_cleanly(
        rt, lambda: api.post("merchant", "/v1/cases/C-none/accept"), 404, "case_not_found"
    )
    assert_refused(api.get("other_buyer", f"/v1/cases/{case['id']}"), 404, "case_not_found")
    assert api.get("other_buyer", "/v1/cases").json()["items"] == []
    assert api.get("other_merchant", "/v1/cases").json()["items"] == []
    assert [item["id"] for item in api.get("merchant", "/v1/cases").json()["items"]] == [case["id"]]


def test_one_open_case_per_type_per_sub_order(api: Api, rt: Runtime) -> None:
    """A second open case of a type on a sub-order is a conflict; other types and sub-orders,
    and the same type once the first closed, are not."""
    order(api, "B-3", "pay", "ship", "sign", quantities=(10, 5))
    first = open_case(api, "B-3", "return_no_reason", amount="300.00")
    refused_cleanly(
        rt,
        lambda: api.post("buyer", "/v1/orders/B-3/cases", case_body("B-3", "return_no_reason")),
        409,
        "case_already_open",
        "type",
    )
    open_case(api, "B-3", "refund_only_quality", amount="10.00")  # another type
    open_case(api, "B-3", "return_no_reason", sub="B-3-2")  # another sub-order
    act(api, "buyer", first["id"], "withdraw")
    open_case(api, "B-3", "return_no_reason")  # the first is no longer open


def test_a_case_id_already_taken_is_refused_naming_id(api: Api, rt: Runtime) -> None:
    """A case id the caller chooses that already names a case is `409 case_exists`, field
    `id`, as an order's is `order_exists`: not a `concurrent_conflict` (no retry helps) nor a
    `decision_conflict` about a decision the caller never named, whatever the type."""
    order(api, "B-9", "pay", "ship", "sign")
    order(api, "B-10", "pay", "ship", "sign")
    open_case(api, "B-9", "refund_only_not_received", amount="10.00", id="C-taken")

    def reopen(role: str, order_id: str, case_type: str) -> Callable[[], Any]:
        body = case_body(order_id, case_type, id="C-taken")
        return lambda: api.post(role, f"/v1/orders/{order_id}/cases", body)

    for role, order_id, case_type in (
        ("buyer", "B-10", "refund_only_not_received"),
        ("buyer", "B-10", "refund_only_quality"),
        ("buyer", "B-9", "return_quality"),
        ("merchant", "B-10", "transit_claim"),
    ):
        refused_cleanly(rt, reopen(role, order_id, case_type), 409, "case_exists", "id")


def test_actions_out_of_order_are_refused_and_write_nothing(api: Api, rt: Runtime) -> None:
    """Each action needs its state and the goods where they must be; else 409, nothing written."""
    order(api, "B-4", "pay", "ship", "sign")
    ret = open_case(api, "B-4", "return_no_reason", amount="300.00")["id"]
    refund = open_case(api, "B-4", "refund_only_quality", amount="10.00")["id"]

    def post(role: str, case_id: str, action: str, body: Any = None) -> Callable[[], Any]:
        return lambda: api.post(role, f"/v1/cases/{case_id}/{action}", body)

    pickup = {"carrier": "SF", "freight": "10.00"}
    illegal = "illegal_case_transition"
    refused_cleanly(rt, post("marketplace", ret, "pickup", pickup), 409, illegal)
    refused_cleanly(rt, post("merchant", ret, "inspection", {"result": "ok"}), 409, illegal)
    refused_cleanly(
        rt, post("operator", ret, "ruling", {"result": "buyer", "note": "x"}), 409, illegal
    )
    refused_cleanly(rt, post("merchant", refund, "decline"), 409, "refusal_before_negotiation")
    act(api, "merchant", ret, "accept")
    refused_cleanly(rt, post("merchant", ret, "arrival"), 409, illegal)  # not handed over
    refused_cleanly(rt, post("merchant", ret, "inspection", {"result": "ok"}), 409, illegal)
    refused_cleanly(rt, post("merchant", ret, "offer", {"amount": "1.00"}), 409, illegal)
    refused_cleanly(rt, post("buyer", ret, "handover", {"carrier": "SF"}), 422, "tracking_missing")
    act(api, "buyer", ret, "handover", {"official_logistics": True})
    act(api, "marketplace", ret, "pickup", pickup)  # quick-refunded
    refused_cleanly(rt, post("buyer", ret, "withdraw"), 409, "case_refunded")
    act(api, "merchant", refund, "accept")
    refused_cleanly(rt, post("merchant", refund, "accept"), 409, illegal)  # closed
    refused_cleanly(rt, post("buyer", refund, "withdraw"), 409, illegal)


@pytest.mark.parametrize(
    ("role", "action", "body"),
    [
        ("buyer", "offer", {"amount": "5.00"}),
        ("buyer", "pickup", {"carrier": "SF", "freight": "1.00"}),
        ("buyer", "arrival", None),
        ("buyer", "inspection", {"result": "ok"}),
        ("merchant", "handover", {"official_logistics": True}),
        ("merchant", "pickup", {"carrier": "SF", "freight": "1.00"}),
        ("merchant", "ruling", {"result": "merchant", "note": "mine"}),
        ("marketplace", "ruling", {"result": "buyer", "note": "x"}),
    ],
)
def test_an_action_by_the_wrong_role_is_forbidden_and_writes_nothing(
    api: Api, rt: Runtime, role: str, action: str, body: dict[str, Any] | None
) -> None:
    """A role that may never take an action is refused before the body is read."""
    order(api, "B-5", "pay", "ship", "sign")
    case_id = open_case(api, "B-5", "return_no_reason")["id"]
    refused_cleanly(
        rt,
        lambda: api.post(role, f"/v1/cases/{case_id}/{action}", body),
        403,
        "forbidden",
        "authorization",
    )


def test_only_the_claimant_withdraws(api: Api, rt: Runtime) -> None:
    """A merchant may withdraw its own transit claim, never a buyer's case (403)."""
    order(api, "B-7", "pay", "ship", "sign")
    case_id = open_case(api, "B-7", "return_no_reason")["id"]
    refused_cleanly(
        rt,
        lambda: api.post("merchant", f"/v1/cases/{case_id}/withdraw"),
        403,
        "not_your_move",
        "authorization",
    )


def test_a_party_cannot_take_the_other_sides_move(api: Api, rt: Runtime) -> None:
    """`accept` and `decline` belong to whoever must answer: the buyer cannot approve its own
    request, nor the merchant accept its own offer."""
    order(api, "B-6", "pay", "ship", "sign")
    case_id = open_case(api, "B-6", "refund_only_quality", amount="20.00")["id"]
    refused_cleanly(
        rt, lambda: api.post("buyer", f"/v1/cases/{case_id}/accept"), 403, "not_your_move"
    )
    act(api, "merchant", case_id, "offer", {"amount": "5.00"})
    refused_cleanly(
        rt, lambda: api.post("merchant", f"/v1/cases/{case_id}/accept"), 403, "not_your_move"
    )


@pytest.mark.parametrize(
    ("requested_at", "accepted"),
    [("2024-03-08T23:59:59+08:00", True), ("2024-03-09T00:00:00+08:00", False)],
)
def test_the_no_reason_window_ends_at_midnight_shanghai_of_day_seven(
    api: Api, rt: Runtime, requested_at: str, accepted: bool
) -> None:
    """Signed 2024-03-01 14:00 Shanghai: the 7 days count from the day after signing."""
    dated = {
        "place": "2024-02-28T10:00:00+08:00",
        "pay": "2024-02-28T10:05:00+08:00",
        "ship": "2024-02-29T10:00:00+08:00",
        "sign": "2024-03-01T14:00:00+08:00",
    }
    order(api, "B-7", "pay", "ship", "sign", dated=dated)
    body = case_body("B-7", "return_no_reason", occurred_at=requested_at)
    if not accepted:
        refused_cleanly(
            rt, lambda: api.post("buyer", "/v1/orders/B-7/cases", body), 409, "window_closed"
        )
        return
    opened = api.post("buyer", "/v1/orders/B-7/cases", body)
    assert opened.status_code == 201, opened.text
    eligibility = last_decision(detail(api, opened.json()["id"]), "return_eligibility")
    assert eligibility["details"]["eligible"] is True


def test_a_pickup_with_a_negative_freight_is_refused(api: Api, rt: Runtime) -> None:
    """A negative freight would pay the carrier backwards: refused before anything moves."""
    order(api, "B-8", "pay", "ship", "sign")
    case_id = _pickup_ready(api, "B-8")
    refused_cleanly(
        rt,
        lambda: api.post(
            "marketplace", f"/v1/cases/{case_id}/pickup", {"carrier": "SF", "freight": "-1.00"}
        ),
        422,
        "amount_negative",
        "freight",
    )
    assert detail(api, case_id)["goods"] == "awaiting_pickup"


def test_a_case_before_shipment_or_of_an_unknown_type_is_refused(api: Api, rt: Runtime) -> None:
    """Before shipment a refund is refund-before-shipment, not a case; types are a closed list."""
    order(api, "B-9", "pay")
    refused_cleanly(
        rt,
        lambda: api.post(
            "buyer", "/v1/orders/B-9/cases", case_body("B-9", "refund_only_not_received")
        ),
        409,
        "case_before_shipment",
    )
    order(api, "B-10", "pay", "ship")
    refused_cleanly(
        rt,
        lambda: api.post("buyer", "/v1/orders/B-10/cases", case_body("B-10", "refund_anything")),
        422,
        "invalid_choice",
        "type",
    )


def test_a_case_dated_before_its_shipment_is_refused(api: Api, rt: Runtime) -> None:
    """Cases start once the sub-order has shipped — as of the case's own instant, not only
    the order's state now (else its 36 hours could run out before the parcel left)."""
    dated = {
        "place": "2024-10-15T10:00:00+08:00",
        "pay": "2024-10-15T11:00:00+08:00",
        "ship": "2024-10-18T10:00:00+08:00",
    }
    order(api, "B-12", "pay", "ship", dated=dated)
    body = case_body("B-12", "refund_only_not_received", occurred_at="2024-10-16T10:00:00+08:00")
    refused_cleanly(
        rt,
        lambda: api.post("buyer", "/v1/orders/B-12/cases", body),
        409,
        "case_before_shipment",
    )


def test_not_received_is_refused_once_receipt_is_confirmed(api: Api, rt: Runtime) -> None:
    """Once receipt is confirmed, not received is no longer a claim: ask for quality instead."""
    order(api, "B-11", "pay", "ship", "sign", "confirm")
    refused_cleanly(
        rt,
        lambda: api.post(
            "buyer", "/v1/orders/B-11/cases", case_body("B-11", "refund_only_not_received")
        ),
        409,
        "receipt_confirmed",
    )


# ------------------------------------------------------- auto-confirmation hold
def test_an_open_case_holds_auto_confirmation_until_it_closes(
    api: Api, rt: Runtime, clock: SimulatedClock
) -> None:
    """The case open at signing + 10 days holds the release; closing it re-arms confirmation."""
    order(api, "H-1", "pay", "ship", "sign")
    signed_at = clock.now()
    clock.advance(timedelta(days=9))
    case = open_case(api, "H-1", "refund_only_quality", amount="100.00")
    clock.set(signed_at + timedelta(days=10, seconds=1))
    held = [outcome for outcome in tick(rt) if outcome.startswith("held")]
    assert len(held) == 1 and case["id"] in held[0], held
    assert api.get("buyer", "/v1/orders/H-1").json()["state"] == "signed"
    assert merchant_balance(api)["payable"] == 0
    closed_at = clock.advance(timedelta(hours=1))
    act(api, "merchant", case["id"], "accept")
    tick(rt)
    confirmed = api.get("buyer", "/v1/orders/H-1").json()
    assert confirmed["confirmed_by"] == "automatic"
    assert parse_instant(confirmed["confirmed_at"]) == closed_at  # re-armed when it closed
    assert confirmed["state"] == "completed"  # and its return window is long over
    net_fen = CUPS_FEN - 10_000
    assert merchant_balance(api)["payable"] == net_fen - fee_fen(net_fen)


# ---------------------------------------------------------------------- batch
def test_a_return_through_the_batch_path_then_replayed(api: Api, rt: Runtime) -> None:
    """The batch path is the same command as the single routes: same answers, same keys."""
    order(api, "F-1", "pay", "ship", "sign")

    def fact(kind: str, key: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        subject = {"order_id": "F-1"} if kind == "case" else {"case_id": "C-F1"}
        return {"kind": kind, "idempotency_key": key, "body": body, **subject}

    facts = [
        fact("case", "f1-open", {**case_body("F-1", "return_no_reason"), "id": "C-F1"}),
        fact("case-accept", "f1-accept"),
        fact("case-handover", "f1-handover", {"official_logistics": True}),
        fact("case-pickup", "f1-pickup", {"carrier": "SF", "freight": "18.00"}),
        fact("case-arrival", "f1-arrival"),
        fact("case-inspection", "f1-inspection", {"result": "ok"}),
    ]
    answer = api.post("marketplace", "/v1/facts", {"facts": facts})
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [(item["outcome"], item["status"]) for item in results] == [("applied", 201)] + [
        ("applied", 200)
    ] * 5, results
    assert [item["response"]["state"] for item in results] == [
        "pending",
        "accepted",
        "accepted",
        "accepted",
        "accepted",
        "closed",
    ]
    case = detail(api, "C-F1")
    assert (case["outcome"], fen(case["refunded"]), fen(case["quick_refunded"])) == (
        "agreed",
        CUPS_FEN,
        CUPS_FEN,
    )
    assert credit(rt, "carrier:SF:payable") == 1_800  # 18.00 is under the 25.00 cap
    before = snapshot(rt)
    again = api.post("marketplace", "/v1/facts", {"facts": facts}).json()["results"]
    assert [item["outcome"] for item in again] == ["replayed"] * 6
    single = api.post("marketplace", "/v1/cases/C-F1/accept", None, key="f1-accept")
    assert single.status_code == 200 and single.json() == results[1]["response"]
    assert snapshot(rt) == before
    assert refunds_of(api, "C-F1") == [CUPS_FEN]


def test_a_refund_only_negotiated_through_the_batch_path(api: Api, rt: Runtime) -> None:
    """A negotiation sent as facts; a fact the state refuses is refused, the rest applied."""
    order(api, "F-2", "pay", "ship", "sign")
    facts = [
        {
            "kind": "case",
            "order_id": "F-2",
            "idempotency_key": "f2-open",
            "body": {**case_body("F-2", "refund_only_quality", amount="90.00"), "id": "C-F2"},
        },
        {
            "kind": "case-offer",
            "case_id": "C-F2",
            "idempotency_key": "f2-offer",
            "body": {"amount": "30.00"},
        },
        {"kind": "case-decline", "case_id": "C-F2", "idempotency_key": "f2-decline"},
        {
            "kind": "case-offer",
            "case_id": "C-F2",
            "idempotency_key": "f2-offer-2",
            "body": {"amount": "60.00"},
        },
        {"kind": "case-accept", "case_id": "C-F2", "idempotency_key": "f2-accept"},
        {"kind": "case-withdraw", "case_id": "C-F2", "idempotency_key": "f2-withdraw"},
    ]
    results = api.post("marketplace", "/v1/facts", {"facts": facts}).json()["results"]
    assert [item["outcome"] for item in results] == ["applied"] * 5 + ["refused"], results
    assert (results[5]["status"], results[5]["error"]["code"]) == (409, "illegal_case_transition")
    case = detail(api, "C-F2")
    assert (case["state"], case["outcome"], case["refunded"]) == ("closed", "agreed", "60.00")
    assert refunds_of(api, "C-F2") == [6_000]
