from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

T = TypeVar("T", bound="Merchant")


@_attrs_define
class Merchant:
    """A merchant, at its current version.

    Attributes:
        id (str): the marketplace's id of the merchant
        version (int): bumped by every change (see /changes)
        name (str): display name
        tier (str): membership tier, which sets fees and duties
        industry (str): industry, for the arrival badge's comparisons
        origin_region (None | str): GB/T 2260 code it ships from
        services (list[str]): the service promises it signed up to
    """

    id: str
    version: int
    name: str
    tier: str
    industry: str
    origin_region: None | str
    services: list[str]

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        version = self.version

        name = self.name

        tier = self.tier

        industry = self.industry

        origin_region: None | str
        origin_region = self.origin_region

        services = self.services

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "version": version,
                "name": name,
                "tier": tier,
                "industry": industry,
                "origin_region": origin_region,
                "services": services,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = d.pop("id")

        version = d.pop("version")

        name = d.pop("name")

        tier = d.pop("tier")

        industry = d.pop("industry")

        def _parse_origin_region(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        origin_region = _parse_origin_region(d.pop("origin_region"))

        services = cast(list[str], d.pop("services"))

        merchant = cls(
            id=id,
            version=version,
            name=name,
            tier=tier,
            industry=industry,
            origin_region=origin_region,
            services=services,
        )

        return merchant
