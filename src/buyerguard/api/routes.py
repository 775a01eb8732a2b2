"""The /v1 endpoints: parse, call one service handler, shape the answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from buyerguard.api import (
    audit_routes,
    case_routes,
    catalogue_routes,
    logistics_routes,
    money_routes,
    views,
    webhook_routes,
)
from buyerguard.api.access import ANY_CALLER, GuardedRoute, allow
from buyerguard.api.answers import (
    AccountAnswer,
    AccountPage,
    EventPage,
    Events,
    FactsAnswer,
    Order,
    OrderPage,
    OrderWithHistory,
    TimerPage,
    answers,
)
from buyerguard.api.fact_batches import apply_batch
from buyerguard.api.fact_schemas import FactsIn
from buyerguard.api.facts import apply_fact
from buyerguard.api.params import (
    AccountCursor,
    AccountId,
    CallerDep,
    EventCursor,
    IdCursor,
    Limit,
    OrderId,
    page,
)
from buyerguard.api.runtime import idempotency_key, runtime
from buyerguard.api.schemas import (
    ACCOUNT_ID_PATTERN,
    TEXT_PATTERN,
    FactIn,
    OrderIn,
    PaymentIn,
    RefundIn,
    ShipmentIn,
)
from buyerguard.errors import NotFound
from buyerguard.ledger.accounts import SPLIT_ACCOUNTS
from buyerguard.ledger.balances import (
    account_balance,
    list_accounts,
    split_account_balances,
    total_balance,
)
from buyerguard.services import orders, timers
from buyerguard.services.context import Actor, Role
from buyerguard.services.feed import (
    advance_feed,
    check_within_feed,
    decode_cursor,
    event_view,
    read_feed,
)
from buyerguard.services.records import order_decisions as decisions_of_order
from buyerguard.store import repositories

router = APIRouter(prefix="/v1", route_class=GuardedRoute)
# Every router of /v1, in the order the app includes them (the schema's order). Each carries
# the /v1 prefix itself rather than being included under this one: FastAPI builds an included
# route's handler from the route as its own router declared it, so a GuardedRoute of a nested
# router saw its path without /v1 (a 403 said `may not call GET /logistics/slowdowns`, and the
# latency metric counted it under that template).
ROUTERS = (
    catalogue_routes.router,
    money_routes.router,
    case_routes.router,
    webhook_routes.router,
    audit_routes.router,
    logistics_routes.router,
    router,
)


# ------------------------------------------------------------------ orders
@router.post(
    "/orders",
    status_code=201,
    tags=["orders"],
    **answers(Order, 201),
    **allow(Role.MARKETPLACE, Role.BUYER),
)
def place_order(body: OrderIn, request: Request, caller: CallerDep) -> JSONResponse:
    """Place an order; a buyer's own order takes catalogue prices (no `unit_price`)."""
    return _fact(request, caller, "order", None, body)


@router.get(
    "/orders/{order_id}", tags=["orders"], **answers(OrderWithHistory), **allow(*ANY_CALLER)
)
def get_order(order_id: OrderId, request: Request, caller: CallerDep) -> dict[str, Any]:
    """An order, its sub-orders and every step it went through; parties see their own."""
    with runtime(request).reading(caller) as ctx:
        order = orders.load_visible_order(ctx, order_id)
        view = views.order_view(order)
        view["history"] = [
            {
                "command": row["command"],
                "from_state": row["from_state"],
                "to_state": row["to_state"],
                "occurred_at": views.instant(row["occurred_at"]),
                "actor": row["actor"],
            }
            for row in repositories.order_history(ctx.connection, order_id)
        ]
        return view


@router.get("/orders", tags=["orders"], **answers(OrderPage), **allow(*ANY_CALLER))
def list_orders(
    request: Request, caller: CallerDep, after: IdCursor = None, limit: Limit = 50
) -> dict[str, Any]:
    """Orders by id; a merchant or buyer lists its own."""
    with runtime(request).reading(caller) as ctx:
        order_ids = repositories.list_orders(
            ctx.connection,
            merchant_id=caller.party_id if caller.role is Role.MERCHANT else None,
            buyer_id=caller.party_id if caller.role is Role.BUYER else None,
            after=after,
            limit=limit + 1,  # one more: whether there is another page
        )
        items = [
            views.order_view(repositories.get_order(ctx.connection, order_id))
            for order_id in order_ids
        ]
        return page(items, limit)


