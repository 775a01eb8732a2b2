"""After-sales cases under real parallel writers: one outcome, and money moved once.

PostgreSQL only (SQLite has one writer, so nothing races there). Each racer is
a request on the served app, or a Scheduler's tick, from a thread of its own
on a pooled connection of its own. Every case command, an operator's
adjustment and a case deadline lock the order row first, so a round either
queues the racers behind a gate that holds that row (one order, then the
other) or releases them from one barrier. Three races:

- two approvals of one case (merchant and marketplace, one Idempotency-Key
  sent twice, buyer and marketplace taking one offer, a return approved
  twice): one succeeds, the other is refused (`illegal_case_transition`) or
  replays the first's answer; the refund moves once;
- two refunds racing for the last fen of a sub-order (two cases of different
  types accepted at once, a refund-only accept against a return's inspection,
  a case accept against an operator's refund before and after release): the
  sub-order is never refunded beyond what was paid, and exactly one competitor
  is refused with a 4xx and writes nothing;
- the merchant's answer racing its own 36-hour auto-grant at the due instant:
  the timer grants the refund and the answer is refused, or the answer wins and
  the timer finds nothing to do.

After every round: no 5xx, no concurrent_conflict, no deadlock, every
instruction settled once, the ledger checks, and the same requests run one
after the other on a SQLite replica, in the order the race took them, end in
exactly the same state (the race is equivalent to a serial run).
"""

from __future__ import annotations

import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text

from buyerguard.bootstrap import Runtime
from buyerguard.clock import SimulatedClock
from buyerguard.ledger.balances import balance
from buyerguard.money import Fen, format_fen, parse_yuan
from buyerguard.rulebook import rulebooks
from buyerguard.scheduler import FiredTimer, Scheduler
from buyerguard.services.case_deadlines import MERCHANT_ANSWER
from buyerguard.store.db import make_engine, read_transaction
from buyerguard.store.shipment_history import ShipmentHistory
from buyerguard.store.tables import decisions, instructions, timers
from tests.conftest import Api, assert_ledger_checks, reset_postgres, serving_demo
from tests.test_contention import deadlocks_so_far
from tests.test_money_out_races import Racer, assert_money_moved_once, ok, queue_behind_gate

TEN_CUPS = [{"product_id": "P-cups", "quantity": 10}]  # 360.00, no shipping
PAID = "360.00"
MORE_THAN_HALF = "200.00"  # two of these cannot both be refunded from 360.00
# How a round starts its racers: queued behind the order's row in turn, or all at once.
MODES = ("first ahead", "second ahead", "barrier")
# A last-fen competitor refused: what is left of the sub-order is less than it asks.
LAST_FEN_REFUSALS = {"refund_exceeds_remaining", "refund_exceeds_refundable", "refund_exceeds_hold"}
BUYER_ACCOUNTS = ("buyer:B-shop:payable", "buyer:B-shop:paid_out")


@pytest.fixture
def racing_rt(postgres_url: str, clock: SimulatedClock, tmp_path: Path) -> Iterator[Runtime]:
    """PostgreSQL with enough pooled connections for the racers, the gate and its watcher."""
    engine = make_engine(postgres_url, pool_size=12, max_overflow=4)
    reset_postgres(engine)
    yield Runtime(engine, clock, rulebooks(), ShipmentHistory(tmp_path / "data"))
    assert_ledger_checks(engine)
    engine.dispose()


@pytest.fixture
def serial_rt(sqlite_template: Path, clock: SimulatedClock, tmp_path: Path) -> Iterator[Runtime]:
    """A replica on SQLite that runs each round's racers one after the other."""
    path = tmp_path / "serial.sqlite3"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield Runtime(engine, clock, rulebooks(), ShipmentHistory(tmp_path / "serial-data"))
    assert_ledger_checks(engine)
    engine.dispose()


@dataclass(frozen=True)
class Side:
    """One served database: the race's (PostgreSQL) or the serial replica's (SQLite)."""

    api: Api
    rt: Runtime


