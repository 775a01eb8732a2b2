"""`--json` on the commands that print data: `token create`, `demo load`, `rulebook diff`,
`shipments import`, `eta build`, `badge evaluate`, `scheduler run --once`, `timers retry`,
`facts load`.

Each command runs for real on a real database (SQLite and PostgreSQL, through the
`engine` fixture, whose ledger is checked afterwards) and a shipment history of the
test's own, with the test's simulated clock installed as the process clock. stdout must
parse as one JSON document, and its figures are checked against what the command did
(the tokens that authenticate, the badge rows written, the timers' rows, the facts
applied), not only its shape. A refused input with `--json` is still exit 2, one line on
stderr and nothing on stdout; `facts load`, whose refused lines are its report, prints
its document first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from buyerguard.api.app import create_app
from buyerguard.bootstrap import Runtime
from buyerguard.cli import app
from buyerguard.cli_logistics import shipments_import
from buyerguard.clock import SimulatedClock, format_instant, parse_instant, set_clock
from buyerguard.money import parse_yuan
from buyerguard.rulebook import rulebooks
from buyerguard.services import badges, orders
from buyerguard.services.context import OPERATOR, Actor, Role
from buyerguard.services.timers import schedule_timer
from buyerguard.services.tokens import authenticate, create_token
from buyerguard.store.db import read_transaction
from buyerguard.store.shipment_history import ShipmentHistory
from buyerguard.store.tables import api_tokens, decisions
from buyerguard.store.tables import orders as order_rows
from tests.live_server import free_port
from tests.test_cli_output import on_terminal

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
DELIVERIES = ROOT / "examples" / "deliveries.csv"  # 125 parcels up to 2024-10-20 (README)
AS_OF = "2024-10-21T00:00:00+08:00"  # the day after the sample history ends
MARKETPLACE = Actor(Role.MARKETPLACE)


@pytest.fixture
def cli(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Runtime, SimulatedClock]]:
    """The CLI pointed at the test database, a shipment history and demo-token file of the
    test's own, on a simulated clock late enough for every as-of the tests use; the same
    runtime for the test to read and write through."""
    url = engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("BUYERGUARD_DATABASE_URL", url)
    monkeypatch.setenv("BUYERGUARD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BUYERGUARD_DEMO_TOKENS", str(tmp_path / "tokens.json"))
    clock = SimulatedClock(parse_instant("2025-01-01T10:00:00+08:00"))
    previous = set_clock(clock)
    try:
        yield Runtime(engine, clock, rulebooks(), ShipmentHistory(tmp_path / "data")), clock
    finally:
        set_clock(previous)


def as_json(*args: str, logs: bool = False) -> Any:
    """Run `buyerguard ARGS --json`: exit 0, stdout one JSON document, stderr nothing (or,
    with `logs`, only log lines: the scheduler logs the timers that fail, as JSON)."""
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output + result.stderr
    if logs:
        assert all(json.loads(line)["logger"] for line in result.stderr.splitlines())
    else:
        assert result.stderr == "", result.stderr
    return json.loads(result.stdout)


def refused(args: list[str], code: str) -> str:
    """A refusal: exit 2, one line on stderr, nothing on stdout; returns stdout."""
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {code}"), result.stderr
    return result.stdout


def test_demo_load_and_token_create_print_tokens_that_authenticate(
    cli: tuple[Runtime, SimulatedClock], tmp_path: Path
) -> None:
    rt, _ = cli
    loaded = as_json("demo", "load")
    assert loaded["created"] == {
        "merchants": ["M-yiwu", "M-shenzhen"],
        "buyers": ["B-shop", "B-chain"],
        "products": ["P-cups", "P-towels", "P-cables"],
        "tokens": ["operator", "marketplace", "merchant", "buyer"],
    }
    assert loaded["tokens_file"] == str(tmp_path / "tokens.json")
    saved = json.loads((tmp_path / "tokens.json").read_text())
    assert {token["role"]: token["secret"] for token in loaded["tokens"]} == saved
    with read_transaction(rt.engine) as connection:
        for token in loaded["tokens"]:
            actor = authenticate(connection, token["secret"], rt.clock.now())
            assert (actor.role.value, actor.party_id) == (token["role"], token["party_id"])
    again = as_json("demo", "load")  # idempotent: nothing new, the same tokens
    assert again["created"] == {"merchants": [], "buyers": [], "products": [], "tokens": []}
    assert again["tokens"] == loaded["tokens"]

    created = as_json(
        "token", "create", "--role", "merchant", "--party", "M-yiwu", "--label", "ci",
        "--expires", "2025-03-01T00:00:00+08:00",
    )  # fmt: skip
    secret = created.pop("secret")
    assert created == {
        "id": created["id"],
        "role": "merchant",
        "party_id": "M-yiwu",
        "label": "ci",
        "created_at": "2025-01-01T02:00:00Z",
        "expires_at": "2025-02-28T16:00:00Z",
        "revoked_at": None,
        "status": "active",
    }
    # The token as `token list --json` shows it, which never shows the secret.
    listed = {token["id"]: token for token in as_json("token", "list")}
    assert listed[created["id"]] == created
    with read_transaction(rt.engine) as connection:
        actor = authenticate(connection, secret, rt.clock.now())
    assert (actor.role, actor.party_id) == (Role.MERCHANT, "M-yiwu")
    assert refused(["token", "create", "--role", "merchant", "--json"], "party_missing") == ""


def test_rulebook_diff_lists_each_changed_key_with_both_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No database: the rulebooks are files."""
    monkeypatch.setenv("BUYERGUARD_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none")
    diff = as_json("rulebook", "diff", "2024-09-12", "2024-09-13")
    assert diff == {
        "from": "2024-09-12",
        "to": "2024-09-13",
        "keys": {
            "fees.cap_enabled": {"from": "false", "to": "true"},
            "fees.required_service": {"from": '"anxingou"', "to": '"buyer_protection"'},
            "fees.services_moved_over": {"from": "[]", "to": '["anxingou"]'},
        },
    }
    # Values as `rulebook show --json` writes them, read from either side's rulebook.
    shown = as_json("rulebook", "show", "--at", "2024-09-13T00:00:00+08:00")
    assert all(shown["keys"][key] == change["to"] for key, change in diff["keys"].items())
    assert as_json("rulebook", "diff", "2024-10-15", "2024-10-15")["keys"] == {}
    assert refused(["rulebook", "diff", "2024-10-15", "x", "--json"], "unknown_rulebook") == ""


