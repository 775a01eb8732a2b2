from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

T = TypeVar("T", bound="DisruptionAnswer")


@_attrs_define
class DisruptionAnswer:
    """A declared logistics disruption: a carrier slowed in some regions for a while.

    Attributes:
        id (str): the disruption's id
        carrier (str): the carrier it slows
        regions (list[str]): GB/T 2260 codes: a province, city or district each
        from_ (str): when it begins
        until (str): when it was declared to end (exclusive)
        expected_extra_days (int): days added to the promises it covers
        reason (str): why, as declared
        active_until (str): when it stops acting: until, or when ended
        declared_at (str): when it was declared
        declared_by (str): who declared it
        ended_at (None | str): when an operator ended it; null if not
        ended_by (None | str): who ended it; null if not
    """

    id: str
    carrier: str
    regions: list[str]
    from_: str
    until: str
    expected_extra_days: int
    reason: str
    active_until: str
    declared_at: str
    declared_by: str
    ended_at: None | str
    ended_by: None | str

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        carrier = self.carrier

        regions = self.regions

        from_ = self.from_

        until = self.until

        expected_extra_days = self.expected_extra_days

        reason = self.reason

        active_until = self.active_until

        declared_at = self.declared_at

        declared_by = self.declared_by

        ended_at: None | str
        ended_at = self.ended_at

        ended_by: None | str
        ended_by = self.ended_by

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "carrier": carrier,
                "regions": regions,
                "from": from_,
                "until": until,
                "expected_extra_days": expected_extra_days,
                "reason": reason,
                "active_until": active_until,
                "declared_at": declared_at,
                "declared_by": declared_by,
                "ended_at": ended_at,
                "ended_by": ended_by,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = d.pop("id")

        carrier = d.pop("carrier")

        regions = cast(list[str], d.pop("regions"))

        from_ = d.pop("from")

        until = d.pop("until")

        expected_extra_days = d.pop("expected_extra_days")

        reason = d.pop("reason")

        active_until = d.pop("active_until")

        declared_at = d.pop("declared_at")

        declared_by = d.pop("declared_by")

        def _parse_ended_at(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        ended_at = _parse_ended_at(d.pop("ended_at"))

        def _parse_ended_by(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        ended_by = _parse_ended_by(d.pop("ended_by"))

        disruption_answer = cls(
            id=id,
            carrier=carrier,
            regions=regions,
            from_=from_,
            until=until,
            expected_extra_days=expected_extra_days,
            reason=reason,
            active_until=active_until,
            declared_at=declared_at,
            declared_by=declared_by,
            ended_at=ended_at,
            ended_by=ended_by,
        )

        return disruption_answer
