"""Signed webhooks against a real local receiver, on SQLite and PostgreSQL.

The receiver is an HTTP server on 127.0.0.1 that verifies every message with
the `standardwebhooks` library (as a marketplace would) and can be told to
fail or to answer slowly. The dispatcher is the one `buyerguard scheduler run`
runs; each test calls its passes directly while moving the simulated clock.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from buyerguard.bootstrap import Runtime
from buyerguard.clock import SimulatedClock
from buyerguard.webhook_dispatcher import GIVE_UP_AFTER, Attempt, WebhookDispatcher, post
from tests.conftest import Api
from tests.test_api import assert_refused, row_counts


class Receiver:
    """A marketplace's webhook receiver: verifies, records, or fails on demand."""

    def __init__(self) -> None:
        self.secrets: list[str] = []
        self.received: list[dict[str, Any]] = []  # accepted messages, in arrival order
        self.signature_counts: list[int] = []
        self.failing = False
        self.failure_status = 503
        self.delay_seconds = 0.0
        self.rejected = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                if receiver.delay_seconds:
                    time.sleep(receiver.delay_seconds)
                if receiver.failing:
                    self.send_response(receiver.failure_status)
                    self.end_headers()
                    return
                headers = {key.lower(): value for key, value in self.headers.items()}
                try:
                    for secret in receiver.secrets:  # every secret it holds must verify
                        Webhook(secret).verify(body, headers)
                except WebhookVerificationError:
                    receiver.rejected += 1
                    self.send_response(400)
                    self.end_headers()
                    return
                message = json.loads(body)
                message["webhook_id"] = headers["webhook-id"]
                receiver.received.append(message)
                receiver.signature_counts.append(len(headers["webhook-signature"].split(" ")))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def ids(self) -> list[str]:
        return [message["webhook_id"] for message in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.server.shutdown()


def register(api: Api, receiver: Receiver, **fields: Any) -> dict[str, Any]:
    answer = api.post(
        "operator", "/v1/webhook-endpoints", {"url": receiver.url, **fields}, key="hook-1"
    )
    assert answer.status_code == 201, answer.text
    endpoint: dict[str, Any] = answer.json()
    receiver.secrets = [endpoint["secret"]]
    return endpoint


def business(api: Api, order_id: str) -> None:
    """An order placed, paid, shipped, signed and confirmed: a handful of events."""
    body = {
        "id": order_id,
        "buyer_id": "B-shop",
        "lines": [{"product_id": "P-cups", "quantity": 10}],
    }
    assert api.post("marketplace", "/v1/orders", body).status_code == 201
    facts = [
        ("payment", {"amount": "360.00"}),
        ("shipment", {"carrier": "SF", "tracking_number": f"SF-{order_id}"}),
        ("signing", {}),
        ("confirmation", {}),
    ]
    for fact, fact_body in facts:
        answer = api.post("marketplace", f"/v1/orders/{order_id}/{fact}", fact_body)
        assert answer.status_code == 200, answer.text


def feed_ids(api: Api, after: str = "0") -> list[str]:
    answer = api.get("marketplace", f"/v1/events?after={after}&limit=500")
    return [item["id"] for item in answer.json()["items"]]


def lag(api: Api) -> dict[str, float]:
    """`buyerguard_webhook_lag_events` per endpoint, as /metrics exposes it."""
    text = api.client.get("/metrics").text
    return {
        line.split('endpoint="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("buyerguard_webhook_lag_events{")
    }


def drain(dispatcher: WebhookDispatcher) -> None:
    while any(item.delivered for item in dispatcher.pass_once()):
        pass


def test_events_arrive_signed_in_feed_order_from_registration_on(
    api: Api, rt: Runtime, receiver: Receiver
) -> None:
    business(api, "O-before")  # before the endpoint: not pushed
    endpoint = register(api, receiver, description="orders")
    before = feed_ids(api)
    business(api, "O-after")
    dispatcher = WebhookDispatcher(rt.engine, rt.clock)
    drain(dispatcher)
    expected = [event_id for event_id in feed_ids(api) if event_id not in before]
    assert expected and receiver.ids() == expected
    assert receiver.rejected == 0
    first = receiver.received[0]
    assert first["type"] == first["data"]["kind"] and first["data"]["order_id"] == "O-after"
    shown = api.get("operator", f"/v1/webhook-endpoints/{endpoint['id']}").json()
    feed_end = api.get("marketplace", "/v1/events?limit=500").json()["next_cursor"]
    assert "secret" not in shown and shown["cursor"] == feed_end and shown["state"] == "active"
    log = api.get("operator", f"/v1/webhook-endpoints/{endpoint['id']}/deliveries").json()
    assert [item["event_id"] for item in reversed(log["items"])] == expected
    assert {item["outcome"] for item in log["items"]} == {"delivered"}


def test_a_receiver_down_ten_minutes_gets_every_event_after_once_in_order(
    api: Api, rt: Runtime, clock: SimulatedClock, receiver: Receiver
) -> None:
    register(api, receiver)
    start = feed_ids(api)
    dispatcher = WebhookDispatcher(rt.engine, rt.clock)
    receiver.failing = True
    for number in range(5):
        business(api, f"O-down-{number}")
        for _ in range(2):  # ten minutes down, a pass every minute
            dispatcher.pass_once()
            clock.advance(timedelta(minutes=1))
    assert receiver.received == []
    behind = lag(api)
    assert list(behind.values()) == [len(feed_ids(api)) - len(start)] and behind
    receiver.failing = False
    clock.advance(timedelta(hours=1))  # past the longest back-off
    drain(dispatcher)
    expected = [event_id for event_id in feed_ids(api) if event_id not in start]
    assert receiver.ids() == expected and len(set(receiver.ids())) == len(expected)
    business(api, "O-up")
    drain(dispatcher)
    assert set(lag(api).values()) == {0.0}
    assert receiver.ids() == [event_id for event_id in feed_ids(api) if event_id not in start]


def test_a_rotated_secret_signs_beside_the_old_one_during_the_overlap(
    api: Api, rt: Runtime, clock: SimulatedClock, receiver: Receiver
) -> None:
    endpoint = register(api, receiver)
    old_secret = endpoint["secret"]
    rotated = api.post(
        "operator",
        f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret",
        {"overlap_hours": 24},
        key="rotate-1",
    )
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret != old_secret and rotated.json()["previous_secret_until"]
    dispatcher = WebhookDispatcher(rt.engine, rt.clock)
    receiver.secrets = [old_secret, new_secret]  # a receiver still on the old one, and one moved
    business(api, "O-rot-1")
    drain(dispatcher)
    assert receiver.received and set(receiver.signature_counts) == {2}
    clock.advance(timedelta(hours=25))
    receiver.secrets = [new_secret]
    seen = len(receiver.received)
    business(api, "O-rot-2")
    drain(dispatcher)
    assert len(receiver.received) > seen and set(receiver.signature_counts[seen:]) == {1}
    receiver.secrets = [old_secret]
    business(api, "O-rot-3")
    dispatcher.pass_once()
    assert receiver.rejected == 1  # the old secret no longer verifies


def test_an_endpoint_failing_for_a_day_is_disabled_with_a_reason_then_enabled(
    api: Api, rt: Runtime, clock: SimulatedClock, receiver: Receiver
) -> None:
    endpoint = register(api, receiver)
    dispatcher = WebhookDispatcher(rt.engine, rt.clock)
    receiver.failing = True
    business(api, "O-fail")
    elapsed = timedelta(0)
    while elapsed <= GIVE_UP_AFTER + timedelta(hours=1):
        dispatcher.pass_once()
        clock.advance(timedelta(minutes=30))
        elapsed += timedelta(minutes=30)
    shown = api.get("operator", f"/v1/webhook-endpoints/{endpoint['id']}").json()
    assert shown["state"] == "disabled" and "failing since" in shown["disabled_reason"]
    assert shown["next_attempt_at"] is None  # never tried again until enabled
    log = api.get("operator", f"/v1/webhook-endpoints/{endpoint['id']}/deliveries?limit=500")
    attempts = log.json()["items"]
    assert attempts and {item["outcome"] for item in attempts} == {"failed"}
    assert {item["status_code"] for item in attempts} == {503}
    receiver.failing = False
    assert dispatcher.pass_once() == []  # disabled: nothing is tried
    enabled = api.post("operator", f"/v1/webhook-endpoints/{endpoint['id']}/enable", None)
    assert enabled.status_code == 200 and enabled.json()["state"] == "active"
    drain(dispatcher)
    assert receiver.received and receiver.received[0]["data"]["order_id"] == "O-fail"


def test_an_endpoint_answering_410_gone_is_disabled_at_once_then_enabled(
    api: Api, rt: Runtime, clock: SimulatedClock, receiver: Receiver
) -> None:
    """Standard Webhooks: 410 Gone is the receiver saying the endpoint is no more; the
    sender disables it rather than retrying it for a day."""
    endpoint = register(api, receiver)
    dispatcher = WebhookDispatcher(rt.engine, rt.clock)
    receiver.failing = True
    business(api, "O-gone")
    [unavailable] = dispatcher.pass_once()  # a 503 first: tried again after 5 s
    assert (unavailable.failed, unavailable.disabled) == (True, False)
    clock.advance(timedelta(seconds=5))
    receiver.failure_status = 410
    [gone] = dispatcher.pass_once()
    assert (gone.failed, gone.disabled) == (True, True)
    shown = api.get("operator", f"/v1/webhook-endpoints/{endpoint['id']}").json()
    assert shown["state"] == "disabled" and "410" in shown["disabled_reason"]
    assert shown["next_attempt_at"] is None  # never tried again until enabled
    clock.advance(timedelta(hours=2))
    assert dispatcher.pass_once() == []  # not retried
    log = api.get("operator", f"/v1/webhook-endpoints/{endpoint['id']}/deliveries").json()
    statuses = [(item["outcome"], item["status_code"]) for item in log["items"]]
    assert statuses == [("failed", 410), ("failed", 503)]
    receiver.failing = False
    enabled = api.post("operator", f"/v1/webhook-endpoints/{endpoint['id']}/enable", None)
    assert enabled.status_code == 200 and enabled.json()["state"] == "active"
    drain(dispatcher)
    assert receiver.received and receiver.received[0]["data"]["order_id"] == "O-gone"


def test_an_endpoint_disabled_while_backing_off_shows_no_next_attempt(
    api: Api, rt: Runtime, receiver: Receiver
) -> None:
    endpoint = register(api, receiver)
    receiver.failing = True
    business(api, "O-backoff")
    WebhookDispatcher(rt.engine, rt.clock).pass_once()
    path = f"/v1/webhook-endpoints/{endpoint['id']}"
    assert api.get("operator", path).json()["next_attempt_at"] is not None
    disabled = api.post("operator", f"{path}/disable", {"reason": "receiver moved"})
    assert disabled.json()["state"] == "disabled" and disabled.json()["next_attempt_at"] is None
    assert api.get("operator", path).json()["next_attempt_at"] is None


def test_a_deleted_endpoint_is_gone_with_its_log_and_is_sent_nothing_more(
    api: Api, rt: Runtime, receiver: Receiver
) -> None:
    endpoint = register(api, receiver)
    path = f"/v1/webhook-endpoints/{endpoint['id']}"
    dispatcher = WebhookDispatcher(rt.engine, rt.clock)
    business(api, "O-del-1")
    drain(dispatcher)
    delivered = len(receiver.received)
    assert delivered
    counts = row_counts(rt)
    deleted = api.post("operator", f"{path}/delete", None, key="del-1")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["id"] == endpoint["id"] and "secret" not in deleted.json()
    again = api.post("operator", f"{path}/delete", None, key="del-1")  # the same key: replayed
    assert again.status_code == 200 and again.json() == deleted.json()
    assert_refused(api.get("operator", path), 404, "endpoint_not_found", "endpoint_id")
    assert_refused(
        api.get("operator", f"{path}/deliveries"), 404, "endpoint_not_found", "endpoint_id"
    )
    assert_refused(
        api.post("operator", f"{path}/delete", None), 404, "endpoint_not_found", "endpoint_id"
    )
    listed = api.get("operator", "/v1/webhook-endpoints").json()["items"]
    assert endpoint["id"] not in [item["id"] for item in listed]
    after = row_counts(rt)
    assert after["webhook_endpoints"] == counts["webhook_endpoints"] - 1
    assert after["webhook_deliveries"] == counts["webhook_deliveries"] - delivered
    business(api, "O-del-2")
    assert dispatcher.pass_once() == []
    assert len(receiver.received) == delivered


def test_an_endpoint_deleted_during_its_pass_is_let_go_without_an_error(
    api: Api, rt: Runtime, receiver: Receiver
) -> None:
    """The operator deletes an endpoint while the dispatcher sends it an event: the pass
    ends quietly and leaves no delivery row behind; one claimed and then deleted too."""
    endpoint = register(api, receiver)
    path = f"/v1/webhook-endpoints/{endpoint['id']}/delete"

    def deleting_sender(url: str, body: bytes, headers: dict[str, str]) -> Attempt:
        assert api.post("operator", path, None, key="del-mid").status_code == 200
        return post(url, body, headers)

    business(api, "O-del-mid")
    dispatcher = WebhookDispatcher(rt.engine, rt.clock, sender=deleting_sender)
    [gone] = dispatcher.pass_once()
    assert gone.endpoint_id == endpoint["id"]
    assert row_counts(rt)["webhook_deliveries"] == 0
    answer = api.post("operator", "/v1/webhook-endpoints", {"url": receiver.url}, key="hook-2")
    claimed = answer.json()
    business(api, "O-del-claimed")
    assert WebhookDispatcher(rt.engine, rt.clock).due_endpoints(rt.clock.now()) == [claimed["id"]]
    deleted = api.post("operator", f"/v1/webhook-endpoints/{claimed['id']}/delete", None)
    assert deleted.status_code == 200
    assert dispatcher.deliver(claimed["id"]).delivered == 0
    assert row_counts(rt)["webhook_deliveries"] == 0


def test_every_webhook_command_is_audited_and_no_secret_is(api: Api, receiver: Receiver) -> None:
    """The audit trail is "the record every command writes": an operator's changes to a
    subscription too, its deletion included (which leaves nothing else behind)."""
    endpoint = register(api, receiver, event_kinds=["escrow_held"])
    path = f"/v1/webhook-endpoints/{endpoint['id']}"
    for action, body in [
        ("rotate-secret", {"overlap_hours": 1}),
        ("replay", {"after": "0"}),
        ("disable", {"reason": "maintenance"}),
        ("enable", None),
        ("delete", None),
    ]:
        answer = api.post("operator", f"{path}/{action}", body)
        assert answer.status_code == 200, answer.text
    items = api.get("operator", f"/v1/audit?subject={endpoint['id']}").json()["items"]
    assert [(item["command"], item["actor"]) for item in items] == [
        (command, "operator")
        for command in (
            "register_webhook_endpoint",
            "rotate_webhook_secret",
            "replay_webhook_endpoint",
            "disable_webhook_endpoint",
            "enable_webhook_endpoint",
            "delete_webhook_endpoint",
        )
    ]
    assert items[0]["details"] == {"url": receiver.url, "event_kinds": ["escrow_held"]}
    assert items[3]["details"] == {"reason": "maintenance"}
    assert "whsec_" not in json.dumps(items)


def test_kind_filters_and_replay_from_a_cursor(api: Api, rt: Runtime, receiver: Receiver) -> None:
    endpoint = register(api, receiver, event_kinds=["escrow_held", "escrow_released"])
    start = api.get("marketplace", "/v1/events?limit=500").json()["next_cursor"] or "0"
    business(api, "O-kinds")
    dispatcher = WebhookDispatcher(rt.engine, rt.clock)
    drain(dispatcher)
    kinds = [message["type"] for message in receiver.received]
    assert kinds and set(kinds) <= {"escrow_held", "escrow_released"}
    first_round = receiver.ids()
    replayed = api.post(
        "operator", f"/v1/webhook-endpoints/{endpoint['id']}/replay", {"after": start}
    )
    assert replayed.status_code == 200, replayed.text
    drain(dispatcher)
    assert receiver.ids() == first_round + first_round


def test_bad_endpoints_and_wrong_roles_are_refused_and_write_nothing(
    api: Api, rt: Runtime, receiver: Receiver
) -> None:
    counts = row_counts(rt)
    for body, code, field in [
        ({"url": "ftp://127.0.0.1/x"}, "url_invalid", "url"),
        ({"url": "http://"}, "url_invalid", "url"),
        ({"url": receiver.url, "event_kinds": []}, None, "event_kinds"),
        ({"url": receiver.url, "secret": "mine"}, None, "secret"),
    ]:
        answer = api.post("operator", "/v1/webhook-endpoints", body)
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == field
        if code is not None:
            assert answer.json()["code"] == code
    for role in ("marketplace", "merchant", "buyer"):
        refused = api.post(role, "/v1/webhook-endpoints", {"url": receiver.url})
        assert_refused(refused, 403, "forbidden")
    assert_refused(
        api.post("operator", "/v1/webhook-endpoints/we_none/enable", None),
        404,
        "endpoint_not_found",
        "endpoint_id",
    )
    endpoint = register(api, receiver)
    counts_with_one = row_counts(rt)
    for body in ({"overlap_hours": -1}, {"overlap_hours": 10_000}):
        answer = api.post("operator", f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", body)
        assert answer.status_code == 422, answer.text
    assert_refused(
        api.post("operator", f"/v1/webhook-endpoints/{endpoint['id']}/replay", {"after": "x"}),
        422,
        "cursor_malformed",
        "after",
    )
    assert row_counts(rt) == counts_with_one
    assert counts_with_one["webhook_endpoints"] == counts["webhook_endpoints"] + 1


def test_a_slow_receiver_holds_only_its_own_endpoint(
    api: Api, rt: Runtime, receiver: Receiver
) -> None:
    """Two endpoints, one receiver answering in 1 s: the other is delivered meanwhile."""
    slow = Receiver()
    try:
        slow.delay_seconds = 1.0
        register(api, receiver)
        slow_endpoint = api.post(
            "operator", "/v1/webhook-endpoints", {"url": slow.url}, key="hook-slow"
        ).json()
        slow.secrets = [slow_endpoint["secret"]]
        business(api, "O-slow")
        dispatcher = WebhookDispatcher(rt.engine, rt.clock)
        started = time.monotonic()
        finished = threading.Event()

        def deliver_then_note() -> None:
            dispatcher.pass_once()
            finished.set()

        threading.Thread(target=deliver_then_note).start()
        while not receiver.received and time.monotonic() - started < 5:
            time.sleep(0.01)
        assert receiver.received and time.monotonic() - started < 1.0
        assert finished.wait(30)
        assert len(slow.received) >= 1
    finally:
        slow.server.shutdown()