def test_import_build_and_badge_report_their_figures(
    cli: tuple[Runtime, SimulatedClock],
) -> None:
    rt, _ = cli
    as_json("demo", "load")
    imported = as_json("shipments", "import", str(DELIVERIES))
    assert imported == {
        "file": str(DELIVERIES),
        "rows": 125,
        "new": 125,
        "updated": 0,
        "unchanged": 0,
    }
    again = as_json("shipments", "import", str(DELIVERIES))
    assert (again["rows"], again["new"], again["updated"], again["unchanged"]) == (125, 0, 0, 125)
    # `rows` is every row of the file, stored or not, as docs/logistics.md and the help say
    # (the docs called it "the rows stored": a tester read 125 stored of a file stored twice).
    doc = " ".join((ROOT / "docs" / "logistics.md").read_text().split())
    assert "`rows`, every row of the file (`new` + `updated` + `unchanged`)" in doc
    assert "the rows stored (`new` + `updated`)" in doc
    assert "rows is every row of the file (new + updated + unchanged)" in " ".join(
        (shipments_import.__doc__ or "").split()
    )

    built = as_json("eta", "build", "--as-of", AS_OF)
    assert built["as_of"] == "2024-10-20T16:00:00Z" and built["rulebook_id"] == "2024-10-15"
    assert built["shipments"] == 125
    # Levels 1-4 each keep the one route with enough parcels; carrier-wide, two carriers (ZTO
    # falls short once its parcels paid on National Day no longer count); M-yiwu's cut-off.
    assert [(level["level"], level["routes"]) for level in built["routes_by_level"]] == [
        (1, 1),
        (2, 1),
        (3, 1),
        (4, 1),
        (5, 2),
    ]
    assert built["routes_by_level"][4]["name"] == "carrier"
    assert built["routes"] == 6 and Path(built["table"]).is_file()
    assert built["merchant_cutoffs"] == 1
    # The table the API serves now is the one reported.
    assert json.loads((Path(built["table"]).parent / "current.json").read_text())["table"] == (
        Path(built["table"]).name
    )

    awarded = as_json("badge", "evaluate", "--as-of", AS_OF)
    assert awarded["as_of"] == "2024-10-20T16:00:00Z" and awarded["evaluated"] == 2
    assert (awarded["awarded"], awarded["withdrawn"]) == (["M-yiwu"], [])
    yiwu = {
        "merchant_id": "M-yiwu",
        "change": "awarded",
        "badged": True,
        "eligible": True,
        "industry": "daily_goods",
        "orders": 68,  # the README's figures
        "signed_within": 68,
        "industry_orders": 98,
        "industry_signed_within": 72,
    }
    shenzhen = {
        "merchant_id": "M-shenzhen",
        "change": None,
        "badged": False,
        "eligible": False,  # 15 orders: fewer than arrival.badge_min_orders
        "industry": "electronics",
        "orders": 15,
        "signed_within": 15,
        "industry_orders": 15,
        "industry_signed_within": 15,
    }
    assert awarded["merchants"] == [shenzhen, yiwu]
    with rt.reading(OPERATOR) as ctx:
        spell = badges.badge_status(ctx, "M-yiwu")["history"][-1]
    assert {key: spell[key] for key in badges.BADGE_FIGURES} == {
        key: yiwu[key] for key in badges.BADGE_FIGURES
    }  # the figures the badge row was written with

    kept = as_json("badge", "evaluate", "--as-of", "2024-10-22T00:00:00+08:00")
    assert (kept["awarded"], kept["withdrawn"]) == ([], [])
    assert [(m["merchant_id"], m["change"], m["badged"]) for m in kept["merchants"]] == [
        ("M-shenzhen", None, False),
        ("M-yiwu", None, True),
    ]
    # The window has left the history behind: nobody is rated, M-yiwu loses the badge.
    withdrawn = as_json("badge", "evaluate", "--as-of", "2024-12-31T00:00:00+08:00")
    assert withdrawn["evaluated"] == 0 and withdrawn["withdrawn"] == ["M-yiwu"]
    assert withdrawn["merchants"] == [
        {
            "merchant_id": "M-yiwu",
            "change": "withdrawn",
            "badged": False,
            "eligible": False,
            "industry": None,
            "orders": 0,
            "signed_within": 0,
            "industry_orders": 0,
            "industry_signed_within": 0,
        }
    ]
    refused(["shipments", "import", "no-such-file.csv", "--json"], "file_not_found")
    refused(["badge", "evaluate", "--as-of", "yesterday", "--json"], "instant_malformed")


