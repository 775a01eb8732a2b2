from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.address import Address


T = TypeVar("T", bound="Buyer")


@_attrs_define
class Buyer:
    """A buyer and its delivery addresses.

    Attributes:
        id (str): the marketplace's id of the buyer
        name (str): display name
        super_buyer_marked (bool): marked a super buyer (trust-based refunds)
        addresses (list[Address]): delivery addresses, by index
    """

    id: str
    name: str
    super_buyer_marked: bool
    addresses: list[Address]

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        name = self.name

        super_buyer_marked = self.super_buyer_marked

        addresses = []
        for addresses_item_data in self.addresses:
            addresses_item = addresses_item_data.to_dict()
            addresses.append(addresses_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "name": name,
                "super_buyer_marked": super_buyer_marked,
                "addresses": addresses,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.address import Address  # noqa: PLC0415

        d = dict(src_dict)
        id = d.pop("id")

        name = d.pop("name")

        super_buyer_marked = d.pop("super_buyer_marked")

        addresses = []
        _addresses = d.pop("addresses")
        for addresses_item_data in _addresses:
            addresses_item = Address.from_dict(addresses_item_data)

            addresses.append(addresses_item)

        buyer = cls(
            id=id,
            name=name,
            super_buyer_marked=super_buyer_marked,
            addresses=addresses,
        )

        return buyer
