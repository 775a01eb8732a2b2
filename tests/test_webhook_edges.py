"""Webhook edges an integrator meets: URLs the dispatcher could never send, receivers
that answer something other than HTTP, redirect or trickle their answer, feed cursors
no page gave.

On SQLite and PostgreSQL, against real local receivers (tests/test_webhooks.py)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import update

from buyerguard.bootstrap import Runtime
from buyerguard.store.tables import webhook_endpoints
from buyerguard.webhook_dispatcher import WebhookDispatcher, post
from tests.conftest import Api
from tests.test_api import assert_refused, row_counts
from tests.test_webhooks import business

UNSENDABLE_URLS = [
    "http://[::1",  # an IPv6 host that does not close (it was a 500)
    "http://[not-an-ip]/hooks",
    "http://example.com:99999/hooks",  # no such port
    "http://example.com:abc/hooks",
    "http://exa mple.com/hooks",  # a space, a control character: no request line holds them
    "http://example.com/a b",
    "http://example.com/a\tb",
    "http://user:password@example.com/hooks",  # credentials: urllib reads them as a port
    "https://例子.测试/钩子",  # not ASCII: the host in its xn-- form, the path %-encoded
    "https://example.com/caf\u00e9",
]


@pytest.mark.parametrize("url", UNSENDABLE_URLS)
def test_a_url_the_dispatcher_cannot_send_is_refused_and_writes_nothing(
    api: Api, rt: Runtime, url: str
) -> None:
    counts = row_counts(rt)
    answer = api.post("operator", "/v1/webhook-endpoints", {"url": url}, key="hook-bad")
    assert_refused(answer, 422, "url_invalid", "url")
    assert row_counts(rt) == counts


def test_sendable_urls_are_still_registered(api: Api) -> None:
    for number, url in enumerate(
        [
            "https://xn--fsqu00a.xn--0zwm56d/%E9%92%A9%E5%AD%90",
            "http://[::1]:8080/hooks?token=a%20b",
            "https://marketplace.example:443/hooks#frag",
        ]
    ):
        answer = api.post("operator", "/v1/webhook-endpoints", {"url": url}, key=f"ok-{number}")
        assert answer.status_code == 201, answer.text
        assert answer.json()["url"] == url


class RawReceiver:
    """A receiver on a raw socket: `answer` gets each connection, in the accepting thread."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/hooks"
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.answer(connection)

    def answer(self, connection: socket.socket) -> None:
        raise NotImplementedError


class NotHttp(RawReceiver):
    """A receiver that answers every connection with a line that is not HTTP."""

    def answer(self, connection: socket.socket) -> None:
        with connection:
            connection.recv(65536)
            connection.sendall(b"NOT HTTP AT ALL\r\n\r\n")


@pytest.fixture
def not_http() -> Iterator[NotHttp]:
    running = NotHttp()
    yield running
    running.listener.close()


