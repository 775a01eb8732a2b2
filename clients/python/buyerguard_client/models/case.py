from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

T = TypeVar("T", bound="Case")


@_attrs_define
class Case:
    """An after-sales case: refund-only, return or custom dispute.

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

    def to_dict(self) -> dict[str, Any]:
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
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
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

        case = cls(
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
        )

        return case
