"""What the logistics-disruption routes answer, declared for /openapi.json."""

from __future__ import annotations

from pydantic import Field

from buyerguard.api.answers import Answer, Instant, page_of


class DisruptionAnswer(Answer):
    """A declared logistics disruption: a carrier slowed in some regions for a while."""

    id: str = Field(description="the disruption's id")
    carrier: str = Field(description="the carrier it slows")
    regions: list[str] = Field(description="GB/T 2260 codes: a province, city or district each")
    from_: Instant = Field(alias="from", description="when it begins")
    until: Instant = Field(description="when it was declared to end (exclusive)")
    expected_extra_days: int = Field(description="days added to the promises it covers")
    reason: str = Field(description="why, as declared")
    active_until: Instant = Field(description="when it stops acting: until, or when ended")
    declared_at: Instant = Field(description="when it was declared")
    declared_by: str = Field(description="who declared it")
    ended_at: Instant | None = Field(description="when an operator ended it; null if not")
    ended_by: str | None = Field(description="who ended it; null if not")


DisruptionPage = page_of(DisruptionAnswer, "DisruptionPage")
