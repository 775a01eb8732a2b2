"""Merchants and products as rows, and their change history (`catalogue_changes`).

The current state lives in `merchants`, `products` and `product_tiers`; every
version, from the first, is also kept whole in `catalogue_changes` with who
made it and when it took effect, so a payment can read the terms in force at
its own `occurred_at` (`terms_as_of`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select, tuple_, update

from buyerguard.domain.catalog import OnePieceForm, Product, Tier, TierKind
from buyerguard.domain.parties import Merchant, MerchantService, MerchantTier
from buyerguard.errors import NotFound
from buyerguard.store.db import insert_new, is_postgres
from buyerguard.store.tables import catalogue_changes, merchants, product_tiers, products

MERCHANT = "merchant"
PRODUCT = "product"


@dataclass(frozen=True)
class Change:
    """Who made a change, when it took effect and when it arrived."""

    occurred_at: datetime
    recorded_at: datetime
    actor: str
    token_id: str | None = None


@dataclass(frozen=True)
class Version:
    """One version of a merchant or product, as the history keeps it."""

    version: int
    occurred_at: datetime
    terms: dict[str, Any]


# ------------------------------------------------------------------ terms (JSON)
def merchant_terms(merchant: Merchant) -> dict[str, Any]:
    return {
        "name": merchant.name,
        "tier": merchant.tier.value,
        "industry": merchant.industry,
        "origin_region": merchant.origin_region,
        "services": sorted(service.value for service in merchant.services),
    }


def merchant_from_terms(merchant_id: str, terms: dict[str, Any]) -> Merchant:
    return Merchant(
        id=merchant_id,
        name=terms["name"],
        tier=MerchantTier(terms["tier"]),
        industry=terms["industry"],
        origin_region=terms["origin_region"],
        services=frozenset(MerchantService(value) for value in terms["services"]),
    )


def tier_row(tier: Tier) -> dict[str, Any]:
    return {
        "kind": tier.kind.value,
        "price_fen": tier.price_fen,
        "moq": tier.moq,
        "seven_day_returns": tier.seven_day_returns,
    }


def _tier(values: Any) -> Tier:
    return Tier(
        TierKind(values["kind"]), values["price_fen"], values["moq"], values["seven_day_returns"]
    )


def product_terms(product: Product) -> dict[str, Any]:
    return {
        "merchant_id": product.merchant_id,
        "title": product.title,
        "tiers": [tier_row(tier) for tier in product.tiers],
        "weight_grams": product.weight_grams,
        "ship_from_region": product.ship_from_region,
        "return_class": product.return_class,
        "shipping_commitment_hours": product.shipping_commitment_hours,
        "one_piece_forms": sorted(form.value for form in product.one_piece_forms),
        "entrusted": product.entrusted,
    }


def product_from_terms(product_id: str, terms: dict[str, Any]) -> Product:
    return Product(
        id=product_id,
        merchant_id=terms["merchant_id"],
        title=terms["title"],
        tiers=tuple(_tier(tier) for tier in terms["tiers"]),
        weight_grams=terms["weight_grams"],
        ship_from_region=terms["ship_from_region"],
        return_class=terms["return_class"],
        shipping_commitment_hours=terms["shipping_commitment_hours"],
        one_piece_forms=frozenset(OnePieceForm(form) for form in terms["one_piece_forms"]),
        entrusted=terms["entrusted"],
    )


# ------------------------------------------------------------------ history
def record_change(
    connection: Connection,
    entity: str,
    entity_id: str,
    version: int,
    change: Change,
    changes: dict[str, Any],
    terms: dict[str, Any],
    decision: tuple[str, tuple[str, ...]] | None = None,
) -> None:
    """Keep one version; `decision` is the (rulebook id, rule ids) that accepted a listing."""
    connection.execute(
        insert(catalogue_changes).values(
            entity=entity,
            entity_id=entity_id,
            version=version,
            occurred_at=change.occurred_at,
            recorded_at=change.recorded_at,
            actor=change.actor,
            token_id=change.token_id,
            changes=changes,
            terms=terms,
            rulebook_id=decision[0] if decision else None,
            rule_ids=list(decision[1]) if decision else [],
        )
    )


def latest_change_at(connection: Connection, entity: str, entity_id: str) -> datetime | None:
    """When the latest version took effect (a change may not be dated before it)."""
    latest: datetime | None = connection.execute(
        select(func.max(catalogue_changes.c.occurred_at)).where(
            catalogue_changes.c.entity == entity, catalogue_changes.c.entity_id == entity_id
        )
    ).scalar_one()
    return latest


_HISTORIES = (
    select(
        catalogue_changes.c.entity,
        catalogue_changes.c.entity_id,
        catalogue_changes.c.version,
        catalogue_changes.c.occurred_at,
        catalogue_changes.c.terms,
    )
    .where(
        tuple_(catalogue_changes.c.entity, catalogue_changes.c.entity_id).in_(
            bindparam("entities", expanding=True)
        )
    )
    .order_by(catalogue_changes.c.version)
)


def histories(
    connection: Connection, entities: list[tuple[str, str]]
) -> dict[tuple[str, str], list[Version]]:
    """Every version of each (entity, id), oldest first, in one round trip (a payment reads
    its merchant's and each product's); an entity without history maps to []."""
    found: dict[tuple[str, str], list[Version]] = {key: [] for key in entities}
    for row in connection.execute(_HISTORIES, {"entities": list(found)}):
        found[(row.entity, row.entity_id)].append(
            Version(row.version, row.occurred_at, dict(row.terms))
        )
    return found


def versions(connection: Connection, entity: str, entity_id: str) -> list[Version]:
    """Every version, oldest first."""
    return histories(connection, [(entity, entity_id)])[(entity, entity_id)]


def version_as_of(history: list[Version], instant: datetime) -> Version:
    """The version in force at `instant`: the latest to take effect by then, else the first
    (a fact dated before the entity was recorded reads its terms as first recorded)."""
    in_force = [version for version in history if version.occurred_at <= instant]
    return in_force[-1] if in_force else history[0]


def list_changes(
    connection: Connection, entity: str, entity_id: str, after: int | None, limit: int
) -> list[dict[str, Any]]:
    query = (
        select(catalogue_changes)
        .where(catalogue_changes.c.entity == entity, catalogue_changes.c.entity_id == entity_id)
        .order_by(catalogue_changes.c.version)
        .limit(limit)
    )
    if after is not None:
        query = query.where(catalogue_changes.c.version > after)
    return [dict(row) for row in connection.execute(query).mappings()]


def _locked(query: Any, connection: Connection, for_update: bool) -> Any:
    return query.with_for_update() if for_update and is_postgres(connection) else query


# ---------------------------------------------------------------- merchants
def add_merchant(connection: Connection, merchant: Merchant, change: Change) -> None:
    terms = merchant_terms(merchant)
    row = {"id": merchant.id, "created_at": change.recorded_at, "version": 1, **terms}
    insert_new(connection, merchants, row, MERCHANT)
    record_change(connection, MERCHANT, merchant.id, 1, change, {}, terms)


def get_merchant_version(
    connection: Connection, merchant_id: str, *, for_update: bool = False
) -> tuple[Merchant, int]:
    """The merchant as it is now, and its version; `for_update` locks its row (PostgreSQL)."""
    query = _locked(select(merchants).where(merchants.c.id == merchant_id), connection, for_update)
    row = connection.execute(query).first()
    if row is None:
        raise NotFound("merchant_not_found", f"no merchant {merchant_id}", "merchant_id")
    return merchant_from_terms(row.id, row._asdict()), row.version


def get_merchant(connection: Connection, merchant_id: str) -> Merchant:
    return get_merchant_version(connection, merchant_id)[0]


def update_merchant(
    connection: Connection,
    merchant: Merchant,
    version: int,
    change: Change,
    changes: dict[str, Any],
) -> None:
    terms = merchant_terms(merchant)
    connection.execute(
        update(merchants).where(merchants.c.id == merchant.id).values(version=version, **terms)
    )
    record_change(connection, MERCHANT, merchant.id, version, change, changes, terms)


# ----------------------------------------------------------------- products
def _product_values(product: Product) -> dict[str, Any]:
    terms = product_terms(product)
    del terms["tiers"]
    return terms


def _write_tiers(connection: Connection, product: Product) -> None:
    connection.execute(delete(product_tiers).where(product_tiers.c.product_id == product.id))
    connection.execute(
        insert(product_tiers),
        [
            {"product_id": product.id, "position": position, **tier_row(tier)}
            for position, tier in enumerate(product.tiers)
        ],
    )


def add_product(
    connection: Connection, product: Product, change: Change, decision: tuple[str, tuple[str, ...]]
) -> None:
    row = {
        "id": product.id,
        "rulebook_id": decision[0],
        "created_at": change.recorded_at,
        "version": 1,
        **_product_values(product),
    }
    insert_new(connection, products, row, PRODUCT)
    _write_tiers(connection, product)
    record_change(connection, PRODUCT, product.id, 1, change, {}, product_terms(product), decision)


def update_product(
    connection: Connection,
    product: Product,
    version: int,
    change: Change,
    changes: dict[str, Any],
    decision: tuple[str, tuple[str, ...]],
) -> None:
    values = _product_values(product)
    del values["merchant_id"]  # a product never changes merchant
    connection.execute(
        update(products)
        .where(products.c.id == product.id)
        .values(version=version, rulebook_id=decision[0], **values)
    )
    _write_tiers(connection, product)
    terms = product_terms(product)
    record_change(connection, PRODUCT, product.id, version, change, changes, terms, decision)


def _tiers_of(connection: Connection, product_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {product_id: [] for product_id in product_ids}
    rows = connection.execute(
        select(product_tiers)
        .where(product_tiers.c.product_id.in_(product_ids))
        .order_by(product_tiers.c.product_id, product_tiers.c.position)
    ).mappings()
    for row in rows:
        found[row["product_id"]].append(dict(row))
    return found


def _product(row: Any, tiers: list[dict[str, Any]]) -> Product:
    return product_from_terms(row.id, {**row._asdict(), "tiers": tiers})


# A product and its tiers in one round trip, built once: every order line reads one. A
# catalogue update locks the product's row (PostgreSQL; never the tiers' side of the join).
# A catalogue update locks the product's row first, then reads it with its tiers in a
# statement of its own: one statement that waited for the lock would return the latest
# product row but the tiers as of its start (a concurrent update replaces them).
_LOCK_PRODUCT = (
    select(products.c.id).where(products.c.id == bindparam("product_id")).with_for_update()
)
_PRODUCTS_WITH_TIERS = (  # products with their tiers, any number in one round trip
    select(products, *(column.label(f"tier_{column.name}") for column in product_tiers.c))
    .outerjoin(product_tiers, product_tiers.c.product_id == products.c.id)
    .where(products.c.id.in_(bindparam("product_ids", expanding=True)))
    .order_by(products.c.id, product_tiers.c.position)
)


def _products_of(rows: list[Any]) -> dict[str, tuple[Product, int]]:
    """Products (and their versions) from rows of a product-with-tiers join, by id."""
    grouped: dict[str, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row["id"], []).append(row)
    found = {}
    for product_id, product_rows in grouped.items():
        first = product_rows[0]
        tiers = [
            {column.name: row[f"tier_{column.name}"] for column in product_tiers.c}
            for row in product_rows
            if row["tier_kind"] is not None
        ]
        terms = {column.name: first[column.name] for column in products.c}
        found[product_id] = (
            product_from_terms(product_id, {**terms, "tiers": tiers}),
            first["version"],
        )
    return found


def get_product_version(
    connection: Connection, product_id: str, *, for_update: bool = False
) -> tuple[Product, int]:
    """The product as listed now, and its version; `for_update` locks its row (PostgreSQL)."""
    if for_update and is_postgres(connection):
        connection.execute(_LOCK_PRODUCT, {"product_id": product_id})
    rows = connection.execute(_PRODUCTS_WITH_TIERS, {"product_ids": [product_id]}).mappings().all()
    if not rows:
        raise NotFound("product_not_found", f"no product {product_id}", "product_id")
    return _products_of(list(rows))[product_id]


def get_product(connection: Connection, product_id: str) -> Product:
    return get_product_version(connection, product_id)[0]


def products_as_of(
    connection: Connection, product_ids: list[str], instant: datetime
) -> dict[str, Product]:
    """The products as listed at `instant` (an order dated then sells at that version's
    tiers, as its payment reads them), in one round trip; ids not found are left out."""
    found = histories(connection, [(PRODUCT, product_id) for product_id in set(product_ids)])
    return {
        product_id: product_from_terms(product_id, version_as_of(history, instant).terms)
        for (_entity, product_id), history in found.items()
        if history
    }


def list_products(
    connection: Connection, merchant_id: str | None, after: str | None, limit: int
) -> list[tuple[Product, int]]:
    """Products by id, each with its version."""
    query = select(products).order_by(products.c.id).limit(limit)
    if merchant_id is not None:
        query = query.where(products.c.merchant_id == merchant_id)
    if after is not None:
        query = query.where(products.c.id > after)
    rows = list(connection.execute(query))
    tiers = _tiers_of(connection, [row.id for row in rows]) if rows else {}
    return [(_product(row, tiers[row.id]), row.version) for row in rows]
