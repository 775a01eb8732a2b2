"""Bad input the command line itself refuses, before any command runs: a value of the wrong
type or out of its range, a choice not offered, an option given without its value, a
required option or argument left out, an unknown option, an unknown command. It is
reported like the project's own refusals (`cli_common.refusals_exit_2`): exit 2, one line on
stderr naming what was wrong (`error: option_invalid [--limit]: …`), nothing on stdout,
nothing changed.

The cases are derived from the command tree, so a command or option added later is
covered without a word here: every group is asked for a command it does not have and given
an option it does not know; every command is given an option it does not know and run
without its required parameters (or, having none, given an argument it does not take);
every number is given a word and a value past each of its bounds, every choice a value not
offered, and every option that takes a value is given none.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
import typing
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from types import NoneType, UnionType
from typing import Annotated, Any

import pytest
import typer
from typer.testing import CliRunner

from buyerguard.cli import app
from buyerguard.cli_common import refusals_exit_2
from buyerguard.errors import InvalidInput

runner = CliRunner()
BOX = set("╭╮╰╯│─┌┐└┘")


def commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every group and command under `command`, with the words that reach it."""
    yield path, command
    if hasattr(command, "list_commands"):
        context = typer.Context(command)
        for name in command.list_commands(context):
            yield from commands(command.get_command(context, name), (*path, name))


def declared(command: Any) -> dict[str, tuple[Any, Any]]:
    """Each parameter's type (None taken out of an optional one) and its typer.Option or
    typer.Argument, read from the function the command runs."""
    hints = typing.get_type_hints(inspect.unwrap(command.callback), include_extras=True)
    found: dict[str, tuple[Any, Any]] = {}
    for name, hint in hints.items():
        info = None
        if typing.get_origin(hint) is Annotated:
            hint, *extras = typing.get_args(hint)
            info = next((extra for extra in extras if hasattr(extra, "min")), None)
        if isinstance(hint, UnionType) or typing.get_origin(hint) is typing.Union:
            members = [member for member in typing.get_args(hint) if member is not NoneType]
            hint = members[0] if len(members) == 1 else hint
        found[name] = (hint, info)
    return found


def named(param: Any) -> str:
    """How a parameter is named on the command line: an option by its long name."""
    if param.param_type_name == "option":
        return str(next((opt for opt in param.opts if opt.startswith("--")), param.opts[0]))
    return str(param.name)


def cases() -> Iterator[Any]:
    for path, command in commands(typer.main.get_command(app)):
        where = " ".join(path) or "buyerguard"
        if hasattr(command, "list_commands"):
            yield pytest.param(path, ["no-such-command"], "no-such-command", id=f"{where} nope")
            yield pytest.param(path, ["--no-such-option"], "--no-such-option", id=f"{where} --x")
            continue
        yield pytest.param(path, ["--no-such-option"], "--no-such-option", id=f"{where} --x")
        required = [param for param in command.params if param.required]
        if required:
            yield pytest.param(path, [], named(required[0]), id=f"{where} (missing)")
        else:
            yield pytest.param(path, ["extra-word"], "extra-word", id=f"{where} extra-word")
        types = declared(command)
        first_argument = next((p for p in command.params if p.param_type_name == "argument"), None)
        for param in command.params:
            if param.param_type_name == "argument" and param is not first_argument:
                continue  # only the first argument can be given on its own
            name = named(param)
            given = [name] if param.param_type_name == "option" else []
            hint, info = types[param.name]
            if hint is bool:
                continue
            if param.param_type_name == "option":
                yield pytest.param(path, given, name, id=f"{where} {name} (no value)")
            if hint in (int, float):
                yield pytest.param(path, [*given, "abc"], name, id=f"{where} {name} abc")
            for bound, past in ((getattr(info, "min", None), -1), (getattr(info, "max", None), 1)):
                if bound is not None:
                    value = str(bound + past)
                    yield pytest.param(path, [*given, value], name, id=f"{where} {name} {value}")
            if isinstance(hint, type) and issubclass(hint, Enum):
                yield pytest.param(path, [*given, "nope"], name, id=f"{where} {name} nope")


