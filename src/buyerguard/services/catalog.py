"""Creating and changing merchants, buyers and products (the facts the marketplace syncs).

Every merchant and product change is kept as a version with who made it and
when it took effect (store/catalogue.py), and a product is listed or changed
only if the §2 listing rules in force at that instant accept it
(domain/listing.py). A change may be dated in the past (`occurred_at`) but not
before the entity's latest version, so the history stays in effect order.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from buyerguard.domain.catalog import Product
from buyerguard.domain.listing import check_listing
from buyerguard.domain.parties import Buyer, Merchant
from buyerguard.errors import InvalidInput, NotFound, require_text
from buyerguard.services.context import Context, Role
from buyerguard.services.records import audit
from buyerguard.store import catalogue, repositories
from buyerguard.store.catalogue import MERCHANT, PRODUCT, Change


def _change(
    ctx: Context, entity: str, entity_id: str, occurred_at: datetime | None, *, new: bool = False
) -> Change:
    """Who changes what, effective when: not in the future, not before the latest version."""
    when = ctx.occurred_at(occurred_at)
    latest = None if new else catalogue.latest_change_at(ctx.connection, entity, entity_id)
    if latest is not None and when < latest:
        raise InvalidInput(
            "occurred_before_previous_change",
            f"a change of {entity} {entity_id} dated {when.isoformat()} is before its latest "
            f"version, in effect from {latest.isoformat()}",
            "occurred_at",
        )
    return Change(when, ctx.now(), ctx.actor.label, ctx.actor.token_id)


def _diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What a change changed: {field: {"from": old, "to": new}}."""
    return {
        key: {"from": before[key], "to": after[key]}
        for key in after
        if before.get(key) != after[key]
    }


def _no_fields(entity: str) -> InvalidInput:
    return InvalidInput("patch_empty", f"name at least one field of the {entity} to change", None)


# ---------------------------------------------------------------- merchants
def create_merchant(
    ctx: Context, merchant: Merchant, occurred_at: datetime | None = None
) -> Merchant:
    ctx.require_role("create merchants", Role.MARKETPLACE)
    require_text(merchant.name, "name", "a merchant has a name")
    change = _change(ctx, MERCHANT, merchant.id, occurred_at, new=True)
    catalogue.add_merchant(ctx.connection, merchant, change)
    audit(ctx, "create_merchant", merchant.id, change.occurred_at)
    return merchant


def update_merchant(
    ctx: Context, merchant_id: str, patch: dict[str, Any], occurred_at: datetime | None = None
) -> Merchant:
    """Change a merchant's name, tier, industry, origin or services; a new version if any."""
    ctx.require_role("change merchants", Role.MARKETPLACE)
    # What is named is found first (404), as for a product, then the patch is read.
    current, version = catalogue.get_merchant_version(ctx.connection, merchant_id, for_update=True)
    if not patch:
        raise _no_fields("merchant")
    if "name" in patch:
        require_text(patch["name"], "name", "a merchant has a name")
    change = _change(ctx, MERCHANT, merchant_id, occurred_at)
    updated = replace(current, **patch)
    changes = _diff(catalogue.merchant_terms(current), catalogue.merchant_terms(updated))
    if not changes:
        return current  # nothing differs: no new version
    catalogue.update_merchant(ctx.connection, updated, version + 1, change, changes)
    audit(ctx, "update_merchant", merchant_id, change.occurred_at, changes=changes)
    return updated


# ------------------------------------------------------------------- buyers
def create_buyer(ctx: Context, buyer: Buyer) -> Buyer:
    ctx.require_role("create buyers", Role.MARKETPLACE)
    require_text(buyer.name, "name", "a buyer has a name")
    now = ctx.now()
    repositories.add_buyer(ctx.connection, buyer, now)
    audit(ctx, "create_buyer", buyer.id, now)
    return buyer


