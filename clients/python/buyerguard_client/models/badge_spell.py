from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

T = TypeVar("T", bound="BadgeSpell")


@_attrs_define
class BadgeSpell:
    """
    Attributes:
        since (str): when the badge was earned
        until (None | str): when it was lost; null while held
        orders (int): orders in the evaluation window
        signed_within (float): share signed within the promise
        industry (str): the merchant's industry
        industry_orders (int): the industry's orders in the window
        industry_signed_within (float): the industry's share
        rulebook_id (str): the rulebook in force, e.g. 2024-10-01
    """

    since: str
    until: None | str
    orders: int
    signed_within: float
    industry: str
    industry_orders: int
    industry_signed_within: float
    rulebook_id: str

    def to_dict(self) -> dict[str, Any]:
        since = self.since

        until: None | str
        until = self.until

        orders = self.orders

        signed_within = self.signed_within

        industry = self.industry

        industry_orders = self.industry_orders

        industry_signed_within = self.industry_signed_within

        rulebook_id = self.rulebook_id

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "since": since,
                "until": until,
                "orders": orders,
                "signed_within": signed_within,
                "industry": industry,
                "industry_orders": industry_orders,
                "industry_signed_within": industry_signed_within,
                "rulebook_id": rulebook_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        since = d.pop("since")

        def _parse_until(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        until = _parse_until(d.pop("until"))

        orders = d.pop("orders")

        signed_within = d.pop("signed_within")

        industry = d.pop("industry")

        industry_orders = d.pop("industry_orders")

        industry_signed_within = d.pop("industry_signed_within")

        rulebook_id = d.pop("rulebook_id")

        badge_spell = cls(
            since=since,
            until=until,
            orders=orders,
            signed_within=signed_within,
            industry=industry,
            industry_orders=industry_orders,
            industry_signed_within=industry_signed_within,
            rulebook_id=rulebook_id,
        )

        return badge_spell
