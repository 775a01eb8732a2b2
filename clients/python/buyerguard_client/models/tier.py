from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="Tier")


@_attrs_define
class Tier:
    """A price tier of a product.

    Attributes:
        kind (str): spot (现货), custom or wholesale
        price (str): an amount in yuan, two decimals, as a string (never a JSON number)
        moq (int): minimum order quantity
        seven_day_returns (bool): 7-day no-reason returns promised
    """

    kind: str
    price: str
    moq: int
    seven_day_returns: bool

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
                "moq": moq,
                "seven_day_returns": seven_day_returns,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        kind = d.pop("kind")

        price = d.pop("price")

        moq = d.pop("moq")

        seven_day_returns = d.pop("seven_day_returns")

        tier = cls(
            kind=kind,
            price=price,
            moq=moq,
            seven_day_returns=seven_day_returns,
        )

        return tier
