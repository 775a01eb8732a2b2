"""Products and the listing rules that apply to them (policies.md §2)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from buyerguard.domain.regions import validate_gbt2260
from buyerguard.errors import InvalidInput
from buyerguard.money import Fen
from buyerguard.rulebook import Rulebook


class ReturnClass(StrEnum):
    """Category class for 7-day no-reason returns."""

    EXCLUDED = "excluded"
    OPTIONAL = "optional"
    MANDATORY = "mandatory"


class OfferTier(StrEnum):
    SPOT = "spot"  # 现货
    CUSTOM = "custom"  # 定制


class OnePieceForm(StrEnum):
    """Ways a product can be bought one piece at a time."""

    ONE_PIECE_WHOLESALE = "one_piece_wholesale"  # 1件起批
    ONE_PIECE_MIXED = "one_piece_mixed"  # 1件混批
    ONE_PIECE_PROMOTION = "one_piece_promotion"
    LIVE_STREAM_OFFER = "live_stream_offer"


@dataclass(frozen=True)
class Product:
    id: str
    merchant_id: str
    title: str
    unit_price_fen: Fen
    weight_grams: int
    ship_from_region: str
    return_class: ReturnClass
    tier: OfferTier
    moq: int
    one_piece_forms: frozenset[OnePieceForm]
    entrusted: bool
    seven_day_returns_opt_in: bool

    def __post_init__(self) -> None:
        validate_gbt2260(self.ship_from_region, field="ship_from_region")
        if self.unit_price_fen <= 0:
            raise InvalidInput("price_not_positive", "unit_price must be above 0", "unit_price")
        if self.weight_grams < 0:
            raise InvalidInput(
                "weight_negative", "weight_grams must not be negative", "weight_grams"
            )
        if self.moq < 1:
            raise InvalidInput("moq_too_small", "moq must be at least 1", "moq")


def check_listing(product: Product, rulebook: Rulebook) -> None:
    """Refuse a listing the rulebook in force does not allow."""
    minimum = rulebook.listing.min_order_quantity
    if product.moq < minimum:
        raise InvalidInput(
            "moq_below_minimum",
            f"moq {product.moq} is below the minimum {minimum} of rulebook {rulebook.id}",
            "moq",
        )
