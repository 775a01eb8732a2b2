"""What the `buyerguard` command prints for people, and what it leaves for scripts.

Progress bars go to stderr and only when it is a terminal, so stdout stays the command's
own lines (or one JSON document) even while a bar is drawn; counts and amounts are grouped
in thousands; an instant or a count is printed in one piece, never coloured digit group by
digit group (Rich's highlighter is off). Each command runs as a real process, with a
pseudo-terminal where the test says, on a real SQLite database and shipment history.
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from buyerguard.cli import app

ROOT = Path(__file__).resolve().parents[1]
SHANGHAI = timezone(timedelta(hours=8))
AS_OF = "2024-10-21T00:00:00+08:00"
PARCELS = 1_200  # enough for the thousands separator in every count printed
COLUMNS = (
    "order_id",
    "merchant_id",
    "product_id",
    "industry",
    "carrier",
    "origin_region",
    "destination_region",
    "paid_at",
    "shipped_at",
    "signed_at",
)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A migrated SQLite database and an empty shipment history, the test's own; no variable
    that would make Rich decide for itself whether it writes to a terminal."""
    bin_dir = Path(sys.executable).parent
    decided = {"FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS"}
    environment = {key: value for key, value in os.environ.items() if key not in decided}
    environment.update(
        {
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "TERM": "xterm-256color",
            "BUYERGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
            "BUYERGUARD_DATA_DIR": str(tmp_path / "data"),
        }
    )
    subprocess.run(
        ["buyerguard", "db", "upgrade"], env=environment, check=True, capture_output=True
    )
    return environment


def deliveries(path: Path, count: int) -> Path:
    """`count` parcels of cups from Yiwu to Nanshan over the 30 days before AS_OF, each
    signed the day after it was paid."""
    first = datetime(2024, 9, 20, 9, 0, tzinfo=SHANGHAI)
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        for number in range(count):
            paid = first + timedelta(minutes=number * 30 * 24 * 60 // count)
            shipped, signed = paid + timedelta(hours=3), paid + timedelta(days=1)
            route = ("M-yiwu", "P-cups", "daily_goods", "SF", "330782", "440305")
            times = (paid.isoformat(), shipped.isoformat(), signed.isoformat())
            writer.writerow((f"O-{number}", *route, *times))
    return path


def on_terminal(
    args: list[str], env: dict[str, str], *, stdout_too: bool = False
) -> tuple[str, str]:
    """Run `buyerguard ARGS` with stderr (and, if asked, stdout) on a 120-column
    pseudo-terminal: (what went to the stdout pipe, what the terminal received)."""
    terminal, attached = pty.openpty()
    fcntl.ioctl(attached, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    received: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                chunk = os.read(terminal, 4096)
            except OSError:  # EIO: every process holding the terminal has closed it
                return
            if not chunk:
                return
            received.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    process = subprocess.Popen(
        ["buyerguard", *args],
        env=env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=attached if stdout_too else subprocess.PIPE,
        stderr=attached,
    )
    os.close(attached)
    stdout, _ = process.communicate(timeout=120)
    reader.join(timeout=30)
    os.close(terminal)
    assert process.returncode == 0, b"".join(received).decode(errors="replace")
    return (stdout or b"").decode(), b"".join(received).decode(errors="replace")


def test_import_and_build_draw_bars_on_a_terminal_and_leave_stdout_their_one_line(
    env: dict[str, str], tmp_path: Path
) -> None:
    history = deliveries(tmp_path / "deliveries.csv", PARCELS)
    stdout, terminal = on_terminal(["shipments", "import", str(history)], env)
    assert stdout == f"imported {history}: 1,200 new parcel(s), 0 updated, 0 unchanged\n"
    assert "validating deliveries.csv" in terminal and "storing 1,200 row(s)" in terminal
    assert "━" in terminal  # the bars themselves

    stdout, terminal = on_terminal(["eta", "build", "--as-of", AS_OF], env)
    assert stdout == (
        "promise table as of 2024-10-20T16:00:00Z: 5 route(s), 1 merchant cut-off(s) from"
        " 1,200 shipment(s), rulebook 2024-10-15\n"
    )
    assert "building the promise table" in terminal

    # Both streams on the terminal: the line arrives whole, not one colour per digit group.
    _, terminal = on_terminal(["eta", "build", "--as-of", AS_OF], env, stdout_too=True)
    assert (
        "promise table as of 2024-10-20T16:00:00Z: 5 route(s), 1 merchant cut-off(s) from"
        " 1,200 shipment(s)" in terminal
    )


def test_piped_the_commands_print_no_bar_at_all(env: dict[str, str], tmp_path: Path) -> None:
    history = deliveries(tmp_path / "deliveries.csv", 40)
    for args in (["shipments", "import", str(history)], ["eta", "build", "--as-of", AS_OF]):
        done = subprocess.run(["buyerguard", *args], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert done.stderr == "" and len(done.stdout.splitlines()) == 1, done


def test_ledger_check_keeps_stdout_parseable_while_its_bars_run(env: dict[str, str]) -> None:
    stdout, terminal = on_terminal(["ledger", "check", "--full"], env)
    assert stdout.splitlines() == [
        "full pass: 0 entries re-derived",
        "0 accounts, 0 transfers, 0 entries; posted debits 0.00 = credits 0.00",
        "checkpoint 1 written (entries up to id 0)",
        "ledger check passed",
    ]
    assert "summing entries" in terminal and "comparing accounts" in terminal
    stdout, _ = on_terminal(["ledger", "check", "--json"], env)
    assert json.loads(stdout)["ok"] is True


def test_a_refusal_under_a_bar_is_still_the_one_line_on_stderr(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """CliRunner's streams are no terminal: the bar that was running when the file was
    refused drew nothing, and stderr holds the refusal alone."""
    for name in ("BUYERGUARD_DATABASE_URL", "BUYERGUARD_DATA_DIR"):
        monkeypatch.setenv(name, env[name])
    result = CliRunner().invoke(app, ["shipments", "import", "no-such-file.csv"])
    assert result.exit_code == 2
    assert result.stderr == "error: file_not_found [file]: no such file: no-such-file.csv\n"
