"""What a request needs from the running app: engine, clock, rulebooks, caller.

`run_command` is the one way a POST changes state: it opens the transaction,
replays or refuses a repeated `Idempotency-Key`, runs the handler, stores the
response under the key, and commits, so a refused request stores nothing.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Connection, Row, Select, bindparam, false, null, select, update
from sqlalchemy.exc import IntegrityError

from buyerguard.api.token_cache import TokenCache
from buyerguard.bootstrap import Runtime
from buyerguard.clock import ensure_utc
from buyerguard.errors import Conflict, InvalidInput, Unauthorized
from buyerguard.logs import get_logger
from buyerguard.services.context import Actor, Context
from buyerguard.services.records import (
    check_decisions_written,
    decisions_insert,
    take_pending_decisions,
    write_audit_rows,
)
from buyerguard.services.tokens import authenticate_hash, token_hash
from buyerguard.store.db import (
    insert_if_absent,
    is_postgres,
    numbered_parameters,
    numbered_rows_insert,
    read_transaction,
    retrying,
)
from buyerguard.store.tables import audit_log, idempotency_keys

log = get_logger(__name__)
MAX_KEY_LENGTH = 200
Handler = Callable[[Context], tuple[int, Any]]
_ANSWER_UPDATE = (  # built once: every keyed command runs it
    update(idempotency_keys)
    .where(
        idempotency_keys.c.principal == bindparam("key_principal"),
        idempotency_keys.c.route == bindparam("key_route"),
        idempotency_keys.c.key == bindparam("key_value"),
    )
    .values(  # named apart from the columns: the update may run inside another statement
        status_code=bindparam("answer_status_code"),
        response_body=bindparam("answer_response_body"),
    )
)


@functools.lru_cache(maxsize=64)
def _answer_with_rows(audit_count: int, decision_count: int) -> Select[Any]:
    """PostgreSQL: the answer stored under its key, the command's `audit_count` audit rows
    (parameters `audit<i>_<column>`) and its `decision_count` decisions not yet written
    (`decision<i>_<column>`) in one statement; answers the ids of the decisions inserted."""
    columns = [column for column in audit_log.c if column.name != "id"]
    statement = select(null().label("id")).where(false())
    if decision_count:
        new_decisions = decisions_insert(decision_count).cte("new_decisions")
        statement = select(new_decisions.c.id)
    statement = statement.add_cte(
        _ANSWER_UPDATE.returning(idempotency_keys.c.key).cte("stored_answer")
    )
    if audit_count:
        new_audit = numbered_rows_insert(audit_log, columns, audit_count, "audit")
        statement = statement.add_cte(new_audit.cte("new_audit"))
    return statement


def _store_answer(
    connection: Connection, audit_rows: list[dict[str, Any]], answer: dict[str, Any] | None
) -> None:
    """Write the command's audit rows and, for a keyed command, its answer — on PostgreSQL
    with the decisions it has not written yet, in one round trip."""
    if answer is not None and is_postgres(connection):
        decision_rows = take_pending_decisions(connection)
        parameters = (
            answer
            | numbered_parameters(audit_rows, "audit")
            | numbered_parameters(decision_rows, "decision")
        )
        statement = _answer_with_rows(len(audit_rows), len(decision_rows))
        written = set(connection.execute(statement, parameters).scalars())
        check_decisions_written(connection, decision_rows, written)
        return
    write_audit_rows(connection, audit_rows)
    if answer is not None:
        connection.execute(_ANSWER_UPDATE, answer)


def runtime(request: Request) -> Runtime:
    value = request.app.state.runtime
    assert isinstance(value, Runtime)
    return value


def _bearer_hash(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized("token_missing", "send Authorization: Bearer <token>", "authorization")
    return token_hash(secret.strip())


def cached_actor(request: Request) -> Actor | None:
    """The caller, if this request or a recent one with its token found it (no database);
    None: `current_actor` must look the token up."""
    known = getattr(request.state, "actor", None)
    if isinstance(known, Actor):
        return known
    cache = request.app.state.token_cache
    assert isinstance(cache, TokenCache)
    actor = cache.get(_bearer_hash(request), ensure_utc(runtime(request).clock.now()))
    if actor is not None:
        request.state.actor = actor
    return actor


def current_actor(request: Request) -> Actor:
    """The caller, from `Authorization: Bearer <token>`: looked up once per request, and
    kept for the token cache's few seconds (api/token_cache.py)."""
    known = cached_actor(request)
    if known is not None:
        return known
    hashed = _bearer_hash(request)
    rt = runtime(request)
    with read_transaction(rt.engine) as connection:
        actor, expires_at = authenticate_hash(connection, hashed, ensure_utc(rt.clock.now()))
    request.app.state.token_cache.put(hashed, actor, expires_at)
    request.state.actor = actor
    return actor


