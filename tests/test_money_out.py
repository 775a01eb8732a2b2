"""Money out through the HTTP API (issue 13), on SQLite and PostgreSQL.

A simulated Shanghai month of 200 orders across 20 merchants — releases, two
payout runs, a failed payout paid by the next run, a refund after release that
puts a merchant into debt netted against its next releases, a failed refund
retried — checked to the fen after every phase against a model the test keeps
itself in plain integer fen; every bad input a 4xx that writes nothing;
instructions left without an outcome listed as overdue; automatic steps held
while something is open on an order.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from buyerguard.bootstrap import Runtime
from buyerguard.clock import SimulatedClock, ensure_utc, format_instant, parse_instant
from buyerguard.domain.orders import Order
from buyerguard.ledger.check import check_ledger
from buyerguard.money import format_fen, parse_yuan
from buyerguard.scheduler import Scheduler
from buyerguard.services import orders, payouts
from buyerguard.services.context import OPERATOR, Context
from buyerguard.services.open_matters import OPEN_MATTER_CHECKS
from buyerguard.store import repositories
from buyerguard.store.tables import decisions, instructions, ledger_accounts, timers
from buyerguard.timer_kinds import TIMER_KINDS
from tests.conftest import Api
from tests.test_api import ORDER, assert_refused, row_counts

MONTH = "2024-11"
MERCHANTS = [f"M-{index:02d}" for index in range(20)]
BUYERS = [f"B-{index:02d}" for index in range(5)]
ADDRESS = {"province_code": "440000", "city_code": "440300", "district_code": "440305"}
RESERVE_MERCHANT = "M-07"  # keeps a tenth back at payout, then a twentieth
FAILED_MERCHANT = "M-03"  # its first payout fails
DEBT_MERCHANT = "M-05"  # a refund after release larger than its payable
RESERVE_WINDOW = timedelta(days=30)  # payouts.reserve_window_days in the baseline rulebook
SHIPMENT = {"carrier": "sf", "tracking_number": "SF1", "official_logistics": True}


def november(day_and_time: str) -> datetime:
    """An instant of the simulated month, written as Shanghai wall time ("05T00:30")."""
    return parse_instant(f"{MONTH}-{day_and_time}:00+08:00")


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def fen(text: str) -> int:
    return parse_yuan(text, allow_negative=True)


def fee_fen(base_fen: int) -> int:
    """§1 as in force in November 2024, written out independently: 0.6 % of the goods
    paid less refunded, half up, capped at 18.00 per sub-order."""
    return min(1800, (base_fen * 6 + 500) // 1000)


# ------------------------------------------------------------------------ the model
@dataclass
class SubModel:
    id: str
    goods: int
    refunded: int = 0
    fee: int = 0

    @property
    def settled(self) -> int:
        return self.goods - self.refunded


@dataclass
class OrderModel:
    id: str
    merchant: str
    buyer: str
    subs: list[SubModel]
    shipping: int

    @property
    def total(self) -> int:
        return sum(sub.goods for sub in self.subs) + self.shipping

    def sub(self, sub_id: str) -> SubModel:
        return next(sub for sub in self.subs if sub.id == sub_id)


@dataclass
class MerchantModel:
    """Where one merchant's money should stand, from the amounts the test sent."""

    reserve_per_mille: int = 0
    escrow: int = 0
    payable: int = 0
    reserve: int = 0
    in_flight: int = 0
    paid_out: int = 0
    debt: int = 0
    lines: Counter[str] = field(default_factory=Counter)
    releases: list[tuple[datetime, int]] = field(default_factory=list)  # when, how much

    def net_debt(self) -> None:
        settled = min(self.debt, self.payable)
        self.payable -= settled
        self.debt -= settled

    def take(self, amount: int, line: str) -> tuple[int, int, int]:
        """Payable first, then reserve, the rest as debt."""
        from_payable = min(amount, self.payable)
        from_reserve = min(amount - from_payable, self.reserve)
        into_debt = amount - from_payable - from_reserve
        self.payable -= from_payable
        self.reserve -= from_reserve
        self.debt += into_debt
        self.lines[line] -= amount
        return from_payable, from_reserve, into_debt

    def balance_view(self, merchant_id: str) -> dict[str, str]:
        return {
            "merchant_id": merchant_id,
            "in_escrow": format_fen(self.escrow),
            "payable": format_fen(self.payable),
            "reserved": format_fen(self.reserve),
            "in_flight": format_fen(self.in_flight),
            "paid_out": format_fen(self.paid_out),
            "debt": format_fen(self.debt),
            "net_owed": format_fen(self.owed),
        }

    @property
    def owed(self) -> int:
        return self.payable + self.reserve + self.in_flight - self.debt


