from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.facts_in_fact_envelope_body_type_0 import FactsInFactEnvelopeBodyType0


T = TypeVar("T", bound="FactsInFactEnvelope")


@_attrs_define
class FactsInFactEnvelope:
    """One fact of a batch: the body its single route takes, and that route's key.

    Attributes:
        kind (str): the fact: order, payment, shipment, signing, confirmation, cancellation, refund-before-shipment,
            payout-execution, instruction-execution, case, case-<action>
        idempotency_key (str): the Idempotency-Key its own route would take
        order_id (None | str | Unset): the order (every order fact; an `order` fact places its order under it when its
            body names no `id`)
        instruction_id (None | str | Unset): the instruction or payout (execution reports)
        case_id (None | str | Unset): the case (case actions)
        body (FactsInFactEnvelopeBodyType0 | None | Unset): what the kind's own route takes, e.g. {"amount": "36.00"}
    """

    kind: str
    idempotency_key: str
    order_id: None | str | Unset = UNSET
    instruction_id: None | str | Unset = UNSET
    case_id: None | str | Unset = UNSET
    body: FactsInFactEnvelopeBodyType0 | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.facts_in_fact_envelope_body_type_0 import FactsInFactEnvelopeBodyType0  # noqa: PLC0415

        kind = self.kind

        idempotency_key = self.idempotency_key

        order_id: None | str | Unset
        if isinstance(self.order_id, Unset):
            order_id = UNSET
        else:
            order_id = self.order_id

        instruction_id: None | str | Unset
        if isinstance(self.instruction_id, Unset):
            instruction_id = UNSET
        else:
            instruction_id = self.instruction_id

        case_id: None | str | Unset
        if isinstance(self.case_id, Unset):
            case_id = UNSET
        else:
            case_id = self.case_id

        body: dict[str, Any] | None | Unset
        if isinstance(self.body, Unset):
            body = UNSET
        elif isinstance(self.body, FactsInFactEnvelopeBodyType0):
            body = self.body.to_dict()
        else:
            body = self.body

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "kind": kind,
                "idempotency_key": idempotency_key,
            }
        )
        if order_id is not UNSET:
            field_dict["order_id"] = order_id
        if instruction_id is not UNSET:
            field_dict["instruction_id"] = instruction_id
        if case_id is not UNSET:
            field_dict["case_id"] = case_id
        if body is not UNSET:
            field_dict["body"] = body

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.facts_in_fact_envelope_body_type_0 import FactsInFactEnvelopeBodyType0  # noqa: PLC0415

        d = dict(src_dict)
        kind = d.pop("kind")

        idempotency_key = d.pop("idempotency_key")

        def _parse_order_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        order_id = _parse_order_id(d.pop("order_id", UNSET))

        def _parse_instruction_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        instruction_id = _parse_instruction_id(d.pop("instruction_id", UNSET))

        def _parse_case_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        case_id = _parse_case_id(d.pop("case_id", UNSET))

        def _parse_body(data: object) -> FactsInFactEnvelopeBodyType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                body_type_0 = FactsInFactEnvelopeBodyType0.from_dict(data)

                return body_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(FactsInFactEnvelopeBodyType0 | None | Unset, data)

        body = _parse_body(d.pop("body", UNSET))

        facts_in_fact_envelope = cls(
            kind=kind,
            idempotency_key=idempotency_key,
            order_id=order_id,
            instruction_id=instruction_id,
            case_id=case_id,
            body=body,
        )

        return facts_in_fact_envelope
