"""Request bodies and the limits of every field, declared so that clients see them.

Amounts are decimal yuan strings (a JSON number is refused); instants are
ISO-8601 strings with an offset, nothing else. Every string has the length of
the column it lands in and refuses control characters (PostgreSQL cannot store
a NUL, SQLite would: both answer 422 alike); every integer has the range of
its column.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from buyerguard.clock import INSTANT_RANGE_TEXT, parse_instant
from buyerguard.errors import InvalidInput
from buyerguard.money import MAX_FEN, YUAN_TEXT_PATTERN, format_fen

MAX_INT32 = 2**31 - 1  # an INTEGER column
ID_MAX_LENGTH = 64  # the id columns
NEW_ID_MAX_LENGTH = 48  # ids a caller chooses; sub-orders append "-<line>"
ID_PATTERN = r"^[A-Za-z0-9_.-]+$"
# An id a caller chooses is read back in a URL path, where `.` and `..` are dot-segments that
# every client removes first (`GET /v1/orders/..` asks for `/v1`): not dots only.
NEW_ID_PATTERN = r"^[A-Za-z0-9_.-]*[A-Za-z0-9_-][A-Za-z0-9_.-]*$"
ACCOUNT_ID_PATTERN = r"^[A-Za-z0-9_.:-]+$"
REGION_CODE_MAX_LENGTH = 6  # GB/T 2260
REGION_CODE_PATTERN = r"^[0-9]+$"
CHOICE_PATTERN = r"^[a-z0-9_]+$"
# Printable text: no C0 control character but tab, line feed and carriage return.
TEXT_PATTERN = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F]*$"
MAX_ORDER_LINES = 500
INSTANT_DESCRIPTION = f"ISO-8601 instant with a UTC offset, {INSTANT_RANGE_TEXT}"


def _amount_string(value: object) -> object:
    if not isinstance(value, str):
        raise PydanticCustomError(
            "amount_not_a_string",
            'amounts are decimal strings such as "18.00", not JSON numbers',
        )
    return value


def _region_shape(value: object) -> object:
    """A region code's shape (the declared pattern, digits only), refused as the domain
    refuses a code that is not one (`region_malformed`, domain/regions.py), not as pydantic's
    `value_malformed`: the docs name one code for both. Other types fall through to the str
    check (`type_invalid`); the length limits apply after."""
    if isinstance(value, str) and _REGION_CODE.match(value) is None:
        raise PydanticCustomError(
            "region_malformed", "not a GB/T 2260 code: {value}", {"value": repr(value)}
        )
    return value


_REGION_CODE = re.compile(REGION_CODE_PATTERN)
REGION_SHAPE = BeforeValidator(_region_shape)


def _instant(value: object) -> object:
    """An instant arrives as an ISO-8601 string with offset: no Unix numbers, no dates."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise PydanticCustomError(
            "instant_not_a_string",
            "instants are ISO-8601 strings with an offset such as "
            '"2024-10-20T10:00:00+08:00", not JSON numbers',
        )
    try:
        return parse_instant(value, field="occurred_at", allow_date=False)
    except InvalidInput as exc:
        raise PydanticCustomError(exc.code, exc.message) from None


def text_field(max_length: int, *, min_length: int = 0) -> FieldInfo:
    """Free text of a column's length."""
    field: FieldInfo = Field(min_length=min_length, max_length=max_length, pattern=TEXT_PATTERN)
    return field