@router.get(
    "/orders/{order_id}/decisions", tags=["orders"], **answers(Events), **allow(*ANY_CALLER)
)
def list_order_decisions(order_id: OrderId, request: Request, caller: CallerDep) -> dict[str, Any]:
    """Every decision taken on the order, with the rule ids and rulebook behind it."""
    with runtime(request).reading(caller) as ctx:
        orders.load_visible_order(ctx, order_id)
        rows = decisions_of_order(ctx.connection, order_id)
        return {"items": [event_view(row) for row in rows]}


def _fact(
    request: Request, caller: Actor, kind: str, order_id: str | None, body: BaseModel
) -> JSONResponse:
    """One fact on its own route: the same command as in a batch (api/facts.py)."""
    key = idempotency_key(request)
    return apply_fact(runtime(request), caller, kind, order_id, body, key).response()


@router.post(
    "/orders/{order_id}/payment", tags=["orders"], **answers(Order), **allow(Role.MARKETPLACE)
)
def pay_order(
    order_id: OrderId, body: PaymentIn, request: Request, caller: CallerDep
) -> JSONResponse:
    """The buyer paid the order's total: goods and shipping are held in escrow per sub-order."""
    return _fact(request, caller, "payment", order_id, body)


@router.post(
    "/orders/{order_id}/shipment",
    tags=["orders"],
    **answers(Order),
    **allow(Role.MARKETPLACE, Role.MERCHANT),
)
def ship_order(
    order_id: OrderId, body: ShipmentIn, request: Request, caller: CallerDep
) -> JSONResponse:
    """The merchant shipped: the signing and auto-confirmation clocks depend on it."""
    return _fact(request, caller, "shipment", order_id, body)


@router.post(
    "/orders/{order_id}/signing", tags=["orders"], **answers(Order), **allow(Role.MARKETPLACE)
)
def sign_order(
    order_id: OrderId, request: Request, caller: CallerDep, body: FactIn | None = None
) -> JSONResponse:
    """The buyer signed for the parcel: the auto-confirmation timer starts."""
    return _fact(request, caller, "signing", order_id, body or FactIn())


@router.post(
    "/orders/{order_id}/confirmation",
    tags=["orders"],
    **answers(Order),
    **allow(Role.MARKETPLACE, Role.BUYER),
)
def confirm_order(
    order_id: OrderId, request: Request, caller: CallerDep, body: FactIn | None = None
) -> JSONResponse:
    """The buyer confirmed receipt: escrow settles to the merchant, less fees."""
    return _fact(request, caller, "confirmation", order_id, body or FactIn())


@router.post(
    "/orders/{order_id}/cancellation",
    tags=["orders"],
    **answers(Order),
    **allow(Role.MARKETPLACE, Role.BUYER),
)
def cancel_order(
    order_id: OrderId, request: Request, caller: CallerDep, body: FactIn | None = None
) -> JSONResponse:
    """Cancel an order not yet paid (a paid order is refunded before shipment instead)."""
    return _fact(request, caller, "cancellation", order_id, body or FactIn())


@router.post(
    "/orders/{order_id}/refund-before-shipment",
    tags=["orders"],
    **answers(Order),
    **allow(Role.MARKETPLACE, Role.BUYER),
)
def refund_before_shipment(
    order_id: OrderId, request: Request, caller: CallerDep, body: RefundIn | None = None
) -> JSONResponse:
    """Refund before shipment: whole sub-orders, or parts of them, from escrow."""
    return _fact(request, caller, "refund-before-shipment", order_id, body or RefundIn())


@router.post("/facts", tags=["orders"], **answers(FactsAnswer), **allow(Role.MARKETPLACE))
def post_facts(body: FactsIn, request: Request, caller: CallerDep) -> dict[str, Any]:
    """Up to 1,000 facts, each as on its own route (same body, same key scope); one result
    per fact: applied, replayed, skipped (an earlier fact of its order was refused) or
    refused. Everything applied has committed when the answer is sent."""
    results = apply_batch(runtime(request), caller, list(body.facts))
    counts = {outcome: 0 for outcome in ("applied", "replayed", "skipped", "refused")}
    for result in results:
        counts[result.outcome] += 1
    return {"results": [result.view() for result in results], **counts}


