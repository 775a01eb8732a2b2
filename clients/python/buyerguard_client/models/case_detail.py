from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.case_payment import CasePayment
    from ..models.case_step import CaseStep
    from ..models.deadline import Deadline
    from ..models.event import Event


T = TypeVar("T", bound="CaseDetail")


@_attrs_define
class CaseDetail:
    """A case with its running deadline, what it owes and paid, its steps and decisions.

    Attributes:
        id (str): the case's id
        type_ (str): refund_only, return_no_reason, return_quality, custom…
        order_id (str): the order
        sub_order_id (str): the sub-order it is about
        buyer_id (str): the buyer
        merchant_id (str): the merchant
        state (str): where the case stands (docs/aftersales.md)
        goods (str): where the goods are: with_buyer, in_transit, returned…
        requested (str): an amount in yuan, two decimals, as a string (never a JSON number)
        offered (None | str): the merchant's offer, when one
        agreed (None | str): the amount agreed, when agreed
        refunded (str): an amount in yuan, two decimals, as a string (never a JSON number)
        quick_refunded (str): an amount in yuan, two decimals, as a string (never a JSON number)
        compensated (str): an amount in yuan, two decimals, as a string (never a JSON number)
        trigger (None | str): the custom-goods trigger, for a custom dispute
        official_pickup (bool): the return goes by the platform's pickup
        negotiated (bool): the merchant offered another amount
        outcome (None | str): how it ended
        reason (str): the buyer's reason
        opened_by (str): who opened it
        opened_at (str): an instant, ISO-8601 in UTC with a Z
        closed_at (None | str): when it ended
        rulebook_id (str): the rulebook it runs under
        owed (str): an amount in yuan, two decimals, as a string (never a JSON number)
        paid (str): an amount in yuan, two decimals, as a string (never a JSON number)
        payments (list[CasePayment]): its instructions
        deadline (Deadline | None): the deadline running now
        history (list[CaseStep]): every step, oldest first
        decisions (list[Event]): every decision, oldest first
    """

    id: str
    type_: str
    order_id: str
    sub_order_id: str
    buyer_id: str
    merchant_id: str
    state: str
    goods: str
    requested: str
    offered: None | str
    agreed: None | str
    refunded: str
    quick_refunded: str
    compensated: str
    trigger: None | str
    official_pickup: bool
    negotiated: bool
    outcome: None | str
    reason: str
    opened_by: str
    opened_at: str
    closed_at: None | str
    rulebook_id: str
    owed: str
    paid: str
    payments: list[CasePayment]
    deadline: Deadline | None
    history: list[CaseStep]
    decisions: list[Event]

    def to_dict(self) -> dict[str, Any]:
        from ..models.deadline import Deadline  # noqa: PLC0415

        id = self.id

        type_ = self.type_

        order_id = self.order_id

        sub_order_id = self.sub_order_id

        buyer_id = self.buyer_id

        merchant_id = self.merchant_id

        state = self.state

        goods = self.goods

        requested = self.requested

        offered: None | str
        offered = self.offered

        agreed: None | str
        agreed = self.agreed

        refunded = self.refunded

        quick_refunded = self.quick_refunded

        compensated = self.compensated

        trigger: None | str
        trigger = self.trigger

        official_pickup = self.official_pickup

        negotiated = self.negotiated

        outcome: None | str
        outcome = self.outcome

        reason = self.reason

        opened_by = self.opened_by

        opened_at = self.opened_at

        closed_at: None | str
        closed_at = self.closed_at

        rulebook_id = self.rulebook_id

        owed = self.owed

        paid = self.paid

        payments = []
        for payments_item_data in self.payments:
            payments_item = payments_item_data.to_dict()
            payments.append(payments_item)

        deadline: dict[str, Any] | None
        if isinstance(self.deadline, Deadline):
            deadline = self.deadline.to_dict()
        else:
            deadline = self.deadline

        history = []
        for history_item_data in self.history:
            history_item = history_item_data.to_dict()
            history.append(history_item)

        decisions = []
        for decisions_item_data in self.decisions:
            decisions_item = decisions_item_data.to_dict()
            decisions.append(decisions_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "type": type_,
                "order_id": order_id,
                "sub_order_id": sub_order_id,
                "buyer_id": buyer_id,
                "merchant_id": merchant_id,
                "state": state,
                "goods": goods,
                "requested": requested,
                "offered": offered,
                "agreed": agreed,
                "refunded": refunded,
                "quick_refunded": quick_refunded,
                "compensated": compensated,
                "trigger": trigger,
                "official_pickup": official_pickup,
                "negotiated": negotiated,
                "outcome": outcome,
                "reason": reason,
                "opened_by": opened_by,
                "opened_at": opened_at,
                "closed_at": closed_at,
                "rulebook_id": rulebook_id,
                "owed": owed,
                "paid": paid,
                "payments": payments,
                "deadline": deadline,
                "history": history,
                "decisions": decisions,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.case_payment import CasePayment  # noqa: PLC0415
        from ..models.case_step import CaseStep  # noqa: PLC0415
        from ..models.deadline import Deadline  # noqa: PLC0415
        from ..models.event import Event  # noqa: PLC0415

        d = dict(src_dict)
        id = d.pop("id")

        type_ = d.pop("type")

        order_id = d.pop("order_id")

        sub_order_id = d.pop("sub_order_id")

        buyer_id = d.pop("buyer_id")

        merchant_id = d.pop("merchant_id")

        state = d.pop("state")

        goods = d.pop("goods")

        requested = d.pop("requested")

        def _parse_offered(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        offered = _parse_offered(d.pop("offered"))

        def _parse_agreed(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        agreed = _parse_agreed(d.pop("agreed"))

        refunded = d.pop("refunded")

        quick_refunded = d.pop("quick_refunded")

        compensated = d.pop("compensated")

        def _parse_trigger(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        trigger = _parse_trigger(d.pop("trigger"))

        official_pickup = d.pop("official_pickup")

        negotiated = d.pop("negotiated")

        def _parse_outcome(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        outcome = _parse_outcome(d.pop("outcome"))

        reason = d.pop("reason")

        opened_by = d.pop("opened_by")

        opened_at = d.pop("opened_at")

        def _parse_closed_at(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        closed_at = _parse_closed_at(d.pop("closed_at"))

        rulebook_id = d.pop("rulebook_id")

        owed = d.pop("owed")

        paid = d.pop("paid")

        payments = []
        _payments = d.pop("payments")
        for payments_item_data in _payments:
            payments_item = CasePayment.from_dict(payments_item_data)

            payments.append(payments_item)

        def _parse_deadline(data: object) -> Deadline | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                deadline_type_0 = Deadline.from_dict(data)

                return deadline_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(Deadline | None, data)

        deadline = _parse_deadline(d.pop("deadline"))

        history = []
        _history = d.pop("history")
        for history_item_data in _history:
            history_item = CaseStep.from_dict(history_item_data)

            history.append(history_item)

        decisions = []
        _decisions = d.pop("decisions")
        for decisions_item_data in _decisions:
            decisions_item = Event.from_dict(decisions_item_data)

            decisions.append(decisions_item)

        case_detail = cls(
            id=id,
            type_=type_,
            order_id=order_id,
            sub_order_id=sub_order_id,
            buyer_id=buyer_id,
            merchant_id=merchant_id,
            state=state,
            goods=goods,
            requested=requested,
            offered=offered,
            agreed=agreed,
            refunded=refunded,
            quick_refunded=quick_refunded,
            compensated=compensated,
            trigger=trigger,
            official_pickup=official_pickup,
            negotiated=negotiated,
            outcome=outcome,
            reason=reason,
            opened_by=opened_by,
            opened_at=opened_at,
            closed_at=closed_at,
            rulebook_id=rulebook_id,
            owed=owed,
            paid=paid,
            payments=payments,
            deadline=deadline,
            history=history,
            decisions=decisions,
        )

        return case_detail
