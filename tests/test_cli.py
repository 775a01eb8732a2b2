"""The `buyerguard` command: set-up, tokens, scheduler, ledger check, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from buyerguard.cli import app
from buyerguard.store.db import make_engine

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BUYERGUARD_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    monkeypatch.setenv("BUYERGUARD_DEMO_TOKENS", str(tmp_path / "tokens.json"))
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    return tmp_path


def refused(args: list[str], code: str, saying: str = "") -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {code}"), result.stderr
    assert saying in lines[0], result.stderr


def test_upgrade_and_demo_load_are_idempotent(env: Path) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    first = runner.invoke(app, ["demo", "load"])
    assert first.exit_code == 0 and "merchant M-yiwu" in first.output
    tokens = json.loads((env / "tokens.json").read_text())
    assert set(tokens) == {"operator", "marketplace", "merchant", "buyer"}
    second = runner.invoke(app, ["demo", "load"])
    assert "nothing (already there)" in second.output
    assert json.loads((env / "tokens.json").read_text()) == tokens
    assert runner.invoke(app, ["demo", "token", "buyer"]).output.strip() == tokens["buyer"]
    refused(["demo", "token", "wizard"], "argument_invalid [role]", "'operator', 'marketplace'")
    (env / "tokens.json").unlink()
    refused(["demo", "token", "buyer"], "demo_token_missing")


def test_token_create_and_revoke(env: Path) -> None:
    runner.invoke(app, ["demo", "load"])
    created = runner.invoke(app, ["token", "create", "--role", "merchant", "--party", "M-yiwu"])
    assert created.exit_code == 0 and created.stdout.startswith("bg_")
    token_id = created.stderr.split()[2]
    assert runner.invoke(app, ["token", "revoke", token_id]).exit_code == 0
    refused(["token", "revoke", token_id], "token_not_found")
    refused(["token", "create", "--role", "merchant"], "party_missing")
    refused(["token", "create", "--role", "merchant", "--party", "M-none"], "party_unknown")
    for not_issuable in ("wizard", "system"):
        refused(
            ["token", "create", "--role", not_issuable],
            "option_invalid [--role]",
            f"'{not_issuable}' is not one of 'operator'",
        )
    refused(
        ["token", "create", "--role", "operator", "--expires", "yesterday"], "instant_malformed"
    )
    refused(
        ["token", "create", "--role", "operator", "--expires", "2020-01-01T00:00:00Z"],
        "expiry_in_past",
    )


def test_scheduler_once_and_ledger_commands(env: Path) -> None:
    once = runner.invoke(app, ["scheduler", "run", "--once"])
    assert once.exit_code == 0 and "fired 0 timer(s), 0 failed" in once.output
    check = runner.invoke(app, ["ledger", "check"])
    assert check.exit_code == 0 and "ledger check passed" in check.output
    assert runner.invoke(app, ["ledger", "trial-balance", "--date", "2024-10-20"]).exit_code == 0
    refused(["ledger", "trial-balance", "--date", "2024-13-01"], "date_malformed")


def test_ledger_check_exits_non_zero_on_a_breach(env: Path) -> None:
    engine = make_engine(f"sqlite:///{env / 'cli.sqlite3'}")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO ledger_accounts VALUES ('platform:escrow', 'platform', 'escrow', "
                "1, 0, 0, 500, 0, 0, '2024-10-20 00:00:00')"
            )
        )
    engine.dispose()
    check = runner.invoke(app, ["ledger", "check"])
    assert check.exit_code == 1
    assert "BREACH" in check.output and "platform:escrow" in check.output


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (
            ["token", "create", "--role", "operator", "--expires", "0001-01-01T00:00:00+08:00"],
            "instant_out_of_range",
        ),
        (
            ["token", "create", "--role", "operator", "--expires", "9999-12-31T23:59:59-14:00"],
            "instant_out_of_range",
        ),
        (["rulebook", "show", "--at", "0001-01-01T00:00:00+08:00"], "instant_out_of_range"),
        (["rulebook", "show", "--at", "0001-01-01"], "date_out_of_range"),
        (["ledger", "trial-balance", "--date", "9999-12-31"], "date_out_of_range"),
        (["ledger", "trial-balance", "--date", "0001-01-01"], "date_out_of_range"),
        (["eta", "build", "--as-of", "0001-01-01T00:00:00+08:00"], "instant_out_of_range"),
        (["badge", "evaluate", "--as-of", "9999-12-31T23:59:59-14:00"], "instant_out_of_range"),
    ],
)
def test_instants_beyond_the_calendar_are_one_line_refusals(
    env: Path, args: list[str], code: str
) -> None:
    refused(args, code)


@pytest.mark.parametrize(
    ("args", "field", "flag"),
    [
        (["eta", "build", "--as-of", "1969-01-01T00:00:00+08:00"], "as_of", "--as-of"),
        (["eta", "update", "--as-of", "1969-01-01T00:00:00+08:00"], "as_of", "--as-of"),
        (["badge", "evaluate", "--as-of", "1969-01-01T00:00:00+08:00"], "as_of", "--as-of"),
        (["rulebook", "show", "--at", "1969-06-01"], "at", "--at"),
    ],
)
def test_before_the_first_rulebook_the_refusal_names_the_option(
    env: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], field: str, flag: str
) -> None:
    """It said `[instant]`, an option no command has; then the service's name for the
    option (`[as_of]`); now the option as typed."""
    monkeypatch.setenv("BUYERGUARD_DATA_DIR", str(env / "data"))
    refused(args, f"no_rulebook_in_force [{flag}]: {field}: no rulebook is in force at")


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["instructions", "list", "--state", "bogus"],
            "error: invalid_choice [--state]: state must be one of",
        ),
        (
            ["instructions", "list", "--kind", "bogus"],
            "error: invalid_choice [--kind]: kind must be one of",
        ),
        (["payouts", "run", "--merchant", "M-none"], "error: merchant_not_found [--merchant]: "),
        (["token", "revoke", "tok_none"], "error: token_not_found [token_id]: "),
    ],
)
def test_a_refusal_of_the_service_names_the_option_as_typed(
    env: Path, args: list[str], line: str
) -> None:
    """A refused value names the option the person typed (`--merchant`), not the
    service's field (`merchant_ids`); an argument keeps its name, as the parser says it."""
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(line) and result.stderr.count("\n") == 1, result.stderr


