"""Running the engine: request ids on every log line and error, readiness, settings.

Logs are captured as the server writes them (JSON lines through the real
handler, `buyerguard.logs.configure_logging`); readiness is asked of real
databases: migrated, empty, and a PostgreSQL port nobody listens on.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from buyerguard.api.app import create_app
from buyerguard.bootstrap import build_runtime
from buyerguard.cli import app as cli
from buyerguard.clock import SimulatedClock
from buyerguard.logs import configure_logging
from buyerguard.settings import Settings, settings
from buyerguard.store.migrate import upgrade
from tests.conftest import Api
from tests.test_api import assert_refused


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Every log line the app writes while the test runs, as the server would write it."""
    buffer = io.StringIO()
    configure_logging("debug", "json", stream=buffer)
    client_side = logging.getLogger("httpx2")  # the test's HTTP client, not the server
    level = client_side.level
    client_side.setLevel(logging.WARNING)
    yield buffer
    client_side.setLevel(level)
    logging.getLogger().handlers = []


def parsed(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_every_log_line_of_a_request_carries_its_request_id(
    api: Api, log_lines: io.StringIO
) -> None:
    body = {
        "id": "O-logs",
        "buyer_id": "B-shop",
        "lines": [{"product_id": "P-cups", "quantity": 10}],
    }
    sent = api.client.post(
        "/v1/orders",
        json=body,
        headers={**api.headers("marketplace", "key-logs"), "X-Request-Id": "mkt-4711"},
    )
    assert sent.status_code == 201 and sent.headers["X-Request-Id"] == "mkt-4711"
    refused = api.post("marketplace", "/v1/orders/O-logs/payment", {"amount": "1.00"})
    listed = api.get("operator", "/v1/orders/O-logs")
    unusable = api.client.get("/healthz", headers={"X-Request-Id": "no spaces allowed"})
    ids = [response.headers["X-Request-Id"] for response in (sent, refused, listed, unusable)]
    assert len(set(ids)) == 4 and ids[3].startswith("req_") and " " not in ids[3]

    lines = parsed(log_lines)
    assert lines, "the requests wrote no log lines"
    assert all(line.get("request_id") in ids for line in lines), lines
    by_id: dict[str, list[str]] = {}
    for line in lines:
        by_id.setdefault(line["request_id"], []).append(line["event"])
    assert by_id["mkt-4711"] == ["command", "request"]  # the command, then the access line
    assert by_id[ids[1]] == ["refused", "request"]
    access = [line for line in lines if line["event"] == "request"]
    assert [line["status"] for line in access] == [201, 422, 200, 200]
    assert all(line["level"] == "info" and line["duration_ms"] >= 0 for line in access)
    refusal = next(line for line in lines if line["event"] == "refused")
    assert (refusal["code"], refusal["field"], refusal["status"]) == (
        "amount_mismatch",
        "amount",
        422,
    )


def test_error_bodies_name_the_request(api: Api) -> None:
    answer = api.client.get("/v1/orders/O-none", headers=api.headers("operator"))
    assert_refused(answer, 404, "order_not_found")
    assert answer.json()["request_id"] == answer.headers["X-Request-Id"]
    unauthenticated = api.client.get("/v1/orders/O-none")
    assert_refused(unauthenticated, 401, "token_missing")
    malformed = api.client.post(
        "/v1/orders", content=b"{not json", headers=api.headers("marketplace")
    )
    assert malformed.status_code == 422
    assert malformed.json()["request_id"] == malformed.headers["X-Request-Id"]


def test_readyz_checks_the_database_and_its_schema(api: Api, tmp_path: Path) -> None:
    ready = api.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"

    empty = build_runtime(f"sqlite:///{tmp_path / 'empty.sqlite3'}", SimulatedClock(_now()))
    with TestClient(create_app(empty)) as client:
        answer = client.get("/readyz")
    assert_refused(answer, 503, "database_not_migrated", "database")
    assert answer.headers["Retry-After"]

    nobody = build_runtime("postgresql://postgres@127.0.0.1:1/none", SimulatedClock(_now()))
    with TestClient(create_app(nobody)) as client:
        answer = client.get("/readyz")
        assert_refused(answer, 503, "database_unreachable", "database")
        assert client.get("/healthz").status_code == 200  # alive, not ready

    newer_file = tmp_path / "newer.sqlite3"
    newer = build_runtime(f"sqlite:///{newer_file}", SimulatedClock(_now()))
    upgrade(newer.engine)
    with newer.engine.begin() as connection:  # as a later release's migration would leave it
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with TestClient(create_app(newer)) as client:
        answer = client.get("/readyz")  # not "run `buyerguard db upgrade`": it cannot help
    assert_refused(answer, 503, "database_newer", "database")


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime(2024, 11, 1, tzinfo=UTC)


def test_settings_are_read_in_one_place(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BUYERGUARD_PORT", "9123")
    monkeypatch.setenv("BUYERGUARD_WORKERS", "3")
    monkeypatch.setenv("BUYERGUARD_LOG_LEVEL", "warning")
    monkeypatch.setenv("BUYERGUARD_DATA_DIR", str(tmp_path / "data"))
    configured = settings()
    assert (configured.port, configured.effective_workers, configured.log_level) == (
        9123,
        3,
        "warning",
    )
    assert configured.data_dir == tmp_path / "data"


def test_an_empty_path_setting_means_its_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """As an empty BUYERGUARD_DATABASE_URL already did: an empty BUYERGUARD_DATA_DIR was the
    current directory (an import wrote there), and the other two were refused without
    naming the variable."""
    for variable in ("DATABASE_URL", "DATA_DIR", "RULEBOOKS_DIR", "DEMO_TOKENS"):
        monkeypatch.setenv(f"BUYERGUARD_{variable}", "")
    configured = settings()
    defaults = Settings.model_fields
    assert configured.data_dir == defaults["data_dir"].default == Path("var") / "data"
    assert configured.rulebooks_dir is None
    assert configured.demo_tokens == defaults["demo_tokens"].default
    assert configured.database_url is None


@pytest.mark.parametrize(
    ("variable", "value", "read"),
    [
        ("BUYERGUARD_LOG_LEVEL", "WARNING", "warning"),
        ("BUYERGUARD_LOG_LEVEL", "Error", "error"),
        ("BUYERGUARD_LOG_FORMAT", "JSON", "json"),
    ],
)
def test_a_word_setting_is_read_whatever_its_case(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, read: str
) -> None:
    """`BUYERGUARD_LOG_LEVEL=INFO`, the spelling of most tools' levels, was refused."""
    monkeypatch.setenv(variable, value)
    assert getattr(Settings(), variable.removeprefix("BUYERGUARD_").lower()) == read


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BUYERGUARD_PORT", "eighty"),
        ("BUYERGUARD_PORT", "70000"),
        ("BUYERGUARD_LOG_LEVEL", "loud"),
        # These two once ended in a traceback and exit 1 from deep in the first command.
        ("BUYERGUARD_DATABASE_URL", "var/buyerguard.sqlite3"),
        ("BUYERGUARD_DATABASE_URL", "mysql://shop:s3cret@db.example/orders"),
        ("BUYERGUARD_DATA_DIR", __file__),  # a file where the shipment history would go
        ("BUYERGUARD_DEMO_TOKENS", str(Path(__file__).parent)),
    ],
)
def test_a_malformed_setting_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str
) -> None:
    monkeypatch.setenv("BUYERGUARD_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    monkeypatch.setenv(variable, value)
    result = CliRunner().invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: setting_invalid"), result.stderr
    assert variable in lines[0]
    assert "s3cret" not in result.stderr  # a password never reaches the terminal or a log
    assert not (tmp_path / "cli.sqlite3").exists()  # nothing was written