def badge_rows(rt: Runtime) -> list[tuple[str, str | None]]:
    """M-yiwu's badge spells as (since, until), oldest first."""
    with rt.reading(OPERATOR) as ctx:
        spells = badges.badge_status(ctx, "M-yiwu")["history"]
    return [
        (spell["since"].isoformat(), spell["until"] and spell["until"].isoformat())
        for spell in spells
    ]


def test_badge_evaluate_refuses_the_future_and_going_back_before_a_change(
    cli: tuple[Runtime, SimulatedClock],
) -> None:
    """A tester's repro: an as-of in 2199 withdrew the badge (an event dated 2199 on the feed)
    and a later evaluation as of 2024 awarded it again, leaving two overlapping spells. The
    future is refused as `eta build` refuses it, and the badge's history only goes forward:
    an evaluation as of an instant before a merchant's latest change is refused."""
    rt, clock = cli
    as_json("demo", "load")
    as_json("shipments", "import", str(DELIVERIES))
    assert as_json("badge", "evaluate", "--as-of", AS_OF)["awarded"] == ["M-yiwu"]
    before = badge_rows(rt)
    for future in ("2199-12-31T00:00:00+08:00", format_instant(clock.now() + timedelta(seconds=1))):
        assert refused(["badge", "evaluate", "--as-of", future], "as_of_in_future") == ""
        assert refused(["badge", "evaluate", "--as-of", future, "--json"], "as_of_in_future") == ""
    assert badge_rows(rt) == before
    # Withdrawn at 12-31; going back to 10-21 would open a second spell inside the first.
    assert as_json("badge", "evaluate", "--as-of", "2024-12-31T00:00:00+08:00")["withdrawn"] == [
        "M-yiwu"
    ]
    after_withdrawal = badge_rows(rt)
    assert after_withdrawal == [("2024-10-20T16:00:00+00:00", "2024-12-30T16:00:00+00:00")]
    for earlier in (AS_OF, "2024-12-30T23:59:59+08:00"):
        result = runner.invoke(app, ["badge", "evaluate", "--as-of", earlier])
        assert result.exit_code == 2
        assert result.stderr.strip() == (
            "error: as_of_before_badge_change [--as-of]: as_of "
            f"{format_instant(parse_instant(earlier))} is before M-yiwu's latest badge change"
            " at 2024-12-30T16:00:00Z: the badge's history only goes forward"
        )
    assert badge_rows(rt) == after_withdrawal
    # As of the change itself, or later, it evaluates as before.
    again = as_json("badge", "evaluate", "--as-of", "2024-12-31T00:00:00+08:00")
    assert (again["awarded"], again["withdrawn"]) == ([], [])
    with rt.reading(OPERATOR) as ctx:
        kinds = [
            row.kind
            for row in ctx.connection.execute(
                select(decisions.c.kind).where(decisions.c.kind.like("arrival_badge_%"))
            )
        ]
    assert sorted(kinds) == [badges.AWARDED, badges.WITHDRAWN]


