from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.sub_order import SubOrder


T = TypeVar("T", bound="Order")


@_attrs_define
class Order:
    """An order and its sub-orders, as they stand.

    Attributes:
        id (str): the marketplace's order id
        state (str): placed, paid, shipped, signed, confirmed, completed…
        buyer_id (str): who buys
        merchant_id (str): who sells
        destination_region (None | str): GB/T 2260 district it goes to
        goods (str): an amount in yuan, two decimals, as a string (never a JSON number)
        shipping (str): an amount in yuan, two decimals, as a string (never a JSON number)
        total (str): an amount in yuan, two decimals, as a string (never a JSON number)
        placed_at (None | str): when it was placed
        paid_at (None | str): when it was paid
        paid_rulebook_id (None | str): the rulebook in force at payment
        shipped_at (None | str): when it was shipped
        carrier (None | str): carrier code
        tracking_number (None | str): the carrier's tracking number
        official_logistics (bool | None): shipped through official logistics
        signed_at (None | str): when it was signed for
        confirmed_at (None | str): when receipt was confirmed
        confirmed_by (None | str): buyer, or auto (the timeout)
        completed_at (None | str): when escrow was settled
        cancelled_at (None | str): when it was cancelled
        refunded_at (None | str): when it was refunded before shipment
        sub_orders (list[SubOrder]): one per line
    """

    id: str
    state: str
    buyer_id: str
    merchant_id: str
    destination_region: None | str
    goods: str
    shipping: str
    total: str
    placed_at: None | str
    paid_at: None | str
    paid_rulebook_id: None | str
    shipped_at: None | str
    carrier: None | str
    tracking_number: None | str
    official_logistics: bool | None
    signed_at: None | str
    confirmed_at: None | str
    confirmed_by: None | str
    completed_at: None | str
    cancelled_at: None | str
    refunded_at: None | str
    sub_orders: list[SubOrder]

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        state = self.state

        buyer_id = self.buyer_id

        merchant_id = self.merchant_id

        destination_region: None | str
        destination_region = self.destination_region

        goods = self.goods

        shipping = self.shipping

        total = self.total

        placed_at: None | str
        placed_at = self.placed_at

        paid_at: None | str
        paid_at = self.paid_at

        paid_rulebook_id: None | str
        paid_rulebook_id = self.paid_rulebook_id

        shipped_at: None | str
        shipped_at = self.shipped_at

        carrier: None | str
        carrier = self.carrier

        tracking_number: None | str
        tracking_number = self.tracking_number

        official_logistics: bool | None
        official_logistics = self.official_logistics

        signed_at: None | str
        signed_at = self.signed_at

        confirmed_at: None | str
        confirmed_at = self.confirmed_at

        confirmed_by: None | str
        confirmed_by = self.confirmed_by

        completed_at: None | str
        completed_at = self.completed_at

        cancelled_at: None | str
        cancelled_at = self.cancelled_at

        refunded_at: None | str
        refunded_at = self.refunded_at

        sub_orders = []
        for sub_orders_item_data in self.sub_orders:
            sub_orders_item = sub_orders_item_data.to_dict()
            sub_orders.append(sub_orders_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "state": state,
                "buyer_id": buyer_id,
                "merchant_id": merchant_id,
                "destination_region": destination_region,
                "goods": goods,
                "shipping": shipping,
                "total": total,
                "placed_at": placed_at,
                "paid_at": paid_at,
                "paid_rulebook_id": paid_rulebook_id,
                "shipped_at": shipped_at,
                "carrier": carrier,
                "tracking_number": tracking_number,
                "official_logistics": official_logistics,
                "signed_at": signed_at,
                "confirmed_at": confirmed_at,
                "confirmed_by": confirmed_by,
                "completed_at": completed_at,
                "cancelled_at": cancelled_at,
                "refunded_at": refunded_at,
                "sub_orders": sub_orders,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.sub_order import SubOrder  # noqa: PLC0415

        d = dict(src_dict)
        id = d.pop("id")

        state = d.pop("state")

        buyer_id = d.pop("buyer_id")

        merchant_id = d.pop("merchant_id")

        def _parse_destination_region(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        destination_region = _parse_destination_region(d.pop("destination_region"))

        goods = d.pop("goods")

        shipping = d.pop("shipping")

        total = d.pop("total")

        def _parse_placed_at(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        placed_at = _parse_placed_at(d.pop("placed_at"))

        def _parse_paid_at(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        paid_at = _parse_paid_at(d.pop("paid_at"))

        def _parse_paid_rulebook_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        paid_rulebook_id = _parse_paid_rulebook_id(d.pop("paid_rulebook_id"))

        def _parse_shipped_at(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        shipped_at = _parse_shipped_at(d.pop("shipped_at"))

        def _parse_carrier(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        carrier = _parse_carrier(d.pop("carrier"))

        def _parse_tracking_number(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        tracking_number = _parse_tracking_number(d.pop("tracking_number"))

        def _parse_official_logistics(data: object) -> bool | None:
            if data is None:
                return data
            return cast(bool | None, data)

        official_logistics = _parse_official_logistics(d.pop("official_logistics"))

        def _parse_signed_at(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        signed_at = _parse_signed_at(d.pop("signed_at"))

        def _parse_confirmed_at(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        confirmed_at = _parse_confirmed_at(d.pop("confirmed_at"))

        def _parse_confirmed_by(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        confirmed_by = _parse_confirmed_by(d.pop("confirmed_by"))

        def _parse_completed_at(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        completed_at = _parse_completed_at(d.pop("completed_at"))

        def _parse_cancelled_at(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        cancelled_at = _parse_cancelled_at(d.pop("cancelled_at"))

        def _parse_refunded_at(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        refunded_at = _parse_refunded_at(d.pop("refunded_at"))

        sub_orders = []
        _sub_orders = d.pop("sub_orders")
        for sub_orders_item_data in _sub_orders:
            sub_orders_item = SubOrder.from_dict(sub_orders_item_data)

            sub_orders.append(sub_orders_item)

        order = cls(
            id=id,
            state=state,
            buyer_id=buyer_id,
            merchant_id=merchant_id,
            destination_region=destination_region,
            goods=goods,
            shipping=shipping,
            total=total,
            placed_at=placed_at,
            paid_at=paid_at,
            paid_rulebook_id=paid_rulebook_id,
            shipped_at=shipped_at,
            carrier=carrier,
            tracking_number=tracking_number,
            official_logistics=official_logistics,
            signed_at=signed_at,
            confirmed_at=confirmed_at,
            confirmed_by=confirmed_by,
            completed_at=completed_at,
            cancelled_at=cancelled_at,
            refunded_at=refunded_at,
            sub_orders=sub_orders,
        )

        return order
