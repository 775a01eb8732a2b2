"""Load and save buyers and orders; store/catalogue.py does merchants and products."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Select,
    Update,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert

from buyerguard.domain.orders import ConfirmedBy, Order, OrderState, SubOrder
from buyerguard.domain.parties import Address, Buyer
from buyerguard.errors import Conflict, NotFound
from buyerguard.store.catalogue import add_merchant as add_merchant
from buyerguard.store.catalogue import add_product as add_product
from buyerguard.store.catalogue import get_merchant as get_merchant
from buyerguard.store.catalogue import get_merchant_version as get_merchant_version
from buyerguard.store.catalogue import get_product as get_product
from buyerguard.store.catalogue import get_product_version as get_product_version
from buyerguard.store.catalogue import list_products as list_products
from buyerguard.store.catalogue import products_as_of as products_as_of
from buyerguard.store.db import (
    carrying_rows,
    insert_if_absent,
    insert_new,
    is_postgres,
    numbered_parameters,
    numbered_rows_insert,
    per_transaction,
)
from buyerguard.store.tables import buyer_addresses, buyers, order_transitions, orders, sub_orders

# Built once: the order commands run these on every fact (parameters, not inlined values).
# An order and its sub-orders in one round trip, built once: every fact about an order
# reads one. A command that changes the order locks the order's row and its sub-orders'
# rows (PostgreSQL; lock order 2 in docs/architecture.md) in the same statement: a
# statement that waited for a lock returns the latest version of each row it locked and
# the version of its start for any other row, so locking only the order's row would
# return sub-orders as they were before the transaction it waited for. Sub-orders are
# only inserted with their order and never deleted, so every one is among the rows locked.
_ORDERS_WITH_SUBS = (
    select(orders, *(column.label(f"sub_{column.name}") for column in sub_orders.c))
    .join(sub_orders, sub_orders.c.order_id == orders.c.id)
    .order_by(sub_orders.c.line_no)
)
_ORDER_WITH_SUBS = _ORDERS_WITH_SUBS.where(orders.c.id == bindparam("order_id"))
_ORDER_WITH_SUBS_LOCKED = _ORDER_WITH_SUBS.with_for_update()
_ORDER_UPDATE = (
    update(orders).where(orders.c.id == bindparam("order_id")).values(version=orders.c.version + 1)
)
_SUB_UPDATE = update(sub_orders).where(sub_orders.c.id == bindparam("sub_order_id"))
_LOADED_SUBS = "buyerguard.loaded_orders"  # per_transaction: {(what, id): values}
_TRANSITION_INSERT = insert(order_transitions)
_SUB_INSERT = insert(sub_orders)


# ------------------------------------------------------------------- buyers
def add_buyer(connection: Connection, buyer: Buyer, now: datetime) -> None:
    row = {
        "id": buyer.id,
        "name": buyer.name,
        "super_buyer_marked": buyer.super_buyer_marked,
        "created_at": now,
    }
    insert_new(connection, buyers, row, "buyer")
    for position, address in enumerate(buyer.addresses):
        connection.execute(
            insert(buyer_addresses).values(
                buyer_id=buyer.id,
                position=position,
                province_code=address.province_code,
                city_code=address.city_code,
                district_code=address.district_code,
                detail=address.detail,
            )
        )


# A buyer and its addresses in one round trip, built once: every order placed reads one.
_BUYER_WITH_ADDRESSES = (
    select(
        buyers.c.id,
        buyers.c.name,
        buyers.c.super_buyer_marked,
        buyer_addresses.c.position,
        buyer_addresses.c.province_code,
        buyer_addresses.c.city_code,
        buyer_addresses.c.district_code,
        buyer_addresses.c.detail,
    )
    .outerjoin(buyer_addresses, buyer_addresses.c.buyer_id == buyers.c.id)
    .where(buyers.c.id == bindparam("buyer_id"))
    .order_by(buyer_addresses.c.position)
)


def get_buyer(connection: Connection, buyer_id: str) -> Buyer:
    rows = connection.execute(_BUYER_WITH_ADDRESSES, {"buyer_id": buyer_id}).all()
    if not rows:
        raise NotFound("buyer_not_found", f"no buyer {buyer_id}", "buyer_id")
    addresses = tuple(
        Address(a.province_code, a.city_code, a.district_code, a.detail)
        for a in rows
        if a.position is not None
    )
    return Buyer(rows[0].id, rows[0].name, rows[0].super_buyer_marked, addresses)


# ------------------------------------------------------------------- orders
_ORDER_FIELDS = (
    "state",
    "paid_at",
    "paid_rulebook_id",
    "shipped_at",
    "carrier",
    "tracking_number",
    "official_logistics",
    "signed_at",
    "confirmed_at",
    "completed_at",
    "cancelled_at",
    "refunded_at",
)


def _order_values(order: Order) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(order, name) for name in _ORDER_FIELDS}
    values["state"] = order.state.value
    values["confirmed_by"] = order.confirmed_by.value if order.confirmed_by else None
    values["merchant_services_at_payment"] = list(order.merchant_services_at_payment)
    return values


_SUB_VALUE_COLUMNS = (  # what a save may change in a sub-order: its fields of these names
    "product_id",
    "quantity",
    "unit_price_fen",
    "goods_fen",
    "refunded_fen",
    "entrusted",
    "refunded_before_shipment",
    "fee_fen",
    "tier",
    "terms_at_payment",
)


def _sub_values(sub: SubOrder) -> dict[str, Any]:
    """What a save may change in a sub-order (`_new_sub_values` adds what identifies it)."""
    return {name: getattr(sub, name) for name in _SUB_VALUE_COLUMNS}


def _sub_values_of(row: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in row.items() if name != "sub_order_id"}


def _loaded(connection: Connection) -> dict[tuple[str, str], dict[str, Any]]:
    """The orders and sub-orders as this transaction loaded (or last saved) them, by
    ("order" or "sub", id), so that a save writes only what changed. The values are
    built afresh from the fields, so a command changing a field leaves them as loaded;
    they share only a sub-order's `terms_at_payment`, which is never changed in place (a
    read-only Mapping), so no deep copy is needed. Kept per transaction: another
    transaction on the same pooled connection starts with none (everything it saves is
    written)."""
    return per_transaction(connection, _LOADED_SUBS)


def _new_sub_values(sub: SubOrder) -> dict[str, Any]:
    return {"id": sub.id, "order_id": sub.order_id, "line_no": sub.line_no, **_sub_values(sub)}


@functools.lru_cache(maxsize=16)
def _order_insert(line_count: int) -> Select[Any]:
    """PostgreSQL: the order (skipped if its id is taken) and, only if it went in, its
    `line_count` sub-orders, in one statement; answers how many orders it inserted.
    Parameters `order_<column>` and `line<i>_<column>`."""
    new_order = (
        postgresql_insert(orders)
        .values({c.name: bindparam(f"order_{c.name}", type_=c.type) for c in orders.c})
        .on_conflict_do_nothing()
        .returning(orders.c.id)
        .cte("new_order")
    )
    lines = numbered_rows_insert(sub_orders, list(sub_orders.c), line_count, "line", new_order)
    write_lines = lines.cte("new_lines")
    return select(select(func.count()).select_from(new_order).scalar_subquery()).add_cte(
        write_lines
    )


def add_order(connection: Connection, order: Order) -> None:
    """Insert a new order and its sub-orders; `order_exists` if its id is taken (the
    insert skips it: no look first, no race between the look and the insert)."""
    row = {
        "id": order.id,
        "buyer_id": order.buyer_id,
        "merchant_id": order.merchant_id,
        "destination_region": order.destination_region,
        "shipping_fen": order.shipping_fen,
        "placed_at": order.placed_at,
        "version": 1,
        **_order_values(order),
    }
    lines = [_new_sub_values(sub) for sub in order.sub_orders]
    if is_postgres(connection):
        parameters = {f"order_{name}": value for name, value in row.items()}
        parameters.update(numbered_parameters(lines, "line"))
        inserted = connection.execute(_order_insert(len(lines)), parameters).scalar_one()
    else:
        inserted = len(insert_if_absent(connection, orders, row, orders.c.id).all())
        if inserted:
            connection.execute(_SUB_INSERT, lines)
    if not inserted:
        raise Conflict("order_exists", f"order {order.id} already exists", "id")


def get_order(connection: Connection, order_id: str, *, for_update: bool = False) -> Order:
    """Load an order; `for_update` locks its row and its sub-orders' (PostgreSQL) for the
    transaction."""
    locked = for_update and is_postgres(connection)
    query = _ORDER_WITH_SUBS_LOCKED if locked else _ORDER_WITH_SUBS
    rows = connection.execute(query, {"order_id": order_id}).all()
    if not rows:
        raise NotFound("order_not_found", f"no order {order_id}", "order_id")
    return order_from_rows(connection, rows)


def order_with_subs_where(condition: ColumnElement[bool]) -> Select[Any]:
    """The order-and-sub-orders read of `get_order` for the order `condition` picks (a
    statement of another store, e.g. the order of a case, in one round trip)."""
    return _ORDERS_WITH_SUBS.where(condition)


def order_from_rows(connection: Connection, rows: Sequence[Row[Any]]) -> Order:
    """An order from the rows of `order_with_subs_where` (one per sub-order), noted as
    loaded by this transaction (a save then writes only what changes)."""
    row = rows[0]
    subs = [
        SubOrder(
            id=sub.sub_id,
            order_id=sub.sub_order_id,
            line_no=sub.sub_line_no,
            product_id=sub.sub_product_id,
            quantity=sub.sub_quantity,
            unit_price_fen=sub.sub_unit_price_fen,
            goods_fen=sub.sub_goods_fen,
            entrusted=sub.sub_entrusted,
            refunded_fen=sub.sub_refunded_fen,
            refunded_before_shipment=sub.sub_refunded_before_shipment,
            fee_fen=sub.sub_fee_fen,
            tier=sub.sub_tier,
            terms_at_payment=sub.sub_terms_at_payment,
        )
        for sub in rows
    ]
    _loaded(connection).update((("sub", sub.id), _sub_values(sub)) for sub in subs)
    order = Order(
        id=row.id,
        buyer_id=row.buyer_id,
        merchant_id=row.merchant_id,
        destination_region=row.destination_region,
        shipping_fen=row.shipping_fen,
        sub_orders=subs,
        placed_at=row.placed_at,
        state=OrderState(row.state),
        paid_at=row.paid_at,
        paid_rulebook_id=row.paid_rulebook_id,
        merchant_services_at_payment=tuple(row.merchant_services_at_payment),
        shipped_at=row.shipped_at,
        carrier=row.carrier,
        tracking_number=row.tracking_number,
        official_logistics=row.official_logistics,
        signed_at=row.signed_at,
        confirmed_at=row.confirmed_at,
        confirmed_by=ConfirmedBy(row.confirmed_by) if row.confirmed_by else None,
        completed_at=row.completed_at,
        cancelled_at=row.cancelled_at,
        refunded_at=row.refunded_at,
    )
    _loaded(connection)[("order", order.id)] = _order_values(order)
    return order


# Sub-orders updated within the order's own statement, at most. SQLAlchemy compiles a
# statement anew for each set of parameter names (each count of sub-orders), and an UPDATE
# among n others costs it time in n × its parameters: an order of 311 lines took 5-8 s to
# compile at its first payment (0.2 s to run), for each worker and each count of lines.
# More go as one executemany of the plain UPDATE.
SUBS_IN_ONE_STATEMENT = 16


@functools.lru_cache(maxsize=32)
def _order_update_with_transitions(count: int, changed_subs: int = 0) -> Update:
    """PostgreSQL: the order's UPDATE with its `count` new transitions and its
    `changed_subs` changed sub-orders (parameters `sub<i>_<column>`), in one statement."""
    statement = carrying_rows(_ORDER_UPDATE, order_transitions, count, "transition")
    for index in range(changed_subs):
        sub_update = (
            update(sub_orders)
            .where(sub_orders.c.id == bindparam(f"sub{index}_sub_order_id"))
            .values(
                {
                    name: bindparam(f"sub{index}_{name}", type_=sub_orders.c[name].type)
                    for name in _SUB_VALUE_COLUMNS
                }
                # kept as it is: else the statement's `order_id` parameter would also SET it
                | {"order_id": sub_orders.c.order_id}
            )
        )
        statement = statement.add_cte(sub_update.cte(f"sub{index}_update"))
    return statement


def save_order(connection: Connection, order: Order, actor: str, now: datetime) -> None:
    """Persist state, sub-orders and the transitions made since loading."""
    transitions = [
        {
            "order_id": order.id,
            "command": transition.command,
            "from_state": transition.from_state.value,
            "to_state": transition.to_state.value,
            "occurred_at": transition.occurred_at,
            "recorded_at": now,
            "actor": actor,
        }
        for transition in order.transitions
    ]
    loaded = _loaded(connection)
    order_values = _order_values(order)
    values = {"order_id": order.id, **order_values}
    changed = [
        {"sub_order_id": sub.id, **sub_values}
        for sub in order.sub_orders
        if loaded.get(("sub", sub.id)) != (sub_values := _sub_values(sub))
    ]
    if transitions and is_postgres(connection):  # one round trip: the order, moves, sub-orders
        inline = changed if len(changed) <= SUBS_IN_ONE_STATEMENT else []
        numbered = numbered_parameters(transitions, "transition")
        numbered |= numbered_parameters(inline, "sub")
        statement = _order_update_with_transitions(len(transitions), len(inline))
        connection.execute(statement, values | numbered)
        if len(inline) < len(changed):
            connection.execute(_SUB_UPDATE, changed)
    else:
        if transitions or loaded.get(("order", order.id)) != order_values:
            connection.execute(_ORDER_UPDATE, values)  # a case action often changes no order
            if transitions:
                connection.execute(_TRANSITION_INSERT, transitions)
        if changed:  # most facts (shipment, signing) change no sub-order: no statement
            connection.execute(_SUB_UPDATE, changed)
    loaded[("order", order.id)] = order_values
    if changed:
        loaded.update((("sub", row["sub_order_id"]), _sub_values_of(row)) for row in changed)
    order.transitions.clear()


def order_history(connection: Connection, order_id: str) -> list[dict[str, Any]]:
    return [
        dict(row)
        for row in connection.execute(
            select(order_transitions)
            .where(order_transitions.c.order_id == order_id)
            .order_by(order_transitions.c.id)
        ).mappings()
    ]


def list_orders(
    connection: Connection,
    *,
    merchant_id: str | None,
    buyer_id: str | None,
    after: str | None,
    limit: int,
) -> list[str]:
    query = select(orders.c.id).order_by(orders.c.id).limit(limit)
    if merchant_id is not None:
        query = query.where(orders.c.merchant_id == merchant_id)
    if buyer_id is not None:
        query = query.where(orders.c.buyer_id == buyer_id)
    if after is not None:
        query = query.where(orders.c.id > after)
    return [row.id for row in connection.execute(query)]
