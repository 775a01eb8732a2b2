"""What the logistics routes (disruptions, slowdowns) answer, declared for /openapi.json."""

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


class SlowdownAnswer(Answer):
    """A logistics slowdown: whole Shanghai days every carrier slows, stepped over like a
    public holiday by the promises whose span they touch."""

    id: str = Field(description="the slowdown's id")
    name: str = Field(description="what it is called (Spring Festival 2027, Double 11 peak)")
    first_day: str = Field(description="its first Shanghai day (YYYY-MM-DD)")
    last_day: str = Field(description="its last Shanghai day, inclusive (YYYY-MM-DD)")
    reason: str = Field(description="why, as declared or seeded")
    source: str = Field(description="operator (declared) or rulebook (seeded every year)")
    declared_at: Instant = Field(description="when it was declared or seeded")
    declared_by: str = Field(description="who declared it (the scheduler for a seed)")
    withdrawn_at: Instant | None = Field(description="when an operator withdrew it; null if not")
    withdrawn_by: str | None = Field(description="who withdrew it; null if not")


SlowdownPage = page_of(SlowdownAnswer, "SlowdownPage")