@pytest.fixture
def sides(racing_rt: Runtime, serial_rt: Runtime) -> Iterator[tuple[Side, Side]]:
    with serving_demo(racing_rt) as raced, serving_demo(serial_rt) as serial:
        before = deadlocks_so_far(racing_rt.engine)
        yield Side(raced, racing_rt), Side(serial, serial_rt)
        time.sleep(1.5)  # backends publish their counters at most once a second
        assert deadlocks_so_far(racing_rt.engine) == before, "a race deadlocked (and retried)"


# ------------------------------------------------------------------------ set-up steps
def signed_order(api: Api, order_id: str) -> str:
    """Ten cups paid, shipped and signed (not confirmed: the money is still held)."""
    body = {"id": order_id, "buyer_id": "B-shop", "lines": TEN_CUPS}
    ok(api.post("marketplace", "/v1/orders", body), 201)
    for suffix, fact in (
        ("payment", {"amount": PAID}),
        ("shipment", {"carrier": "SF", "tracking_number": f"SF-{order_id}"}),
        ("signing", None),
    ):
        ok(api.post("marketplace", f"/v1/orders/{order_id}/{suffix}", fact))
    return f"{order_id}-1"


def open_case(api: Api, order_id: str, case_id: str, case_type: str, amount: str) -> None:
    body = {
        "id": case_id,
        "type": case_type,
        "sub_order_id": f"{order_id}-1",
        "amount": amount,
        "reason": "the cups arrived cracked",
    }
    assert ok(api.post("buyer", f"/v1/orders/{order_id}/cases", body), 201)["state"] == "pending"


def act(api: Api, role: str, case_id: str, action: str, body: Any = None) -> dict[str, Any]:
    answer: dict[str, Any] = ok(api.post(role, f"/v1/cases/{case_id}/{action}", body))
    return answer


# ------------------------------------------------------------------------ the racers
Send = Callable[[Side], Any]  # one racer's request (or tick), against either side


@dataclass(frozen=True)
class Move:
    name: str
    send: Send
    statuses: tuple[int, ...]
    case_id: str | None  # the case it acts on; None: an operator's adjustment


def case_move(
    name: str,
    role: str,
    case_id: str,
    action: str,
    body: Any = None,
    key: str | None = "",
    statuses: tuple[int, ...] = (200, 409),
) -> Move:
    """An action on a case; `key` "" is a key of the racer's own, None sends none."""
    idempotency_key = f"{case_id}-{name}" if key == "" else key

    def send(side: Side) -> Any:
        return side.api.post(role, f"/v1/cases/{case_id}/{action}", body, key=idempotency_key)

    return Move(name, send, statuses, case_id)


def adjustment_move(name: str, order_id: str, amount: str) -> Move:
    body = {"kind": "refund", "sub_order_id": f"{order_id}-1", "amount": amount, "reason": name}

    def send(side: Side) -> Any:
        path = f"/v1/orders/{order_id}/adjustments"
        return side.api.post("operator", path, body, key=f"{order_id}-{name}")

    return Move(name, send, (201, 409, 422), None)


class Ticked:
    """A Scheduler's tick shaped as an answer: 200, or 500 when a timer failed."""

    def __init__(self, fired: list[FiredTimer]) -> None:
        self.fired = fired
        self.headers: dict[str, str] = {}
        self.status_code = 500 if any(timer.failed for timer in fired) else 200

    def json(self) -> dict[str, Any]:
        return {"fired": [[timer.timer_id, timer.outcome] for timer in self.fired]}

    @property
    def text(self) -> str:
        return str(self.json())


def tick_move(case_id: str) -> Move:
    """The scheduler's tick, as `scheduler run` does it, from a thread of its own."""

    def send(side: Side) -> Ticked:
        rt = side.rt
        return Ticked(Scheduler(rt.engine, rt.clock, rt.rulebooks, history=rt.history).tick())

    return Move("timer", send, (200,), case_id)


