"""Pushing the event feed to webhook endpoints, signed as Standard Webhooks specify.

Each endpoint is a cursor over the feed (not a job per event: the feed runs at
tens of millions of events a day). A pass claims the endpoints that are due
(a short lease, so two dispatchers never deliver one endpoint at once), and
delivers each one's next events in feed order from a small thread pool: a
slow or dead receiver holds only its own thread, and never a command, which
runs in another process. A message is delivered at least once and, unless a
dispatcher dies between a delivery and recording it, exactly once; its
`webhook-id` is the event's id, so a receiver can drop a repeat.

A failure stops the endpoint at that event and retries it with exponential
back-off (5 s, doubling, at most an hour); an endpoint failing for a day, or
answering 410 Gone once, is disabled, with the reason kept on it and logged.
Every attempt is logged in `webhook_deliveries`.
"""

from __future__ import annotations

import http.client
import io
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, insert, or_, select, update
from standardwebhooks.webhooks import Webhook

from buyerguard import __version__
from buyerguard.clock import Clock, SystemClock, ensure_utc, format_instant
from buyerguard.logs import get_logger
from buyerguard.services.feed import advance_feed, event_view, read_feed
from buyerguard.services.webhook_endpoints import ACTIVE, DISABLED, signing_secrets
from buyerguard.store.db import read_transaction, transaction
from buyerguard.store.tables import webhook_deliveries, webhook_endpoints

BATCH_EVENTS = 100  # events read per endpoint per pass
BATCH_SECONDS = 30.0  # an endpoint's pass stops taking new events after this long
# A deadline on a whole attempt (connect, TLS, sending, status line, headers, body), not on
# each socket read: a receiver trickling its answer a byte at a time never tripped a per-read
# timeout and held an attempt as long as it liked.
REQUEST_TIMEOUT_SECONDS = 10.0
# An endpoint's pass takes no new event after BATCH_SECONDS, so its last attempt ends by
# BATCH_SECONDS + REQUEST_TIMEOUT_SECONDS (40 s); the lease (60 s) must outlast that with room
# for the database, or a second dispatcher claims the endpoint while the first still
# delivers it (duplicate and out-of-order deliveries). Raising either one means raising it.
LEASE = timedelta(seconds=BATCH_SECONDS + REQUEST_TIMEOUT_SECONDS + 20)
FIRST_RETRY = timedelta(seconds=5)
LONGEST_RETRY = timedelta(hours=1)
GIVE_UP_AFTER = timedelta(days=1)
# Standard Webhooks: a receiver answering 410 Gone asks for the endpoint to be disabled at
# once (retrying it for a day would only fill its log).
GONE = 410
# The `webhook-timestamp` a receiver checks against its own clock: the machine's real time,
# never the simulated one the engine may run on.
TRANSPORT_CLOCK = SystemClock()
log = get_logger(__name__)


@dataclass(frozen=True)
class Attempt:
    """What one POST to a receiver came to."""

    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int


Sender = Callable[[str, bytes, dict[str, str]], Attempt]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is the receiver's answer, not a delivery: urllib would follow a 301, 302
    or 303 with a GET and no body, and count the event delivered by whatever answered."""

    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


class _InTime(http.client.HTTPConnection):
    """A connection whose `timeout` (urllib's, given when it is made for one request) is a
    deadline on the whole request: every socket operation gets only the time left, and none
    starts once it has passed. CPython bounds each operation as a whole by the socket's
    timeout (`connect`, `sendall`, a TLS handshake, one `recv`), so the request ends by the
    deadline whatever a receiver trickles."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        given = self.timeout
        self.seconds = float(given) if isinstance(given, int | float) else REQUEST_TIMEOUT_SECONDS
        self.deadline = time.monotonic() + self.seconds
        # Between the TCP connect and the TLS handshake that follows it, so that the
        # handshake too gets only the time left.
        self._create_connection = self._connect_in_time

    def left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no answer within {self.seconds:g} s")
        return left

    def _connect_in_time(self, address: Any, _timeout: Any, *args: Any) -> socket.socket:
        sock = socket.create_connection(address, self.left(), *args)
        sock.settimeout(self.left())
        return sock

    def connect(self) -> None:
        super().connect()
        self.sock = _InTimeSocket(self.sock, self.left)


class _InTimeHTTPS(_InTime, http.client.HTTPSConnection):
    pass


class _InTimeSocket:
    """The connection's socket, each send and read given the time left before it."""

    def __init__(self, sock: socket.socket, left: Callable[[], float]) -> None:
        self.sock, self.left = sock, left

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)

    def sendall(self, data: Any) -> None:
        self.sock.settimeout(self.left())
        self.sock.sendall(data)

    def makefile(self, *_args: Any, **_kwargs: Any) -> io.BufferedReader:
        # http.client reads its socket only through makefile("rb"). The socket's own raw
        # reader underneath keeps the count of open readers: urllib closes the socket before
        # the response is read, and it really closes only when the response does.
        return io.BufferedReader(_InTimeReader(self.sock.makefile("rb", buffering=0), self))


