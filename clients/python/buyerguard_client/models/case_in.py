from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.evidence_in import EvidenceIn


T = TypeVar("T", bound="CaseIn")


@_attrs_define
class CaseIn:
    """A buyer's after-sales request on one shipped sub-order.

    Attributes:
        type_ (str): refund_only_not_received, refund_only_quality, return_no_reason, return_quality, custom_dispute,
            transit_claim (the merchant) or false_shipment (the marketplace or an operator)
        sub_order_id (str): the shipped sub-order it is about
        reason (str): the buyer's reason, for the merchant and the record
        occurred_at (datetime.datetime | None | Unset): When the fact happened (ISO-8601 instant with a UTC offset,
            1900-01-01T00:00:00Z to before 2200-01-01T00:00:00Z); default now
        id (None | str | Unset): the case id (default: generated)
        amount (None | str | Unset): what the buyer asks back (default: all that is left)
        trigger (None | str | Unset): custom_dispute: the failure, one of custom_compensation.triggers
        evidence (list[EvidenceIn] | Unset): evidence kept elsewhere
    """

    type_: str
    sub_order_id: str
    reason: str
    occurred_at: datetime.datetime | None | Unset = UNSET
    id: None | str | Unset = UNSET
    amount: None | str | Unset = UNSET
    trigger: None | str | Unset = UNSET
    evidence: list[EvidenceIn] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        type_ = self.type_

        sub_order_id = self.sub_order_id

        reason = self.reason

        occurred_at: None | str | Unset
        if isinstance(self.occurred_at, Unset):
            occurred_at = UNSET
        elif isinstance(self.occurred_at, datetime.datetime):
            occurred_at = self.occurred_at.isoformat()
        else:
            occurred_at = self.occurred_at

        id: None | str | Unset
        if isinstance(self.id, Unset):
            id = UNSET
        else:
            id = self.id

        amount: None | str | Unset
        if isinstance(self.amount, Unset):
            amount = UNSET
        else:
            amount = self.amount

        trigger: None | str | Unset
        if isinstance(self.trigger, Unset):
            trigger = UNSET
        else:
            trigger = self.trigger

        evidence: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.evidence, Unset):
            evidence = []
            for evidence_item_data in self.evidence:
                evidence_item = evidence_item_data.to_dict()
                evidence.append(evidence_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "type": type_,
                "sub_order_id": sub_order_id,
                "reason": reason,
            }
        )
        if occurred_at is not UNSET:
            field_dict["occurred_at"] = occurred_at
        if id is not UNSET:
            field_dict["id"] = id
        if amount is not UNSET:
            field_dict["amount"] = amount
        if trigger is not UNSET:
            field_dict["trigger"] = trigger
        if evidence is not UNSET:
            field_dict["evidence"] = evidence

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.evidence_in import EvidenceIn  # noqa: PLC0415

        d = dict(src_dict)
        type_ = d.pop("type")

        sub_order_id = d.pop("sub_order_id")

        reason = d.pop("reason")

        def _parse_occurred_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                occurred_at_type_0 = datetime.datetime.fromisoformat(data)

                return occurred_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        occurred_at = _parse_occurred_at(d.pop("occurred_at", UNSET))

        def _parse_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        id = _parse_id(d.pop("id", UNSET))

        def _parse_amount(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        amount = _parse_amount(d.pop("amount", UNSET))

        def _parse_trigger(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        trigger = _parse_trigger(d.pop("trigger", UNSET))

        _evidence = d.pop("evidence", UNSET)
        evidence: list[EvidenceIn] | Unset = UNSET
        if _evidence is not UNSET:
            evidence = []
            for evidence_item_data in _evidence:
                evidence_item = EvidenceIn.from_dict(evidence_item_data)

                evidence.append(evidence_item)

        case_in = cls(
            type_=type_,
            sub_order_id=sub_order_id,
            reason=reason,
            occurred_at=occurred_at,
            id=id,
            amount=amount,
            trigger=trigger,
            evidence=evidence,
        )

        return case_in
