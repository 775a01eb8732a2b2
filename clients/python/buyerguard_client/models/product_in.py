from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.tier_in import TierIn


T = TypeVar("T", bound="ProductIn")


@_attrs_define
class ProductIn:
    """A product with `tiers`; or, as before, one tier from `unit_price`, `tier`, `moq` and
    `seven_day_returns_opt_in` (not both ways at once).

        Attributes:
            id (str): the marketplace's id of the product
            merchant_id (str): who sells it
            title (str): display title
            ship_from_region (str): GB/T 2260 code
            tiers (list[TierIn] | None | Unset): price tiers (or the one-tier fields below)
            unit_price (None | str | Unset): one tier only: its price
            weight_grams (int | Unset): shipping weight in grams Default: 0.
            return_class (str | Unset): mandatory, or a class of returns.excluded_categories / optional_categories Default:
                'mandatory'.
            shipping_commitment_hours (int | None | Unset):
            tier (None | str | Unset): one tier only: its kind (default spot)
            moq (int | None | Unset): one tier only: its MOQ (default 1)
            one_piece_forms (list[str] | Unset): one-piece shipping forms offered
            entrusted (bool | Unset): sold under entrusted (托管) operation Default: False.
            seven_day_returns_opt_in (bool | None | Unset): one tier only: whether it offers 7-day returns (default false)
            occurred_at (datetime.datetime | None | Unset): When the fact happened (ISO-8601 instant with a UTC offset,
                1900-01-01T00:00:00Z to before 2200-01-01T00:00:00Z); default now
    """

    id: str
    merchant_id: str
    title: str
    ship_from_region: str
    tiers: list[TierIn] | None | Unset = UNSET
    unit_price: None | str | Unset = UNSET
    weight_grams: int | Unset = 0
    return_class: str | Unset = "mandatory"
    shipping_commitment_hours: int | None | Unset = UNSET
    tier: None | str | Unset = UNSET
    moq: int | None | Unset = UNSET
    one_piece_forms: list[str] | Unset = UNSET
    entrusted: bool | Unset = False
    seven_day_returns_opt_in: bool | None | Unset = UNSET
    occurred_at: datetime.datetime | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        merchant_id = self.merchant_id

        title = self.title

        ship_from_region = self.ship_from_region

        tiers: list[dict[str, Any]] | None | Unset
        if isinstance(self.tiers, Unset):
            tiers = UNSET
        elif isinstance(self.tiers, list):
            tiers = []
            for tiers_type_0_item_data in self.tiers:
                tiers_type_0_item = tiers_type_0_item_data.to_dict()
                tiers.append(tiers_type_0_item)

        else:
            tiers = self.tiers

        unit_price: None | str | Unset
        if isinstance(self.unit_price, Unset):
            unit_price = UNSET
        else:
            unit_price = self.unit_price

        weight_grams = self.weight_grams

        return_class = self.return_class

        shipping_commitment_hours: int | None | Unset
        if isinstance(self.shipping_commitment_hours, Unset):
            shipping_commitment_hours = UNSET
        else:
            shipping_commitment_hours = self.shipping_commitment_hours

        tier: None | str | Unset
        if isinstance(self.tier, Unset):
            tier = UNSET
        else:
            tier = self.tier

        moq: int | None | Unset
        if isinstance(self.moq, Unset):
            moq = UNSET
        else:
            moq = self.moq

        one_piece_forms: list[str] | Unset = UNSET
        if not isinstance(self.one_piece_forms, Unset):
            one_piece_forms = self.one_piece_forms

        entrusted = self.entrusted

        seven_day_returns_opt_in: bool | None | Unset
        if isinstance(self.seven_day_returns_opt_in, Unset):
            seven_day_returns_opt_in = UNSET
        else:
            seven_day_returns_opt_in = self.seven_day_returns_opt_in

        occurred_at: None | str | Unset
        if isinstance(self.occurred_at, Unset):
            occurred_at = UNSET
        elif isinstance(self.occurred_at, datetime.datetime):
            occurred_at = self.occurred_at.isoformat()
        else:
            occurred_at = self.occurred_at

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "merchant_id": merchant_id,
                "title": title,
                "ship_from_region": ship_from_region,
            }
        )
        if tiers is not UNSET:
            field_dict["tiers"] = tiers
        if unit_price is not UNSET:
            field_dict["unit_price"] = unit_price
        if weight_grams is not UNSET:
            field_dict["weight_grams"] = weight_grams
        if return_class is not UNSET:
            field_dict["return_class"] = return_class
        if shipping_commitment_hours is not UNSET:
            field_dict["shipping_commitment_hours"] = shipping_commitment_hours
        if tier is not UNSET:
            field_dict["tier"] = tier
        if moq is not UNSET:
            field_dict["moq"] = moq
        if one_piece_forms is not UNSET:
            field_dict["one_piece_forms"] = one_piece_forms
        if entrusted is not UNSET:
            field_dict["entrusted"] = entrusted
        if seven_day_returns_opt_in is not UNSET:
            field_dict["seven_day_returns_opt_in"] = seven_day_returns_opt_in
        if occurred_at is not UNSET:
            field_dict["occurred_at"] = occurred_at

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.tier_in import TierIn  # noqa: PLC0415

        d = dict(src_dict)
        id = d.pop("id")

        merchant_id = d.pop("merchant_id")

        title = d.pop("title")

        ship_from_region = d.pop("ship_from_region")

        def _parse_tiers(data: object) -> list[TierIn] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                tiers_type_0 = []
                _tiers_type_0 = data
                for tiers_type_0_item_data in _tiers_type_0:
                    tiers_type_0_item = TierIn.from_dict(tiers_type_0_item_data)

                    tiers_type_0.append(tiers_type_0_item)

                return tiers_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[TierIn] | None | Unset, data)

        tiers = _parse_tiers(d.pop("tiers", UNSET))

        def _parse_unit_price(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        unit_price = _parse_unit_price(d.pop("unit_price", UNSET))

        weight_grams = d.pop("weight_grams", UNSET)

        return_class = d.pop("return_class", UNSET)

        def _parse_shipping_commitment_hours(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        shipping_commitment_hours = _parse_shipping_commitment_hours(d.pop("shipping_commitment_hours", UNSET))

        def _parse_tier(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        tier = _parse_tier(d.pop("tier", UNSET))

        def _parse_moq(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        moq = _parse_moq(d.pop("moq", UNSET))

        one_piece_forms = cast(list[str], d.pop("one_piece_forms", UNSET))

        entrusted = d.pop("entrusted", UNSET)

        def _parse_seven_day_returns_opt_in(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        seven_day_returns_opt_in = _parse_seven_day_returns_opt_in(d.pop("seven_day_returns_opt_in", UNSET))

        def _parse_occurred_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                occurred_at_type_0 = datetime.datetime.fromisoformat(data)

                return occurred_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        occurred_at = _parse_occurred_at(d.pop("occurred_at", UNSET))

        product_in = cls(
            id=id,
            merchant_id=merchant_id,
            title=title,
            ship_from_region=ship_from_region,
            tiers=tiers,
            unit_price=unit_price,
            weight_grams=weight_grams,
            return_class=return_class,
            shipping_commitment_hours=shipping_commitment_hours,
            tier=tier,
            moq=moq,
            one_piece_forms=one_piece_forms,
            entrusted=entrusted,
            seven_day_returns_opt_in=seven_day_returns_opt_in,
            occurred_at=occurred_at,
        )

        return product_in
