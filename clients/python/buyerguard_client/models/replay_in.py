from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="ReplayIn")


@_attrs_define
class ReplayIn:
    """
    Attributes:
        after (str): an event cursor: every event after it is delivered again, in order ("0": from the start of the
            feed)
    """

    after: str

    def to_dict(self) -> dict[str, Any]:
        after = self.after

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "after": after,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        after = d.pop("after")

        replay_in = cls(
            after=after,
        )

        return replay_in
