from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="PromiseDisruption")


@_attrs_define
class PromiseDisruption:
    """A declared disruption that lengthened a promise.

    Attributes:
        id (str): the disruption (GET /v1/logistics/disruptions)
        carrier (str): the carrier it slows
        expected_extra_days (int): days added to the promise
    """

    id: str
    carrier: str
    expected_extra_days: int

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        carrier = self.carrier

        expected_extra_days = self.expected_extra_days

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "carrier": carrier,
                "expected_extra_days": expected_extra_days,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = d.pop("id")

        carrier = d.pop("carrier")

        expected_extra_days = d.pop("expected_extra_days")

        promise_disruption = cls(
            id=id,
            carrier=carrier,
            expected_extra_days=expected_extra_days,
        )

        return promise_disruption
