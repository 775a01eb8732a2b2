"""The money-out commands: `payouts run`, `instructions list`, `instructions overdue`.

Each test runs the real command on a real database (SQLite and PostgreSQL, through the
`engine` fixture, whose ledger is checked afterwards) with the test's simulated clock
installed as the process clock, so "now" and "overdue" are the test's to move.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from buyerguard.bootstrap import Runtime
from buyerguard.cli import app
from buyerguard.clock import SimulatedClock, set_clock
from buyerguard.money import format_fen, parse_rate, parse_yuan
from buyerguard.services import instructions, merchant_money, orders
from buyerguard.services.context import OPERATOR, Actor, Role
from buyerguard.store.tables import instructions as instruction_rows
from buyerguard.store.tables import payout_runs

runner = CliRunner()
MARKETPLACE = Actor(Role.MARKETPLACE)


@pytest.fixture
def demo(
    rt: Runtime, engine: Engine, clock: SimulatedClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Runtime]:
    """The demo marketplace on the test database, which the CLI is pointed at."""
    from buyerguard.demo import ensure_demo_catalog

    monkeypatch.setenv("BUYERGUARD_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    with rt.writing(OPERATOR) as ctx:
        ensure_demo_catalog(ctx)
    previous = set_clock(clock)
    try:
        yield rt
    finally:
        set_clock(previous)


def invoke(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def refused(args: list[str], code: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {code}"), result.stderr


def released(rt: Runtime, order_id: str, *lines: tuple[str, int], shipping: str = "0.00") -> None:
    """Place, pay, ship, sign and confirm an order of B-shop's: its money is payable."""
    order_lines = tuple(orders.OrderLine(product, quantity) for product, quantity in lines)
    with rt.writing(MARKETPLACE) as ctx:
        placed = orders.place_order(
            ctx,
            orders.PlaceOrder("B-shop", order_lines, parse_yuan(shipping), order_id=order_id),
        )
        orders.pay_order(ctx, order_id, placed.total_fen)
        orders.ship_order(ctx, order_id, "SF", f"SF-{order_id}", True)
        orders.sign_order(ctx, order_id)
        orders.confirm_order(ctx, order_id)


def balance(rt: Runtime, merchant_id: str) -> merchant_money.MerchantBalance:
    with rt.reading(OPERATOR) as ctx:
        return merchant_money.merchant_balance(ctx, merchant_id)


def rows_of(output: str) -> list[list[str]]:
    """The tab-separated lines a piped command prints (one per payout or instruction)."""
    return [line.split("\t") for line in output.splitlines() if "\t" in line]


def counts(rt: Runtime) -> tuple[int, int]:
    with rt.reading(OPERATOR) as ctx:
        runs = ctx.connection.execute(select(func.count()).select_from(payout_runs)).scalar_one()
        made = ctx.connection.execute(
            select(func.count()).select_from(instruction_rows)
        ).scalar_one()
    return int(runs), int(made)


def test_payouts_run_pays_every_merchant_less_its_reserve_and_prints_the_total(
    demo: Runtime,
) -> None:
    # M-yiwu: 360.00 + 5,000.00 + 20.00 shipping - fees 2.16 and 18.00 (capped) = 5,359.84.
    released(demo, "O-1", ("P-cups", 10), ("P-towels", 2), shipping="20.00")
    # M-shenzhen: 2 x 750.00 - fee 9.00 = 1,491.00; a tenth of the 1,500.00 released is kept.
    released(demo, "O-2", ("P-cables", 2))
    with demo.writing(OPERATOR) as ctx:
        merchant_money.set_reserve_share(ctx, "M-shenzhen", parse_rate("0.10"))

    ran = invoke("payouts", "run")
    paid = {row[0]: row for row in rows_of(ran.stdout)}
    assert set(paid) == {"M-yiwu", "M-shenzhen"}
    assert paid["M-yiwu"][2:] == ["5,359.84", "0.00", "0.00"]
    assert paid["M-shenzhen"][2:] == ["1,341.00", "150.00", "0.00"]  # 1,491.00 - 150.00
    assert "2 payout(s) of 2 merchant(s) considered, total 6,700.84" in ran.stdout
    for merchant_id, payout_id in (
        ("M-yiwu", paid["M-yiwu"][1]),
        ("M-shenzhen", paid["M-shenzhen"][1]),
    ):
        assert payout_id.startswith("po_")
        with demo.reading(OPERATOR) as ctx:
            row = instructions.visible_instruction(ctx, payout_id)
        assert (row["party"], row["state"], row["run_id"]) == (
            f"merchant:{merchant_id}",
            "instructed",
            ran.stdout.split("payout run ")[1].split()[0],
        )
    shenzhen = balance(demo, "M-shenzhen")
    assert (shenzhen.payable_fen, shenzhen.reserved_fen, shenzhen.in_flight_fen) == (
        0,
        parse_yuan("150.00"),
        parse_yuan("1,341.00"),
    )
    assert balance(demo, "M-yiwu").in_flight_fen == parse_yuan("5,359.84")

    # Nothing new is payable at M-yiwu: a second run pays it nothing.
    again = invoke("payouts", "run", "--merchant", "M-yiwu")
    assert rows_of(again.stdout) == []
    assert "0 payout(s) of 0 merchant(s) considered, total 0.00" in again.stdout
    assert balance(demo, "M-yiwu").in_flight_fen == parse_yuan("5,359.84")


