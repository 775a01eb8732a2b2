"""Request bodies of after-sales cases: opening one, acting on one, the evidence they carry.

Limits follow schemas.py: every string has its column's length and refuses control
characters; amounts are decimal yuan strings.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool

from buyerguard.api.schemas import (
    CHOICE_PATTERN,
    Body,
    Choice,
    FactIn,
    Label,
    NewId,
    RefId,
    Trigger,
    Yuan,
    text_field,
)


class EvidenceIn(Body):
    """A reference to evidence kept elsewhere: where, its hash, a note."""

    uri: Annotated[str, text_field(500, min_length=1)] = Field(
        description="where the evidence is kept",
        examples=["https://files.example.com/claims/photo-1.jpg"],
    )
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = Field(
        default=None, description="SHA-256 of the content, lowercase hex"
    )
    note: Annotated[str, text_field(500)] | None = Field(default=None, description="what it shows")


MAX_EVIDENCE = 20


class CaseIn(FactIn):
    """A buyer's after-sales request on one shipped sub-order."""

    id: NewId | None = Field(default=None, description="the case id (default: generated)")
    type: Annotated[str, Field(min_length=1, max_length=32, pattern=CHOICE_PATTERN)] = Field(
        description="refund_only_not_received, refund_only_quality, return_no_reason, "
        "return_quality, custom_dispute, transit_claim (the merchant) or false_shipment "
        "(the marketplace or an operator)",
        examples=["return_no_reason"],
    )
    sub_order_id: RefId = Field(description="the shipped sub-order it is about")
    amount: Yuan | None = Field(
        default=None, description="what the buyer asks back (default: all that is left)"
    )
    reason: Annotated[str, text_field(500, min_length=1)] = Field(
        description="the buyer's reason, for the merchant and the record"
    )
    trigger: Trigger | None = Field(
        default=None,
        description="custom_dispute: the failure, one of custom_compensation.triggers",
        examples=["misprinted"],
    )
    evidence: list[EvidenceIn] = Field(
        default_factory=list, max_length=MAX_EVIDENCE, description="evidence kept elsewhere"
    )


class CaseActionIn(FactIn):
    """An action on a case; each action reads the fields it needs (docs/aftersales.md)."""

    amount: Yuan | None = Field(default=None, description="offer; ruling for the buyer")
    note: Annotated[str, text_field(1000)] | None = Field(
        default=None, description="for the record"
    )
    evidence: list[EvidenceIn] = Field(
        default_factory=list, max_length=MAX_EVIDENCE, description="evidence kept elsewhere"
    )
    official_logistics: StrictBool = Field(
        default=False, description="handover: a doorstep pickup by the platform's logistics"
    )
    carrier: Label | None = Field(default=None, description="handover, pickup")
    tracking_number: Label | None = Field(default=None, description="handover (buyer-sent)")
    freight: Yuan | None = Field(default=None, description="pickup: the official freight")
    result: Choice | None = Field(
        default=None, description="inspection: ok or wrong_or_empty; ruling: buyer or merchant"
    )
    send_goods_back: StrictBool = Field(
        default=False, description="ruling: the return cannot be resold, send it back"
    )
    buyer_malicious: StrictBool = Field(
        default=False, description="ruling: the buyer of an empty or wrong return was malicious"
    )
