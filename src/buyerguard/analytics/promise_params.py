"""The knobs of the delivery-promise model (policies.md §11), read from the rulebook.

`eta.py` documents the model they drive; `route_days.py` and `survival.py`
are its two stages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from decimal import Decimal
from typing import Any, Literal

from buyerguard.errors import InvalidInput
from buyerguard.rulebook import Rulebook

Label = Literal["today", "tomorrow", "day_after"]
LABELS: tuple[Label, ...] = ("today", "tomorrow", "day_after")

WINDOW_BASES: tuple[str, ...] = ("observed", "paid")


@dataclass(frozen=True)
class PromiseParams:
    """Knobs of the promise model (policies.md §11), read from the rulebook.

    `old_model` gives the round-1 model (paid window, no shrinkage, nothing lost).
    """

    window_days: int
    confidence: Decimal
    min_samples: int
    max_label_offset_days: int
    max_horizon_days: int
    lost_after_days: int
    history_window_basis: str
    hazard_prior_strength: Decimal
    # The merchant's observed cut-off (merchant_cutoffs.py); 0 parcels: off. Defaults: a
    # table built before the cut-off existed reads back without one.
    cutoff_min_parcels: int = 0
    cutoff_min_jump_days: Decimal = Decimal("0.5")
    # The early signal (route_scans.py, part LATE_PART): a carrier from or to a province
    # whose parcels started `late_age_days` ago signed at most `late_max_signed_ratio` of
    # what the cohorts started on the same weekday in the `late_baseline_weeks` before signed by
    # that age (at least
    # `late_min_expected` expected) runs late; 0 expected: off.
    late_age_days: int = 2
    late_baseline_weeks: int = 3
    late_min_expected: int = 0
    late_max_signed_ratio: Decimal = Decimal("0.5")

    def as_record(self) -> dict[str, object]:
        """JSON-ready, for the published table's pointer (which model built it)."""
        record = {field.name: getattr(self, field.name) for field in fields(self)}
        record["confidence"] = str(self.confidence)
        record["hazard_prior_strength"] = str(self.hazard_prior_strength)
        record["cutoff_min_jump_days"] = str(self.cutoff_min_jump_days)
        record["late_max_signed_ratio"] = str(self.late_max_signed_ratio)
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> PromiseParams:
        values = dict(record)
        values["confidence"] = Decimal(values["confidence"])
        values["hazard_prior_strength"] = Decimal(values["hazard_prior_strength"])
        for name in ("cutoff_min_jump_days", "late_max_signed_ratio"):
            if name in values:
                values[name] = Decimal(values[name])
        return cls(**values)

    @classmethod
    def from_rulebook(cls, rulebook: Rulebook) -> PromiseParams:
        rules = rulebook.arrival
        return cls(
            window_days=rules.history_window_days,
            confidence=rules.promise_confidence,
            min_samples=rules.min_route_samples,
            max_label_offset_days=rules.max_label_offset_days,
            max_horizon_days=rules.promise_horizon_days,
            lost_after_days=rules.lost_after_days,
            history_window_basis=rules.history_window_basis,
            hazard_prior_strength=rules.hazard_prior_strength,
            cutoff_min_parcels=rules.merchant_cutoff_min_parcels,
            cutoff_min_jump_days=rules.merchant_cutoff_min_jump_days,
            late_age_days=rules.running_late_age_days,
            late_baseline_weeks=rules.running_late_baseline_weeks,
            late_min_expected=rules.running_late_min_expected,
            late_max_signed_ratio=rules.running_late_max_signed_ratio,
        )

    def old_model(self) -> PromiseParams:
        """The same knobs with the round-1 model: paid window, no shrinkage, nothing lost,
        no cut-off.

        Its tables equal those of the build before the lost rule, the observed
        window and shrinkage existed (kept as a regression check).
        """
        return replace(
            self,
            lost_after_days=max(self.lost_after_days, self.window_days + self.max_horizon_days),
            history_window_basis="paid",
            hazard_prior_strength=Decimal(0),
            cutoff_min_parcels=0,
            late_min_expected=0,
        )

    def __post_init__(self) -> None:
        if self.window_days < 1:
            raise InvalidInput("window_days_invalid", "window_days must be ≥ 1", "window_days")
        if not Decimal(0) < self.confidence < Decimal(1):
            raise InvalidInput("confidence_invalid", "confidence must be in (0, 1)", "confidence")
        if self.min_samples < 1:
            raise InvalidInput("min_samples_invalid", "min_samples must be ≥ 1", "min_samples")
        if not 0 <= self.max_label_offset_days < len(LABELS):
            raise InvalidInput(
                "max_label_offset_days_invalid",
                f"max_label_offset_days must be 0..{len(LABELS) - 1}",
                "max_label_offset_days",
            )
        if self.max_horizon_days < self.max_label_offset_days:
            raise InvalidInput(
                "max_horizon_days_invalid",
                "max_horizon_days must be ≥ max_label_offset_days",
                "max_horizon_days",
            )
        if isinstance(self.lost_after_days, bool) or self.lost_after_days < 1:
            raise InvalidInput(
                "lost_after_days_invalid", "lost_after_days must be ≥ 1", "lost_after_days"
            )
        if self.history_window_basis not in WINDOW_BASES:
            raise InvalidInput(
                "history_window_basis_invalid",
                f"history_window_basis must be one of {', '.join(WINDOW_BASES)}:"
                f" {self.history_window_basis!r}",
                "history_window_basis",
            )
        if isinstance(self.cutoff_min_parcels, bool) or self.cutoff_min_parcels < 0:
            raise InvalidInput(
                "cutoff_min_parcels_invalid",
                "cutoff_min_parcels must be ≥ 0 (0: no cut-off)",
                "cutoff_min_parcels",
            )
        jump = self.cutoff_min_jump_days
        if not isinstance(jump, Decimal) or not jump.is_finite() or jump <= 0:
            raise InvalidInput(
                "cutoff_min_jump_days_invalid",
                "cutoff_min_jump_days must be a finite decimal > 0",
                "cutoff_min_jump_days",
            )
        strength = self.hazard_prior_strength
        if not isinstance(strength, Decimal) or not strength.is_finite() or strength < 0:
            raise InvalidInput(
                "hazard_prior_strength_invalid",
                "hazard_prior_strength must be a finite decimal ≥ 0",
                "hazard_prior_strength",
            )


def chosen_confidences(
    params: PromiseParams, confidences: Sequence[Decimal] | None = None
) -> list[Decimal]:
    """The confidences a build answers for: the rulebook's, or several (benchmarks).

    Each distinct value once, in increasing order (0.9 and 0.90 are one).
    """
    chosen = sorted(set(confidences)) if confidences is not None else [params.confidence]
    if not chosen:
        raise InvalidInput("confidences_empty", "give at least one confidence", "confidences")
    for confidence in chosen:
        if not Decimal(0) < confidence < Decimal(1):
            raise InvalidInput("confidence_invalid", "confidence must be in (0, 1)", "confidence")
    return chosen