def test_payouts_run_json_is_the_api_shape_and_a_failed_payout_is_paid_by_the_next_run(
    demo: Runtime, clock: SimulatedClock
) -> None:
    released(demo, "O-1", ("P-cups", 10), ("P-towels", 2), shipping="20.00")
    released(demo, "O-2", ("P-cables", 1))  # 750.00 - 4.50
    first = json.loads(invoke("payouts", "run", "--json").stdout)
    assert (first["trigger"], first["actor"], first["payouts"]) == ("operator", "operator", 2)
    assert first["total"] == "6105.34"  # 5,359.84 + 745.50
    amounts = {result["merchant_id"]: result["amount"] for result in first["results"]}
    assert amounts == {"M-yiwu": "5359.84", "M-shenzhen": "745.50"}
    yiwu = next(r["payout_id"] for r in first["results"] if r["merchant_id"] == "M-yiwu")

    clock.advance(timedelta(hours=1))
    with demo.writing(MARKETPLACE) as ctx:
        report = instructions.ExecutionReport("failed", reason="account closed")
        instructions.report_execution(ctx, yiwu, report, kind=instructions.PAYOUT)
    failed = invoke("instructions", "list", "--state", "failed")
    assert [(row[0], row[1], row[3], row[4], row[8]) for row in rows_of(failed.stdout)] == [
        (yiwu, "payout", "5,359.84", "failed", "account closed")
    ]
    assert balance(demo, "M-yiwu").payable_fen == parse_yuan("5,359.84")  # owed again

    second = json.loads(invoke("payouts", "run", "--json", "--merchant", "M-yiwu").stdout)
    assert (second["payouts"], second["total"]) == (1, "5359.84")
    assert second["results"][0]["payout_id"] not in (None, yiwu)
    assert balance(demo, "M-yiwu").in_flight_fen == parse_yuan("5,359.84")
    assert balance(demo, "M-shenzhen").in_flight_fen == parse_yuan("745.50")


def test_payouts_run_refuses_an_unknown_merchant_before_anything_runs(demo: Runtime) -> None:
    released(demo, "O-1", ("P-cups", 10))
    before = counts(demo)
    refused(
        ["payouts", "run", "--merchant", "M-yiwu", "--merchant", "M-none"], "merchant_not_found"
    )
    assert counts(demo) == before == (0, 0)
    assert balance(demo, "M-yiwu").payable_fen == parse_yuan("357.84")  # 360.00 - 2.16