Yuan = Annotated[
    str,
    BeforeValidator(_amount_string),
    Field(
        description=f"Decimal yuan string, at most 2 decimals, at most {format_fen(MAX_FEN)}",
        examples=["18.00"],
        json_schema_extra={"pattern": YUAN_TEXT_PATTERN},
    ),
]
OccurredAt = Annotated[
    datetime | None,
    BeforeValidator(_instant),
    Field(
        description=f"When the fact happened ({INSTANT_DESCRIPTION}); default now",
        examples=["2024-10-20T10:00:00+08:00"],
    ),
]
NewId = Annotated[str, Field(min_length=1, max_length=NEW_ID_MAX_LENGTH, pattern=NEW_ID_PATTERN)]
RefId = Annotated[str, Field(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]
Choice = Annotated[str, Field(min_length=1, max_length=32, pattern=CHOICE_PATTERN)]
# A custom-goods failure named as the rulebook names it (custom_compensation.triggers, up to
# the 48 characters the case keeps).
Trigger = Annotated[str, Field(min_length=1, max_length=48, pattern=CHOICE_PATTERN)]
# A return class: `mandatory` or a category name of the rulebook (the products column).
ReturnClassName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=48,
        pattern=CHOICE_PATTERN,
        description="mandatory, or a class of returns.excluded_categories / optional_categories",
        examples=["mandatory", "custom_made", "fresh_perishable"],
    ),
]
Moq = Annotated[StrictInt, Field(ge=1, le=MAX_INT32)]
ShippingHours = Annotated[
    StrictInt,
    Field(
        ge=1,
        le=MAX_INT32,
        description="spot goods ship within this many hours: one of the rulebook's "
        "shipping_commitment.promise_hours_options (24, 48, 72)",
    ),
]
RegionCode = Annotated[
    str,
    Field(
        min_length=1,
        max_length=REGION_CODE_MAX_LENGTH,
        pattern=REGION_CODE_PATTERN,
        description="GB/T 2260 code",
    ),
    REGION_SHAPE,
]
Name = Annotated[str, text_field(200, min_length=1)]
Label = Annotated[str, text_field(64, min_length=1)]
Count = Annotated[StrictInt, Field(ge=0, le=MAX_INT32)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MerchantIn(Body):
    """A merchant as the marketplace knows it."""

    id: NewId = Field(description="the marketplace's id of the merchant", examples=["M-yiwu"])
    name: Name = Field(description="display name")
    tier: Choice = Field(
        default="standard",
        description="membership tier, which sets fees and duties",
        examples=["standard", "powerful_merchant", "super_factory"],
    )
    industry: Label = Field(description="industry, compared for the arrival badge")
    origin_region: RegionCode = Field(
        description="GB/T 2260 code it ships from", examples=["330782"]
    )
    services: list[Choice] = Field(
        default_factory=lambda: ["buyer_protection"],
        max_length=16,
        description="service promises it signs up to",
    )
    occurred_at: OccurredAt = None


class MerchantPatch(Body):
    """The fields to change; those left out stay. The id never changes."""

    name: Name | None = Field(default=None, description="display name")
    tier: Choice | None = Field(
        default=None,
        description="membership tier",
        examples=["standard", "powerful_merchant", "super_factory"],
    )
    industry: Label | None = Field(default=None, description="industry")
    origin_region: RegionCode | None = Field(
        default=None, description="GB/T 2260 code it ships from"
    )
    services: list[Choice] | None = Field(
        default=None, max_length=16, description="service promises (replaces the list)"
    )
    occurred_at: OccurredAt = None


class AddressIn(Body):
    province_code: RegionCode = Field(examples=["440000"])
    city_code: RegionCode = Field(examples=["440300"])
    district_code: RegionCode = Field(examples=["440305"])
    detail: Annotated[str, text_field(400)] = Field(default="", description="street and number")


class BuyerIn(Body):
    """A buyer and where it takes deliveries."""

    id: NewId = Field(description="the marketplace's id of the buyer", examples=["B-shop"])
    name: Name = Field(description="display name")
    super_buyer_marked: StrictBool = Field(
        default=False, description="marked a super buyer by the marketplace (trust-based refunds)"
    )
    addresses: list[AddressIn] = Field(
        min_length=1, max_length=100, description="delivery addresses; orders pick one by index"
    )


class TierIn(Body):
    """A price tier: what kind of goods, at what price, from how many pieces."""

    kind: Choice = Field(
        description="spot (现货), custom or made_to_order", examples=["spot", "custom"]
    )
    price: Yuan
    moq: Moq = Field(default=1, description="minimum order quantity")
    seven_day_returns: StrictBool = Field(
        default=False, description="whether this tier offers 7-day no-reason returns"
    )


Tiers = Annotated[list[TierIn], Field(min_length=1, max_length=3)]


class ProductIn(Body):
    """A product with `tiers`; or, as before, one tier from `unit_price`, `tier`, `moq` and
    `seven_day_returns_opt_in` (not both ways at once)."""

    id: NewId = Field(description="the marketplace's id of the product", examples=["P-cups"])
    merchant_id: RefId = Field(description="who sells it")
    title: Annotated[str, text_field(400, min_length=1)] = Field(description="display title")
    tiers: Tiers | None = Field(
        default=None, description="price tiers (or the one-tier fields below)"
    )
    unit_price: Yuan | None = Field(default=None, description="one tier only: its price")
    weight_grams: Count = Field(default=0, description="shipping weight in grams")
    ship_from_region: RegionCode
    return_class: ReturnClassName = "mandatory"
    shipping_commitment_hours: ShippingHours | None = None
    tier: Choice | None = Field(default=None, description="one tier only: its kind (default spot)")
    moq: Moq | None = Field(default=None, description="one tier only: its MOQ (default 1)")
    one_piece_forms: list[Choice] = Field(
        default_factory=list, max_length=16, description="one-piece shipping forms offered"
    )
    entrusted: StrictBool = Field(
        default=False, description="sold under entrusted (托管) operation"
    )
    seven_day_returns_opt_in: StrictBool | None = Field(
        default=None, description="one tier only: whether it offers 7-day returns (default false)"
    )
    occurred_at: OccurredAt = None


class ProductPatch(Body):
    """The fields to change; those left out stay. `tiers` replaces every tier;
    `shipping_commitment_hours: null` withdraws the promise. `merchant_id` may only
    repeat the product's own merchant."""

    merchant_id: RefId | None = Field(
        default=None, description="the product's own merchant, if sent"
    )
    title: Annotated[str, text_field(400, min_length=1)] | None = Field(
        default=None, description="display title"
    )
    tiers: Tiers | None = Field(default=None, description="replaces every tier")
    weight_grams: Count | None = Field(default=None, description="shipping weight in grams")
    ship_from_region: RegionCode | None = Field(
        default=None, description="GB/T 2260 code it ships from"
    )
    return_class: ReturnClassName | None = Field(default=None, description="its returns class")
    shipping_commitment_hours: ShippingHours | None = Field(
        default=None, description="hours to ship after payment; null withdraws the promise"
    )
    one_piece_forms: list[Choice] | None = Field(
        default=None, max_length=16, description="one-piece shipping forms (replaces the list)"
    )
    entrusted: StrictBool | None = Field(default=None, description="entrusted (托管) operation")
    occurred_at: OccurredAt = None


class OrderLineIn(Body):
    """One line: a product, how many, and (marketplace only) at what price."""

    product_id: RefId = Field(description="the product", examples=["P-cups"])
    quantity: Annotated[StrictInt, Field(gt=0, le=MAX_INT32)] = Field(description="pieces")
    unit_price: Yuan | None = Field(
        default=None,
        description="Marketplace and operator only: a buyer's order takes catalogue prices",
    )
    tier: Choice | None = Field(
        default=None,
        description="spot, custom or made_to_order; left out: the spot tier, else the only one",
    )


class OrderIn(Body):
    """An order of one merchant's products; each line becomes a sub-order."""

    id: NewId | None = Field(default=None, description="the order id (default: generated)")
    buyer_id: RefId = Field(description="who buys", examples=["B-shop"])
    lines: list[OrderLineIn] = Field(
        min_length=1, max_length=MAX_ORDER_LINES, description="the lines, in order"
    )
    shipping: Yuan = Field(default="0.00", description="the shipping charged to the buyer")
    address_index: Count = Field(default=0, description="which of the buyer's addresses, from 0")
    occurred_at: OccurredAt = None


class FactIn(Body):
    """A fact with nothing to say but when it happened."""

    occurred_at: OccurredAt = None


class PaymentIn(FactIn):
    """The buyer paid: the amount must be the order's total."""

    amount: Yuan


class ShipmentIn(FactIn):
    """The merchant shipped the order."""

    carrier: Label = Field(description="carrier code", examples=["SF"])
    tracking_number: Label = Field(description="the carrier's tracking number")
    official_logistics: StrictBool = Field(
        default=False, description="shipped through the platform's official logistics"
    )


class RefundIn(FactIn):
    sub_order_ids: list[RefId] | None = Field(
        default=None,
        max_length=MAX_ORDER_LINES,
        description="Whole sub-orders to refund (left out, with no amounts: all of them)",
    )
    amounts: dict[RefId, Yuan] | None = Field(
        default=None,
        max_length=MAX_ORDER_LINES,
        description="Parts to refund, by sub-order: each at most what the sub-order still holds",
        examples=[{"O-1-1": "12.00"}],
    )


class ExecutionIn(FactIn):
    """The marketplace's report of an instruction it was given (a payout, a refund…)."""

    outcome: Choice = Field(description="executed or failed", examples=["executed", "failed"])
    reason: Annotated[str, text_field(500, min_length=1)] | None = Field(
        default=None, description="why it failed (required with failed)"
    )
    reference: Annotated[str, text_field(128, min_length=1)] | None = Field(
        default=None, description="the marketplace's own id of the payment (bank reference)"
    )
    merchant_id: RefId | None = Field(
        default=None,
        description="payouts: the merchant the marketplace paid; refused if it is not the payout's",
    )


class AdjustmentIn(Body):
    """An operator's adjustment of one paid sub-order."""

    kind: Choice = Field(description="refund, clawback or compensation", examples=["refund"])
    sub_order_id: RefId = Field(description="the paid sub-order adjusted")
    amount: Yuan
    reason: Annotated[str, text_field(500, min_length=1)] = Field(
        description="why: recorded with the decision", examples=["goods lost in transit"]
    )
    borne_by: Choice | None = Field(
        default=None,
        description="compensation only: platform (default) or merchant",
        examples=["platform"],
    )


class PayoutRunIn(Body):
    merchant_ids: list[RefId] | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="Merchants to pay now (left out: every merchant with money payable)",
    )


class PayoutSettingsIn(Body):
    reserve_share: Annotated[str, Field(min_length=1, max_length=16)] | None = Field(
        description="Share kept back at each payout, a decimal string from 0 to 1 "
        "(null: the rulebook's payouts.reserve_share)",
        examples=["0.10"],
    )
