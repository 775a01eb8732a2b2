"""The batch of facts (`POST /v1/facts`): its envelope and its bounds; each fact's body is
its own route's (schemas.py)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, WithJsonSchema

from buyerguard.api.schemas import TEXT_PATTERN, Body, RefId

MAX_BATCH_FACTS = 1000
IDEMPOTENCY_KEY_MAX_LENGTH = 200


class FactEnvelope(Body):
    """One fact of a batch: the body its single route takes, and that route's key."""

    kind: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z-]+$")] = Field(
        description="the fact: order, payment, shipment, signing, confirmation, "
        "cancellation, refund-before-shipment, payout-execution, instruction-execution, "
        "case, case-<action>",
        examples=["order", "payment", "shipment", "signing", "confirmation"],
    )
    order_id: RefId | None = Field(
        default=None,
        description="the order (every order fact; an `order` fact places its order under it "
        "when its body names no `id`)",
    )
    instruction_id: RefId | None = Field(
        default=None, description="the instruction or payout (execution reports)"
    )
    case_id: RefId | None = Field(default=None, description="the case (case actions)")
    idempotency_key: Annotated[
        str, Field(min_length=1, max_length=IDEMPOTENCY_KEY_MAX_LENGTH, pattern=TEXT_PATTERN)
    ] = Field(description="the Idempotency-Key its own route would take")
    body: dict[str, Any] | None = Field(
        default=None, description='what the kind\'s own route takes, e.g. {"amount": "36.00"}'
    )


class FactsIn(Body):
    """A batch of facts, applied in order."""

    # Objects here, each read as a FactEnvelope on its own (api/fact_batches.py): a
    # malformed fact is refused in its own result and never refuses the batch around it.
    # The document shows the envelope, and that any object is taken.
    facts: list[
        Annotated[
            dict[str, Any],
            WithJsonSchema({"anyOf": [FactEnvelope.model_json_schema(), {"type": "object"}]}),
        ]
    ] = Field(
        min_length=1,
        max_length=MAX_BATCH_FACTS,
        description="the facts, in order; an object that is not a well-formed fact is "
        "refused in its own result",
    )
