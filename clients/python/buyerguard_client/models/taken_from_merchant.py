from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="TakenFromMerchant")


@_attrs_define
class TakenFromMerchant:
    """
    Attributes:
        payable (str): an amount in yuan, two decimals, as a string (never a JSON number)
        reserve (str): an amount in yuan, two decimals, as a string (never a JSON number)
        debt (str): an amount in yuan, two decimals, as a string (never a JSON number)
    """

    payable: str
    reserve: str
    debt: str

    def to_dict(self) -> dict[str, Any]:
        payable = self.payable

        reserve = self.reserve

        debt = self.debt

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "payable": payable,
                "reserve": reserve,
                "debt": debt,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        payable = d.pop("payable")

        reserve = d.pop("reserve")

        debt = d.pop("debt")

        taken_from_merchant = cls(
            payable=payable,
            reserve=reserve,
            debt=debt,
        )

        return taken_from_merchant
