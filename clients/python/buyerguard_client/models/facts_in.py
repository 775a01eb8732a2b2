from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.fact_envelope import FactEnvelope


T = TypeVar("T", bound="FactsIn")


@_attrs_define
class FactsIn:
    """A batch of facts, applied in order.

    Attributes:
        facts (list[FactEnvelope]): the facts, in order
    """

    facts: list[FactEnvelope]

    def to_dict(self) -> dict[str, Any]:
        facts = []
        for facts_item_data in self.facts:
            facts_item = facts_item_data.to_dict()
            facts.append(facts_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "facts": facts,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.fact_envelope import FactEnvelope  # noqa: PLC0415

        d = dict(src_dict)
        facts = []
        _facts = d.pop("facts")
        for facts_item_data in _facts:
            facts_item = FactEnvelope.from_dict(facts_item_data)

            facts.append(facts_item)

        facts_in = cls(
            facts=facts,
        )

        return facts_in
