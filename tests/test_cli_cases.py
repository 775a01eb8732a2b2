"""The after-sales commands: `cases list` and `cases show`.

Each test drives cases through the API on a real database (SQLite and PostgreSQL, through
the `engine` fixture, whose ledger is checked afterwards), then runs the real command on
the same database with the test's simulated clock installed as the process clock, so the
deadlines shown are the ones the scheduler will act on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from buyerguard.bootstrap import Runtime
from buyerguard.cli import app
from buyerguard.clock import SimulatedClock, format_instant, set_clock
from buyerguard.scheduler import Scheduler
from tests.conftest import Api

runner = CliRunner()
CUPS = {"product_id": "P-cups", "quantity": 10}  # 360.00, M-yiwu
TOWELS = {"product_id": "P-towels", "quantity": 2}  # 5,000.00, M-yiwu


@pytest.fixture
def served(
    api: Api, engine: Engine, clock: SimulatedClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Api]:
    """The demo API on the test database, which the CLI is pointed at, on the test's clock."""
    monkeypatch.setenv("BUYERGUARD_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    previous = set_clock(clock)
    try:
        yield api
    finally:
        set_clock(previous)


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def refused(args: list[str], code: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {code}"), result.stderr


def rows_of(output: str) -> list[list[str]]:
    """The tab-separated lines a piped command prints (one per case, transition, …)."""
    return [line.split("\t") for line in output.splitlines() if "\t" in line]


def section(output: str, name: str) -> list[list[str]]:
    """The rows `cases show` prints under its `name (n):` line, up to the next section."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{name} ("))
    rows: list[list[str]] = []
    for line in lines[start + 1 :]:
        if "\t" not in line:
            break
        rows.append(line.split("\t"))
    return rows


def signed_order(api: Api, order_id: str, *lines: dict[str, Any]) -> list[str]:
    """An order of B-shop's, paid, shipped and signed for; returns its sub-order ids."""
    body = {"id": order_id, "buyer_id": "B-shop", "lines": list(lines)}
    placed = api.post("marketplace", "/v1/orders", body)
    assert placed.status_code == 201, placed.text
    for suffix, fact in (
        ("payment", {"amount": placed.json()["total"]}),
        ("shipment", {"carrier": "SF", "tracking_number": f"SF-{order_id}"}),
        ("signing", None),
    ):
        answer = api.post("marketplace", f"/v1/orders/{order_id}/{suffix}", fact)
        assert answer.status_code == 200, answer.text
    return [sub["id"] for sub in placed.json()["sub_orders"]]


def open_case(api: Api, order_id: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = api.post("buyer", f"/v1/orders/{order_id}/cases", body)
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


def act(api: Api, role: str, case_id: str, action: str, body: Any = None) -> dict[str, Any]:
    answer = api.post(role, f"/v1/cases/{case_id}/{action}", body)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_cases_list_shows_each_case_with_its_running_deadline_and_filters(
    served: Api, clock: SimulatedClock
) -> None:
    start = clock.now()
    first = signed_order(served, "L-1", CUPS)
    second = signed_order(served, "L-2", CUPS, TOWELS)
    body = {"type": "return_no_reason", "sub_order_id": first[0], "reason": "changed my mind"}
    open_case(served, "L-1", {**body, "id": "case-a"})
    open_case(
        served,
        "L-2",
        {
            "id": "case-b",
            "type": "refund_only_quality",
            "sub_order_id": second[0],
            "amount": "100.00",
            "reason": "three cups chipped",
        },
    )
    open_case(
        served,
        "L-2",
        {
            "id": "case-c",
            "type": "refund_only_not_received",
            "sub_order_id": second[1],
            "amount": "1,200.00",
            "reason": "one parcel of towels never came",
        },
    )
    clock.advance(timedelta(hours=2))
    act(served, "merchant", "case-b", "accept")
    act(served, "merchant", "case-c", "offer", {"amount": "600.00"})

    listed = invoke("cases", "list")
    assert rows_of(listed) == [
        [
            "case-a",
            "return_no_reason",
            "L-1",
            "L-1-1",
            "pending",
            "with_buyer",
            "360.00",
            "0.00",
            "case.merchant_review",  # returns.merchant_review_hours: 24 h from the request
            format_instant(start + timedelta(hours=24)),
        ],
        [
            "case-b",
            "refund_only_quality",
            "L-2",
            "L-2-1",
            "closed",
            "not_returned",
            "100.00",
            "100.00",
            "-",  # closed: no deadline runs
            "-",
        ],
        [
            "case-c",
            "refund_only_not_received",
            "L-2",
            "L-2-2",
            "negotiating",
            "not_returned",
            "1,200.00",
            "0.00",
            "case.offer_response",  # cases.offer_response_hours: 48 h from the offer
            format_instant(start + timedelta(hours=2 + 48)),
        ],
    ]
    assert "3 case(s)" in listed
    assert [row[0] for row in rows_of(invoke("cases", "list", "--state", "pending"))] == ["case-a"]
    assert [row[0] for row in rows_of(invoke("cases", "list", "--order", "L-2"))] == [
        "case-b",
        "case-c",
    ]
    only_b = invoke("cases", "list", "--order", "L-2", "--state", "closed")
    assert [row[0] for row in rows_of(only_b)] == ["case-b"]
    assert rows_of(invoke("cases", "list", "--order", "L-1", "--state", "closed")) == []

    shown = json.loads(invoke("cases", "list", "--json"))
    assert shown["more"] is False
    api_items = served.get("operator", "/v1/cases").json()["items"]
    assert [{k: v for k, v in item.items() if k != "deadline"} for item in shown["items"]] == (
        api_items
    )
    assert [item["deadline"] for item in shown["items"]] == [
        {"kind": "case.merchant_review", "due_at": format_instant(start + timedelta(hours=24))},
        None,
        {"kind": "case.offer_response", "due_at": format_instant(start + timedelta(hours=50))},
    ]

    two = invoke("cases", "list", "--limit", "2")
    assert [row[0] for row in rows_of(two)] == ["case-a", "case-b"]
    assert "more left out (--limit is 2: raise it, or go on with --after case-b)" in two
    assert [row[0] for row in rows_of(invoke("cases", "list", "--after", "case-b"))] == ["case-c"]
    assert json.loads(invoke("cases", "list", "--limit", "2", "--json"))["more"] is True

    refused(["cases", "list", "--state", "zombie"], "invalid_choice")
    refused(["cases", "list", "--order", "L-404"], "order_not_found")


def test_cases_show_follows_a_picked_up_return_to_its_inspection_timeout(
    served: Api, rt: Runtime, clock: SimulatedClock
) -> None:
    sub = signed_order(served, "S-1", CUPS)[0]
    open_case(
        served,
        "S-1",
        {
            "id": "case-s",
            "type": "return_no_reason",
            "sub_order_id": sub,
            "reason": "wrong size",
            "evidence": [{"uri": "https://img.example/s1.jpg", "note": "the label"}],
        },
    )
    clock.advance(timedelta(hours=1))
    act(served, "merchant", "case-s", "accept", {"note": "send it back"})
    clock.advance(timedelta(hours=1))
    act(served, "marketplace", "case-s", "pickup", {"carrier": "SF", "freight": "30.00"})
    clock.advance(timedelta(days=2))
    arrived_at = clock.now()
    act(served, "merchant", "case-s", "arrival")
    due = format_instant(arrived_at + timedelta(hours=24))  # returns.picked_up_inspection_hours

    shown = invoke("cases", "show", "case-s")
    lines = shown.splitlines()
    assert lines[0] == (
        "case case-s: return_no_reason on order S-1, sub-order S-1-1 (buyer B-shop, merchant "
        "M-yiwu)"
    )
    assert "state accepted, goods received_by_merchant, outcome -" in lines
    assert (
        "money: requested 360.00, offered -, agreed 360.00, refunded 360.00 (quick refund "
        "360.00), compensated 0.00; owed 385.00, paid 0.00 (its instructions, below)"
    ) in lines
    assert (
        f"deadline: case.inspection due {due}: the merchant must act "
        "(returns.picked_up_inspection_hours), else the refund is released"
    ) in lines
    paid = section(shown, "instructions")
    assert sorted((row[1], row[2], row[3], row[4]) for row in paid) == [
        ("carrier_subsidy", "carrier:SF", "25.00", "instructed"),  # min(30.00, cap 25.00)
        ("refund", "buyer:B-shop", "360.00", "instructed"),  # the quick refund, at pickup
    ]
    history = section(shown, "history")
    assert [(row[1], row[3], row[4]) for row in history] == [
        ("open", "pending -> pending", "with_buyer -> with_buyer"),
        ("accept", "pending -> accepted", "with_buyer -> with_buyer"),
        ("pickup", "accepted -> accepted", "with_buyer -> in_transit"),
        ("arrival", "accepted -> accepted", "in_transit -> received_by_merchant"),
    ]
    assert (history[0][5], history[0][6]) == ("wrong size", "https://img.example/s1.jpg")
    assert history[1][5] == "send it back"
    decisions = section(shown, "decisions")
    assert [row[1] for row in decisions] == [
        "return_eligibility",
        "case_opened",
        "deadline_set",
        "case_accepted",
        "deadline_set",
        "case_picked_up",
        "case_quick_refunded",
        "case_arrived",
        "deadline_set",
    ]
    assert decisions[-1][3] == "returns.picked_up_inspection_hours"

    refund_id = next(row[0] for row in paid if row[1] == "refund")
    executed = served.post(
        "marketplace",
        f"/v1/instructions/{refund_id}/execution",
        {"outcome": "executed", "reference": "BANK-S-1"},
        key="paid-s-1",
    )
    assert executed.status_code == 200, executed.text
    assert "owed 385.00, paid 360.00" in invoke("cases", "show", "case-s")

    as_json = json.loads(invoke("cases", "show", "case-s", "--json"))
    assert as_json == served.get("operator", "/v1/cases/case-s").json()
    assert as_json["deadline"] == {"kind": "case.inspection", "due_at": due}
    assert sorted(
        (item["kind"], item["amount"], item["state"]) for item in as_json["payments"]
    ) == [
        ("carrier_subsidy", "25.00", "instructed"),
        ("refund", "360.00", "executed"),
    ]

    clock.advance(timedelta(hours=24))
    fired = [item.outcome for item in Scheduler(rt.engine, rt.clock, rt.rulebooks).tick()]
    assert "case.inspection: case closed" in fired
    closed = invoke("cases", "show", "case-s").splitlines()
    assert (
        f"state closed, goods received_by_merchant, outcome granted_on_timeout, closed {due}"
        in (closed)
    )
    assert "deadline: none running" in closed
    assert any(line.startswith("money: requested 360.00") for line in closed)
    assert rows_of(invoke("cases", "list", "--state", "closed"))[0][8:] == ["-", "-"]

    refused(["cases", "show", "case-404"], "case_not_found")


def test_cases_show_names_the_seven_days_of_a_return_the_buyer_sent(
    served: Api, clock: SimulatedClock
) -> None:
    sub = signed_order(served, "S-2", CUPS)[0]
    body = {"id": "case-t", "type": "return_quality", "sub_order_id": sub, "reason": "cracked"}
    open_case(served, "S-2", body)
    act(served, "merchant", "case-t", "accept")
    act(served, "buyer", "case-t", "handover", {"carrier": "YTO", "tracking_number": "YT-1"})
    assert "deadline: none running" in invoke("cases", "show", "case-t").splitlines()
    clock.advance(timedelta(days=3))
    act(served, "merchant", "case-t", "arrival")
    due = format_instant(clock.now() + timedelta(days=7))  # returns.buyer_sent_inspection_days
    shown = invoke("cases", "show", "case-t")
    assert (
        f"deadline: case.inspection due {due}: the merchant must act "
        "(returns.buyer_sent_inspection_days), else the refund is released"
    ) in shown.splitlines()
    # No pickup: no subsidy, no quick refund, nothing instructed yet.
    assert section(shown, "instructions") == []
    assert "refunded 0.00 (quick refund 0.00), compensated 0.00; owed 0.00, paid 0.00" in shown


def test_cases_show_names_a_custom_disputes_trigger_and_the_platforms_compensation(
    served: Api,
) -> None:
    custom = {"product_id": "P-cups", "quantity": 50, "tier": "custom"}  # 50 x 48.00
    sub = signed_order(served, "S-3", custom)[0]
    body = {
        "id": "case-u",
        "type": "custom_dispute",
        "sub_order_id": sub,
        "trigger": "misprinted",
        "amount": "600.00",
        "reason": "logo printed upside down",
    }
    open_case(served, "S-3", body)
    act(served, "merchant", "case-u", "accept")
    shown = invoke("cases", "show", "case-u").splitlines()
    assert shown[0].startswith("case case-u: custom_dispute (misprinted) on order S-3")
    assert (
        "money: requested 600.00, offered -, agreed 600.00, refunded 600.00 (quick refund "
        "0.00), compensated 120.00; owed 720.00, paid 0.00 (its instructions, below)"
    ) in shown  # §5: 5% of 2,400.00, paid by the platform on top of the refund
    assert "state closed, goods not_returned, outcome agreed, closed " in shown[2]


def test_a_case_of_thousands_is_grouped_for_people_and_plain_in_json(served: Api) -> None:
    """5,000.00 of towels back (and the whole 30.00 of freight, under the cap of an order this
    size): `cases list` and `cases show` group the thousands, both `--json` shapes keep the
    API's "5000.00"."""
    sub = signed_order(served, "S-4", TOWELS)[0]
    body = {"id": "case-v", "type": "return_no_reason", "sub_order_id": sub, "reason": "too thin"}
    open_case(served, "S-4", body)
    act(served, "merchant", "case-v", "accept")
    act(served, "marketplace", "case-v", "pickup", {"carrier": "SF", "freight": "30.00"})
    shown = invoke("cases", "show", "case-v")
    assert (
        "money: requested 5,000.00, offered -, agreed 5,000.00, refunded 5,000.00 (quick refund"
        " 5,000.00), compensated 0.00; owed 5,030.00, paid 0.00 (its instructions, below)"
    ) in shown.splitlines()
    refund = next(row for row in section(shown, "instructions") if row[1] == "refund")
    assert refund[3] == "5,000.00"
    listed = rows_of(invoke("cases", "list", "--order", "S-4"))
    assert [row[6:8] for row in listed] == [["5,000.00", "5,000.00"]]
    as_json = json.loads(invoke("cases", "show", "case-v", "--json"))
    assert (as_json["requested"], as_json["owed"]) == ("5000.00", "5030.00")
    items = json.loads(invoke("cases", "list", "--order", "S-4", "--json"))["items"]
    assert [(item["requested"], item["refunded"]) for item in items] == [("5000.00", "5000.00")]


@pytest.mark.parametrize("args", [["cases", "list"], ["cases", "show", "case-1"]], ids=" ".join)
def test_a_database_never_migrated_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.setenv("BUYERGUARD_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    refused(args, "database_not_migrated")