def signed_order(rt: Runtime, order_id: str) -> None:
    """An order of B-shop's (10 cups, 360.00), paid, shipped and signed for."""
    with rt.writing(MARKETPLACE) as ctx:
        lines = (orders.OrderLine("P-cups", 10),)
        placed = orders.place_order(
            ctx, orders.PlaceOrder("B-shop", lines, parse_yuan("0.00"), order_id=order_id)
        )
        orders.pay_order(ctx, order_id, placed.total_fen)
        orders.ship_order(ctx, order_id, "SF", f"SF-{order_id}", True)
        orders.sign_order(ctx, order_id)


def test_scheduler_once_reports_its_pass_and_timers_retry_the_timer_rearmed(
    cli: tuple[Runtime, SimulatedClock],
) -> None:
    rt, clock = cli
    as_json("demo", "load")
    signed_order(rt, "O-1")
    with rt.writing(OPERATOR) as ctx:
        schedule_timer(ctx, "test.unknown_kind", "S1", ctx.now())  # no handler: it fails
    clock.advance(timedelta(days=11))  # auto-confirmation was due 10 days after signing

    ran = as_json("scheduler", "run", "--once", "--max-attempts", "1", logs=True)
    dead_letter = ran["timers"][0].pop("outcome")
    assert dead_letter.startswith("dead-lettered after 1 attempts: LookupError")
    assert ran == {
        "started_at": "2025-01-12T02:00:00Z",
        "timers": [
            {
                "id": "test.unknown_kind:S1",
                "kind": "test.unknown_kind",
                "subject_id": "S1",
                "due_at": "2025-01-01T02:00:00Z",
                "failed": True,
                "armed": [],
            },
            {
                "id": "order.auto_confirm:O-1",
                "kind": "order.auto_confirm",
                "subject_id": "O-1",
                "due_at": "2025-01-11T02:00:00Z",  # signed + 10 days
                "outcome": "confirmed",
                "failed": False,
                # the return window closed with it: completion falls due at once, and the
                # same pass fires it
                "armed": [{"id": "order.complete:O-1", "available_at": "2025-01-11T02:00:00Z"}],
            },
            {
                "id": "order.complete:O-1",
                "kind": "order.complete",
                "subject_id": "O-1",
                "due_at": "2025-01-11T02:00:00Z",
                "outcome": "completed",
                "failed": False,
                "armed": [],
            },
        ],
        "fired": 2,
        "failed": 1,
        "by_kind": {
            "order.auto_confirm": {"fired": 1, "failed": 0},
            "order.complete": {"fired": 1, "failed": 0},
            "test.unknown_kind": {"fired": 0, "failed": 1},
        },
        "webhooks": [],  # no endpoint registered
    }
    # What the timers' rows and the order say happened.
    listed = {timer["id"]: timer for timer in as_json("timers", "list", "--limit", "1000")}
    assert [(t["id"], listed[t["id"]]["state"]) for t in ran["timers"]] == [
        ("test.unknown_kind:S1", "failed"),
        ("order.auto_confirm:O-1", "fired"),
        ("order.complete:O-1", "fired"),
    ]
    with rt.reading(OPERATOR) as ctx:
        state = ctx.connection.execute(
            select(order_rows.c.state).where(order_rows.c.id == "O-1")
        ).scalar_one()
    assert state == "completed"

    rearmed = as_json("timers", "retry", "test.unknown_kind:S1")
    assert rearmed["id"] == "test.unknown_kind:S1" and rearmed["state"] == "pending"
    assert (rearmed["attempts"], rearmed["last_error"]) == (0, None)
    assert rearmed["available_at"] == "2025-01-12T02:00:00Z"  # now: the next pass fires it
    assert {t["id"]: t for t in as_json("timers", "list")}["test.unknown_kind:S1"] == rearmed
    second = as_json("scheduler", "run", "--once", logs=True)  # 8 attempts now: backed off
    assert [(t["id"], t["failed"]) for t in second["timers"]] == [("test.unknown_kind:S1", True)]
    assert second["timers"][0]["outcome"].startswith("attempt 1 failed")
    assert (second["fired"], second["failed"], second["by_kind"]) == (
        0,
        1,
        {"test.unknown_kind": {"fired": 0, "failed": 1}},
    )

    # A running scheduler is a process, not a report: --json is for --once.
    assert refused(["scheduler", "run", "--json"], "json_needs_once") == ""
    assert refused(["timers", "retry", "test.unknown_kind:S9", "--json"], "timer_not_failed") == ""


