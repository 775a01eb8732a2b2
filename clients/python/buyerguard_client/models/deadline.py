from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="Deadline")


@_attrs_define
class Deadline:
    """
    Attributes:
        kind (str): whose move it is and what happens at the deadline
        due_at (str): an instant, ISO-8601 in UTC with a Z
    """

    kind: str
    due_at: str

    def to_dict(self) -> dict[str, Any]:
        kind = self.kind

        due_at = self.due_at

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "kind": kind,
                "due_at": due_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        kind = d.pop("kind")

        due_at = d.pop("due_at")

        deadline = cls(
            kind=kind,
            due_at=due_at,
        )

        return deadline
