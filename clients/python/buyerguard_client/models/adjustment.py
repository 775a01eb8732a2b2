from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.order import Order
    from ..models.taken_from_merchant import TakenFromMerchant


T = TypeVar("T", bound="Adjustment")


@_attrs_define
class Adjustment:
    """An operator's adjustment of an order: who bears it and where the money came from.

    Attributes:
        id (str): the adjustment's id
        kind (str): what kind of adjustment
        order_id (str): the order adjusted
        sub_order_id (None | str): the sub-order, when one
        amount (str): an amount in yuan, two decimals, as a string (never a JSON number)
        borne_by (None | str): a compensation's: merchant or platform; null for a refund or a clawback
        reason (str): the operator's reason
        operator (str): who made it
        instruction_id (None | str): the instruction that pays it
        taken_from_merchant (None | TakenFromMerchant): where a merchant-borne amount came from
        occurred_at (str): an instant, ISO-8601 in UTC with a Z
        order (Order): An order and its sub-orders, as they stand.
    """

    id: str
    kind: str
    order_id: str
    sub_order_id: None | str
    amount: str
    borne_by: None | str
    reason: str
    operator: str
    instruction_id: None | str
    taken_from_merchant: None | TakenFromMerchant
    occurred_at: str
    order: Order

    def to_dict(self) -> dict[str, Any]:
        from ..models.taken_from_merchant import TakenFromMerchant  # noqa: PLC0415

        id = self.id

        kind = self.kind

        order_id = self.order_id

        sub_order_id: None | str
        sub_order_id = self.sub_order_id

        amount = self.amount

        borne_by: None | str
        borne_by = self.borne_by

        reason = self.reason

        operator = self.operator

        instruction_id: None | str
        instruction_id = self.instruction_id

        taken_from_merchant: dict[str, Any] | None
        if isinstance(self.taken_from_merchant, TakenFromMerchant):
            taken_from_merchant = self.taken_from_merchant.to_dict()
        else:
            taken_from_merchant = self.taken_from_merchant

        occurred_at = self.occurred_at

        order = self.order.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "kind": kind,
                "order_id": order_id,
                "sub_order_id": sub_order_id,
                "amount": amount,
                "borne_by": borne_by,
                "reason": reason,
                "operator": operator,
                "instruction_id": instruction_id,
                "taken_from_merchant": taken_from_merchant,
                "occurred_at": occurred_at,
                "order": order,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.order import Order  # noqa: PLC0415
        from ..models.taken_from_merchant import TakenFromMerchant  # noqa: PLC0415

        d = dict(src_dict)
        id = d.pop("id")

        kind = d.pop("kind")

        order_id = d.pop("order_id")

        def _parse_sub_order_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        sub_order_id = _parse_sub_order_id(d.pop("sub_order_id"))

        amount = d.pop("amount")

        def _parse_borne_by(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        borne_by = _parse_borne_by(d.pop("borne_by"))

        reason = d.pop("reason")

        operator = d.pop("operator")

        def _parse_instruction_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        instruction_id = _parse_instruction_id(d.pop("instruction_id"))

        def _parse_taken_from_merchant(data: object) -> None | TakenFromMerchant:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                taken_from_merchant_type_0 = TakenFromMerchant.from_dict(data)

                return taken_from_merchant_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | TakenFromMerchant, data)

        taken_from_merchant = _parse_taken_from_merchant(d.pop("taken_from_merchant"))

        occurred_at = d.pop("occurred_at")

        order = Order.from_dict(d.pop("order"))

        adjustment = cls(
            id=id,
            kind=kind,
            order_id=order_id,
            sub_order_id=sub_order_id,
            amount=amount,
            borne_by=borne_by,
            reason=reason,
            operator=operator,
            instruction_id=instruction_id,
            taken_from_merchant=taken_from_merchant,
            occurred_at=occurred_at,
            order=order,
        )

        return adjustment
