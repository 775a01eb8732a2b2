from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.tier import Tier


T = TypeVar("T", bound="Product")


@_attrs_define
class Product:
    """A product with its tiers; the flat fields repeat the default tier for older clients.

    Attributes:
        id (str): the marketplace's id of the product
        version (int): bumped by every change (see /changes)
        merchant_id (str): who sells it
        title (str): display title
        tiers (list[Tier]): price tiers, spot first
        weight_grams (int | None): shipping weight
        ship_from_region (None | str): GB/T 2260 code it ships from
        return_class (None | str): its returns class (mandatory, opt-in, none)
        shipping_commitment_hours (int | None): hours to ship it after payment
        one_piece_forms (list[str]): one-piece shipping forms offered
        entrusted (bool): sold under entrusted (托管) operation
        unit_price (None | str): the default tier's price
        tier (None | str): the default tier's kind
        moq (int | None): the default tier's minimum order quantity
        seven_day_returns_opt_in (bool | None): the default tier's returns
    """

    id: str
    version: int
    merchant_id: str
    title: str
    tiers: list[Tier]
    weight_grams: int | None
    ship_from_region: None | str
    return_class: None | str
    shipping_commitment_hours: int | None
    one_piece_forms: list[str]
    entrusted: bool
    unit_price: None | str
    tier: None | str
    moq: int | None
    seven_day_returns_opt_in: bool | None

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        version = self.version

        merchant_id = self.merchant_id

        title = self.title

        tiers = []
        for tiers_item_data in self.tiers:
            tiers_item = tiers_item_data.to_dict()
            tiers.append(tiers_item)

        weight_grams: int | None
        weight_grams = self.weight_grams

        ship_from_region: None | str
        ship_from_region = self.ship_from_region

        return_class: None | str
        return_class = self.return_class

        shipping_commitment_hours: int | None
        shipping_commitment_hours = self.shipping_commitment_hours

        one_piece_forms = self.one_piece_forms

        entrusted = self.entrusted

        unit_price: None | str
        unit_price = self.unit_price

        tier: None | str
        tier = self.tier

        moq: int | None
        moq = self.moq

        seven_day_returns_opt_in: bool | None
        seven_day_returns_opt_in = self.seven_day_returns_opt_in

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "version": version,
                "merchant_id": merchant_id,
                "title": title,
                "tiers": tiers,
                "weight_grams": weight_grams,
                "ship_from_region": ship_from_region,
                "return_class": return_class,
                "shipping_commitment_hours": shipping_commitment_hours,
                "one_piece_forms": one_piece_forms,
                "entrusted": entrusted,
                "unit_price": unit_price,
                "tier": tier,
                "moq": moq,
                "seven_day_returns_opt_in": seven_day_returns_opt_in,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.tier import Tier  # noqa: PLC0415

        d = dict(src_dict)
        id = d.pop("id")

        version = d.pop("version")

        merchant_id = d.pop("merchant_id")

        title = d.pop("title")

        tiers = []
        _tiers = d.pop("tiers")
        for tiers_item_data in _tiers:
            tiers_item = Tier.from_dict(tiers_item_data)

            tiers.append(tiers_item)

        def _parse_weight_grams(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        weight_grams = _parse_weight_grams(d.pop("weight_grams"))

        def _parse_ship_from_region(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        ship_from_region = _parse_ship_from_region(d.pop("ship_from_region"))

        def _parse_return_class(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        return_class = _parse_return_class(d.pop("return_class"))

        def _parse_shipping_commitment_hours(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        shipping_commitment_hours = _parse_shipping_commitment_hours(d.pop("shipping_commitment_hours"))

        one_piece_forms = cast(list[str], d.pop("one_piece_forms"))

        entrusted = d.pop("entrusted")

        def _parse_unit_price(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        unit_price = _parse_unit_price(d.pop("unit_price"))

        def _parse_tier(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        tier = _parse_tier(d.pop("tier"))

        def _parse_moq(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        moq = _parse_moq(d.pop("moq"))

        def _parse_seven_day_returns_opt_in(data: object) -> bool | None:
            if data is None:
                return data
            return cast(bool | None, data)

        seven_day_returns_opt_in = _parse_seven_day_returns_opt_in(d.pop("seven_day_returns_opt_in"))

        product = cls(
            id=id,
            version=version,
            merchant_id=merchant_id,
            title=title,
            tiers=tiers,
            weight_grams=weight_grams,
            ship_from_region=ship_from_region,
            return_class=return_class,
            shipping_commitment_hours=shipping_commitment_hours,
            one_piece_forms=one_piece_forms,
            entrusted=entrusted,
            unit_price=unit_price,
            tier=tier,
            moq=moq,
            seven_day_returns_opt_in=seven_day_returns_opt_in,
        )

        return product
