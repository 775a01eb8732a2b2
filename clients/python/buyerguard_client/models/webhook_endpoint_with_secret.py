from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

T = TypeVar("T", bound="WebhookEndpointWithSecret")


@_attrs_define
class WebhookEndpointWithSecret:
    """An endpoint with its signing secret, shown only in this answer.

    Attributes:
        id (str): the endpoint's id
        url (str): where events are POSTed
        description (str): the operator's note
        event_kinds (list[str] | None): the kinds delivered; null: every kind
        state (str): active or disabled
        cursor (str): the feed cursor delivered up to
        failing_since (None | str): first failure of the current run
        attempts (int): failed attempts of the current event
        next_attempt_at (None | str): when it is tried again
        disabled_at (None | str): when it was disabled
        disabled_reason (None | str): why it was disabled
        previous_secret_until (None | str): the old secret signs until
        created_at (str): an instant, ISO-8601 in UTC with a Z
        created_by (str): who registered it
        secret (str): whsec_…: keep it where the receiver can read it
    """

    id: str
    url: str
    description: str
    event_kinds: list[str] | None
    state: str
    cursor: str
    failing_since: None | str
    attempts: int
    next_attempt_at: None | str
    disabled_at: None | str
    disabled_reason: None | str
    previous_secret_until: None | str
    created_at: str
    created_by: str
    secret: str

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        url = self.url

        description = self.description

        event_kinds: list[str] | None
        if isinstance(self.event_kinds, list):
            event_kinds = self.event_kinds

        else:
            event_kinds = self.event_kinds

        state = self.state

        cursor = self.cursor

        failing_since: None | str
        failing_since = self.failing_since

        attempts = self.attempts

        next_attempt_at: None | str
        next_attempt_at = self.next_attempt_at

        disabled_at: None | str
        disabled_at = self.disabled_at

        disabled_reason: None | str
        disabled_reason = self.disabled_reason

        previous_secret_until: None | str
        previous_secret_until = self.previous_secret_until

        created_at = self.created_at

        created_by = self.created_by

        secret = self.secret

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "url": url,
                "description": description,
                "event_kinds": event_kinds,
                "state": state,
                "cursor": cursor,
                "failing_since": failing_since,
                "attempts": attempts,
                "next_attempt_at": next_attempt_at,
                "disabled_at": disabled_at,
                "disabled_reason": disabled_reason,
                "previous_secret_until": previous_secret_until,
                "created_at": created_at,
                "created_by": created_by,
                "secret": secret,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = d.pop("id")

        url = d.pop("url")

        description = d.pop("description")

        def _parse_event_kinds(data: object) -> list[str] | None:
            if data is None:
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                event_kinds_type_0 = cast(list[str], data)

                return event_kinds_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None, data)

        event_kinds = _parse_event_kinds(d.pop("event_kinds"))

        state = d.pop("state")

        cursor = d.pop("cursor")

        def _parse_failing_since(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        failing_since = _parse_failing_since(d.pop("failing_since"))

        attempts = d.pop("attempts")

        def _parse_next_attempt_at(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        next_attempt_at = _parse_next_attempt_at(d.pop("next_attempt_at"))

        def _parse_disabled_at(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        disabled_at = _parse_disabled_at(d.pop("disabled_at"))

        def _parse_disabled_reason(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        disabled_reason = _parse_disabled_reason(d.pop("disabled_reason"))

        def _parse_previous_secret_until(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        previous_secret_until = _parse_previous_secret_until(d.pop("previous_secret_until"))

        created_at = d.pop("created_at")

        created_by = d.pop("created_by")

        secret = d.pop("secret")

        webhook_endpoint_with_secret = cls(
            id=id,
            url=url,
            description=description,
            event_kinds=event_kinds,
            state=state,
            cursor=cursor,
            failing_since=failing_since,
            attempts=attempts,
            next_attempt_at=next_attempt_at,
            disabled_at=disabled_at,
            disabled_reason=disabled_reason,
            previous_secret_until=previous_secret_until,
            created_at=created_at,
            created_by=created_by,
            secret=secret,
        )

        return webhook_endpoint_with_secret
