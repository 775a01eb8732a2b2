"""The audit trail: every command's record, read by subject, actor and time (API and CLI)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from buyerguard.bootstrap import Runtime
from buyerguard.cli import app as cli
from buyerguard.clock import SimulatedClock, format_instant
from buyerguard.services.context import OPERATOR
from tests.conftest import Api
from tests.test_api import ORDER as API_ORDER
from tests.test_api import assert_refused

ORDER = {"buyer_id": "B-shop", "lines": [{"product_id": "P-cups", "quantity": 10}]}


def test_audit_by_subject_actor_and_time(api: Api, clock: SimulatedClock) -> None:
    start = clock.now()
    for order_id in ("O-a1", "O-a2"):
        assert api.post("marketplace", "/v1/orders", {"id": order_id, **ORDER}).status_code == 201
    clock.advance(timedelta(hours=1))
    paid = api.post("marketplace", "/v1/orders/O-a1/payment", {"amount": "360.00"})
    assert paid.status_code == 200
    assert api.post("buyer", "/v1/orders/O-a2/cancellation").status_code == 200

    about = api.get("operator", "/v1/audit?subject=O-a1").json()
    assert [item["command"] for item in about["items"]] == ["place_order", "pay_order"]
    assert about["items"][1]["actor"] == "marketplace" and about["items"][1]["token_id"]
    by_buyer = api.get("operator", "/v1/audit?actor=buyer:B-shop").json()["items"]
    assert [(item["command"], item["subject_id"]) for item in by_buyer] == [
        ("cancel_order", "O-a2")
    ]
    later = format_instant(start + timedelta(minutes=30)).replace("+", "%2B")
    after_half_hour = api.get("operator", f"/v1/audit?since={later}").json()["items"]
    assert {item["command"] for item in after_half_hour} == {"pay_order", "cancel_order"}
    until = {
        item["command"] for item in api.get("operator", f"/v1/audit?until={later}").json()["items"]
    }
    assert "place_order" in until and not until & {"pay_order", "cancel_order"}

    everything = api.get("operator", "/v1/audit?limit=500").json()["items"]
    first = api.get("operator", "/v1/audit?limit=1").json()
    assert first["has_more"] and first["items"] == everything[:1]
    rest = api.get("operator", f"/v1/audit?after={first['next_cursor']}&limit=500").json()
    assert not rest["has_more"] and rest["items"] == everything[1:]


def test_a_command_writes_its_audit_with_its_answer_once(api: Api) -> None:
    """A command's audit rows are written with its stored answer (one statement on
    PostgreSQL): keyed or not, once per command; a replay or a refusal writes none."""
    assert (
        api.post("marketplace", "/v1/orders", {"id": "O-k1", **ORDER}, key="k-1").status_code == 201
    )
    again = api.post("marketplace", "/v1/orders", {"id": "O-k1", **ORDER}, key="k-1")
    assert again.status_code == 201 and again.headers.get("idempotent-replayed") == "true"
    assert api.post("marketplace", "/v1/orders/O-k1/payment", {"amount": "1.00"}).status_code == 422
    assert (
        api.post("marketplace", "/v1/orders/O-k1/payment", {"amount": "360.00"}).status_code == 200
    )
    items = api.get("operator", "/v1/audit?subject=O-k1").json()["items"]
    assert [item["command"] for item in items] == ["place_order", "pay_order"]
    assert items[0]["details"] == {"total_fen": 36000}
    answer = api.post("marketplace", "/v1/orders", {"id": "O-k1", **ORDER}, key="k-1").json()
    assert answer["id"] == "O-k1"


def test_audit_is_the_operators_and_bad_filters_are_refused(api: Api) -> None:
    for role in ("marketplace", "merchant", "buyer"):
        assert_refused(api.get(role, "/v1/audit"), 403, "forbidden")
    assert_refused(
        api.get("operator", "/v1/audit?since=yesterday"), 422, "instant_malformed", "since"
    )
    assert api.get("operator", "/v1/audit?after=-1").status_code == 422


def test_an_audit_cursor_past_an_integer_id_is_refused_on_both_databases(api: Api) -> None:
    """The audit ids are an INTEGER column: a cursor above 2**31 - 1 answered 500 on
    PostgreSQL (integer out of range) and an empty page on SQLite; both refuse it now."""
    last = api.get("operator", f"/v1/audit?after={2**31 - 1}")
    assert last.status_code == 200 and last.json()["items"] == []
    for after in (2**31, 99999999999, 2**62):
        assert_refused(
            api.get("operator", f"/v1/audit?after={after}"), 422, "out_of_range", "after"
        )


@pytest.fixture
def cli_env(rt: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUYERGUARD_DATABASE_URL", rt.engine.url.render_as_string(False))


def test_audit_show_in_the_cli(api: Api, cli_env: None) -> None:
    assert api.post("marketplace", "/v1/orders", {"id": "O-cli", **ORDER}).status_code == 201
    shown = CliRunner().invoke(cli, ["audit", "show", "O-cli", "--json"])
    assert shown.exit_code == 0, shown.output
    records = json.loads(shown.stdout)
    assert [record["command"] for record in records] == ["place_order"]
    table = CliRunner().invoke(cli, ["audit", "show", "O-cli"])
    assert table.exit_code == 0 and "place_order" in table.stdout
    nothing = CliRunner().invoke(cli, ["audit", "show", "O-none", "--json"])
    assert nothing.exit_code == 0 and json.loads(nothing.stdout) == []


def commands_about(api: Api, subject: str) -> list[tuple[str, str]]:
    items = api.get("operator", f"/v1/audit?subject={subject}").json()["items"]
    return [(item["command"], item["actor"]) for item in items]


def test_every_money_out_timer_and_token_command_is_audited(
    api: Api, rt: Runtime, clock: SimulatedClock, cli_env: None
) -> None:
    """The trail is "the record every command writes", yet a payout run, an execution
    report, an instruction's retry, a merchant's payout settings, a timer's retry and a
    token issued or revoked left none: who paid whom, who said it was paid, who changed
    what a merchant is paid and who let whom in could not be read back."""
    from buyerguard.services.timers import schedule_timer
    from buyerguard.store.tables import timers
    from tests.test_money_out import instruction_of, put_reserve, released_demo_orders

    released_demo_orders(api)
    run = api.post("operator", "/v1/payouts/runs", {})
    assert run.status_code == 201, run.text
    assert commands_about(api, run.json()["id"]) == [("run_payouts", "operator")]
    payout = next(result for result in run.json()["results"] if result["payout_id"])
    executed = api.post(
        "marketplace",
        f"/v1/payouts/{payout['payout_id']}/execution",
        {"outcome": "executed", "reference": "BANK-1"},
    )
    assert executed.status_code == 200, executed.text
    assert commands_about(api, payout["payout_id"]) == [("report_executed", "marketplace")]

    cups = {**API_ORDER, "id": "O-3", "lines": [{"product_id": "P-cups", "quantity": 1}]}
    assert api.post("marketplace", "/v1/orders", cups).status_code == 201
    assert api.post("marketplace", "/v1/orders/O-3/payment", {"amount": "56.00"}).status_code == 200
    assert api.post("marketplace", "/v1/orders/O-3/refund-before-shipment", {}).status_code == 200
    refund = instruction_of(api, "refund", "O-3")
    failed = api.post(
        "marketplace",
        f"/v1/instructions/{refund['id']}/execution",
        {"outcome": "failed", "reason": "card closed"},
    )
    assert failed.status_code == 200, failed.text
    assert api.post("marketplace", f"/v1/instructions/{refund['id']}/retry").status_code == 201
    trail = api.get("operator", f"/v1/audit?subject={refund['id']}").json()["items"]
    assert [item["command"] for item in trail] == ["report_failed", "retry_instruction"]
    assert trail[0]["details"]["reason"] == "card closed"

    assert put_reserve(api, "0.1").status_code == 200
    assert put_reserve(api, None).status_code == 200
    settings = api.get("operator", "/v1/audit?subject=M-yiwu").json()["items"]
    assert settings[0]["command"] == "create_merchant"  # the demo's
    assert [(item["command"], item["details"]) for item in settings[1:]] == [
        ("set_payout_settings", {"reserve_share": "0.1"}),
        ("set_payout_settings", {"reserve_share": None}),
    ]

    with rt.writing(OPERATOR) as ctx:
        schedule_timer(ctx, "test.unknown_kind", "S1", ctx.now())
        ctx.connection.execute(timers.update().values(status="failed"))
    runner = CliRunner()
    assert runner.invoke(cli, ["timers", "retry", "test.unknown_kind:S1"]).exit_code == 0
    assert commands_about(api, "test.unknown_kind:S1") == [("retry_timer", "operator")]
    created = runner.invoke(cli, ["token", "create", "--role", "marketplace", "--json"])
    assert created.exit_code == 0, created.output
    token = json.loads(created.stdout)
    assert runner.invoke(cli, ["token", "revoke", token["id"]]).exit_code == 0
    issued = api.get("operator", f"/v1/audit?subject={token['id']}").json()["items"]
    assert [item["command"] for item in issued] == ["create_token", "revoke_token"]
    assert issued[0]["details"]["role"] == "marketplace"
    assert token["secret"] not in json.dumps(issued)
