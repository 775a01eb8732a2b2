from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.order_line_in import OrderLineIn


T = TypeVar("T", bound="OrderIn")


@_attrs_define
class OrderIn:
    """An order of one merchant's products; each line becomes a sub-order.

    Attributes:
        buyer_id (str): who buys
        lines (list[OrderLineIn]): the lines, in order
        id (None | str | Unset): the order id (default: generated)
        shipping (str | Unset): the shipping charged to the buyer Default: '0.00'.
        address_index (int | Unset): which of the buyer's addresses, from 0 Default: 0.
        occurred_at (datetime.datetime | None | Unset): When the fact happened (ISO-8601 instant with a UTC offset,
            1900-01-01T00:00:00Z to before 2200-01-01T00:00:00Z); default now
    """

    buyer_id: str
    lines: list[OrderLineIn]
    id: None | str | Unset = UNSET
    shipping: str | Unset = "0.00"
    address_index: int | Unset = 0
    occurred_at: datetime.datetime | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        buyer_id = self.buyer_id

        lines = []
        for lines_item_data in self.lines:
            lines_item = lines_item_data.to_dict()
            lines.append(lines_item)

        id: None | str | Unset
        if isinstance(self.id, Unset):
            id = UNSET
        else:
            id = self.id

        shipping = self.shipping

        address_index = self.address_index

        occurred_at: None | str | Unset
        if isinstance(self.occurred_at, Unset):
            occurred_at = UNSET
        elif isinstance(self.occurred_at, datetime.datetime):
            occurred_at = self.occurred_at.isoformat()
        else:
            occurred_at = self.occurred_at

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "buyer_id": buyer_id,
                "lines": lines,
            }
        )
        if id is not UNSET:
            field_dict["id"] = id
        if shipping is not UNSET:
            field_dict["shipping"] = shipping
        if address_index is not UNSET:
            field_dict["address_index"] = address_index
        if occurred_at is not UNSET:
            field_dict["occurred_at"] = occurred_at

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.order_line_in import OrderLineIn  # noqa: PLC0415

        d = dict(src_dict)
        buyer_id = d.pop("buyer_id")

        lines = []
        _lines = d.pop("lines")
        for lines_item_data in _lines:
            lines_item = OrderLineIn.from_dict(lines_item_data)

            lines.append(lines_item)

        def _parse_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        id = _parse_id(d.pop("id", UNSET))

        shipping = d.pop("shipping", UNSET)

        address_index = d.pop("address_index", UNSET)

        def _parse_occurred_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                occurred_at_type_0 = datetime.datetime.fromisoformat(data)

                return occurred_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        occurred_at = _parse_occurred_at(d.pop("occurred_at", UNSET))

        order_in = cls(
            buyer_id=buyer_id,
            lines=lines,
            id=id,
            shipping=shipping,
            address_index=address_index,
            occurred_at=occurred_at,
        )

        return order_in
