"""The `Idempotency-Key` of a command that commits in several transactions (a payout run,
merchant by merchant), so its key cannot be claimed inside the one transaction that does
the work, as a single command's is (api/runtime.execute_command).

The key is claimed in a short transaction of its own before the work starts: a row with
no answer yet (`status_code` 0), answered when the work ends, deleted if it is refused. A
twin sent meanwhile finds the claim: with another body it is refused at once, having done
nothing; with the same body it waits for the answer and replays it. Before, both passed the
key check before either had stored an answer, so both ran: the twin with another body paid
its merchants and was then refused `idempotency_key_reused`.

A claim whose worker died is never answered: once it is `CLAIM_LEASE` old, by the clock, a
twin takes it over and runs the work (each step of such work is idempotent on its own: a
second payout run finds nothing payable).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, delete, update

from buyerguard.api.runtime import (
    Answer,
    check_idempotency_key,
    key_row,
    request_hash_of,
    stored_key,
)
from buyerguard.bootstrap import Runtime
from buyerguard.clock import ensure_utc
from buyerguard.errors import Busy
from buyerguard.services.context import Actor
from buyerguard.store.db import insert_if_absent, retrying
from buyerguard.store.tables import idempotency_keys

IN_PROGRESS = 0  # the status_code of a claimed key whose answer is not stored yet
CLAIM_LEASE = timedelta(minutes=15)  # an unanswered claim this old was abandoned
TWIN_WAIT_SECONDS = 30.0  # a twin waits this long for the answer, then 503 (retry later)
TWIN_POLL_SECONDS = 0.05


def execute_long_command(
    rt: Runtime,
    actor: Actor,
    route: str,
    key: str | None,
    body: BaseModel | None,
    work: Callable[[], tuple[int, Any]],
) -> Answer:
    """Run `work` once per key: a stored answer is replayed, a twin running with the same
    body is waited for and replayed, another body is refused before anything runs."""
    check_idempotency_key(key)
    if key is None:
        return Answer(*work())
    request_hash = request_hash_of(body)
    mine = _KeyClaim(rt, actor, route, key, request_hash)
    claimed = mine.claim()
    if isinstance(claimed, Answer):
        return claimed
    try:
        status_code, payload = work()
    except BaseException:
        retrying(rt.engine, mine.release)  # a refusal stores nothing under its key
        raise
    return retrying(rt.engine, lambda connection: mine.answer(connection, status_code, payload))


class _KeyClaim:
    """The caller's claim on one key of one route."""

    def __init__(self, rt: Runtime, actor: Actor, route: str, key: str, request_hash: str) -> None:
        self.rt, self.actor, self.route, self.key = rt, actor, route, key
        self.request_hash = request_hash
        self.claimed_at: datetime | None = None

    def _this_key(self) -> list[Any]:
        return [
            idempotency_keys.c.principal == self.actor.label,
            idempotency_keys.c.route == self.route,
            idempotency_keys.c.key == self.key,
        ]

    def claim(self) -> datetime | Answer:
        """Claim the key (the instant claimed), or the answer a twin stored under it."""
        deadline = time.monotonic() + TWIN_WAIT_SECONDS
        while True:
            outcome = retrying(self.rt.engine, self._try_claim)
            if outcome is not None:
                return outcome
            if time.monotonic() >= deadline:
                raise Busy(
                    "request_in_progress",
                    "a request with this Idempotency-Key is still running; send it again "
                    "later to get its answer",
                    "Idempotency-Key",
                )
            time.sleep(TWIN_POLL_SECONDS)

    def _try_claim(self, connection: Connection) -> datetime | Answer | None:
        """Claimed (its instant), answered by a twin (its answer), or a twin still running
        (None). Another body under the key is refused."""
        row = key_row(
            self.rt, self.actor, self.route, self.key, self.request_hash, IN_PROGRESS, None
        )
        inserted = insert_if_absent(
            connection, idempotency_keys, row, returning=idempotency_keys.c.key
        ).first()
        if inserted is not None:
            self.claimed_at = row["created_at"]
            return self.claimed_at
        stored = stored_key(connection, self.actor, self.route, self.key, self.request_hash)
        if stored is None:
            return None  # the twin was refused and let go of it meanwhile: claim it next
        if stored.status_code != IN_PROGRESS:
            return Answer(stored.status_code, json.loads(stored.response_body), replayed=True)
        now = ensure_utc(self.rt.clock.now())
        taken = connection.execute(
            update(idempotency_keys)
            .where(
                *self._this_key(),
                idempotency_keys.c.status_code == IN_PROGRESS,
                idempotency_keys.c.created_at < now - CLAIM_LEASE,
            )
            .values(created_at=now)
        )
        if taken.rowcount:
            self.claimed_at = now
            return now
        return None

    def _mine(self) -> list[Any]:
        return [
            *self._this_key(),
            idempotency_keys.c.status_code == IN_PROGRESS,
            idempotency_keys.c.created_at == self.claimed_at,
        ]

    def release(self, connection: Connection) -> None:
        connection.execute(delete(idempotency_keys).where(*self._mine()))

    def answer(self, connection: Connection, status_code: int, payload: Any) -> Answer:
        """Store the answer under the claim; if a twin took the claim over (its lease ran
        out), the answer it stored is the key's."""
        stored = connection.execute(
            update(idempotency_keys)
            .where(*self._mine())
            .values(status_code=status_code, response_body=json.dumps(payload))
        )
        if not stored.rowcount:
            twin = stored_key(connection, self.actor, self.route, self.key, self.request_hash)
            if twin is not None and twin.status_code != IN_PROGRESS:
                return Answer(twin.status_code, json.loads(twin.response_body), replayed=True)
        return Answer(status_code, payload)
