from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.fact_outcome import FactOutcome


T = TypeVar("T", bound="FactsAnswer")


@_attrs_define
class FactsAnswer:
    """One result per fact, and how many had each outcome.

    Attributes:
        results (list[FactOutcome]): in the batch's order
        applied (int): facts applied now
        replayed (int): facts whose key had already been applied
        skipped (int): facts after a refused fact of their order
        refused (int): facts refused
    """

    results: list[FactOutcome]
    applied: int
    replayed: int
    skipped: int
    refused: int

    def to_dict(self) -> dict[str, Any]:
        results = []
        for results_item_data in self.results:
            results_item = results_item_data.to_dict()
            results.append(results_item)

        applied = self.applied

        replayed = self.replayed

        skipped = self.skipped

        refused = self.refused

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "results": results,
                "applied": applied,
                "replayed": replayed,
                "skipped": skipped,
                "refused": refused,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.fact_outcome import FactOutcome  # noqa: PLC0415

        d = dict(src_dict)
        results = []
        _results = d.pop("results")
        for results_item_data in _results:
            results_item = FactOutcome.from_dict(results_item_data)

            results.append(results_item)

        applied = d.pop("applied")

        replayed = d.pop("replayed")

        skipped = d.pop("skipped")

        refused = d.pop("refused")

        facts_answer = cls(
            results=results,
            applied=applied,
            replayed=replayed,
            skipped=skipped,
            refused=refused,
        )

        return facts_answer
