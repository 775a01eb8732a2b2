"""The rulebook's `arrival` section: estimated arrival 预计达, the arrival badge 亮标 and the
promise model's numbers (policies.md §11), apart because it holds the most keys.
"""

from __future__ import annotations

from dataclasses import dataclass

from buyerguard.money import Rate
from buyerguard.rulebook_keys import RATE, rule


@dataclass(frozen=True)
class ArrivalRules:
    """Estimated arrival 预计达 and the arrival badge 亮标 (policies.md §11)."""

    enabled: bool = rule("Whether arrival promises and the badge are shown.")
    history_window_days: int = rule("Trailing window of deliveries per route.")
    promise_confidence: Rate = rule(
        "Promise day d is the earliest with P(signed by end of d) at least this (default).",
        kind=RATE,
        most=1,
    )
    min_route_samples: int = rule("Fewer samples than this backs off to a coarser route (default).")
    max_label_offset_days: int = rule(
        "Labels show up to this many days after payment (2: day after)."
    )
    promise_horizon_days: int = rule(
        "Longest pay-to-sign span, in days, the promise model tracks (default, ours)."
    )
    backoff_levels: list[str] = rule("Route levels tried in order, finest first.")
    lost_after_days: int = rule(
        "A parcel not signed within this many local days of its pay day is lost and leaves "
        "the promise history (signed later counts as lost too); ≥ 1 (default, ours)."
    )
    history_window_basis: str = rule(
        "What history_window_days selects: 'observed' (the days parcels were watched; older "
        "parcels still in transit enter the risk set late) or 'paid' (the days they were "
        "paid) (default, ours)."
    )
    hazard_prior_strength: Rate = rule(
        "Pseudo-parcels m shrinking each route's daily hazard toward its parent route's: "
        "(d + m·h_parent) / (n + m); 0 turns shrinkage off; ≥ 0 (default, ours).",
        kind=RATE,
    )
    sign_rate_hours: int = rule(
        "Pay-to-sign threshold of the sign rate; 1 to 87600.", least=1, most=87600
    )
    sign_rate_window_days: int = rule(
        "Orders paid over this window count for the sign rate; 1 to 3660.", least=1, most=3660
    )
    badge_min_orders: int = rule("Orders needed in the window for the badge (default).", least=1)
    badge_exposure_multiplier: Rate = rule("Exposure multiplier of a badged merchant.", kind=RATE)
    badge_evaluation_interval_hours: int = rule(
        "How often the badge is re-evaluated; 1 to 87600.", least=1, most=87600
    )
    promise_rebuild_interval_hours: int = rule(
        "How often the scheduler rebuilds the promise table from the trailing window, "
        "from each Shanghai midnight (default, ours)."
    )
    promise_update_interval_hours: int = rule(
        "How often the scheduler folds the parcels changed since the served promise table "
        "into it (the same table a rebuild would give), from each Shanghai midnight "
        "(default, ours)."
    )
    merchant_cutoff_min_parcels: int = rule(
        "A merchant's cut-off (parcels paid from that hour start counting the next day) is "
        "learned when at least this many window parcels lie on each side of it; 0 turns the "
        "cut-off off (default, ours)."
    )
    merchant_cutoff_min_jump_days: Rate = rule(
        "...and when the mean ship lag of the later pay hours exceeds the earlier ones' by "
        "at least this many days (default, ours).",
        kind=RATE,
    )
    running_late_age_days: int = rule(
        "The early signal: a carrier's parcels from or to a province that started this many "
        "days ago are compared, for how many have signed, with ... (default, ours)."
    )
    running_late_baseline_weeks: int = rule(
        "...the cohorts that started on the same weekday in this many weeks before, at the "
        "same age (a Sunday's parcels against earlier Sundays': weekends ship less) "
        "(default, ours)."
    )
    running_late_min_expected: int = rule(
        "The early signal judges a carrier and province only when, at the earlier cohorts' "
        "rate, at least this many of its recent parcels would have signed by now; 0 turns it "
        "off (default, ours)."
    )
    running_late_max_signed_ratio: Rate = rule(
        "A carrier from or to a province runs late, and its labels there are withdrawn, when "
        "its recent parcels signed at most this share of what that rate expects "
        "(default, ours).",
        kind=RATE,
        most=1,
    )
    spring_festival_lead_days: int = rule(
        "Days before the Spring Festival holiday on which couriers already slow: seeded each "
        "year as a slowdown that promises step over and the model does not learn from "
        "(default, ours)."
    )
    spring_festival_recovery_days: int = rule(
        "Days after the Spring Festival holiday before couriers are back to normal: part of "
        "the same seeded slowdown (default, ours)."
    )
