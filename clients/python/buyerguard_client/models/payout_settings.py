from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="PayoutSettings")


@_attrs_define
class PayoutSettings:
    """A merchant's payout reserve share now, and where it comes from.

    Attributes:
        merchant_id (str): the merchant
        reserve_share (str): share of payable held back, as a decimal
        source (str): the setting it comes from: merchant_payout_settings.reserve_share (the merchant's own) or
            payouts.reserve_share (the rulebook's default)
    """

    merchant_id: str
    reserve_share: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        merchant_id = self.merchant_id

        reserve_share = self.reserve_share

        source = self.source

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "merchant_id": merchant_id,
                "reserve_share": reserve_share,
                "source": source,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        merchant_id = d.pop("merchant_id")

        reserve_share = d.pop("reserve_share")

        source = d.pop("source")

        payout_settings = cls(
            merchant_id=merchant_id,
            reserve_share=reserve_share,
            source=source,
        )

        return payout_settings
