"""What the after-sales, webhook and audit routes answer (case_views.py,
webhook_routes.py and audit_routes.py build them)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from buyerguard.api.answers import Answer, Event, Instant, Yuan, page_of


class Case(Answer):
    """An after-sales case: refund-only, return or custom dispute."""

    id: str = Field(description="the case's id")
    type: str = Field(description="refund_only, return_no_reason, return_quality, custom…")
    order_id: str = Field(description="the order")
    sub_order_id: str = Field(description="the sub-order it is about")
    buyer_id: str = Field(description="the buyer")
    merchant_id: str = Field(description="the merchant")
    state: str = Field(description="where the case stands (docs/aftersales.md)")
    goods: str = Field(description="where the goods are: with_buyer, in_transit, returned…")
    requested: Yuan
    offered: Yuan | None = Field(description="the merchant's offer, when one")
    agreed: Yuan | None = Field(description="the amount agreed, when agreed")
    refunded: Yuan
    quick_refunded: Yuan
    compensated: Yuan
    trigger: str | None = Field(description="the custom-goods trigger, for a custom dispute")
    official_pickup: bool = Field(description="the return goes by the platform's pickup")
    negotiated: bool = Field(description="the merchant offered another amount")
    outcome: str | None = Field(description="how it ended")
    reason: str = Field(description="the buyer's reason")
    opened_by: str = Field(description="who opened it")
    opened_at: Instant
    closed_at: Instant | None = Field(description="when it ended")
    rulebook_id: str = Field(description="the rulebook it runs under")


class CasePayment(Answer):
    instruction_id: str = Field(description="the instruction")
    kind: str = Field(description="refund, compensation, subsidy, freight…")
    party: str = Field(description="who is paid")
    amount: Yuan
    state: str = Field(description="instructed, executed or failed")


class Deadline(Answer):
    kind: str = Field(description="whose move it is and what happens at the deadline")
    due_at: Instant


class CaseStep(Answer):
    action: str = Field(description="what was done")
    actor: str = Field(description="who did it")
    from_state: str | None = Field(description="state before")
    to_state: str = Field(description="state after")
    goods_from: str | None = Field(description="where the goods were")
    goods_to: str | None = Field(description="where the goods went")
    occurred_at: Instant
    note: str | None = Field(description="the actor's note")
    evidence: list[dict[str, Any]] | None = Field(description="evidence given")
    details: dict[str, Any] | None = Field(description="what else the step recorded")


class CaseDetail(Case):
    """A case with its running deadline, what it owes and paid, its steps and decisions."""

    owed: Yuan
    paid: Yuan
    payments: list[CasePayment] = Field(description="its instructions")
    deadline: Deadline | None = Field(description="the deadline running now")
    history: list[CaseStep] = Field(description="every step, oldest first")
    decisions: list[Event] = Field(description="every decision, oldest first")


class WebhookEndpoint(Answer):
    """A webhook endpoint: where events go, and how delivery stands."""

    id: str = Field(description="the endpoint's id")
    url: str = Field(description="where events are POSTed")
    description: str = Field(description="the operator's note")
    event_kinds: list[str] | None = Field(description="the kinds delivered; null: every kind")
    state: str = Field(description="active or disabled")
    cursor: str = Field(description="the feed cursor delivered up to")
    failing_since: Instant | None = Field(description="first failure of the current run")
    attempts: int = Field(description="failed attempts of the current event")
    next_attempt_at: Instant | None = Field(description="when it is tried again")
    disabled_at: Instant | None = Field(description="when it was disabled")
    disabled_reason: str | None = Field(description="why it was disabled")
    previous_secret_until: Instant | None = Field(description="the old secret signs until")
    created_at: Instant
    created_by: str = Field(description="who registered it")


class WebhookEndpointWithSecret(WebhookEndpoint):
    """An endpoint with its signing secret, shown only in this answer."""

    secret: str = Field(description="whsec_…: keep it where the receiver can read it")


class WebhookDelivery(Answer):
    """One delivery attempt."""

    id: int = Field(description="the attempt's id")
    event_id: str = Field(description="the event delivered")
    cursor: str = Field(description="its feed cursor")
    attempt: int = Field(description="attempt number, from 1")
    outcome: str = Field(description="delivered or failed")
    status_code: int | None = Field(description="the receiver's HTTP status")
    error: str | None = Field(description="what went wrong")
    duration_ms: int = Field(description="how long the attempt took")
    attempted_at: Instant


class AuditEntry(Answer):
    """One command, as the audit log recorded it."""

    id: int = Field(description="the entry's id, increasing")
    actor: str = Field(description="who (role:party)")
    token_id: str | None = Field(description="the token used")
    command: str = Field(description="the route or CLI command")
    subject_id: str | None = Field(description="what it acted on")
    occurred_at: Instant | None = Field(description="when it happened, as reported")
    recorded_at: Instant
    details: dict[str, Any] | None = Field(description="what else was recorded")


CasePage = page_of(Case, "CasePage")
WebhookEndpointPage = page_of(WebhookEndpoint, "WebhookEndpointPage")
WebhookDeliveryPage = page_of(WebhookDelivery, "WebhookDeliveryPage")
AuditPage = page_of(AuditEntry, "AuditPage")
