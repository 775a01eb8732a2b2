from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="MerchantPatch")


@_attrs_define
class MerchantPatch:
    """The fields to change; those left out stay. The id never changes.

    Attributes:
        name (None | str | Unset): display name
        tier (None | str | Unset): membership tier
        industry (None | str | Unset): industry
        origin_region (None | str | Unset): GB/T 2260 code it ships from
        services (list[str] | None | Unset): service promises (replaces the list)
        occurred_at (datetime.datetime | None | Unset): When the fact happened (ISO-8601 instant with a UTC offset,
            1900-01-01T00:00:00Z to before 2200-01-01T00:00:00Z); default now
    """

    name: None | str | Unset = UNSET
    tier: None | str | Unset = UNSET
    industry: None | str | Unset = UNSET
    origin_region: None | str | Unset = UNSET
    services: list[str] | None | Unset = UNSET
    occurred_at: datetime.datetime | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        name: None | str | Unset
        if isinstance(self.name, Unset):
            name = UNSET
        else:
            name = self.name

        tier: None | str | Unset
        if isinstance(self.tier, Unset):
            tier = UNSET
        else:
            tier = self.tier

        industry: None | str | Unset
        if isinstance(self.industry, Unset):
            industry = UNSET
        else:
            industry = self.industry

        origin_region: None | str | Unset
        if isinstance(self.origin_region, Unset):
            origin_region = UNSET
        else:
            origin_region = self.origin_region

        services: list[str] | None | Unset
        if isinstance(self.services, Unset):
            services = UNSET
        elif isinstance(self.services, list):
            services = self.services

        else:
            services = self.services

        occurred_at: None | str | Unset
        if isinstance(self.occurred_at, Unset):
            occurred_at = UNSET
        elif isinstance(self.occurred_at, datetime.datetime):
            occurred_at = self.occurred_at.isoformat()
        else:
            occurred_at = self.occurred_at

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if name is not UNSET:
            field_dict["name"] = name
        if tier is not UNSET:
            field_dict["tier"] = tier
        if industry is not UNSET:
            field_dict["industry"] = industry
        if origin_region is not UNSET:
            field_dict["origin_region"] = origin_region
        if services is not UNSET:
            field_dict["services"] = services
        if occurred_at is not UNSET:
            field_dict["occurred_at"] = occurred_at

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        name = _parse_name(d.pop("name", UNSET))

        def _parse_tier(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        tier = _parse_tier(d.pop("tier", UNSET))

        def _parse_industry(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        industry = _parse_industry(d.pop("industry", UNSET))

        def _parse_origin_region(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        origin_region = _parse_origin_region(d.pop("origin_region", UNSET))

        def _parse_services(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                services_type_0 = cast(list[str], data)

                return services_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        services = _parse_services(d.pop("services", UNSET))

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

        merchant_patch = cls(
            name=name,
            tier=tier,
            industry=industry,
            origin_region=origin_region,
            services=services,
            occurred_at=occurred_at,
        )

        return merchant_patch