def race(side: Side, order_id: str, moves: list[Move], mode: str) -> dict[str, Any]:
    """Run the moves at once on `side`; returns each one's answer (checked: no 5xx, no
    concurrent_conflict). Gated modes queue them behind the order's row in turn."""
    racers = {
        move.name: Racer(move.name, partial(move.send, side), move.statuses) for move in moves
    }
    if mode == "barrier":
        barrier = threading.Barrier(len(racers))
        for position, racer in enumerate(racers.values()):
            racer.start(barrier, position * 0.001)
    else:
        queue = list(racers.values())
        if mode == "second ahead":
            queue.reverse()
        with side.rt.engine.connect() as gate, side.rt.engine.connect() as watcher:
            gate.execute(text("SELECT id FROM orders WHERE id = :id FOR UPDATE"), {"id": order_id})
            for waiting, racer in enumerate(queue):
                assert queue_behind_gate(watcher, racer, waiting), f"{racer.name} did not queue"
            gate.rollback()
    for racer in racers.values():
        racer.finish()
    return {name: racer.answer for name, racer in racers.items()}


def changed_something(answer: Any) -> bool:
    """A refused request, a replayed answer and a tick that fired nothing wrote nothing."""
    if isinstance(answer, Ticked):
        return bool(answer.fired)
    return bool(answer.status_code < 400 and answer.headers.get("idempotent-replayed") != "true")


def last_ordinal(engine: Engine) -> int:
    with read_transaction(engine) as connection:
        return int(
            connection.execute(select(func.coalesce(func.max(decisions.c.ordinal), 0))).scalar_one()
        )


def decisions_since(engine: Engine, since: int) -> list[Any]:
    with read_transaction(engine) as connection:
        return list(
            connection.execute(
                select(decisions).where(decisions.c.ordinal > since).order_by(decisions.c.ordinal)
            )
        )


def belongs_to(move: Move, row: Any) -> bool:
    """A decision of the race written by `move`: about its case, or an adjustment's."""
    details = row.details or {}
    if move.case_id is None:
        return "adjustment" in details
    return bool(row.subject_id == move.case_id or details.get("case_id") == move.case_id)


def serial_order(
    engine: Engine, since: int, moves: list[Move], answers: dict[str, Any]
) -> list[str]:
    """The racers in the order they took the order's row, from the feed's ordinals (taken
    under that lock); those that wrote nothing come last. When the racers act on
    different subjects, what each wrote must agree with what it answered."""
    rows = decisions_since(engine, since)
    first: dict[str, int] = {}
    for move in moves:
        mine = [row.ordinal for row in rows if belongs_to(move, row)]
        if changed_something(answers[move.name]):
            assert mine, f"{move.name} answered a change but wrote no decision"
            first[move.name] = min(mine)
        elif len({m.case_id for m in moves}) == len(moves):
            assert not mine, f"{move.name} was refused but wrote {len(mine)} decisions"
    later = [move.name for move in moves if move.name not in first]
    return sorted(first, key=first.__getitem__) + later


def replay(serial: Side, moves: list[Move], order: list[str]) -> dict[str, Any]:
    """The same racers, one after the other, on the replica."""
    by_name = {move.name: move for move in moves}
    return {name: by_name[name].send(serial) for name in order}


def outcome_of(answer: Any) -> tuple[int, str | None]:
    """What an answer says, comparable across databases: the status and refusal code."""
    if isinstance(answer, Ticked):
        return answer.status_code, ",".join(outcome for _, outcome in answer.json()["fired"])
    body = answer.json()
    return answer.status_code, body.get("code") if isinstance(body, dict) else None


# ------------------------------------------------------------------------ the books
def owed_to_buyer(rt: Runtime) -> Fen:
    """Everything the buyer was ever owed back: its payable plus what was paid out."""
    with read_transaction(rt.engine) as connection:
        return sum(balance(connection, account).credit_balance_fen for account in BUYER_ACCOUNTS)


def refunds_of(engine: Engine, sub_id: str) -> list[tuple[Fen, str | None]]:
    """Each refund of the sub-order (its `refund_due` decisions): amount and case, if any."""
    with read_transaction(engine) as connection:
        rows = connection.execute(
            select(decisions.c.amount_fen, decisions.c.details)
            .where(decisions.c.kind == "refund_due", decisions.c.subject_id == sub_id)
            .order_by(decisions.c.ordinal)
        )
        return [(int(row.amount_fen), (row.details or {}).get("case_id")) for row in rows]


