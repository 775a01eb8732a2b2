from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.tier_in import TierIn


T = TypeVar("T", bound="ProductPatch")


@_attrs_define
class ProductPatch:
    """The fields to change; those left out stay. `tiers` replaces every tier;
    `shipping_commitment_hours: null` withdraws the promise. `merchant_id` may only
    repeat the product's own merchant.

        Attributes:
            merchant_id (None | str | Unset): the product's own merchant, if sent
            title (None | str | Unset): display title
            tiers (list[TierIn] | None | Unset): replaces every tier
            weight_grams (int | None | Unset): shipping weight in grams
            ship_from_region (None | str | Unset): GB/T 2260 code it ships from
            return_class (None | str | Unset): its returns class
            shipping_commitment_hours (int | None | Unset): hours to ship after payment; null withdraws the promise
            one_piece_forms (list[str] | None | Unset): one-piece shipping forms (replaces the list)
            entrusted (bool | None | Unset): entrusted (托管) operation
            occurred_at (datetime.datetime | None | Unset): When the fact happened (ISO-8601 instant with a UTC offset,
                1900-01-01T00:00:00Z to before 2200-01-01T00:00:00Z); default now
    """

    merchant_id: None | str | Unset = UNSET
    title: None | str | Unset = UNSET
    tiers: list[TierIn] | None | Unset = UNSET
    weight_grams: int | None | Unset = UNSET
    ship_from_region: None | str | Unset = UNSET
    return_class: None | str | Unset = UNSET
    shipping_commitment_hours: int | None | Unset = UNSET
    one_piece_forms: list[str] | None | Unset = UNSET
    entrusted: bool | None | Unset = UNSET
    occurred_at: datetime.datetime | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        merchant_id: None | str | Unset
        if isinstance(self.merchant_id, Unset):
            merchant_id = UNSET
        else:
            merchant_id = self.merchant_id

        title: None | str | Unset
        if isinstance(self.title, Unset):
            title = UNSET
        else:
            title = self.title

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

        weight_grams: int | None | Unset
        if isinstance(self.weight_grams, Unset):
            weight_grams = UNSET
        else:
            weight_grams = self.weight_grams

        ship_from_region: None | str | Unset
        if isinstance(self.ship_from_region, Unset):
            ship_from_region = UNSET
        else:
            ship_from_region = self.ship_from_region

        return_class: None | str | Unset
        if isinstance(self.return_class, Unset):
            return_class = UNSET
        else:
            return_class = self.return_class

        shipping_commitment_hours: int | None | Unset
        if isinstance(self.shipping_commitment_hours, Unset):
            shipping_commitment_hours = UNSET
        else:
            shipping_commitment_hours = self.shipping_commitment_hours

        one_piece_forms: list[str] | None | Unset
        if isinstance(self.one_piece_forms, Unset):
            one_piece_forms = UNSET
        elif isinstance(self.one_piece_forms, list):
            one_piece_forms = self.one_piece_forms

        else:
            one_piece_forms = self.one_piece_forms

        entrusted: bool | None | Unset
        if isinstance(self.entrusted, Unset):
            entrusted = UNSET
        else:
            entrusted = self.entrusted

        occurred_at: None | str | Unset
        if isinstance(self.occurred_at, Unset):
            occurred_at = UNSET
        elif isinstance(self.occurred_at, datetime.datetime):
            occurred_at = self.occurred_at.isoformat()
        else:
            occurred_at = self.occurred_at

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if merchant_id is not UNSET:
            field_dict["merchant_id"] = merchant_id
        if title is not UNSET:
            field_dict["title"] = title
        if tiers is not UNSET:
            field_dict["tiers"] = tiers
        if weight_grams is not UNSET:
            field_dict["weight_grams"] = weight_grams
        if ship_from_region is not UNSET:
            field_dict["ship_from_region"] = ship_from_region
        if return_class is not UNSET:
            field_dict["return_class"] = return_class
        if shipping_commitment_hours is not UNSET:
            field_dict["shipping_commitment_hours"] = shipping_commitment_hours
        if one_piece_forms is not UNSET:
            field_dict["one_piece_forms"] = one_piece_forms
        if entrusted is not UNSET:
            field_dict["entrusted"] = entrusted
        if occurred_at is not UNSET:
            field_dict["occurred_at"] = occurred_at

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.tier_in import TierIn  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_merchant_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        merchant_id = _parse_merchant_id(d.pop("merchant_id", UNSET))

        def _parse_title(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        title = _parse_title(d.pop("title", UNSET))

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

        def _parse_weight_grams(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        weight_grams = _parse_weight_grams(d.pop("weight_grams", UNSET))

        def _parse_ship_from_region(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        ship_from_region = _parse_ship_from_region(d.pop("ship_from_region", UNSET))

        def _parse_return_class(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        return_class = _parse_return_class(d.pop("return_class", UNSET))

        def _parse_shipping_commitment_hours(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        shipping_commitment_hours = _parse_shipping_commitment_hours(d.pop("shipping_commitment_hours", UNSET))

        def _parse_one_piece_forms(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                one_piece_forms_type_0 = cast(list[str], data)

                return one_piece_forms_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        one_piece_forms = _parse_one_piece_forms(d.pop("one_piece_forms", UNSET))

        def _parse_entrusted(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        entrusted = _parse_entrusted(d.pop("entrusted", UNSET))

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

        product_patch = cls(
            merchant_id=merchant_id,
            title=title,
            tiers=tiers,
            weight_grams=weight_grams,
            ship_from_region=ship_from_region,
            return_class=return_class,
            shipping_commitment_hours=shipping_commitment_hours,
            one_piece_forms=one_piece_forms,
            entrusted=entrusted,
            occurred_at=occurred_at,
        )

        return product_patch
