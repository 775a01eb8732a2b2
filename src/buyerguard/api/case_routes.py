"""The /v1 after-sales endpoints: open a case, act on it, read it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from buyerguard.api import case_views
from buyerguard.api.access import ANY_CALLER, GuardedRoute, allow
from buyerguard.api.answers import answers
from buyerguard.api.case_answers import Case, CaseDetail, CasePage
from buyerguard.api.case_schemas import CaseActionIn, CaseIn
from buyerguard.api.facts import apply_fact
from buyerguard.api.params import CallerDep, IdCursor, Limit, OrderId, id_path, page
from buyerguard.api.runtime import idempotency_key, runtime
from buyerguard.api.schemas import CHOICE_PATTERN, ID_MAX_LENGTH, ID_PATTERN
from buyerguard.clock import parse_instant
from buyerguard.domain.cases import ACTIONS, CaseState
from buyerguard.domain.cases import Role as CaseRole
from buyerguard.errors import InvalidInput
from buyerguard.services import case_deadlines
from buyerguard.services.cases import case_record
from buyerguard.services.context import Role
from buyerguard.services.orders import load_visible_order
from buyerguard.store import case_repository

router = APIRouter(prefix="/v1", route_class=GuardedRoute)  # app.py includes it (routes.ROUTERS)
CaseId = Annotated[str, id_path("case id")]
_API_ROLES = {
    CaseRole.BUYER: Role.BUYER,
    CaseRole.MERCHANT: Role.MERCHANT,
    CaseRole.MARKETPLACE: Role.MARKETPLACE,
}


@router.post(
    "/orders/{order_id}/cases",
    status_code=201,
    tags=["after-sales"],
    **answers(Case, 201),
    **allow(Role.MARKETPLACE, Role.BUYER, Role.MERCHANT),
)
def open_case(order_id: OrderId, body: CaseIn, request: Request, caller: CallerDep) -> JSONResponse:
    """Open an after-sales case on a shipped sub-order: the order's buyer (or the
    marketplace for it) a refund-only, a return or a custom dispute, checked against §2 and
    the windows; the merchant a transit claim; the marketplace or an operator a false
    shipment."""
    key = idempotency_key(request)
    return apply_fact(runtime(request), caller, "case", order_id, body, key).response()


@router.get("/cases/{case_id}", tags=["after-sales"], **answers(CaseDetail), **allow(*ANY_CALLER))
def get_case(case_id: CaseId, request: Request, caller: CallerDep) -> dict[str, Any]:
    """A case with its running deadline, every transition and every decision."""
    with runtime(request).reading(caller) as ctx:
        return case_views.case_detail_view(case_record(ctx, case_id))


@router.get("/cases", tags=["after-sales"], **answers(CasePage), **allow(*ANY_CALLER))
def list_cases(
    request: Request,
    caller: CallerDep,
    order_id: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=ID_MAX_LENGTH,
            pattern=ID_PATTERN,
            description="only this order's cases",
        ),
    ] = None,
    state: Annotated[
        str | None,
        Query(max_length=16, pattern=CHOICE_PATTERN, description=", ".join(CaseState)),
    ] = None,
    party: Annotated[
        str | None,
        Query(
            max_length=96,
            pattern=r"^(buyer|merchant):[A-Za-z0-9_.-]+$",
            description="buyer:B or merchant:M",
        ),
    ] = None,
    deadline_before: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            description="cases whose running deadline falls before this instant",
        ),
    ] = None,
    after: IdCursor = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    """Cases by id, filtered by order, state, party or a deadline falling before an instant;
    a buyer or a merchant sees its own."""
    if state is not None and state not in set(CaseState):
        choices = ", ".join(CaseState)
        raise InvalidInput("invalid_choice", f"state must be one of {choices}: {state!r}", "state")
    before = parse_instant(deadline_before, field="deadline_before") if deadline_before else None
    kind, _, party_id = (party or "").partition(":")
    buyer_id = party_id if kind == "buyer" else None
    merchant_id = party_id if kind == "merchant" else None
    if caller.role is Role.BUYER:
        buyer_id = caller.party_id if buyer_id in (None, caller.party_id) else "-"
    if caller.role is Role.MERCHANT:
        merchant_id = caller.party_id if merchant_id in (None, caller.party_id) else "-"
    with runtime(request).reading(caller) as ctx:
        if order_id is not None:
            load_visible_order(ctx, order_id)
        found = case_repository.list_cases(
            ctx.connection,
            order_id=order_id,
            state=state,
            buyer_id=buyer_id,
            merchant_id=merchant_id,
            deadline_before=before,
            deadline_kinds=tuple(case_deadlines.DEADLINES),
            after=after,
            limit=limit + 1,  # one more: whether there is another page
        )
        return page([case_views.case_view(case) for case in found], limit)


def _action_route(action: str) -> None:
    _, roles = ACTIONS[action]
    allowed = sorted((_API_ROLES[role] for role in roles if role in _API_ROLES), key=str)

    def act(
        case_id: CaseId, request: Request, caller: CallerDep, body: CaseActionIn | None = None
    ) -> JSONResponse:
        key = idempotency_key(request)
        rt = runtime(request)
        return apply_fact(
            rt, caller, f"case-{action}", case_id, body or CaseActionIn(), key
        ).response()

    act.__doc__ = f"`{action}` on a case: who may, and from which state, in docs/aftersales.md."
    router.post(
        f"/cases/{{case_id}}/{action}",
        tags=["after-sales"],
        name=f"case_{action}",
        **answers(Case),
        **allow(*allowed),
    )(act)


for _action in ACTIONS:
    _action_route(_action)