def snapshot(side: Side, order_id: str) -> dict[str, Any]:
    """Everything a round can change, comparable across the two databases (instruction ids
    are random: instructions and their decisions are compared by content)."""
    api = side.api
    order = ok(api.get("operator", f"/v1/orders/{order_id}"))
    cases = ok(api.get("operator", f"/v1/cases?order_id={order_id}"))["items"]
    case_ids = [case["id"] for case in cases]
    with read_transaction(side.rt.engine) as connection:
        instructed = sorted(
            (row.kind, row.party, int(row.amount_fen), row.state)
            for row in connection.execute(
                select(instructions).where(instructions.c.order_id == order_id)
            )
        )
        decided = sorted(
            (
                row.kind,
                "instruction" if row.kind.endswith("_instructed") else row.subject_id,
                int(row.amount_fen),
                row.payer,
                row.payee,
            )
            for row in connection.execute(select(decisions).where(decisions.c.order_id == order_id))
        )
        subjects = [order_id, *case_ids]
        timed = sorted(
            (row.id, row.status, row.due_at)
            for row in connection.execute(select(timers).where(timers.c.subject_id.in_(subjects)))
        )
    shown = ("state", "goods", "requested", "offered", "agreed", "refunded", "outcome")
    return {
        "order": (
            order["state"],
            [(s["id"], s["refunded"], s["fee"]) for s in order["sub_orders"]],
        ),
        "cases": {case["id"]: tuple(case[name] for name in shown) for case in cases},
        "instructions": instructed,
        "decisions": decided,
        "timers": timed,
        "buyer": owed_to_buyer(side.rt),
        "merchant": ok(api.get("marketplace", "/v1/merchants/M-yiwu/balance")),
    }


@dataclass(frozen=True)
class Played:
    """What one round did: its answers, the order the race took, and both sides' state."""

    answers: dict[str, Any]
    order: list[str]
    state: dict[str, Any]


def play(sides: tuple[Side, Side], order_id: str, moves: list[Move], mode: str) -> Played:
    """Race the moves on PostgreSQL, then replay them on the replica in the race's order:
    every answer and the end state must be the same; the ledger checks on both."""
    raced, serial = sides
    since = last_ordinal(raced.rt.engine)
    answers = race(raced, order_id, moves, mode)
    order = serial_order(raced.rt.engine, since, moves, answers)
    replayed = replay(serial, moves, order)
    label = (order_id, mode, order)
    for name in order:
        assert outcome_of(replayed[name]) == outcome_of(answers[name]), (label, name)
    state = snapshot(raced, order_id)
    assert snapshot(serial, order_id) == state, label
    for side in sides:
        assert_ledger_checks(side.rt.engine)
    assert_money_moved_once(raced.rt.engine)
    return Played(answers, order, state)


# ------------------------------------------------------------- two approvals of one case
@dataclass(frozen=True)
class Approval:
    """A case made ready, then approved twice; what it must end as."""

    label: str
    prepare: Callable[[Api, str], None]
    moves: Callable[[str], list[Move]]
    state: str
    refund: str  # what the case refunds once ("0.00": a return approved, nothing yet)


def _refund_only(api: Api, order_id: str) -> None:
    signed_order(api, order_id)
    open_case(api, order_id, f"{order_id}-C", "refund_only_quality", MORE_THAN_HALF)


def _offered(api: Api, order_id: str) -> None:
    _refund_only(api, order_id)
    assert act(api, "merchant", f"{order_id}-C", "offer", {"amount": "150.00"})["state"] == (
        "negotiating"
    )


def _return(api: Api, order_id: str) -> None:
    signed_order(api, order_id)
    open_case(api, order_id, f"{order_id}-C", "return_no_reason", PAID)


