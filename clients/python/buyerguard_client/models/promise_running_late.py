from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="PromiseRunningLate")


@_attrs_define
class PromiseRunningLate:
    """The early signal: a carrier whose recent parcels from or to one of the provinces
    signed far fewer than its earlier ones had at that age (no label then).

        Attributes:
            carrier (str): the carrier running late
            signed_share (float): share of its recent parcels signed so far
            recent_parcels (int): parcels in that recent cohort
    """

    carrier: str
    signed_share: float
    recent_parcels: int

    def to_dict(self) -> dict[str, Any]:
        carrier = self.carrier

        signed_share = self.signed_share

        recent_parcels = self.recent_parcels

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "carrier": carrier,
                "signed_share": signed_share,
                "recent_parcels": recent_parcels,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        carrier = d.pop("carrier")

        signed_share = d.pop("signed_share")

        recent_parcels = d.pop("recent_parcels")

        promise_running_late = cls(
            carrier=carrier,
            signed_share=signed_share,
            recent_parcels=recent_parcels,
        )

        return promise_running_late
