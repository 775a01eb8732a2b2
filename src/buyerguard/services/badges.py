"""The arrival badge 亮标: awarded and withdrawn daily from 72-hour sign rates.

A merchant whose 72-hour pay-to-sign rate beats its industry's order-weighted
average, over enough orders, holds the badge (policies.md §11). A daily timer
re-evaluates every merchant as of the Shanghai midnight it is due at, opens a
spell (`since`) for new holders, closes it (`until`) for those who fell
below, records each change as a decision for the event feed, and schedules
the next day's evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import insert, or_, select, update

from buyerguard.analytics.sign_rate import SignRateParams, badge_transitions
from buyerguard.clock import ensure_utc, format_instant, local_date, next_local_slot
from buyerguard.domain.decision import PLATFORM, Decision, party
from buyerguard.errors import Conflict, NotFound
from buyerguard.money import Rate
from buyerguard.rulebook import Rulebook
from buyerguard.services.context import Context
from buyerguard.services.records import record_repeated_decision
from buyerguard.services.timers import DueTimer, ensure_pending_timer
from buyerguard.store.shipment_history import ShipmentHistory
from buyerguard.store.tables import merchant_badges, merchants

BADGE_DAILY = "arrival.badge_daily"
AWARDED = "arrival_badge_awarded"
WITHDRAWN = "arrival_badge_withdrawn"
BADGE_FIGURES = ("orders", "signed_within", "industry_orders", "industry_signed_within")
BADGE_RULES = (
    "arrival.sign_rate_hours",
    "arrival.sign_rate_window_days",
    "arrival.badge_min_orders",
)


@dataclass(frozen=True)
class BadgeChanges:
    as_of: datetime
    awarded: frozenset[str]
    withdrawn: frozenset[str]
    evaluated: int


def _badge_decision(
    kind: str, merchant_id: str, as_of: datetime, rulebook: Rulebook, detail: dict[str, Any]
) -> Decision:
    verb = "awarded" if kind == AWARDED else "withdrawn"
    return Decision(
        kind=kind,
        subject_id=f"{merchant_id}@{local_date(as_of).isoformat()}",
        amount_fen=0,
        payer=PLATFORM,
        payee=party("merchant", merchant_id),
        rule_ids=BADGE_RULES,
        rulebook_id=rulebook.id,
        explanation=(
            f"arrival badge {verb}: 72-hour sign rate {detail['signed_within']}/"
            f"{detail['orders']} vs industry {detail['industry_signed_within']}/"
            f"{detail['industry_orders']}"
        ),
        details=detail,
    )


def latest_change_after(ctx: Context, as_of: datetime) -> tuple[str, datetime] | None:
    """The latest badge change (a spell's `since` or `until`) recorded after `as_of`, with
    its merchant, or None.

    Spells are judged against the holders of the moment: evaluated as of an instant before
    such a change, a merchant withdrawn later would be awarded again with a second spell
    inside its first (and one awarded later withdrawn before its spell began)."""
    later = (
        merchant_badges.c.since > as_of,
        merchant_badges.c.until.is_not(None) & (merchant_badges.c.until > as_of),
    )
    found: tuple[datetime, str] | None = None
    for row in ctx.connection.execute(
        select(
            merchant_badges.c.merchant_id, merchant_badges.c.since, merchant_badges.c.until
        ).where(or_(*later))
    ):
        changed = max(ensure_utc(row.since), ensure_utc(row.until or row.since))
        if found is None or (changed, row.merchant_id) > found:
            found = (changed, row.merchant_id)
    return None if found is None else (found[1], found[0])


def evaluate_badges(ctx: Context, as_of: datetime) -> BadgeChanges:
    """Re-evaluate every known merchant's badge as of an instant: not in the future, and not
    before the latest change recorded (the history of spells only goes forward)."""
    as_of = ctx.as_of(as_of)
    later = latest_change_after(ctx, as_of)
    if later is not None:
        merchant_id, changed = later
        raise Conflict(
            "as_of_before_badge_change",
            f"as_of {format_instant(as_of)} is before {merchant_id}'s latest badge change at"
            f" {format_instant(changed)}: the badge's history only goes forward",
            "as_of",
        )
    rulebook = ctx.rulebook_at(as_of, field="as_of")
    known = {row.id for row in ctx.connection.execute(select(merchants.c.id))}
    holders = {
        row.merchant_id: row.id
        for row in ctx.connection.execute(
            select(merchant_badges.c.merchant_id, merchant_badges.c.id).where(
                merchant_badges.c.until.is_(None)
            )
        )
    }
    facts = ShipmentHistory.engine_facts(ctx.connection)
    rates = ctx.history.sign_rates(facts, as_of, SignRateParams.from_rulebook(rulebook))
    known_ids = pa.array(sorted(known), pa.string())
    rates = rates.filter(pc.is_in(rates.column("merchant_id"), value_set=known_ids))
    by_merchant = {row["merchant_id"]: row for row in rates.to_pylist()}
    if rulebook.arrival.enabled:
        awarded, withdrawn = badge_transitions(holders, rates)
    else:
        awarded, withdrawn = frozenset(), frozenset(holders)
    for merchant_id in sorted(awarded):
        row = by_merchant[merchant_id]
        detail = {key: row[key] for key in (*BADGE_FIGURES, "industry")}
        ctx.connection.execute(
            insert(merchant_badges).values(
                merchant_id=merchant_id, since=as_of, rulebook_id=rulebook.id, **detail
            )
        )
        record_repeated_decision(
            ctx, _badge_decision(AWARDED, merchant_id, as_of, rulebook, detail), as_of
        )
    for merchant_id in sorted(withdrawn):
        ctx.connection.execute(
            update(merchant_badges)
            .where(merchant_badges.c.id == holders[merchant_id])
            .values(until=as_of)
        )
        row = by_merchant.get(merchant_id) or {
            "orders": 0,
            "signed_within": 0,
            "industry": "",
            "industry_orders": 0,
            "industry_signed_within": 0,
        }
        detail = {key: row[key] for key in ("orders", "signed_within", "industry_orders")}
        detail["industry_signed_within"] = row["industry_signed_within"]
        record_repeated_decision(
            ctx, _badge_decision(WITHDRAWN, merchant_id, as_of, rulebook, detail), as_of
        )
    return BadgeChanges(as_of, frozenset(awarded), frozenset(withdrawn), len(by_merchant))


def next_evaluation(after: datetime, rulebook: Rulebook) -> datetime:
    """The next evaluation instant: Shanghai midnights, every N hours from the last."""
    return next_local_slot(after, timedelta(hours=rulebook.arrival.badge_evaluation_interval_hours))


def ensure_daily_timer(ctx: Context) -> None:
    """Make sure one badge evaluation is pending (idempotent, race-safe)."""
    ensure_pending_timer(
        ctx, BADGE_DAILY, next_evaluation(ctx.now(), ctx.rulebook_at(ctx.now(), field=None))
    )


def daily_badges(ctx: Context, timer: DueTimer) -> str:
    """Timer: evaluate as of the due instant, then schedule the next evaluation. A due
    instant before a change recorded since (by `badge evaluate` while the scheduler was
    behind) is skipped, saying so, rather than refused: a refused timer would retry and be
    dead-lettered, and the next one catches up."""
    due_at = timer.due_at
    following = next_evaluation(due_at, ctx.rulebook_at(due_at, field=None))
    ensure_pending_timer(ctx, BADGE_DAILY, following)
    later = latest_change_after(ctx, due_at)
    if later is not None:  # an operator evaluated by hand while the scheduler was behind
        merchant_id, changed = later
        return f"skipped: {merchant_id}'s badge changed later, at {format_instant(changed)}"
    changes = evaluate_badges(ctx, due_at)
    return (
        f"evaluated {changes.evaluated}: awarded {len(changes.awarded)}, "
        f"withdrawn {len(changes.withdrawn)}"
    )


def badge_status(ctx: Context, merchant_id: str) -> dict[str, Any]:
    """A merchant's badge, its ranking effects, and its history of spells."""
    if (
        ctx.connection.execute(select(merchants.c.id).where(merchants.c.id == merchant_id)).first()
        is None
    ):
        raise NotFound("merchant_not_found", f"no merchant {merchant_id}", "merchant_id")
    rulebook = ctx.rulebook_at(ctx.now(), field=None)
    spells = [
        dict(row)
        for row in ctx.connection.execute(
            select(merchant_badges)
            .where(merchant_badges.c.merchant_id == merchant_id)
            .order_by(merchant_badges.c.since)
        ).mappings()
    ]
    holding = bool(spells) and spells[-1]["until"] is None
    multiplier: Rate = rulebook.arrival.badge_exposure_multiplier
    return {
        "merchant_id": merchant_id,
        "badged": holding,
        "search_filter": holding,
        "exposure_multiplier": str(multiplier) if holding else "1",
        "rulebook_id": rulebook.id,
        "history": spells,
    }
