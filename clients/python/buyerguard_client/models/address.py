from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="Address")


@_attrs_define
class Address:
    """
    Attributes:
        province_code (str): GB/T 2260 province code
        city_code (str): GB/T 2260 city code
        district_code (str): GB/T 2260 district code
        detail (str): street and number
    """

    province_code: str
    city_code: str
    district_code: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        province_code = self.province_code

        city_code = self.city_code

        district_code = self.district_code

        detail = self.detail

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "province_code": province_code,
                "city_code": city_code,
                "district_code": district_code,
                "detail": detail,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        province_code = d.pop("province_code")

        city_code = d.pop("city_code")

        district_code = d.pop("district_code")

        detail = d.pop("detail")

        address = cls(
            province_code=province_code,
            city_code=city_code,
            district_code=district_code,
            detail=detail,
        )

        return address
