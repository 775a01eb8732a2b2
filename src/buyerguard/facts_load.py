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
import urllib.parse
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
    """(line number, the line's JSON object or None, why it is refused: "" if it is not)
    for every non-blank line.

    Read as bytes and decoded line by line: a line that is not UTF-8 (JSON text is) is
    refused on its own, like any other malformed line, instead of stopping the load. A
    byte-order mark may begin any line (files each with one, concatenated). A refused line
    that still reads as an object (no idempotency_key; bytes not UTF-8 within its strings)
    comes with its refusal, so that the load holds back the later lines of what it is
    about, as the server does after a refused fact.
    """
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                line = raw.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                problem = f"not UTF-8 at byte {exc.start + 1}: JSON text must be UTF-8"
                yield number, _object(raw.decode("utf-8-sig", errors="replace")), problem
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                at = "" if exc.msg.endswith(" at") else " at"  # "… string starting at"
                yield number, None, f"not JSON: {exc.msg}{at} column {exc.colno}"
                continue
            except RecursionError:  # arrays or objects nested thousands deep
                yield number, None, "nested too deeply to read: a fact is a few levels deep"
                continue
            if not isinstance(value, dict):
                yield number, None, "a fact is a JSON object with an idempotency_key"
                continue
            if "idempotency_key" not in value:
                yield number, value, "a fact is a JSON object with an idempotency_key"
                continue
            yield number, value, ""


def _object(text: str) -> dict[str, Any] | None:
    """The JSON object `text` holds, if it is one (to know what a refused line is about)."""
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def check_url(url: str) -> None:
    """Refuse a `--url` that names no http(s) server (urllib would fail, or open a file)."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 (raises for a port that is not a number in 0..65535)
    except ValueError as malformed:
        problem = f"malformed: {malformed}"
    else:
        if parts.scheme in ("http", "https") and parts.hostname:
            return
        problem = "not an http(s) URL with a host"
    raise InvalidInput(
        "url_invalid", f"--url is the server's http(s) URL: {problem}: {url!r}", "url"
    )


def _not_an_answer(url: str, body: bytes) -> InvalidInput:
    shown = body[:200].decode(errors="replace")
    return InvalidInput(
        "answer_malformed",
        f"{url} answered what a buyerguard server does not: {shown!r}; is it the server?",
        "url",
    )


def _send(url: str, token: str, path: str, payload: dict[str, Any] | None) -> dict[str, Any]:
    """POST `payload` (GET when None) to `path`, retrying a busy server's 503s."""
    request = urllib.request.Request(
        f"{url.rstrip('/')}{path}",
        data=None if payload is None else json.dumps(payload).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="GET" if payload is None else "POST",
    )
    for attempt in range(BUSY_RETRIES + 1):
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                body = response.read()
            try:
                answer = json.loads(body)
            except ValueError:  # not JSON, or not even UTF-8
                answer = None
            if not isinstance(answer, dict):
                raise _not_an_answer(url, body)
            return answer
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            if exc.code == 503 and attempt < BUSY_RETRIES:
                time.sleep(float(exc.headers.get("Retry-After") or 1))
                continue
            raise InvalidInput(
                "batch_refused" if payload is not None else "lookup_refused",
                f"the server answered {exc.code}: {detail}",
                "url",
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
    """Send every fact of the file in batches; count the outcomes, keep the refused lines.

    A refusal holds back the later lines of its chain (api/fact_batches.py) across batches
    too, as the server does within one: the order of a case a line acts on is known from
    an opening earlier in the file, from the server's results, or asked of the server.
    """
    from buyerguard.api.fact_batches import Chain, case_opened, chain_of, skipped_error

    check_url(url)
    summary = LoadSummary()
    batch: list[tuple[int, dict[str, Any]]] = []
    refused: set[Chain] = set()
    case_orders: dict[str, str] = {}
    asked: set[str] = set()

    def learn_case(fact: dict[str, Any]) -> None:
        if (opened := case_opened(fact)) is not None:
            case_orders.setdefault(*opened)
        case_id = fact.get("case_id")
        acts = str(fact.get("kind", "")).startswith("case-")
        if acts and isinstance(case_id, str) and case_id not in case_orders.keys() | asked:
            asked.add(case_id)  # asked once; unknown to the server too: it chains by its id
            try:
                known = _send(url, token, f"/v1/cases/{urllib.parse.quote(case_id, safe='')}", None)
            except InvalidInput:
                return
            if isinstance(known.get("order_id"), str):
                case_orders[case_id] = known["order_id"]

    def flush() -> None:
        if not batch:
            return
        answer = _send(url, token, "/v1/facts", {"facts": [fact for _, fact in batch]})
        results = answer.get("results")
        if not isinstance(results, list) or len(results) != len(batch):
            raise _not_an_answer(url, json.dumps(answer).encode())
        summary.sent += len(batch)
        for (number, fact), result in zip(batch, results, strict=True):
            summary.counts[result["outcome"]] += 1
            order_id = result.get("order_id")  # the server's word: a case's order as stored
            if isinstance(order_id, str) and isinstance(fact.get("case_id"), str):
                case_orders[fact["case_id"]] = order_id
            if result["outcome"] in ("refused", "skipped"):
                error = result["error"] or {}
                summary.refused.append((number, str(error.get("code")), str(error.get("message"))))
                chain = ("order", order_id) if isinstance(order_id, str) else None
                chain = chain or chain_of(fact, case_orders)
                if chain is not None:
                    refused.add(chain)
        advance(len(batch))
        batch.clear()

    for number, fact, problem in read_facts(path):
        summary.lines += 1
        chain = None
        if fact is not None:
            learn_case(fact)
            chain = chain_of(fact, case_orders)
        if chain is not None and chain in refused:
            summary.counts["skipped"] += 1
            error = skipped_error(chain, "in this file")
            summary.refused.append((number, str(error["code"]), str(error["message"])))
            advance(1)
            continue
        if problem:  # refused here, holding back its chain as a refusal by the server does
            summary.counts["refused"] += 1
            summary.refused.append((number, "line_malformed", problem))
            if chain is not None:
                refused.add(chain)
            advance(1)
            continue
        assert fact is not None
        batch.append((number, fact))
        if len(batch) >= batch_size:
            flush()
    flush()
    return summary


def count_lines(path: Path) -> int:
    with path.open("rb") as lines:
        return sum(1 for line in lines if line.strip())
