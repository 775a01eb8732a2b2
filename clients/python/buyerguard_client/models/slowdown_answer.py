from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

T = TypeVar("T", bound="SlowdownAnswer")


@_attrs_define
class SlowdownAnswer:
    """A logistics slowdown: whole Shanghai days every carrier slows, stepped over like a
    public holiday by the promises whose span they touch.

        Attributes:
            id (str): the slowdown's id
            name (str): what it is called (Spring Festival 2027, Double 11 peak)
            first_day (str): its first Shanghai day (YYYY-MM-DD)
            last_day (str): its last Shanghai day, inclusive (YYYY-MM-DD)
            reason (str): why, as declared or seeded
            source (str): operator (declared) or rulebook (seeded every year)
            declared_at (str): when it was declared or seeded
            declared_by (str): who declared it (the scheduler for a seed)
            withdrawn_at (None | str): when an operator withdrew it; null if not
            withdrawn_by (None | str): who withdrew it; null if not
    """

    id: str
    name: str
    first_day: str
    last_day: str
    reason: str
    source: str
    declared_at: str
    declared_by: str
    withdrawn_at: None | str
    withdrawn_by: None | str

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        name = self.name

        first_day = self.first_day

        last_day = self.last_day

        reason = self.reason

        source = self.source

        declared_at = self.declared_at

        declared_by = self.declared_by

        withdrawn_at: None | str
        withdrawn_at = self.withdrawn_at

        withdrawn_by: None | str
        withdrawn_by = self.withdrawn_by

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "name": name,
                "first_day": first_day,
                "last_day": last_day,
                "reason": reason,
                "source": source,
                "declared_at": declared_at,
                "declared_by": declared_by,
                "withdrawn_at": withdrawn_at,
                "withdrawn_by": withdrawn_by,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = d.pop("id")

        name = d.pop("name")

        first_day = d.pop("first_day")

        last_day = d.pop("last_day")

        reason = d.pop("reason")

        source = d.pop("source")

        declared_at = d.pop("declared_at")

        declared_by = d.pop("declared_by")

        def _parse_withdrawn_at(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        withdrawn_at = _parse_withdrawn_at(d.pop("withdrawn_at"))

        def _parse_withdrawn_by(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        withdrawn_by = _parse_withdrawn_by(d.pop("withdrawn_by"))

        slowdown_answer = cls(
            id=id,
            name=name,
            first_day=first_day,
            last_day=last_day,
            reason=reason,
            source=source,
            declared_at=declared_at,
            declared_by=declared_by,
            withdrawn_at=withdrawn_at,
            withdrawn_by=withdrawn_by,
        )

        return slowdown_answer