@pytest.fixture
def untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A database, data directory and demo-token file that do not exist, and must not
    after a refused command line."""
    monkeypatch.setenv("BUYERGUARD_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    monkeypatch.setenv("BUYERGUARD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BUYERGUARD_DEMO_TOKENS", str(tmp_path / "tokens.json"))
    yield tmp_path
    assert list(tmp_path.iterdir()) == []


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    line = lines[0]
    assert line.startswith("error: "), line
    assert not BOX & set(line) and "Traceback" not in line and "Usage:" not in line, line
    return line


@pytest.mark.parametrize(("path", "args", "offending"), list(cases()))
def test_a_bad_command_line_is_one_line_naming_what_was_wrong(
    untouched: Path, path: tuple[str, ...], args: list[str], offending: str
) -> None:
    result = runner.invoke(app, [*path, *args])
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert result.stdout == ""
    line = one_line(result.stderr)
    assert offending.lower() in line.lower(), line


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["instructions", "list", "--limit", "0"],
            "error: option_invalid [--limit]: Invalid value for '--limit': "
            "Input should be greater than or equal to 1",
        ),
        (
            ["token", "create", "--role", "nope"],
            "error: option_invalid [--role]: Invalid value for '--role': Value error, "
            "'nope' is not one of 'operator', 'marketplace', 'merchant', 'buyer'.",
        ),
        (
            ["token", "create"],
            "error: option_missing [--role]: Missing option '--role'. "
            "Choose from: operator, marketplace, merchant, buyer",
        ),
        (["token", "revoke"], "error: argument_missing [token_id]: Missing argument 'token_id'."),
        (
            ["timers", "list", "--max-attempts", "0"],
            "error: option_unknown [--max-attempts]: No such option: --max-attempts",
        ),
        (
            ["scheduler", "run", "--max-attempts"],
            "error: option_invalid [--max-attempts]: Option '--max-attempts' requires an argument.",
        ),
        (
            ["ledger", "chek"],
            "error: command_unknown [command]: no command 'chek' in 'buyerguard ledger' "
            "(known: check, trial-balance)",
        ),
    ],
)
def test_the_line_says_what_and_where(untouched: Path, args: list[str], line: str) -> None:
    result = runner.invoke(app, args, prog_name="buyerguard")
    assert result.exit_code == 2
    assert one_line(result.stderr) == line


def test_the_installed_command_prints_the_one_line(untouched: Path) -> None:
    """The `buyerguard` script itself, its stderr a pipe."""
    bin_dir = Path(sys.executable).parent
    done = subprocess.run(
        [str(bin_dir / "buyerguard"), "instructions", "list", "--limit", "abc"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert one_line(done.stderr).startswith("error: option_invalid [--limit]: ")


def test_help_and_version_are_unchanged(untouched: Path) -> None:
    for args in (["--help"], ["ledger", "--help"], ["token", "create", "--help"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0 and "Usage:" in result.stdout and result.stderr == ""
    # A group run without a command shows its help, as it did (exit 2, help on stdout).
    for args in ([], ["ledger"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and "Usage:" in result.stdout and "error:" not in result.stderr
    version = runner.invoke(app, ["--version"])
    assert version.exit_code == 0 and version.stdout.startswith("buyerguard ")


def test_other_outcomes_keep_their_exit_codes() -> None:
    """Success, a refusal, an explicit exit code and Ctrl-C go through unchanged."""
    from buyerguard.cli_common import OneLineUsageErrors

    probe = typer.Typer(cls=OneLineUsageErrors)

    @probe.command()
    def run(outcome: str) -> None:
        @refusals_exit_2
        def body() -> None:
            if outcome == "refused":
                raise InvalidInput("probe_refused", "refused on purpose", "outcome")
            if outcome == "exit-1":
                raise typer.Exit(1)
            if outcome == "interrupted":
                raise KeyboardInterrupt
            print("done")

        body()

    @probe.command()
    def other() -> None:
        """Makes `probe` a group, as `buyerguard` is."""

    assert runner.invoke(probe, ["run", "ok"]).stdout == "done\n"
    refused = runner.invoke(probe, ["run", "refused"])
    assert refused.exit_code == 2
    assert refused.stderr == "error: probe_refused [outcome]: refused on purpose\n"
    assert runner.invoke(probe, ["run", "exit-1"]).exit_code == 1
    assert runner.invoke(probe, ["run", "interrupted"]).exit_code == 130


@pytest.mark.parametrize("interval", ["-1", "nan", "inf", "1e400", "0"])
def test_a_scheduler_interval_that_is_no_pause_is_refused(untouched: Path, interval: str) -> None:
    """`scheduler run --interval` is the pause between ticks: a negative one, 0 or NaN
    ticked without pausing (a loop hammering the database), and inf crashed with a
    traceback (exit 1, OverflowError) after its first tick."""
    result = runner.invoke(app, ["scheduler", "run", "--interval", interval])
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert one_line(result.stderr).startswith("error: option_invalid [--interval]: ")
