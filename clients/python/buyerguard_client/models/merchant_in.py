from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="MerchantIn")


@_attrs_define
class MerchantIn:
    """A merchant as the marketplace knows it.

    Attributes:
        id (str): the marketplace's id of the merchant
        name (str): display name
        industry (str): industry, compared for the arrival badge
        origin_region (str): GB/T 2260 code it ships from
        tier (str | Unset): membership tier, which sets fees and duties Default: 'standard'.
        services (list[str] | Unset): service promises it signs up to
        occurred_at (datetime.datetime | None | Unset): When the fact happened (ISO-8601 instant with a UTC offset,
            1900-01-01T00:00:00Z to before 2200-01-01T00:00:00Z); default now
    """

    id: str
    name: str
    industry: str
    origin_region: str
    tier: str | Unset = "standard"
    services: list[str] | Unset = UNSET
    occurred_at: datetime.datetime | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        name = self.name

        industry = self.industry

        origin_region = self.origin_region

        tier = self.tier

        services: list[str] | Unset = UNSET
        if not isinstance(self.services, Unset):
            services = self.services

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
                "name": name,
                "industry": industry,
                "origin_region": origin_region,
            }
        )
        if tier is not UNSET:
            field_dict["tier"] = tier
        if services is not UNSET:
            field_dict["services"] = services
        if occurred_at is not UNSET:
            field_dict["occurred_at"] = occurred_at

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = d.pop("id")

        name = d.pop("name")

        industry = d.pop("industry")

        origin_region = d.pop("origin_region")

        tier = d.pop("tier", UNSET)

        services = cast(list[str], d.pop("services", UNSET))

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

        merchant_in = cls(
            id=id,
            name=name,
            industry=industry,
            origin_region=origin_region,
            tier=tier,
            services=services,
            occurred_at=occurred_at,
        )

        return merchant_in
