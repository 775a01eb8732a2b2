from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.event_details import EventDetails


T = TypeVar("T", bound="Event")


@_attrs_define
class Event:
    """A decision, as the feed, webhooks and decision lists show it.

    Attributes:
        cursor (None | str):
        id (str): the decision's id; unique, stable across replays
        kind (str): e.g. escrow_held, fee_charged, case_opened
        subject_id (str): what it is about (order, case, instruction…)
        sequence (int): its number among its subject's decisions
        order_id (None | str): the order, when there is one
        amount (str): an amount in yuan, two decimals, as a string (never a JSON number)
        payer (None | str): the account that pays, when money moves
        payee (None | str): the account that is paid, when money moves
        rule_ids (list[str]): the rulebook keys that justify it
        rulebook_id (str): the rulebook in force, e.g. 2024-10-01
        explanation (str): why, for people
        details (EventDetails): what else was decided, by kind
        occurred_at (str): an instant, ISO-8601 in UTC with a Z
        recorded_at (str): an instant, ISO-8601 in UTC with a Z
    """

    cursor: None | str
    id: str
    kind: str
    subject_id: str
    sequence: int
    order_id: None | str
    amount: str
    payer: None | str
    payee: None | str
    rule_ids: list[str]
    rulebook_id: str
    explanation: str
    details: EventDetails
    occurred_at: str
    recorded_at: str

    def to_dict(self) -> dict[str, Any]:
        cursor: None | str
        cursor = self.cursor

        id = self.id

        kind = self.kind

        subject_id = self.subject_id

        sequence = self.sequence

        order_id: None | str
        order_id = self.order_id

        amount = self.amount

        payer: None | str
        payer = self.payer

        payee: None | str
        payee = self.payee

        rule_ids = self.rule_ids

        rulebook_id = self.rulebook_id

        explanation = self.explanation

        details = self.details.to_dict()

        occurred_at = self.occurred_at

        recorded_at = self.recorded_at

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "cursor": cursor,
                "id": id,
                "kind": kind,
                "subject_id": subject_id,
                "sequence": sequence,
                "order_id": order_id,
                "amount": amount,
                "payer": payer,
                "payee": payee,
                "rule_ids": rule_ids,
                "rulebook_id": rulebook_id,
                "explanation": explanation,
                "details": details,
                "occurred_at": occurred_at,
                "recorded_at": recorded_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.event_details import EventDetails  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_cursor(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        cursor = _parse_cursor(d.pop("cursor"))

        id = d.pop("id")

        kind = d.pop("kind")

        subject_id = d.pop("subject_id")

        sequence = d.pop("sequence")

        def _parse_order_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        order_id = _parse_order_id(d.pop("order_id"))

        amount = d.pop("amount")

        def _parse_payer(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        payer = _parse_payer(d.pop("payer"))

        def _parse_payee(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        payee = _parse_payee(d.pop("payee"))

        rule_ids = cast(list[str], d.pop("rule_ids"))

        rulebook_id = d.pop("rulebook_id")

        explanation = d.pop("explanation")

        details = EventDetails.from_dict(d.pop("details"))

        occurred_at = d.pop("occurred_at")

        recorded_at = d.pop("recorded_at")

        event = cls(
            cursor=cursor,
            id=id,
            kind=kind,
            subject_id=subject_id,
            sequence=sequence,
            order_id=order_id,
            amount=amount,
            payer=payer,
            payee=payee,
            rule_ids=rule_ids,
            rulebook_id=rulebook_id,
            explanation=explanation,
            details=details,
            occurred_at=occurred_at,
            recorded_at=recorded_at,
        )

        return event
