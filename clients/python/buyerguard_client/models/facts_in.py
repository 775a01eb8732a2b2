from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.facts_in_fact_envelope import FactsInFactEnvelope
    from ..models.facts_in_facts_item_type_1 import FactsInFactsItemType1


T = TypeVar("T", bound="FactsIn")


@_attrs_define
class FactsIn:
    """A batch of facts, applied in order.

    Attributes:
        facts (list[FactsInFactEnvelope | FactsInFactsItemType1]): the facts, in order; an object that is not a well-
            formed fact is refused in its own result
    """

    facts: list[FactsInFactEnvelope | FactsInFactsItemType1]

    def to_dict(self) -> dict[str, Any]:
        from ..models.facts_in_fact_envelope import FactsInFactEnvelope  # noqa: PLC0415

        facts = []
        for facts_item_data in self.facts:
            facts_item: dict[str, Any]
            if isinstance(facts_item_data, FactsInFactEnvelope):
                facts_item = facts_item_data.to_dict()
            else:
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
        from ..models.facts_in_fact_envelope import FactsInFactEnvelope  # noqa: PLC0415
        from ..models.facts_in_facts_item_type_1 import FactsInFactsItemType1  # noqa: PLC0415

        d = dict(src_dict)
        facts = []
        _facts = d.pop("facts")
        for facts_item_data in _facts:

            def _parse_facts_item(data: object) -> FactsInFactEnvelope | FactsInFactsItemType1:
                try:
                    if not isinstance(data, dict):
                        raise TypeError()
                    facts_item_fact_envelope = FactsInFactEnvelope.from_dict(data)

                    return facts_item_fact_envelope
                except (TypeError, ValueError, AttributeError, KeyError):
                    pass
                if not isinstance(data, dict):
                    raise TypeError()
                facts_item_type_1 = FactsInFactsItemType1.from_dict(data)

                return facts_item_type_1

            facts_item = _parse_facts_item(facts_item_data)

            facts.append(facts_item)

        facts_in = cls(
            facts=facts,
        )

        return facts_in
