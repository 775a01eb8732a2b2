from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.refund_in_amounts_type_0 import RefundInAmountsType0


T = TypeVar("T", bound="RefundIn")


@_attrs_define
class RefundIn:
    """
    Attributes:
        occurred_at (datetime.datetime | None | Unset): When the fact happened (ISO-8601 instant with a UTC offset,
            1900-01-01T00:00:00Z to before 2200-01-01T00:00:00Z); default now
        sub_order_ids (list[str] | None | Unset): Whole sub-orders to refund (left out, with no amounts: all of them)
        amounts (None | RefundInAmountsType0 | Unset): Parts to refund, by sub-order: each at most what the sub-order
            still holds
    """

    occurred_at: datetime.datetime | None | Unset = UNSET
    sub_order_ids: list[str] | None | Unset = UNSET
    amounts: None | RefundInAmountsType0 | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.refund_in_amounts_type_0 import RefundInAmountsType0  # noqa: PLC0415

        occurred_at: None | str | Unset
        if isinstance(self.occurred_at, Unset):
            occurred_at = UNSET
        elif isinstance(self.occurred_at, datetime.datetime):
            occurred_at = self.occurred_at.isoformat()
        else:
            occurred_at = self.occurred_at

        sub_order_ids: list[str] | None | Unset
        if isinstance(self.sub_order_ids, Unset):
            sub_order_ids = UNSET
        elif isinstance(self.sub_order_ids, list):
            sub_order_ids = self.sub_order_ids

        else:
            sub_order_ids = self.sub_order_ids

        amounts: dict[str, Any] | None | Unset
        if isinstance(self.amounts, Unset):
            amounts = UNSET
        elif isinstance(self.amounts, RefundInAmountsType0):
            amounts = self.amounts.to_dict()
        else:
            amounts = self.amounts

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if occurred_at is not UNSET:
            field_dict["occurred_at"] = occurred_at
        if sub_order_ids is not UNSET:
            field_dict["sub_order_ids"] = sub_order_ids
        if amounts is not UNSET:
            field_dict["amounts"] = amounts

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.refund_in_amounts_type_0 import RefundInAmountsType0  # noqa: PLC0415

        d = dict(src_dict)

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

        def _parse_sub_order_ids(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                sub_order_ids_type_0 = cast(list[str], data)

                return sub_order_ids_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        sub_order_ids = _parse_sub_order_ids(d.pop("sub_order_ids", UNSET))

        def _parse_amounts(data: object) -> None | RefundInAmountsType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                amounts_type_0 = RefundInAmountsType0.from_dict(data)

                return amounts_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | RefundInAmountsType0 | Unset, data)

        amounts = _parse_amounts(d.pop("amounts", UNSET))

        refund_in = cls(
            occurred_at=occurred_at,
            sub_order_ids=sub_order_ids,
            amounts=amounts,
        )

        return refund_in
