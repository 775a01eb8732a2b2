from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.audit_entry_details_type_0 import AuditEntryDetailsType0


T = TypeVar("T", bound="AuditEntry")


@_attrs_define
class AuditEntry:
    """One command, as the audit log recorded it.

    Attributes:
        id (int): the entry's id, increasing
        actor (str): who (role:party)
        token_id (None | str): the token used
        command (str): the route or CLI command
        subject_id (None | str): what it acted on
        occurred_at (None | str): when it happened, as reported
        recorded_at (str): an instant, ISO-8601 in UTC with a Z
        details (AuditEntryDetailsType0 | None): what else was recorded
    """

    id: int
    actor: str
    token_id: None | str
    command: str
    subject_id: None | str
    occurred_at: None | str
    recorded_at: str
    details: AuditEntryDetailsType0 | None

    def to_dict(self) -> dict[str, Any]:
        from ..models.audit_entry_details_type_0 import AuditEntryDetailsType0  # noqa: PLC0415

        id = self.id

        actor = self.actor

        token_id: None | str
        token_id = self.token_id

        command = self.command

        subject_id: None | str
        subject_id = self.subject_id

        occurred_at: None | str
        occurred_at = self.occurred_at

        recorded_at = self.recorded_at

        details: dict[str, Any] | None
        if isinstance(self.details, AuditEntryDetailsType0):
            details = self.details.to_dict()
        else:
            details = self.details

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "actor": actor,
                "token_id": token_id,
                "command": command,
                "subject_id": subject_id,
                "occurred_at": occurred_at,
                "recorded_at": recorded_at,
                "details": details,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.audit_entry_details_type_0 import AuditEntryDetailsType0  # noqa: PLC0415

        d = dict(src_dict)
        id = d.pop("id")

        actor = d.pop("actor")

        def _parse_token_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        token_id = _parse_token_id(d.pop("token_id"))

        command = d.pop("command")

        def _parse_subject_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        subject_id = _parse_subject_id(d.pop("subject_id"))

        def _parse_occurred_at(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        occurred_at = _parse_occurred_at(d.pop("occurred_at"))

        recorded_at = d.pop("recorded_at")

        def _parse_details(data: object) -> AuditEntryDetailsType0 | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                details_type_0 = AuditEntryDetailsType0.from_dict(data)

                return details_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(AuditEntryDetailsType0 | None, data)

        details = _parse_details(d.pop("details"))

        audit_entry = cls(
            id=id,
            actor=actor,
            token_id=token_id,
            command=command,
            subject_id=subject_id,
            occurred_at=occurred_at,
            recorded_at=recorded_at,
            details=details,
        )

        return audit_entry
