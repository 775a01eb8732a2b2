from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="OrderLineIn")


@_attrs_define
class OrderLineIn:
    """One line: a product, how many, and (marketplace only) at what price.

    Attributes:
        product_id (str): the product
        quantity (int): pieces
        unit_price (None | str | Unset): Marketplace and operator only: a buyer's order takes catalogue prices
        tier (None | str | Unset): spot, custom or made_to_order; left out: the spot tier, else the only one
    """

    product_id: str
    quantity: int
    unit_price: None | str | Unset = UNSET
    tier: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        product_id = self.product_id

        quantity = self.quantity

        unit_price: None | str | Unset
        if isinstance(self.unit_price, Unset):
            unit_price = UNSET
        else:
            unit_price = self.unit_price

        tier: None | str | Unset
        if isinstance(self.tier, Unset):
            tier = UNSET
        else:
            tier = self.tier

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "product_id": product_id,
                "quantity": quantity,
            }
        )
        if unit_price is not UNSET:
            field_dict["unit_price"] = unit_price
        if tier is not UNSET:
            field_dict["tier"] = tier

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        product_id = d.pop("product_id")

        quantity = d.pop("quantity")

        def _parse_unit_price(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        unit_price = _parse_unit_price(d.pop("unit_price", UNSET))

        def _parse_tier(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        tier = _parse_tier(d.pop("tier", UNSET))

        order_line_in = cls(
            product_id=product_id,
            quantity=quantity,
            unit_price=unit_price,
            tier=tier,
        )

        return order_line_in
