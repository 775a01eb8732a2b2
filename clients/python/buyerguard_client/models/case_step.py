from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.case_step_details_type_0 import CaseStepDetailsType0
    from ..models.case_step_evidence_type_0_item import CaseStepEvidenceType0Item


T = TypeVar("T", bound="CaseStep")


@_attrs_define
class CaseStep:
    """
    Attributes:
        action (str): what was done
        actor (str): who did it
        from_state (None | str): state before
        to_state (str): state after
        goods_from (None | str): where the goods were
        goods_to (None | str): where the goods went
        occurred_at (str): an instant, ISO-8601 in UTC with a Z
        note (None | str): the actor's note
        evidence (list[CaseStepEvidenceType0Item] | None): evidence given
        details (CaseStepDetailsType0 | None): what else the step recorded
    """

    action: str
    actor: str
    from_state: None | str
    to_state: str
    goods_from: None | str
    goods_to: None | str
    occurred_at: str
    note: None | str
    evidence: list[CaseStepEvidenceType0Item] | None
    details: CaseStepDetailsType0 | None

    def to_dict(self) -> dict[str, Any]:
        from ..models.case_step_details_type_0 import CaseStepDetailsType0  # noqa: PLC0415

        action = self.action

        actor = self.actor

        from_state: None | str
        from_state = self.from_state

        to_state = self.to_state

        goods_from: None | str
        goods_from = self.goods_from

        goods_to: None | str
        goods_to = self.goods_to

        occurred_at = self.occurred_at

        note: None | str
        note = self.note

        evidence: list[dict[str, Any]] | None
        if isinstance(self.evidence, list):
            evidence = []
            for evidence_type_0_item_data in self.evidence:
                evidence_type_0_item = evidence_type_0_item_data.to_dict()
                evidence.append(evidence_type_0_item)

        else:
            evidence = self.evidence

        details: dict[str, Any] | None
        if isinstance(self.details, CaseStepDetailsType0):
            details = self.details.to_dict()
        else:
            details = self.details

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "action": action,
                "actor": actor,
                "from_state": from_state,
                "to_state": to_state,
                "goods_from": goods_from,
                "goods_to": goods_to,
                "occurred_at": occurred_at,
                "note": note,
                "evidence": evidence,
                "details": details,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.case_step_details_type_0 import CaseStepDetailsType0  # noqa: PLC0415
        from ..models.case_step_evidence_type_0_item import CaseStepEvidenceType0Item  # noqa: PLC0415

        d = dict(src_dict)
        action = d.pop("action")

        actor = d.pop("actor")

        def _parse_from_state(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        from_state = _parse_from_state(d.pop("from_state"))

        to_state = d.pop("to_state")

        def _parse_goods_from(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        goods_from = _parse_goods_from(d.pop("goods_from"))

        def _parse_goods_to(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        goods_to = _parse_goods_to(d.pop("goods_to"))

        occurred_at = d.pop("occurred_at")

        def _parse_note(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        note = _parse_note(d.pop("note"))

        def _parse_evidence(data: object) -> list[CaseStepEvidenceType0Item] | None:
            if data is None:
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                evidence_type_0 = []
                _evidence_type_0 = data
                for evidence_type_0_item_data in _evidence_type_0:
                    evidence_type_0_item = CaseStepEvidenceType0Item.from_dict(evidence_type_0_item_data)

                    evidence_type_0.append(evidence_type_0_item)

                return evidence_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[CaseStepEvidenceType0Item] | None, data)

        evidence = _parse_evidence(d.pop("evidence"))

        def _parse_details(data: object) -> CaseStepDetailsType0 | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                details_type_0 = CaseStepDetailsType0.from_dict(data)

                return details_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(CaseStepDetailsType0 | None, data)

        details = _parse_details(d.pop("details"))

        case_step = cls(
            action=action,
            actor=actor,
            from_state=from_state,
            to_state=to_state,
            goods_from=goods_from,
            goods_to=goods_to,
            occurred_at=occurred_at,
            note=note,
            evidence=evidence,
            details=details,
        )

        return case_step