@dataclass
class Model:
    merchants: dict[str, MerchantModel] = field(default_factory=dict)
    orders: dict[str, OrderModel] = field(default_factory=dict)
    executed_payouts: int = 0

    def pay(self, order: OrderModel) -> None:
        self.orders[order.id] = order
        self.merchants[order.merchant].escrow += order.total

    def refund_before_shipment(self, order_id: str, sub_id: str, amount: int) -> None:
        order = self.orders[order_id]
        order.sub(sub_id).refunded += amount
        self.merchants[order.merchant].escrow -= amount

    def release(self, order_id: str, at: datetime) -> None:
        order = self.orders[order_id]
        merchant = self.merchants[order.merchant]
        for sub in order.subs:
            sub.fee = fee_fen(sub.settled)
            merchant.payable += sub.settled - sub.fee
            merchant.lines["releases"] += sub.settled
            merchant.lines["fees"] -= sub.fee
        merchant.payable += order.shipping
        merchant.lines["releases"] += order.shipping
        released = sum(sub.settled for sub in order.subs) + order.shipping
        merchant.escrow -= released
        merchant.releases.append((at, released))
        merchant.net_debt()

    def refund_after_release(self, order_id: str, sub_id: str, amount: int) -> tuple[int, ...]:
        order = self.orders[order_id]
        merchant = self.merchants[order.merchant]
        sub = order.sub(sub_id)
        sub.refunded += amount
        fee = fee_fen(sub.settled)
        merchant.payable += sub.fee - fee
        merchant.lines["fee_refunds"] += sub.fee - fee
        sub.fee = fee
        return merchant.take(amount, "refunds")

    def clawback(self, order_id: str, amount: int) -> tuple[int, ...]:
        return self.merchants[self.orders[order_id].merchant].take(amount, "clawbacks")

    def run_payouts(self, as_of: datetime) -> dict[str, int]:
        """Every merchant with money on its payable or reserve: debt netted, the reserve
        brought to its share of the releases of the last 30 days (never more than the
        merchant holds), the rest instructed (1.00 at least)."""
        paid: dict[str, int] = {}
        window_start = as_of - RESERVE_WINDOW
        for merchant_id, merchant in sorted(self.merchants.items()):
            if merchant.payable <= 0 and merchant.reserve <= 0:
                continue
            merchant.net_debt()
            held = merchant.payable + merchant.reserve
            recent = sum(amount for at, amount in merchant.releases if at >= window_start)
            target = min((recent * merchant.reserve_per_mille + 500) // 1000, held)
            amount = held - target
            if amount < 100:
                continue
            merchant.payable, merchant.reserve = 0, target
            merchant.in_flight += amount
            paid[merchant_id] = amount
        return paid

    def payout_reported(self, merchant_id: str, amount: int, outcome: str) -> None:
        merchant = self.merchants[merchant_id]
        merchant.in_flight -= amount
        if outcome == "executed":
            merchant.paid_out += amount
            merchant.lines["payouts"] -= amount
            self.executed_payouts += amount
        else:
            merchant.payable += amount
            merchant.net_debt()


# ---------------------------------------------------------------------- API helpers
def send_facts(api: Api, facts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Facts in batches through POST /v1/facts; every one must apply."""
    results: list[dict[str, Any]] = []
    for start in range(0, len(facts), 500):
        body = ok(api.post("marketplace", "/v1/facts", {"facts": facts[start : start + 500]}))
        refused = [result for result in body["results"] if result["outcome"] != "applied"]
        assert not refused, refused[:3]
        results.extend(body["results"])
    return results


def fact(kind: str, order_id: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "kind": kind,
        "order_id": order_id,
        "idempotency_key": f"{kind}-{order_id}",
        "body": body,
    }


def release_facts(order_ids: list[str], *, confirm: bool = True) -> list[dict[str, Any]]:
    facts: list[dict[str, Any]] = []
    for order_id in order_ids:
        facts.append(fact("shipment", order_id, {**SHIPMENT, "tracking_number": f"SF-{order_id}"}))
        facts.append(fact("signing", order_id))
        if confirm:
            facts.append(fact("confirmation", order_id))
    return facts


def balance(api: Api, merchant_id: str) -> dict[str, str]:
    return dict(ok(api.get("marketplace", f"/v1/merchants/{merchant_id}/balance")))


def account(api: Api, account_id: str) -> dict[str, str]:
    return dict(ok(api.get("marketplace", f"/v1/ledger/accounts/{account_id}")))


def instruction_of(api: Api, kind: str, order_id: str, state: str = "instructed") -> dict[str, Any]:
    """The one instruction of `kind` on an order in `state`."""
    items = ok(api.get("marketplace", f"/v1/instructions?kind={kind}&state={state}&limit=500"))
    found = [item for item in items["items"] if item["order_id"] == order_id]
    assert len(found) == 1, found
    return dict(found[0])


def report(api: Api, path: str, outcome: str, **extra: str) -> dict[str, Any]:
    body = {"outcome": outcome, **extra}
    return dict(ok(api.post("marketplace", path, body)))


def run_payouts(api: Api) -> dict[str, dict[str, Any]]:
    """POST /v1/payouts/runs; the payouts it instructed, by merchant."""
    run = ok(api.post("operator", "/v1/payouts/runs", {}), 201)
    paid = {result["merchant_id"]: result for result in run["results"] if result["payout_id"]}
    assert run["payouts"] == len(paid)
    assert fen(run["total"]) == sum(fen(result["amount"]) for result in paid.values())
    return paid


def assert_balances(api: Api, model: Model) -> None:
    """Every merchant's balance endpoint equals the model, to the fen."""
    for merchant_id, merchant in model.merchants.items():
        assert balance(api, merchant_id) == merchant.balance_view(merchant_id), merchant_id


def snapshot(rt: Runtime) -> tuple[dict[str, int], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Row counts of every table, and every ledger account and instruction row as is:
    a refused request must leave all of it unchanged."""
    counts = row_counts(rt)
    with rt.reading(OPERATOR) as ctx:
        accounts = ctx.connection.execute(select(ledger_accounts).order_by(ledger_accounts.c.id))
        rows = ctx.connection.execute(select(instructions).order_by(instructions.c.id))
        return counts, [tuple(row) for row in accounts], [tuple(row) for row in rows]


def put_reserve(api: Api, share: object, merchant_id: str = "M-yiwu") -> Any:
    return api.client.put(
        f"/v1/merchants/{merchant_id}/payout-settings",
        json={"reserve_share": share},
        headers=api.headers("operator"),
    )


# ----------------------------------------------------------------- the simulated month
def set_up_month(api: Api, model: Model) -> None:
    """20 merchants with two products each, 5 buyers, 200 orders placed and paid."""
    body: dict[str, Any]
    for index, merchant_id in enumerate(MERCHANTS):
        body = {
            "id": merchant_id,
            "name": f"m{index}",
            "industry": "toys",
            "origin_region": "330782",
        }
        ok(api.post("marketplace", "/v1/merchants", body), 201)
        model.merchants[merchant_id] = MerchantModel()
        for suffix, price in (("a", 10_000 + 1_370 * index), ("b", 168_000 + 100 * index)):
            product = {
                "id": f"P-{index:02d}-{suffix}",
                "merchant_id": merchant_id,
                "title": f"goods {suffix}",
                "unit_price": format_fen(price),
                "ship_from_region": "330782",
                "seven_day_returns_opt_in": True,
            }
            ok(api.post("marketplace", "/v1/products", product), 201)
    for buyer_id in BUYERS:
        body = {"id": buyer_id, "name": buyer_id, "addresses": [ADDRESS]}
        ok(api.post("marketplace", "/v1/buyers", body), 201)
    answer = ok(put_reserve(api, "0.10", RESERVE_MERCHANT))
    assert answer["reserve_share"] == "0.10" and answer["source"].startswith("merchant")
    model.merchants[RESERVE_MERCHANT].reserve_per_mille = 100

    facts: list[dict[str, Any]] = []
    for number in range(200):
        merchant = number % 20
        order_id = f"O-{number:03d}"
        lines = [(f"P-{merchant:02d}-a", 1 + number % 4, 10_000 + 1_370 * merchant)]
        if number % 3 == 0:  # a second line; two of product b pass the 18.00 fee cap
            lines.append((f"P-{merchant:02d}-b", 1 + number % 2, 168_000 + 100 * merchant))
        shipping = 600 if number % 4 == 1 else 0
        order = OrderModel(
            order_id,
            MERCHANTS[merchant],
            BUYERS[number % 5],
            [
                SubModel(f"{order_id}-{line_no}", quantity * price)
                for line_no, (_, quantity, price) in enumerate(lines, start=1)
            ],
            shipping,
        )
        body = {
            "id": order_id,
            "buyer_id": order.buyer,
            "lines": [
                {"product_id": product, "quantity": quantity} for product, quantity, _ in lines
            ],
            "shipping": format_fen(shipping),
        }
        facts.append({"kind": "order", "idempotency_key": f"order-{order_id}", "body": body})
        facts.append(fact("payment", order_id, {"amount": format_fen(order.total)}))
        model.pay(order)
    send_facts(api, facts)


def release(api: Api, model: Model, order_ids: list[str], at: datetime) -> None:
    """Ship, sign and confirm; the fee of every sub-order is the model's."""
    results = send_facts(api, release_facts(order_ids))
    for order_id in order_ids:
        model.release(order_id, at)
    confirmed = [result["response"] for result in results[2::3]]
    for view in confirmed:
        assert view["state"] == "confirmed"
        order = model.orders[view["id"]]
        assert [sub["fee"] for sub in view["sub_orders"]] == [
            format_fen(sub.fee) for sub in order.subs
        ]


def execute_payouts_in_a_batch(api: Api, model: Model, paid: dict[str, dict[str, Any]]) -> None:
    """Execution reports as `payout-execution` facts of one POST /v1/facts."""
    facts = [
        {
            "kind": "payout-execution",
            "instruction_id": result["payout_id"],
            "idempotency_key": f"execute-{result['payout_id']}",
            "body": {"outcome": "executed", "merchant_id": merchant_id},
        }
        for merchant_id, result in paid.items()
    ]
    for answer, (merchant_id, result) in zip(send_facts(api, facts), paid.items(), strict=True):
        assert answer["response"]["state"] == "executed"
        assert answer["response"]["id"] == result["payout_id"]
        model.payout_reported(merchant_id, fen(result["amount"]), "executed")


def execute_payouts(
    api: Api, model: Model, paid: dict[str, dict[str, Any]], failing: str | None = None
) -> None:
    for merchant_id, result in paid.items():
        outcome = "failed" if merchant_id == failing else "executed"
        extra = {"reason": "bank account frozen"} if outcome == "failed" else {}
        answer = report(
            api,
            f"/v1/payouts/{result['payout_id']}/execution",
            outcome,
            reference=f"bank-{result['payout_id']}",
            merchant_id=merchant_id,
            **extra,
        )
        assert answer["state"] == outcome and answer["party"] == f"merchant:{merchant_id}"
        model.payout_reported(merchant_id, fen(result["amount"]), outcome)


def test_a_simulated_month_adds_up_to_the_fen(api: Api, rt: Runtime, clock: SimulatedClock) -> None:
    """Issue 13's acceptance month: every balance, every statement and the ledger agree with
    a model kept in integer fen by the test, after every phase."""
    model = Model()
    clock.set(november("01T09:00"))
    set_up_month(api, model)
    assert_balances(api, model)

    # Nov 1: two refunds before shipment, each one refund instruction to its buyer
    clock.set(november("01T10:00"))
    for order_id, amount in (("O-150", "3.00"), ("O-171", "2.50")):
        body = {"amounts": {f"{order_id}-1": amount}}
        ok(api.post("marketplace", f"/v1/orders/{order_id}/refund-before-shipment", body))
        model.refund_before_shipment(order_id, f"{order_id}-1", fen(amount))
    refund_ok = instruction_of(api, "refund", "O-150")
    refund_failing = instruction_of(api, "refund", "O-171")
    assert (refund_ok["amount"], refund_ok["party"]) == ("3.00", "buyer:B-00")
    assert (refund_failing["amount"], refund_failing["party"]) == ("2.50", "buyer:B-01")

    # Nov 2: the first 100 orders are released
    clock.set(november("02T10:00"))
    release(api, model, [f"O-{number:03d}" for number in range(100)], clock.now())
    assert_balances(api, model)

    # Nov 5, 00:30: payout run 1; one payout fails and its money is owed again
    clock.set(november("05T00:30"))
    expected = model.run_payouts(clock.now())
    first = run_payouts(api)
    assert {m: fen(result["amount"]) for m, result in first.items()} == expected
    assert set(expected) == set(MERCHANTS)
    reserve = model.merchants[RESERVE_MERCHANT].reserve
    assert reserve > 0 and fen(first[RESERVE_MERCHANT]["reserve_moved"]) == reserve
    assert_balances(api, model)
    clock.set(november("05T10:00"))
    execute_payouts(api, model, first, failing=FAILED_MERCHANT)
    failed = balance(api, FAILED_MERCHANT)
    assert fen(failed["payable"]) == fen(first[FAILED_MERCHANT]["amount"]) > 0
    assert failed["in_flight"] == "0.00" and failed["paid_out"] == "0.00"
    assert_balances(api, model)

    # the refund instructions: one executed; one failed, retried once, then executed
    done = report(api, f"/v1/instructions/{refund_ok['id']}/execution", "executed")
    assert done["state"] == "executed"
    path = f"/v1/instructions/{refund_failing['id']}/execution"
    assert report(api, path, "failed", reason="card closed")["state"] == "failed"
    assert account(api, "buyer:B-01:payable")["balance"] == "2.50"
    retried = ok(api.post("marketplace", f"/v1/instructions/{refund_failing['id']}/retry"), 201)
    assert (retried["retry_of"], retried["amount"], retried["state"]) == (
        refund_failing["id"],
        "2.50",
        "instructed",
    )
    again = ok(api.post("marketplace", f"/v1/instructions/{refund_failing['id']}/retry"), 201)
    assert again["id"] == retried["id"]  # retried once: the same retry answers
    report(api, f"/v1/instructions/{retried['id']}/execution", "executed")
    for buyer_id, paid_fen in (("B-00", 300), ("B-01", 250)):
        assert fen(account(api, f"buyer:{buyer_id}:paid_out")["balance"]) == paid_fen
        assert account(api, f"buyer:{buyer_id}:payable")["balance"] == "0.00"

    # Nov 6: a refund after release larger than the merchant's payable -> debt;
    # a clawback larger than the reserve merchant's payable -> from its reserve
    clock.set(november("06T10:00"))
    refund = {
        "kind": "refund",
        "sub_order_id": "O-045-2",
        "amount": "2,000.00",
        "reason": "goods returned damaged",
    }
    adjusted = ok(api.post("operator", "/v1/orders/O-045/adjustments", refund, key="adj-1"), 201)
    taken = model.refund_after_release("O-045", "O-045-2", fen("2000.00"))
    assert taken[2] > 0  # the merchant's payable did not cover it
    assert adjusted["taken_from_merchant"] == dict(
        zip(("payable", "reserve", "debt"), map(format_fen, taken), strict=True)
    )
    assert (adjusted["operator"], adjusted["reason"]) == ("operator", "goods returned damaged")
    debtor = balance(api, DEBT_MERCHANT)
    assert fen(debtor["debt"]) == taken[2] and fen(debtor["net_owed"]) == -taken[2]
    decided = ok(api.get("marketplace", "/v1/orders/O-045/decisions"))["items"]
    refund_due = [d for d in decided if d["kind"] == "refund_due"]
    assert [d["details"]["operator"] for d in refund_due] == ["operator"]
    assert refund_due[0]["details"]["reason"] == "goods returned damaged"
    clawback = {
        "kind": "clawback",
        "sub_order_id": "O-027-1",
        "amount": "50.00",
        "reason": "false shipment",
    }
    clawed = ok(api.post("operator", "/v1/orders/O-027/adjustments", clawback, key="adj-2"), 201)
    assert model.clawback("O-027", 5_000) == (0, 5_000, 0)
    assert clawed["taken_from_merchant"] == {"payable": "0.00", "reserve": "50.00", "debt": "0.00"}
    assert_balances(api, model)

    # Nov 10: orders 100..179 released; the debt is netted against the releases
    clock.set(november("10T10:00"))
    release(api, model, [f"O-{number:03d}" for number in range(100, 180)], clock.now())
    assert model.merchants[DEBT_MERCHANT].debt == 0
    assert balance(api, DEBT_MERCHANT)["debt"] == "0.00"
    with rt.reading(OPERATOR) as ctx:
        netted = ctx.connection.execute(
            select(decisions.c.amount_fen).where(
                decisions.c.kind == "merchant_debt_netted",
                decisions.c.subject_id == f"merchant:{DEBT_MERCHANT}",
            )
        ).all()
    assert sum(row.amount_fen for row in netted) == taken[2]
    assert_balances(api, model)

    # Nov 15, 00:30: payout run 2 pays the failed payout's money with the new releases
    # and keeps a twentieth back at M-07 instead of a tenth: its reserve is partly released
    clock.set(november("15T00:30"))
    ok(put_reserve(api, "0.05", RESERVE_MERCHANT))
    model.merchants[RESERVE_MERCHANT].reserve_per_mille = 50
    owed_again = fen(first[FAILED_MERCHANT]["amount"])
    expected = model.run_payouts(clock.now())
    second = run_payouts(api)
    assert {m: fen(result["amount"]) for m, result in second.items()} == expected
    assert fen(second[FAILED_MERCHANT]["amount"]) > owed_again
    assert fen(second[RESERVE_MERCHANT]["reserve_moved"]) < 0
    assert_balances(api, model)
    clock.set(november("15T10:00"))
    execute_payouts_in_a_batch(api, model, second)
    assert_balances(api, model)

    # Nov 20: 180..189 released; 190..199 signed and left in escrow
    clock.set(november("20T10:00"))
    release(api, model, [f"O-{number:03d}" for number in range(180, 190)], clock.now())
    send_facts(api, release_facts([f"O-{number:03d}" for number in range(190, 200)], confirm=False))
    report(api, f"/v1/instructions/{adjusted['instruction_id']}/execution", "executed")

    # Nov 28: everything adds up
    clock.set(november("28T12:00"))
    assert_balances(api, model)
    assert any(merchant.escrow > 0 for merchant in model.merchants.values())
    assert any(merchant.reserve > 0 for merchant in model.merchants.values())
    for merchant_id, merchant in model.merchants.items():
        statement = ok(api.get("marketplace", f"/v1/merchants/{merchant_id}/statements/{MONTH}"))
        lines = {name: fen(amount) for name, amount in statement["lines"].items()}
        opening, closing = fen(statement["opening_balance"]), fen(statement["closing_balance"])
        assert opening + sum(lines.values()) == closing, merchant_id
        assert opening == 0 and statement["complete"] is False
        expected_lines = {name: amount for name, amount in merchant.lines.items() if amount}
        assert {name: amount for name, amount in lines.items() if amount} == expected_lines
        shown = balance(api, merchant_id)
        assert closing == (
            fen(shown["payable"])
            + fen(shown["reserved"])
            + fen(shown["in_flight"])
            - fen(shown["debt"])
        )
        assert closing == merchant.owed, merchant_id
        ledger = [
            account(api, f"merchant:{merchant_id}:{purpose}")
            for purpose in ("payable", "reserve", "debt")
        ]
        assert closing == sum(fen(found["balance"]) for found in ledger)  # debt: negative
        assert fen(ledger[0]["debits_pending"]) == merchant.in_flight
        paid_account = account(api, f"merchant:{merchant_id}:paid_out")
        assert fen(paid_account["balance"]) == merchant.paid_out
        assert fen(statement["in_flight_at_close"]) == merchant.in_flight
        assert fen(statement["debt_at_close"]) == merchant.debt

        december = ok(api.get("marketplace", f"/v1/merchants/{merchant_id}/statements/2024-12"))
        assert december["opening_balance"] == december["closing_balance"] == format_fen(closing)
        october = ok(api.get("marketplace", f"/v1/merchants/{merchant_id}/statements/2024-10"))
        assert (october["closing_balance"], october["complete"]) == ("0.00", True)

    executed = ok(api.get("marketplace", "/v1/payouts?state=executed&limit=500"))["items"]
    assert len(executed) == 2 * len(MERCHANTS) - 1
    paid_out = sum(fen(balance(api, merchant_id)["paid_out"]) for merchant_id in MERCHANTS)
    assert paid_out == sum(fen(item["amount"]) for item in executed) == model.executed_payouts
    assert ok(api.get("marketplace", "/v1/instructions?state=instructed"))["items"] == []
    with rt.reading(OPERATOR) as ctx:
        checked = check_ledger(ctx.connection)
    assert checked.ok, checked.breaches


# ---------------------------------------------------------------------- bad input
def released_demo_orders(api: Api) -> None:
    """O-1 of M-yiwu and O-2 of M-shenzhen, released."""
    cables = {
        "id": "O-2",
        "buyer_id": "B-chain",
        "lines": [{"product_id": "P-cables", "quantity": 1}],
    }
    for order, total in ((ORDER, "5380.00"), (cables, "750.00")):
        ok(api.post("marketplace", "/v1/orders", order), 201)
        order_id = str(order["id"])
        ok(api.post("marketplace", f"/v1/orders/{order_id}/payment", {"amount": total}))
        ok(api.post("marketplace", f"/v1/orders/{order_id}/shipment", SHIPMENT))
        ok(api.post("marketplace", f"/v1/orders/{order_id}/signing"))
        ok(api.post("marketplace", f"/v1/orders/{order_id}/confirmation"))


def test_an_outcome_is_final_and_a_payout_belongs_to_its_merchant(api: Api, rt: Runtime) -> None:
    released_demo_orders(api)
    paid = run_payouts(api)
    own, other = paid["M-yiwu"]["payout_id"], paid["M-shenzhen"]["payout_id"]
    assert paid["M-yiwu"]["amount"] == "5359.84"  # 5,380.00 less fees 2.16 and 18.00
    path = f"/v1/payouts/{own}/execution"
    first = ok(api.post("marketplace", path, {"outcome": "executed", "reference": "b-1"}))
    before = snapshot(rt)
    again = ok(api.post("marketplace", path, {"outcome": "executed", "reference": "b-1"}))
    assert again == first and again["state"] == "executed"
    for body in (
        {"outcome": "failed", "reason": "account closed"},
        {"outcome": "executed", "reference": "b-2"},
    ):
        assert_refused(
            api.post("marketplace", path, body), 409, "instruction_already_reported", "outcome"
        )
    assert_refused(
        api.post("marketplace", f"/v1/payouts/{other}/execution", {"outcome": "failed"}),
        422,
        "reason_missing",
        "reason",
    )
    # another merchant's payout: not found for a merchant, a payee mismatch when reported
    assert_refused(api.get("merchant", f"/v1/payouts/{other}"), 404, "payout_not_found")
    assert ok(api.get("merchant", f"/v1/payouts/{own}"))["id"] == own
    mine = ok(api.get("merchant", "/v1/payouts"))["items"]
    assert [item["id"] for item in mine] == [own]
    mismatch = {"outcome": "executed", "merchant_id": "M-yiwu"}
    assert_refused(
        api.post("marketplace", f"/v1/payouts/{other}/execution", mismatch),
        409,
        "payee_mismatch",
        "merchant_id",
    )
    assert_refused(
        api.post("marketplace", f"/v1/instructions/{other}/retry"), 409, "payout_not_retried"
    )
    for path in ("/v1/merchants/M-shenzhen/balance", "/v1/merchants/M-shenzhen/statements/2024-10"):
        assert_refused(api.get("merchant", path), 404, "merchant_not_found")
    assert_refused(
        api.get("merchant", "/v1/merchants/M-yiwu/statements/2024-13"), 422, "month_malformed"
    )
    assert_refused(
        api.post("operator", "/v1/payouts/runs", {"merchant_ids": ["M-yiwu", "M-nope"]}),
        404,
        "merchant_not_found",
    )
    assert_refused(api.post("marketplace", "/v1/payouts/runs", {}), 403, "forbidden")
    assert snapshot(rt) == before
    assert ok(api.get("marketplace", f"/v1/payouts/{other}"))["state"] == "instructed"
    assert balance(api, "M-yiwu")["paid_out"] == "5359.84"


def test_a_reserve_share_is_from_0_to_1(api: Api, rt: Runtime) -> None:
    before = snapshot(rt)
    assert_refused(put_reserve(api, "-0.1"), 422, field="reserve_share", code="rate_negative")
    for share in ("1.01", "2"):
        assert_refused(put_reserve(api, share), 422, "reserve_share_out_of_range", "reserve_share")
    assert_refused(put_reserve(api, 0.1), 422, "type_invalid", "reserve_share")
    assert_refused(put_reserve(api, "ten percent"), 422, "rate_malformed", "reserve_share")
    merchant = api.client.put(
        "/v1/merchants/M-yiwu/payout-settings",
        json={"reserve_share": "0.5"},
        headers=api.headers("marketplace"),
    )
    assert_refused(merchant, 403, "forbidden")
    assert snapshot(rt) == before
    assert ok(put_reserve(api, "1"))["reserve_share"] == "1"
    assert ok(put_reserve(api, None))["source"] == "payouts.reserve_share"


def adjustment(kind: str, amount: str, sub_order_id: str = "O-1-1", **extra: str) -> dict[str, str]:
    return {"kind": kind, "sub_order_id": sub_order_id, "amount": amount, "reason": "test", **extra}


def test_adjustments_are_capped_operator_only_and_need_a_key(api: Api, rt: Runtime) -> None:
    """O-1-1 was paid 360.00: no adjustment of a kind goes beyond it, in one or in parts."""
    released_demo_orders(api)
    path = "/v1/orders/O-1/adjustments"
    before = snapshot(rt)
    for body, code in (
        (adjustment("refund", "360.01"), "refund_exceeds_remaining"),
        (adjustment("clawback", "360.01"), "adjustment_exceeds_paid"),
        (adjustment("compensation", "360.01"), "adjustment_exceeds_paid"),
        (adjustment("compensation", "360.01", borne_by="merchant"), "adjustment_exceeds_paid"),
        (adjustment("refund", "0.00"), "amount_not_positive"),
        (adjustment("refund", "1.00", reason="  "), "reason_missing"),
        (adjustment("clawback", "1.00", borne_by="merchant"), "borne_by_not_applicable"),
    ):
        assert_refused(api.post("operator", path, body, key="k"), 422, code)
    for role in ("marketplace", "merchant", "buyer"):
        answer = api.post(role, path, adjustment("refund", "1.00"), key="k")
        assert_refused(answer, 403, "forbidden")
    assert_refused(
        api.post("operator", path, adjustment("refund", "1.00")),
        422,
        "idempotency_key_missing",
        "Idempotency-Key",
    )
    assert snapshot(rt) == before

    first_refund = ok(
        api.post("operator", path, adjustment("refund", "100.00"), key="refund-1"), 201
    )
    ok(api.post("operator", path, adjustment("clawback", "300.00"), key="clawback-1"), 201)
    body = adjustment("compensation", "60.00", borne_by="merchant")
    compensated = ok(api.post("operator", path, body, key="compensation-1"), 201)
    assert compensated["borne_by"] == "merchant" and compensated["instruction_id"]
    assert compensated["taken_from_merchant"] == {
        "payable": "60.00",
        "reserve": "0.00",
        "debt": "0.00",
    }
    replay = api.post("operator", path, adjustment("refund", "100.00"), key="refund-1")
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    refund_id = first_refund["instruction_id"]
    before = snapshot(rt)
    assert_refused(api.get("marketplace", f"/v1/payouts/{refund_id}"), 404, "payout_not_found")
    executed = {"outcome": "executed"}
    assert_refused(
        api.post("marketplace", f"/v1/payouts/{refund_id}/execution", executed),
        404,
        "payout_not_found",
    )
    assert_refused(api.get("merchant", f"/v1/instructions/{refund_id}"), 403, "forbidden")
    assert_refused(
        api.post("marketplace", f"/v1/instructions/{refund_id}/retry"),
        409,
        "instruction_not_failed",
    )
    for body, code in (
        (adjustment("refund", "260.01"), "refund_exceeds_remaining"),
        (adjustment("clawback", "60.01"), "adjustment_exceeds_paid"),
        (adjustment("compensation", "300.01"), "adjustment_exceeds_paid"),
    ):
        assert_refused(api.post("operator", path, body, key="k2"), 422, code, "amount")
    assert snapshot(rt) == before
    # what is left is still allowed, to the fen
    ok(api.post("operator", path, adjustment("clawback", "60.00"), key="clawback-2"), 201)
    ok(api.post("operator", path, adjustment("refund", "260.00"), key="refund-2"), 201)
    # 5,359.84 released; refunds 100.00 + 260.00 with the fee on them (0.60 + 1.56) back;
    # clawbacks 300.00 + 60.00; compensation 60.00 borne by the merchant
    assert balance(api, "M-yiwu")["payable"] == "4582.00"
    owed_to_buyer = account(api, "buyer:B-shop:payable")
    assert (owed_to_buyer["balance"], owed_to_buyer["debits_pending"]) == ("420.00", "420.00")
    kinds = [d["kind"] for d in ok(api.get("operator", "/v1/orders/O-1/decisions"))["items"]]
    assert (kinds.count("merchant_clawback"), kinds.count("compensation_due")) == (2, 1)


def test_adjustment_refunds_before_release_come_out_of_escrow(api: Api) -> None:
    """Paid: a refund before shipment; shipped, not yet released: from the escrow hold.
    The release then pays the merchant only what is left, with the fee on that."""
    ok(api.post("marketplace", "/v1/orders", ORDER), 201)
    ok(api.post("marketplace", "/v1/orders/O-1/payment", {"amount": "5380.00"}))
    path = "/v1/orders/O-1/adjustments"
    paid = ok(api.post("operator", path, adjustment("refund", "60.00"), key="a"), 201)
    assert paid["order"]["state"] == "paid" and paid["taken_from_merchant"] is None
    ok(api.post("marketplace", "/v1/orders/O-1/shipment", SHIPMENT))
    body = adjustment("refund", "1,000.00", sub_order_id="O-1-2")
    shipped = ok(api.post("operator", path, body, key="b"), 201)
    assert shipped["order"]["state"] == "shipped"
    assert balance(api, "M-yiwu")["in_escrow"] == "4320.00"  # 5,380.00 - 60.00 - 1,000.00
    ok(api.post("marketplace", "/v1/orders/O-1/signing"))
    confirmed = ok(api.post("marketplace", "/v1/orders/O-1/confirmation"))
    assert [sub["fee"] for sub in confirmed["sub_orders"]] == ["1.80", "18.00"]
    assert balance(api, "M-yiwu") == {
        "merchant_id": "M-yiwu",
        "in_escrow": "0.00",
        "payable": "4300.20",  # 300.00 - 1.80 + 4,000.00 - 18.00 + 20.00 shipping
        "reserved": "0.00",
        "in_flight": "0.00",
        "paid_out": "0.00",
        "debt": "0.00",
        "net_owed": "4300.20",
    }
    owed = account(api, "buyer:B-shop:payable")
    assert (owed["balance"], owed["debits_pending"]) == ("1060.00", "1060.00")
    refunds = ok(api.get("marketplace", "/v1/instructions?kind=refund"))["items"]
    assert sorted(item["amount"] for item in refunds) == ["1000.00", "60.00"]


def test_a_failed_payout_settles_debt_first_and_small_payables_wait(api: Api) -> None:
    """Money in flight cannot be taken back: a refund after release then makes debt, which
    the failed payout's returning money settles first; below payouts.minimum_yuan
    (1.00) nothing is instructed."""
    released_demo_orders(api)
    clawback = adjustment("clawback", "744.51", sub_order_id="O-2-1")
    ok(api.post("operator", "/v1/orders/O-2/adjustments", clawback, key="c"), 201)
    assert balance(api, "M-shenzhen")["payable"] == "0.99"  # 750.00 - 4.50 fee - 744.51
    paid = run_payouts(api)
    assert list(paid) == ["M-yiwu"] and paid["M-yiwu"]["amount"] == "5359.84"
    refund = adjustment("refund", "1,000.00", sub_order_id="O-1-2")
    ok(api.post("operator", "/v1/orders/O-1/adjustments", refund, key="r"), 201)
    assert balance(api, "M-yiwu") == {
        "merchant_id": "M-yiwu",
        "in_escrow": "0.00",
        "payable": "0.00",
        "reserved": "0.00",
        "in_flight": "5359.84",
        "paid_out": "0.00",
        "debt": "1000.00",  # the fee stays at its 18.00 cap: nothing of it comes back
        "net_owed": "4359.84",
    }
    payout = paid["M-yiwu"]["payout_id"]
    body = {"outcome": "failed", "reason": "wrong account"}
    ok(api.post("marketplace", f"/v1/payouts/{payout}/execution", body))
    after = balance(api, "M-yiwu")
    assert (after["payable"], after["in_flight"], after["debt"]) == ("4359.84", "0.00", "0.00")
    again = run_payouts(api)
    assert list(again) == ["M-yiwu"] and again["M-yiwu"]["amount"] == "4359.84"
    statement = ok(api.get("merchant", "/v1/merchants/M-yiwu/statements/2024-10"))
    lines = {name: amount for name, amount in statement["lines"].items() if amount != "0.00"}
    assert lines == {"releases": "5380.00", "fees": "-20.16", "refunds": "-1000.00"}
    assert statement["closing_balance"] == statement["in_flight_at_close"] == "4359.84"


def test_the_reserve_follows_recent_releases_and_is_paid_as_they_age_out(
    api: Api, clock: SimulatedClock
) -> None:
    """A reserve share of 0.10 keeps back a tenth of what was released in the last
    payouts.reserve_window_days (30); once the release is older, the reserve is paid."""
    ok(put_reserve(api, "0.10"))
    released_at = clock.now()
    released_demo_orders(api)
    first = run_payouts(api)["M-yiwu"]
    assert (first["amount"], first["reserve_moved"]) == ("4821.84", "538.00")  # 5,380.00 x 0.1
    ok(
        api.post(
            "marketplace", f"/v1/payouts/{first['payout_id']}/execution", {"outcome": "executed"}
        )
    )
    clock.set(released_at + RESERVE_WINDOW)  # the release is still inside the window
    assert "M-yiwu" not in run_payouts(api)
    clock.advance(timedelta(seconds=1))
    aged = run_payouts(api)["M-yiwu"]
    assert (aged["amount"], aged["reserve_moved"]) == ("538.00", "-538.00")
    after = balance(api, "M-yiwu")
    assert (after["reserved"], after["in_flight"], after["paid_out"]) == (
        "0.00",
        "538.00",
        "4821.84",
    )


def test_the_daily_payout_run_fires_at_midnight_shanghai(
    api: Api, rt: Runtime, clock: SimulatedClock
) -> None:
    """payouts.run_minutes_after_midnight = 0: one run at 00:00 Shanghai; a scheduler that
    was down runs once, as of the latest instant it missed, and schedules the next."""
    ok(api.post("marketplace", "/v1/orders", ORDER), 201)
    for step, body in (("payment", {"amount": "5380.00"}), ("shipment", SHIPMENT)):
        ok(api.post("marketplace", f"/v1/orders/O-1/{step}", body))
    ok(api.post("marketplace", "/v1/orders/O-1/signing"))
    ok(api.post("marketplace", "/v1/orders/O-1/confirmation"))
    kinds = {payouts.PAYOUT_RUN: TIMER_KINDS[payouts.PAYOUT_RUN]}
    scheduler = Scheduler(rt.engine, clock, rt.rulebooks, recurring=True, kinds=kinds)
    assert scheduler.tick() == []  # 2024-10-20 10:00 Shanghai: the first run is at midnight
    clock.set(parse_instant("2024-10-20T23:59:59+08:00"))
    assert scheduler.tick() == []
    clock.advance(timedelta(seconds=1))
    [fired] = scheduler.tick()
    assert fired.kind == payouts.PAYOUT_RUN and "1 payouts, 5359.84" in fired.outcome
    [payout] = ok(api.get("marketplace", "/v1/payouts"))["items"]
    assert (payout["run_id"], payout["amount"]) == ("run-20241021-0000", "5359.84")

    cables = {
        "id": "O-2",
        "buyer_id": "B-chain",
        "lines": [{"product_id": "P-cables", "quantity": 1}],
    }
    ok(api.post("marketplace", "/v1/orders", cables), 201)
    for step, body in (("payment", {"amount": "750.00"}), ("shipment", SHIPMENT)):
        ok(api.post("marketplace", f"/v1/orders/O-2/{step}", body))
    ok(api.post("marketplace", "/v1/orders/O-2/signing"))
    ok(api.post("marketplace", "/v1/orders/O-2/confirmation"))
    clock.set(parse_instant("2024-10-25T01:00:00+08:00"))  # down since the 21st
    [caught_up] = scheduler.tick()
    assert "1 payouts, 745.50" in caught_up.outcome
    runs = {item["run_id"] for item in ok(api.get("marketplace", "/v1/payouts"))["items"]}
    assert runs == {"run-20241021-0000", "run-20241025-0000"}
    with rt.reading(OPERATOR) as ctx:
        pending = ctx.connection.execute(
            select(timers.c.due_at).where(
                timers.c.kind == payouts.PAYOUT_RUN, timers.c.status == "pending"
            )
        ).scalar_one()
    assert ensure_utc(pending) == parse_instant("2024-10-26T00:00:00+08:00")


# ------------------------------------------------------------------------- overdue
def overdue(api: Api, query: str = "") -> list[str]:
    items = ok(api.get("marketplace", f"/v1/instructions?state=overdue{query}"))["items"]
    return [item["id"] for item in items]


def test_instructions_without_outcome_become_overdue(
    api: Api, rt: Runtime, clock: SimulatedClock
) -> None:
    """instructions.overdue_after_hours (48) after it was instructed, an instruction with no
    outcome is listed; a reported one never is."""
    released_demo_orders(api)
    paid = run_payouts(api)
    payout, reported = paid["M-yiwu"]["payout_id"], paid["M-shenzhen"]["payout_id"]
    instructed_at = clock.now()
    clock.advance(timedelta(hours=1))
    cups = {**ORDER, "id": "O-3", "lines": [{"product_id": "P-cups", "quantity": 1}]}
    ok(api.post("marketplace", "/v1/orders", cups), 201)
    ok(api.post("marketplace", "/v1/orders/O-3/payment", {"amount": "56.00"}))
    ok(api.post("marketplace", "/v1/orders/O-3/refund-before-shipment", {}))
    refund = instruction_of(api, "refund", "O-3")
    assert refund["amount"] == "56.00"
    ok(api.post("marketplace", f"/v1/payouts/{reported}/execution", {"outcome": "executed"}))
    shown = ok(api.get("marketplace", f"/v1/payouts/{payout}"))
    assert shown["overdue_after"] == format_instant(instructed_at + timedelta(hours=48))

    clock.set(instructed_at + timedelta(hours=48))
    assert overdue(api) == []  # due by then, not yet overdue
    clock.advance(timedelta(seconds=1))
    assert overdue(api) == [payout]
    clock.advance(timedelta(hours=1))
    assert sorted(overdue(api)) == sorted([payout, refund["id"]])
    assert overdue(api, "&kind=refund") == [refund["id"]]
    assert overdue(api, "&party=merchant:M-yiwu") == [payout]
    assert_refused(api.get("merchant", "/v1/instructions?state=overdue"), 403, "forbidden")
    assert_refused(api.get("marketplace", "/v1/instructions?state=late"), 422, "invalid_choice")
    ok(api.post("marketplace", f"/v1/payouts/{payout}/execution", {"outcome": "executed"}))
    assert overdue(api) == [refund["id"]]


# ------------------------------------------------------------------- open matters
def locked(ctx: Context, order_id: str) -> Order:
    """The order as a command holds it: loaded with its lock."""
    return repositories.get_order(ctx.connection, order_id, for_update=True)


def test_open_matters_hold_the_timers_until_resumed(
    api: Api, rt: Runtime, clock: SimulatedClock
) -> None:
    """An open matter holds auto-confirmation (nothing released) and completion; once it
    is closed, resume_after_matters arms them again and they fire."""
    ok(api.post("marketplace", "/v1/orders", ORDER), 201)
    ok(api.post("marketplace", "/v1/orders", {**ORDER, "id": "O-2"}), 201)
    for order_id in ("O-1", "O-2"):
        ok(api.post("marketplace", f"/v1/orders/{order_id}/payment", {"amount": "5380.00"}))
        ok(api.post("marketplace", f"/v1/orders/{order_id}/shipment", SHIPMENT))
        ok(api.post("marketplace", f"/v1/orders/{order_id}/signing"))
    ok(api.post("buyer", "/v1/orders/O-2/confirmation"))
    released = fen("5359.84")
    assert account(api, "merchant:M-yiwu:payable")["balance"] == format_fen(released)
    scheduler = Scheduler(rt.engine, clock, rt.rulebooks)
    open_cases = {"O-1": "after-sales case C-1 open", "O-2": "after-sales case C-2 open"}

    def case_open(ctx: Context, order: Order) -> list[str]:
        return [open_cases[order.id]] if order.id in open_cases else []

    OPEN_MATTER_CHECKS.append(case_open)
    try:
        clock.advance(timedelta(days=10))
        fired = {item.subject_id: item for item in scheduler.tick()}
        assert fired["O-1"].kind == orders.AUTO_CONFIRM
        assert fired["O-2"].kind == orders.COMPLETE
        for order_id in ("O-1", "O-2"):
            assert fired[order_id].outcome.startswith("held"), fired[order_id]
            assert open_cases[order_id] in fired[order_id].outcome
        states = [ok(api.get("operator", f"/v1/orders/{o}"))["state"] for o in ("O-1", "O-2")]
        assert states == ["signed", "confirmed"]
        payable = account(api, "merchant:M-yiwu:payable")
        assert payable["balance"] == format_fen(released)  # nothing more released
        assert payable["credits_pending"] == "5380.00"  # O-1 still in escrow
        kinds = [d["kind"] for d in ok(api.get("operator", "/v1/orders/O-1/decisions"))["items"]]
        assert "escrow_released" not in kinds and "receipt_auto_confirmed" not in kinds
        with rt.writing(OPERATOR) as ctx:
            assert orders.resume_after_matters(ctx, locked(ctx, "O-1")) is None  # still open
        clock.advance(timedelta(days=1))
        assert scheduler.tick() == []
    finally:
        OPEN_MATTER_CHECKS.remove(case_open)

    with rt.writing(OPERATOR) as ctx:
        assert orders.resume_after_matters(ctx, locked(ctx, "O-1")) == orders.AUTO_CONFIRM
        assert orders.resume_after_matters(ctx, locked(ctx, "O-2")) == orders.COMPLETE
        assert orders.resume_after_matters(ctx, locked(ctx, "O-2")) is None  # armed already
    fired_now = [(item.subject_id, item.kind, item.outcome) for item in scheduler.tick()]
    assert ("O-1", orders.AUTO_CONFIRM, "confirmed") in fired_now
    assert ("O-2", orders.COMPLETE, "completed") in fired_now
    assert account(api, "merchant:M-yiwu:payable")["balance"] == format_fen(2 * released)
    assert ok(api.get("operator", "/v1/orders/O-1"))["confirmed_by"] == "automatic"
    assert ok(api.get("operator", "/v1/orders/O-2"))["state"] == "completed"
