"""catalogue v2: tiers, rulebook return classes, change history, sub-order snapshots

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 01:00:00

What existing rows become:
- A product's `tier`, `unit_price_fen`, `moq` and `seven_day_returns_opt_in`
  become its one row of `product_tiers` (same kind, price, MOQ, 7-day returns).
  It promises no shipping time (`shipping_commitment_hours` null): none was
  recorded.
- Return classes become rulebook class names: `mandatory` stays; the old
  generic `excluded` and `optional` become the first class the baseline
  rulebook lists of that kind (`custom_made`, `fresh_perishable`): the old
  schema kept no finer category, so an operator should re-class those
  products (PATCH /v1/products/{id}).
- Every merchant and product gets version 1 in `catalogue_changes`, in effect
  from its `created_at`, recorded by `migration:0009`, with its terms as they
  are now. Merchants and products could not be changed before this release,
  so these are also the terms every earlier payment was taken under.
- Every sub-order's `tier` is its product's old tier. Every paid sub-order
  gets `terms_at_payment` derived from what is known (`"source": "migration
  0009"`): the product's one tier and return class (exact, since products were
  immutable), the merchant services the order recorded at payment
  (`orders.merchant_services_at_payment`), the rulebook recorded at payment,
  and no shipping commitment (null: none existed).
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTOR = "migration:0009"
SOURCE = "migration 0009"
CLASS_OF_KIND = {"excluded": "custom_made", "optional": "fresh_perishable"}
# For the downgrade: the baseline rulebook's classes when this migration was written.
EXCLUDED_CLASSES = ("custom_made", "digital_downloaded_or_unsealed", "periodicals_delivered")
RULE_OF_KIND = {
    "excluded": "returns.excluded_categories",
    "optional": "returns.optional_categories",
    "mandatory": "returns.no_reason_mandatory",
}

old_products = sa.table(
    "products",
    sa.column("id", sa.String),
    sa.column("merchant_id", sa.String),
    sa.column("title", sa.String),
    sa.column("unit_price_fen", sa.BigInteger),
    sa.column("weight_grams", sa.Integer),
    sa.column("ship_from_region", sa.String),
    sa.column("return_class", sa.String),
    sa.column("tier", sa.String),
    sa.column("moq", sa.Integer),
    sa.column("one_piece_forms", sa.JSON),
    sa.column("entrusted", sa.Boolean),
    sa.column("seven_day_returns_opt_in", sa.Boolean),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
merchants = sa.table(
    "merchants",
    sa.column("id", sa.String),
    sa.column("name", sa.String),
    sa.column("tier", sa.String),
    sa.column("industry", sa.String),
    sa.column("origin_region", sa.String),
    sa.column("services", sa.JSON),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
changes = sa.table(
    "catalogue_changes",
    sa.column("entity", sa.String),
    sa.column("entity_id", sa.String),
    sa.column("version", sa.Integer),
    sa.column("occurred_at", sa.DateTime(timezone=True)),
    sa.column("recorded_at", sa.DateTime(timezone=True)),
    sa.column("actor", sa.String),
    sa.column("changes", sa.JSON),
    sa.column("terms", sa.JSON),
    sa.column("rulebook_id", sa.String),
    sa.column("rule_ids", sa.JSON),
)
tiers = sa.table(
    "product_tiers",
    sa.column("product_id", sa.String),
    sa.column("kind", sa.String),
    sa.column("position", sa.Integer),
    sa.column("price_fen", sa.BigInteger),
    sa.column("moq", sa.Integer),
    sa.column("seven_day_returns", sa.Boolean),
)
sub_orders = sa.table(
    "sub_orders",
    sa.column("id", sa.String),
    sa.column("order_id", sa.String),
    sa.column("product_id", sa.String),
    sa.column("tier", sa.String),
    sa.column("terms_at_payment", sa.JSON),
)
orders = sa.table(
    "orders",
    sa.column("id", sa.String),
    sa.column("paid_at", sa.DateTime(timezone=True)),
    sa.column("paid_rulebook_id", sa.String),
    sa.column("merchant_services_at_payment", sa.JSON),
)


def _utc(value: datetime) -> datetime:
    """An instant as either backend returns it (SQLite: naive UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _bind(value: datetime, connection: sa.Connection) -> datetime:
    """How the store writes instants (tables.UtcDateTime): naive UTC on SQLite."""
    value = _utc(value)
    return value.replace(tzinfo=None) if connection.dialect.name == "sqlite" else value


def _instant(value: datetime) -> str:
    return _utc(value).isoformat().replace("+00:00", "Z")


def _create_tables() -> None:
    op.create_table(
        "product_tiers",
        sa.Column("product_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("moq", sa.Integer(), nullable=False),
        sa.Column("seven_day_returns", sa.Boolean(), nullable=False),
        sa.CheckConstraint("price_fen > 0", name=op.f("ck_product_tiers_price_positive")),
        sa.CheckConstraint("moq >= 1", name=op.f("ck_product_tiers_moq_positive")),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_product_tiers_product_id_products")
        ),
        sa.PrimaryKeyConstraint("product_id", "kind", name=op.f("pk_product_tiers")),
    )
    op.create_table(
        "catalogue_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=96), nullable=False),
        sa.Column("token_id", sa.String(length=64), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("rulebook_id", sa.String(length=64), nullable=True),
        sa.Column("rule_ids", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "entity IN ('merchant', 'product')", name=op.f("ck_catalogue_changes_entity_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_changes")),
        sa.UniqueConstraint("entity", "entity_id", "version", name="uq_catalogue_changes_version"),
    )
    op.create_index(
        "ix_catalogue_changes_as_of",
        "catalogue_changes",
        ["entity", "entity_id", "occurred_at"],
        unique=False,
    )


def _product_terms(row: Any) -> dict[str, Any]:
    return {
        "merchant_id": row.merchant_id,
        "title": row.title,
        "tiers": [
            {
                "kind": row.tier,
                "price_fen": row.unit_price_fen,
                "moq": row.moq,
                "seven_day_returns": bool(row.seven_day_returns_opt_in),
            }
        ],
        "weight_grams": row.weight_grams,
        "ship_from_region": row.ship_from_region,
        "return_class": CLASS_OF_KIND.get(row.return_class, row.return_class),
        "shipping_commitment_hours": None,
        "one_piece_forms": sorted(row.one_piece_forms),
        "entrusted": bool(row.entrusted),
    }


def _snapshot(product: Any, terms: dict[str, Any], order: Any) -> dict[str, Any]:
    """What a sub-order paid before this release was sold under, from what is known."""
    kind = product.return_class  # the old schema's class kind: excluded, optional, mandatory
    returns = False if kind == "excluded" else bool(product.seven_day_returns_opt_in)
    return {
        "source": SOURCE,
        "as_of": _instant(order.paid_at),
        "rulebook_id": order.paid_rulebook_id,
        "product_version": 1,
        "merchant_version": 1,
        "tier": terms["tiers"][0],
        "return_class": terms["return_class"],
        "return_terms": {
            "class_kind": kind,
            "seven_day_returns": returns,
            "rule_id": RULE_OF_KIND[kind],
        },
        "shipping_commitment_hours": None,
        "merchant_services": sorted(order.merchant_services_at_payment),
    }


def _carry_over(connection: sa.Connection) -> None:
    """History version 1 of every merchant and product, tiers, and sub-order snapshots."""
    now = _bind(datetime.now(UTC), connection)
    for row in connection.execute(sa.select(merchants)):
        terms = {
            "name": row.name,
            "tier": row.tier,
            "industry": row.industry,
            "origin_region": row.origin_region,
            "services": sorted(row.services),
        }
        _history(connection, "merchant", row.id, _bind(row.created_at, connection), now, terms)
    products = {row.id: row for row in connection.execute(sa.select(old_products))}
    product_terms = {product_id: _product_terms(row) for product_id, row in products.items()}
    for product_id, row in products.items():
        terms = product_terms[product_id]
        _history(connection, "product", product_id, _bind(row.created_at, connection), now, terms)
        connection.execute(
            sa.insert(tiers).values(product_id=product_id, position=0, **terms["tiers"][0])
        )
    paid = {
        row.id: row
        for row in connection.execute(sa.select(orders).where(orders.c.paid_at.is_not(None)))
    }
    for sub in connection.execute(
        sa.select(sub_orders.c.id, sub_orders.c.order_id, sub_orders.c.product_id)
    ).all():
        product = products[sub.product_id]
        order = paid.get(sub.order_id)
        snapshot = None if order is None else _snapshot(product, product_terms[product.id], order)
        connection.execute(
            sa.update(sub_orders)
            .where(sub_orders.c.id == sub.id)
            .values(tier=product.tier, terms_at_payment=snapshot)
        )


def _history(
    connection: sa.Connection,
    entity: str,
    entity_id: str,
    occurred_at: datetime,
    recorded_at: datetime,
    terms: dict[str, Any],
) -> None:
    connection.execute(
        sa.insert(changes).values(
            entity=entity,
            entity_id=entity_id,
            version=1,
            occurred_at=occurred_at,
            recorded_at=recorded_at,
            actor=ACTOR,
            changes={},
            terms=terms,
            rulebook_id=None,
            rule_ids=[],
        )
    )


def upgrade() -> None:
    _create_tables()
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=True))
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shipping_commitment_hours", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=True))
    with op.batch_alter_table("sub_orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tier", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("terms_at_payment", sa.JSON(), nullable=True))
    connection = op.get_bind()
    _carry_over(connection)
    for kind, name in CLASS_OF_KIND.items():
        connection.execute(
            sa.update(old_products)
            .where(old_products.c.return_class == kind)
            .values(return_class=name)
        )
    op.execute("UPDATE merchants SET version = 1")
    op.execute("UPDATE products SET version = 1")
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.alter_column("version", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_products_price_positive"), type_="check")
        batch_op.drop_column("unit_price_fen")
        batch_op.drop_column("tier")
        batch_op.drop_column("moq")
        batch_op.drop_column("seven_day_returns_opt_in")
        batch_op.alter_column(
            "return_class", existing_type=sa.String(length=16), type_=sa.String(length=48)
        )
        batch_op.alter_column("version", existing_type=sa.Integer(), nullable=False)
        batch_op.create_check_constraint(
            op.f("ck_products_weight_not_negative"), "weight_grams >= 0"
        )
    with op.batch_alter_table("sub_orders", schema=None) as batch_op:
        batch_op.alter_column("tier", existing_type=sa.String(length=16), nullable=False)


def downgrade() -> None:
    """Back to one tier per product: the spot tier, else the first; history and snapshots go."""
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unit_price_fen", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("tier", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("moq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("seven_day_returns_opt_in", sa.Boolean(), nullable=True))
    connection = op.get_bind()
    chosen: dict[str, Any] = {}
    for row in connection.execute(sa.select(tiers).order_by(tiers.c.position)):
        if row.product_id not in chosen or row.kind == "spot":
            chosen[row.product_id] = row
    for product_id, row in chosen.items():
        connection.execute(
            sa.update(old_products)
            .where(old_products.c.id == product_id)
            .values(
                unit_price_fen=row.price_fen,
                tier=row.kind if row.kind in ("spot", "custom") else "custom",
                moq=row.moq,
                seven_day_returns_opt_in=row.seven_day_returns,
            )
        )
    classes = old_products.c.return_class
    connection.execute(
        sa.update(old_products).where(classes.in_(EXCLUDED_CLASSES)).values(return_class="excluded")
    )
    connection.execute(
        sa.update(old_products)
        .where(classes.not_in([*EXCLUDED_CLASSES, "excluded", "mandatory"]))
        .values(return_class="optional")  # what is left are the optional classes
    )
    op.drop_index("ix_catalogue_changes_as_of", table_name="catalogue_changes")
    op.drop_table("catalogue_changes")
    op.drop_table("product_tiers")
    with op.batch_alter_table("sub_orders", schema=None) as batch_op:
        batch_op.drop_column("terms_at_payment")
        batch_op.drop_column("tier")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_products_weight_not_negative"), type_="check")
        batch_op.drop_column("version")
        batch_op.drop_column("shipping_commitment_hours")
        batch_op.alter_column(
            "return_class", existing_type=sa.String(length=48), type_=sa.String(length=16)
        )
        for name, type_ in (
            ("unit_price_fen", sa.BigInteger()),
            ("tier", sa.String(length=16)),
            ("moq", sa.Integer()),
            ("seven_day_returns_opt_in", sa.Boolean()),
        ):
            batch_op.alter_column(name, existing_type=type_, nullable=False)
        batch_op.create_check_constraint(op.f("ck_products_price_positive"), "unit_price_fen > 0")
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.drop_column("version")
