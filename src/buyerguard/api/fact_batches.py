"""A batch of facts (`POST /v1/facts`): each applied as its own command, in order, and a
refusal holding back the later facts of what it is about.

What a fact is about — its chain — is its order (`order_id`, the id an `order` fact
places, or, for a case action, its case's order) or its instruction. A case's order is
read from the database, or from an opening earlier in the same batch that names its case
id; a case known to neither chains by its own id. The same chains serve
`buyerguard facts load` across the batches of a file (facts_load.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection

from buyerguard.api.fact_schemas import FactEnvelope
from buyerguard.api.facts import FACT_KINDS, apply_fact
from buyerguard.api.validation import validation_refusal
from buyerguard.bootstrap import Runtime
from buyerguard.errors import BuyerguardError, InvalidInput
from buyerguard.services.context import Actor
from buyerguard.store.case_repository import orders_of_cases
from buyerguard.store.db import read_transaction

Chain = tuple[str, str]  # ("order" | "instruction" | "case", its id)


@dataclass(frozen=True)
class FactResult:
    index: int
    outcome: str  # applied, replayed, skipped, refused
    status_code: int
    response: Any = None
    error: dict[str, str | None] | None = None
    order_id: str | None = None

    def view(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "outcome": self.outcome,
            "status": self.status_code,
            "order_id": self.order_id,
            "response": self.response,
            "error": self.error,
        }


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def case_opened(fact: Mapping[str, Any]) -> tuple[str, str] | None:
    """(case id, order id) of a `case` fact that names the id of the case it opens."""
    body = fact.get("body")
    case_id = _text(body.get("id")) if isinstance(body, Mapping) else None
    order_id = _text(fact.get("order_id"))
    if fact.get("kind") != "case" or case_id is None or order_id is None:
        return None
    return case_id, order_id


def chain_of(fact: Mapping[str, Any], case_orders: Mapping[str, str]) -> Chain | None:
    """What `fact` is about, for holding back its later facts; None: nothing known."""
    kind = fact.get("kind")
    if kind == "order":
        body = fact.get("body")
        named = _text(body.get("id")) if isinstance(body, Mapping) else None
        placed = _text(fact.get("order_id")) or named  # as later facts name it
        return None if placed is None else ("order", placed)
    known = FACT_KINDS.get(kind) if isinstance(kind, str) else None
    subject = known.subject if known is not None else "order_id"
    subject_id = _text(fact.get(subject))
    if subject_id is None:
        return None
    if subject == "case_id":
        order_id = case_orders.get(subject_id)
        return ("case", subject_id) if order_id is None else ("order", order_id)
    return (subject.removesuffix("_id"), subject_id)


def skipped_error(chain: Chain, where: str) -> dict[str, str | None]:
    return {
        "code": "skipped_after_refusal",
        "message": f"an earlier fact of {chain[0]} {chain[1]} {where} was refused",
        "field": None,
    }


def batch_case_orders(rt: Runtime, facts: list[dict[str, Any]]) -> dict[str, str]:
    """The order of every case the batch acts on: openings in the batch that name their
    case, overridden by the cases the database has (one statement)."""
    case_orders = dict(opened for fact in facts if (opened := case_opened(fact)) is not None)
    acted_on = [
        case_id
        for fact in facts
        if str(fact.get("kind", "")).startswith("case-")
        and (case_id := _text(fact.get("case_id"))) is not None
    ]
    if acted_on:
        with read_transaction(rt.engine) as connection:
            case_orders |= orders_of_cases(connection, acted_on)
    return case_orders


def apply_batch(rt: Runtime, actor: Actor, facts: list[dict[str, Any]]) -> list[FactResult]:
    """Apply facts in order, each as its own command; one result per fact.

    Each fact is read as a FactEnvelope on its own. A refused fact (a malformed one too)
    makes every later fact of the same chain `skipped` (nothing written for it), and never
    holds up other orders. Everything answered `applied` has committed before the batch
    answers.
    """
    case_orders = batch_case_orders(rt, facts)
    # One connection for the whole batch: each fact is still its own transaction, but
    # none checks a connection out of the pool (and pings it) for itself.
    with rt.engine.connect() as connection:
        return _apply_each(rt, actor, facts, case_orders, connection)


def _apply_each(
    rt: Runtime,
    actor: Actor,
    facts: list[dict[str, Any]],
    case_orders: dict[str, str],
    connection: Connection,
) -> list[FactResult]:
    refused: set[Chain] = set()
    results: list[FactResult] = []
    for index, fact in enumerate(facts):
        chain = chain_of(fact, case_orders)
        order_id = chain[1] if chain is not None and chain[0] == "order" else None
        if chain is not None and chain in refused:
            error = skipped_error(chain, "in this batch")
            results.append(FactResult(index, "skipped", 409, error=error, order_id=order_id))
            continue
        try:
            answer = _apply_one(rt, actor, fact, connection)
        except BuyerguardError as exc:
            if chain is not None:
                refused.add(chain)
            status = exc.status_code if 400 <= exc.status_code < 600 else 422
            results.append(
                FactResult(index, "refused", status, error=exc.as_dict(), order_id=order_id)
            )
            continue
        outcome = "replayed" if answer.replayed else "applied"
        results.append(
            FactResult(
                index, outcome, answer.status_code, response=answer.payload, order_id=order_id
            )
        )
    return results


def _apply_one(rt: Runtime, actor: Actor, fact: dict[str, Any], connection: Connection) -> Any:
    """Read one fact's envelope and body, and apply it; every problem a refusal."""
    try:
        envelope = FactEnvelope.model_validate(fact)
    except ValidationError as exc:
        raise validation_refusal(exc.errors()) from None
    if envelope.kind not in FACT_KINDS:
        raise InvalidInput(
            "invalid_choice",
            f"kind must be one of {', '.join(FACT_KINDS)}: {envelope.kind!r}",
            "kind",
        )
    known = FACT_KINDS[envelope.kind]
    subject_id = getattr(envelope, known.subject)
    if envelope.kind != "order" and subject_id is None:
        raise InvalidInput(
            f"{known.subject.removesuffix('_id')}_id_missing",
            f"a {envelope.kind} fact names its {known.subject}",
            known.subject,
        )
    raw_body = envelope.body or {}
    if envelope.kind == "order" and envelope.order_id is not None:
        raw_body = _placed_as_named(raw_body, envelope.order_id)
    try:
        body = known.body.model_validate(raw_body)
    except ValidationError as exc:
        raise validation_refusal(exc.errors(), prefix="body") from None
    key = envelope.idempotency_key
    return apply_fact(rt, actor, envelope.kind, subject_id, body, key, connection)


def _placed_as_named(body: dict[str, Any], order_id: str) -> dict[str, Any]:
    """An `order` fact whose envelope names its order places the order under that id: the
    body's `id`, when it has none (it was ignored: the order got a new id, and every later
    fact of the batch naming `order_id` was refused `order_not_found`). Two ids that differ
    are refused, as nothing could tell which is meant."""
    named = body.get("id")
    if named is None:
        return {**body, "id": order_id}
    if named != order_id:
        raise InvalidInput(
            "order_id_mismatch",
            f"order_id {order_id!r} and body.id {named!r} name different orders: "
            "name the order once, or the same in both",
            "order_id",
        )
    return body