APPROVALS = (
    Approval(
        "merchant and marketplace accept",
        _refund_only,
        lambda case: [
            case_move("merchant", "merchant", case, "accept"),
            case_move("marketplace", "marketplace", case, "accept"),
        ],
        "closed",
        MORE_THAN_HALF,
    ),
    Approval(
        "one Idempotency-Key sent twice",
        _refund_only,
        lambda case: [
            case_move(f"merchant {n}", "merchant", case, "accept", key=f"{case}-once")
            for n in (1, 2)
        ],
        "closed",
        MORE_THAN_HALF,
    ),
    Approval(
        "merchant accepts twice, no key",
        _refund_only,
        lambda case: [
            case_move(f"merchant {n}", "merchant", case, "accept", key=None) for n in (1, 2)
        ],
        "closed",
        MORE_THAN_HALF,
    ),
    Approval(
        "buyer and marketplace take the offer",
        _offered,
        lambda case: [
            case_move("buyer", "buyer", case, "accept", {"note": "fine"}),
            case_move("marketplace", "marketplace", case, "accept", {"note": "fine"}),
        ],
        "closed",
        "150.00",
    ),
    Approval(
        "a return approved twice",
        _return,
        lambda case: [
            case_move("merchant", "merchant", case, "accept"),
            case_move("marketplace", "marketplace", case, "accept"),
        ],
        "accepted",
        "0.00",
    ),
)


@pytest.mark.parametrize("backend", ["postgres"])
def test_two_approvals_of_one_case_have_one_outcome_and_refund_once(
    backend: str, sides: tuple[Side, Side]
) -> None:
    """Each pairing in each mode: one approval succeeds, the other is refused as an
    illegal transition (or, sent with the same key, replays the first's answer); the
    case is approved once, its refund decided, instructed and owed once."""
    raced, _ = sides
    winners: Counter[str] = Counter()
    for number, (approval, mode) in enumerate(
        (approval, mode) for approval in APPROVALS for mode in MODES
    ):
        order_id = f"A{number}"
        case_id = f"{order_id}-C"
        for side in sides:
            approval.prepare(side.api, order_id)
        owed_before = owed_to_buyer(raced.rt)
        moves = approval.moves(case_id)
        played = play(sides, order_id, moves, mode)
        label = (approval.label, mode, played.order)
        winner, loser = (played.answers[name] for name in played.order)
        winners[f"{approval.label}: {played.order[0]}"] += 1
        assert winner.status_code == 200 and changed_something(winner), label
        if loser.headers.get("idempotent-replayed") == "true":
            assert (loser.status_code, loser.json()) == (200, winner.json()), label
        else:
            assert loser.status_code == 409, label
            assert loser.json()["code"] == "illegal_case_transition", label
        assert played.state["cases"][case_id][0] == approval.state, label
        refunded = parse_yuan(approval.refund)
        assert parse_yuan(winner.json()["refunded"]) == refunded, label
        assert [amount for amount, _ in refunds_of(raced.rt.engine, f"{order_id}-1")] == (
            [refunded] if refunded else []
        ), label
        assert owed_to_buyer(raced.rt) - owed_before == refunded, label
        kinds = Counter(
            kind for kind, subject, *_ in played.state["decisions"] if subject == case_id
        )
        assert kinds["case_closed"] + kinds["case_accepted"] == 1, (label, kinds)
        refund_instructions = [row for row in played.state["instructions"] if row[0] == "refund"]
        assert [row[2] for row in refund_instructions] == ([refunded] if refunded else []), label
    # The rounds really interleaved: in a pairing of two different callers, each won once.
    for first, second in (("merchant", "marketplace"), ("buyer", "marketplace")):
        pairing = next(a.label for a in APPROVALS if a.label.startswith(first))
        assert winners[f"{pairing}: {first}"] and winners[f"{pairing}: {second}"], winners


# ------------------------------------------------- two refunds racing for the last fen
@dataclass(frozen=True)
class LastFen:
    """Two competitors for more than half of a 360.00 sub-order each."""

    label: str
    prepare: Callable[[Api, str], None]
    moves: Callable[[str], list[Move]]


def _case_before_release(api: Api, order_id: str) -> None:
    signed_order(api, order_id)
    open_case(api, order_id, f"{order_id}-Q", "refund_only_quality", MORE_THAN_HALF)


def _case_after_release(api: Api, order_id: str) -> None:
    signed_order(api, order_id)
    ok(api.post("buyer", f"/v1/orders/{order_id}/confirmation"))  # released to the merchant
    open_case(api, order_id, f"{order_id}-Q", "refund_only_quality", MORE_THAN_HALF)