# ------------------------------------------------------------------ timers
@router.get("/timers", tags=["timers"], **answers(TimerPage), **allow())
def list_timers(
    request: Request,
    caller: CallerDep,
    state: Annotated[
        str | None,
        Query(
            pattern=r"^[a-z]+$",
            max_length=16,
            description=f"{timers.TIMER_STATES_TEXT} (`{timers.FAILED}`: the dead letters)",
        ),
    ] = None,
    after: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=160,
            pattern=TEXT_PATTERN,
            description="`next_cursor` of the previous page: a timer id",
        ),
    ] = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    """Timers by id; `state=failed` lists the dead letters (`buyerguard timers retry ID`)."""
    with runtime(request).reading(caller) as ctx:
        rows = timers.list_timers(ctx.connection, state=state, after=after, limit=limit + 1)
        return page([views.timer_view(row) for row in rows], limit)


# ------------------------------------------------------------ events, ledger
@router.get("/events", tags=["events"], **answers(EventPage), **allow(Role.MARKETPLACE))
def list_events(
    request: Request, caller: CallerDep, after: EventCursor = None, limit: Limit = 100
) -> dict[str, Any]:
    """Every decision in one total order; pass `next_cursor` back as `after`.

    The read first runs a sequencer pass (services/feed.py), so what committed
    before the request is there unless an earlier writer is still running."""
    position = decode_cursor(after)
    advance_feed(runtime(request).engine)
    with runtime(request).reading(caller) as ctx:
        ctx.require_role("read the event feed", Role.MARKETPLACE)
        check_within_feed(ctx.connection, position)
        rows = read_feed(ctx.connection, after=position, limit=limit + 1)
        items = [event_view(row) for row in rows[:limit]]
        # A feed has no last page: poll again from `next_cursor` (unchanged when empty).
        next_cursor = items[-1]["cursor"] if items else after
        return {"items": items, "next_cursor": next_cursor, "has_more": len(rows) > limit}


@router.get(
    "/ledger/accounts",
    tags=["ledger"],
    **answers(AccountPage),
    **allow(Role.MARKETPLACE, Role.MERCHANT),
)
def list_ledger_accounts(
    request: Request,
    caller: CallerDep,
    party: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=96,
            pattern=ACCOUNT_ID_PATTERN,
            description="only this party's accounts, e.g. merchant:M1 or platform",
        ),
    ] = None,
    after: AccountCursor = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    """Accounts by id with their balances, party and purpose; a merchant lists its own."""
    if caller.role is Role.MERCHANT:
        party = f"merchant:{caller.party_id}"
    with runtime(request).reading(caller) as ctx:
        found = list_accounts(ctx.connection, party=party, after=after, limit=limit + 1)
    items = [
        views.balance_view(item.balance) | {"party": item.party, "purpose": item.purpose}
        for item in found
    ]
    return page(items, limit, "account_id")


@router.get(
    "/ledger/accounts/{account_id}",
    tags=["ledger"],
    **answers(AccountAnswer),
    **allow(Role.MARKETPLACE, Role.MERCHANT),
)
def get_ledger_account(
    account_id: AccountId, request: Request, caller: CallerDep
) -> dict[str, Any]:
    """One account's balances; a merchant reads its own `merchant:{id}:*` accounts only.

    A split account named without its part (`platform:fee_revenue`) answers the
    sum of its parts, with each part under `parts` (the parts touched so far: none, and
    zero, on a ledger that has not used it yet — it is in everyone's chart of accounts)."""
    not_found = NotFound("account_not_found", f"no ledger account {account_id}", "account_id")
    if caller.role is Role.MERCHANT and not account_id.startswith(f"merchant:{caller.party_id}:"):
        raise not_found
    with runtime(request).reading(caller) as ctx:
        if account_id in SPLIT_ACCOUNTS:
            parts = split_account_balances(ctx.connection, account_id)
            return views.balance_view(total_balance(account_id, parts)) | {
                "parts": [views.balance_view(part) for part in parts]
            }
        found = account_balance(ctx.connection, account_id)
        if found is None:
            raise not_found
        return views.balance_view(found)
