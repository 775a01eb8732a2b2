from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.slowdown_answer import SlowdownAnswer


T = TypeVar("T", bound="SlowdownPage")


@_attrs_define
class SlowdownPage:
    """A page of SlowdownAnswer, in cursor order.

    Attributes:
        items (list[SlowdownAnswer]): this page's items
        next_cursor (None | str): pass as `after` for the next page; null on the last
        has_more (bool): whether another page follows
    """

    items: list[SlowdownAnswer]
    next_cursor: None | str
    has_more: bool

    def to_dict(self) -> dict[str, Any]:
        items = []
        for items_item_data in self.items:
            items_item = items_item_data.to_dict()
            items.append(items_item)

        next_cursor: None | str
        next_cursor = self.next_cursor

        has_more = self.has_more

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "items": items,
                "next_cursor": next_cursor,
                "has_more": has_more,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.slowdown_answer import SlowdownAnswer  # noqa: PLC0415

        d = dict(src_dict)
        items = []
        _items = d.pop("items")
        for items_item_data in _items:
            items_item = SlowdownAnswer.from_dict(items_item_data)

            items.append(items_item)

        def _parse_next_cursor(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        next_cursor = _parse_next_cursor(d.pop("next_cursor"))

        has_more = d.pop("has_more")

        slowdown_page = cls(
            items=items,
            next_cursor=next_cursor,
            has_more=has_more,
        )

        return slowdown_page
