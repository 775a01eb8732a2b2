from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="EndpointIn")


@_attrs_define
class EndpointIn:
    """
    Attributes:
        url (str): where to POST each event (http or https)
        event_kinds (list[str] | None | Unset): deliver only these event kinds (left out: every kind)
        description (str | Unset): a note for operators Default: ''.
    """

    url: str
    event_kinds: list[str] | None | Unset = UNSET
    description: str | Unset = ""

    def to_dict(self) -> dict[str, Any]:
        url = self.url

        event_kinds: list[str] | None | Unset
        if isinstance(self.event_kinds, Unset):
            event_kinds = UNSET
        elif isinstance(self.event_kinds, list):
            event_kinds = self.event_kinds

        else:
            event_kinds = self.event_kinds

        description = self.description

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "url": url,
            }
        )
        if event_kinds is not UNSET:
            field_dict["event_kinds"] = event_kinds
        if description is not UNSET:
            field_dict["description"] = description

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        url = d.pop("url")

        def _parse_event_kinds(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                event_kinds_type_0 = cast(list[str], data)

                return event_kinds_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        event_kinds = _parse_event_kinds(d.pop("event_kinds", UNSET))

        description = d.pop("description", UNSET)

        endpoint_in = cls(
            url=url,
            event_kinds=event_kinds,
            description=description,
        )

        return endpoint_in
