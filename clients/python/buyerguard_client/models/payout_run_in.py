from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="PayoutRunIn")


@_attrs_define
class PayoutRunIn:
    """
    Attributes:
        merchant_ids (list[str] | None | Unset): Merchants to pay now (left out: every merchant with money payable)
    """

    merchant_ids: list[str] | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        merchant_ids: list[str] | None | Unset
        if isinstance(self.merchant_ids, Unset):
            merchant_ids = UNSET
        elif isinstance(self.merchant_ids, list):
            merchant_ids = self.merchant_ids

        else:
            merchant_ids = self.merchant_ids

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if merchant_ids is not UNSET:
            field_dict["merchant_ids"] = merchant_ids

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_merchant_ids(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                merchant_ids_type_0 = cast(list[str], data)

                return merchant_ids_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        merchant_ids = _parse_merchant_ids(d.pop("merchant_ids", UNSET))

        payout_run_in = cls(
            merchant_ids=merchant_ids,
        )

        return payout_run_in
