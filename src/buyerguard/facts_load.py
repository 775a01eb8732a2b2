"""`buyerguard facts load`: stream an NDJSON file of facts through a running server.

Each line is one fact as `POST /v1/facts` takes it (`kind`, `order_id`,
`idempotency_key`, `body`). Lines go in batches; every fact carries its own
key, so a load cut short (the server killed, the network gone) is finished by
running the same file again: what was applied replays, the rest applies.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from buyerguard.errors import InvalidInput, NotReady

BUSY_RETRIES = 5  # a 503 is retried this often, after its Retry-After


@dataclass
class LoadSummary:
    lines: int = 0
    sent: int = 0  # facts sent to the server (the rest were refused or skipped here)
    counts: dict[str, int] = field(
        default_factory=lambda: {"applied": 0, "replayed": 0, "skipped": 0, "refused": 0}
    )
    refused: list[tuple[int, str, str]] = field(default_factory=list)  # line, code, message


def read_facts(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """(line number, the fact or None, why not) for every non-blank line.

    Read as bytes and decoded line by line: a line that is not UTF-8 (JSON text is) is
    refused on its own, like any other malformed line, instead of stopping the load.
    """
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                yield number, None, f"not UTF-8 at byte {exc.start + 1}: JSON text must be UTF-8"
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, None, f"not JSON: {exc.msg}"
                continue
            if not isinstance(value, dict) or "idempotency_key" not in value:
                yield number, None, "a fact is a JSON object with an idempotency_key"
                continue
            yield number, value, ""


def _post(url: str, token: str, payload: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{url.rstrip('/')}/v1/facts",
        data=json.dumps(payload).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    for attempt in range(BUSY_RETRIES + 1):
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                answer: dict[str, Any] = json.loads(response.read())
                return answer
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            if exc.code == 503 and attempt < BUSY_RETRIES:
                time.sleep(float(exc.headers.get("Retry-After") or 1))
                continue
            raise InvalidInput(
                "batch_refused", f"the server answered {exc.code}: {detail}", "url"
            ) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            raise NotReady(
                "server_unreachable",
                f"no answer from {url} ({exc}); run the same file again to finish",
                "url",
            ) from None
    raise AssertionError("unreachable")  # pragma: no cover


def load_file(
    path: Path,
    url: str,
    token: str,
    batch_size: int,
    advance: Callable[[int], None] = lambda lines: None,
) -> LoadSummary:
    """Send every fact of the file in batches; count the outcomes, keep the refused lines."""
    from buyerguard.api.facts import order_of

    summary = LoadSummary()
    batch: list[tuple[int, dict[str, Any]]] = []
    refused_orders: set[str] = set()  # across batches, as the server does within one

    def flush() -> None:
        if not batch:
            return
        answer = _post(url, token, {"facts": [fact for _, fact in batch]})
        summary.sent += len(batch)
        for (number, fact), result in zip(batch, answer["results"], strict=True):
            summary.counts[result["outcome"]] += 1
            if result["outcome"] in ("refused", "skipped"):
                error = result["error"] or {}
                summary.refused.append((number, str(error.get("code")), str(error.get("message"))))
                if (order := order_of(fact)) is not None:
                    refused_orders.add(order)
        advance(len(batch))
        batch.clear()

    for number, fact, problem in read_facts(path):
        summary.lines += 1
        if fact is None:
            summary.counts["refused"] += 1
            summary.refused.append((number, "line_malformed", problem))
            advance(1)
            continue
        order = order_of(fact)
        if order is not None and order in refused_orders:
            summary.counts["skipped"] += 1
            summary.refused.append(
                (number, "skipped_after_refusal", f"an earlier fact of order {order} was refused")
            )
            advance(1)
            continue
        batch.append((number, fact))
        if len(batch) >= batch_size:
            flush()
    flush()
    return summary


def count_lines(path: Path) -> int:
    with path.open("rb") as lines:
        return sum(1 for line in lines if line.strip())
