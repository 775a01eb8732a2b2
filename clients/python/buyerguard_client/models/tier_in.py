from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="TierIn")


@_attrs_define
class TierIn:
    """A price tier: what kind of goods, at what price, from how many pieces.

    Attributes:
        kind (str): spot (现货), custom or made_to_order
        price (str): Decimal yuan string, at most 2 decimals, at most 92233720368547758.07
        moq (int | Unset): minimum order quantity Default: 1.
        seven_day_returns (bool | Unset): whether this tier offers 7-day no-reason returns Default: False.
    """

    kind: str
    price: str
    moq: int | Unset = 1
    seven_day_returns: bool | Unset = False

    def to_dict(self) -> dict[str, Any]:
        kind = self.kind

        price = self.price

        moq = self.moq

        seven_day_returns = self.seven_day_returns

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "kind": kind,
                "price": price,
            }
        )
        if moq is not UNSET:
            field_dict["moq"] = moq
        if seven_day_returns is not UNSET:
            field_dict["seven_day_returns"] = seven_day_returns

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        kind = d.pop("kind")

        price = d.pop("price")

        moq = d.pop("moq", UNSET)

        seven_day_returns = d.pop("seven_day_returns", UNSET)

        tier_in = cls(
            kind=kind,
            price=price,
            moq=moq,
            seven_day_returns=seven_day_returns,
        )

        return tier_in