REFUSABLE = (200, 409, 422)
LAST_FENS = (
    LastFen(
        "a case accept and an operator refund, money held",
        _case_before_release,
        lambda o: [
            case_move("accept quality", "merchant", f"{o}-Q", "accept", statuses=REFUSABLE),
            adjustment_move("operator refund", o, MORE_THAN_HALF),
        ],
    ),
    LastFen(
        "a case accept and an operator refund, money released",
        _case_after_release,
        lambda o: [
            case_move("accept quality", "merchant", f"{o}-Q", "accept", statuses=REFUSABLE),
            adjustment_move("operator refund", o, MORE_THAN_HALF),
        ],
    ),
)


@pytest.mark.parametrize("backend", ["postgres"])
def test_two_refunds_racing_for_the_last_fen_never_refund_beyond_what_was_paid(
    backend: str, sides: tuple[Side, Side]
) -> None:
    """Each pairing in each mode: the sub-order is refunded at most what was paid and the
    buyer is owed exactly what it was refunded; the first competitor is refunded in full
    and the other is refused with a 4xx, writing nothing. (A case whose agreed refund no
    longer fits must not close as agreed on less than was agreed.)"""
    raced, _ = sides
    paid = parse_yuan(PAID)
    asked = parse_yuan(MORE_THAN_HALF)
    wrong: list[tuple[object, ...]] = []
    winners: Counter[str] = Counter()
    for number, (pairing, mode) in enumerate(
        (pairing, mode) for pairing in LAST_FENS for mode in MODES
    ):
        order_id = f"L{number}"
        for side in sides:
            pairing.prepare(side.api, order_id)
        owed_before = owed_to_buyer(raced.rt)
        played = play(sides, order_id, pairing.moves(order_id), mode)
        label = (pairing.label, mode, played.order)
        winners[f"{pairing.label}: {played.order[0]}"] += 1
        refunds = refunds_of(raced.rt.engine, f"{order_id}-1")
        refunded = sum(amount for amount, _ in refunds)
        (_, shown, _), *_ = played.state["order"][1]
        assert refunded == parse_yuan(shown) <= paid, (label, refunds)
        assert owed_to_buyer(raced.rt) - owed_before == refunded, label
        first, second = (played.answers[name] for name in played.order)
        assert first.status_code in (200, 201), label
        assert refunds[0][0] == asked, (label, refunds)
        if second.status_code in (200, 201):
            body = second.json()
            shown_case = {name: body.get(name) for name in ("id", "agreed", "refunded", "outcome")}
            wrong.append((*label[:3], f"answered {second.status_code}: {shown_case}"))
            continue
        assert second.json()["code"] in LAST_FEN_REFUSALS, (label, second.json())
        assert refunded == asked, (label, refunds)
    for pairing in LAST_FENS:  # each competitor of a pairing came first at least once
        names = [move.name for move in pairing.moves("x")]
        assert all(winners[f"{pairing.label}: {name}"] for name in names), winners
    assert wrong == [], "a last-fen competitor went through on what was left:\n" + "\n".join(
        map(str, wrong)
    )


@pytest.mark.parametrize("backend", ["postgres"])
def test_two_open_cases_cannot_ask_for_more_than_is_left_between_them(
    backend: str, sides: tuple[Side, Side]
) -> None:
    """Two cases of different types on one sub-order cannot race for its last fen: the
    second to open may ask only what the first leaves (`refund_exceeds_remaining`), and
    with all of it asked, nothing (`refund_already_asked`)."""
    api = sides[0].api
    signed_order(api, "W1")
    open_case(api, "W1", "W1-N", "refund_only_not_received", MORE_THAN_HALF)
    body = {
        "id": "W1-Q",
        "type": "refund_only_quality",
        "sub_order_id": "W1-1",
        "amount": MORE_THAN_HALF,
        "reason": "cracked",
    }
    refused = api.post("buyer", "/v1/orders/W1/cases", body)
    assert (refused.status_code, refused.json()["code"]) == (422, "refund_exceeds_remaining")
    left = parse_yuan(PAID) - parse_yuan(MORE_THAN_HALF)
    opened = api.post("buyer", "/v1/orders/W1/cases", {**body, "amount": format_fen(left)})
    assert opened.status_code == 201, opened.text
    nothing = api.post(
        "buyer",
        "/v1/orders/W1/cases",
        {**body, "id": "W1-R", "type": "return_quality", "amount": None},
    )
    assert (nothing.status_code, nothing.json()["code"]) == (409, "refund_already_asked")


