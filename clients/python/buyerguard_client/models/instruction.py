from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.instruction_details_type_0 import InstructionDetailsType0


T = TypeVar("T", bound="Instruction")


@_attrs_define
class Instruction:
    """An instruction to pay out (payout, refund, compensation…) and its outcome.

    Attributes:
        id (str): the instruction's id
        kind (str): payout, refund, compensation, subsidy…
        party (str): who is paid: merchant:M1, buyer:B1, carrier:SF…
        amount (str): an amount in yuan, two decimals, as a string (never a JSON number)
        state (str): instructed, executed or failed
        order_id (None | str): the order it pays for, when there is one
        run_id (None | str): the payout run that made it
        retry_of (None | str): the failed instruction it instructs again
        decision_id (None | str): the decision that made it
        instructed_at (str): an instant, ISO-8601 in UTC with a Z
        overdue_after (None | str): overdue with no outcome after this
        reported_at (None | str): when its outcome was reported
        outcome_at (None | str): when it executed or failed, as reported
        reported_by (None | str): who reported the outcome
        failure_reason (None | str): why it failed, as reported
        reference (None | str): the marketplace's reference (bank, channel)
        cut_over (bool): made by the cut-over from before instructions
        details (InstructionDetailsType0 | None): what else it carries, by kind
    """

    id: str
    kind: str
    party: str
    amount: str
    state: str
    order_id: None | str
    run_id: None | str
    retry_of: None | str
    decision_id: None | str
    instructed_at: str
    overdue_after: None | str
    reported_at: None | str
    outcome_at: None | str
    reported_by: None | str
    failure_reason: None | str
    reference: None | str
    cut_over: bool
    details: InstructionDetailsType0 | None

    def to_dict(self) -> dict[str, Any]:
        from ..models.instruction_details_type_0 import InstructionDetailsType0  # noqa: PLC0415

        id = self.id

        kind = self.kind

        party = self.party

        amount = self.amount

        state = self.state

        order_id: None | str
        order_id = self.order_id

        run_id: None | str
        run_id = self.run_id

        retry_of: None | str
        retry_of = self.retry_of

        decision_id: None | str
        decision_id = self.decision_id

        instructed_at = self.instructed_at

        overdue_after: None | str
        overdue_after = self.overdue_after

        reported_at: None | str
        reported_at = self.reported_at

        outcome_at: None | str
        outcome_at = self.outcome_at

        reported_by: None | str
        reported_by = self.reported_by

        failure_reason: None | str
        failure_reason = self.failure_reason

        reference: None | str
        reference = self.reference

        cut_over = self.cut_over

        details: dict[str, Any] | None
        if isinstance(self.details, InstructionDetailsType0):
            details = self.details.to_dict()
        else:
            details = self.details

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "kind": kind,
                "party": party,
                "amount": amount,
                "state": state,
                "order_id": order_id,
                "run_id": run_id,
                "retry_of": retry_of,
                "decision_id": decision_id,
                "instructed_at": instructed_at,
                "overdue_after": overdue_after,
                "reported_at": reported_at,
                "outcome_at": outcome_at,
                "reported_by": reported_by,
                "failure_reason": failure_reason,
                "reference": reference,
                "cut_over": cut_over,
                "details": details,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.instruction_details_type_0 import InstructionDetailsType0  # noqa: PLC0415

        d = dict(src_dict)
        id = d.pop("id")

        kind = d.pop("kind")

        party = d.pop("party")

        amount = d.pop("amount")

        state = d.pop("state")

        def _parse_order_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        order_id = _parse_order_id(d.pop("order_id"))

        def _parse_run_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        run_id = _parse_run_id(d.pop("run_id"))

        def _parse_retry_of(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        retry_of = _parse_retry_of(d.pop("retry_of"))

        def _parse_decision_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        decision_id = _parse_decision_id(d.pop("decision_id"))

        instructed_at = d.pop("instructed_at")

        def _parse_overdue_after(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        overdue_after = _parse_overdue_after(d.pop("overdue_after"))

        def _parse_reported_at(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        reported_at = _parse_reported_at(d.pop("reported_at"))

        def _parse_outcome_at(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        outcome_at = _parse_outcome_at(d.pop("outcome_at"))

        def _parse_reported_by(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        reported_by = _parse_reported_by(d.pop("reported_by"))

        def _parse_failure_reason(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        failure_reason = _parse_failure_reason(d.pop("failure_reason"))

        def _parse_reference(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        reference = _parse_reference(d.pop("reference"))

        cut_over = d.pop("cut_over")

        def _parse_details(data: object) -> InstructionDetailsType0 | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                details_type_0 = InstructionDetailsType0.from_dict(data)

                return details_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(InstructionDetailsType0 | None, data)

        details = _parse_details(d.pop("details"))

        instruction = cls(
            id=id,
            kind=kind,
            party=party,
            amount=amount,
            state=state,
            order_id=order_id,
            run_id=run_id,
            retry_of=retry_of,
            decision_id=decision_id,
            instructed_at=instructed_at,
            overdue_after=overdue_after,
            reported_at=reported_at,
            outcome_at=outcome_at,
            reported_by=reported_by,
            failure_reason=failure_reason,
            reference=reference,
            cut_over=cut_over,
            details=details,
        )

        return instruction
