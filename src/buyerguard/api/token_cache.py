"""Tokens looked up recently, kept for a few seconds so that a busy client's requests do
not each spend a read transaction on their bearer token.

Only tokens that were accepted are kept (an unknown secret is looked up every time, so
guessing fills nothing). An entry lives `ttl_seconds` of real time: a token revoked
(`buyerguard token revoke`, another process) stops working in every worker within that
long. Expiry is checked on every use against the engine's clock, as without the cache.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

from buyerguard.services.context import Actor
from buyerguard.services.tokens import refuse_expired

MAX_ENTRIES = 10_000  # a worker serving more distinct tokens than this starts afresh


class TokenCache:
    def __init__(self, ttl_seconds: float) -> None:
        self.ttl_seconds = ttl_seconds
        self._entries: dict[str, tuple[Actor, datetime | None, float]] = {}
        self._lock = threading.Lock()

    def get(self, hashed: str, now: datetime) -> Actor | None:
        """The caller of a token accepted less than `ttl_seconds` ago; None: look it up.
        An expired token is refused here as the store would refuse it."""
        entry = self._entries.get(hashed)
        if entry is None:
            return None
        actor, expires_at, kept_until = entry
        if time.monotonic() >= kept_until:
            with self._lock:
                self._entries.pop(hashed, None)
            return None
        refuse_expired(expires_at, now)
        return actor

    def put(self, hashed: str, actor: Actor, expires_at: datetime | None) -> None:
        if self.ttl_seconds <= 0:
            return
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[hashed] = (actor, expires_at, time.monotonic() + self.ttl_seconds)