def test_instructions_list_and_overdue(demo: Runtime, clock: SimulatedClock) -> None:
    released(demo, "O-1", ("P-cups", 10), ("P-towels", 2), shipping="20.00")
    with demo.writing(MARKETPLACE) as ctx:  # a refund before shipment: one refund instruction
        placed = orders.place_order(
            ctx, orders.PlaceOrder("B-shop", (orders.OrderLine("P-cables", 1),), order_id="O-2")
        )
        orders.pay_order(ctx, "O-2", placed.total_fen)
        orders.refund_before_shipment(ctx, "O-2")
    paid = json.loads(invoke("payouts", "run", "--json").stdout)["results"]
    payout_id = paid[0]["payout_id"]

    listed = invoke("instructions", "list")
    by_kind = {row[1]: row for row in rows_of(listed.stdout)}
    assert set(by_kind) == {"payout", "refund"}
    assert by_kind["payout"][:5] == [
        payout_id,
        "payout",
        "merchant:M-yiwu",
        "5,359.84",
        "instructed",
    ]
    assert by_kind["refund"][2:5] == ["buyer:B-shop", "750.00", "instructed"]
    assert by_kind["refund"][7] == "O-2"
    assert "2 instruction(s)" in listed.stdout
    refunds = json.loads(invoke("instructions", "list", "--kind", "refund", "--json").stdout)
    assert [(item["kind"], item["amount"], item["order_id"]) for item in refunds["items"]] == [
        ("refund", "750.00", "O-2")
    ]
    assert refunds["more"] is False
    one = invoke("instructions", "list", "--limit", "1")
    first = rows_of(one.stdout)[0][0]
    assert len(rows_of(one.stdout)) == 1
    assert f"more left out (--limit is 1: raise it, or go on with --after {first})" in one.stdout
    rest = invoke("instructions", "list", "--after", first)
    assert [row[0] for row in rows_of(rest.stdout)] == [row[0] for row in rows_of(listed.stdout)][
        1:
    ]

    nothing_yet = invoke("instructions", "overdue")
    assert rows_of(nothing_yet.stdout) == []
    assert "0 instruction(s) overdue" in nothing_yet.stdout
    assert "(48 h now)" in nothing_yet.stdout

    with demo.writing(MARKETPLACE) as ctx:
        report = instructions.ExecutionReport("executed", reference="BANK-1")
        instructions.report_execution(ctx, payout_id, report)
    clock.advance(timedelta(hours=48, minutes=1))
    overdue = invoke("instructions", "overdue")  # exit 0 although one is overdue
    assert [(row[1], row[3], row[4]) for row in rows_of(overdue.stdout)] == [
        ("refund", "750.00", "instructed")
    ]
    assert "1 instruction(s) overdue" in overdue.stdout
    report_json = json.loads(invoke("instructions", "overdue", "--json").stdout)
    assert (report_json["overdue"], report_json["overdue_after_hours"]) == (1, 48)
    assert report_json["items"][0]["kind"] == "refund"
    executed = rows_of(invoke("instructions", "list", "--state", "executed").stdout)
    assert [(row[0], row[4]) for row in executed] == [(payout_id, "executed")]
    assert (
        rows_of(invoke("instructions", "list", "--state", "overdue", "--kind", "payout").stdout)
        == []
    )

    refused(["instructions", "list", "--state", "zombie"], "invalid_choice")
    refused(["instructions", "list", "--kind", "wire"], "invalid_choice")


def test_the_ledgers_amounts_are_grouped_for_people_and_plain_in_json(demo: Runtime) -> None:
    """`ledger check` and `ledger trial-balance` print 5,380.00 for people; `--json` prints
    the API's "5380.00"."""
    released(demo, "O-1", ("P-cups", 10), ("P-towels", 2), shipping="20.00")
    checked = invoke("ledger", "check", "--full")
    totals = re.search(r"posted debits (\S+) = credits (\S+)\n", checked.stdout)
    assert totals, checked.stdout
    report = json.loads(invoke("ledger", "check", "--full", "--json").stdout)
    assert report["posted_debits"] == report["posted_credits"]
    assert "," not in report["posted_debits"] and parse_yuan(report["posted_debits"]) >= 100_000
    assert totals[1] == totals[2] == format_fen(parse_yuan(report["posted_debits"]), thousands=True)

    lines = {row[0]: row[1:] for row in rows_of(invoke("ledger", "trial-balance").stdout)}
    # Released 5,360.00 + 20.00 shipping, less the fees 2.16 + 18.00.
    assert lines["merchant:M-yiwu:payable"] == ["20.16", "5,380.00", "-5,359.84"]
    debits, credits, net = lines["TOTAL"]
    assert debits == credits and "," in debits and net == ""
    accounts = json.loads(invoke("ledger", "trial-balance", "--json").stdout)["accounts"]
    payable = next(line for line in accounts if line["account_id"] == "merchant:M-yiwu:payable")
    assert (payable["debits"], payable["credits"], payable["net"]) == (
        "20.16",
        "5380.00",
        "-5359.84",
    )


MONEY_OUT_COMMANDS = [
    ["payouts", "run"],
    ["instructions", "list"],
    ["instructions", "overdue"],
]


@pytest.mark.parametrize("args", MONEY_OUT_COMMANDS, ids=" ".join)
def test_a_database_never_migrated_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.setenv("BUYERGUARD_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    refused(args, "database_not_migrated")