class _InTimeReader(io.RawIOBase):
    def __init__(self, raw: Any, sock: _InTimeSocket) -> None:
        self.raw, self.timed = raw, sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        self.timed.sock.settimeout(self.timed.left())
        result: int | None = self.raw.readinto(buffer)
        return result

    def close(self) -> None:
        self.raw.close()
        super().close()


class _HTTPInTime(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_InTime, req)


class _HTTPSInTime(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_InTimeHTTPS, req, context=self._context)  # type: ignore[attr-defined]


_OPENER = urllib.request.build_opener(_NoRedirects, _HTTPInTime, _HTTPSInTime)


def post(
    url: str, body: bytes, headers: dict[str, str], *, timeout: float = REQUEST_TIMEOUT_SECONDS
) -> Attempt:
    """POST the message; a 2xx is delivered, anything else (a redirect, no answer) failed.
    `timeout` is the deadline on the whole attempt, not on each read."""
    started = time.perf_counter()
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status: int | None = response.status
            error = None
    except urllib.error.HTTPError as refused:
        status, error = refused.code, f"HTTP {refused.code}"
        if 300 <= refused.code < 400:
            location = refused.headers.get("location", "")[:300]
            error += f" to {location!r}: redirects are not followed, register the URL it names"
    except (urllib.error.URLError, OSError) as unreachable:
        reason = getattr(unreachable, "reason", unreachable)
        if isinstance(reason, TimeoutError):  # whichever operation the deadline stopped
            status, error = None, f"timed out: no answer within {timeout:g} s"
        else:
            status, error = None, str(reason)[:500]
    except (http.client.HTTPException, ValueError) as malformed:
        # An answer that is not HTTP, a URL http.client refuses or cannot encode: a failed
        # attempt like any other (it escaped the pass, and the endpoint was never backed off).
        status, error = None, f"{type(malformed).__name__}: {malformed}"[:500]
    duration_ms = int((time.perf_counter() - started) * 1000)
    ok = status is not None and 200 <= status < 300
    return Attempt(ok, status, None if ok else error or f"HTTP {status}", duration_ms)


def message(row: dict[str, Any]) -> bytes:
    """The Standard Webhooks payload of one event: its kind, when it was recorded, the event."""
    payload = {"type": row["kind"], "timestamp": format_instant(row["recorded_at"])}
    return json.dumps({**payload, "data": event_view(row)}, separators=(",", ":")).encode()


def signed_headers(event_id: str, body: bytes, keys: list[str]) -> dict[str, str]:
    sent_at = TRANSPORT_CLOCK.now()
    signatures = " ".join(Webhook(key).sign(event_id, sent_at, body) for key in keys)
    return {
        "content-type": "application/json",
        "user-agent": f"buyerguard/{__version__}",
        "webhook-id": event_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signatures,
    }


def retry_after(attempts: int) -> timedelta:
    """Back-off after `attempts` failures in a row: 5 s, 10 s, 20 s … at most an hour."""
    delay: timedelta = FIRST_RETRY * 2 ** min(attempts - 1, 20)
    return min(delay, LONGEST_RETRY)


@dataclass(frozen=True)
class EndpointPass:
    endpoint_id: str
    delivered: int
    failed: bool
    disabled: bool