@pytest.fixture
def server(cli: tuple[Runtime, SimulatedClock]) -> Iterator[tuple[str, str]]:
    """The API on the test database, served over HTTP from a thread, with the demo loaded:
    (its URL, a marketplace token)."""
    from buyerguard.demo import ensure_demo_catalog

    rt, _ = cli
    with rt.writing(OPERATOR) as ctx:
        ensure_demo_catalog(ctx)
        token = create_token(ctx, Role.MARKETPLACE, None).secret
    port = free_port()
    config = uvicorn.Config(
        create_app(rt), host="127.0.0.1", port=port, log_config=None, access_log=False
    )
    served = uvicorn.Server(config)
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    try:
        for _ in range(400):  # up in well under a second; 20 s for a loaded machine
            if served.started:
                break
            time.sleep(0.05)
        assert served.started, "the API did not come up"
        yield f"http://127.0.0.1:{port}", token
    finally:
        served.should_exit = True
        thread.join(timeout=30)


def fact(kind: str, key: str, body: dict[str, Any], order_id: str | None = None) -> str:
    envelope: dict[str, Any] = {"kind": kind, "idempotency_key": key, "body": body}
    if order_id is not None:
        envelope["order_id"] = order_id
    return json.dumps(envelope)


CUPS = [{"product_id": "P-cups", "quantity": 1}]  # 36.00


