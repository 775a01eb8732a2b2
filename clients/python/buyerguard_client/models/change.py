from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.change_changes import ChangeChanges
    from ..models.change_terms import ChangeTerms


T = TypeVar("T", bound="Change")


@_attrs_define
class Change:
    """One version of a merchant or product: who, when, what changed, the terms after it.

    Attributes:
        version (int): the version this change made
        occurred_at (None | str): when it happened, as reported
        recorded_at (None | str): when buyerguard recorded it
        actor (str): who changed it (role:party)
        changes (ChangeChanges): field → {before, after}
        terms (ChangeTerms): every term after the change
        rulebook_id (None | str): the rulebook whose listing rules accepted a product's version; null for a merchant's
        rule_ids (list[str]): the rulebook keys that justify it
    """

    version: int
    occurred_at: None | str
    recorded_at: None | str
    actor: str
    changes: ChangeChanges
    terms: ChangeTerms
    rulebook_id: None | str
    rule_ids: list[str]

    def to_dict(self) -> dict[str, Any]:
        version = self.version

        occurred_at: None | str
        occurred_at = self.occurred_at

        recorded_at: None | str
        recorded_at = self.recorded_at

        actor = self.actor

        changes = self.changes.to_dict()

        terms = self.terms.to_dict()

        rulebook_id: None | str
        rulebook_id = self.rulebook_id

        rule_ids = self.rule_ids

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "version": version,
                "occurred_at": occurred_at,
                "recorded_at": recorded_at,
                "actor": actor,
                "changes": changes,
                "terms": terms,
                "rulebook_id": rulebook_id,
                "rule_ids": rule_ids,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.change_changes import ChangeChanges  # noqa: PLC0415
        from ..models.change_terms import ChangeTerms  # noqa: PLC0415

        d = dict(src_dict)
        version = d.pop("version")

        def _parse_occurred_at(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        occurred_at = _parse_occurred_at(d.pop("occurred_at"))

        def _parse_recorded_at(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        recorded_at = _parse_recorded_at(d.pop("recorded_at"))

        actor = d.pop("actor")

        changes = ChangeChanges.from_dict(d.pop("changes"))

        terms = ChangeTerms.from_dict(d.pop("terms"))

        def _parse_rulebook_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        rulebook_id = _parse_rulebook_id(d.pop("rulebook_id"))

        rule_ids = cast(list[str], d.pop("rule_ids"))

        change = cls(
            version=version,
            occurred_at=occurred_at,
            recorded_at=recorded_at,
            actor=actor,
            changes=changes,
            terms=terms,
            rulebook_id=rulebook_id,
            rule_ids=rule_ids,
        )

        return change