# ----------------------------------------------------------------- products
def _not_found_for_merchant(ctx: Context, merchant_id: str, error: NotFound) -> None:
    ctx.require_party(Role.MERCHANT, merchant_id, error)


def create_product(ctx: Context, product: Product, occurred_at: datetime | None = None) -> Product:
    """List a product under the rulebook in force when the listing takes effect (§2)."""
    ctx.require_role("create products", Role.MARKETPLACE, Role.MERCHANT)
    require_text(product.title, "title", "a product has a title")
    _not_found_for_merchant(
        ctx,
        product.merchant_id,
        NotFound("merchant_not_found", f"no merchant {product.merchant_id}", "merchant_id"),
    )
    repositories.get_merchant(ctx.connection, product.merchant_id)
    change = _change(ctx, PRODUCT, product.id, occurred_at, new=True)
    rulebook = ctx.rulebook_at(change.occurred_at, field="occurred_at")
    decision = check_listing(product, rulebook)
    catalogue.add_product(ctx.connection, product, change, (rulebook.id, decision.rule_ids))
    audit(
        ctx,
        "create_product",
        product.id,
        change.occurred_at,
        rulebook_id=rulebook.id,
        rule_ids=list(decision.rule_ids),
    )
    return product


def update_product(
    ctx: Context, product_id: str, patch: dict[str, Any], occurred_at: datetime | None = None
) -> Product:
    """Change a product; the listing rules in force when the change takes effect must accept
    the result. A product never changes merchant."""
    ctx.require_role("change products", Role.MARKETPLACE, Role.MERCHANT)
    not_found = NotFound("product_not_found", f"no product {product_id}", "product_id")
    current, version = catalogue.get_product_version(ctx.connection, product_id, for_update=True)
    _not_found_for_merchant(ctx, current.merchant_id, not_found)
    if not patch:
        raise _no_fields("product")
    if "title" in patch:
        require_text(patch["title"], "title", "a product has a title")
    moved_to = patch.pop("merchant_id", current.merchant_id)
    if moved_to != current.merchant_id:
        raise InvalidInput(
            "product_merchant_immutable",
            f"product {product_id} belongs to merchant {current.merchant_id} and cannot move to "
            f"{moved_to}: list it anew under that merchant",
            "merchant_id",
        )
    change = _change(ctx, PRODUCT, product_id, occurred_at)
    updated = replace(current, **patch)
    changes = _diff(catalogue.product_terms(current), catalogue.product_terms(updated))
    if not changes:
        return current
    rulebook = ctx.rulebook_at(change.occurred_at, field="occurred_at")
    decision = check_listing(updated, rulebook)
    catalogue.update_product(
        ctx.connection, updated, version + 1, change, changes, (rulebook.id, decision.rule_ids)
    )
    audit(
        ctx,
        "update_product",
        product_id,
        change.occurred_at,
        changes=changes,
        rulebook_id=rulebook.id,
        rule_ids=list(decision.rule_ids),
    )
    return updated


def get_product(ctx: Context, product_id: str) -> Product:
    product = repositories.get_product(ctx.connection, product_id)
    ctx.require_party(
        Role.MERCHANT,
        product.merchant_id,
        NotFound("product_not_found", "no such product", "product_id"),
    )
    return product


def product_changes(
    ctx: Context, product_id: str, after: int | None, limit: int
) -> list[dict[str, Any]]:
    """A product's versions, oldest first (a merchant sees only its own products')."""
    get_product(ctx, product_id)
    return catalogue.list_changes(ctx.connection, PRODUCT, product_id, after, limit)


def merchant_changes(
    ctx: Context, merchant_id: str, after: int | None, limit: int
) -> list[dict[str, Any]]:
    ctx.require_party(
        Role.MERCHANT,
        merchant_id,
        NotFound("merchant_not_found", "no such merchant", "merchant_id"),
    )
    repositories.get_merchant(ctx.connection, merchant_id)
    return catalogue.list_changes(ctx.connection, MERCHANT, merchant_id, after, limit)
