from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

T = TypeVar("T", bound="PayoutSettingsIn")


@_attrs_define
class PayoutSettingsIn:
    """
    Attributes:
        reserve_share (None | str): Share kept back at each payout, a decimal string from 0 to 1 (null: the rulebook's
            payouts.reserve_share)
    """

    reserve_share: None | str

    def to_dict(self) -> dict[str, Any]:
        reserve_share: None | str
        reserve_share = self.reserve_share

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "reserve_share": reserve_share,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_reserve_share(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        reserve_share = _parse_reserve_share(d.pop("reserve_share"))

        payout_settings_in = cls(
            reserve_share=reserve_share,
        )

        return payout_settings_in