def endpoint_state(api: Api, endpoint_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    shown = api.get("operator", f"/v1/webhook-endpoints/{endpoint_id}").json()
    log = api.get("operator", f"/v1/webhook-endpoints/{endpoint_id}/deliveries").json()
    return shown, log["items"]


def test_a_receiver_that_does_not_speak_http_is_a_failed_attempt(
    api: Api, rt: Runtime, not_http: NotHttp
) -> None:
    """It escaped the dispatcher (http.client.BadStatusLine): the pass failed, nothing was
    logged, and the endpoint was never backed off nor disabled."""
    endpoint = api.post("operator", "/v1/webhook-endpoints", {"url": not_http.url}).json()
    business(api, "O-garbage")
    passes = WebhookDispatcher(rt.engine, rt.clock).pass_once()
    assert [(item.delivered, item.failed) for item in passes] == [(0, True)]
    shown, attempts = endpoint_state(api, endpoint["id"])
    assert shown["attempts"] == 1 and shown["failing_since"] and shown["next_attempt_at"]
    assert [item["outcome"] for item in attempts] == ["failed"]
    assert attempts[0]["status_code"] is None and attempts[0]["error"]


def test_a_url_stored_before_it_was_refused_is_a_failed_attempt(api: Api, rt: Runtime) -> None:
    """Endpoints registered before the URL check keep their URL; sending to one fails
    like any unreachable receiver (http.client.InvalidURL, UnicodeEncodeError escaped)."""
    for url in ("http://127.0.0.1:9/a b", "http://127.0.0.1:9/caf\u00e9", "http://u:p@127.0.0.1/"):
        attempt = post(url, b"{}", {"content-type": "application/json"})
        assert not attempt.ok and attempt.status_code is None and attempt.error, url
    endpoint = api.post("operator", "/v1/webhook-endpoints", {"url": "http://127.0.0.1:9/x"}).json()
    with rt.engine.begin() as connection:
        connection.execute(
            update(webhook_endpoints)
            .where(webhook_endpoints.c.id == endpoint["id"])
            .values(url="http://exa mple.com/hooks")
        )
    business(api, "O-stored")
    passes = WebhookDispatcher(rt.engine, rt.clock).pass_once()
    assert [(item.delivered, item.failed) for item in passes] == [(0, True)]
    shown, attempts = endpoint_state(api, endpoint["id"])
    assert shown["attempts"] == 1 and [item["outcome"] for item in attempts] == ["failed"]


class Redirecting:
    """A receiver whose /hooks answers a redirect to /moved, which accepts anything."""

    def __init__(self, status: int) -> None:
        self.moved: list[str] = []  # the methods /moved was called with
        redirecting = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                if self.path == "/hooks":
                    self.send_response(status)
                    self.send_header("location", "/moved")
                else:
                    redirecting.moved.append(self.command)
                    self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            do_GET = do_POST = answer

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_not_followed_and_is_a_failed_attempt(
    api: Api, rt: Runtime, status: int
) -> None:
    """urllib followed a 301/302/303 with a GET and no body, and the 200 it got counted the
    event delivered: the receiver never had it."""
    receiver = Redirecting(status)
    try:
        endpoint = api.post("operator", "/v1/webhook-endpoints", {"url": receiver.url}).json()
        business(api, "O-moved")
        passes = WebhookDispatcher(rt.engine, rt.clock).pass_once()
        assert [(item.delivered, item.failed) for item in passes] == [(0, True)]
        assert receiver.moved == []
        shown, attempts = endpoint_state(api, endpoint["id"])
        assert shown["cursor"] == endpoint["cursor"] and shown["attempts"] == 1
        assert [(item["outcome"], item["status_code"]) for item in attempts] == [("failed", status)]
        assert "/moved" in attempts[0]["error"]
    finally:
        receiver.server.shutdown()


class Trickling(RawReceiver):
    """A receiver that reads the request, then answers `200` one byte every 0.4 s: every
    read the dispatcher makes gets a byte long before any per-read timeout, and the whole
    answer takes 15 s."""

    ANSWER = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
    EVERY_SECONDS = 0.4

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.answered = 0  # answers sent to the end
        super().__init__()

    def answer(self, connection: socket.socket) -> None:
        threading.Thread(target=self.trickle, args=(connection,), daemon=True).start()

    def trickle(self, connection: socket.socket) -> None:
        with connection:
            try:
                connection.recv(65536)
                for byte in self.ANSWER:
                    if self.stop.wait(self.EVERY_SECONDS):
                        return
                    connection.sendall(bytes([byte]))
                self.answered += 1
            except OSError:  # the dispatcher hung up: what it should do
                return


@pytest.fixture
def trickling() -> Iterator[Trickling]:
    running = Trickling()
    yield running
    running.stop.set()
    running.listener.close()


def test_a_receiver_trickling_its_answer_fails_at_the_deadline(
    api: Api, rt: Runtime, trickling: Trickling
) -> None:
    """The timeout was per socket read: a receiver sending its status line and headers a
    byte every 3 s had its 200 counted delivered after 51 s, and a slower one outlasted the
    endpoint's lease, so a second dispatcher delivered the same endpoint at once. The
    deadline is on the whole request (here 1 s instead of 10 s)."""
    endpoint = api.post("operator", "/v1/webhook-endpoints", {"url": trickling.url}).json()
    business(api, "O-trickle")
    dispatcher = WebhookDispatcher(rt.engine, rt.clock, sender=partial(post, timeout=1.0))
    started = time.monotonic()
    passes = dispatcher.pass_once()
    took = time.monotonic() - started
    assert [(item.delivered, item.failed) for item in passes] == [(0, True)]
    assert took < 5, took  # the trickle would end after 15 s
    shown, attempts = endpoint_state(api, endpoint["id"])
    assert shown["cursor"] == endpoint["cursor"] and shown["attempts"] == 1
    assert [(item["outcome"], item["status_code"]) for item in attempts] == [("failed", None)]
    assert attempts[0]["error"] == "timed out: no answer within 1 s", attempts[0]["error"]
    assert 1000 <= attempts[0]["duration_ms"] < 5000
    assert trickling.answered == 0


def test_a_cursor_beyond_the_end_of_the_feed_is_refused(api: Api, rt: Runtime) -> None:
    """No page gave it: a reader polling from it, or an endpoint replayed from it, silently
    skipped every event up to it (a typo, a cursor of another database)."""
    assert_refused(api.get("marketplace", "/v1/events?after=1"), 422, "cursor_malformed", "after")
    business(api, "O-end")
    end = api.get("marketplace", "/v1/events?limit=500").json()["next_cursor"]
    at_end = api.get("marketplace", f"/v1/events?after={end}")
    assert at_end.status_code == 200 and at_end.json()["items"] == []
    for beyond in (str(int(end) + 1), "999999", str(2**63 - 1)):
        answer = api.get("marketplace", f"/v1/events?after={beyond}")
        assert_refused(answer, 422, "cursor_malformed", "after")
    endpoint = api.post("operator", "/v1/webhook-endpoints", {"url": "http://127.0.0.1:9/x"}).json()
    counts = row_counts(rt)
    replay = f"/v1/webhook-endpoints/{endpoint['id']}/replay"
    assert_refused(
        api.post("operator", replay, {"after": "999999"}), 422, "cursor_malformed", "after"
    )
    assert row_counts(rt) == counts
    assert api.get("operator", f"/v1/webhook-endpoints/{endpoint['id']}").json()["cursor"] == end
    assert api.post("operator", replay, {"after": end}).status_code == 200


def test_a_deliveries_cursor_past_an_integer_id_is_refused_on_both_databases(api: Api) -> None:
    """Delivery ids are an INTEGER column: `before` above 2**31 - 1 answered 500 on
    PostgreSQL (integer out of range) and a page on SQLite; both refuse it now."""
    endpoint = api.post("operator", "/v1/webhook-endpoints", {"url": "http://127.0.0.1:9/x"}).json()
    deliveries = f"/v1/webhook-endpoints/{endpoint['id']}/deliveries"
    top = api.get("operator", f"{deliveries}?before={2**31 - 1}")
    assert top.status_code == 200 and top.json()["items"] == []
    for before in (2**31, 99999999999, 2**62):
        answer = api.get("operator", f"{deliveries}?before={before}")
        assert_refused(answer, 422, "out_of_range", "before")
