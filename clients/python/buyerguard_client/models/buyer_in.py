from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.address_in import AddressIn


T = TypeVar("T", bound="BuyerIn")


@_attrs_define
class BuyerIn:
    """A buyer and where it takes deliveries.

    Attributes:
        id (str): the marketplace's id of the buyer
        name (str): display name
        addresses (list[AddressIn]): delivery addresses; orders pick one by index
        super_buyer_marked (bool | Unset): marked a super buyer by the marketplace (trust-based refunds) Default: False.
    """

    id: str
    name: str
    addresses: list[AddressIn]
    super_buyer_marked: bool | Unset = False

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        name = self.name

        addresses = []
        for addresses_item_data in self.addresses:
            addresses_item = addresses_item_data.to_dict()
            addresses.append(addresses_item)

        super_buyer_marked = self.super_buyer_marked

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "name": name,
                "addresses": addresses,
            }
        )
        if super_buyer_marked is not UNSET:
            field_dict["super_buyer_marked"] = super_buyer_marked

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.address_in import AddressIn  # noqa: PLC0415

        d = dict(src_dict)
        id = d.pop("id")

        name = d.pop("name")

        addresses = []
        _addresses = d.pop("addresses")
        for addresses_item_data in _addresses:
            addresses_item = AddressIn.from_dict(addresses_item_data)

            addresses.append(addresses_item)

        super_buyer_marked = d.pop("super_buyer_marked", UNSET)

        buyer_in = cls(
            id=id,
            name=name,
            addresses=addresses,
            super_buyer_marked=super_buyer_marked,
        )

        return buyer_in
