from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.sub_order_terms_at_payment_type_0 import SubOrderTermsAtPaymentType0


T = TypeVar("T", bound="SubOrder")


@_attrs_define
class SubOrder:
    """A line of the order: one product, paid, refunded and settled on its own.

    Attributes:
        id (str): order id and line number, e.g. O-1-1
        line_no (int): from 1, in the order's line order
        product_id (str): the product
        quantity (int): pieces
        unit_price (str): an amount in yuan, two decimals, as a string (never a JSON number)
        goods (str): an amount in yuan, two decimals, as a string (never a JSON number)
        refunded (str): an amount in yuan, two decimals, as a string (never a JSON number)
        refunded_before_shipment (bool): refunded whole before shipment
        entrusted (bool): entrusted (托管) at payment
        fee (None | str): the platform fee charged at completion
        tier (None | str): the tier bought at
        terms_at_payment (None | SubOrderTermsAtPaymentType0): the product's terms as they stood at payment
    """

    id: str
    line_no: int
    product_id: str
    quantity: int
    unit_price: str
    goods: str
    refunded: str
    refunded_before_shipment: bool
    entrusted: bool
    fee: None | str
    tier: None | str
    terms_at_payment: None | SubOrderTermsAtPaymentType0

    def to_dict(self) -> dict[str, Any]:
        from ..models.sub_order_terms_at_payment_type_0 import SubOrderTermsAtPaymentType0  # noqa: PLC0415

        id = self.id

        line_no = self.line_no

        product_id = self.product_id

        quantity = self.quantity

        unit_price = self.unit_price

        goods = self.goods

        refunded = self.refunded

        refunded_before_shipment = self.refunded_before_shipment

        entrusted = self.entrusted

        fee: None | str
        fee = self.fee

        tier: None | str
        tier = self.tier

        terms_at_payment: dict[str, Any] | None
        if isinstance(self.terms_at_payment, SubOrderTermsAtPaymentType0):
            terms_at_payment = self.terms_at_payment.to_dict()
        else:
            terms_at_payment = self.terms_at_payment

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "line_no": line_no,
                "product_id": product_id,
                "quantity": quantity,
                "unit_price": unit_price,
                "goods": goods,
                "refunded": refunded,
                "refunded_before_shipment": refunded_before_shipment,
                "entrusted": entrusted,
                "fee": fee,
                "tier": tier,
                "terms_at_payment": terms_at_payment,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.sub_order_terms_at_payment_type_0 import SubOrderTermsAtPaymentType0  # noqa: PLC0415

        d = dict(src_dict)
        id = d.pop("id")

        line_no = d.pop("line_no")

        product_id = d.pop("product_id")

        quantity = d.pop("quantity")

        unit_price = d.pop("unit_price")

        goods = d.pop("goods")

        refunded = d.pop("refunded")

        refunded_before_shipment = d.pop("refunded_before_shipment")

        entrusted = d.pop("entrusted")

        def _parse_fee(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        fee = _parse_fee(d.pop("fee"))

        def _parse_tier(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        tier = _parse_tier(d.pop("tier"))

        def _parse_terms_at_payment(data: object) -> None | SubOrderTermsAtPaymentType0:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                terms_at_payment_type_0 = SubOrderTermsAtPaymentType0.from_dict(data)

                return terms_at_payment_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | SubOrderTermsAtPaymentType0, data)

        terms_at_payment = _parse_terms_at_payment(d.pop("terms_at_payment"))

        sub_order = cls(
            id=id,
            line_no=line_no,
            product_id=product_id,
            quantity=quantity,
            unit_price=unit_price,
            goods=goods,
            refunded=refunded,
            refunded_before_shipment=refunded_before_shipment,
            entrusted=entrusted,
            fee=fee,
            tier=tier,
            terms_at_payment=terms_at_payment,
        )

        return sub_order
