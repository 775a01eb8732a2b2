"""Merchants and buyers: the facts rules read about the two sides of a sale."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from buyerguard.domain.regions import validate_address_codes, validate_gbt2260
from buyerguard.errors import InvalidInput


class MerchantTier(StrEnum):
    STANDARD = "standard"
    POWERFUL_MERCHANT = "powerful_merchant"  # 实力商家
    SUPER_FACTORY = "super_factory"  # 超级工厂


class MerchantService(StrEnum):
    """Programmes a merchant can be on; rules check membership, not tiers."""

    BUYER_PROTECTION = "buyer_protection"
    ANXINGOU = "anxingou"  # 安心购, until 2024-09-13
    SEVEN_DAY_RETURNS = "seven_day_returns"
    CREDIT = "credit"
    FREE_SHIPPING = "free_shipping"
    ESTIMATED_ARRIVAL = "estimated_arrival"
    TRUST_BASED_RETURNS = "trust_based_returns"


E = TypeVar("E", bound=StrEnum)


def parse_enum(enum: type[E], value: object, field_name: str) -> E:
    """A member of `enum` from its value, or a clear error listing the choices."""
    try:
        return enum(str(value))
    except ValueError as exc:
        choices = ", ".join(member.value for member in enum)
        raise InvalidInput(
            "invalid_choice", f"{field_name} must be one of: {choices}; got {value!r}", field_name
        ) from exc


@dataclass(frozen=True)
class Merchant:
    id: str
    name: str
    tier: MerchantTier
    industry: str
    origin_region: str
    services: frozenset[MerchantService] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        validate_gbt2260(self.origin_region, field="origin_region")
        if not self.industry.strip():
            raise InvalidInput("industry_missing", "industry must not be empty", "industry")


@dataclass(frozen=True)
class Address:
    """A delivery address with GB/T 2260 codes at each level."""

    province_code: str
    city_code: str
    district_code: str
    detail: str = ""

    def __post_init__(self) -> None:
        validate_address_codes(self.province_code, self.city_code, self.district_code)


@dataclass(frozen=True)
class Buyer:
    id: str
    name: str
    super_buyer_marked: bool = False
    addresses: tuple[Address, ...] = ()
