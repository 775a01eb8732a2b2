"""Creating merchants, buyers and products (the facts the marketplace syncs)."""

from __future__ import annotations

from buyerguard.domain.catalog import Product, check_listing
from buyerguard.domain.parties import Buyer, Merchant
from buyerguard.errors import NotFound
from buyerguard.services.context import Context, Role
from buyerguard.services.records import audit
from buyerguard.store import repositories


def create_merchant(ctx: Context, merchant: Merchant) -> Merchant:
    ctx.require_role("create merchants", Role.MARKETPLACE)
    now = ctx.now()
    repositories.add_merchant(ctx.connection, merchant, now)
    audit(ctx, "create_merchant", merchant.id, now)
    return merchant


def create_buyer(ctx: Context, buyer: Buyer) -> Buyer:
    ctx.require_role("create buyers", Role.MARKETPLACE)
    now = ctx.now()
    repositories.add_buyer(ctx.connection, buyer, now)
    audit(ctx, "create_buyer", buyer.id, now)
    return buyer


def create_product(ctx: Context, product: Product) -> Product:
    """List a product under the rulebook in force now (MOQ and return rules)."""
    ctx.require_role("create products", Role.MARKETPLACE, Role.MERCHANT)
    ctx.require_party(
        Role.MERCHANT,
        product.merchant_id,
        NotFound("merchant_not_found", f"no merchant {product.merchant_id}", "merchant_id"),
    )
    repositories.get_merchant(ctx.connection, product.merchant_id)
    now = ctx.now()
    rulebook = ctx.rulebook_at(now)
    check_listing(product, rulebook)
    repositories.add_product(ctx.connection, product, rulebook.id, now)
    audit(ctx, "create_product", product.id, now, rulebook_id=rulebook.id)
    return product


def get_product(ctx: Context, product_id: str) -> Product:
    product = repositories.get_product(ctx.connection, product_id)
    ctx.require_party(
        Role.MERCHANT,
        product.merchant_id,
        NotFound("product_not_found", "no such product", "product_id"),
    )
    return product
