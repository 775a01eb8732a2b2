from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

T = TypeVar("T", bound="WebhookDelivery")


@_attrs_define
class WebhookDelivery:
    """One delivery attempt.

    Attributes:
        id (int): the attempt's id
        event_id (str): the event delivered
        cursor (str): its feed cursor
        attempt (int): attempt number, from 1
        outcome (str): delivered or failed
        status_code (int | None): the receiver's HTTP status
        error (None | str): what went wrong
        duration_ms (int): how long the attempt took
        attempted_at (str): an instant, ISO-8601 in UTC with a Z
    """

    id: int
    event_id: str
    cursor: str
    attempt: int
    outcome: str
    status_code: int | None
    error: None | str
    duration_ms: int
    attempted_at: str

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        event_id = self.event_id

        cursor = self.cursor

        attempt = self.attempt

        outcome = self.outcome

        status_code: int | None
        status_code = self.status_code

        error: None | str
        error = self.error

        duration_ms = self.duration_ms

        attempted_at = self.attempted_at

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "event_id": event_id,
                "cursor": cursor,
                "attempt": attempt,
                "outcome": outcome,
                "status_code": status_code,
                "error": error,
                "duration_ms": duration_ms,
                "attempted_at": attempted_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = d.pop("id")

        event_id = d.pop("event_id")

        cursor = d.pop("cursor")

        attempt = d.pop("attempt")

        outcome = d.pop("outcome")

        def _parse_status_code(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        status_code = _parse_status_code(d.pop("status_code"))

        def _parse_error(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        error = _parse_error(d.pop("error"))

        duration_ms = d.pop("duration_ms")

        attempted_at = d.pop("attempted_at")

        webhook_delivery = cls(
            id=id,
            event_id=event_id,
            cursor=cursor,
            attempt=attempt,
            outcome=outcome,
            status_code=status_code,
            error=error,
            duration_ms=duration_ms,
            attempted_at=attempted_at,
        )

        return webhook_delivery
