"""`buyerguard db upgrade` refuses in one line what it cannot do (README: "The command
line"): a database made by a newer release, a database it cannot open or create, and a
PostgreSQL server or database that does not answer; two upgrades at once do not collide."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from buyerguard.cli import app
from buyerguard.store.db import make_engine, normalise_url
from tests.test_cli import refused

runner = CliRunner()


def test_a_database_from_a_newer_release_is_refused_by_every_command(
    blank_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUYERGUARD_DATABASE_URL", blank_database_url)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    engine = make_engine(blank_database_url)
    with engine.begin() as connection:  # as a later release's migration would leave it
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    for args in (["db", "upgrade"], ["ledger", "check"]):
        refused(args, "database_newer [database]", "newer buyerguard")


def test_a_sqlite_file_that_cannot_be_created_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The tests run as root, where chmod 0444/0555 does not stop a write: a regular file
    # as the parent directory stops it for every user.
    (tmp_path / "file.txt").write_text("not a directory")
    url = f"sqlite:///{tmp_path / 'file.txt' / 'db.sqlite3'}"
    monkeypatch.setenv("BUYERGUARD_DATABASE_URL", url)
    refused(["db", "upgrade"], "database_unreachable [database]", "file.txt")


def test_a_sqlite_path_that_is_a_directory_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "db.sqlite3").mkdir()
    monkeypatch.setenv("BUYERGUARD_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    refused(["db", "upgrade"], "database_unreachable [database]")


def test_a_postgres_database_that_does_not_exist_is_one_line(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = make_url(normalise_url(postgres_url)).set(database="buyerguard_h7_no_such_db")
    monkeypatch.setenv("BUYERGUARD_DATABASE_URL", missing.render_as_string(hide_password=False))
    refused(["db", "upgrade"], "database_unreachable [database]")


def test_a_postgres_server_that_does_not_answer_is_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BUYERGUARD_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/nowhere")
    refused(["db", "upgrade"], "database_unreachable [database]")


def test_two_upgrades_at_once_on_a_new_postgres_database_both_succeed(
    postgres_url: str,
) -> None:
    base = make_url(normalise_url(postgres_url))
    fresh = base.set(database=f"{base.database}_race")
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{fresh.database}"'))
        connection.execute(text(f'CREATE DATABASE "{fresh.database}"'))
    url = fresh.render_as_string(hide_password=False)
    # Two processes, as two deployments would run it (Alembic's `context` is one per process).
    upgrade_once = (
        "import sys; from buyerguard.store.migrate import upgrade_url; upgrade_url(sys.argv[1])"
    )
    try:
        upgrades = [
            subprocess.Popen([sys.executable, "-c", upgrade_once, url], stderr=subprocess.PIPE)
            for _ in range(2)
        ]
        codes = [each.wait(timeout=120) for each in upgrades]
        said = [each.stderr.read() if each.stderr else b"" for each in upgrades]
        assert codes == [0, 0], said
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{fresh.database}" WITH (FORCE)'))
        admin.dispose()