def test_facts_load_counts_every_outcome_and_lists_every_refused_line(
    cli: tuple[Runtime, SimulatedClock],
    server: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rt, _ = cli
    url, token = server
    facts = tmp_path / "facts.ndjson"
    facts.write_text(
        "\n".join(
            [
                fact("order", "place-F1", {"id": "F1", "buyer_id": "B-shop", "lines": CUPS}),
                fact("payment", "pay-F1", {"amount": "36.00"}, "F1"),
                "not json",
                fact("order", "place-F2", {"id": "F2", "buyer_id": "B-nobody", "lines": CUPS}),
                fact("payment", "pay-F2", {"amount": "36.00"}, "F2"),
                "",  # a blank line is no fact
                fact("order", "place-F3", {"id": "F3", "buyer_id": "B-chain", "lines": CUPS}),
            ]
        )
        + "\n"
    )
    monkeypatch.delenv("BUYERGUARD_TOKEN", raising=False)
    assert refused(["facts", "load", str(facts), "--url", url, "--json"], "token_missing") == ""
    load = ["facts", "load", str(facts), "--url", url, "--token", token, "--batch-size", "2"]
    result = runner.invoke(app, [*load, "--json"])
    assert result.exit_code == 2, result.output
    # The server runs in this process: its JSON log lines land in the captured stderr too.
    assert [line for line in result.stderr.splitlines() if not line.startswith("{")] == [
        "error: facts_refused [file]: 3 of 6 fact(s) refused or skipped (listed in refused_lines)"
    ]
    loaded = json.loads(result.stdout)
    lines = loaded.pop("refused_lines")
    assert loaded == {
        "file": str(facts),
        "lines": 6,
        "sent": 5,  # the malformed line never left
        "applied": 3,
        "replayed": 0,
        "skipped": 1,
        "refused": 2,
    }
    assert [(line["line"], line["code"]) for line in lines] == [
        (3, "line_malformed"),
        (4, "buyer_not_found"),
        (5, "skipped_after_refusal"),
    ]
    assert all(line["message"] for line in lines)
    with rt.reading(OPERATOR) as ctx:
        placed = ctx.connection.execute(
            select(order_rows.c.id, order_rows.c.state).order_by(order_rows.c.id)
        ).all()
    assert [tuple(row) for row in placed] == [("F1", "paid"), ("F3", "placed")]

    good = tmp_path / "good.ndjson"
    good.write_text("\n".join(facts.read_text().splitlines()[:2]) + "\n")
    replayed = as_json("facts", "load", str(good), "--url", url, "--token", token, logs=True)
    assert replayed == {
        "file": str(good),
        "lines": 2,
        "sent": 2,
        "applied": 0,
        "replayed": 2,
        "skipped": 0,
        "refused": 0,
        "refused_lines": [],
    }
    with rt.reading(OPERATOR) as ctx:
        assert ctx.connection.execute(select(func.count()).select_from(order_rows)).scalar() == 2


def test_on_a_terminal_the_bars_go_to_stderr_and_stdout_is_the_json_alone(
    tmp_path: Path,
) -> None:
    """A real process with stderr on a pseudo-terminal: the bars are drawn there, and
    stdout (a pipe) holds exactly the JSON document."""
    bin_dir = Path(sys.executable).parent
    decided = {"FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS"}
    env = {key: value for key, value in os.environ.items() if key not in decided}
    env.update(
        {
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "TERM": "xterm-256color",
            "BUYERGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
            "BUYERGUARD_DATA_DIR": str(tmp_path / "data"),
        }
    )
    subprocess.run(["buyerguard", "db", "upgrade"], env=env, check=True, capture_output=True)
    stdout, terminal = on_terminal(["shipments", "import", str(DELIVERIES), "--json"], env)
    assert json.loads(stdout)["new"] == 125
    assert "validating deliveries.csv" in terminal and "━" in terminal
    stdout, terminal = on_terminal(["eta", "build", "--as-of", AS_OF, "--json"], env)
    assert json.loads(stdout)["routes"] == 6
    assert "building the promise table" in terminal


def test_an_empty_instant_option_is_refused_not_read_as_now(
    cli: tuple[Runtime, SimulatedClock],
) -> None:
    """`--as-of "$AS_OF"` with the variable unset: `eta build` published a table as of now,
    `badge evaluate` recorded the badge as of now (so every evaluation before now was then
    refused, the history only going forward), `rulebook show` showed today's rulebook and
    `token create --expires ""` issued a token that never expires. An empty instant is
    malformed like any other (`trial-balance --date ""` likewise); leaving the option out
    still means now (or never)."""
    rt, _ = cli
    as_json("demo", "load")
    as_json("shipments", "import", str(DELIVERIES))
    with rt.reading(OPERATOR) as ctx:
        tokens = ctx.connection.execute(select(func.count()).select_from(api_tokens)).scalar()
    for args, option in (
        (["eta", "build", "--as-of", ""], "--as-of"),
        (["eta", "update", "--as-of", ""], "--as-of"),
        (["badge", "evaluate", "--as-of", ""], "--as-of"),
        (["rulebook", "show", "--at", ""], "--at"),
        (["token", "create", "--role", "operator", "--expires", ""], "--expires"),
    ):
        assert refused(args, f"instant_malformed [{option}]") == ""
    assert refused(["ledger", "trial-balance", "--date", ""], "date_malformed [--date]") == ""
    assert badge_rows(rt) == []
    assert not rt.history.promises_dir.exists() or not any(rt.history.promises_dir.iterdir())
    with rt.reading(OPERATOR) as ctx:
        assert ctx.connection.execute(select(func.count()).select_from(api_tokens)).scalar() == (
            tokens
        )
    assert as_json("badge", "evaluate", "--as-of", AS_OF)["awarded"] == ["M-yiwu"]
