"""Products, their tiers and return classes: the facts the listing rules read (policies.md §2).

A product is offered in one or more tiers — spot goods (现货), custom goods
(定制), made to order (订货) — each with its own price, MOQ and whether it
offers 7-day no-reason returns. Its `return_class` is one of the rulebook's
category names (`returns.excluded_categories`, `returns.optional_categories`)
or `mandatory`; which kind a class is, is the rulebook's to say, so the class
names are data and `return_kind` looks them up. Whether a listing is allowed
is domain/listing.py's.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from buyerguard.domain.regions import validate_gbt2260
from buyerguard.errors import InvalidInput
from buyerguard.money import Fen
from buyerguard.rulebook import Rulebook

MANDATORY = "mandatory"  # every category the rulebook lists neither as excluded nor optional


class ReturnKind(StrEnum):
    """What a return class means for 7-day no-reason returns."""

    EXCLUDED = "excluded"  # never
    OPTIONAL = "optional"  # the merchant chooses
    MANDATORY = "mandatory"  # the rules of the rulebook in force


class TierKind(StrEnum):
    SPOT = "spot"  # 现货
    CUSTOM = "custom"  # 定制
    MADE_TO_ORDER = "made_to_order"  # 订货


class OnePieceForm(StrEnum):
    """Ways a product can be bought one piece at a time."""

    ONE_PIECE_WHOLESALE = "one_piece_wholesale"  # 1件起批
    ONE_PIECE_MIXED = "one_piece_mixed"  # 1件混批
    ONE_PIECE_PROMOTION = "one_piece_promotion"
    LIVE_STREAM_OFFER = "live_stream_offer"


def return_kind(return_class: str, rulebook: Rulebook) -> ReturnKind | None:
    """The kind of a return class under `rulebook`; None for a name it does not know."""
    if return_class == MANDATORY:
        return ReturnKind.MANDATORY
    if return_class in rulebook.returns.excluded_categories:
        return ReturnKind.EXCLUDED
    if return_class in rulebook.returns.optional_categories:
        return ReturnKind.OPTIONAL
    return None


@dataclass(frozen=True)
class Tier:
    """One way the product is sold: its price, its MOQ and its 7-day returns."""

    kind: TierKind
    price_fen: Fen
    moq: int
    seven_day_returns: bool = False

    def __post_init__(self) -> None:
        if self.price_fen <= 0:
            raise InvalidInput("price_not_positive", "a tier's price must be above 0", "price")
        if self.moq < 1:
            raise InvalidInput("moq_too_small", "a tier's moq must be at least 1", "moq")


@dataclass(frozen=True)
class Product:
    """A listing. `tiers` are kept in the order given; each kind at most once."""

    id: str
    merchant_id: str
    title: str
    tiers: tuple[Tier, ...]
    weight_grams: int
    ship_from_region: str
    return_class: str = MANDATORY
    shipping_commitment_hours: int | None = None  # of spot goods (§10b): 24, 48 or 72
    one_piece_forms: frozenset[OnePieceForm] = frozenset()
    entrusted: bool = False

    def __post_init__(self) -> None:
        validate_gbt2260(self.ship_from_region, field="ship_from_region")
        if self.weight_grams < 0:
            raise InvalidInput(
                "weight_negative", "weight_grams must not be negative", "weight_grams"
            )
        if not self.tiers:
            raise InvalidInput("tiers_missing", "a product needs at least one tier", "tiers")
        seen: set[TierKind] = set()
        for index, tier in enumerate(self.tiers):
            if tier.kind in seen:
                raise InvalidInput(
                    "tier_duplicate",
                    f"tier {tier.kind.value} is given twice; each kind at most once",
                    f"tiers[{index}].kind",
                )
            seen.add(tier.kind)
        if self.shipping_commitment_hours is not None and self.tier(TierKind.SPOT) is None:
            raise InvalidInput(
                "shipping_commitment_without_spot",
                "a shipping commitment is a promise of spot goods: this product has no spot tier",
                "shipping_commitment_hours",
            )

    def tier(self, kind: TierKind | str) -> Tier | None:
        """The tier of a kind, if the product is offered in it."""
        return next((tier for tier in self.tiers if tier.kind == kind), None)

    @property
    def default_tier(self) -> Tier | None:
        """What an order line naming no tier buys: the spot tier, else the only tier."""
        spot = self.tier(TierKind.SPOT)
        if spot is not None:
            return spot
        return self.tiers[0] if len(self.tiers) == 1 else None

    @property
    def one_piece(self) -> bool:
        """Bought one piece at a time: a one-piece form, or a spot tier with MOQ 1 (1件起批)."""
        spot = self.tier(TierKind.SPOT)
        return bool(self.one_piece_forms) or (spot is not None and spot.moq == 1)


def tier_for_line(product: Product, requested: str | None, field: str) -> Tier:
    """The tier an order line buys: the one it names, else the product's default tier."""
    if requested is None:
        tier = product.default_tier
        if tier is None:
            kinds = ", ".join(tier.kind.value for tier in product.tiers)
            raise InvalidInput(
                "tier_required",
                f"{product.id} has no spot tier and several others ({kinds}): name the tier",
                field,
            )
        return tier
    found = product.tier(requested)
    if found is None:
        kinds = ", ".join(tier.kind.value for tier in product.tiers)
        raise InvalidInput(
            "tier_unknown",
            f"{product.id} is not offered as {requested!r} (offered: {kinds})",
            field,
        )
    return found
