"""Request bodies. Amounts are decimal yuan strings: a JSON number is refused."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt
from pydantic_core import PydanticCustomError


def _amount_string(value: object) -> object:
    if not isinstance(value, str):
        raise PydanticCustomError(
            "amount_not_a_string",
            'amounts are decimal strings such as "18.00", not JSON numbers',
        )
    return value


Yuan = Annotated[
    str,
    BeforeValidator(_amount_string),
    Field(description="Decimal yuan string, at most 2 decimals", examples=["18.00"]),
]
OccurredAt = Annotated[
    datetime | None,
    Field(description="When the fact happened (ISO-8601 with offset); default now"),
]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MerchantIn(Body):
    id: str
    name: str
    tier: str = Field("standard", examples=["standard", "powerful_merchant", "super_factory"])
    industry: str
    origin_region: str = Field(description="GB/T 2260 code", examples=["330782"])
    services: list[str] = Field(default_factory=lambda: ["buyer_protection"])


class AddressIn(Body):
    province_code: str = Field(examples=["440000"])
    city_code: str = Field(examples=["440300"])
    district_code: str = Field(examples=["440305"])
    detail: str = ""


class BuyerIn(Body):
    id: str
    name: str
    super_buyer_marked: StrictBool = False
    addresses: list[AddressIn] = Field(min_length=1)


class ProductIn(Body):
    id: str
    merchant_id: str
    title: str
    unit_price: Yuan
    weight_grams: StrictInt = 0
    ship_from_region: str
    return_class: str = Field("mandatory", examples=["excluded", "optional", "mandatory"])
    tier: str = Field("spot", examples=["spot", "custom"])
    moq: StrictInt = 1
    one_piece_forms: list[str] = Field(default_factory=list)
    entrusted: StrictBool = False
    seven_day_returns_opt_in: StrictBool = False


class OrderLineIn(Body):
    product_id: str
    quantity: StrictInt = Field(gt=0)
    unit_price: Yuan | None = None


class OrderIn(Body):
    id: str | None = None
    buyer_id: str
    lines: list[OrderLineIn] = Field(min_length=1)
    shipping: Yuan = "0.00"
    address_index: StrictInt = 0
    occurred_at: OccurredAt = None


class FactIn(Body):
    occurred_at: OccurredAt = None


class PaymentIn(FactIn):
    amount: Yuan


class ShipmentIn(FactIn):
    carrier: str
    tracking_number: str
    official_logistics: StrictBool = False


class RefundIn(FactIn):
    sub_order_ids: list[str] | None = None
