from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

T = TypeVar("T", bound="DisruptionIn")


@_attrs_define
class DisruptionIn:
    """
    Attributes:
        carrier (str): the carrier, as the shipment history names it
        regions (list[str]): where parcels from or to are slowed
        from_ (str): when it begins (ISO-8601 instant with a UTC offset, 1900-01-01T00:00:00Z to before
            2200-01-01T00:00:00Z)
        until (str): when it ends, exclusive, after `from` (ISO-8601 instant with a UTC offset, 1900-01-01T00:00:00Z to
            before 2200-01-01T00:00:00Z)
        expected_extra_days (int): days to add to the promises it covers
        reason (str): why, for operators and merchants
    """

    carrier: str
    regions: list[str]
    from_: str
    until: str
    expected_extra_days: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        carrier = self.carrier

        regions = self.regions

        from_ = self.from_

        until = self.until

        expected_extra_days = self.expected_extra_days

        reason = self.reason

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "carrier": carrier,
                "regions": regions,
                "from": from_,
                "until": until,
                "expected_extra_days": expected_extra_days,
                "reason": reason,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        carrier = d.pop("carrier")

        regions = cast(list[str], d.pop("regions"))

        from_ = d.pop("from")

        until = d.pop("until")

        expected_extra_days = d.pop("expected_extra_days")

        reason = d.pop("reason")

        disruption_in = cls(
            carrier=carrier,
            regions=regions,
            from_=from_,
            until=until,
            expected_extra_days=expected_extra_days,
            reason=reason,
        )

        return disruption_in