# --------------------------------------------- the merchant's answer racing its auto-grant
ANSWERS = (
    ("merchant accepts", "merchant", "accept", None),
    ("merchant offers", "merchant", "offer", {"amount": "60.00"}),
    ("marketplace accepts", "marketplace", "accept", None),
)
TIMER_MODES = ("first ahead", "second ahead", "barrier", "barrier")
ASKED = "100.00"


def _pre_tick(sides: tuple[Side, Side]) -> None:
    """Fire on both sides whatever fell due before the race's instant (earlier orders'
    confirmations and completions), so the race's tick meets the case's timer alone."""
    for side in sides:
        rt = side.rt
        fired = Scheduler(rt.engine, rt.clock, rt.rulebooks, history=rt.history).tick()
        assert not any(timer.failed for timer in fired), fired


def _due_at(engine: Engine, case_id: str) -> datetime:
    with read_transaction(engine) as connection:
        due = connection.execute(
            select(timers.c.due_at, timers.c.status).where(
                timers.c.id == f"{MERCHANT_ANSWER}:{case_id}"
            )
        ).one()
    assert due.status == "pending"
    assert isinstance(due.due_at, datetime)
    return due.due_at


@pytest.mark.parametrize("backend", ["postgres"])
def test_the_merchants_answer_racing_its_auto_grant_has_one_outcome(
    backend: str, sides: tuple[Side, Side], clock: SimulatedClock
) -> None:
    """At the instant the merchant's 36 hours run out, its answer and the scheduler's
    `case.merchant_answer` timer race. The deadline is strict: an answer dated at the due
    instant is late. Whichever runs first, the timer grants the refund and the answer is
    refused with `deadline_passed`. The refund is decided and owed once."""
    raced, _ = sides
    winners: Counter[str] = Counter()
    for number, ((label, role, action, body), mode) in enumerate(
        (answer, mode) for answer in ANSWERS for mode in TIMER_MODES
    ):
        order_id = f"T{number}"
        case_id = f"{order_id}-C"
        for side in sides:
            signed_order(side.api, order_id)
            open_case(side.api, order_id, case_id, "refund_only_quality", ASKED)
        due_at = _due_at(raced.rt.engine, case_id)
        assert due_at - clock.now() == timedelta(hours=36)
        clock.set(due_at - timedelta(seconds=1))
        _pre_tick(sides)
        clock.set(due_at)
        owed_before = owed_to_buyer(raced.rt)
        moves = [tick_move(case_id), case_move(label, role, case_id, action, body)]
        played = play(sides, order_id, moves, mode)
        described = (label, mode, played.order)
        winners[played.order[0] if played.order[0] == "timer" else "answer"] += 1
        tick, answer = played.answers["timer"], played.answers[label]
        assert all(timer.subject_id == case_id for timer in tick.fired), described
        case = played.state["cases"][case_id]
        refunds = refunds_of(raced.rt.engine, f"{order_id}-1")
        timer_row = next(
            row for row in played.state["timers"] if row[0].startswith(MERCHANT_ANSWER)
        )
        assert [timer.outcome for timer in tick.fired] == [f"{MERCHANT_ANSWER}: case closed"], (
            described
        )
        assert answer.status_code == 409, described
        assert answer.json()["code"] == "deadline_passed", described
        assert (case[0], case[5], case[6]) == ("closed", ASKED, "granted_on_timeout")
        assert timer_row[1] == "fired", described
        refunded = parse_yuan(case[5])
        assert [amount for amount, _ in refunds] == ([refunded] if refunded else []), described
        assert owed_to_buyer(raced.rt) - owed_before == refunded, described
    # A refused answer writes nothing, so which of the two ran first cannot be read back;
    # every round had the one outcome.
    assert sum(winners.values()) == len(ANSWERS) * len(TIMER_MODES), winners
