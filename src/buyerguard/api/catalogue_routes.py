"""The /v1 endpoints of parties and the catalogue: merchants, buyers, products, their changes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from buyerguard.api import answers as shown
from buyerguard.api import views
from buyerguard.api.access import ANY_CALLER, GuardedRoute, allow, require_own_merchant
from buyerguard.api.params import (
    BuyerId,
    CallerDep,
    IdCursor,
    Limit,
    MerchantId,
    ProductId,
    VersionCursor,
    page,
)
from buyerguard.api.runtime import run_command, runtime
from buyerguard.api.schemas import (
    BuyerIn,
    MerchantIn,
    MerchantPatch,
    ProductIn,
    ProductPatch,
    TierIn,
)
from buyerguard.domain.catalog import OnePieceForm, Product, Tier, TierKind
from buyerguard.domain.parties import (
    Address,
    Buyer,
    Merchant,
    MerchantService,
    MerchantTier,
    parse_enum,
)
from buyerguard.errors import BuyerguardError, InvalidInput, NotFound
from buyerguard.money import parse_yuan
from buyerguard.services import catalog, orders
from buyerguard.services.context import Context, Role
from buyerguard.store import repositories

router = APIRouter(prefix="/v1", route_class=GuardedRoute)  # app.py includes it (routes.ROUTERS)
NULLABLE_PATCH_FIELDS = {"shipping_commitment_hours"}  # null withdraws the promise


def _services(values: list[str]) -> frozenset[MerchantService]:
    return frozenset(parse_enum(MerchantService, value, "services") for value in values)


def _forms(values: list[str]) -> frozenset[OnePieceForm]:
    return frozenset(parse_enum(OnePieceForm, value, "one_piece_forms") for value in values)


def _tiers(tiers: list[TierIn]) -> tuple[Tier, ...]:
    """Tiers from the body; a refusal names the tier (`tiers[1].price`)."""
    built = []
    for index, tier in enumerate(tiers):
        where = f"tiers[{index}]"
        try:
            built.append(
                Tier(
                    parse_enum(TierKind, tier.kind, "kind"),
                    parse_yuan(tier.price, field="price"),
                    tier.moq,
                    tier.seven_day_returns,
                )
            )
        except BuyerguardError as exc:
            exc.field = f"{where}.{exc.field}" if exc.field else where
            raise
    return tuple(built)


def _single_tier(body: ProductIn) -> tuple[Tier, ...]:
    """The one tier of a request in the shape before tiers (unit_price, tier, moq, opt-in)."""
    if body.unit_price is None:
        raise InvalidInput(
            "tiers_missing", "give tiers, or unit_price (and tier, moq) for one tier", "tiers"
        )
    return (
        Tier(
            parse_enum(TierKind, body.tier or TierKind.SPOT.value, "tier"),
            parse_yuan(body.unit_price, field="unit_price"),
            body.moq if body.moq is not None else 1,
            bool(body.seven_day_returns_opt_in),
        ),
    )


def _product_tiers(body: ProductIn) -> tuple[Tier, ...]:
    single = (body.unit_price, body.tier, body.moq, body.seven_day_returns_opt_in)
    if body.tiers is None:
        return _single_tier(body)
    if any(value is not None for value in single):
        raise InvalidInput(
            "tiers_ambiguous",
            "give tiers, or unit_price/tier/moq/seven_day_returns_opt_in for one tier: not both",
            "tiers",
        )
    return _tiers(body.tiers)


# ---------------------------------------------------------------- merchants
@router.post(
    "/merchants",
    status_code=201,
    tags=["parties"],
    **shown.answers(shown.Merchant, 201),
    **allow(Role.MARKETPLACE),
)
def create_merchant(body: MerchantIn, request: Request, caller: CallerDep) -> JSONResponse:
    """Register a merchant (version 1); its terms then change by PATCH, each change kept."""

    def handle(ctx: Context) -> tuple[int, Any]:
        merchant = Merchant(
            id=orders.new_id("mer", body.id),
            name=body.name,
            tier=parse_enum(MerchantTier, body.tier, "tier"),
            industry=body.industry,
            origin_region=body.origin_region,
            services=_services(body.services),
        )
        created = catalog.create_merchant(ctx, merchant, body.occurred_at)
        return 201, views.merchant_view(created, 1)

    return run_command(request, caller, body, handle)


@router.get(
    "/merchants/{merchant_id}",
    tags=["parties"],
    **shown.answers(shown.Merchant),
    **allow(Role.MARKETPLACE, Role.MERCHANT),
)
def get_merchant(merchant_id: MerchantId, request: Request, caller: CallerDep) -> dict[str, Any]:
    """A merchant at its current version; a merchant reads only itself."""
    with runtime(request).reading(caller) as ctx:
        require_own_merchant(ctx, merchant_id)
        return views.merchant_view(*repositories.get_merchant_version(ctx.connection, merchant_id))


@router.patch(
    "/merchants/{merchant_id}",
    tags=["parties"],
    **shown.answers(shown.Merchant),
    **allow(Role.MARKETPLACE),
)
def patch_merchant(
    merchant_id: MerchantId, body: MerchantPatch, request: Request, caller: CallerDep
) -> JSONResponse:
    """Change a merchant; every change is kept (`GET .../changes`) with who and when.
    `occurred_at` dates it: a payment dated after it sees it, one dated before does not."""

    def handle(ctx: Context) -> tuple[int, Any]:
        patch: dict[str, Any] = {}
        for name in _patched(body):
            value = getattr(body, name)
            if name == "tier":
                value = parse_enum(MerchantTier, value, "tier")
            elif name == "services":
                value = _services(value)
            patch[name] = value
        catalog.update_merchant(ctx, merchant_id, patch, body.occurred_at)
        current = repositories.get_merchant_version(ctx.connection, merchant_id)
        return 200, views.merchant_view(*current)

    return run_command(request, caller, body, handle)


@router.get(
    "/merchants/{merchant_id}/changes",
    tags=["parties"],
    **shown.answers(shown.ChangePage),
    **allow(Role.MARKETPLACE, Role.MERCHANT),
)
def list_merchant_changes(
    merchant_id: MerchantId,
    request: Request,
    caller: CallerDep,
    after: VersionCursor = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    """Every version of the merchant, oldest first: who, when (in effect and recorded), what."""
    with runtime(request).reading(caller) as ctx:
        rows = catalog.merchant_changes(ctx, merchant_id, after, limit + 1)
        return page([views.change_view(row) for row in rows], limit, "version")


# ------------------------------------------------------------------- buyers
@router.post(
    "/buyers",
    status_code=201,
    tags=["parties"],
    **shown.answers(shown.Buyer, 201),
    **allow(Role.MARKETPLACE),
)
def create_buyer(body: BuyerIn, request: Request, caller: CallerDep) -> JSONResponse:
    """Register a buyer with its delivery addresses."""

    def handle(ctx: Context) -> tuple[int, Any]:
        buyer = Buyer(
            id=orders.new_id("buy", body.id),
            name=body.name,
            super_buyer_marked=body.super_buyer_marked,
            addresses=tuple(
                Address(a.province_code, a.city_code, a.district_code, a.detail)
                for a in body.addresses
            ),
        )
        return 201, views.buyer_view(catalog.create_buyer(ctx, buyer))

    return run_command(request, caller, body, handle)


@router.get(
    "/buyers/{buyer_id}",
    tags=["parties"],
    **shown.answers(shown.Buyer),
    **allow(Role.MARKETPLACE, Role.BUYER),
)
def get_buyer(buyer_id: BuyerId, request: Request, caller: CallerDep) -> dict[str, Any]:
    """A buyer and its addresses; a buyer reads only itself."""
    with runtime(request).reading(caller) as ctx:
        not_found = NotFound("buyer_not_found", "no such buyer", "buyer_id")
        ctx.require_party(Role.BUYER, buyer_id, not_found)
        return views.buyer_view(repositories.get_buyer(ctx.connection, buyer_id))


# ----------------------------------------------------------------- products
@router.post(
    "/products",
    status_code=201,
    tags=["catalog"],
    **shown.answers(shown.Product, 201),
    **allow(Role.MARKETPLACE, Role.MERCHANT),
)
def create_product(body: ProductIn, request: Request, caller: CallerDep) -> JSONResponse:
    """List a product; the §2 listing rules in force at `occurred_at` (default now) decide."""

    def handle(ctx: Context) -> tuple[int, Any]:
        tiers = _product_tiers(body)
        product = Product(
            id=orders.new_id("prd", body.id),
            merchant_id=body.merchant_id,
            title=body.title,
            tiers=tiers,
            weight_grams=body.weight_grams,
            ship_from_region=body.ship_from_region,
            return_class=body.return_class,
            shipping_commitment_hours=body.shipping_commitment_hours,
            one_piece_forms=_forms(body.one_piece_forms),
            entrusted=body.entrusted,
        )
        try:
            created = catalog.create_product(ctx, product, body.occurred_at)
        except BuyerguardError as exc:
            if body.tiers is None and exc.field and exc.field.startswith("tiers[0]."):
                single = {"moq": "moq", "seven_day_returns": "seven_day_returns_opt_in"}
                exc.field = single.get(exc.field.removeprefix("tiers[0]."), exc.field)
            raise
        return 201, views.product_view(created, 1)

    return run_command(request, caller, body, handle)


@router.get(
    "/products/{product_id}", tags=["catalog"], **shown.answers(shown.Product), **allow(*ANY_CALLER)
)
def get_product(product_id: ProductId, request: Request, caller: CallerDep) -> dict[str, Any]:
    """A product at its current version, with its tiers."""
    with runtime(request).reading(caller) as ctx:
        product = catalog.get_product(ctx, product_id)
        return views.product_view(*repositories.get_product_version(ctx.connection, product.id))


@router.get("/products", tags=["catalog"], **shown.answers(shown.ProductPage), **allow(*ANY_CALLER))
def list_products(
    request: Request, caller: CallerDep, after: IdCursor = None, limit: Limit = 50
) -> dict[str, Any]:
    """Products by id, with their tiers; a merchant lists its own."""
    with runtime(request).reading(caller) as ctx:
        merchant_id = caller.party_id if caller.role is Role.MERCHANT else None
        items = repositories.list_products(ctx.connection, merchant_id, after, limit + 1)
        return page([views.product_view(*item) for item in items], limit)


@router.patch(
    "/products/{product_id}",
    tags=["catalog"],
    **shown.answers(shown.Product),
    **allow(Role.MARKETPLACE, Role.MERCHANT),
)
def patch_product(
    product_id: ProductId, body: ProductPatch, request: Request, caller: CallerDep
) -> JSONResponse:
    """Change a product (a merchant: its own). `tiers` replaces them all. The listing rules in
    force at `occurred_at` must accept the result; a product never changes merchant."""

    def handle(ctx: Context) -> tuple[int, Any]:
        patch: dict[str, Any] = {}
        for name in _patched(body):
            value = getattr(body, name)
            if name == "tiers":
                value = _tiers(body.tiers or [])
            elif name == "one_piece_forms":
                value = _forms(value)
            patch[name] = value
        catalog.update_product(ctx, product_id, patch, body.occurred_at)
        return 200, views.product_view(
            *repositories.get_product_version(ctx.connection, product_id)
        )

    return run_command(request, caller, body, handle)


@router.get(
    "/products/{product_id}/changes",
    tags=["catalog"],
    **shown.answers(shown.ChangePage),
    **allow(Role.MARKETPLACE, Role.MERCHANT),
)
def list_product_changes(
    product_id: ProductId,
    request: Request,
    caller: CallerDep,
    after: VersionCursor = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    """Every version of the product, oldest first, with the listing rules that accepted it."""
    with runtime(request).reading(caller) as ctx:
        rows = catalog.product_changes(ctx, product_id, after, limit + 1)
        return page([views.change_view(row) for row in rows], limit, "version")


def _patched(body: MerchantPatch | ProductPatch) -> list[str]:
    """The fields a PATCH names (but `occurred_at`); null only where it means something."""
    names = sorted(body.model_fields_set - {"occurred_at"})
    for name in names:
        if getattr(body, name) is None and name not in NULLABLE_PATCH_FIELDS:
            raise InvalidInput("null_not_allowed", f"{name} cannot be null: leave it out", name)
    return names
