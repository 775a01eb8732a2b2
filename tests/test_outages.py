"""What a client and an operator see when the server or its database fails: an answer in
the error shape with the request's id (never the server's bare text), `503` with
`Retry-After` while the database is away, health probes that answer HEAD, and a metrics
scrape that still carries the counts."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from buyerguard.api.app import create_app
from buyerguard.bootstrap import Runtime
from buyerguard.clock import SimulatedClock
from buyerguard.rulebook import rulebooks
from buyerguard.services.context import OPERATOR, Role
from buyerguard.services.tokens import create_token
from buyerguard.store.db import make_engine
from buyerguard.store.shipment_history import ShipmentHistory


def test_a_fault_of_ours_is_answered_in_the_error_shape_with_its_request_id(rt: Runtime) -> None:
    """A 500 was Starlette's bare `Internal Server Error`, without the X-Request-Id every
    answer carries (and logged twice, once without it): the one answer an operator most
    needs to find in the logs. It is the error shape now, the id in header and body."""
    with rt.writing(OPERATOR) as ctx:
        token = create_token(ctx, Role.OPERATOR, None).secret
    app = create_app(rt)

    @app.get("/v1/fault-for-the-test")
    def fault() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get(
            "/v1/fault-for-the-test",
            headers={"Authorization": f"Bearer {token}", "X-Request-Id": "trace-42"},
        )
    assert answer.status_code == 500
    assert answer.headers["X-Request-Id"] == "trace-42"
    body = answer.json()
    assert (body["code"], body["field"], body["request_id"]) == ("internal_error", None, "trace-42")
    assert body["errors"] == [{k: body[k] for k in ("code", "message", "field")}]


@pytest.fixture(params=["sqlite", "postgres"])
def unreachable_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database that cannot be reached: a SQLite file under a regular file, a PostgreSQL
    port nothing listens on."""
    if request.param == "sqlite":
        blocker = tmp_path / "not-a-directory"
        blocker.write_text("")
        return f"sqlite:///{blocker / 'db.sqlite3'}"
    request.getfixturevalue("postgres_url")  # skipped without PostgreSQL, like its peers
    return "postgresql://postgres@127.0.0.1:1/buyerguard_unreachable"


def test_while_the_database_is_away_requests_answer_503_and_probes_say_so(
    unreachable_url: str, clock: SimulatedClock, tmp_path: Path
) -> None:
    """With PostgreSQL down every API request was a bare 500 while `/readyz` said 503; a
    scrape of `/metrics` was a 500 too, losing every counter during the outage."""
    engine = make_engine(unreachable_url)
    rt = Runtime(engine, clock, rulebooks(), ShipmentHistory(tmp_path / "data"))
    with TestClient(create_app(rt), raise_server_exceptions=False) as client:
        answer = client.get("/v1/orders", headers={"Authorization": "Bearer bg_anything"})
        assert answer.status_code == 503, answer.text
        assert answer.json()["code"] == "database_unavailable"
        assert answer.headers["Retry-After"] == "1" and answer.headers["X-Request-Id"]
        assert client.get("/readyz").status_code == 503
        assert client.head("/readyz").status_code == 503
        assert client.head("/healthz").status_code == 200  # alive: the process answers
        scraped = client.get("/metrics")
        assert scraped.status_code == 200
        assert "buyerguard_database_up 0.0" in scraped.text
        assert "buyerguard_timers_due" not in scraped.text
    engine.dispose()


def test_health_probes_answer_head_and_metrics_say_the_database_is_up(rt: Runtime) -> None:
    """`HEAD /healthz` and `HEAD /readyz` were 405 (`curl -I`, `wget --spider` read the
    service as down)."""
    with TestClient(create_app(rt)) as client:
        for path in ("/healthz", "/readyz"):
            answer = client.head(path)
            assert answer.status_code == 200 and answer.text == "", path
        scraped = client.get("/metrics").text
        assert "buyerguard_database_up 1.0" in scraped and "buyerguard_timers_due" in scraped
