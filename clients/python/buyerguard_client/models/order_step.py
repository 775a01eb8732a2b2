from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

T = TypeVar("T", bound="OrderStep")


@_attrs_define
class OrderStep:
    """
    Attributes:
        command (str): what was done (place, payment, shipment…)
        from_state (None | str): state before
        to_state (str): state after
        occurred_at (None | str): when it happened, as reported
        actor (str): who did it (role:party)
    """

    command: str
    from_state: None | str
    to_state: str
    occurred_at: None | str
    actor: str

    def to_dict(self) -> dict[str, Any]:
        command = self.command

        from_state: None | str
        from_state = self.from_state

        to_state = self.to_state

        occurred_at: None | str
        occurred_at = self.occurred_at

        actor = self.actor

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "command": command,
                "from_state": from_state,
                "to_state": to_state,
                "occurred_at": occurred_at,
                "actor": actor,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        command = d.pop("command")

        def _parse_from_state(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        from_state = _parse_from_state(d.pop("from_state"))

        to_state = d.pop("to_state")

        def _parse_occurred_at(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        occurred_at = _parse_occurred_at(d.pop("occurred_at"))

        actor = d.pop("actor")

        order_step = cls(
            command=command,
            from_state=from_state,
            to_state=to_state,
            occurred_at=occurred_at,
            actor=actor,
        )

        return order_step
