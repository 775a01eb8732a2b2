from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.evidence_in import EvidenceIn


T = TypeVar("T", bound="CaseActionIn")


@_attrs_define
class CaseActionIn:
    """An action on a case; each action reads the fields it needs (docs/aftersales.md).

    Attributes:
        occurred_at (datetime.datetime | None | Unset): When the fact happened (ISO-8601 instant with a UTC offset,
            1900-01-01T00:00:00Z to before 2200-01-01T00:00:00Z); default now
        amount (None | str | Unset): offer; ruling for the buyer
        note (None | str | Unset): for the record
        evidence (list[EvidenceIn] | Unset): evidence kept elsewhere
        official_logistics (bool | Unset): handover: a doorstep pickup by the platform's logistics Default: False.
        carrier (None | str | Unset): handover, pickup
        tracking_number (None | str | Unset): handover (buyer-sent)
        freight (None | str | Unset): pickup: the official freight
        result (None | str | Unset): inspection: ok or wrong_or_empty; ruling: buyer or merchant
        send_goods_back (bool | Unset): ruling: the return cannot be resold, send it back Default: False.
        buyer_malicious (bool | Unset): ruling: the buyer of an empty or wrong return was malicious Default: False.
    """

    occurred_at: datetime.datetime | None | Unset = UNSET
    amount: None | str | Unset = UNSET
    note: None | str | Unset = UNSET
    evidence: list[EvidenceIn] | Unset = UNSET
    official_logistics: bool | Unset = False
    carrier: None | str | Unset = UNSET
    tracking_number: None | str | Unset = UNSET
    freight: None | str | Unset = UNSET
    result: None | str | Unset = UNSET
    send_goods_back: bool | Unset = False
    buyer_malicious: bool | Unset = False

    def to_dict(self) -> dict[str, Any]:
        occurred_at: None | str | Unset
        if isinstance(self.occurred_at, Unset):
            occurred_at = UNSET
        elif isinstance(self.occurred_at, datetime.datetime):
            occurred_at = self.occurred_at.isoformat()
        else:
            occurred_at = self.occurred_at

        amount: None | str | Unset
        if isinstance(self.amount, Unset):
            amount = UNSET
        else:
            amount = self.amount

        note: None | str | Unset
        if isinstance(self.note, Unset):
            note = UNSET
        else:
            note = self.note

        evidence: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.evidence, Unset):
            evidence = []
            for evidence_item_data in self.evidence:
                evidence_item = evidence_item_data.to_dict()
                evidence.append(evidence_item)

        official_logistics = self.official_logistics

        carrier: None | str | Unset
        if isinstance(self.carrier, Unset):
            carrier = UNSET
        else:
            carrier = self.carrier

        tracking_number: None | str | Unset
        if isinstance(self.tracking_number, Unset):
            tracking_number = UNSET
        else:
            tracking_number = self.tracking_number

        freight: None | str | Unset
        if isinstance(self.freight, Unset):
            freight = UNSET
        else:
            freight = self.freight

        result: None | str | Unset
        if isinstance(self.result, Unset):
            result = UNSET
        else:
            result = self.result

        send_goods_back = self.send_goods_back

        buyer_malicious = self.buyer_malicious

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if occurred_at is not UNSET:
            field_dict["occurred_at"] = occurred_at
        if amount is not UNSET:
            field_dict["amount"] = amount
        if note is not UNSET:
            field_dict["note"] = note
        if evidence is not UNSET:
            field_dict["evidence"] = evidence
        if official_logistics is not UNSET:
            field_dict["official_logistics"] = official_logistics
        if carrier is not UNSET:
            field_dict["carrier"] = carrier
        if tracking_number is not UNSET:
            field_dict["tracking_number"] = tracking_number
        if freight is not UNSET:
            field_dict["freight"] = freight
        if result is not UNSET:
            field_dict["result"] = result
        if send_goods_back is not UNSET:
            field_dict["send_goods_back"] = send_goods_back
        if buyer_malicious is not UNSET:
            field_dict["buyer_malicious"] = buyer_malicious

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.evidence_in import EvidenceIn  # noqa: PLC0415

        d = dict(src_dict)

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

        def _parse_amount(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        amount = _parse_amount(d.pop("amount", UNSET))

        def _parse_note(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        note = _parse_note(d.pop("note", UNSET))

        _evidence = d.pop("evidence", UNSET)
        evidence: list[EvidenceIn] | Unset = UNSET
        if _evidence is not UNSET:
            evidence = []
            for evidence_item_data in _evidence:
                evidence_item = EvidenceIn.from_dict(evidence_item_data)

                evidence.append(evidence_item)

        official_logistics = d.pop("official_logistics", UNSET)

        def _parse_carrier(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        carrier = _parse_carrier(d.pop("carrier", UNSET))

        def _parse_tracking_number(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        tracking_number = _parse_tracking_number(d.pop("tracking_number", UNSET))

        def _parse_freight(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        freight = _parse_freight(d.pop("freight", UNSET))

        def _parse_result(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        result = _parse_result(d.pop("result", UNSET))

        send_goods_back = d.pop("send_goods_back", UNSET)

        buyer_malicious = d.pop("buyer_malicious", UNSET)

        case_action_in = cls(
            occurred_at=occurred_at,
            amount=amount,
            note=note,
            evidence=evidence,
            official_logistics=official_logistics,
            carrier=carrier,
            tracking_number=tracking_number,
            freight=freight,
            result=result,
            send_goods_back=send_goods_back,
            buyer_malicious=buyer_malicious,
        )

        return case_action_in
