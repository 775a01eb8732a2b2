from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="AdjustmentIn")


@_attrs_define
class AdjustmentIn:
    """An operator's adjustment of one paid sub-order.

    Attributes:
        kind (str): refund, clawback or compensation
        sub_order_id (str): the paid sub-order adjusted
        amount (str): Decimal yuan string, at most 2 decimals, at most 92233720368547758.07
        reason (str): why: recorded with the decision
        borne_by (None | str | Unset): compensation only: platform (default) or merchant
    """

    kind: str
    sub_order_id: str
    amount: str
    reason: str
    borne_by: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        kind = self.kind

        sub_order_id = self.sub_order_id

        amount = self.amount

        reason = self.reason

        borne_by: None | str | Unset
        if isinstance(self.borne_by, Unset):
            borne_by = UNSET
        else:
            borne_by = self.borne_by

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "kind": kind,
                "sub_order_id": sub_order_id,
                "amount": amount,
                "reason": reason,
            }
        )
        if borne_by is not UNSET:
            field_dict["borne_by"] = borne_by

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        kind = d.pop("kind")

        sub_order_id = d.pop("sub_order_id")

        amount = d.pop("amount")

        reason = d.pop("reason")

        def _parse_borne_by(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        borne_by = _parse_borne_by(d.pop("borne_by", UNSET))

        adjustment_in = cls(
            kind=kind,
            sub_order_id=sub_order_id,
            amount=amount,
            reason=reason,
            borne_by=borne_by,
        )

        return adjustment_in
