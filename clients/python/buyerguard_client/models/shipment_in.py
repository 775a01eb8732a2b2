from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="ShipmentIn")


@_attrs_define
class ShipmentIn:
    """The merchant shipped the order.

    Attributes:
        carrier (str): carrier code
        tracking_number (str): the carrier's tracking number
        occurred_at (datetime.datetime | None | Unset): When the fact happened (ISO-8601 instant with a UTC offset,
            1900-01-01T00:00:00Z to before 2200-01-01T00:00:00Z); default now
        official_logistics (bool | Unset): shipped through the platform's official logistics Default: False.
    """

    carrier: str
    tracking_number: str
    occurred_at: datetime.datetime | None | Unset = UNSET
    official_logistics: bool | Unset = False

    def to_dict(self) -> dict[str, Any]:
        carrier = self.carrier

        tracking_number = self.tracking_number

        occurred_at: None | str | Unset
        if isinstance(self.occurred_at, Unset):
            occurred_at = UNSET
        elif isinstance(self.occurred_at, datetime.datetime):
            occurred_at = self.occurred_at.isoformat()
        else:
            occurred_at = self.occurred_at

        official_logistics = self.official_logistics

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "carrier": carrier,
                "tracking_number": tracking_number,
            }
        )
        if occurred_at is not UNSET:
            field_dict["occurred_at"] = occurred_at
        if official_logistics is not UNSET:
            field_dict["official_logistics"] = official_logistics

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        carrier = d.pop("carrier")

        tracking_number = d.pop("tracking_number")

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

        official_logistics = d.pop("official_logistics", UNSET)

        shipment_in = cls(
            carrier=carrier,
            tracking_number=tracking_number,
            occurred_at=occurred_at,
            official_logistics=official_logistics,
        )

        return shipment_in