class WebhookDispatcher:
    def __init__(
        self, engine: Engine, clock: Clock, *, workers: int = 8, sender: Sender = post
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.workers = workers
        self.sender = sender
        # Set by `run`'s stop: a pass in progress stops taking events, so a slow receiver
        # cannot hold a shutdown for a whole batch (it was 16.6 s seen, up to 30 s).
        self.stopping = threading.Event()

    def due_endpoints(self, now: datetime) -> list[str]:
        """Claim the active endpoints whose next attempt is due and nobody delivers."""
        table = webhook_endpoints.c
        due = and_(
            table.state == ACTIVE,
            or_(table.next_attempt_at.is_(None), table.next_attempt_at <= now),
            or_(table.lease_until.is_(None), table.lease_until < now),
        )
        with read_transaction(self.engine) as connection:
            candidates = [row.id for row in connection.execute(select(table.id).where(due))]
        claimed = []
        for endpoint_id in candidates:
            with transaction(self.engine) as connection:
                taken = connection.execute(
                    update(webhook_endpoints)
                    .where(table.id == endpoint_id, due)
                    .values(lease_until=now + LEASE)
                )
                if taken.rowcount == 1:
                    claimed.append(endpoint_id)
        return claimed

    def pass_once(self) -> list[EndpointPass]:
        """Position the feed, then deliver every due endpoint's next events."""
        advance_feed(self.engine)
        claimed = self.due_endpoints(ensure_utc(self.clock.now()))
        if not claimed:
            return []
        with ThreadPoolExecutor(max_workers=min(self.workers, len(claimed))) as pool:
            return list(pool.map(self.deliver, claimed))

    def deliver(self, endpoint_id: str) -> EndpointPass:
        """One endpoint's pass: its next events in order, up to the first failure."""
        with read_transaction(self.engine) as connection:
            found = (
                connection.execute(
                    select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
                )
                .mappings()
                .first()
            )
            if found is None:  # deleted since it was claimed
                return EndpointPass(endpoint_id, 0, False, False)
            row = dict(found)
            events = read_feed(connection, after=row["cursor_position"], limit=BATCH_EVENTS)
        kinds = set(row["event_kinds"]) if row["event_kinds"] is not None else None
        position, delivered, failure = row["cursor_position"], 0, None
        logs: list[dict[str, Any]] = []
        started = time.monotonic()
        for event in events:
            if time.monotonic() - started > BATCH_SECONDS or self.stopping.is_set():
                break
            if kinds is not None and event["kind"] not in kinds:
                position = event["position"]
                continue
            now = ensure_utc(self.clock.now())
            body = message(event)
            keys = signing_secrets(row, now)
            attempt = self.sender(row["url"], body, signed_headers(event["id"], body, keys))
            logs.append(
                {
                    "endpoint_id": endpoint_id,
                    "event_id": event["id"],
                    "position": event["position"],
                    "attempt": row["attempts"] + 1,
                    "outcome": "delivered" if attempt.ok else "failed",
                    "status_code": attempt.status_code,
                    "error": attempt.error,
                    "duration_ms": attempt.duration_ms,
                    "attempted_at": now,
                }
            )
            if not attempt.ok:
                failure = attempt
                break
            position, delivered = event["position"], delivered + 1
        return self._record(row, position, delivered, failure, logs)

    def _record(
        self,
        row: dict[str, Any],
        position: int,
        delivered: int,
        failure: Attempt | None,
        logs: list[dict[str, Any]],
    ) -> EndpointPass:
        """Move the cursor, count the failure (or forget earlier ones), release the lease.
        An operator who replayed or disabled the endpoint meanwhile wins: the cursor
        moves only from where this pass found it."""
        now = ensure_utc(self.clock.now())
        values: dict[str, Any] = {"cursor_position": position, "lease_until": None}
        disabled = False
        if failure is None:
            if delivered or row["attempts"]:
                values |= {"attempts": 0, "failing_since": None, "next_attempt_at": None}
        else:
            attempts = row["attempts"] + 1
            failing_since = row["failing_since"] or now
            values |= {"attempts": attempts, "failing_since": failing_since}
            gone = failure.status_code == GONE
            if gone or now - failing_since >= GIVE_UP_AFTER:
                disabled = True
                reason = (
                    f"the receiver answered {GONE} Gone: the endpoint is no more"
                    if gone
                    else f"failing since {format_instant(failing_since)} "
                    f"({attempts} attempts; last: {failure.error})"
                )
                values |= {"state": DISABLED, "disabled_at": now, "disabled_reason": reason}
                values |= {"next_attempt_at": None}  # never tried again until enabled
                log.warning("webhook_endpoint_disabled", endpoint_id=row["id"], reason=reason)
            else:
                values["next_attempt_at"] = now + retry_after(attempts)
        table = webhook_endpoints.c
        with transaction(self.engine) as connection:
            moved = connection.execute(
                update(webhook_endpoints)
                .where(
                    table.id == row["id"],
                    table.cursor_position == row["cursor_position"],
                    table.state == ACTIVE,
                )
                .values(values | {"updated_at": now})
            )
            if moved.rowcount != 1:  # replayed or disabled meanwhile: only let go of it
                kept = connection.execute(
                    update(webhook_endpoints).where(table.id == row["id"]).values(lease_until=None)
                )
                if kept.rowcount != 1:  # deleted meanwhile: its log went with it
                    return EndpointPass(row["id"], delivered, failure is not None, False)
            if logs:
                connection.execute(insert(webhook_deliveries), logs)
        return EndpointPass(row["id"], delivered, failure is not None, disabled)

    def run(self, interval_seconds: float, stop: threading.Event) -> None:
        """Pass after pass until `stop` is set; a failed pass is logged and the next tried."""
        self.stopping = stop
        while not stop.is_set():
            try:
                self.pass_once()
            except Exception:  # a database hiccup must not end delivery for good
                log.exception("webhook_pass_failed")
            stop.wait(interval_seconds)
