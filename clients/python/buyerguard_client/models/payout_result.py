from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

T = TypeVar("T", bound="PayoutResult")


@_attrs_define
class PayoutResult:
    """
    Attributes:
        merchant_id (str): the merchant paid
        payout_id (None | str): the payout instruction, when one was made
        amount (str): an amount in yuan, two decimals, as a string (never a JSON number)
        reserve_moved (str): an amount in yuan, two decimals, as a string (never a JSON number)
        debt_netted (str): an amount in yuan, two decimals, as a string (never a JSON number)
    """

    merchant_id: str
    payout_id: None | str
    amount: str
    reserve_moved: str
    debt_netted: str

    def to_dict(self) -> dict[str, Any]:
        merchant_id = self.merchant_id

        payout_id: None | str
        payout_id = self.payout_id

        amount = self.amount

        reserve_moved = self.reserve_moved

        debt_netted = self.debt_netted

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "merchant_id": merchant_id,
                "payout_id": payout_id,
                "amount": amount,
                "reserve_moved": reserve_moved,
                "debt_netted": debt_netted,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        merchant_id = d.pop("merchant_id")

        def _parse_payout_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        payout_id = _parse_payout_id(d.pop("payout_id"))

        amount = d.pop("amount")

        reserve_moved = d.pop("reserve_moved")

        debt_netted = d.pop("debt_netted")

        payout_result = cls(
            merchant_id=merchant_id,
            payout_id=payout_id,
            amount=amount,
            reserve_moved=reserve_moved,
            debt_netted=debt_netted,
        )

        return payout_result