NEEDS_SCHEMA = [
    ["demo", "load"],
    ["token", "create", "--role", "operator"],
    ["token", "revoke", "tok_x"],
    ["scheduler", "run", "--once"],
    ["ledger", "check"],
    ["ledger", "trial-balance"],
    ["eta", "build"],
    ["badge", "evaluate"],
    ["serve", "--port", "1"],
]


@pytest.mark.parametrize("args", NEEDS_SCHEMA, ids=lambda args: " ".join(args[:2]))
def test_a_database_never_migrated_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.setenv("BUYERGUARD_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    monkeypatch.setenv("BUYERGUARD_DATA_DIR", str(tmp_path / "data"))
    refused(args, "database_not_migrated")


def test_a_refused_serve_leaves_no_metrics_directory_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`serve` points the metrics of its workers at a fresh directory; refused before they
    start, it leaves neither the directory nor the variable (which made this process's own
    /metrics read that directory instead of its counters: a later test saw no facts)."""
    import os
    import tempfile

    made = tmp_path / "tmp"
    made.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(made))
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.setenv("BUYERGUARD_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    refused(["serve", "--port", "1"], "database_not_migrated")
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    assert list(made.iterdir()) == []


def test_an_unreachable_database_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUYERGUARD_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none")
    refused(["ledger", "check"], "database_unreachable")


def test_a_database_behind_the_schema_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alembic import command

    from buyerguard.store.migrate import alembic_config

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    monkeypatch.setenv("BUYERGUARD_DATABASE_URL", url)
    command.upgrade(alembic_config(url), "0001")
    refused(["ledger", "check"], "database_not_at_head")
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["ledger", "check"]).exit_code == 0


def test_an_empty_database_is_refused_alike_on_both_backends(
    blank_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUYERGUARD_DATABASE_URL", blank_database_url)
    for args in (["ledger", "check"], ["token", "create", "--role", "operator"]):
        refused(args, "database_not_migrated")
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["ledger", "check"]).exit_code == 0


def test_timers_list_and_retry_a_dead_letter(env: Path) -> None:
    from buyerguard.bootstrap import build_runtime
    from buyerguard.services.context import OPERATOR
    from buyerguard.services.timers import schedule_timer

    rt = build_runtime()
    with rt.writing(OPERATOR) as ctx:
        schedule_timer(ctx, "test.unknown_kind", "S1", ctx.now())
    rt.engine.dispose()
    ran = runner.invoke(app, ["scheduler", "run", "--once", "--max-attempts", "1"])
    assert ran.exit_code == 0 and "fired 0 timer(s), 1 failed" in ran.output
    listed = runner.invoke(app, ["timers", "list", "--state", "failed"])
    assert listed.exit_code == 0 and "test.unknown_kind:S1" in listed.output
    assert runner.invoke(app, ["timers", "retry", "test.unknown_kind:S1"]).exit_code == 0
    pending = runner.invoke(app, ["timers", "list", "--state", "pending"])
    assert "test.unknown_kind:S1" in pending.output
    refused(["timers", "retry", "test.unknown_kind:S1"], "timer_not_failed")
    refused(["timers", "list", "--state", "zombie"], "invalid_choice")


def test_timers_list_says_when_its_limit_left_timers_out(env: Path) -> None:
    """`timers list` showed its first --limit timers (100) and said nothing of the rest, so
    an operator read 100 dead letters as all of them; it says so, as `instructions list`
    and `cases list` do."""
    from buyerguard.bootstrap import build_runtime
    from buyerguard.services.context import OPERATOR
    from buyerguard.services.timers import schedule_timer

    rt = build_runtime()
    with rt.writing(OPERATOR) as ctx:
        for subject in ("S1", "S2", "S3"):
            schedule_timer(ctx, "test.unknown_kind", subject, ctx.now())
    rt.engine.dispose()
    cut = runner.invoke(app, ["timers", "list", "--state", "pending", "--limit", "2"])
    assert cut.exit_code == 0 and "test.unknown_kind:S2" in cut.output
    assert "test.unknown_kind:S3" not in cut.output
    assert (
        "more left out (--limit is 2: raise it, or go on with --after test.unknown_kind:S2)"
        in cut.output
    )
    whole = runner.invoke(app, ["timers", "list", "--state", "pending", "--limit", "3"])
    assert "test.unknown_kind:S3" in whole.output and "more left out" not in whole.output


def test_timers_list_goes_on_after_the_last_one_shown(env: Path) -> None:
    """`timers list` read at most 10,000 timers and could not go past them: an operator with
    more pending timers than that never saw the rest. It pages (--after), as the API does,
    and reads a large --limit a page at a time."""
    from buyerguard.bootstrap import build_runtime
    from buyerguard.services.context import OPERATOR
    from buyerguard.services.timers import schedule_timer

    subjects = [f"S{number:04d}" for number in range(1_203)]
    rt = build_runtime()
    with rt.writing(OPERATOR) as ctx:
        for subject in subjects:
            schedule_timer(ctx, "test.unknown_kind", subject, ctx.now())
    rt.engine.dispose()
    ids = [f"test.unknown_kind:{subject}" for subject in subjects]
    every = runner.invoke(app, ["timers", "list", "--limit", "20000", "--json"])
    assert every.exit_code == 0, every.output
    assert [timer["id"] for timer in json.loads(every.stdout)] == ids
    seen: list[str] = []
    after: list[str] = []
    while True:
        page = runner.invoke(app, ["timers", "list", "--limit", "500", "--json", *after])
        found = [timer["id"] for timer in json.loads(page.stdout)]
        seen += found
        if len(found) < 500:
            break
        after = ["--after", found[-1]]
    assert seen == ids


def test_token_list_shows_every_token_but_never_a_secret(env: Path) -> None:
    runner.invoke(app, ["demo", "load"])
    secrets = json.loads((env / "tokens.json").read_text())
    made = runner.invoke(app, ["token", "create", "--role", "buyer", "--party", "B-shop"])
    token_id = made.stderr.split()[2]
    assert runner.invoke(app, ["token", "revoke", token_id]).exit_code == 0
    listed = runner.invoke(app, ["token", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    tokens = json.loads(listed.stdout)
    assert len(tokens) == 5
    by_id = {token["id"]: token for token in tokens}
    assert by_id[token_id]["status"] == "revoked" and by_id[token_id]["revoked_at"]
    assert sorted(token["role"] for token in tokens if token["status"] == "active") == [
        "buyer",
        "marketplace",
        "merchant",
        "operator",
    ]
    assert all("token_hash" not in token for token in tokens)
    table = runner.invoke(app, ["token", "list"])
    for secret in [*secrets.values(), made.stdout.strip()]:
        assert secret not in listed.stdout and secret not in table.stdout
    assert token_id in table.stdout and "revoked" in table.stdout


def test_version_and_no_database_created_by_a_command_that_reads_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = runner.invoke(app, ["--version"])
    assert version.exit_code == 0 and version.stdout.startswith("buyerguard ")
    monkeypatch.delenv("BUYERGUARD_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    for command in (["ledger", "check"], ["token", "list"], ["timers", "list"]):
        refused(command, "database_not_migrated")
    assert list(tmp_path.iterdir()) == []  # no ./var, no empty database file


def test_data_commands_print_json_for_scripts(env: Path) -> None:
    runner.invoke(app, ["demo", "load"])
    for command in (
        ["timers", "list", "--json"],
        ["ledger", "check", "--json"],
        ["ledger", "trial-balance", "--json", "--date", "2024-11-01"],
        ["rulebook", "show", "--json", "--at", "2024-11-01T00:00:00Z"],
        ["token", "list", "--json"],
    ):
        result = runner.invoke(app, command)
        assert result.exit_code == 0, (command, result.output)
        json.loads(result.stdout)  # one JSON document, nothing else on stdout
    check = json.loads(runner.invoke(app, ["ledger", "check", "--json"]).stdout)
    assert check["ok"] is True and check["breaches"] == []
    rulebook = json.loads(
        runner.invoke(app, ["rulebook", "show", "--json", "--at", "2024-11-01T00:00:00Z"]).stdout
    )
    assert rulebook["id"] == "2024-10-15" and rulebook["keys"]["returns.window_days"] == "7"


def test_a_scheduler_name_too_long_to_record_is_refused_before_any_timer_fires(
    blank_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`scheduler run --name` is recorded on every timer it fires (`timers.fired_by`,
    "system:" + the name, 96 characters): on PostgreSQL a longer name failed the claim of
    every timer, which backed off and was dead-lettered in the end, while SQLite fired them.
    Refused up front alike on both, exit 2; the longest name that fits fires as any."""
    from sqlalchemy import select

    from buyerguard.bootstrap import build_runtime
    from buyerguard.services.context import OPERATOR
    from buyerguard.services.timers import schedule_timer
    from buyerguard.store.tables import timers

    monkeypatch.setenv("BUYERGUARD_DATABASE_URL", blank_database_url)
    monkeypatch.setenv("BUYERGUARD_DATA_DIR", str(tmp_path / "data"))
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    rt = build_runtime()
    with rt.writing(OPERATOR) as ctx:
        schedule_timer(ctx, "test.unknown_kind", "S1", ctx.now())

    def attempts() -> tuple[int, str | None]:
        with rt.reading(OPERATOR) as ctx:
            row = ctx.connection.execute(
                select(timers.c.attempts, timers.c.last_error).where(
                    timers.c.id == "test.unknown_kind:S1"
                )
            ).one()
            return row.attempts, row.last_error

    longest = 96 - len("system:")
    for name in ("n" * (longest + 1), "   "):
        refused(["scheduler", "run", "--once", "--name", name], "scheduler_name_invalid [--name]")
    assert attempts() == (0, None)
    ran = runner.invoke(app, ["scheduler", "run", "--once", "--name", "n" * longest])
    assert ran.exit_code == 0 and "1 failed" in ran.output, ran.output
    tried, error = attempts()  # the claim went through: the kind has no handler
    assert tried == 1 and error is not None and error.startswith("LookupError"), error
    rt.engine.dispose()
