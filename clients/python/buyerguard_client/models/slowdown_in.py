from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="SlowdownIn")


@_attrs_define
class SlowdownIn:
    """
    Attributes:
        name (str): what operators and buyers see it called
        first_day (str): its first Shanghai day (YYYY-MM-DD)
        last_day (str): its last Shanghai day, inclusive, at most 60 days after first_day (YYYY-MM-DD)
        reason (str): why, for operators and merchants
    """

    name: str
    first_day: str
    last_day: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        first_day = self.first_day

        last_day = self.last_day

        reason = self.reason

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
                "first_day": first_day,
                "last_day": last_day,
                "reason": reason,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name")

        first_day = d.pop("first_day")

        last_day = d.pop("last_day")

        reason = d.pop("reason")

        slowdown_in = cls(
            name=name,
            first_day=first_day,
            last_day=last_day,
            reason=reason,
        )

        return slowdown_in
