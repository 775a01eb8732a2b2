from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.timer_payload_type_0 import TimerPayloadType0


T = TypeVar("T", bound="Timer")


@_attrs_define
class Timer:
    """A timer: what fires when, and what happened.

    Attributes:
        id (str): kind and subject, unique
        kind (str): e.g. auto_confirm, complete_order, case deadline kinds
        subject_id (str): the order, case or job it acts on
        state (str): pending, running, fired, cancelled or failed (`failed`: a dead letter)
        due_at (str): an instant, ISO-8601 in UTC with a Z
        available_at (str): when it may next be tried (after back-off)
        attempts (int): tries so far
        last_error (None | str): why the last try failed
        payload (None | TimerPayloadType0): what the job needs
        fired_at (None | str): when it fired
        outcome (None | str): what firing did
    """

    id: str
    kind: str
    subject_id: str
    state: str
    due_at: str
    available_at: str
    attempts: int
    last_error: None | str
    payload: None | TimerPayloadType0
    fired_at: None | str
    outcome: None | str

    def to_dict(self) -> dict[str, Any]:
        from ..models.timer_payload_type_0 import TimerPayloadType0  # noqa: PLC0415

        id = self.id

        kind = self.kind

        subject_id = self.subject_id

        state = self.state

        due_at = self.due_at

        available_at = self.available_at

        attempts = self.attempts

        last_error: None | str
        last_error = self.last_error

        payload: dict[str, Any] | None
        if isinstance(self.payload, TimerPayloadType0):
            payload = self.payload.to_dict()
        else:
            payload = self.payload

        fired_at: None | str
        fired_at = self.fired_at

        outcome: None | str
        outcome = self.outcome

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "kind": kind,
                "subject_id": subject_id,
                "state": state,
                "due_at": due_at,
                "available_at": available_at,
                "attempts": attempts,
                "last_error": last_error,
                "payload": payload,
                "fired_at": fired_at,
                "outcome": outcome,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.timer_payload_type_0 import TimerPayloadType0  # noqa: PLC0415

        d = dict(src_dict)
        id = d.pop("id")

        kind = d.pop("kind")

        subject_id = d.pop("subject_id")

        state = d.pop("state")

        due_at = d.pop("due_at")

        available_at = d.pop("available_at")

        attempts = d.pop("attempts")

        def _parse_last_error(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        last_error = _parse_last_error(d.pop("last_error"))

        def _parse_payload(data: object) -> None | TimerPayloadType0:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                payload_type_0 = TimerPayloadType0.from_dict(data)

                return payload_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | TimerPayloadType0, data)

        payload = _parse_payload(d.pop("payload"))

        def _parse_fired_at(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        fired_at = _parse_fired_at(d.pop("fired_at"))

        def _parse_outcome(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        outcome = _parse_outcome(d.pop("outcome"))

        timer = cls(
            id=id,
            kind=kind,
            subject_id=subject_id,
            state=state,
            due_at=due_at,
            available_at=available_at,
            attempts=attempts,
            last_error=last_error,
            payload=payload,
            fired_at=fired_at,
            outcome=outcome,
        )

        return timer