def request_hash_of(body: BaseModel | None) -> str:
    canonical = json.dumps(
        body.model_dump(mode="json") if body is not None else None, sort_keys=True
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Answer:
    """What a command answered: status, JSON payload, and whether it was a replay."""

    status_code: int
    payload: Any
    replayed: bool = False

    def response(self) -> JSONResponse:
        headers = {"Idempotent-Replayed": "true"} if self.replayed else None
        return JSONResponse(self.payload, status_code=self.status_code, headers=headers)


def stored_key(
    connection: Connection, actor: Actor, route: str, key: str, request_hash: str
) -> Row[Any] | None:
    """The row stored under the caller's key on this route, if any; refused when it was
    stored for another body."""
    row = connection.execute(
        select(idempotency_keys).where(
            idempotency_keys.c.principal == actor.label,
            idempotency_keys.c.route == route,
            idempotency_keys.c.key == key,
        )
    ).first()
    if row is not None and row.request_hash != request_hash:
        raise Conflict(
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request body",
            "Idempotency-Key",
        )
    return row


def _replay(
    connection: Connection, actor: Actor, route: str, key: str, request_hash: str
) -> Answer | None:
    row = stored_key(connection, actor, route, key, request_hash)
    if row is None:
        return None
    return Answer(row.status_code, json.loads(row.response_body), replayed=True)


def key_row(
    rt: Runtime,
    actor: Actor,
    route: str,
    key: str,
    request_hash: str,
    status_code: int,
    payload: Any,
) -> dict[str, Any]:
    """An idempotency key's row: claimed (status 0, no answer yet) or with its answer."""
    return {
        "principal": actor.label,
        "route": route,
        "key": key,
        "request_hash": request_hash,
        "status_code": status_code,
        "response_body": json.dumps(payload),
        "created_at": ensure_utc(rt.clock.now()),
    }


def idempotency_key(request: Request) -> str | None:
    """The request's `Idempotency-Key` as the text the client sent. HTTP hands a header over
    as bytes, which Starlette decodes as Latin-1: a key sent as UTF-8 (`付款-1`, `pay-é`) is
    read as UTF-8, so it is the key a batch names in `facts[i].idempotency_key` (a JSON
    string) and the one fact alone or in a batch replays the other. Bytes that are not
    UTF-8 stay the Latin-1 text they were read as, the same on every retry."""
    header = request.headers.get("idempotency-key")
    if header is None or header.isascii():
        return header
    try:
        return header.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return header


def check_idempotency_key(key: str | None) -> None:
    if key is not None and not 0 < len(key) <= MAX_KEY_LENGTH:
        raise InvalidInput(
            "idempotency_key_malformed",
            f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} characters",
            "Idempotency-Key",
        )


def execute_command(
    rt: Runtime,
    actor: Actor,
    route: str,
    key: str | None,
    body: BaseModel | None,
    handler: Handler,
    held_connection: Connection | None = None,
) -> Answer:
    """One command in one transaction: replay or refuse a repeated key, run, store the answer.

    `route` (method and path) scopes the key, so a fact sent alone or in a batch
    replays the same answer. A refusal raises and stores nothing. `held_connection`:
    run on this one (a batch holds one for all its facts) instead of checking one out.
    """
    check_idempotency_key(key)
    request_hash = request_hash_of(body)

    def attempt(connection: Connection) -> Answer:
        if key is not None:
            # Claim the key before doing the work: a concurrent request with the same
            # key waits on this row and, once we commit, replays our answer. A key
            # already taken is a replay (or a refusal, with another body).
            row = key_row(rt, actor, route, key, request_hash, 0, None)
            claimed = insert_if_absent(
                connection, idempotency_keys, row, returning=idempotency_keys.c.key
            ).first()
            if claimed is None:
                replayed = _replay(connection, actor, route, key, request_hash)
                if replayed is not None:
                    return replayed
        ctx = Context(connection, actor, rt.clock, rt.rulebooks, rt.history, audit_rows=[])
        status_code, payload = handler(ctx)
        answer = None
        if key is not None:
            answer = {
                "key_principal": actor.label,
                "key_route": route,
                "key_value": key,
                "answer_status_code": status_code,
                "answer_response_body": json.dumps(payload),
            }
        _store_answer(connection, ctx.audit_rows or [], answer)
        return Answer(status_code, payload)

    try:
        with rt.command_slots:  # a place before the transaction opens (bootstrap.py)
            answer = retrying(rt.engine, attempt, held_connection)
    except IntegrityError as exc:
        # A concurrent request with the same key (or id) committed first.
        if key is not None:
            with read_transaction(rt.engine) as connection:
                replayed = _replay(connection, actor, route, key, request_hash)
                if replayed is not None:
                    return replayed
        raise Conflict(
            "concurrent_conflict", "a concurrent request changed the same resource; retry", None
        ) from exc
    log.debug("command", route=route, status=answer.status_code, replayed=answer.replayed)
    return answer


def run_command(
    request: Request, actor: Actor, body: BaseModel | None, handler: Handler
) -> JSONResponse:
    """The one way a POST changes state (see `execute_command`)."""
    route = f"{request.method} {request.url.path}"
    key = idempotency_key(request)
    return execute_command(runtime(request), actor, route, key, body, handler).response()
