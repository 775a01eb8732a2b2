from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="CasePayment")


@_attrs_define
class CasePayment:
    """
    Attributes:
        instruction_id (str): the instruction
        kind (str): refund, compensation, subsidy, freight…
        party (str): who is paid
        amount (str): an amount in yuan, two decimals, as a string (never a JSON number)
        state (str): instructed, executed or failed
    """

    instruction_id: str
    kind: str
    party: str
    amount: str
    state: str

    def to_dict(self) -> dict[str, Any]:
        instruction_id = self.instruction_id

        kind = self.kind

        party = self.party

        amount = self.amount

        state = self.state

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "instruction_id": instruction_id,
                "kind": kind,
                "party": party,
                "amount": amount,
                "state": state,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        instruction_id = d.pop("instruction_id")

        kind = d.pop("kind")

        party = d.pop("party")

        amount = d.pop("amount")

        state = d.pop("state")

        case_payment = cls(
            instruction_id=instruction_id,
            kind=kind,
            party=party,
            amount=amount,
            state=state,
        )

        return case_payment
